// Integration: the shop across two real `tieup` daemons. A customer buys on the partner's
// original and tie-up pages; checkout is routed by the table main shipped with the release:
// local (the partner's own shop), delegate (main places the order, signed over mutual TLS) and
// consult (main's command, the partner's order). Main down, partner killed, replayed and altered
// signed requests, and bad input.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <regex>
#include <set>

#include "base/env.h"
#include "commerce/wire.h"
#include "daemon_harness.h"
#include "ledger/log.h"
#include "ledger/records.h"
#include "partner_site/shop_service.h"
#include "shop_customer.h"
#include "site/config.h"
#include "store/database.h"
#include "sync_harness.h"
#include "test_support.h"

namespace tieup::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

int CountMatches(const std::string& text, const std::string& pattern) {
  std::regex re(pattern);
  return static_cast<int>(
      std::distance(std::sregex_iterator(text.begin(), text.end(), re), std::sregex_iterator()));
}

// The pid of this process's child `tieup partner serve DIR` (the harness does not expose it).
pid_t ChildServing(const std::string& dir) {
  auto env = NewPosixEnv();
  auto tasks = env->ListDir("/proc/self/task");
  if (!tasks.ok()) return -1;
  for (const FileInfo& t : *tasks) {
    auto children = env->ReadFile("/proc/self/task/" + t.name + "/children");
    if (!children.ok()) continue;
    std::istringstream in(*children);
    pid_t pid;
    while (in >> pid) {
      auto cmd = env->ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
      if (cmd.ok() && cmd->find(std::string("serve\0", 6) + dir) != std::string::npos) return pid;
    }
  }
  return -1;
}

constexpr char kRouting[] = R"({
  "rules": [
    {"name": "gifts need main's word", "path": "/shop/checkout", "methods": ["POST"],
     "when": ["category == gift"], "mode": "consult"},
    {"name": "partner stock", "path": "/shop/checkout", "when": ["category == local"],
     "mode": "local"},
    {"name": "main sells the rest", "path": "/shop/checkout", "mode": "delegate"}
  ]
})";

std::string ProductPage(const std::string& sku, const std::string& title) {
  return "---\ntitle: " + title + "\n---\n<h1>" + title +
         "</h1><p>at {{partner.name}}</p>\n<form method=\"post\" action=\"/shop/cart/add\">"
         "<input type=\"hidden\" name=\"sku\" value=\"" +
         sku + "\"><input name=\"qty\" value=\"1\"><button>Add to cart</button></form>\n";
}

class ShopIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    main_dir_ = dir_.Sub("main");
    shop_dir_ = dir_.Sub("shop-b");
    main_sync_port_ = FreePort();
    partner_sync_port_ = FreePort();
    ASSERT_NE(main_sync_port_, 0);
    ASSERT_NE(partner_sync_port_, 0);
    Run({"main", "init", main_dir_, "--name", "Tea House", "--public", "127.0.0.1:0", "--sync",
         "127.0.0.1:" + std::to_string(main_sync_port_)});
    const CommandResult moved = MoveMainToTestStore(main_dir_);
    ASSERT_EQ(moved.exit_code, 0) << moved.output;
    const std::string pages = main_dir_ + "/authoring/pages";
    ASSERT_TRUE(CreateDirs(*env_, pages + "/products").ok());
    ASSERT_TRUE(CreateDirs(*env_, pages + "/.tieup").ok());
    ASSERT_TRUE(WriteFileAtomic(*env_, pages + "/.tieup/routing.json", kRouting).ok());
    for (auto [sku, title] : std::map<std::string, std::string>{
             {"TEA-1", "Sencha"}, {"GIFT-1", "Gift box"}, {"LOC-1", "Local honey"}}) {
      ASSERT_TRUE(
          WriteFileAtomic(*env_, pages + "/products/" + sku + ".html", ProductPage(sku, title))
              .ok());
    }
    Run({"main", "product", "add", main_dir_, "--sku", "TEA-1", "--title", "Sencha", "--price",
         "12.50", "--stock", "1000", "--category", "tea", "--page", "/products/TEA-1.html"});
    Run({"main", "product", "add", main_dir_, "--sku", "GIFT-1", "--title", "Gift box", "--price",
         "30.00", "--stock", "10", "--category", "gift"});
    StartMain();

    auto r = Run({"main", "partner", "add", main_dir_, "--id", "shop-b", "--name", "Shop B",
                  "--public-url", "http://shop-b.example/", "--sync-url",
                  "https://127.0.0.1:" + std::to_string(partner_sync_port_)});
    const std::string code = FirstMatch(r.output, R"(--token (\S+))");
    ASSERT_FALSE(code.empty()) << r.output;
    Run({"partner", "init", shop_dir_, "--id", "shop-b", "--name", "Shop B", "--public",
         "127.0.0.1:0", "--sync", "127.0.0.1:" + std::to_string(partner_sync_port_), "--main",
         "https://127.0.0.1:" + std::to_string(main_sync_port_), "--token", code});
    // The partner's own goods and original pages.
    Run({"partner", "product", "add", shop_dir_, "--sku", "ORIG-1", "--title", "Wagashi", "--price",
         "4.00", "--stock", "5"});
    Run({"partner", "product", "add", shop_dir_, "--sku", "LOC-1", "--title", "Local honey",
         "--price", "9.00", "--stock", "7", "--category", "local"});
    const std::string original = dir_.Sub("original");
    ASSERT_TRUE(CreateDirs(*env_, original).ok());
    ASSERT_TRUE(WriteFileAtomic(*env_, original + "/local.html", "<h1>Our wagashi</h1>").ok());
    Run({"partner", "page", "put", shop_dir_, "/", original});
    StartPartner();
    Run({"main", "publish", main_dir_, "--all"});
    // The tie-up release is active once its product page is served.
    WaitFor([&] { return StatusOf(HttpGet(partner_port(), "/products/TEA-1.html")) == 200; });
    ASSERT_EQ(StatusOf(HttpGet(partner_port(), "/products/TEA-1.html")), 200) << partner_->output();
  }

  CommandResult Run(const std::vector<std::string>& args) {
    CommandResult r = RunTieup(args);
    EXPECT_EQ(r.exit_code, 0) << args[0] << " " << args[1] << ": " << r.output;
    return r;
  }
  void StartMain() {
    // A hundred customers, all from 127.0.0.1.
    ASSERT_TRUE(LiftPerClientRequestRate(main_dir_));
    main_ = std::make_unique<Daemon>(std::vector<std::string>{"main", "serve", main_dir_});
    ASSERT_TRUE(main_->ok()) << main_->output();
  }
  void StartPartner() {
    ASSERT_TRUE(LiftPerClientRequestRate(shop_dir_));
    partner_ = std::make_unique<Daemon>(std::vector<std::string>{"partner", "serve", shop_dir_});
    ASSERT_TRUE(partner_->ok()) << partner_->output();
  }
  int partner_port() const { return partner_->port(); }

  std::string MainOrders() {
    return Run({"main", "order", "ls", main_dir_, "--channel", "shop-b", "--limit", "1000"}).output;
  }
  int MainOrderCount() { return CountMatches(MainOrders(), "\\bM-\\d{6}\\b"); }
  std::string PartnerOrders() {
    return Run({"partner", "order", "ls", shop_dir_, "--limit", "1000"}).output;
  }

  // Waits (up to `seconds`) for main to hold `want` orders from shop-b; returns how many it holds.
  int WaitForMainOrders(int want, int seconds) {
    int n = 0;
    WaitFor([&] { return (n = MainOrderCount()) >= want; }, std::chrono::seconds(seconds));
    return n;
  }

  std::unique_ptr<Env> env_ = NewPosixEnv();
  TempDir dir_;
  std::string main_dir_, shop_dir_;
  int main_sync_port_ = 0, partner_sync_port_ = 0;
  std::unique_ptr<Daemon> main_, partner_;
};

