// Integration: a partner's accesses reach main over the real sync channel (mutual TLS between
// two `tieup` daemons), verified; main writes a fee statement from them and the partner checks
// it with its own ledger.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <regex>

#include "base/env.h"
#include "daemon_harness.h"
#include "sync_harness.h"
#include "test_support.h"

namespace tieup::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kContract[] = R"(partner = "shop-b"
kind = "template"
currency = "JPY"
base_fee = 30000
[services.security]
price = 5000
[[content_tiers]]
measure = "original_pages"
from = 0
fee = 4000
[[content_tiers]]
measure = "original_pages"
from = 2
fee = 1000
[access_discount]
max_percent = 30
at_original_share_percent = 50
)";

// `tieup main searches` on a main site no search has reached yet says so, and where they come
// from; its help teaches what it lists.
TEST(LedgerIntegrationTest, SearchesCommandOnAMainWithoutSearches) {
  TempDir dir;
  const std::string main_dir = dir.Sub("main");
  auto r = RunTieup({"main", "init", main_dir, "--name", "Main", "--public", "127.0.0.1:0",
                     "--sync", "127.0.0.1:0", "--manager", "none"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = MoveMainToTestStore(main_dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;

  r = RunTieup({"main", "searches", main_dir});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("No searches recorded in the last 30 days; partners' searches "
                                  "arrive with their ledger batches."));
  r = RunTieup({"main", "searches", main_dir, "--days", "7", "--limit", "5"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("in the last 7 days"));
  r = RunTieup({"main", "searches", main_dir, "--partner", "shop-x"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("'shop-x': it has not shipped its ledger to main yet"));

  r = RunTieup({"main", "searches", "--help"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("--partner"));
  EXPECT_THAT(r.output, HasSubstr("they reach main with the ledger batches"));
  r = RunTieup({"main", "searches", main_dir, "--days", "0"});
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("--days"));
}

TEST(LedgerIntegrationTest, AccessesReachMainVerifiedAndTheStatementIsCheckedByThePartner) {
  auto env = NewPosixEnv();
  TempDir dir;
  const std::string main_dir = dir.Sub("main");
  const std::string shop = dir.Sub("shop-b");

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

  const int partner_sync_port = FreePort();
  ASSERT_NE(partner_sync_port, 0);
  const std::string partner_sync = "127.0.0.1:" + std::to_string(partner_sync_port);
  r = RunTieup({"main", "partner", "add", main_dir, "--id", "shop-b", "--kind", "template",
                "--public-url", "http://shop-b.example/", "--sync-url", "https://" + partner_sync});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string code = FirstMatch(r.output, R"(--token (\S+))");
  ASSERT_FALSE(code.empty()) << r.output;

  r = RunTieup({"partner", "init", shop, "--id", "shop-b", "--name", "Shop B", "--public",
                "127.0.0.1:0", "--sync", partner_sync, "--main", main_sync, "--token", code});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // Original pages: activated before the daemon starts, recorded in the ledger at its start.
  const std::string pages = dir.Sub("pages");
  ASSERT_TRUE(CreateDirs(*env, pages).ok());
  ASSERT_TRUE(WriteFileAtomic(*env, pages + "/index.html", "<h1>Shop B</h1>\n").ok());
  ASSERT_TRUE(WriteFileAtomic(*env, pages + "/about.html", "<h1>About</h1>\n").ok());
  ASSERT_TRUE(WriteFileAtomic(*env, pages + "/style.css", "body{}\n").ok());
  r = RunTieup({"partner", "page", "put", shop, "/", pages});
  ASSERT_EQ(r.exit_code, 0) << r.output;

  {
    Daemon partner({"partner", "serve", shop});
    ASSERT_TRUE(partner.ok()) << partner.output();
    for (int i = 0; i < 12; ++i) EXPECT_EQ(StatusOf(HttpGet(partner.port(), "/")), 200);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(StatusOf(HttpGet(partner.port(), "/missing")), 404);

    // Main pulls over mutual TLS while the partner runs.
    r = RunTieup({"main", "ledger", "pull", main_dir, "--partner", "shop-b"});
    ASSERT_EQ(r.exit_code, 0) << r.output << partner.output();
    EXPECT_THAT(r.output, HasSubstr("Pulled "));
    EXPECT_EQ(partner.Stop(), 0);  // flushes the access ledger and signs a checkpoint
  }
  // Everything after the pull (the rest of the accesses) is pushed on demand.
  r = RunTieup({"partner", "ledger", "push", shop});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("(up to date)"));
  const std::string entries = FirstMatch(r.output, R"(main holds (\d+) verified entries)");
  // 15 accesses and one content record at least.
  ASSERT_FALSE(entries.empty());
  EXPECT_GE(std::stoi(entries), 16);

  r = RunTieup({"main", "ledger", "verify", main_dir, "--partner", "shop-b"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("alerts: none open"));
  EXPECT_THAT(r.output, HasSubstr("\nOK\n"));
  r = RunTieup({"partner", "ledger", "verify", shop});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr(entries + " entries"));

  // The statement at main, from the verified mirror.
  ASSERT_TRUE(CreateDirs(*env, main_dir + "/contracts").ok());
  ASSERT_TRUE(WriteFileAtomic(*env, main_dir + "/contracts/shop-b.toml", kContract).ok());
  ASSERT_TRUE(WriteFileAtomic(*env, shop + "/contract.toml", kContract).ok());
  const std::string period = ThisMonthUtc();
  r = RunTieup({"main", "fees", "statement", main_dir, "--partner", "shop-b", "--period", period});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string csv_path = FirstMatch(r.output, R"(\s(\S+\.csv)\n)");
  ASSERT_EQ(csv_path, main_dir + "/statements/shop-b-" + period + ".csv") << r.output;
  EXPECT_TRUE(env->FileExists(main_dir + "/statements/shop-b-" + period + ".html"));
  EXPECT_THAT(r.output, HasSubstr("Total: "));
  auto csv = env->ReadFile(csv_path);
  ASSERT_TRUE(csv.ok());
  // Two original pages (index, about) were recorded by the content record: the lower tier.
  EXPECT_THAT(*csv, HasSubstr("content.original_pages"));
  EXPECT_THAT(*csv, HasSubstr("tier_from=2;"));
  // The partnership began today: this month is billed to date, its fixed fees prorated (one
  // day, or two if the test crossed UTC midnight), rounded half-even (the default).
  const std::string billed = FirstMatch(*csv, R"(\(prorated: (\d+) of \d+ days)");
  const std::string days = FirstMatch(*csv, R"(\(prorated: \d+ of (\d+) days)");
  ASSERT_FALSE(billed.empty() || days.empty()) << *csv;
  EXPECT_TRUE(billed == "1" || billed == "2") << *csv;
  const auto prorated = [&](int64_t amount) {
    const int64_t n = amount * std::stoll(billed), d = std::stoll(days);
    int64_t q = n / d;
    const int64_t twice_rest = 2 * (n % d);
    if (twice_rest > d || (twice_rest == d && q % 2 == 1)) ++q;
    return std::to_string(q);
  };
  EXPECT_TRUE(
      std::regex_search(*csv, std::regex("\nline,base,[^\n]*;billed_days=" + billed +
                                         ";period_days=" + days + "," + prorated(30000) + "\n")))
      << *csv;
  EXPECT_TRUE(std::regex_search(*csv, std::regex("\nline,content\\.original_pages,[^\n]*;"
                                                 "tier_from=2;[^\n]*," +
                                                 prorated(1000) + "\n")))
      << *csv;

  // The partner recomputes it from its own ledger: it agrees.
  r = RunTieup(
      {"partner", "fees", "verify", shop, csv_path, "--contract", shop + "/contract.toml"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("agrees"));

  // One byte changed (a daily count): it does not.
  std::string altered = *csv;
  size_t day = altered.find(";original=");
  ASSERT_NE(day, std::string::npos);
  char& c = altered[day - 1];
  c = c == '9' ? '8' : static_cast<char>(c + 1);
  ASSERT_TRUE(WriteFileAtomic(*env, dir.Sub("altered.csv"), altered).ok());
  r = RunTieup({"partner", "fees", "verify", shop, dir.Sub("altered.csv"), "--contract",
                shop + "/contract.toml"});
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("does not agree"));
}

}  // namespace
}  // namespace tieup::testing
