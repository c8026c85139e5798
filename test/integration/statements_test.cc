// Integration: a fee statement main's manager writes reaches the partner it is for, with the
// contract it was computed with, over the real mutual-TLS sync channel between `tieup` daemons:
// fetched by the running partner daemon by itself, listed and verified with the command line.
// Another enrolled partner can never read it, a period main has no statement for is refused,
// and a statement changed at main after it was written is not delivered.
#include <gtest/gtest.h>

#include <ctime>
#include <regex>

#include "base/env.h"
#include "daemon_harness.h"
#include "partner_site/ledger_service.h"
#include "sync_harness.h"
#include "test_support.h"

namespace tieup::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// "YYYY-MM-DD..YYYY-MM-DD": today (UTC) as a period of one day.
std::string Today() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char from[16], to[16];
  std::strftime(from, sizeof(from), "%Y-%m-%d", &tm);
  now += 86400;
  gmtime_r(&now, &tm);
  std::strftime(to, sizeof(to), "%Y-%m-%d", &tm);
  return std::string(from) + ".." + to;
}

constexpr char kContract[] = R"(partner = "shop-b"
kind = "template"
currency = "JPY"
base_fee = 30000
[access_discount]
max_percent = 30
at_original_share_percent = 50
)";

// A partnership at main and the partner site enrolled with it; returns the partner's folder.
std::string EnrolledPartner(const TempDir& dir, const std::string& main_dir,
                            const std::string& main_sync, const std::string& id) {
  const std::string site = dir.Sub(id);
  const std::string sync = "127.0.0.1:" + std::to_string(FreePort());
  auto r =
      RunTieup({"main", "partner", "add", main_dir, "--id", id, "--kind", "template",
                "--public-url", "http://" + id + ".example/", "--sync-url", "https://" + sync});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const std::string code = FirstMatch(r.output, R"(--token (\S+))");
  r = RunTieup({"partner", "init", site, "--id", id, "--name", id, "--public", "127.0.0.1:0",
                "--sync", sync, "--main", main_sync, "--token", code});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return site;
}

TEST(StatementsIntegrationTest, MainsStatementReachesItsPartnerOnlyWithItsContract) {
  auto env = NewPosixEnv();
  TempDir dir;
  const std::string main_dir = dir.Sub("main");
  auto r = RunTieup({"main", "init", main_dir, "--name", "Main", "--public", "127.0.0.1:0",
                     "--sync", "127.0.0.1:0"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = MoveMainToTestStore(main_dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  Daemon main({"main", "serve", main_dir});
  ASSERT_TRUE(main.ok()) << main.output();
  const std::string main_sync =
      FirstMatch(main.output(), R"(sync port (https://127\.0\.0\.1:\d+))");
  ASSERT_FALSE(main_sync.empty()) << main.output();
  const std::string shop = EnrolledPartner(dir, main_dir, main_sync, "shop-b");
  const std::string other = EnrolledPartner(dir, main_dir, main_sync, "shop-c");
  ASSERT_FALSE(HasFailure());

  const std::string period = ThisMonthUtc();
  {
    Daemon partner({"partner", "serve", shop});
    ASSERT_TRUE(partner.ok()) << partner.output();
    for (int i = 0; i < 10; ++i) HttpGet(partner.port(), "/");
    EXPECT_EQ(partner.Stop(), 0);  // flushes the access ledger
  }
  r = RunTieup({"partner", "ledger", "push", shop});
  ASSERT_EQ(r.exit_code, 0) << r.output;

  // Main's manager writes the statement, as always.
  ASSERT_TRUE(CreateDirs(*env, main_dir + "/contracts").ok());
  ASSERT_TRUE(WriteFileAtomic(*env, main_dir + "/contracts/shop-b.toml", kContract).ok());
  r = RunTieup({"main", "fees", "statement", main_dir, "--partner", "shop-b", "--period", period});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("shop-b-" + period + ".contract.toml"));
  EXPECT_THAT(r.output, HasSubstr("The partner receives it"));
  const std::string csv_path = main_dir + "/statements/shop-b-" + period + ".csv";
  auto main_csv = env->ReadFile(csv_path);
  ASSERT_TRUE(main_csv.ok());

  // The running partner daemon fetches it by itself (at its first tick, then every minute).
  {
    Daemon partner({"partner", "serve", shop});
    ASSERT_TRUE(partner.ok()) << partner.output();
    ASSERT_TRUE(WaitFor([&] { return Received(*env, shop).size() == 1; }, std::chrono::seconds(30)))
        << partner.output();
    EXPECT_THAT(partner.output(), HasSubstr("received the fee statement for " + period));
    // Asked again on demand: held already, nothing more stored.
    r = RunTieup({"partner", "fees", "statements", shop, "--fetch"});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_THAT(r.output, HasSubstr("0 received now, 1 held already"));
    EXPECT_EQ(Received(*env, shop).size(), 1u);
  }
  const std::string id = Received(*env, shop).at(0);
  EXPECT_EQ(*env->ReadFile(shop + "/statements/" + id + "/statement.csv"), *main_csv);
  EXPECT_EQ(*env->ReadFile(shop + "/statements/" + id + "/contract.toml"), kContract);
  r = RunTieup({"partner", "fees", "statements", shop});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr(id));
  EXPECT_THAT(r.output, HasSubstr("period " + period));
  // Verified with the contract main sent, from the partner's own ledger.
  r = RunTieup({"partner", "fees", "verify", shop, period});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("agrees"));

  // Over the real channel, with each partner's own certificate: shop-c never gets shop-b's
  // statement, and a period main has none for is refused.
  auto as_b = MainRoundTrip(*env, shop);
  auto as_c = MainRoundTrip(*env, other);
  ASSERT_TRUE(as_b.ok() && as_c.ok());
  auto answer = (*as_b)(HttpRequest("GET", "/v1/ledger/statement?period=" + period));
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->status(), 200);
  answer = (*as_c)(HttpRequest("GET", "/v1/ledger/statement?period=" + period));
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->status(), 404);
  EXPECT_THAT(std::string(answer->body()), Not(HasSubstr("base_fee")));
  answer = (*as_b)(HttpRequest("GET", "/v1/ledger/statement?period=2001-01"));
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->status(), 404);
  r = RunTieup({"partner", "fees", "statements", other, "--fetch"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("0 statement(s) for 'shop-c'"));
  EXPECT_TRUE(Received(*env, other).empty());

  // Last month ended before the partnership began: refused (issue 15 item 8).
  r = RunTieup(
      {"main", "fees", "statement", main_dir, "--partner", "shop-b", "--period", ThisMonthUtc(1)});
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("ends before the partnership with 'shop-b' began"));
  // Today's statement, changed at main after it was written: not delivered.
  const std::string today = Today();
  r = RunTieup({"main", "fees", "statement", main_dir, "--partner", "shop-b", "--period", today});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string today_path = main_dir + "/statements/shop-b-" + today + ".csv";
  std::string edited = *env->ReadFile(today_path);
  edited.replace(edited.find("total,total,,,"), 14, "total,total,,,1");
  ASSERT_TRUE(WriteFileAtomic(*env, today_path, edited).ok());
  r = RunTieup({"partner", "fees", "statements", shop, "--fetch"});
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("REFUSED: the statement for " + today));
  EXPECT_THAT(r.output, HasSubstr("changed since it was written"));
  EXPECT_EQ(Received(*env, shop).size(), 1u);
}

}  // namespace
}  // namespace tieup::testing
