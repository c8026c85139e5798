#include "mem_env.h"

#include <algorithm>

namespace tieup::testing {

struct MemEnv::Node {
  bool is_dir = false;
  // Files.
  std::string data;    // what reads see
  std::string synced;  // what survives a crash
  uint32_t mode = 0644;
  // Directories.
  std::map<std::string, std::shared_ptr<Node>> entries;          // what reads see
  std::map<std::string, std::shared_ptr<Node>> durable_entries;  // what survives a crash
};

namespace {

using Node = MemEnv::Node;

// Splits a path into components; "" and "/" are the root. ".." is not supported.
Result<std::vector<std::string>> Split(const std::string& path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    std::string part = path.substr(i, j - i);
    if (part == "..") return Status::InvalidArgument("MemEnv does not resolve '..': " + path);
    if (!part.empty() && part != ".") parts.push_back(std::move(part));
    i = j + 1;
  }
  return parts;
}

void RecoverNode(Node& n) {
  if (n.is_dir) {
    n.entries = n.durable_entries;
    for (auto& [name, child] : n.entries) RecoverNode(*child);
  } else {
    n.data = n.synced;
  }
}

void SyncAll(Node& n) {
  if (n.is_dir) {
    n.durable_entries = n.entries;
    for (auto& [name, child] : n.entries) SyncAll(*child);
  } else {
    n.synced = n.data;
  }
}

}  // namespace

class MemWritableFile final : public WritableFile {
 public:
  MemWritableFile(MemEnv& env, std::string path, std::shared_ptr<Node> node)
      : env_(env), path_(std::move(path)), node_(std::move(node)) {}

  Status Append(std::string_view data) override {
    std::lock_guard<std::mutex> lock(env_.mu_);
    if (closed_) return Status::FailedPrecondition("append to closed file '" + path_ + "'");
    RETURN_IF_ERROR(env_.BeginOp(true, "writing '" + path_ + "'"));
    node_->data.append(data);
    return Status::Ok();
  }

  Status Sync() override {
    std::lock_guard<std::mutex> lock(env_.mu_);
    if (closed_) return Status::FailedPrecondition("sync of closed file '" + path_ + "'");
    RETURN_IF_ERROR(env_.BeginOp(true, "syncing '" + path_ + "'"));
    node_->synced = node_->data;
    return Status::Ok();
  }

  Status Close() override {
    std::lock_guard<std::mutex> lock(env_.mu_);
    if (closed_) return Status::Ok();
    closed_ = true;
    return env_.BeginOp(false, "closing '" + path_ + "'");
  }

 private:
  MemEnv& env_;
  std::string path_;
  std::shared_ptr<Node> node_;
  bool closed_ = false;
};

MemEnv::MemEnv(int64_t start_micros)
    : root_(std::make_shared<Node>()), now_micros_(start_micros), random_(20240601) {
  root_->is_dir = true;
}

MemEnv::~MemEnv() = default;

void MemEnv::CrashAfter(uint64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  crash_armed_ = true;
  crash_budget_ = n;
}

void MemEnv::CancelCrash() {
  std::lock_guard<std::mutex> lock(mu_);
  crash_armed_ = false;
}

bool MemEnv::crashed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return crashed_;
}

void MemEnv::Recover() {
  std::lock_guard<std::mutex> lock(mu_);
  RecoverNode(*root_);
  crashed_ = false;
  crash_armed_ = false;
}

uint64_t MemEnv::mutating_ops() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ops_;
}

void MemEnv::SyncAllForTest() {
  std::lock_guard<std::mutex> lock(mu_);
  SyncAll(*root_);
}

int64_t MemEnv::NowMicros() {
  std::lock_guard<std::mutex> lock(mu_);
  return now_micros_;
}

void MemEnv::SetNowMicros(int64_t t) {
  std::lock_guard<std::mutex> lock(mu_);
  now_micros_ = t;
}

void MemEnv::AdvanceSeconds(int64_t s) {
  std::lock_guard<std::mutex> lock(mu_);
  now_micros_ += s * 1'000'000;
}

Status MemEnv::BeginOp(bool mutating, const std::string& what) {
  if (crashed_) return Status::IOError(what + ": simulated crash (power lost)");
  if (!mutating) return Status::Ok();
  if (crash_armed_) {
    if (crash_budget_ == 0) {
      crashed_ = true;
      return Status::IOError(what + ": simulated crash (power lost)");
    }
    --crash_budget_;
  }
  ++ops_;
  return Status::Ok();
}

