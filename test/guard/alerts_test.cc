// Security alerts (guard/alerts.h) on a real SQLite file: an event makes an alert; the same site
// and kind soon after adds to it (and a more severe one raises it); a flood of new alerts about
// one site is folded into one "alerts-limited" alert; listing filters by site, severity and
// time; serious alerts are mailed once; the wire form partners send is parsed strictly.
#include "guard/alerts.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_database.h"
#include "test_support.h"

namespace tieup::guard {
namespace {

using ::testing::HasSubstr;
using namespace ::tieup::testing;  // NOLINT

SecurityEvent Event(std::string kind, AlertSeverity severity, std::string message) {
  SecurityEvent e;
  e.kind = std::move(kind);
  e.severity = severity;
  e.message = std::move(message);
  e.at = 1'790'000'000;
  return e;
}

class AlertStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = *::tieup::testing::OpenTestDatabase(dir_.path() + "/alerts.db");
    AlertStore::Options o;
    o.aggregate_seconds = 600;
    o.max_new_per_hour = 3;
    store_ = *AlertStore::Open(env_, *db_, o);
  }
  TempDir dir_;
  FakeClockEnv env_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<AlertStore> store_;
};

TEST_F(AlertStoreTest, TheSameKindSoonAfterAddsToTheAlert) {
  auto a = store_->Record("shop-a", Event("waf", AlertSeverity::kWarning, "WAF: 3 refused"));
  ASSERT_THAT(a, IsOk());
  EXPECT_EQ(a->count, 1);
  env_.AdvanceSeconds(300);
  auto b = store_->Record("shop-a", Event("waf", AlertSeverity::kWarning, "WAF: 5 refused"));
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(b->id, a->id);
  EXPECT_EQ(b->count, 2);
  EXPECT_EQ(b->message, "WAF: 5 refused");
  EXPECT_EQ(b->first, a->first);
  EXPECT_EQ(b->last, a->first + 300);
  // Another site, another kind: alerts of their own.
  EXPECT_NE(store_->Record("shop-b", Event("waf", AlertSeverity::kWarning, "x"))->id, a->id);
  EXPECT_NE(store_->Record("shop-a", Event("damaged", AlertSeverity::kCritical, "y"))->id, a->id);
  // More than ten minutes after the last occurrence: a new alert.
  env_.AdvanceSeconds(601);
  EXPECT_NE(store_->Record("shop-a", Event("waf", AlertSeverity::kWarning, "z"))->id, a->id);
}

TEST_F(AlertStoreTest, AMoreSevereOccurrenceRaisesTheAlertAndMailsItAgain) {
  auto a = store_->Record("shop-a", Event("damaged", AlertSeverity::kWarning, "restored"));
  ASSERT_THAT(store_->MarkMailed(a->id), IsOk());
  EXPECT_TRUE(store_->Unmailed(AlertSeverity::kWarning)->empty());
  auto b = store_->Record("shop-a", Event("damaged", AlertSeverity::kCritical, "changed again"));
  EXPECT_EQ(b->id, a->id);
  EXPECT_EQ(b->severity, AlertSeverity::kCritical);
  EXPECT_FALSE(b->mailed);
  auto unmailed = store_->Unmailed(AlertSeverity::kCritical);
  ASSERT_EQ(unmailed->size(), 1u);
  EXPECT_EQ((*unmailed)[0].message, "changed again");
  // A milder one later does not lower it.
  EXPECT_EQ(store_->Record("shop-a", Event("damaged", AlertSeverity::kInfo, "ok"))->severity,
            AlertSeverity::kCritical);
}

TEST_F(AlertStoreTest, AFloodOfNewAlertsIsFoldedIntoOne) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_THAT(store_->Record("shop-a", Event("kind-" + std::string(1, 'a' + i),
                                               AlertSeverity::kWarning, "m")),
                IsOk());
  }
  for (int i = 0; i < 20; ++i) {
    auto a =
        store_->Record("shop-a", Event("other-" + std::string(1, 'a' + i), AlertSeverity::kWarning,
                                       "newest " + std::to_string(i)));
    ASSERT_THAT(a, IsOk());
    EXPECT_EQ(a->kind, "alerts-limited");
  }
  auto all = store_->List({"shop-a", AlertSeverity::kInfo, 0, 100});
  ASSERT_EQ(all->size(), 4u);
  EXPECT_EQ((*all)[0].kind, "alerts-limited");
  EXPECT_EQ((*all)[0].count, 20);
  EXPECT_THAT((*all)[0].message, HasSubstr("newest (other-t): newest 19"));
  // Another site is not held back by shop-a's flood.
  EXPECT_EQ(store_->Record("shop-b", Event("waf", AlertSeverity::kWarning, "m"))->kind, "waf");
}

