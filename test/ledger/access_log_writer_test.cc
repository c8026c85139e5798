#include "ledger/access_log_writer.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "ledger/verifier.h"
#include "mem_env.h"
#include "test_support.h"

namespace tieup::ledger {
namespace {

using ::tieup::testing::FakeClockEnv;
using ::tieup::testing::IsOk;
using ::tieup::testing::MemEnv;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

constexpr std::string_view kOrigin = "example.com/shop-b/access";

AccessRecord Access(int thread, int i) {
  AccessRecord r;
  r.time_micros = 1790000000000000 + i;
  r.area = i % 2 == 0 ? RecordArea::kTieup : RecordArea::kOriginal;
  r.method = "GET";
  r.path = "/t" + std::to_string(thread) + "/" + std::to_string(i);
  r.status = 200;
  r.bytes = 100;
  return r;
}

class AccessLogWriterTest : public ::testing::Test {
 protected:
  AccessLogWriterTest()
      : signer_(*NoteSigner::Create(std::string(kOrigin),
                                    *Ed25519PrivateKey::FromSeed(std::string(32, 'w')))) {
    log_ = std::move(Log::Open(env_, tmp_.Sub("ledger"))).value();
  }

  TempDir tmp_;
  FakeClockEnv env_;
  NoteSigner signer_;
  std::unique_ptr<Log> log_;
};

TEST_F(AccessLogWriterTest, RecordsFromManyThreadsAreAllCommitted) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 500;
  AccessLogWriter writer(env_, *log_, std::nullopt);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) writer.Record(Access(t, i));
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_THAT(writer.Flush(), IsOk());
  EXPECT_EQ(writer.committed(), uint64_t{kThreads * kPerThread});
  EXPECT_EQ(writer.dropped(), 0u);
  ASSERT_EQ(log_->size(), uint64_t{kThreads * kPerThread});
  std::set<std::string> paths;
  for (uint64_t i = 0; i < log_->size(); ++i) {
    auto record = ParseRecord(*log_->Read(i));
    ASSERT_THAT(record, IsOk());
    paths.insert(std::get<AccessRecord>(*record).path);
  }
  EXPECT_EQ(paths.size(), size_t{kThreads * kPerThread});
}

TEST_F(AccessLogWriterTest, FullQueueDropsAndCountsWithoutBlocking) {
  AccessLogWriterOptions options;
  options.max_queue = 3;
  options.commit_interval = std::chrono::hours(1);  // nothing is written until Flush
  AccessLogWriter writer(env_, *log_, std::nullopt, options);
  for (int i = 0; i < 10; ++i) writer.Record(Access(0, i));
  // Record(3) finds the queue full: it is dropped, and the count makes the writer thread take
  // what waits at once, so later records may find room again (how many depends on when that
  // thread runs). Every record is either written or counted.
  const uint64_t dropped = writer.dropped();
  EXPECT_GE(dropped, 1u);
  EXPECT_LE(dropped, 7u);
  EXPECT_EQ(writer.unrecorded(), dropped);
  ASSERT_THAT(writer.Flush(), IsOk());
  EXPECT_EQ(writer.dropped(), dropped);
  EXPECT_EQ(writer.committed() + dropped, 10u);
  // The drops are not silent: their counts are entries, the first before any record kept
  // after the first drop.
  uint64_t counted = 0, kept = 0;
  bool first_gap = true;
  for (uint64_t i = 0; i < log_->size(); ++i) {
    auto record = ParseRecord(*log_->Read(i));
    ASSERT_THAT(record, IsOk());
    if (std::holds_alternative<UnrecordedRecord>(*record)) {
      const auto& gap = std::get<UnrecordedRecord>(*record);
      if (first_gap) {
        EXPECT_EQ(gap.first_micros, Access(0, 3).time_micros);
      }
      first_gap = false;
      counted += gap.count;
    } else {
      ++kept;
    }
  }
  EXPECT_FALSE(first_gap);
  EXPECT_EQ(counted, dropped);
  EXPECT_EQ(kept, writer.committed());
  EXPECT_EQ(writer.unrecorded_pending(), 0u);
  // Room again after the flush.
  const uint64_t size = log_->size();
  writer.Record(Access(0, 10));
  ASSERT_THAT(writer.Flush(), IsOk());
  EXPECT_EQ(log_->size(), size + 1);
  EXPECT_EQ(writer.dropped(), dropped);
}

