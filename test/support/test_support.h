// Test helpers: Status matchers, a fresh temporary directory per test, and an Env whose clock
// the test moves by hand.
#pragma once

#include <gmock/gmock.h>

#include <atomic>
#include <memory>
#include <string>

#include "base/env.h"
#include "base/status.h"

namespace tieup::testing {

// EXPECT_THAT(status, IsOk()); works on Status and Result<T>.
MATCHER(IsOk, "is OK") {
  const auto& s = [&]() -> const ::tieup::Status& {
    if constexpr (std::is_same_v<std::decay_t<decltype(arg)>, ::tieup::Status>) {
      return arg;
    } else {
      return arg.status();
    }
  }();
  if (!s.ok()) *result_listener << "status is " << s.ToString();
  return s.ok();
}

// EXPECT_THAT(status, StatusIs(StatusCode::kNotFound)); optionally with a message matcher.
MATCHER_P(StatusIs, code, "has status code " + std::string(::tieup::StatusCodeName(code))) {
  const auto& s = [&]() -> const ::tieup::Status& {
    if constexpr (std::is_same_v<std::decay_t<decltype(arg)>, ::tieup::Status>) {
      return arg;
    } else {
      return arg.status();
    }
  }();
  *result_listener << "status is " << s.ToString();
  return s.code() == code;
}

MATCHER_P2(StatusIs, code, message_matcher, "has the status code and message") {
  const auto& s = [&]() -> const ::tieup::Status& {
    if constexpr (std::is_same_v<std::decay_t<decltype(arg)>, ::tieup::Status>) {
      return arg;
    } else {
      return arg.status();
    }
  }();
  *result_listener << "status is " << s.ToString();
  return s.code() == code &&
         ::testing::Matches(::testing::Matcher<const std::string&>(message_matcher))(s.message());
}

// A directory under $TMPDIR (or /tmp) made for one test and removed with everything in it
// when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // path()/name
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Wraps a real Env (the POSIX one by default) and replaces its clock with one the test sets.
// Thread-safe.
class FakeClockEnv : public Env {
 public:
  explicit FakeClockEnv(int64_t start_micros = 1'790'000'000'000'000);
  int64_t NowMicros() override { return now_.load(); }
  void SetNowMicros(int64_t t) { now_.store(t); }
  void AdvanceSeconds(int64_t s) { now_.fetch_add(s * 1'000'000); }

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& p) override {
    return base_->NewWritableFile(p);
  }
  Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& p) override {
    return base_->NewAppendableFile(p);
  }
  Result<std::string> ReadFile(const std::string& p) override { return base_->ReadFile(p); }
  Result<std::string> ReadFilePrefix(const std::string& p, uint64_t n) override {
    return base_->ReadFilePrefix(p, n);
  }
  Result<std::string> ReadFileRange(const std::string& p, uint64_t off, uint64_t n) override {
    return base_->ReadFileRange(p, off, n);
  }
  Status TruncateFile(const std::string& p, uint64_t size) override {
    return base_->TruncateFile(p, size);
  }
  bool FileExists(const std::string& p) override { return base_->FileExists(p); }
  Result<uint64_t> FileSize(const std::string& p) override { return base_->FileSize(p); }
  Result<std::vector<FileInfo>> ListDir(const std::string& p) override { return base_->ListDir(p); }
  Status CreateDir(const std::string& p) override { return base_->CreateDir(p); }
  Status RemoveFile(const std::string& p) override { return base_->RemoveFile(p); }
  Status RemoveDir(const std::string& p) override { return base_->RemoveDir(p); }
  Status Rename(const std::string& a, const std::string& b) override { return base_->Rename(a, b); }
  Status SyncDir(const std::string& p) override { return base_->SyncDir(p); }
  Status SyncFileSystem(const std::string& p) override { return base_->SyncFileSystem(p); }
  Status SetPermissions(const std::string& p, uint32_t m) override {
    return base_->SetPermissions(p, m);
  }
  Result<uint32_t> GetPermissions(const std::string& p) override {
    return base_->GetPermissions(p);
  }
  void RandomBytes(void* out, size_t n) override { base_->RandomBytes(out, n); }

 private:
  std::unique_ptr<Env> base_;
  std::atomic<int64_t> now_;
};

}  // namespace tieup::testing
