#include "content/blob_store.h"

#include "base/encoding.h"
#include "content/release.h"
#include "crypto/hash.h"

namespace tieup::content {
namespace {

constexpr std::string_view kTmpSuffix = ".tmp";

Status Mismatch(std::string_view hash_hex, std::string_view got_hex) {
  return Status::DataLoss("blob " + std::string(hash_hex) + " is damaged: its bytes hash to " +
                          std::string(got_hex) +
                          "; remove it and fetch or rebuild the release that needs it");
}

}  // namespace

BlobStore::BlobStore(Env& env, std::string dir) : env_(env), dir_(std::move(dir)) {}

Result<std::string> BlobStore::Path(std::string_view hash_hex) const {
  RETURN_IF_ERROR(ValidateHashHex(hash_hex));
  return JoinPath(JoinPath(dir_, hash_hex.substr(0, 2)), hash_hex);
}

Status BlobStore::EnsureShardDir(const std::string& shard) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!dir_synced_) {
    RETURN_IF_ERROR(CreateDirs(env_, dir_));
    RETURN_IF_ERROR(env_.SyncDir(DirName(dir_)));
    dir_synced_ = true;
  }
  if (synced_shards_.count(shard) == 0) {
    const std::string shard_dir = JoinPath(dir_, shard);
    RETURN_IF_ERROR(env_.CreateDir(shard_dir));
    // The shard directory's own entry must be durable before any blob in it counts as stored.
    RETURN_IF_ERROR(env_.SyncDir(dir_));
    synced_shards_.insert(shard);
  }
  return Status::Ok();
}

Status BlobStore::Write(const std::string& hash_hex, std::string_view data) {
  const std::string shard = hash_hex.substr(0, 2);
  RETURN_IF_ERROR(EnsureShardDir(shard));
  ASSIGN_OR_RETURN(std::string path, Path(hash_hex));
  const std::string shard_dir = JoinPath(dir_, shard);
  if (env_.FileExists(path)) {
    auto existing = env_.ReadFilePrefix(path, static_cast<uint64_t>(data.size()) + 1);
    if (existing.ok() && *existing == data) {
      // Already stored. Sync the directory anyway: the entry may come from a write whose final
      // directory sync never happened (a crash or an error), and Put promises durability.
      RETURN_IF_ERROR(env_.SyncDir(shard_dir));
      std::lock_guard<std::mutex> lock(mu_);
      recently_put_.insert(hash_hex);
      return Status::Ok();
    }
    // A damaged copy: fall through and replace it.
  }
  // A unique temporary name, so concurrent writers of the same blob do not collide.
  const std::string tmp = path + "." + HexEncode(RandomString(env_, 8)) + std::string(kTmpSuffix);
  {
    ASSIGN_OR_RETURN(auto file, env_.NewWritableFile(tmp));
    Status s = file->Append(data);
    if (s.ok()) s = file->Sync();
    if (s.ok()) s = file->Close();
    if (!s.ok()) {
      file.reset();
      (void)env_.RemoveFile(tmp);
      return s.Annotate("storing blob " + hash_hex);
    }
  }
  RETURN_IF_ERROR(env_.Rename(tmp, path));
  RETURN_IF_ERROR(env_.SyncDir(shard_dir));
  std::lock_guard<std::mutex> lock(mu_);
  recently_put_.insert(hash_hex);
  return Status::Ok();
}

Result<std::string> BlobStore::Put(std::string_view data) {
  std::string hash_hex = Sha256Hex(data);
  RETURN_IF_ERROR(Write(hash_hex, data));
  return hash_hex;
}

Status BlobStore::PutExpected(std::string_view hash_hex, std::string_view data) {
  RETURN_IF_ERROR(ValidateHashHex(hash_hex));
  std::string got = Sha256Hex(data);
  if (got != hash_hex) {
    return Status::DataLoss("received " + std::to_string(data.size()) + " bytes that hash to " +
                            got + ", but the release metadata says " + std::string(hash_hex) +
                            ": refusing to store them");
  }
  return Write(got, data);
}

