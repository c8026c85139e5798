// Integration (issue 15 item 8): what a fee statement is computed from, with real `tieup`
// daemons over loopback: a tie-up order the partner cancels reaches its ledger and is not
// charged; a period outside the partnership's life is refused and a partial one prorated; a
// service the contract prices but the partnership does not enable is not charged; and the
// statement main delivers is signed, so that `tieup partner fees verify` checks main's signature
// and recomputes the statement from the partner's own ledger with no file from main's folder.
#include <gtest/gtest.h>

#include <ctime>
#include <map>
#include <regex>

#include "base/env.h"
#include "daemon_harness.h"
#include "shop_customer.h"
#include "test_support.h"

namespace tieup::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kRouting[] = R"({
  "rules": [
    {"name": "partner stock", "path": "/shop/checkout", "when": ["category == local"],
     "mode": "local"},
    {"name": "main sells the rest", "path": "/shop/checkout", "mode": "delegate"}
  ]
})";

constexpr char kContract[] = R"(partner = "shop-b"
kind = "contents"
currency = "EUR"
base_fee = 31000
[services.security]
price = 5000
[transactions]
percent_bp = 1000
fixed_minor = 100
)";

// Buys `sku` from the tie-up page `page` with a fresh cart; returns the order number.
std::string Buy(ShopCustomer& customer, const std::string& sku, const std::string& page) {
  EXPECT_EQ(customer.Add(sku, 1, page), 303);
  std::string r = customer.Checkout();
  EXPECT_EQ(StatusOf(r), 200) << r;
  return FirstMatch(r, "(SHOPB-\\d{6})");
}

CommandResult Tieup(const std::vector<std::string>& args) {
  CommandResult r = RunTieup(args);
  EXPECT_EQ(r.exit_code, 0) << args[0] << " " << args[1] << " " << args[2] << ": " << r.output;
  return r;
}

