// MemEnv: an in-memory Env that simulates what survives a power loss, for crash tests.
//
// The model is a real file system with no ordering guarantees:
// - a file's bytes become durable only on WritableFile::Sync (up to that point);
// - a directory entry (a file or directory created, renamed or removed in it) becomes durable
//   only on SyncDir of that directory; until then the durable directory keeps its old entry.
// CrashAfter(n) lets n more mutating operations succeed, then "loses power": every later call
// (reads included) fails with IOError until Recover(), which drops everything not durable, as a
// reboot would, and lets calls succeed again.
//
// Mutating operations: creating/truncating a file (NewWritableFile, NewAppendableFile), Append,
// Sync, CreateDir (of a new directory), RemoveFile, RemoveDir, Rename, SyncDir, SyncFileSystem,
// SetPermissions.
//
// Thread-safe (one lock). The clock is settable; randomness is a fixed-seed generator, NOT
// secure: tests only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "base/env.h"

namespace tieup::testing {

class MemEnv : public Env {
 public:
  explicit MemEnv(int64_t start_micros = 1'790'000'000'000'000);
  ~MemEnv() override;

  // --- crash simulation ---
  // After `n` more mutating operations, every operation fails (n = 0: the next one fails).
  void CrashAfter(uint64_t n);
  // Forgets a pending CrashAfter.
  void CancelCrash();
  // True once the simulated power loss happened.
  bool crashed() const;
  // Drops every byte and directory entry that is not durable and ends the crash.
  void Recover();
  // Mutating operations performed so far (successful ones).
  uint64_t mutating_ops() const;
  // Makes everything durable now (as if every file and directory had been synced). For test
  // set-up.
  void SyncAllForTest();

  // --- clock ---
  int64_t NowMicros() override;
  void SetNowMicros(int64_t t);
  void AdvanceSeconds(int64_t s);

  // --- Env ---
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override;
  Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) override;
  Result<std::string> ReadFile(const std::string& path) override;
  Result<std::string> ReadFilePrefix(const std::string& path, uint64_t max_bytes) override;
  bool FileExists(const std::string& path) override;
  Result<uint64_t> FileSize(const std::string& path) override;
  Result<std::vector<FileInfo>> ListDir(const std::string& path) override;
  Status CreateDir(const std::string& path) override;
  Status RemoveFile(const std::string& path) override;
  Status RemoveDir(const std::string& path) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status SyncDir(const std::string& path) override;
  // The whole in-memory file system is one: everything becomes durable (a mutating operation).
  Status SyncFileSystem(const std::string& path) override;
  Status SetPermissions(const std::string& path, uint32_t mode) override;
  Result<uint32_t> GetPermissions(const std::string& path) override;
  void RandomBytes(void* out, size_t n) override;

  // Public for the file handles in mem_env.cc; not part of the test-facing API.
  struct Node;

 private:
  friend class MemWritableFile;

  // Under mu_: fails when crashed; counts a mutating op and crashes when the budget is spent.
  Status BeginOp(bool mutating, const std::string& what);
  // Under mu_: the node at `path`, or null.
  std::shared_ptr<Node> Lookup(const std::string& path) const;
  // Under mu_: the parent directory node of `path` and the last component.
  Result<std::pair<std::shared_ptr<Node>, std::string>> Parent(const std::string& path) const;
  Result<std::unique_ptr<WritableFile>> OpenFile(const std::string& path, bool truncate);

  mutable std::mutex mu_;
  std::shared_ptr<Node> root_;
  int64_t now_micros_;
  std::mt19937_64 random_;
  uint64_t ops_ = 0;
  bool crash_armed_ = false;
  uint64_t crash_budget_ = 0;
  bool crashed_ = false;
};

}  // namespace tieup::testing