bool BlobStore::Has(std::string_view hash_hex) {
  auto path = Path(hash_hex);
  return path.ok() && env_.FileExists(*path);
}

Result<uint64_t> BlobStore::Size(std::string_view hash_hex) {
  ASSIGN_OR_RETURN(std::string path, Path(hash_hex));
  return env_.FileSize(path);
}

Result<std::string> BlobStore::Get(std::string_view hash_hex) {
  ASSIGN_OR_RETURN(std::string path, Path(hash_hex));
  if (!env_.FileExists(path)) {
    return Status::NotFound("blob " + std::string(hash_hex) + " is not in " + dir_);
  }
  ASSIGN_OR_RETURN(std::string data, env_.ReadFile(path));
  std::string got = Sha256Hex(data);
  if (got != hash_hex) return Mismatch(hash_hex, got);
  return data;
}

Result<std::string> BlobStore::Get(std::string_view hash_hex, uint64_t expected_length) {
  ASSIGN_OR_RETURN(std::string path, Path(hash_hex));
  if (!env_.FileExists(path)) {
    return Status::NotFound("blob " + std::string(hash_hex) + " is not in " + dir_);
  }
  ASSIGN_OR_RETURN(std::string data, env_.ReadFilePrefix(path, expected_length));
  if (data.size() < expected_length) {
    return Status::DataLoss("blob " + std::string(hash_hex) +
                            " is truncated: " + std::to_string(data.size()) + " bytes of " +
                            std::to_string(expected_length) +
                            "; remove it and fetch or rebuild the release that needs it");
  }
  std::string got = Sha256Hex(data);
  if (got != hash_hex) return Mismatch(hash_hex, got);
  return data;
}

Status BlobStore::Remove(std::string_view hash_hex) {
  ASSIGN_OR_RETURN(std::string path, Path(hash_hex));
  if (!env_.FileExists(path)) return Status::Ok();
  return env_.RemoveFile(path);
}

namespace {

bool IsShardName(std::string_view name) {
  return name.size() == 2 && ValidateHashHex(std::string(name) + std::string(62, '0')).ok();
}

}  // namespace

Status BlobStore::ForEach(const std::function<Status(const std::string&)>& fn) {
  if (!env_.FileExists(dir_)) return Status::Ok();
  ASSIGN_OR_RETURN(auto shards, env_.ListDir(dir_));
  for (const FileInfo& shard : shards) {
    if (!shard.is_dir || !IsShardName(shard.name)) continue;
    ASSIGN_OR_RETURN(auto files, env_.ListDir(JoinPath(dir_, shard.name)));
    for (const FileInfo& f : files) {
      if (f.is_dir || !f.name.starts_with(shard.name) || !ValidateHashHex(f.name).ok()) continue;
      RETURN_IF_ERROR(fn(f.name));
    }
  }
  return Status::Ok();
}

Status BlobStore::RemoveLeftoversForRecovery() {
  if (!env_.FileExists(dir_)) return Status::Ok();
  ASSIGN_OR_RETURN(auto shards, env_.ListDir(dir_));
  for (const FileInfo& shard : shards) {
    if (!shard.is_dir || !IsShardName(shard.name)) continue;
    const std::string shard_dir = JoinPath(dir_, shard.name);
    ASSIGN_OR_RETURN(auto files, env_.ListDir(shard_dir));
    for (const FileInfo& f : files) {
      if (!f.is_dir && f.name.ends_with(kTmpSuffix)) {
        RETURN_IF_ERROR(env_.RemoveFile(JoinPath(shard_dir, f.name)));
      }
    }
  }
  return Status::Ok();
}

std::set<std::string> BlobStore::TakeRecentlyPut() {
  std::lock_guard<std::mutex> lock(mu_);
  std::set<std::string> out;
  out.swap(recently_put_);
  return out;
}

}  // namespace tieup::content
