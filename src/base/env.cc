#include "base/env.h"

#include <algorithm>

namespace tieup {

std::string JoinPath(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  if (b.empty()) return std::string(a);
  std::string out(a);
  if (out.back() != '/') out += '/';
  while (!b.empty() && b.front() == '/') b.remove_prefix(1);
  out += b;
  return out;
}

std::string DirName(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

Result<std::string> Env::ReadFileRange(const std::string& path, uint64_t offset,
                                       uint64_t max_bytes) {
  ASSIGN_OR_RETURN(std::string data, ReadFile(path));
  if (offset >= data.size()) return std::string();
  return data.substr(static_cast<size_t>(offset),
                     static_cast<size_t>(std::min<uint64_t>(max_bytes, data.size() - offset)));
}

Status Env::TruncateFile(const std::string& path, uint64_t size) {
  ASSIGN_OR_RETURN(uint64_t now, FileSize(path));
  if (now <= size) return Status::Ok();
  ASSIGN_OR_RETURN(std::string prefix, ReadFilePrefix(path, size));
  ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, NewWritableFile(path));
  RETURN_IF_ERROR(file->Append(prefix));
  return file->Close();
}

Status CreateDirs(Env& env, const std::string& path) {
  if (path.empty() || path == "." || path == "/") return Status::Ok();
  if (env.FileExists(path)) return Status::Ok();
  RETURN_IF_ERROR(CreateDirs(env, DirName(path)));
  return env.CreateDir(path);
}

Status WriteFileAtomic(Env& env, const std::string& path, std::string_view data, uint32_t mode) {
  return WriteFileAtomicWith(
      env, path, [&](WritableFile& file) { return file.Append(data); }, mode);
}

Status WriteFileAtomicWith(Env& env, const std::string& path,
                           const std::function<Status(WritableFile&)>& write, uint32_t mode) {
  const std::string tmp = path + ".tmp";
  Status written = [&]() -> Status {
    ASSIGN_OR_RETURN(auto file, env.NewWritableFile(tmp));
    if (mode != 0) RETURN_IF_ERROR(env.SetPermissions(tmp, mode));
    RETURN_IF_ERROR(write(*file));
    RETURN_IF_ERROR(file->Sync());
    RETURN_IF_ERROR(file->Close());
    return env.Rename(tmp, path);
  }();
  if (!written.ok()) {
    // A failed write (a full disk, say) leaves no partial file behind; `path` is untouched.
    if (env.FileExists(tmp)) (void)env.RemoveFile(tmp);
    return written;
  }
  return env.SyncDir(DirName(path));
}

Status RemoveTree(Env& env, const std::string& path) {
  if (!env.FileExists(path)) return Status::Ok();
  auto entries = env.ListDir(path);
  if (!entries.ok()) return env.RemoveFile(path);  // a plain file
  for (const FileInfo& e : *entries) {
    std::string child = JoinPath(path, e.name);
    if (e.is_dir) {
      RETURN_IF_ERROR(RemoveTree(env, child));
    } else {
      RETURN_IF_ERROR(env.RemoveFile(child));
    }
  }
  return env.RemoveDir(path);
}

std::string RandomString(Env& env, size_t n) {
  std::string out(n, '\0');
  env.RandomBytes(out.data(), n);
  return out;
}

}  // namespace tieup
