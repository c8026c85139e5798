// The integrity monitor (guard/integrity_monitor.h) on real files with real inotify: a
// same-length edit in place and a removal are found from their events; a file changed while no
// one watched is found by the first sweep; a copy in memory that differs is found by a sweep; a
// finding is reported once, and again after the file was restored and changed anew; each waits
// for the state it needs (told by the monitor's callbacks).
#include "guard/integrity_monitor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>

#include "base/env.h"
#include "crypto/hash.h"
#include "test_support.h"

namespace tieup::guard {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::IsOk;
using ::tieup::testing::TempDir;

class IntegrityMonitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_THAT(CreateDirs(*env_, dir_.Sub("blobs/ab")), IsOk());
    for (int i = 0; i < 3; ++i) {
      const std::string body = "<p>page " + std::to_string(i) + " of the tea shop</p>";
      WatchedFile f;
      f.path = dir_.Sub("blobs/ab/page" + std::to_string(i));
      f.sha256 = Sha256Hex(body);
      f.length = body.size();
      ASSERT_THAT(WriteFileAtomic(*env_, f.path, body), IsOk());
      files_.push_back(f);
    }
  }
  void TearDown() override {
    if (monitor_) monitor_->Stop();
  }

  void Start(IntegrityOptions o = {}) {
    auto m = IntegrityMonitor::Start(
        *env_, {dir_.Sub("blobs")},
        [this] {
          std::lock_guard<std::mutex> lock(mu_);
          ++listed_;  // once per sweep (and per Rescan)
          cv_.notify_all();
          if (kept_ != nullptr) return kept_;  // the same list as before, as a daemon's
          return std::make_shared<const std::vector<WatchedFile>>(files_);
        },
        [this](const IntegrityFinding& f) {
          std::lock_guard<std::mutex> lock(mu_);
          if (f.reason.empty()) {
            ++restored_;
          } else {
            findings_.push_back(f);
          }
          cv_.notify_all();
        },
        o);
    ASSERT_THAT(m, IsOk());
    monitor_ = std::move(*m);
  }

  // Waits until `done` holds (it reads the state under mu_); false after 30 s.
  bool WaitUntil(const std::function<bool()>& done) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), done);
  }
  std::vector<IntegrityFinding> WaitForFindings(size_t n) {
    WaitUntil([&] { return findings_.size() >= n; });
    std::lock_guard<std::mutex> lock(mu_);
    return findings_;
  }
  // Waits until the monitor has listed the files `n` more times (a sweep each).
  void WaitForSweeps(int n) {
    int target;
    {
      std::lock_guard<std::mutex> lock(mu_);
      target = listed_ + n;
    }
    ASSERT_TRUE(WaitUntil([&] { return listed_ >= target; }));
  }

  // Overwrites `path` in place, same length (as an intruder's editor would).
  void EditInPlace(const std::string& path) {
    auto f = env_->ReadFile(path);
    ASSERT_THAT(f, IsOk());
    std::string bytes = *f;
    bytes[4] = bytes[4] == 'X' ? 'Y' : 'X';
    FILE* out = std::fopen(path.c_str(), "r+");
    ASSERT_NE(out, nullptr);
    ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), out), bytes.size());
    std::fclose(out);
  }

  std::unique_ptr<Env> env_ = NewPosixEnv();
  TempDir dir_;
  std::mutex mu_;
  std::condition_variable cv_;
  int listed_ = 0;    // guarded by mu_
  int restored_ = 0;  // guarded by mu_
  std::vector<WatchedFile> files_;
  IntegrityMonitor::FileList kept_;  // guarded by mu_; when set, what the lister returns
  std::vector<IntegrityFinding> findings_;
  std::unique_ptr<IntegrityMonitor> monitor_;
};

TEST_F(IntegrityMonitorTest, AnEditInPlaceAndARemovalAreFoundFromTheirEvents) {
  IntegrityOptions o;
  o.sweep_interval = std::chrono::hours(1);  // only events can find what follows
  Start(o);
  EditInPlace(files_[1].path);
  std::vector<IntegrityFinding> found = WaitForFindings(1);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].file.path, files_[1].path);
  EXPECT_FALSE(found[0].in_memory);
  EXPECT_THAT(found[0].reason, HasSubstr("do not match the signed hash"));
  EXPECT_GE(monitor_->stats().events, 1u);

  ASSERT_THAT(env_->RemoveFile(files_[2].path), IsOk());
  found = WaitForFindings(2);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[1].file.path, files_[2].path);
  EXPECT_EQ(found[1].reason, "missing");

  // Restored (as the daemon does: a new file renamed over), then changed again: found again.
  ASSERT_THAT(WriteFileAtomic(*env_, files_[1].path, "<p>page 1 of the tea shop</p>"), IsOk());
  ASSERT_TRUE(WaitUntil([&] { return restored_ == 1; }));
  ASSERT_EQ(monitor_->stats().cleared, 1u);
  EditInPlace(files_[1].path);
  found = WaitForFindings(3);
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(found[2].file.path, files_[1].path);
}

