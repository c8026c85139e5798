// Integration: the customer pages the sites make at run time (cart, checkout, thank-you on every
// route, "order received", sign-in) wear main's layout: on the partner with the partner's name,
// with the cart's count in the header; and main restyles them everywhere by publishing a
// template. Two real `tieup` daemons on loopback.
#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <thread>

#include "base/env.h"
#include "daemon_harness.h"
#include "shop_customer.h"
#include "test_support.h"

namespace tieup::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Main's layout: its brand, the partner's name on partners, the cart link with its count.
constexpr char kLayout[] =
    "<!doctype html><html><head><title>{{title}} | {{site.name}}</title></head><body>"
    "<header class=\"brand\">Tea House Brand{{#partner.name}} at {{partner.name}}"
    "{{/partner.name}} <a href=\"/shop/cart\">Cart <span data-cart-count>{{cart_count}}</span>"
    "</a></header><main>{{{content}}}</main></body></html>\n";

constexpr char kRouting[] = R"({"rules": [
  {"name": "main sells tie-up goods", "path": "/shop/checkout", "methods": ["POST"],
   "mode": "delegate"}]})";

// The brand as the partner's pages show it.
constexpr char kPartnerBrand[] = "<header class=\"brand\">Tea House Brand at Shop B <a";

class BrandedPagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    main_dir = dir.Sub("main");
    shop_dir = dir.Sub("shop-b");
    const int main_sync = FreePort(), partnersync = FreePort();
    ASSERT_NE(main_sync, 0);
    ASSERT_NE(partnersync, 0);
    Run({"main", "init", main_dir, "--name", "Tea House", "--public", "127.0.0.1:0", "--sync",
         "127.0.0.1:" + std::to_string(main_sync)});
    Write("authoring/layouts/default.mustache", kLayout);
    Write("authoring/pages/.tieup/routing.json", kRouting);
    Write("authoring/pages/products/TEA-1.md",
          "---\ntitle: Sencha\n---\n# Sencha\n\n<form method=\"post\" action=\"/shop/cart/add\">"
          "<input type=\"hidden\" name=\"sku\" value=\"TEA-1\"><button>Add</button></form>\n");
    Run({"main", "product", "add", main_dir, "--sku", "TEA-1", "--title", "Sencha", "--price",
         "12.50", "--stock", "100", "--page", "/products/TEA-1.html"});
    Run({"main", "build", main_dir});
    ASSERT_TRUE(LiftPerClientRequestRate(main_dir));
    main_ = std::make_unique<Daemon>(std::vector<std::string>{"main", "serve", main_dir});
    ASSERT_TRUE(main_->ok()) << main_->output();

    auto r = Run({"main", "partner", "add", main_dir, "--id", "shop-b", "--name", "Shop B",
                  "--public-url", "http://shop-b.example/", "--sync-url",
                  "https://127.0.0.1:" + std::to_string(partnersync)});
    const std::string code = FirstMatch(r.output, R"(--token (\S+))");
    ASSERT_FALSE(code.empty()) << r.output;
    Run({"partner", "init", shop_dir, "--id", "shop-b", "--name", "Shop B", "--public",
         "127.0.0.1:0", "--sync", "127.0.0.1:" + std::to_string(partnersync), "--main",
         "https://127.0.0.1:" + std::to_string(main_sync), "--token", code});
    Run({"partner", "product", "add", shop_dir, "--sku", "ORIG-1", "--title", "Wagashi", "--price",
         "4.00", "--stock", "50"});
    const std::string original = dir.Sub("original");
    ASSERT_TRUE(CreateDirs(*env_, original).ok());
    ASSERT_TRUE(WriteFileAtomic(*env_, original + "/local.html", "<h1>Our wagashi</h1>").ok());
    Run({"partner", "page", "put", shop_dir, "/", original});
    ASSERT_TRUE(LiftPerClientRequestRate(shop_dir));
    partner = std::make_unique<Daemon>(std::vector<std::string>{"partner", "serve", shop_dir});
    ASSERT_TRUE(partner->ok()) << partner->output();
    Run({"main", "publish", main_dir, "--all"});
    ASSERT_TRUE(WaitForPartner("/products/TEA-1.html", "Sencha")) << partner->output();
  }

  void Write(const std::string& rel, const std::string& text) {
    const std::string path = main_dir + "/" + rel;
    ASSERT_TRUE(CreateDirs(*env_, DirName(path)).ok());
    ASSERT_TRUE(WriteFileAtomic(*env_, path, text).ok());
  }

  CommandResult Run(const std::vector<std::string>& args) {
    CommandResult r = RunTieup(args);
    EXPECT_EQ(r.exit_code, 0) << args[0] << " " << args[1] << ": " << r.output;
    return r;
  }

  // Polls (up to 20 s) until the partner's `path` holds `text`.
  bool WaitForPartner(const std::string& path, const std::string& text) {
    return WaitFor(partner->port(), path, text);
  }
  bool WaitFor(int port, const std::string& path, const std::string& text) {
    return ::tieup::testing::WaitFor(
        [&] {
          std::string r = HttpGet(port, path);
          return StatusOf(r) == 200 && r.find(text) != std::string::npos;
        },
        std::chrono::seconds(20));
  }

  std::unique_ptr<Env> env_ = NewPosixEnv();
  TempDir dir;
  std::string main_dir, shop_dir;
  std::unique_ptr<Daemon> main_, partner;
};