std::shared_ptr<Node> MemEnv::Lookup(const std::string& path) const {
  auto parts = Split(path);
  if (!parts.ok()) return nullptr;
  std::shared_ptr<Node> n = root_;
  for (const std::string& part : *parts) {
    if (!n->is_dir) return nullptr;
    auto it = n->entries.find(part);
    if (it == n->entries.end()) return nullptr;
    n = it->second;
  }
  return n;
}

Result<std::pair<std::shared_ptr<Node>, std::string>> MemEnv::Parent(
    const std::string& path) const {
  ASSIGN_OR_RETURN(auto parts, Split(path));
  if (parts.empty()) return Status::InvalidArgument("'" + path + "' is the root");
  std::string name = parts.back();
  std::shared_ptr<Node> n = root_;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    auto it = n->entries.find(parts[i]);
    if (it == n->entries.end() || !it->second->is_dir) {
      return Status::NotFound("parent directory of '" + path + "' does not exist");
    }
    n = it->second;
  }
  return std::make_pair(n, name);
}

Result<std::unique_ptr<WritableFile>> MemEnv::OpenFile(const std::string& path, bool truncate) {
  std::lock_guard<std::mutex> lock(mu_);
  RETURN_IF_ERROR(BeginOp(false, "opening '" + path + "'"));
  ASSIGN_OR_RETURN(auto parent, Parent(path));
  auto& [dir, name] = parent;
  auto it = dir->entries.find(name);
  if (it != dir->entries.end() && it->second->is_dir) {
    return Status::IOError("opening for write '" + path + "': is a directory");
  }
  RETURN_IF_ERROR(BeginOp(true, "opening for write '" + path + "'"));
  std::shared_ptr<Node> node;
  if (it != dir->entries.end()) {
    node = it->second;
    if (truncate) node->data.clear();
  } else {
    node = std::make_shared<Node>();
    dir->entries[name] = node;
  }
  return std::unique_ptr<WritableFile>(std::make_unique<MemWritableFile>(*this, path, node));
}

Result<std::unique_ptr<WritableFile>> MemEnv::NewWritableFile(const std::string& path) {
  return OpenFile(path, /*truncate=*/true);
}

Result<std::unique_ptr<WritableFile>> MemEnv::NewAppendableFile(const std::string& path) {
  return OpenFile(path, /*truncate=*/false);
}

Result<std::string> MemEnv::ReadFile(const std::string& path) {
  return ReadFilePrefix(path, UINT64_MAX);
}

Result<std::string> MemEnv::ReadFilePrefix(const std::string& path, uint64_t max_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  RETURN_IF_ERROR(BeginOp(false, "reading '" + path + "'"));
  auto n = Lookup(path);
  if (!n) return Status::NotFound("opening '" + path + "': No such file or directory");
  if (n->is_dir) return Status::IOError("reading '" + path + "': Is a directory");
  return n->data.substr(0, static_cast<size_t>(std::min<uint64_t>(max_bytes, n->data.size())));
}

bool MemEnv::FileExists(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  if (crashed_) return false;
  return Lookup(path) != nullptr;
}

Result<uint64_t> MemEnv::FileSize(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  RETURN_IF_ERROR(BeginOp(false, "stat of '" + path + "'"));
  auto n = Lookup(path);
  if (!n) return Status::NotFound("stat of '" + path + "': No such file or directory");
  return static_cast<uint64_t>(n->is_dir ? 0 : n->data.size());
}

Result<std::vector<FileInfo>> MemEnv::ListDir(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  RETURN_IF_ERROR(BeginOp(false, "listing '" + path + "'"));
  auto n = Lookup(path);
  if (!n) return Status::NotFound("listing '" + path + "': No such file or directory");
  if (!n->is_dir) return Status::IOError("listing '" + path + "': Not a directory");
  std::vector<FileInfo> out;
  for (const auto& [name, child] : n->entries) {
    out.push_back(FileInfo{name, child->is_dir, child->is_dir ? 0 : child->data.size()});
  }
  return out;
}

Status MemEnv::CreateDir(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  RETURN_IF_ERROR(BeginOp(false, "creating directory '" + path + "'"));
  ASSIGN_OR_RETURN(auto parent, Parent(path));
  auto& [dir, name] = parent;
  auto it = dir->entries.find(name);
  if (it != dir->entries.end()) {
    if (it->second->is_dir) return Status::Ok();
    return Status::AlreadyExists("creating directory '" + path + "': a file has that name");
  }
  RETURN_IF_ERROR(BeginOp(true, "creating directory '" + path + "'"));
  auto node = std::make_shared<Node>();
  node->is_dir = true;
  node->mode = 0755;
  dir->entries[name] = node;
  return Status::Ok();
}