// The ad frames (site/ad_frames.h) record impressions and clicks through the same queue, in
// order with the accesses, and a dropped one is counted like a dropped access.
TEST_F(AccessLogWriterTest, AdRecordsGoThroughTheSameQueueInOrder) {
  AccessLogWriterOptions options;
  options.max_queue = 3;
  options.commit_interval = std::chrono::hours(1);  // nothing is written until Flush
  AccessLogWriter writer(env_, *log_, std::nullopt, options);
  AdRecord shown{1790000000000100, AdOwner::kMain, 1, "/t0/0", 0, "first-flush"};
  AdRecord clicked{1790000000000200, AdOwner::kPartner, 0, "/t0/0", 1, "own-sale"};
  writer.Record(Access(0, 0));
  writer.Record(shown);
  writer.Record(clicked);
  writer.Record(AdRecord{1790000000000300, AdOwner::kMain, 1, "/", 0, "x"});  // full: dropped
  EXPECT_EQ(writer.dropped(), 1u);
  ASSERT_THAT(writer.Flush(), IsOk());
  ASSERT_EQ(log_->size(), 4u);
  auto gap = ParseRecord(*log_->Read(0));
  ASSERT_TRUE(std::holds_alternative<UnrecordedRecord>(*gap));
  EXPECT_EQ(std::get<UnrecordedRecord>(*gap).first_micros, 1790000000000300);
  EXPECT_EQ(std::get<AccessRecord>(*ParseRecord(*log_->Read(1))), Access(0, 0));
  EXPECT_EQ(std::get<AdRecord>(*ParseRecord(*log_->Read(2))), shown);
  EXPECT_EQ(std::get<AdRecord>(*ParseRecord(*log_->Read(3))), clicked);
}

// The search page records searches and clicks through the same queue; a query too long for a
// search record (or with bytes that are not UTF-8) is cut at a character so that main can read
// the record.
TEST_F(AccessLogWriterTest, SearchRecordsGoThroughTheQueueWithTheirQueryCutToFit) {
  AccessLogWriter writer(env_, *log_, std::nullopt);
  SearchRecord search{1790000000000100, "green tea", 0, "", std::nullopt};
  SearchRecord click{1790000000000200, "green tea", 2, "/tea.html", RecordArea::kOriginal};
  // 399 bytes of ASCII, then "é" (2 bytes): the "é" does not fit whole and goes.
  SearchRecord long_query{1790000000000300, std::string(399, 'a') + "\xC3\xA9xyz", 0, "",
                          std::nullopt};
  SearchRecord broken{1790000000000400, "caf\xE9", 0, "", std::nullopt};  // Latin-1
  writer.Record(Access(0, 0));
  writer.Record(search);
  writer.Record(click);
  writer.Record(long_query);
  writer.Record(broken);
  ASSERT_THAT(writer.Flush(), IsOk());
  ASSERT_EQ(log_->size(), 5u);
  EXPECT_EQ(std::get<AccessRecord>(*ParseRecord(*log_->Read(0))), Access(0, 0));
  EXPECT_EQ(std::get<SearchRecord>(*ParseRecord(*log_->Read(1))), search);
  EXPECT_EQ(std::get<SearchRecord>(*ParseRecord(*log_->Read(2))), click);
  auto cut = ParseRecord(*log_->Read(3));
  ASSERT_THAT(cut, IsOk());
  EXPECT_EQ(std::get<SearchRecord>(*cut).query, std::string(399, 'a'));
  auto repaired = ParseRecord(*log_->Read(4));
  ASSERT_THAT(repaired, IsOk());
  EXPECT_EQ(std::get<SearchRecord>(*repaired).query, "caf\xEF\xBF\xBD");
}