TEST_F(BrandedPagesTest, ThePartnersShopAndAccountPagesWearMainsLayout) {
  ShopCustomer c(partner->port());
  std::string r = c.Post("/shop/cart/add", "sku=TEA-1&qty=2", "/products/TEA-1.html");
  ASSERT_EQ(StatusOf(r), 303) << r;
  EXPECT_THAT(r, HasSubstr("Set-Cookie: tieup_cart_count=2; Path=/;"));
  ASSERT_EQ(StatusOf(c.Post("/shop/cart/add", "sku=ORIG-1&qty=1", "/local.html")), 303);

  r = c.Get("/shop/cart");
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_THAT(r, HasSubstr("<title>Your cart | Tea House</title>"));
  EXPECT_THAT(r, HasSubstr(kPartnerBrand));
  EXPECT_THAT(r, HasSubstr("Cart <span data-cart-count>3</span>"));
  EXPECT_THAT(r, HasSubstr("<h1>Your cart</h1>"));
  EXPECT_EQ(HeaderOf(r, "Cache-Control"), "no-store");
  EXPECT_THAT(HeaderOf(r, "Content-Security-Policy"), HasSubstr("script-src 'self'"));

  r = c.Get("/shop/checkout");
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_THAT(r, HasSubstr(kPartnerBrand));
  EXPECT_THAT(r, HasSubstr("<h1>Checkout</h1>"));

  // The tie-up line is delegated to main, the original one ordered here: one thank-you page.
  r = c.Checkout();
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_THAT(r, HasSubstr("<title>Thank you | Tea House</title>"));
  EXPECT_THAT(r, HasSubstr(kPartnerBrand));
  EXPECT_THAT(r, HasSubstr("Thank you for your order"));
  EXPECT_THAT(r, HasSubstr("Processed by our main shop."));
  EXPECT_FALSE(FirstMatch(r, "(M-\\d{6})").empty()) << r;
  EXPECT_FALSE(FirstMatch(r, "(SHOPB-\\d{6})").empty()) << r;
  EXPECT_THAT(r, HasSubstr("2 orders, in all"));
  EXPECT_THAT(r, HasSubstr("Cart <span data-cart-count>0</span>"));
  EXPECT_THAT(r, HasSubstr("Set-Cookie: tieup_cart_count=0;"));

  // Main unreachable: "Order received", in the same layout.
  ASSERT_EQ(main_->Stop(), 0);
  ShopCustomer d(partner->port());
  ASSERT_EQ(StatusOf(d.Post("/shop/cart/add", "sku=TEA-1&qty=1", "/products/TEA-1.html")), 303);
  r = d.Checkout();
  ASSERT_EQ(StatusOf(r), 202) << r;
  EXPECT_THAT(r, HasSubstr(kPartnerBrand));
  EXPECT_THAT(r, HasSubstr("<h1>Order received</h1>"));

  // Sign-in and registration (at main, which is down: the pages say so), in the layout.
  r = HttpGet(partner->port(), "/account/login", {"Cookie: tieup_cart_count=5"});
  ASSERT_EQ(StatusOf(r), 503) << r;
  EXPECT_THAT(r, HasSubstr("<title>Please try again later | Tea House</title>"));
  EXPECT_THAT(r, HasSubstr(kPartnerBrand));
  EXPECT_THAT(r, HasSubstr("Cart <span data-cart-count>5</span>"));
  EXPECT_THAT(r, HasSubstr("Signing in is not available right now"));
  r = HttpGet(partner->port(), "/account/register");
  ASSERT_EQ(StatusOf(r), 503) << r;
  EXPECT_THAT(r, HasSubstr(kPartnerBrand));
  EXPECT_THAT(r, HasSubstr("Registration is not available right now"));

  // The machine files stay hidden.
  EXPECT_EQ(StatusOf(HttpGet(partner->port(), "/.tieup/page-shell.tmpl")), 404);
}

TEST_F(BrandedPagesTest, MainsOwnPagesWearItsLayoutAndMainRestylesEveryShopByPublishing) {
  std::string r = HttpGet(main_->port(), "/shop/cart");
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_THAT(r, HasSubstr("<header class=\"brand\">Tea House Brand <a"));  // no partner
  EXPECT_THAT(r, HasSubstr("<h1>Your cart</h1>"));
  EXPECT_EQ(StatusOf(HttpGet(main_->port(), "/.tieup/page-shell.tmpl")), 404);
  EXPECT_EQ(StatusOf(HttpGet(main_->port(), "/.tieup/routing.json")), 404);

  // Main ships its own cart template: the partner's cart page shows it after the publish.
  Write("authoring/pages/.tieup/templates/cart.mustache",
        "<h1 class=\"restyled\">Basket</h1>{{#empty}}<p>Nothing yet.</p>{{/empty}}");
  Run({"main", "publish", main_dir, "--all"});
  ASSERT_TRUE(WaitForPartner("/shop/cart", "<h1 class=\"restyled\">Basket</h1>"))
      << partner->output();
  r = HttpGet(partner->port(), "/shop/cart");
  EXPECT_THAT(r, HasSubstr(kPartnerBrand));
  EXPECT_THAT(r, HasSubstr("<p>Nothing yet.</p>"));
  // And on main's own site (the publish built it too).
  EXPECT_TRUE(WaitFor(main_->port(), "/shop/cart", "<h1 class=\"restyled\">Basket</h1>"));
}

}  // namespace
}  // namespace tieup::testing