TEST_F(ShopIntegrationTest, EachModeEndToEnd) {
  // Original page: always local, whatever the table says.
  ShopCustomer a(partner_port());
  ASSERT_EQ(a.Add("ORIG-1", 2, "/local.html"), 303);
  std::string r = a.Checkout();
  EXPECT_EQ(StatusOf(r), 200) << r;
  const std::string local_number = FirstMatch(r, "(SHOPB-\\d{6})");
  ASSERT_FALSE(local_number.empty()) << r;

  // Tie-up page, rule "partner stock": local, from the partner's own stock.
  ShopCustomer b(partner_port());
  ASSERT_EQ(b.Add("LOC-1", 1, "/products/LOC-1.html"), 303);
  r = b.Checkout();
  EXPECT_EQ(StatusOf(r), 200) << r;
  const std::string local_tieup = FirstMatch(r, "(SHOPB-\\d{6})");
  ASSERT_FALSE(local_tieup.empty()) << r;

  // Tie-up page, default rule: delegated to main, which answers; main's order number is shown.
  ShopCustomer c(partner_port());
  ASSERT_EQ(c.Add("TEA-1", 3, "/products/TEA-1.html"), 303);
  r = c.Checkout();
  EXPECT_EQ(StatusOf(r), 200) << r;
  EXPECT_THAT(r, HasSubstr("Processed by our main shop"));
  EXPECT_THAT(r, HasSubstr("€37.50"));
  const std::string delegated = FirstMatch(r, "(M-\\d{6})");
  ASSERT_FALSE(delegated.empty()) << r;

  // Tie-up page, gift: consult main, then the partner places the order at main's price.
  ShopCustomer d(partner_port());
  ASSERT_EQ(d.Add("GIFT-1", 1, "/products/GIFT-1.html"), 303);
  r = d.Checkout();
  EXPECT_EQ(StatusOf(r), 200) << r;
  const std::string consulted = FirstMatch(r, "(SHOPB-\\d{6})");
  ASSERT_FALSE(consulted.empty()) << r;
  EXPECT_THAT(r, HasSubstr("€30.00"));

  // Main holds exactly the delegated order, recorded for partner shop-b on a tie-up page.
  std::string at_main = MainOrders();
  EXPECT_EQ(CountMatches(at_main, "\\bM-\\d{6}\\b"), 1) << at_main;
  std::string shown = Run({"main", "order", "show", main_dir_, delegated}).output;
  EXPECT_THAT(shown, HasSubstr("shop-b"));
  EXPECT_THAT(shown, HasSubstr("tieup"));
  EXPECT_THAT(shown, HasSubstr("partner:shop-b"));
  // Main's stock went down by the delegated units.
  EXPECT_THAT(Run({"main", "product", "show", main_dir_, "TEA-1"}).output, HasSubstr("997"));

  // The partner holds the local, local tie-up and consulted orders, with their areas.
  std::string at_partner = PartnerOrders();
  EXPECT_THAT(at_partner, HasSubstr(local_number));
  EXPECT_THAT(at_partner, HasSubstr(local_tieup));
  EXPECT_THAT(at_partner, HasSubstr(consulted));
  EXPECT_THAT(Run({"partner", "order", "show", shop_dir_, local_number}).output,
              HasSubstr("original"));
  EXPECT_THAT(Run({"partner", "order", "show", shop_dir_, consulted}).output, HasSubstr("tieup"));
  EXPECT_THAT(Run({"partner", "product", "show", shop_dir_, "ORIG-1"}).output, HasSubstr("3"));

  // The partner's ledger holds one order record per tie-up sale (local, consulted and
  // delegated): the handling fee comes from these; and one, area original, for the sale on an
  // original page (no fee: main's console lists it under "processed at partners").
  ASSERT_EQ(partner_->Stop(), 0);
  auto env = NewPosixEnv();
  auto log = ledger::Log::Open(*env, shop_dir_ + "/ledger", {.read_only = true, .tiles = {}});
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  std::map<std::string, ledger::OrderRecord> orders;
  for (uint64_t i = 0; i < (*log)->size(); ++i) {
    auto rec = ledger::ParseRecord(*(*log)->Read(i));
    ASSERT_TRUE(rec.ok()) << rec.status().ToString();
    if (auto* o = std::get_if<ledger::OrderRecord>(&*rec)) orders[o->order_id] = *o;
  }
  EXPECT_EQ(orders.size(), 4u);
  EXPECT_TRUE(orders.count(local_tieup));
  EXPECT_TRUE(orders.count(consulted));
  ASSERT_TRUE(orders.count(delegated));
  ASSERT_TRUE(orders.count(local_number));
  EXPECT_EQ(orders[local_number].area, ledger::RecordArea::kOriginal);
  EXPECT_EQ(orders[local_tieup].area, ledger::RecordArea::kTieup);
  EXPECT_EQ(orders[delegated].partner, "shop-b");
  EXPECT_EQ(orders[delegated].area, ledger::RecordArea::kTieup);
  EXPECT_EQ(orders[delegated].amount_minor, 3750);
  EXPECT_EQ(orders[delegated].items, 3u);
}