TEST_F(AccessLogWriterTest, CheckpointsPeriodicallyByTheEnvClockAndOnDemand) {
  std::vector<std::string> notes;
  std::mutex mu;
  AccessLogWriterOptions options;
  options.commit_interval = std::chrono::hours(1);
  options.checkpoint_interval = std::chrono::seconds(60);
  options.on_checkpoint = [&](const std::string& note) {
    std::lock_guard<std::mutex> lock(mu);
    notes.push_back(note);
  };
  AccessLogWriter writer(env_, *log_, signer_, options);
  writer.Record(Access(0, 0));
  ASSERT_THAT(writer.Flush(), IsOk());  // first commit: the first checkpoint is due
  writer.Record(Access(0, 1));
  env_.AdvanceSeconds(61);
  ASSERT_THAT(writer.Flush(), IsOk());  // interval passed: size 2
  writer.Record(Access(0, 2));
  ASSERT_THAT(writer.Flush(), IsOk());  // interval not passed: none
  auto now = writer.CheckpointNow();    // on demand: size 3
  ASSERT_THAT(now, IsOk());

  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(notes.size(), 3u);
  EXPECT_EQ(notes[2], *now);
  auto verifier = *NoteVerifier::FromVerifierKey(signer_.VerifierKey());
  LogMirror mirror(verifier, std::string(kOrigin));
  uint64_t prev = 0;
  std::vector<uint64_t> sizes;
  for (const std::string& note : notes) {
    Checkpoint c = *OpenCheckpoint(note, verifier);
    std::vector<Hash> proof;
    if (prev > 0) proof = *log_->ConsistencyProof(prev, c.size);
    ASSERT_THAT(mirror.AcceptCheckpoint(note, proof), IsOk());
    sizes.push_back(c.size);
    prev = c.size;
  }
  EXPECT_EQ(sizes, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(log_->StoredCheckpoints()->size(), 3u);
}

TEST_F(AccessLogWriterTest, CheckpointNowWithoutKeyIsRefused) {
  AccessLogWriter writer(env_, *log_, std::nullopt);
  EXPECT_THAT(writer.CheckpointNow(), StatusIs(StatusCode::kFailedPrecondition));
}

TEST_F(AccessLogWriterTest, DestructionFlushesWhatIsQueued) {
  {
    AccessLogWriterOptions options;
    options.commit_interval = std::chrono::hours(1);
    AccessLogWriter writer(env_, *log_, std::nullopt, options);
    for (int i = 0; i < 100; ++i) writer.Record(Access(0, i));
  }
  EXPECT_EQ(log_->size(), 100u);
}

TEST(AccessLogWriterFailureTest, WriteFailuresAreReportedByFlushAndRetried) {
  MemEnv env;
  auto log = std::move(Log::Open(env, "/ledger")).value();
  AccessLogWriterOptions options;
  options.commit_interval = std::chrono::hours(1);
  options.retry_interval = std::chrono::hours(1);  // only Flush tries again
  AccessLogWriter writer(env, *log, std::nullopt, options);
  writer.Record(Access(0, 0));
  ASSERT_THAT(writer.Flush(), IsOk());
  env.CrashAfter(0);
  writer.Record(Access(0, 1));
  writer.Record(Access(0, 2));
  EXPECT_THAT(writer.Flush(), StatusIs(StatusCode::kIOError));
  EXPECT_TRUE(writer.failing());
  EXPECT_EQ(writer.failed_writes(), 1u);
  EXPECT_EQ(writer.committed(), 1u);
  // The records wait; once writes succeed the next attempt writes them, in order.
  env.Recover();
  ASSERT_THAT(writer.Flush(), IsOk());
  EXPECT_FALSE(writer.failing());
  EXPECT_EQ(writer.committed(), 3u);
  EXPECT_EQ(writer.unrecorded(), 0u);
  ASSERT_EQ(log->size(), 3u);
  EXPECT_EQ(std::get<AccessRecord>(*ParseRecord(*log->Read(2))), Access(0, 2));
  EXPECT_THAT(writer.Flush(), IsOk());
}

}  // namespace
}  // namespace tieup::ledger
