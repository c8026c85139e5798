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

Status BlobStore::WriteTemporary(const std::string& hash_hex, std::string_view data, bool sync,
                                 std::string* tmp) {
  tmp->clear();
  const std::string shard = hash_hex.substr(0, 2);
  RETURN_IF_ERROR(EnsureShardDir(shard));
  ASSIGN_OR_RETURN(std::string path, Path(hash_hex));
  if (env_.FileExists(path)) {
    auto existing = env_.ReadFilePrefix(path, static_cast<uint64_t>(data.size()) + 1);
    if (existing.ok() && *existing == data) return Status::Ok();  // already stored
    // A damaged copy: replaced.
  }
  // A unique temporary name, so concurrent writers of the same blob do not collide.
  std::string name = path + "." + HexEncode(RandomString(env_, 8)) + std::string(kTmpSuffix);
  ASSIGN_OR_RETURN(auto file, env_.NewWritableFile(name));
  Status s = file->Append(data);
  if (s.ok() && sync) s = file->Sync();
  if (s.ok()) s = file->Close();
  if (!s.ok()) {
    file.reset();
    (void)env_.RemoveFile(name);
    return s.Annotate("storing blob " + hash_hex);
  }
  *tmp = std::move(name);
  return Status::Ok();
}

void BlobStore::NoteRecentlyPut(const std::string& hash_hex) {
  std::lock_guard<std::mutex> lock(mu_);
  recently_put_.insert(hash_hex);
}

Status BlobStore::Write(const std::string& hash_hex, std::string_view data) {
  std::string tmp;
  RETURN_IF_ERROR(WriteTemporary(hash_hex, data, /*sync=*/true, &tmp));
  ASSIGN_OR_RETURN(std::string path, Path(hash_hex));
  // Already stored (tmp empty): the directory is synced anyway, since the entry may come from a
  // write whose final directory sync never happened (a crash or an error), and Put promises
  // durability.
  if (!tmp.empty()) RETURN_IF_ERROR(env_.Rename(tmp, path));
  RETURN_IF_ERROR(env_.SyncDir(JoinPath(dir_, hash_hex.substr(0, 2))));
  NoteRecentlyPut(hash_hex);
  return Status::Ok();
}

Result<std::string> BlobStore::Put(std::string_view data) {
  std::string hash_hex = Sha256Hex(data);
  RETURN_IF_ERROR(Write(hash_hex, data));
  return hash_hex;
}

namespace {

// The hash of `data` when it is `hash_hex`; DataLoss otherwise.
Result<std::string> CheckExpected(std::string_view hash_hex, std::string_view data) {
  RETURN_IF_ERROR(ValidateHashHex(hash_hex));
  std::string got = Sha256Hex(data);
  if (got != hash_hex) {
    return Status::DataLoss("received " + std::to_string(data.size()) + " bytes that hash to " +
                            got + ", but the release metadata says " + std::string(hash_hex) +
                            ": refusing to store them");
  }
  return got;
}

}  // namespace

Status BlobStore::PutExpected(std::string_view hash_hex, std::string_view data) {
  ASSIGN_OR_RETURN(std::string hash, CheckExpected(hash_hex, data));
  return Write(hash, data);
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
  const int64_t now_ns = env_.NowMicros() * 1000;
  ASSIGN_OR_RETURN(auto shards, env_.ListDir(dir_));
  for (const FileInfo& shard : shards) {
    if (!shard.is_dir || !IsShardName(shard.name)) continue;
    const std::string shard_dir = JoinPath(dir_, shard.name);
    ASSIGN_OR_RETURN(auto files, env_.ListDir(shard_dir));
    for (const FileInfo& f : files) {
      if (f.is_dir || !f.name.ends_with(kTmpSuffix)) continue;
      const bool young =
          f.mtime_ns != 0 && now_ns - f.mtime_ns < kLeftoverAgeSeconds * 1'000'000'000;
      if (!young) RETURN_IF_ERROR(env_.RemoveFile(JoinPath(shard_dir, f.name)));
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

BlobBatch::BlobBatch(BlobStore& store) : store_(store) {}

BlobBatch::~BlobBatch() {
  std::lock_guard<std::mutex> lock(mu_);
  RemoveTemporaries(pending_, 0);
}

void BlobBatch::RemoveTemporaries(std::vector<Pending>& from, size_t start) {
  for (size_t i = start; i < from.size(); ++i) {
    if (!from[i].tmp.empty()) (void)store_.env_.RemoveFile(from[i].tmp);
  }
  from.clear();
}

Status BlobBatch::Add(const std::string& hash_hex, std::string_view data) {
  Pending p;
  RETURN_IF_ERROR(store_.WriteTemporary(hash_hex, data, /*sync=*/false, &p.tmp));
  // An already stored blob is spared by a prune from now on, as a Put's would be.
  if (p.tmp.empty()) store_.NoteRecentlyPut(hash_hex);
  ASSIGN_OR_RETURN(p.path, store_.Path(hash_hex));
  p.hash = hash_hex;
  std::lock_guard<std::mutex> lock(mu_);
  pending_.push_back(std::move(p));
  return Status::Ok();
}

Result<std::string> BlobBatch::Put(std::string_view data) {
  std::string hash = Sha256Hex(data);
  RETURN_IF_ERROR(Add(hash, data));
  return hash;
}

Status BlobBatch::PutExpected(std::string_view hash_hex, std::string_view data) {
  ASSIGN_OR_RETURN(std::string hash, CheckExpected(hash_hex, data));
  return Add(hash, data);
}

size_t BlobBatch::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.size();
}

Status BlobBatch::Commit() {
  std::vector<Pending> todo;
  {
    std::lock_guard<std::mutex> lock(mu_);
    todo.swap(pending_);
  }
  if (todo.empty()) return Status::Ok();
  Env& env = store_.env_;
  const std::string& dir = store_.dir();
  // 1. Every temporary file's bytes (and the entries of the blobs already stored).
  Status s = env.SyncFileSystem(dir);
  if (!s.ok()) {
    RemoveTemporaries(todo, 0);
    return s.Annotate("making " + std::to_string(todo.size()) + " new blobs durable");
  }
  // 2. The names, then their directory entries (none to sync when every blob was already
  // stored: the first sync made their entries durable).
  size_t renamed = 0;
  for (size_t i = 0; i < todo.size(); ++i) {
    if (todo[i].tmp.empty()) continue;
    ++renamed;
    s = env.Rename(todo[i].tmp, todo[i].path);
    if (!s.ok()) {
      const std::string hash = todo[i].hash;
      for (size_t k = 0; k < i; ++k) store_.NoteRecentlyPut(todo[k].hash);
      RemoveTemporaries(todo, i);
      return s.Annotate("storing blob " + hash);
    }
  }
  if (renamed > 0) {
    s = env.SyncFileSystem(dir);
    if (!s.ok())
      return s.Annotate("making the names of " + std::to_string(renamed) + " new blobs durable");
  }
  for (const Pending& p : todo) store_.NoteRecentlyPut(p.hash);
  return Status::Ok();
}

}  // namespace tieup::content