Status MemEnv::RemoveFile(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  RETURN_IF_ERROR(BeginOp(false, "removing '" + path + "'"));
  ASSIGN_OR_RETURN(auto parent, Parent(path));
  auto& [dir, name] = parent;
  auto it = dir->entries.find(name);
  if (it == dir->entries.end()) {
    return Status::NotFound("removing '" + path + "': No such file or directory");
  }
  if (it->second->is_dir) return Status::IOError("removing '" + path + "': Is a directory");
  RETURN_IF_ERROR(BeginOp(true, "removing '" + path + "'"));
  dir->entries.erase(it);
  return Status::Ok();
}

Status MemEnv::RemoveDir(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  RETURN_IF_ERROR(BeginOp(false, "removing directory '" + path + "'"));
  ASSIGN_OR_RETURN(auto parent, Parent(path));
  auto& [dir, name] = parent;
  auto it = dir->entries.find(name);
  if (it == dir->entries.end()) {
    return Status::NotFound("removing directory '" + path + "': No such file or directory");
  }
  if (!it->second->is_dir) {
    return Status::IOError("removing directory '" + path + "': Not a directory");
  }
  if (!it->second->entries.empty()) {
    return Status::IOError("removing directory '" + path + "': Directory not empty");
  }
  RETURN_IF_ERROR(BeginOp(true, "removing directory '" + path + "'"));
  dir->entries.erase(it);
  return Status::Ok();
}

Status MemEnv::Rename(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string what = "renaming '" + from + "' to '" + to + "'";
  RETURN_IF_ERROR(BeginOp(false, what));
  ASSIGN_OR_RETURN(auto src, Parent(from));
  ASSIGN_OR_RETURN(auto dst, Parent(to));
  auto it = src.first->entries.find(src.second);
  if (it == src.first->entries.end()) {
    return Status::NotFound(what + ": No such file or directory");
  }
  std::shared_ptr<Node> node = it->second;
  auto existing = dst.first->entries.find(dst.second);
  if (existing != dst.first->entries.end()) {
    if (existing->second == node) return Status::Ok();  // same entry
    if (existing->second->is_dir != node->is_dir) {
      return Status::IOError(what + ": file / directory mismatch");
    }
    if (existing->second->is_dir && !existing->second->entries.empty()) {
      return Status::IOError(what + ": Directory not empty");
    }
  }
  RETURN_IF_ERROR(BeginOp(true, what));
  src.first->entries.erase(src.second);
  dst.first->entries[dst.second] = node;
  return Status::Ok();
}

Status MemEnv::SyncDir(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  RETURN_IF_ERROR(BeginOp(false, "syncing directory '" + path + "'"));
  auto n = Lookup(path);
  if (!n) return Status::NotFound("opening directory '" + path + "': No such file or directory");
  if (!n->is_dir) return Status::IOError("syncing directory '" + path + "': Not a directory");
  RETURN_IF_ERROR(BeginOp(true, "syncing directory '" + path + "'"));
  n->durable_entries = n->entries;
  return Status::Ok();
}

Status MemEnv::SyncFileSystem(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  RETURN_IF_ERROR(BeginOp(false, "syncing the file system of '" + path + "'"));
  if (!Lookup(path)) return Status::NotFound("opening '" + path + "': No such file or directory");
  RETURN_IF_ERROR(BeginOp(true, "syncing the file system of '" + path + "'"));
  SyncAll(*root_);
  return Status::Ok();
}

Status MemEnv::SetPermissions(const std::string& path, uint32_t mode) {
  std::lock_guard<std::mutex> lock(mu_);
  RETURN_IF_ERROR(BeginOp(false, "chmod of '" + path + "'"));
  auto n = Lookup(path);
  if (!n) return Status::NotFound("chmod of '" + path + "': No such file or directory");
  RETURN_IF_ERROR(BeginOp(true, "chmod of '" + path + "'"));
  // Simplification: permission bits are durable at once.
  n->mode = mode & 07777;
  return Status::Ok();
}

Result<uint32_t> MemEnv::GetPermissions(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  RETURN_IF_ERROR(BeginOp(false, "stat of '" + path + "'"));
  auto n = Lookup(path);
  if (!n) return Status::NotFound("stat of '" + path + "': No such file or directory");
  return n->mode;
}

void MemEnv::RandomBytes(void* out, size_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  auto* p = static_cast<unsigned char*>(out);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<unsigned char>(random_() & 0xff);
}

}  // namespace tieup::testing