TEST_F(IntegrityMonitorTest, SweepsFindWhatChangedUnwatchedAndACopyInMemory) {
  // Changed before the monitor ran: no event will come.
  EditInPlace(files_[0].path);
  // The copy served from memory of another file differs from what was signed.
  files_[2].memory = std::make_shared<const std::string>("<p>page 2 of the tea shoq</p>");
  IntegrityOptions o;
  o.sweep_interval = std::chrono::milliseconds(20);
  Start(o);
  std::vector<IntegrityFinding> found = WaitForFindings(2);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].file.path, files_[0].path);
  EXPECT_FALSE(found[0].in_memory);
  EXPECT_EQ(found[1].file.path, files_[2].path);
  EXPECT_TRUE(found[1].in_memory);
  EXPECT_THAT(found[1].reason, HasSubstr("memory"));
  // Reported once, however many sweeps see it again.
  WaitForSweeps(3);
  EXPECT_EQ(WaitForFindings(0).size(), 2u);
  EXPECT_GT(monitor_->stats().bytes_checked, 0u);
}

// The sweep is background work: its thread runs at the lowest priority (nice 19), the rest of
// the process at its own.
TEST_F(IntegrityMonitorTest, TheMonitorsThreadRunsAtTheLowestPriority) {
  const int own = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
  if (own == 19) GTEST_SKIP() << "the test runs at nice 19 already";
  Start();
  WaitForSweeps(1);  // listed: the thread has set its priority before
  int lowest = 0, threads = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    errno = 0;
    const int nice = ::getpriority(PRIO_PROCESS, std::stoi(task.path().filename().string()));
    if (errno != 0) continue;  // ended meanwhile
    ++threads;
    if (nice == 19) ++lowest;
  }
  EXPECT_EQ(lowest, 1) << "of " << threads << " threads";
  EXPECT_EQ(::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid())), own);
}

// A daemon returns the same list until it serves a new release: files written meanwhile (the
// next release being staged) make the monitor ask again, and it keeps its index; once the list
// names them, their events are checked.
TEST_F(IntegrityMonitorTest, FilesOfTheNextReleaseAreCheckedOnceListed) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    kept_ = std::make_shared<const std::vector<WatchedFile>>(files_);
  }
  IntegrityOptions o;
  o.sweep_interval = std::chrono::hours(1);  // only events can find what follows
  Start(o);
  const std::string body = "<p>the next release's page</p>";
  WatchedFile next{dir_.Sub("blobs/ab/next"), Sha256Hex(body), body.size(), nullptr};
  ASSERT_THAT(WriteFileAtomic(*env_, next.path, body), IsOk());  // staged, not yet listed
  EditInPlace(next.path);                                        // not served: nothing found
  EditInPlace(files_[1].path);
  std::vector<IntegrityFinding> found = WaitForFindings(1);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].file.path, files_[1].path);

  {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<WatchedFile> served = files_;
    served.push_back(next);
    kept_ = std::make_shared<const std::vector<WatchedFile>>(std::move(served));
  }
  EditInPlace(next.path);  // now listed: found from its event
  found = WaitForFindings(2);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[1].file.path, next.path);
  EXPECT_THAT(found[1].reason, HasSubstr("do not match the signed hash"));
}

TEST_F(IntegrityMonitorTest, BadOptionsAndAMissingDirectoryAreClearErrors) {
  IntegrityOptions o;
  o.bytes_per_second = 1;
  auto bad = IntegrityMonitor::Start(
      *env_, {dir_.Sub("blobs")}, [] { return IntegrityMonitor::FileList(); },
      [](const IntegrityFinding&) {}, o);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  o = IntegrityOptions();
  o.nice = -5;  // above the daemon's own priority
  bad = IntegrityMonitor::Start(
      *env_, {dir_.Sub("blobs")}, [] { return IntegrityMonitor::FileList(); },
      [](const IntegrityFinding&) {}, o);
  EXPECT_THAT(bad.status().message(), HasSubstr("nice"));
  auto missing = IntegrityMonitor::Start(
      *env_, {dir_.Sub("nowhere")}, [] { return IntegrityMonitor::FileList(); },
      [](const IntegrityFinding&) {});
  EXPECT_THAT(missing.status().message(), HasSubstr("nowhere"));
}

}  // namespace
}  // namespace tieup::guard