// Mixed carts (one tie-up item main sells, one original item the partner sells), checked out
// concurrently and each form sent twice at once (a double click), with main answering, main
// slow (stopped while the partner waits, then resumed: it places orders whose answers the
// partner never read) and main down. Every cart line ends in exactly one order, stock moves
// once, and both answers to one form show the same orders.
TEST_F(ShopIntegrationTest, MixedCartsEndEachLineInExactlyOneOrder) {
  Run({"partner", "product", "add", shop_dir_, "--sku", "ORIG-2", "--title", "Dorayaki", "--price",
       "3.00", "--stock", "200"});
  const pid_t main_pid = ChildServing(main_dir_);
  ASSERT_GT(main_pid, 0);

  struct Result {
    std::string first, second;
  };
  // `n` customers at once, each filling a mixed cart and sending its form twice at once.
  auto round = [&](int n) {
    std::vector<Result> results(n);
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([&, i] {
        ShopCustomer c(partner_port());
        for (auto [sku, page] :
             {std::pair{"TEA-1", "/products/TEA-1.html"}, std::pair{"ORIG-2", "/local.html"}}) {
          std::string added = c.Post("/shop/cart/add", std::string("sku=") + sku + "&qty=1", page);
          if (StatusOf(added) != 303) {
            results[i].first = added;
            return;
          }
        }
        const std::string form = c.CheckoutForm();
        ShopCustomer twin = c;  // the same browser, a second click
        std::thread again([&] { results[i].second = twin.Submit(form); });
        results[i].first = c.Submit(form);
        again.join();
      });
    }
    for (auto& t : threads) t.join();
    return results;
  };
  auto numbers = [](const std::string& page) {
    std::set<std::string> out;
    std::regex re("\\b(?:M|SHOPB)-\\d{6}\\b");
    for (auto it = std::sregex_iterator(page.begin(), page.end(), re); it != std::sregex_iterator();
         ++it) {
      out.insert(it->str());
    }
    return out;
  };

  int carts = 0;
  // Main answers.
  for (const Result& r : round(8)) {
    ++carts;
    ASSERT_EQ(StatusOf(r.first), 200) << r.first;
    ASSERT_EQ(StatusOf(r.second), 200) << r.second;
    EXPECT_EQ(numbers(BodyOf(r.first)).size(), 2u) << r.first;  // main's order and the partner's
    EXPECT_EQ(numbers(BodyOf(r.first)), numbers(BodyOf(r.second)));
    EXPECT_THAT(r.first, HasSubstr("2 orders, in all"));
  }
  // Main slow: stopped while the partner waits for it (its calls time out), resumed after.
  ASSERT_EQ(kill(main_pid, SIGSTOP), 0);
  std::vector<Result> slow = round(4);
  ASSERT_EQ(kill(main_pid, SIGCONT), 0);
  for (const Result& r : slow) {
    ++carts;
    ASSERT_EQ(StatusOf(r.first), 202) << r.first << partner_->output();
    EXPECT_THAT(r.first, HasSubstr("Order received"));
    EXPECT_EQ(BodyOf(r.first), BodyOf(r.second));
  }
  // Main down. "Order received" links the order's status page (never the idempotency key),
  // which waits for confirmation, then shows main's order number once it is delivered.
  ASSERT_EQ(main_->Stop(), 0);
  std::string status_path;
  for (const Result& r : round(4)) {
    ++carts;
    ASSERT_EQ(StatusOf(r.first), 202) << r.first;
    EXPECT_EQ(BodyOf(r.first), BodyOf(r.second));
    EXPECT_THAT(r.first, Not(HasSubstr("web:")));
    status_path = FirstMatch(r.first, "href=\"(/shop/received/[^\"]+)\"");
  }
  ASSERT_FALSE(status_path.empty());
  std::string waiting = HttpGet(partner_port(), status_path);
  EXPECT_EQ(StatusOf(waiting), 200) << waiting;
  EXPECT_THAT(waiting, HasSubstr("waiting for confirmation"));
  EXPECT_THAT(waiting, HasSubstr("TEA-1"));
  EXPECT_EQ(StatusOf(HttpGet(partner_port(), "/shop/received/no-such-reference")), 404);
  StartMain();
  EXPECT_EQ(WaitForMainOrders(carts, 60), carts) << partner_->output();
  std::string confirmed;
  WaitFor([&] {  // the outbox is delivered on the partner's periodic task
    confirmed = HttpGet(partner_port(), status_path);
    return std::regex_search(confirmed, std::regex("\\bM-\\d{6}\\b"));
  });
  EXPECT_THAT(confirmed, Not(HasSubstr("waiting for confirmation"))) << confirmed;
  EXPECT_TRUE(std::regex_search(confirmed, std::regex("\\bM-\\d{6}\\b"))) << confirmed;

  // Each main order holds the one tie-up line; each partner order the one original line.
  const std::string at_main = MainOrders();
  std::set<std::string> main_numbers = numbers(at_main);
  EXPECT_EQ(static_cast<int>(main_numbers.size()), carts) << at_main;
  for (const std::string& n : main_numbers) {
    std::string shown = Run({"main", "order", "show", main_dir_, n}).output;
    EXPECT_EQ(CountMatches(shown, "TEA-1"), 1) << shown;
  }
  const std::string at_partner = PartnerOrders();
  std::set<std::string> partner_numbers = numbers(at_partner);
  EXPECT_EQ(static_cast<int>(partner_numbers.size()), carts) << at_partner;
  for (const std::string& n : partner_numbers) {
    std::string shown = Run({"partner", "order", "show", shop_dir_, n}).output;
    EXPECT_THAT(shown, HasSubstr("ORIG-2")) << shown;
    EXPECT_THAT(shown, Not(HasSubstr("TEA-1"))) << shown;
  }
  // Stock moved once per cart: at main for the tie-up item, at the partner for its own.
  auto stock = [](const std::string& shown) { return FirstMatch(shown, R"(stock:\s+(\d+))"); };
  EXPECT_EQ(stock(Run({"main", "product", "show", main_dir_, "TEA-1"}).output),
            std::to_string(1000 - carts));
  EXPECT_EQ(stock(Run({"partner", "product", "show", shop_dir_, "ORIG-2"}).output),
            std::to_string(200 - carts));
}