TEST(FeeInputsIntegrationTest, CancelledOrdersLifeOptionsAndSignedDelivery) {
  auto env = NewPosixEnv();
  TempDir dir;
  const std::string main_dir = dir.Sub("main");
  const std::string shop = dir.Sub("shop-b");
  const int main_sync = FreePort();
  const int partner_sync = FreePort();
  Tieup({"main", "init", main_dir, "--name", "Tea House", "--public", "127.0.0.1:0", "--sync",
         "127.0.0.1:" + std::to_string(main_sync)});
  const std::string pages = main_dir + "/authoring/pages";
  ASSERT_TRUE(CreateDirs(*env, pages + "/products").ok());
  ASSERT_TRUE(CreateDirs(*env, pages + "/.tieup").ok());
  ASSERT_TRUE(WriteFileAtomic(*env, pages + "/.tieup/routing.json", kRouting).ok());
  ASSERT_TRUE(WriteFileAtomic(*env, pages + "/products/LOC-1.html",
                              "---\ntitle: Honey\n---\n<h1>Local honey</h1>\n")
                  .ok());
  ASSERT_TRUE(LiftPerClientRequestRate(main_dir));
  Daemon main({"main", "serve", main_dir});
  ASSERT_TRUE(main.ok()) << main.output();
  auto r = Tieup({"main", "partner", "add", main_dir, "--id", "shop-b", "--name", "Shop B",
                  "--public-url", "http://shop-b.example/", "--sync-url",
                  "https://127.0.0.1:" + std::to_string(partner_sync)});
  const std::string code = FirstMatch(r.output, R"(--token (\S+))");
  Tieup({"partner", "init", shop, "--id", "shop-b", "--name", "Shop B", "--public", "127.0.0.1:0",
         "--sync", "127.0.0.1:" + std::to_string(partner_sync), "--main",
         "https://127.0.0.1:" + std::to_string(main_sync), "--token", code});
  Tieup({"partner", "product", "add", shop, "--sku", "LOC-1", "--title", "Local honey", "--price",
         "9.00", "--stock", "7", "--category", "local"});
  ASSERT_FALSE(HasFailure());

  std::string kept, cancelled;
  {
    ASSERT_TRUE(LiftPerClientRequestRate(shop));
    Daemon partner({"partner", "serve", shop});
    ASSERT_TRUE(partner.ok()) << partner.output();
    Tieup({"main", "publish", main_dir, "--all"});
    ASSERT_TRUE(WaitFor([&] {
      return StatusOf(HttpGet(partner.port(), "/products/LOC-1.html")) == 200;
    })) << partner.output();
    // Two tie-up orders from the partner's own stock; the manager cancels one of them from the
    // command line while the daemon runs: the daemon records the cancellation in its ledger.
    ShopCustomer a(partner.port()), b(partner.port());
    kept = Buy(a, "LOC-1", "/products/LOC-1.html");
    cancelled = Buy(b, "LOC-1", "/products/LOC-1.html");
    ASSERT_FALSE(kept.empty());
    ASSERT_FALSE(cancelled.empty());
    Tieup({"partner", "order", "cancel", shop, cancelled, "--reason", "customer changed mind"});
    ASSERT_TRUE(WaitFor([&] {
      return partner.output().find("recorded 1 cancelled order") != std::string::npos;
    })) << partner.output();
    EXPECT_EQ(partner.Stop(), 0);
  }
  Tieup({"partner", "ledger", "push", shop});

  ASSERT_TRUE(CreateDirs(*env, main_dir + "/contracts").ok());
  ASSERT_TRUE(WriteFileAtomic(*env, main_dir + "/contracts/shop-b.toml", kContract).ok());
  // Outside the partnership's life, or not begun: refused, saying why.
  r = RunTieup(
      {"main", "fees", "statement", main_dir, "--partner", "shop-b", "--period", "1999-01"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("ends before the partnership with 'shop-b' began"));
  r = RunTieup(
      {"main", "fees", "statement", main_dir, "--partner", "shop-b", "--period", "2030-01"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("has not begun"));
  // A contract of another kind than the partnership's is refused, naming both.
  std::string wrong = kContract;
  wrong.replace(wrong.find("contents"), 8, "link");
  ASSERT_TRUE(WriteFileAtomic(*env, dir.Sub("wrong.toml"), wrong).ok());
  r = RunTieup({"main", "fees", "statement", main_dir, "--partner", "shop-b", "--period",
                ThisMonthUtc(), "--contract", dir.Sub("wrong.toml")});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("'link' partnership but partner 'shop-b' is a 'contents'"));

  // This month: prorated from today; security is priced but not enabled, so not charged.
  const std::string period = ThisMonthUtc();
  Tieup({"main", "fees", "statement", main_dir, "--partner", "shop-b", "--period", period});
  std::string csv = *env->ReadFile(main_dir + "/statements/shop-b-" + period + ".csv");
  EXPECT_THAT(csv, HasSubstr("header,format,tieup-fee-statement/2,,"));
  EXPECT_THAT(csv, HasSubstr("header,enabled_options,,,"));
  EXPECT_TRUE(std::regex_search(csv, std::regex(R"(prorated: \d+ of )"))) << csv;
  EXPECT_THAT(csv, Not(HasSubstr("service.security")));
  // Two tie-up orders of the same amount, one cancelled: the net amount is one order's, and
  // one fixed fee is charged.
  EXPECT_THAT(csv, HasSubstr("tieup_orders=2;tieup_refunds=0;tieup_cancellations=1;"));
  const std::string taken_back = FirstMatch(csv, "tieup_cancelled_amount=(\\d+);");
  EXPECT_FALSE(taken_back.empty()) << csv;
  EXPECT_THAT(csv, HasSubstr("tieup_net_amount=" + taken_back + ";"));
  EXPECT_TRUE(std::regex_search(csv, std::regex("line,transactions\\.fixed,[^\\n]*,100\\n")))
      << csv;
  // The manager enables security: recorded like the other settings, and charged.
  r = Tieup({"main", "partner", "set", main_dir, "shop-b", "--options", "security"});
  EXPECT_THAT(r.output, HasSubstr("options: (none) -> security"));
  r = Tieup({"main", "events", main_dir});
  EXPECT_THAT(r.output, HasSubstr("options: (none) -> security"));
  EXPECT_NE(
      RunTieup({"main", "partner", "set", main_dir, "shop-b", "--options", "coffee"}).exit_code, 0);
  Tieup({"main", "fees", "statement", main_dir, "--partner", "shop-b", "--period", period});
  csv = *env->ReadFile(main_dir + "/statements/shop-b-" + period + ".csv");
  EXPECT_THAT(csv, HasSubstr("header,enabled_options,security,,"));
  EXPECT_THAT(csv, HasSubstr("line,service.security,"));
  EXPECT_TRUE(env->FileExists(main_dir + "/statements/shop-b-" + period + ".signature.json"));

  // Delivered signed: the partner daemon fetches it by itself and verifies main's signature.
  {
    Daemon partner({"partner", "serve", shop});
    ASSERT_TRUE(partner.ok()) << partner.output();
    ASSERT_TRUE(WaitFor([&] { return Received(*env, shop).size() == 1; }, std::chrono::seconds(30)))
        << partner.output();
  }
  const std::string id = Received(*env, shop).at(0);
  EXPECT_TRUE(env->FileExists(shop + "/statements/" + id + "/signature.json"));
  // Verified with nothing from main's folder: main's signature, then the recomputation.
  r = RunTieup({"partner", "fees", "verify", shop, period});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("agrees"));
  EXPECT_THAT(r.output, HasSubstr("main's signature verified"));
  // A contract changed on the partner's disk no longer matches main's signature.
  const std::string contract_path = shop + "/statements/" + id + "/contract.toml";
  std::string contract = *env->ReadFile(contract_path);
  contract.replace(contract.find("31000"), 5, "11000");
  ASSERT_TRUE(WriteFileAtomic(*env, contract_path, contract).ok());
  r = RunTieup({"partner", "fees", "verify", shop, period});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("not the one main signed"));

  // Every partner's statement at once: a partner without a contract is listed, not written; the
  // run is counted (plain lines: not a terminal), then one result line per partner.
  Tieup({"main", "partner", "add", main_dir, "--id", "shop-c", "--name", "Shop C", "--public-url",
         "http://shop-c.example/"});
  r = RunTieup({"main", "fees", "statement", main_dir, "--all", "--period", period});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex(R"(done: 2 of 2 partners in \d+:\d\d\n)")))
      << r.output;
  EXPECT_TRUE(std::regex_search(
      r.output, std::regex(R"(shop-b\s+\S+\s*[0-9.,]+\s+\S+/statements/shop-b-\d{4}-\d\d\.csv\n)")))
      << r.output;
  EXPECT_THAT(r.output, HasSubstr("shop-c         not written: no contract ("));
  EXPECT_THAT(r.output,
              HasSubstr("Statements for " + period + ": 1 written, 1 not written, 0 failed."));
  // One partner or all, never both; --contract is one partner's.
  r = RunTieup(
      {"main", "fees", "statement", main_dir, "--all", "--partner", "shop-b", "--period", period});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("excludes"));
  r = RunTieup({"main", "fees", "statement", main_dir, "--period", period});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("name a partner with --partner ID, or add --all"));
}

}  // namespace
}  // namespace tieup::testing
