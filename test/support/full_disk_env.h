// FullDiskEnv: an Env over another one whose disk can run full, for tests of what a full disk
// does (a failed write must leave nothing half-written behind and the code must recover once
// space returns).
//
// While a limit is set, WritableFile::Append writes what still fits (as write(2) does) and then
// fails with the code and message PosixEnv gives ENOSPC (kResourceExhausted, "No space left on
// device"); every later Append fails the same way until the limit is raised or lifted. Removing
// files does not give space back: the test says how much is free. Everything else, including
// the clock, is the base Env's.
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/env.h"

namespace tieup::testing {

class FullDiskEnv : public Env {
 public:
  // `base` must outlive this Env.
  explicit FullDiskEnv(Env& base);

  // From now on, at most `bytes` more bytes can be written (0: the disk is full). With
  // `only_under`, only files whose path starts with it are limited (a ledger segment that cannot
  // grow while a small file elsewhere still fits); others are written freely.
  void SetFreeBytes(uint64_t bytes, std::string only_under = "");
  // No limit any more: space has returned.
  void LiftLimit();
  // Bytes written through this Env so far, and Appends refused for lack of space.
  uint64_t bytes_written() const;
  uint64_t refused_writes() const;

  int64_t NowMicros() override { return base_.NowMicros(); }
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override;
  Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) override;
  Result<std::string> ReadFile(const std::string& p) override { return base_.ReadFile(p); }
  Result<std::string> ReadFilePrefix(const std::string& p, uint64_t n) override {
    return base_.ReadFilePrefix(p, n);
  }
  Result<std::string> ReadFileRange(const std::string& p, uint64_t off, uint64_t n) override {
    return base_.ReadFileRange(p, off, n);
  }
  // Cutting a file needs no space.
  Status TruncateFile(const std::string& p, uint64_t size) override {
    return base_.TruncateFile(p, size);
  }
  bool FileExists(const std::string& p) override { return base_.FileExists(p); }
  Result<uint64_t> FileSize(const std::string& p) override { return base_.FileSize(p); }
  Result<std::vector<FileInfo>> ListDir(const std::string& p) override { return base_.ListDir(p); }
  Status CreateDir(const std::string& p) override { return base_.CreateDir(p); }
  Status RemoveFile(const std::string& p) override { return base_.RemoveFile(p); }
  Status RemoveDir(const std::string& p) override { return base_.RemoveDir(p); }
  Status Rename(const std::string& a, const std::string& b) override { return base_.Rename(a, b); }
  Status SyncDir(const std::string& p) override { return base_.SyncDir(p); }
  Status SyncFileSystem(const std::string& p) override { return base_.SyncFileSystem(p); }
  Status SetPermissions(const std::string& p, uint32_t m) override {
    return base_.SetPermissions(p, m);
  }
  Result<uint32_t> GetPermissions(const std::string& p) override { return base_.GetPermissions(p); }
  void RandomBytes(void* out, size_t n) override { base_.RandomBytes(out, n); }

 private:
  friend class FullDiskFile;
  // How many of `n` bytes may be written to `path` now (and takes them from the free space).
  uint64_t Take(const std::string& path, uint64_t n);

  Env& base_;
  mutable std::mutex mu_;
  std::optional<uint64_t> free_;  // nullopt: no limit
  std::string only_under_;
  uint64_t written_ = 0;
  uint64_t refused_ = 0;
};

}  // namespace tieup::testing