// A browser posts the cart's forms with the Origin of the page (the shop pages' Referrer-Policy
// is same-origin: with no-referrer, Chromium sends "Origin: null" and every form was refused).
TEST_F(ShopIntegrationTest, CartFormsWorkWithTheOriginABrowserSends) {
  ShopCustomer c(partner_port());
  ASSERT_EQ(c.Add("ORIG-1", 1, "/local.html"), 303);
  std::string cart = c.Get("/shop/cart");
  ASSERT_EQ(StatusOf(cart), 200) << cart;
  EXPECT_EQ(HeaderOf(cart, "Referrer-Policy"), "same-origin");
  const std::string csrf = FirstMatch(cart, "name=\"csrf\" value=\"([^\"]+)\"");
  auto post = [&](const std::string& origin) {
    const std::string host = "127.0.0.1:" + std::to_string(partner_port());
    const std::string body = "csrf=" + csrf + "&sku=ORIG-1&qty=2";
    std::string req = "POST /shop/cart/update HTTP/1.1\r\nHost: " + host +
                      "\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded"
                      "\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\nOrigin: " + origin +
                      "\r\nCookie: " + c.CookieHeader() + "\r\n\r\n" + body;
    return RawExchange(partner_port(), req, 15000);
  };
  EXPECT_EQ(StatusOf(post("http://127.0.0.1:" + std::to_string(partner_port()))), 303);
  EXPECT_EQ(StatusOf(post("https://evil.example")), 403);
}

TEST_F(ShopIntegrationTest, ConsultRefusalIsShownAndNothingChanges) {
  ShopCustomer c(partner_port());
  ASSERT_EQ(c.Add("GIFT-1", 5, "/products/GIFT-1.html"), 303);
  // Main sells the last units elsewhere: its answer to the consultation is a refusal.
  Run({"main", "product", "set-stock", main_dir_, "GIFT-1", "2"});
  std::string r = c.Checkout();
  EXPECT_EQ(StatusOf(r), 409) << r;
  EXPECT_THAT(r, HasSubstr("Order refused"));
  EXPECT_THAT(c.Get("/shop/cart"), HasSubstr("GIFT-1"));  // still in the cart
  EXPECT_THAT(PartnerOrders(), Not(HasSubstr("SHOPB-")));
}

TEST_F(ShopIntegrationTest, DelegatedRefusalIsShownAndTheCartKeepsItsLines) {
  ShopCustomer c(partner_port());
  ASSERT_EQ(c.Add("TEA-1", 5, "/products/TEA-1.html"), 303);
  Run({"main", "product", "set-stock", main_dir_, "TEA-1", "2"});
  std::string r = c.Checkout();
  EXPECT_EQ(StatusOf(r), 409) << r;
  EXPECT_THAT(r, HasSubstr("Order refused"));
  EXPECT_THAT(c.Get("/shop/cart"), HasSubstr("TEA-1"));
  EXPECT_EQ(MainOrderCount(), 0);
}

