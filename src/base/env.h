// Env: the clock, the file system and randomness, injected everywhere so that tests can use a
// simulated clock and an in-memory or fault-injecting file system (see test/support).
//
// Paths are plain strings; an Env implementation decides what they mean. All methods of the
// POSIX Env are thread-safe. Errors come back as Status with the path in the message.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace tieup {

// A file being written. Not thread-safe; owned by one writer.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status Append(std::string_view data) = 0;
  // Makes everything appended so far durable (fsync).
  virtual Status Sync() = 0;
  // Closes the file; further calls fail. Destruction closes too, silently.
  virtual Status Close() = 0;
};

struct FileInfo {
  std::string name;  // the entry's name within its directory
  bool is_dir = false;
  uint64_t size = 0;
  // Last modification (nanoseconds since the epoch) and inode number, when the file system
  // tells them; 0 when unknown (callers must then assume the file may have changed).
  int64_t mtime_ns = 0;
  uint64_t inode = 0;
};

class Env {
 public:
  virtual ~Env() = default;

  // --- clock ---
  // Wall-clock time, microseconds since the Unix epoch.
  virtual int64_t NowMicros() = 0;
  int64_t NowSeconds() { return NowMicros() / 1000000; }

  // --- files ---
  // Creates (or truncates) `path` for writing.
  virtual Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) = 0;
  // Opens `path` for appending, creating it when missing.
  virtual Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) = 0;
  // Reads the whole file.
  virtual Result<std::string> ReadFile(const std::string& path) = 0;
  // Reads at most `max_bytes` from the start of the file.
  virtual Result<std::string> ReadFilePrefix(const std::string& path, uint64_t max_bytes) = 0;
  // Reads at most `max_bytes` starting at byte `offset` (fewer at the end of the file; none
  // beyond it). The default reads the whole file; the POSIX Env reads only the range.
  virtual Result<std::string> ReadFileRange(const std::string& path, uint64_t offset,
                                            uint64_t max_bytes);
  // Cuts `path` to its first `size` bytes (no-op when it is not longer). Not atomic: for files
  // whose readers check what they read (derived data, say). The default rewrites the prefix.
  virtual Status TruncateFile(const std::string& path, uint64_t size);
  virtual bool FileExists(const std::string& path) = 0;
  virtual Result<uint64_t> FileSize(const std::string& path) = 0;
  // The entries of a directory (without "." and ".."), sorted by name.
  virtual Result<std::vector<FileInfo>> ListDir(const std::string& path) = 0;
  // Creates one directory; OK when it already exists.
  virtual Status CreateDir(const std::string& path) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;
  // Removes an empty directory.
  virtual Status RemoveDir(const std::string& path) = 0;
  // Atomically replaces `to` with `from` (POSIX rename).
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  // Makes the directory's entries (creations, renames, removals) durable.
  virtual Status SyncDir(const std::string& path) = 0;
  // Makes durable every file's bytes and every directory entry of the whole file system that
  // holds `path` (syncfs(2)): one call where a sync per file and per directory would be tens of
  // thousands (a partner's first sync writes a blob per page and per gzip variant).
  virtual Status SyncFileSystem(const std::string& path) = 0;
  // Sets POSIX permission bits (0600 for private keys).
  virtual Status SetPermissions(const std::string& path, uint32_t mode) = 0;
  // POSIX permission bits of `path`.
  virtual Result<uint32_t> GetPermissions(const std::string& path) = 0;

  // --- randomness ---
  // Fills `out` with `n` cryptographically secure random bytes.
  virtual void RandomBytes(void* out, size_t n) = 0;
};

// The real Env: POSIX files, the system clock, libsodium's randomness.
std::unique_ptr<Env> NewPosixEnv();

// --- helpers built on any Env ---

// Creates `path` and its missing parents.
Status CreateDirs(Env& env, const std::string& path);

// Writes `data` to `path` so that a crash leaves either the old or the new contents: write to
// "<path>.tmp", fsync, rename over `path`, fsync the directory. `mode` 0 keeps the default.
Status WriteFileAtomic(Env& env, const std::string& path, std::string_view data, uint32_t mode = 0);
// As WriteFileAtomic, with the contents written by `write` (large contents made in parts need
// not be joined in memory first). An error from `write` leaves `path` as it was.
Status WriteFileAtomicWith(Env& env, const std::string& path,
                           const std::function<Status(WritableFile&)>& write, uint32_t mode = 0);

// Removes `path` and everything below it. OK when it does not exist.
Status RemoveTree(Env& env, const std::string& path);

// Joins path components with '/'.
std::string JoinPath(std::string_view a, std::string_view b);
// The directory part of `path` ("a/b" for "a/b/c"; "." when there is none).
std::string DirName(std::string_view path);

// `n` random bytes from `env`.
std::string RandomString(Env& env, size_t n);

}  // namespace tieup
