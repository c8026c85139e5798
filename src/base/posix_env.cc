#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "base/env.h"

namespace tieup {
namespace {

Status PosixError(std::string_view what, const std::string& path, int err) {
  std::string m(what);
  m += " '";
  m += path;
  m += "': ";
  m += std::strerror(err);
  if (err == ENOENT) return Status::NotFound(std::move(m));
  if (err == EACCES || err == EPERM) return Status::PermissionDenied(std::move(m));
  if (err == EEXIST) return Status::AlreadyExists(std::move(m));
  if (err == ENOSPC) return Status::ResourceExhausted(m + " (free some disk space and retry)");
  return Status::IOError(std::move(m));
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }

  Status Append(std::string_view data) override {
    if (fd_ < 0) return Status::FailedPrecondition("append to closed file '" + path_ + "'");
    while (!data.empty()) {
      ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return PosixError("writing", path_, errno);
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return Status::Ok();
  }

  Status Sync() override {
    if (fd_ < 0) return Status::FailedPrecondition("sync of closed file '" + path_ + "'");
    if (::fdatasync(fd_) != 0) return PosixError("syncing", path_, errno);
    return Status::Ok();
  }

  Status Close() override {
    if (fd_ < 0) return Status::Ok();
    int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) return PosixError("closing", path_, errno);
    return Status::Ok();
  }

 private:
  std::string path_;
  int fd_;
};

class PosixEnv final : public Env {
 public:
  PosixEnv() {
    // sodium_init is idempotent and thread-safe; it picks the fastest implementations.
    if (sodium_init() < 0) std::abort();
  }

  int64_t NowMicros() override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    return Open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC);
  }
  Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) override {
    return Open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC);
  }

  Result<std::string> ReadFile(const std::string& path) override {
    return ReadFilePrefix(path, UINT64_MAX);
  }

  Result<std::string> ReadFilePrefix(const std::string& path, uint64_t max_bytes) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return PosixError("opening", path, errno);
    std::string out;
    struct stat st;
    if (::fstat(fd, &st) == 0 && st.st_size > 0) {
      out.reserve(static_cast<size_t>(std::min<uint64_t>(st.st_size, max_bytes)));
    }
    char buf[65536];
    while (out.size() < max_bytes) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(sizeof(buf), max_bytes - out.size()));
      ssize_t n = ::read(fd, buf, want);
      if (n < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        ::close(fd);
        return PosixError("reading", path, err);
      }
      if (n == 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return out;
  }

  Result<std::string> ReadFileRange(const std::string& path, uint64_t offset,
                                    uint64_t max_bytes) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return PosixError("opening", path, errno);
    std::string out;
    struct stat st;
    if (::fstat(fd, &st) == 0 && static_cast<uint64_t>(st.st_size) > offset) {
      out.resize(static_cast<size_t>(std::min<uint64_t>(st.st_size - offset, max_bytes)));
    }
    size_t got = 0;
    while (got < out.size()) {
      ssize_t n = ::pread(fd, out.data() + got, out.size() - got, static_cast<off_t>(offset + got));
      if (n < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        ::close(fd);
        return PosixError("reading", path, err);
      }
      if (n == 0) break;  // the file shrank since fstat
      got += static_cast<size_t>(n);
    }
    out.resize(got);
    ::close(fd);
    return out;
  }

  Status TruncateFile(const std::string& path, uint64_t size) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return PosixError("stat of", path, errno);
    if (static_cast<uint64_t>(st.st_size) <= size) return Status::Ok();
    if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0) {
      return PosixError("truncating", path, errno);
    }
    return Status::Ok();
  }

  bool FileExists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }

  Result<uint64_t> FileSize(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return PosixError("stat of", path, errno);
    return static_cast<uint64_t>(st.st_size);
  }

  Result<std::vector<FileInfo>> ListDir(const std::string& path) override {
    DIR* d = ::opendir(path.c_str());
    if (d == nullptr) return PosixError("listing", path, errno);
    std::vector<FileInfo> out;
    while (struct dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      struct stat st;
      FileInfo info{name, false, 0};
      if (::fstatat(::dirfd(d), e->d_name, &st, 0) == 0) {
        info.is_dir = S_ISDIR(st.st_mode);
        info.size = static_cast<uint64_t>(st.st_size);
        info.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
        info.inode = static_cast<uint64_t>(st.st_ino);
      }
      out.push_back(std::move(info));
    }
    ::closedir(d);
    std::sort(out.begin(), out.end(),
              [](const FileInfo& a, const FileInfo& b) { return a.name < b.name; });
    return out;
  }

  Status CreateDir(const std::string& path) override {
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
      return PosixError("creating directory", path, errno);
    }
    return Status::Ok();
  }

  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return PosixError("removing", path, errno);
    return Status::Ok();
  }

  Status RemoveDir(const std::string& path) override {
    if (::rmdir(path.c_str()) != 0) return PosixError("removing directory", path, errno);
    return Status::Ok();
  }

  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return PosixError("renaming to '" + to + "' from", from, errno);
    }
    return Status::Ok();
  }

  Status SyncDir(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return PosixError("opening directory", path, errno);
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return PosixError("syncing directory", path, err);
    return Status::Ok();
  }

  Status SyncFileSystem(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return PosixError("opening", path, errno);
    // Since Linux 5.8 syncfs reports a write-back error of any file of the file system.
    int rc = ::syncfs(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return PosixError("syncing the file system of", path, err);
    return Status::Ok();
  }

  Status SetPermissions(const std::string& path, uint32_t mode) override {
    if (::chmod(path.c_str(), static_cast<mode_t>(mode)) != 0) {
      return PosixError("chmod of", path, errno);
    }
    return Status::Ok();
  }

  Result<uint32_t> GetPermissions(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return PosixError("stat of", path, errno);
    return static_cast<uint32_t>(st.st_mode & 07777);
  }

  void RandomBytes(void* out, size_t n) override { randombytes_buf(out, n); }

 private:
  Result<std::unique_ptr<WritableFile>> Open(const std::string& path, int flags) {
    int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) return PosixError("opening for write", path, errno);
    return std::unique_ptr<WritableFile>(std::make_unique<PosixWritableFile>(path, fd));
  }
};

}  // namespace

std::unique_ptr<Env> NewPosixEnv() { return std::make_unique<PosixEnv>(); }

}  // namespace tieup