TEST_F(ShopIntegrationTest, HundredOrdersWhileMainIsDownReachMainExactlyOnce) {
  main_->Stop();
  for (int i = 0; i < 100; ++i) {
    ShopCustomer c(partner_port());
    ASSERT_EQ(c.Add("TEA-1", 1, "/products/TEA-1.html"), 303);
    std::string r = c.Checkout();
    ASSERT_EQ(StatusOf(r), 202) << r;
    ASSERT_THAT(r, HasSubstr("Order received"));
  }
  StartMain();
  EXPECT_EQ(WaitForMainOrders(100, 60), 100) << partner_->output();
  // Every order is acknowledged in the partner's outbox, so no later delivery round resends one;
  // main still holds exactly 100.
  auto db = OpenSqlite(SitePaths(shop_dir_).database());
  ASSERT_TRUE(db.ok());
  auto undelivered = [&] {
    auto rows =
        (*db)->Query("SELECT count(*) FROM shop_delegated_orders WHERE state <> 'delivered'", {});
    return rows.ok() ? (*rows)[0].Int(0) : -1;
  };
  EXPECT_TRUE(WaitFor([&] { return undelivered() == 0; }, std::chrono::seconds(30)))
      << undelivered();
  EXPECT_EQ(MainOrderCount(), 100);
  EXPECT_THAT(Run({"main", "product", "show", main_dir_, "TEA-1"}).output, HasSubstr("900"));
}

TEST_F(ShopIntegrationTest, OrderAcceptedJustBeforeThePartnerIsKilledReachesMain) {
  main_->Stop();
  ShopCustomer c(partner_port());
  ASSERT_EQ(c.Add("TEA-1", 2, "/products/TEA-1.html"), 303);
  std::string r = c.Checkout();
  ASSERT_EQ(StatusOf(r), 202) << r;
  pid_t pid = ChildServing(shop_dir_);
  ASSERT_GT(pid, 0);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  partner_.reset();
  StartMain();
  EXPECT_EQ(MainOrderCount(), 0);
  StartPartner();
  EXPECT_EQ(WaitForMainOrders(1, 30), 1) << partner_->output();
  EXPECT_THAT(Run({"main", "product", "show", main_dir_, "TEA-1"}).output, HasSubstr("998"));
}

TEST_F(ShopIntegrationTest, ReplayedOrAlteredSignedRequestsAreRefused) {
  auto config = LoadSiteConfig(*env_, shop_dir_);
  ASSERT_TRUE(config.ok());
  auto client = MainShopClient::Open(*env_, shop_dir_, *config);
  ASSERT_TRUE(client.ok()) << client.status().message();
  commerce::OrderRequest order;
  order.channel = "main";  // a lie: main takes the channel from the verified peer
  order.area = commerce::Area::kTieup;
  order.idempotency_key = "signed-test-0001";
  order.payment_method = "cash_on_delivery";
  order.customer = {"Ada", "1 Way", "", "10115", "Berlin", "DE", "ada@example.org", ""};
  order.lines.push_back({"TEA-1", 1, std::nullopt, std::nullopt, std::nullopt, std::nullopt});
  auto signed_req = (*client)->SignedPost("/v1/orders", commerce::OrderRequestToJson(order));
  ASSERT_TRUE(signed_req.ok());

  auto first = (*client)->Send(*signed_req);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->status(), 200) << first->body();
  auto replay = (*client)->Send(*signed_req);
  ASSERT_TRUE(replay.ok());
  EXPECT_EQ(replay->status(), 409) << replay->body();
  EXPECT_THAT(std::string(replay->body()), HasSubstr("replay"));

  // The same signature on another body (5 units instead of 1).
  order.lines[0].quantity = 5;
  HttpRequest altered("POST", "/v1/orders");
  for (const HttpHeaderView& h : signed_req->Headers()) altered.AddHeader(h.name, h.value);
  altered.SetBody(commerce::OrderRequestToJson(order));
  auto refused = (*client)->Send(altered);
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->status(), 401) << refused->body();

  // No signature at all.
  HttpRequest bare("POST", "/v1/orders");
  bare.AddHeader("Content-Type", "application/json");
  bare.SetBody(commerce::OrderRequestToJson(order));
  auto unsigned_reply = (*client)->Send(bare);
  ASSERT_TRUE(unsigned_reply.ok());
  EXPECT_EQ(unsigned_reply->status(), 401) << unsigned_reply->body();

  // Exactly one order, for 1 unit, on channel shop-b.
  EXPECT_EQ(MainOrderCount(), 1);
  EXPECT_THAT(Run({"main", "product", "show", main_dir_, "TEA-1"}).output, HasSubstr("999"));
}

