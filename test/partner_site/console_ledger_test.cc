// What the partner console's home page shows of the access ledger (LedgerHomeData): today's
// accesses in the site's time zone, by the daemon's (here simulated) clock, and the open alerts
// in words.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/encoding.h"
#include "base/time_format.h"
#include "ledger/records.h"
#include "ledger/verifier.h"
#include "partner_site/console_common.h"
#include "partner_site/ledger_service.h"
#include "partner_site/partner_daemon.h"
#include "site/public_site.h"
#include "test_support.h"

namespace tieup::partner_console {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::IsOk;

// Unix microseconds of a UTC time on a day of December 2026.
int64_t DecemberUtc(int day, int hour, int minute, int second = 0) {
  return (DaysFromCivil(2026, 12, day) * 86'400 + hour * 3600 + minute * 60 + second) * 1'000'000;
}

std::string Access(int64_t micros, ledger::RecordArea area) {
  ledger::AccessRecord r;
  r.time_micros = micros;
  r.area = area;
  r.method = "GET";
  r.path = "/index.html";
  r.status = 200;
  r.bytes = 100;
  return ledger::EncodeRecord(r);
}

constexpr auto kTieup = ledger::RecordArea::kTieup;
constexpr auto kOriginal = ledger::RecordArea::kOriginal;

class LedgerHomeDataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.Sub("shop-b");
    SiteConfig config;
    config.role = SiteRole::kPartner;
    config.id = "shop-b";
    config.name = "Kyoto Leaf";
    config.time_zone = "Asia/Tokyo";  // UTC+9, no daylight saving
    ASSERT_THAT(CreateSiteDir(env_, dir_, config), IsOk());
    // Noon in Tokyo on December 3 (03:00 UTC).
    env_.SetNowMicros(DecemberUtc(3, 3, 0));
    auto d = PartnerDaemon::Open(env_, dir_, nullptr);
    ASSERT_THAT(d, IsOk());
    daemon_ = std::move(*d);
    state_.daemon = daemon_.get();
  }

  void Append(std::vector<std::string> entries) {
    ASSERT_THAT(daemon_->site().ledger().Append(std::move(entries)), IsOk());
  }

  json::object Data() { return LedgerHomeData(state_); }

  static std::string S(const json::object& o, const char* key) {
    return std::string(o.at(key).as_string());
  }

  ::tieup::testing::TempDir tmp_;
  ::tieup::testing::FakeClockEnv env_;
  std::string dir_;
  std::unique_ptr<PartnerDaemon> daemon_;
  ConsoleState state_;
};

TEST_F(LedgerHomeDataTest, CountsTodaysAccessesByAreaInTheSitesTimeZone) {
  json::object empty = Data();
  EXPECT_EQ(S(empty, "today"), FormatDate(env_.NowMicros(), "Asia/Tokyo", "en"));
  EXPECT_EQ(S(empty, "today_total"), "0");
  EXPECT_FALSE(empty.at("has_alerts").as_bool());

  std::vector<std::string> entries;
  // Yesterday in Tokyo: many entries (more than one chunk read back), the last a second
  // before midnight there.
  for (int i = 0; i < 3000; ++i) entries.push_back(Access(DecemberUtc(2, 3, 0, i), kTieup));
  entries.push_back(Access(DecemberUtc(2, 14, 59, 59), kTieup));
  // Today in Tokyo: midnight there exactly, 01:30 there (still December 2 in UTC), 11:00 there.
  entries.push_back(Access(DecemberUtc(2, 15, 0), kTieup));
  entries.push_back(Access(DecemberUtc(2, 16, 30), kOriginal));
  for (int i = 0; i < 2500; ++i) entries.push_back(Access(DecemberUtc(3, 1, 0, i), kTieup));
  Append(std::move(entries));

  json::object data = Data();
  EXPECT_EQ(S(data, "today_tieup"), "2501");
  EXPECT_EQ(S(data, "today_original"), "1");
  EXPECT_EQ(S(data, "today_total"), "2502");
  EXPECT_FALSE(data.at("today_partial").as_bool());

  // Entries appended since are added to the count.
  Append({Access(DecemberUtc(3, 2, 30), kOriginal), Access(DecemberUtc(3, 2, 31), kOriginal)});
  data = Data();
  EXPECT_EQ(S(data, "today_tieup"), "2501");
  EXPECT_EQ(S(data, "today_original"), "3");

  // Just after midnight in Tokyo the next day (15:00 UTC): a new day, counted afresh.
  env_.SetNowMicros(DecemberUtc(3, 15, 0, 30));
  data = Data();
  EXPECT_EQ(S(data, "today"), FormatDate(env_.NowMicros(), "Asia/Tokyo", "en"));
  EXPECT_NE(S(data, "today"), S(empty, "today"));
  EXPECT_EQ(S(data, "today_total"), "0");
  Append({Access(DecemberUtc(3, 15, 0, 10), kTieup)});
  data = Data();
  EXPECT_EQ(S(data, "today_tieup"), "1");
  EXPECT_EQ(S(data, "today_original"), "0");
}

TEST_F(LedgerHomeDataTest, OpenAlertsInWords) {
  auto signer = LoadLedgerSigner(env_, dir_);
  ASSERT_THAT(signer, IsOk());
  auto verifier = ledger::NoteVerifier::Create(signer->name(), signer->public_key());
  ASSERT_THAT(verifier, IsOk());
  auto shipper = LedgerShipper::Open(
      env_, daemon_->db(), daemon_->site().ledger(), *verifier,
      [] { return Result<std::string>(Status::Unimplemented("no checkpoints here")); }, nullptr);
  ASSERT_THAT(shipper, IsOk());
  // Main posts an alert back to the partner, as after a pull.
  HttpRequest post("POST", "/v1/ledger/alerts");
  post.SetPeerSiteIdForTest("main");
  post.SetBody(
      R"({"alerts":[{"id":4,"time":1796300000,"kind":"entries","message":"entries [10, 20) do )"
      R"(not match the partner's own checkpoint of size 40","begin":10,"end":20}]})");
  ASSERT_EQ((*shipper)->HandleSyncRequest(post).status(), 200);

  json::object data = Data();
  EXPECT_TRUE(data.at("has_alerts").as_bool());
  EXPECT_EQ(S(data, "alert_count"), "1");
  const json::object& a = data.at("alerts").as_array().at(0).as_object();
  EXPECT_EQ(S(a, "title"), "Stored records of your ledger changed after they were signed");
  EXPECT_THAT(S(a, "message"), HasSubstr("entries [10, 20)"));
  EXPECT_EQ(S(a, "excluded"),
            "Entries 10 to 19 are left out of your fees until the main site's manager "
            "resolves this.");
  EXPECT_EQ(S(a, "when"), state_.Time(int64_t{1796300000} * 1'000'000));
  EXPECT_TRUE(a.at("from_main").as_bool());
}

}  // namespace
}  // namespace tieup::partner_console
