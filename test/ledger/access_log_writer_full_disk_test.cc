#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <sstream>
#include <variant>

#include "full_disk_env.h"
#include "ledger/access_log_writer.h"
#include "ledger/verifier.h"
#include "test_support.h"

namespace tieup::ledger {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::FakeClockEnv;
using ::tieup::testing::FullDiskEnv;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

constexpr std::string_view kOrigin = "tieup.ledger/shop-b";

AccessRecord Access(int i) {
  AccessRecord r;
  r.time_micros = 1'790'000'000'000'000 + int64_t{i} * 1'000'000;
  r.area = RecordArea::kTieup;
  r.method = "GET";
  r.path = "/page-" + std::to_string(i) + ".html";
  r.status = 200;
  r.bytes = 1000;
  return r;
}

size_t CountLines(const std::string& text, std::string_view needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// The partner's access recorder over a disk that runs full (FullDiskEnv over the real one).
class AccessLogWriterFullDiskTest : public ::testing::Test {
 protected:
  AccessLogWriterFullDiskTest()
      : signer_(*NoteSigner::Create(std::string(kOrigin),
                                    *Ed25519PrivateKey::FromSeed(std::string(32, 'd')))),
        verifier_(*NoteVerifier::Create(std::string(kOrigin), signer_.public_key())) {
    log_ = std::move(Log::Open(disk_, dir_)).value();
    logger_ = std::make_shared<Logger>(
        "test", std::make_shared<spdlog::sinks::ostream_sink_mt>(log_lines_));
  }

  // Only Flush makes the writer try: the test decides when.
  static AccessLogWriterOptions Manual() {
    AccessLogWriterOptions options;
    options.commit_interval = std::chrono::hours(1);
    options.retry_interval = std::chrono::hours(1);
    options.checkpoint_interval = std::chrono::seconds(0);
    return options;
  }

  std::vector<LedgerRecord> Records() {
    std::vector<LedgerRecord> out;
    for (uint64_t i = 0; i < log_->size(); ++i) {
      auto r = ParseRecord(*log_->Read(i));
      EXPECT_THAT(r, IsOk());
      if (r.ok()) out.push_back(*r);
    }
    return out;
  }

  TempDir tmp_;
  FakeClockEnv clock_;
  FullDiskEnv disk_{clock_};
  std::string dir_ = tmp_.Sub("ledger");
  NoteSigner signer_;
  NoteVerifier verifier_;
  std::unique_ptr<Log> log_;
  std::ostringstream log_lines_;
  std::shared_ptr<Logger> logger_;
};

TEST_F(AccessLogWriterFullDiskTest, RecordsWaitWhileTheDiskIsFullAndAreWrittenAfter) {
  AccessLogWriter writer(disk_, *log_, signer_, Manual(), logger_);
  writer.Record(Access(0));
  ASSERT_THAT(writer.Flush(), IsOk());

  disk_.SetFreeBytes(20);  // tears the next record
  for (int i = 1; i <= 5; ++i) writer.Record(Access(i));
  EXPECT_THAT(writer.Flush(), StatusIs(StatusCode::kResourceExhausted));
  EXPECT_TRUE(writer.failing());
  EXPECT_EQ(log_->size(), 1u);
  // Requests keep coming while the disk is full; every attempt is refused.
  for (int i = 6; i <= 8; ++i) writer.Record(Access(i));
  EXPECT_THAT(writer.Flush(), StatusIs(StatusCode::kResourceExhausted));
  EXPECT_EQ(writer.failed_writes(), 2u);

  disk_.LiftLimit();
  ASSERT_THAT(writer.Flush(), IsOk());
  EXPECT_FALSE(writer.failing());
  EXPECT_EQ(writer.committed(), 9u);
  EXPECT_EQ(writer.unrecorded(), 0u);
  std::vector<LedgerRecord> records = Records();
  ASSERT_EQ(records.size(), 9u);
  for (int i = 0; i < 9; ++i) EXPECT_EQ(std::get<AccessRecord>(records[i]), Access(i));
  ASSERT_THAT(writer.CheckpointNow(), IsOk());
  EXPECT_THAT(VerifyLog(clock_, dir_, verifier_, kOrigin), IsOk());
  EXPECT_THAT(log_lines_.str(), HasSubstr("cannot be written"));
  EXPECT_THAT(log_lines_.str(), HasSubstr("is written again"));
}

TEST_F(AccessLogWriterFullDiskTest, WhatDoesNotFitIsCountedAndTheCountWrittenFirstOnceItCan) {
  AccessLogWriterOptions options = Manual();
  options.max_queue = 4;
  options.fault_log_interval = std::chrono::seconds(60);
  AccessLogWriter writer(disk_, *log_, signer_, options, logger_);
  writer.Record(Access(0));
  ASSERT_THAT(writer.Flush(), IsOk());
  ASSERT_THAT(writer.CheckpointNow(), IsOk());

  disk_.SetFreeBytes(0);
  for (int i = 1; i <= 30; ++i) {
    writer.Record(Access(i));
    if (i % 3 == 0) {
      EXPECT_THAT(writer.Flush(), StatusIs(StatusCode::kResourceExhausted));
    }
  }
  // 4 wait in the queue; 26 did not fit.
  EXPECT_EQ(writer.unrecorded(), 26u);
  EXPECT_EQ(writer.unrecorded_pending(), 26u);
  EXPECT_EQ(log_->size(), 1u);
  // Ten failed attempts and 26 drops, logged once (the summaries are rate-limited).
  EXPECT_EQ(CountLines(log_lines_.str(), "cannot be written"), 1u);
  EXPECT_EQ(CountLines(log_lines_.str(), "still cannot be written"), 0u);
  clock_.AdvanceSeconds(61);
  EXPECT_THAT(writer.Flush(), StatusIs(StatusCode::kResourceExhausted));
  EXPECT_EQ(CountLines(log_lines_.str(), "still cannot be written"), 1u);
  EXPECT_THAT(log_lines_.str(), HasSubstr("26 requests unrecorded so far"));

  disk_.LiftLimit();
  ASSERT_THAT(writer.Flush(), IsOk());
  EXPECT_EQ(writer.unrecorded_pending(), 0u);
  std::vector<LedgerRecord> records = Records();
  ASSERT_EQ(records.size(), 1u + 1u + 4u);
  EXPECT_EQ(std::get<AccessRecord>(records[0]), Access(0));
  // The count comes before every record written after the fault.
  ASSERT_TRUE(std::holds_alternative<UnrecordedRecord>(records[1]));
  const auto& gap = std::get<UnrecordedRecord>(records[1]);
  EXPECT_EQ(gap.count, 26u);
  EXPECT_EQ(gap.first_micros, Access(5).time_micros);
  EXPECT_EQ(gap.last_micros, Access(30).time_micros);
  EXPECT_THAT(gap.reason, HasSubstr("No space left on device"));
  EXPECT_THAT(gap.reason, HasSubstr("queue of 4"));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(std::get<AccessRecord>(records[2 + i]), Access(1 + i));
  EXPECT_THAT(log_lines_.str(), HasSubstr("26 requests could not be recorded"));
  // No file keeps the count any more: it is in the ledger.
  EXPECT_FALSE(clock_.FileExists(AccessLogWriter::PendingPath(dir_)));
  ASSERT_THAT(writer.CheckpointNow(), IsOk());
  auto verified = VerifyLog(clock_, dir_, verifier_, kOrigin);
  ASSERT_THAT(verified, IsOk());
  EXPECT_EQ(verified->entries, 6u);
}

TEST_F(AccessLogWriterFullDiskTest, TheCountSurvivesARestartWhileTheLedgerCannotBeWritten) {
  AccessLogWriterOptions options = Manual();
  options.max_queue = 2;
  {
    AccessLogWriter writer(disk_, *log_, signer_, options, logger_);
    writer.Record(Access(0));
    ASSERT_THAT(writer.Flush(), IsOk());
    // The ledger's segment cannot grow; the small file that keeps the count still fits.
    disk_.SetFreeBytes(0, JoinPath(dir_, "entries-"));
    for (int i = 1; i <= 5; ++i) writer.Record(Access(i));
    EXPECT_THAT(writer.Flush(), StatusIs(StatusCode::kResourceExhausted));
    // Those the full queue could not take: 3, or 1 when the writer thread took Access(1) and
    // Access(2) into a batch (it does at the first drop) before Access(4) and (5) came.
    EXPECT_GE(writer.unrecorded(), 1u);
    EXPECT_LE(writer.unrecorded(), 3u);
    // Stopping while the ledger still cannot be written: what waits is counted too.
  }
  EXPECT_EQ(log_->size(), 1u);
  const std::string pending = AccessLogWriter::PendingPath(dir_);
  ASSERT_TRUE(clock_.FileExists(pending));
  EXPECT_THAT(log_lines_.str(), HasSubstr("could not be written before the stop"));

  // The next run (space has returned) writes the count it finds first.
  disk_.LiftLimit();
  AccessLogWriter writer(disk_, *log_, signer_, options, logger_);
  EXPECT_EQ(writer.unrecorded(), 5u);
  writer.Record(Access(6));
  ASSERT_THAT(writer.Flush(), IsOk());
  std::vector<LedgerRecord> records = Records();
  ASSERT_EQ(records.size(), 3u);
  ASSERT_TRUE(std::holds_alternative<UnrecordedRecord>(records[1]));
  EXPECT_EQ(std::get<UnrecordedRecord>(records[1]).count, 5u);
  EXPECT_EQ(std::get<UnrecordedRecord>(records[1]).first_micros, Access(1).time_micros);
  EXPECT_EQ(std::get<UnrecordedRecord>(records[1]).last_micros, Access(5).time_micros);
  EXPECT_EQ(std::get<AccessRecord>(records[2]), Access(6));
  EXPECT_FALSE(clock_.FileExists(pending));
}

}  // namespace
}  // namespace tieup::ledger