// The catalog is the one source of prices on pages: a price changed at main (by its manager's
// command, another process) is what the next page shows at main and at the partner, and a
// customer who opened the checkout before the change confirms the new total before anything is
// ordered; main itself refuses a delegated line whose price is not the one the partner showed.
TEST_F(ShopIntegrationTest, APriceChangedAtMainIsShownEverywhereAndConfirmedBeforeCharging) {
  const std::string page = main_dir_ + "/authoring/pages/products/sencha.md";
  ASSERT_TRUE(WriteFileAtomic(*env_, page,
                              "---\ntitle: Sencha\nproducts: TEA-1\n---\n# {{product.title}}\n\n"
                              "Price: <b class=\"price\">{{product.price}}</b> "
                              "({{product.stock_state}})\n")
                  .ok());
  Run({"main", "publish", main_dir_, "--all"});
  auto shows = [&](int port, const std::string& text) {
    return HttpGet(port, "/products/sencha.html").find(text) != std::string::npos;
  };
  ASSERT_TRUE(WaitFor([&] { return shows(partner_port(), "€12.50</b> (In stock)"); }))
      << HttpGet(partner_port(), "/products/sencha.html");
  EXPECT_TRUE(shows(main_->port(), "€12.50</b> (In stock)"));

  ShopCustomer c(partner_port());
  ASSERT_EQ(c.Add("TEA-1", 2, "/products/sencha.html"), 303);
  const std::string form = c.CheckoutForm();
  ASSERT_THAT(form, HasSubstr("seen_total=2500"));

  Run({"main", "product", "set-price", main_dir_, "TEA-1", "15.00"});
  // Main's daemon publishes the change: main's page and the partner's show the new price.
  EXPECT_TRUE(WaitFor([&] { return shows(main_->port(), "€15.00</b>"); }))
      << HttpGet(main_->port(), "/products/sencha.html") << main_->output();
  EXPECT_TRUE(WaitFor([&] { return shows(partner_port(), "€15.00</b>"); }))
      << HttpGet(partner_port(), "/products/sencha.html") << main_->output();

  // The form from before the change: shown again with the new total, nothing ordered.
  std::string r = c.Submit(form);
  EXPECT_EQ(StatusOf(r), 409) << r;
  EXPECT_THAT(r, HasSubstr("it is now <strong>€30.00</strong> (it was €25.00)"));
  EXPECT_EQ(MainOrderCount(), 0);
  // Confirmed: main places the order at the price shown last.
  const std::string seen = FirstMatch(r, "name=\"seen_total\" value=\"([^\"]+)\"");
  EXPECT_EQ(seen, "3000");
  r = c.Submit(std::regex_replace(form, std::regex("seen_total=2500"), "seen_total=" + seen));
  EXPECT_EQ(StatusOf(r), 200) << r;
  EXPECT_THAT(r, HasSubstr("€30.00"));
  ASSERT_EQ(MainOrderCount(), 1);
  EXPECT_THAT(MainOrders(), HasSubstr("€30.00"));

  // A partner whose page showed another price than main's: main refuses, and says why.
  auto config = LoadSiteConfig(*env_, shop_dir_);
  ASSERT_TRUE(config.ok());
  auto client = MainShopClient::Open(*env_, shop_dir_, *config);
  ASSERT_TRUE(client.ok()) << client.status().message();
  commerce::OrderRequest order;
  order.area = commerce::Area::kTieup;
  order.idempotency_key = "stale-price-0001";
  order.payment_method = "cash_on_delivery";
  order.customer = {"Ada", "1 Way", "", "10115", "Berlin", "DE", "ada@example.org", ""};
  order.lines.push_back({"TEA-1", 1, std::nullopt, std::nullopt, std::nullopt, 1250});
  auto refused = (*client)->PlaceOrder(order);
  EXPECT_EQ(refused.status().code(), StatusCode::kAborted) << refused.status().message();
  EXPECT_THAT(refused.status().message(), HasSubstr("changed from €12.50 to €15.00"));
  EXPECT_EQ(MainOrderCount(), 1);
}

