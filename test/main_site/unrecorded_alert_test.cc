#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/encoding.h"
#include "full_disk_env.h"
#include "ledger/access_log_writer.h"
#include "ledger/records.h"
#include "main_site/ledger_service.h"
#include "partner_site/ledger_service.h"
#include "site/config.h"
#include "site/public_site.h"
#include "test_database.h"
#include "test_support.h"

namespace tieup {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::FakeClockEnv;
using ::tieup::testing::FullDiskEnv;
using ::tieup::testing::IsOk;
using ::tieup::testing::TempDir;

constexpr char kAlertPartner[] = "shop-b";

// 2026-11-05T10:00:00Z plus `i` seconds.
ledger::AccessRecord Access(int i) {
  ledger::AccessRecord r;
  r.time_micros = (DaysFromCivil(2026, 11, 5) * 86'400 + 10 * 3600 + i) * 1'000'000;
  r.area = ledger::RecordArea::kTieup;
  r.method = "GET";
  r.path = "/offers/" + std::to_string(i) + ".html";
  r.status = 200;
  r.bytes = 2000;
  return r;
}

// A partner whose disk ran full while it served requests ships its ledger to main, in process:
// main must learn how many requests went unrecorded, and when.
class UnrecordedAlertTest : public ::testing::Test {
 protected:
  void SetUp() override {
    main_dir_ = dir_.Sub("main");
    partner_dir_ = dir_.Sub("partner");
    ASSERT_THAT(CreateDirs(clock_, main_dir_), IsOk());
    auto mdb = ::tieup::testing::OpenTestDatabase(main_dir_ + "/tieup.db");
    ASSERT_THAT(mdb, IsOk());
    main_db_ = std::move(*mdb);
    auto c = LedgerCollector::Open(clock_, main_dir_, *main_db_, nullptr);
    ASSERT_THAT(c, IsOk());
    collector_ = std::move(*c);

    SiteConfig config;
    config.role = SiteRole::kPartner;
    config.id = kAlertPartner;
    config.name = "Shop B";
    ASSERT_THAT(CreateSiteDir(clock_, partner_dir_, config), IsOk());
    auto pdb = OpenSqlite(SitePaths(partner_dir_).database());
    ASSERT_THAT(pdb, IsOk());
    partner_db_ = std::move(*pdb);
    auto signer = LoadLedgerSigner(clock_, partner_dir_);
    ASSERT_THAT(signer, IsOk());
    signer_ = std::make_unique<ledger::NoteSigner>(std::move(*signer));
    auto log = ledger::Log::Open(disk_, SitePaths(partner_dir_).ledger());
    ASSERT_THAT(log, IsOk());
    log_ = std::move(*log);
    ledger::AccessLogWriterOptions wo;
    wo.max_queue = 3;
    wo.commit_interval = std::chrono::hours(1);
    wo.retry_interval = std::chrono::hours(1);
    wo.checkpoint_interval = std::chrono::seconds(0);
    writer_ = std::make_unique<ledger::AccessLogWriter>(disk_, *log_, *signer_, wo);
    auto verifier = ledger::NoteVerifier::Create(signer_->name(), signer_->public_key());
    ASSERT_THAT(verifier, IsOk());
    auto shipper = LedgerShipper::Open(
        clock_, *partner_db_, *log_, *verifier, [this] { return writer_->CheckpointNow(); },
        nullptr);
    ASSERT_THAT(shipper, IsOk());
    shipper_ = std::move(*shipper);
  }

  // The partner's round trip to main's sync port (the peer is what mTLS would say).
  sync::HttpRoundTrip ToMain() {
    return [this](const HttpRequest& r) -> Result<HttpResponse> {
      HttpRequest copy = r;
      copy.SetPeerSiteIdForTest(kAlertPartner);
      return collector_->HandleSyncRequest(copy);
    };
  }

  TempDir dir_;
  FakeClockEnv clock_;
  FullDiskEnv disk_{clock_};
  std::string main_dir_, partner_dir_;
  std::unique_ptr<Database> main_db_, partner_db_;
  std::unique_ptr<LedgerCollector> collector_;
  std::unique_ptr<ledger::NoteSigner> signer_;
  std::unique_ptr<ledger::Log> log_;
  std::unique_ptr<ledger::AccessLogWriter> writer_;
  std::unique_ptr<LedgerShipper> shipper_;
};

TEST_F(UnrecordedAlertTest, MainRaisesAnAlertWithTheCountOnTheNextPush) {
  for (int i = 0; i < 3; ++i) writer_->Record(Access(i));
  ASSERT_THAT(writer_->Flush(), IsOk());
  auto first = shipper_->Push(ToMain());
  ASSERT_THAT(first, IsOk());
  EXPECT_TRUE(first->alerts.empty());

  // The disk is full: 3 records wait, the 9 after them cannot be kept.
  disk_.SetFreeBytes(0);
  for (int i = 5; i < 8; ++i) writer_->Record(Access(i));
  EXPECT_FALSE(writer_->Flush().ok());
  for (int i = 8; i < 17; ++i) writer_->Record(Access(i));
  EXPECT_EQ(writer_->unrecorded(), 9u);
  // Space returns; the next push carries the count.
  disk_.LiftLimit();
  ASSERT_THAT(writer_->Flush(), IsOk());
  auto push = shipper_->Push(ToMain());
  ASSERT_THAT(push, IsOk());
  EXPECT_TRUE(push->caught_up);
  EXPECT_EQ(push->main_entries, 3u + 1u + 3u);
  ASSERT_EQ(push->alerts.size(), 1u);

  const std::string want =
      "9 requests unrecorded between 2026-11-05T10:00:08Z and "
      "2026-11-05T10:00:16Z at partner 'shop-b'";
  auto alerts = collector_->Alerts(kAlertPartner, false);
  ASSERT_THAT(alerts, IsOk());
  ASSERT_EQ(alerts->size(), 1u);
  EXPECT_EQ((*alerts)[0].kind, "unrecorded");
  EXPECT_THAT((*alerts)[0].message, HasSubstr(want));
  EXPECT_THAT((*alerts)[0].message, HasSubstr("No space left on device"));
  // The recorded requests still count for fees: nothing is excluded.
  auto excluded = collector_->ExcludedRanges(kAlertPartner);
  ASSERT_THAT(excluded, IsOk());
  EXPECT_TRUE(excluded->empty());
  // `tieup main ledger verify` says so, and is not OK until a manager resolves it.
  auto report = collector_->Verify(kAlertPartner);
  ASSERT_THAT(report, IsOk());
  EXPECT_FALSE(report->ok);
  EXPECT_THAT(report->text, HasSubstr("all verified"));
  EXPECT_THAT(report->text, HasSubstr(want));
  // The partner records main's alert too.
  auto partner_alerts = shipper_->Alerts();
  ASSERT_THAT(partner_alerts, IsOk());
  ASSERT_EQ(partner_alerts->size(), 1u);
  EXPECT_THAT((*partner_alerts)[0].message, HasSubstr(want));

  // Later pushes do not raise it again; resolving it makes the ledger OK.
  writer_->Record(Access(20));
  ASSERT_THAT(writer_->Flush(), IsOk());
  auto again = shipper_->Push(ToMain());
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(again->alerts.empty());
  ASSERT_THAT(collector_->ResolveAlert((*alerts)[0].id, "checked with the partner"), IsOk());
  report = collector_->Verify(kAlertPartner);
  ASSERT_THAT(report, IsOk());
  EXPECT_TRUE(report->ok) << report->text;
}

}  // namespace
}  // namespace tieup