TEST_F(AlertStoreTest, ListFiltersBySiteSeverityAndTime) {
  ASSERT_THAT(store_->Record("shop-a", Event("waf", AlertSeverity::kWarning, "a")), IsOk());
  env_.AdvanceSeconds(100);
  const int64_t later = env_.NowSeconds();
  ASSERT_THAT(store_->Record("main", Event("damaged", AlertSeverity::kCritical, "b")), IsOk());
  ASSERT_THAT(store_->Record("shop-b", Event("signin-surge", AlertSeverity::kInfo, "c")), IsOk());
  EXPECT_EQ(store_->List({})->size(), 3u);
  EXPECT_EQ((*store_->List({}))[0].site, "shop-b");  // newest first
  EXPECT_EQ(store_->List({"shop-a", AlertSeverity::kInfo, 0, 100})->size(), 1u);
  EXPECT_EQ(store_->List({"", AlertSeverity::kCritical, 0, 100})->size(), 1u);
  EXPECT_EQ(store_->List({"", AlertSeverity::kInfo, later, 100})->size(), 2u);
  EXPECT_EQ(store_->List({"", AlertSeverity::kInfo, 0, 1})->size(), 1u);
  EXPECT_THAT(DescribeAlert((*store_->List({"main", AlertSeverity::kInfo, 0, 1}))[0]),
              HasSubstr("critical  2026-"));
}

TEST_F(AlertStoreTest, BadEventsAreRefused) {
  EXPECT_THAT(store_->Record("shop-a", Event("WAF!", AlertSeverity::kWarning, "m")),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("a-z")));
  EXPECT_THAT(store_->Record("shop-a", Event("waf", AlertSeverity::kWarning, "")),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("1 to 2000 bytes")));
  EXPECT_THAT(store_->Record("shop-a", Event("waf", AlertSeverity::kWarning, "a\nb")),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("one line")));
  EXPECT_THAT(store_->Record("", Event("waf", AlertSeverity::kWarning, "m")),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_TRUE(store_->List({})->empty());
}

TEST(SecurityEventsWireTest, RoundTripsAndParsesStrictly) {
  const std::vector<SecurityEvent> events = {
      Event("waf", AlertSeverity::kWarning, "WAF: 3 requests refused"),
      Event("damaged", AlertSeverity::kCritical, "tie-up page '/' was changed on disk")};
  auto parsed = ParseSecurityEvents(EncodeSecurityEvents(events));
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(*parsed, events);
  EXPECT_THAT(ParseSecurityEvents("{"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseSecurityEvents("{\"events\":[]}"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("1 to 50 events")));
  EXPECT_THAT(ParseSecurityEvents("{\"events\":[],\"more\":1}"),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseSecurityEvents(R"({"events":[{"at":1,"kind":"waf","message":"m",)"
                                  R"("severity":"dire"}]})"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("dire")));
  EXPECT_THAT(ParseSecurityEvents(R"({"events":[{"at":1,"kind":"waf","message":"m",)"
                                  R"("severity":"info","x":1}]})"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("unknown field 'x'")));
  EXPECT_THAT(ParseSecurityEvents(R"({"events":[{"at":-1,"kind":"waf","message":"m",)"
                                  R"("severity":"info"}]})"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("'at'")));
  EXPECT_THAT(ParseSecurityEvents(R"({"events":[{"at":1,"kind":"Waf","message":"m",)"
                                  R"("severity":"info"}]})"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("event 1")));
  std::vector<SecurityEvent> many(51, events[0]);
  EXPECT_THAT(ParseSecurityEvents(EncodeSecurityEvents(many)),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST(SecurityEventsWireTest, AWafSummaryCarriesItsClientAddresses) {
  SecurityEvent e = Event("waf", AlertSeverity::kWarning, "WAF: 3 requests refused");
  e.clients = {"203.0.113.9", "2001:db8::7"};
  auto parsed = ParseSecurityEvents(EncodeSecurityEvents({e}));
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ((*parsed)[0].clients, e.clients);
  EXPECT_THAT(ParseSecurityEvents(R"({"events":[{"at":1,"clients":["<script>"],"kind":"waf",)"
                                  R"("message":"m","severity":"info"}]})"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("addresses only")));
  EXPECT_THAT(ParseSecurityEvents(R"({"events":[{"at":1,"clients":[],"kind":"waf",)"
                                  R"("message":"m","severity":"info"}]})"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("1 to 20 addresses")));
}

TEST(AutoBlockerTest, AnAddressSeenAtEnoughPartnersWithinTheWindowIsReturnedOnce) {
  AutoBlocker b(3, 3600);
  const int64_t t = 1'790'000'000;
  EXPECT_TRUE(b.Observe("shop-a", {"203.0.113.9", "198.51.100.1"}, t).empty());
  EXPECT_TRUE(b.Observe("shop-a", {"203.0.113.9"}, t + 10).empty());  // the same partner again
  EXPECT_TRUE(b.Observe("shop-b", {"203.0.113.9"}, t + 20).empty());
  auto hit = b.Observe("shop-c", {"203.0.113.9", "198.51.100.1"}, t + 30);
  ASSERT_EQ(hit.size(), 1u);
  EXPECT_EQ(hit[0].first, "203.0.113.9");
  EXPECT_EQ(hit[0].second, (std::vector<std::string>{"shop-a", "shop-b", "shop-c"}));
  // Once: not again within the window.
  EXPECT_TRUE(b.Observe("shop-d", {"203.0.113.9"}, t + 40).empty());
  // Sightings older than the window do not count: 198.51.100.1 was at shop-a an hour ago.
  EXPECT_TRUE(b.Observe("shop-b", {"198.51.100.1"}, t + 3601).empty());
  // Off: never.
  AutoBlocker off(0, 3600);
  for (const char* p : {"a", "b", "c", "d"})
    EXPECT_TRUE(off.Observe(p, {"203.0.113.9"}, t).empty());
}

}  // namespace
}  // namespace tieup::guard