// A shop whose public address is HTTPS (behind a TLS proxy: shop.public_url) marks the cart's
// cookies Secure; a plain-HTTP one cannot (the browser would drop them).
TEST_F(ShopIntegrationTest, BehindHttpsTheCartCookiesAreSecure) {
  ShopCustomer plain(partner_port());
  std::string r = plain.Post("/shop/cart/add", "sku=TEA-1&qty=1", "/products/TEA-1.html");
  ASSERT_EQ(StatusOf(r), 303) << r;
  EXPECT_THAT(r, Not(HasSubstr("; Secure")));

  partner_.reset();
  auto toml = env_->ReadFile(shop_dir_ + "/site.toml");
  ASSERT_TRUE(toml.ok());
  std::string text = *toml;
  const size_t at = text.find("\n[variables]\n");
  ASSERT_NE(at, std::string::npos) << text;
  text.insert(at + 13, "\"shop.public_url\" = \"https://shop-b.example\"\n");
  ASSERT_TRUE(WriteFileAtomic(*env_, shop_dir_ + "/site.toml", text, 0600).ok());
  StartPartner();
  ShopCustomer secure(partner_port());
  r = secure.Post("/shop/cart/add", "sku=TEA-1&qty=1", "/products/TEA-1.html");
  ASSERT_EQ(StatusOf(r), 303) << r;
  EXPECT_THAT(r, HasSubstr("Set-Cookie: tieup_cart="));
  EXPECT_EQ(CountMatches(r, "Set-Cookie: [^\r]*; Secure"), 2) << r;  // the cart and its count
}

TEST_F(ShopIntegrationTest, BadInputOverHttpIsA4xxAndChangesNothing) {
  ShopCustomer c(partner_port());
  ASSERT_EQ(c.Add("TEA-1", 1, "/products/TEA-1.html"), 303);
  const std::string products_before = Run({"partner", "product", "ls", shop_dir_}).output;
  const std::string cart_before = BodyOf(c.Get("/shop/cart"));
  struct Case {
    std::string path, body, type;
    int want;  // 0: any 4xx
  };
  const std::string form = "application/x-www-form-urlencoded";
  const std::vector<Case> cases = {
      {"/shop/cart/add", "sku=TEA-1&qty=-1", form, 400},
      {"/shop/cart/add", "sku=TEA-1&qty=0", form, 400},
      {"/shop/cart/add", "sku=TEA-1&qty=100000", form, 400},
      {"/shop/cart/add", "sku=TEA-1&qty=99999999999999999999", form, 400},
      {"/shop/cart/add", "sku=NOPE-9&qty=1", form, 404},
      {"/shop/cart/add", "qty=1", form, 400},
      // Broken URL encoding: the WAF refuses it (CRS 920240) before the shop sees it.
      {"/shop/cart/add", "sku=TEA-1&qty=%zz", form, 403},
      {"/shop/cart/add", "sku=TEA-1&sku=GIFT-1&qty=1", form, 400},
      {"/shop/cart/add", "{\"sku\":\"TEA-1\"}", "application/json", 415},
      {"/shop/cart/add", "sku=TEA-1&qty=1&pad=" + std::string(40000, 'x'), form, 413},
      {"/shop/checkout", "csrf=wrong&idem=abcdefgh1234&name=Ada", form, 0},
      {"/shop/checkout", "not a form %", form, 0},
      {"/shop/checkout", "{}", "application/json", 415},
  };
  for (const Case& k : cases) {
    std::string r = c.Post(k.path, k.body, "/products/TEA-1.html", k.type);
    if (k.want == 0) {
      EXPECT_GE(StatusOf(r), 400) << k.path << " " << k.body << "\n" << r;
      EXPECT_LT(StatusOf(r), 500) << k.path << " " << k.body << "\n" << r;
    } else {
      EXPECT_EQ(StatusOf(r), k.want) << k.path << " " << k.body.substr(0, 60) << "\n" << r;
    }
  }
  // A checkout with missing customer fields: the form again with what to fix, nothing ordered.
  std::string page = c.Get("/shop/checkout");
  std::string csrf = FirstMatch(page, "name=\"csrf\" value=\"([^\"]+)\"");
  ASSERT_FALSE(csrf.empty()) << page;
  std::string r =
      c.Post("/shop/checkout", "csrf=" + csrf + "&idem=abcdefgh1234&name=&payment=cash_on_delivery",
             "/shop/checkout");
  EXPECT_GE(StatusOf(r), 400) << r;
  EXPECT_LT(StatusOf(r), 500) << r;

  EXPECT_EQ(MainOrderCount(), 0);
  EXPECT_THAT(PartnerOrders(), Not(HasSubstr("SHOPB-")));
  EXPECT_EQ(Run({"partner", "product", "ls", shop_dir_}).output, products_before);
  EXPECT_EQ(BodyOf(c.Get("/shop/cart")), cart_before);
  EXPECT_THAT(Run({"main", "product", "show", main_dir_, "TEA-1"}).output, HasSubstr("1000"));
  // The routing table is not served to browsers.
  EXPECT_EQ(StatusOf(HttpGet(partner_port(), "/.tieup/routing.json")), 404);
}

}  // namespace
}  // namespace tieup::testing
