#include "commerce/shop_handler.h"

#include <gtest/gtest.h>

#include <regex>

#include "commerce/money.h"
#include "commerce/shop_pages.h"
#include "content/builder.h"
#include "content/content_store.h"
#include "content/site_view.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "test_database.h"
#include "test_support.h"

namespace tieup::commerce {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::tieup::testing::FakeClockEnv;
using ::tieup::testing::IsOk;
using ::tieup::testing::TempDir;

// The value of the hidden input `name` in `html`.
std::string HiddenValue(std::string_view html, std::string_view name) {
  std::string marker = "name=\"" + std::string(name) + "\" value=\"";
  size_t pos = html.find(marker);
  if (pos == std::string_view::npos) return "";
  pos += marker.size();
  return std::string(html.substr(pos, html.find('"', pos) - pos));
}

// "tieup_cart=..." from a Set-Cookie header.
std::string CookiePair(const HttpResponse& r) {
  auto v = r.FindHeader("Set-Cookie");
  if (!v) return "";
  return std::string(v->substr(0, v->find(';')));
}

// The Set-Cookie value for cookie `name`, or "".
std::string SetCookie(const HttpResponse& r, std::string_view name) {
  for (const auto& h : r.Headers()) {
    if (EqualsIgnoreCase(h.name, "Set-Cookie") && h.value.starts_with(std::string(name) + "=")) {
      return std::string(h.value);
    }
  }
  return "";
}

class ShopHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = ::tieup::testing::OpenTestDatabase(dir_.Sub("tieup.db"));
    ASSERT_THAT(db, IsOk());
    db_ = std::move(db).value();
    ShopConfig config;
    config.shop_name = "Mug Shop";
    auto shop = Shop::Open(env_, *db_, config,
                           {NewBankTransferProvider({"Shop GmbH", "DE89370400440532013000",
                                                     "COBADEFFXXX", "Commerzbank"}),
                            NewCashOnDeliveryProvider()});
    ASSERT_THAT(shop, IsOk());
    shop_ = std::move(shop).value();
    Product p;
    p.sku = "MUG-1";
    p.title = "Blue <mug> & \"co\"";
    p.page_path = "/products/mug.html";
    p.price_minor = 1250;
    p.currency = "EUR";
    p.tax_class = "standard";
    p.stock = 3;
    ASSERT_THAT(shop_->AddProduct(p), IsOk());
    ShopHandlerOptions options;
    handler_ = std::make_shared<ShopHandler>(*shop_, options);
  }

  HttpResponse Call(std::string_view method, std::string_view target, std::string body = "",
                    std::string_view cookie = {}, std::string_view origin = "http://shop.test",
                    std::string_view type = "application/x-www-form-urlencoded",
                    const ShopRequestContext& ctx = {}) {
    HttpRequest r(method, target);
    r.AddHeader("Host", "shop.test");
    if (!cookie.empty()) r.AddHeader("Cookie", cookie);
    if (!origin.empty()) r.AddHeader("Origin", origin);
    if (method == "POST") r.AddHeader("Content-Type", type);
    r.SetBody(std::move(body));
    return handler_->HandleRequest(r, ctx);
  }

  // Adds one mug and returns the cart cookie.
  std::string AddMug(int qty = 1) {
    HttpResponse r = Call("POST", "/shop/cart/add", "sku=MUG-1&qty=" + std::to_string(qty));
    EXPECT_EQ(r.status(), 303) << r.body();
    return CookiePair(r);
  }

  std::string CheckoutBody(const std::string& cookie, std::string_view fields) {
    HttpResponse page = Call("GET", "/shop/checkout", "", cookie);
    EXPECT_EQ(page.status(), 200);
    return "csrf=" + HiddenValue(page.body(), "csrf") +
           "&idem=" + HiddenValue(page.body(), "idem") +
           "&seen_total=" + HiddenValue(page.body(), "seen_total") +
           "&seen_prices=" + HiddenValue(page.body(), "seen_prices") + "&" + std::string(fields);
  }

  // The CSRF token for the cart behind `cookie` ("tieup_cart=TOKEN").
  static std::string HandlerCsrf(std::string_view cookie) {
    return ShopHandler::CsrfToken(cookie.substr(cookie.find('=') + 1));
  }

  int64_t Stock() { return shop_->GetProduct("MUG-1")->stock; }
  int64_t Orders() { return static_cast<int64_t>(shop_->ListOrders({})->size()); }

  static constexpr std::string_view kGoodFields =
      "name=Ada+Lovelace&address_line1=1+Analytical+Way&address_line2=&postal_code=10115&city="
      "Berlin&country=Germany&email=ada%40example.org&phone=&payment=bank_transfer";

  TempDir dir_;
  FakeClockEnv env_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<Shop> shop_;
  std::shared_ptr<ShopHandler> handler_;
};

TEST_F(ShopHandlerTest, EndToEndOverHttpWithCookies) {
  HttpServerOptions o;
  o.threads = 2;
  HttpServer server(env_, o, handler_);
  ASSERT_THAT(server.Start(), IsOk());
  HttpClient client("127.0.0.1", server.port());
  std::string origin = "http://127.0.0.1:" + std::to_string(server.port());

  HttpRequest add("POST", "/shop/cart/add");
  add.AddHeader("Content-Type", "application/x-www-form-urlencoded");
  add.AddHeader("Origin", origin);
  add.SetBody("sku=MUG-1&qty=2");
  auto added = client.Fetch(add);
  ASSERT_THAT(added, IsOk());
  EXPECT_EQ(added->status(), 303);
  EXPECT_EQ(added->FindHeader("Location"), "/shop/cart?added=MUG-1");
  std::string set_cookie(added->FindHeader("Set-Cookie").value_or(""));
  EXPECT_THAT(set_cookie, HasSubstr("tieup_cart="));
  EXPECT_THAT(set_cookie, HasSubstr("; Path=/"));
  EXPECT_THAT(set_cookie, HasSubstr("; HttpOnly"));
  EXPECT_THAT(set_cookie, HasSubstr("; SameSite=Lax"));
  std::string cookie = CookiePair(*added);

  HttpRequest cart_req("GET", "/shop/cart?added=MUG-1");
  cart_req.AddHeader("Cookie", "other=1; " + cookie);
  auto cart = client.Fetch(cart_req);
  ASSERT_THAT(cart, IsOk());
  EXPECT_EQ(cart->status(), 200);
  EXPECT_THAT(cart->body(), HasSubstr("Added <a href=\"/products/mug.html\">"));
  EXPECT_THAT(cart->body(), HasSubstr("Blue &lt;mug&gt; &amp; &quot;co&quot;"));
  EXPECT_THAT(cart->body(), Not(HasSubstr("<mug>")));
  EXPECT_THAT(cart->body(), HasSubstr(HtmlEscape(FormatMoney(2500, "EUR"))));
  EXPECT_THAT(cart->body(), Not(HasSubstr("reserved")));      // carts hold no stock
  EXPECT_THAT(cart->body(), Not(HasSubstr("left</small>")));  // enough in stock: nothing to warn of
  EXPECT_EQ(cart->FindHeader("Cache-Control"), "no-store");

  HttpRequest form_req("GET", "/shop/checkout");
  form_req.AddHeader("Cookie", cookie);
  auto form = client.Fetch(form_req);
  ASSERT_THAT(form, IsOk());
  ASSERT_EQ(form->status(), 200);
  std::string csrf = HiddenValue(form->body(), "csrf");
  std::string idem = HiddenValue(form->body(), "idem");
  EXPECT_FALSE(csrf.empty());
  EXPECT_FALSE(idem.empty());

  HttpRequest checkout("POST", "/shop/checkout");
  checkout.AddHeader("Cookie", cookie);
  checkout.AddHeader("Origin", origin);
  checkout.AddHeader("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8");
  checkout.SetBody("csrf=" + csrf + "&idem=" + idem + "&seen_total=" +
                   HiddenValue(form->body(), "seen_total") + "&" + std::string(kGoodFields));
  auto placed = client.Fetch(checkout);
  ASSERT_THAT(placed, IsOk());
  ASSERT_EQ(placed->status(), 200) << placed->body();
  EXPECT_THAT(placed->body(), HasSubstr("Your order number is <strong>M-000001</strong>"));
  EXPECT_THAT(placed->body(), HasSubstr("DE89370400440532013000"));
  EXPECT_THAT(placed->body(), HasSubstr(HtmlEscape(FormatMoney(2500, "EUR"))));
  EXPECT_EQ(placed->FindHeader("Referrer-Policy"), "no-referrer");

  // The browser resubmits (reload): the same order, not a second one.
  auto again = client.Fetch(checkout);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->status(), 200);
  EXPECT_THAT(again->body(), HasSubstr("M-000001"));
  EXPECT_EQ(Orders(), 1);

  size_t at = placed->body().find("/shop/orders/");
  ASSERT_NE(at, std::string::npos);
  std::string link(placed->body().substr(at, placed->body().find('"', at) - at));
  auto status_page = client.Fetch(HttpRequest("GET", link));
  ASSERT_THAT(status_page, IsOk());
  EXPECT_EQ(status_page->status(), 200);
  EXPECT_THAT(status_page->body(), HasSubstr("status: <strong>placed</strong>"));
  EXPECT_THAT(status_page->body(), HasSubstr("Ada Lovelace"));

  auto wrong = client.Fetch(HttpRequest("GET", "/shop/orders/M-000001?key=guess"));
  ASSERT_THAT(wrong, IsOk());
  EXPECT_EQ(wrong->status(), 404);
  EXPECT_EQ(Stock(), 1);
  server.Stop();
}

// The pages wear the layout of the site's release (its page shell), with the cart's count in
// the header, and the release may restyle any page by shipping its template.
TEST_F(ShopHandlerTest, AKnownCustomersCheckoutStartsWithTheirDetails) {
  ShopHandlerOptions options;
  options.known_customer = [](const HttpRequest& r) -> std::optional<Customer> {
    if (r.HeaderOr("Cookie").find("signed_in=1") == std::string_view::npos) return std::nullopt;
    return Customer{"Ada <L>", "1 Analytical Way", "", "10115", "Berlin",
                    "Germany", "ada@example.org",  ""};
  };
  handler_ = std::make_shared<ShopHandler>(*shop_, options);
  const std::string cookie = AddMug();
  const std::string visitor(Call("GET", "/shop/checkout", "", cookie).body());
  EXPECT_THAT(visitor, HasSubstr("autocomplete=\"address-level2\" value=\"\""));
  const std::string known(Call("GET", "/shop/checkout", "", cookie + "; signed_in=1").body());
  EXPECT_THAT(known, HasSubstr("value=\"Ada &lt;L&gt;\""));
  EXPECT_THAT(known, HasSubstr("value=\"Berlin\""));
  EXPECT_THAT(known, HasSubstr("value=\"ada@example.org\""));
  // The customer may still change any of it: what is posted is what the order gets.
  HttpResponse placed =
      Call("POST", "/shop/checkout", CheckoutBody(cookie + "; signed_in=1", kGoodFields), cookie);
  ASSERT_EQ(placed.status(), 200) << placed.body();
  EXPECT_EQ(shop_->ListOrders({})->at(0).customer.name, "Ada Lovelace");
}

TEST_F(ShopHandlerTest, RendersInTheSiteLayoutAndTakesTheReleasesTemplates) {
  auto env = NewPosixEnv();
  auto store = content::ContentStore::Open(*env, dir_.Sub("site"), {.site_id = "main"});
  ASSERT_THAT(store, IsOk());
  auto write = [&](const std::string& rel, const std::string& text) {
    ASSERT_THAT(CreateDirs(*env, DirName(dir_.Sub(rel))), IsOk());
    ASSERT_THAT(WriteFileAtomic(*env, dir_.Sub(rel), text), IsOk());
  };
  write("author/layouts/default.mustache",
        "<html><title>{{title}} | {{site.name}}</title><header>Mug World <a "
        "href=/shop/cart>Cart ({{cart_count}})</a></header>{{{content}}}</html>");
  write("author/pages/.tieup/templates/problem.mustache",
        "<div class=oops>{{heading}}: {{message}}</div>");
  std::shared_ptr<const content::SiteView> view;
  uint64_t version = 0;
  auto publish = [&] {
    content::BuildOptions o;
    o.authoring_dir = dir_.Sub("author");
    o.area = content::Area::kOriginal;
    o.site = "main";
    o.version = ++version;
    o.variables = {{"site.name", "Mugs & More"}};
    auto m = content::BuildRelease(*env, (*store)->blobs(), o);
    ASSERT_THAT(m, IsOk());
    ASSERT_THAT((*store)->Stage(*m), IsOk());
    ASSERT_THAT((*store)->Activate(content::Area::kOriginal, version), IsOk());
    auto loaded = content::SiteView::Load(**store);
    ASSERT_THAT(loaded, IsOk());
    view = *loaded;
  };
  publish();
  ShopHandlerOptions options;
  options.site.view = [&] { return view; };
  options.site.area = content::Area::kOriginal;
  handler_ = std::make_shared<ShopHandler>(*shop_, options);

  std::string cookie = AddMug(2);
  HttpResponse r = Call("GET", "/shop/cart", "", cookie);
  EXPECT_EQ(r.status(), 200);
  EXPECT_THAT(r.body(), HasSubstr("<html><title>Your cart | Mugs &amp; More</title><header>Mug "
                                  "World <a href=/shop/cart>Cart (2)</a></header><h1>Your cart"));
  EXPECT_THAT(r.body(), HasSubstr("Blue &lt;mug&gt; &amp; &quot;co&quot;"));
  // The release's problem template; the count from the cookie on a page without the cart.
  r = Call("GET", "/shop/nothing", "", "tieup_cart_count=7");
  EXPECT_EQ(r.status(), 404);
  EXPECT_THAT(r.body(), HasSubstr("Cart (7)"));
  EXPECT_THAT(r.body(), HasSubstr("<div class=oops>Page not found: There is no shop page"));
  // Publishing another layout restyles the next page.
  write("author/layouts/default.mustache", "<body class=v2>{{{content}}}</body>");
  publish();
  r = Call("GET", "/shop/checkout", "", cookie);
  EXPECT_EQ(r.status(), 200);
  EXPECT_THAT(r.body(), ::testing::StartsWith("<body class=v2><h1>Checkout</h1>"));
  handler_.reset();
}

// Without a release: the built-in shell, with a header linking the cart.
TEST_F(ShopHandlerTest, WithoutAReleaseTheBuiltInShell) {
  HttpResponse r = Call("GET", "/shop/cart");
  EXPECT_EQ(r.status(), 200);
  EXPECT_THAT(r.body(), HasSubstr("<title>Your cart · Mug Shop</title>"));
  EXPECT_THAT(r.body(), HasSubstr("<h1>Your cart</h1>"));
  EXPECT_THAT(r.body(), HasSubstr("Your cart is empty"));
  EXPECT_THAT(r.body(), HasSubstr("href=\"/shop/cart\">Cart"));
}

// Every change of the cart sets the count cookie the layout's script reads on static pages.
TEST_F(ShopHandlerTest, TheCartCountCookieFollowsTheCart) {
  HttpResponse r = Call("POST", "/shop/cart/add", "sku=MUG-1&qty=2");
  ASSERT_EQ(r.status(), 303);
  std::string cookie = CookiePair(r);
  std::string count = SetCookie(r, "tieup_cart_count");
  EXPECT_THAT(count, ::testing::StartsWith("tieup_cart_count=2; Path=/;"));
  EXPECT_THAT(count, HasSubstr("SameSite=Lax"));
  EXPECT_THAT(count, Not(HasSubstr("HttpOnly")));  // the layout's script reads it
  r = Call("POST", "/shop/cart/update", "csrf=" + HandlerCsrf(cookie) + "&sku=MUG-1&qty=3", cookie);
  EXPECT_THAT(SetCookie(r, "tieup_cart_count"), ::testing::StartsWith("tieup_cart_count=3;"));
  // The cart page fills the header itself and puts a stale cookie right.
  r = Call("GET", "/shop/cart", "", cookie + "; tieup_cart_count=9");
  EXPECT_THAT(r.body(), HasSubstr("data-cart-count>3</span>"));
  EXPECT_THAT(SetCookie(r, "tieup_cart_count"), ::testing::StartsWith("tieup_cart_count=3;"));
  r = Call("GET", "/shop/cart", "", cookie + "; tieup_cart_count=3");
  EXPECT_EQ(SetCookie(r, "tieup_cart_count"), "");
  // After the order: an empty cart.
  r = Call("POST", "/shop/checkout", CheckoutBody(cookie, kGoodFields), cookie);
  ASSERT_EQ(r.status(), 200) << r.body();
  EXPECT_THAT(SetCookie(r, "tieup_cart_count"), ::testing::StartsWith("tieup_cart_count=0;"));
  EXPECT_THAT(r.body(), HasSubstr("data-cart-count>0</span>"));
  r = Call("POST", "/shop/cart/remove", "csrf=" + HandlerCsrf(cookie) + "&sku=MUG-1", cookie);
  EXPECT_EQ(SetCookie(r, "tieup_cart_count"), "");  // nothing to remove: unchanged
}

// Each built-in template renders (a broken one would only show at run time).
TEST_F(ShopHandlerTest, EveryBuiltInTemplateParses) {
  content::PageTemplates t(ShopPageTemplates(), {});
  for (const auto& [name, text] : ShopPageTemplates()) {
    EXPECT_THAT(t.RenderBody(name, boost::json::object{}), IsOk()) << name;
  }
}

TEST_F(ShopHandlerTest, CartUpdateAndRemove) {
  std::string cookie = AddMug(1);
  std::string csrf = HandlerCsrf(cookie);
  HttpResponse r = Call("POST", "/shop/cart/update", "csrf=" + csrf + "&sku=MUG-1&qty=3", cookie);
  EXPECT_EQ(r.status(), 303);
  EXPECT_EQ(Stock(), 3);
  r = Call("POST", "/shop/cart/update", "csrf=" + csrf + "&sku=MUG-1&qty=4", cookie);
  EXPECT_EQ(r.status(), 409);
  EXPECT_THAT(r.body(), HasSubstr("only 3 of"));
  r = Call("POST", "/shop/cart/update", "csrf=" + csrf + "&sku=MUG-1&qty=21", cookie);
  EXPECT_EQ(r.status(), 400);
  EXPECT_THAT(r.body(), HasSubstr("at most 20 of"));
  r = Call("POST", "/shop/cart/remove", "csrf=" + csrf + "&sku=MUG-1", cookie);
  EXPECT_EQ(r.status(), 303);
  EXPECT_EQ(Stock(), 3);
}

TEST_F(ShopHandlerTest, RefusesMalformedAddForms) {
  struct Case {
    std::string body;
    int status;
    std::string message;
  };
  std::vector<Case> cases = {
      {"sku=MUG-1&qty=%zz", 400, "percent-escape"},
      {"sku=MUG-1&qty=1&qty=2", 400, "more than once"},
      {"qty=1", 400, "lacks the field &#39;sku&#39;"},
      {"sku=MUG-1", 400, "lacks the field &#39;qty&#39;"},
      {"sku=MUG-1&qty=-1", 400, "whole number from 1 to 999"},
      {"sku=MUG-1&qty=0", 400, "whole number from 1 to 999"},
      {"sku=MUG-1&qty=1000", 400, "whole number from 1 to 999"},
      {"sku=MUG-1&qty=99999999999999999999", 400, "whole number"},
      {"sku=MUG-1&qty=1.5", 400, "whole number"},
      {"sku=MUG-1&qty=%2B1", 400, "whole number"},
      {"sku=NOPE&qty=1", 404, "We have no product"},
      {"sku=MUG-1&qty=4", 409, "only 3 of"},
      {"sku=MUG-1&qty=21", 400, "you can order at most 20 of"},
      {"sku=MUG-1&qty=1&x=%00", 400, "control characters"},
      {"sku=MUG-1&qty=1&x=%C3%28", 400, "UTF-8"},
      {"sku=MUG-1&qty=1&pad=" + std::string(20000, 'a'), 413, "at most"},
  };
  for (const Case& c : cases) {
    HttpResponse r = Call("POST", "/shop/cart/add", c.body);
    EXPECT_EQ(r.status(), c.status) << c.body.substr(0, 60);
    EXPECT_THAT(r.body(), HasSubstr(c.message)) << c.body.substr(0, 60);
    EXPECT_FALSE(r.FindHeader("Set-Cookie").has_value()) << c.body.substr(0, 60);
  }
  HttpResponse wrong_type = Call("POST", "/shop/cart/add", "{\"sku\":\"MUG-1\"}", {},
                                 "http://shop.test", "application/json");
  EXPECT_EQ(wrong_type.status(), 415);
  EXPECT_EQ(Stock(), 3);
  auto lines = db_->Query("SELECT count(*) FROM commerce_cart_lines");
  EXPECT_EQ((*lines)[0].Int(0), 0);
}

TEST_F(ShopHandlerTest, RefusesCrossSitePosts) {
  HttpResponse r = Call("POST", "/shop/cart/add", "sku=MUG-1&qty=1", {}, "https://evil.example");
  EXPECT_EQ(r.status(), 403);
  EXPECT_THAT(r.body(), HasSubstr("evil.example"));
  r = Call("POST", "/shop/cart/add", "sku=MUG-1&qty=1", {}, "null");
  EXPECT_EQ(r.status(), 403);
  EXPECT_EQ(Stock(), 3);
  // No Origin header at all (curl, old browsers): accepted for add.
  r = Call("POST", "/shop/cart/add", "sku=MUG-1&qty=1", {}, "");
  EXPECT_EQ(r.status(), 303);

  // Update without (or with a wrong) CSRF token: refused even from the same origin.
  std::string cookie = CookiePair(r);
  r = Call("POST", "/shop/cart/update", "sku=MUG-1&qty=2", cookie);
  EXPECT_EQ(r.status(), 400);  // the csrf field is missing
  r = Call("POST", "/shop/cart/update", "csrf=forged&sku=MUG-1&qty=2", cookie);
  EXPECT_EQ(r.status(), 403);
  // A valid token for another cart does not work either.
  std::string other = AddMug(1);
  r = Call("POST", "/shop/cart/update", "csrf=" + HandlerCsrf(other) + "&sku=MUG-1&qty=2", cookie);
  EXPECT_EQ(r.status(), 403);
  auto units = db_->Query("SELECT sum(quantity) FROM commerce_cart_lines");
  EXPECT_EQ((*units)[0].Int(0), 2);  // one mug in each cart, neither changed
}

TEST_F(ShopHandlerTest, CheckoutShowsPerFieldMessagesAndKeepsValues) {
  std::string cookie = AddMug(1);
  std::string body = CheckoutBody(
      cookie,
      "name=%3Cscript%3Ealert(1)%3C%2Fscript%3E&address_line1=&postal_code=10115&city=Berlin&"
      "country=Germany&email=not-an-email&phone=&payment=bank_transfer");
  HttpResponse r = Call("POST", "/shop/checkout", body, cookie);
  EXPECT_EQ(r.status(), 422);
  EXPECT_THAT(r.body(), HasSubstr("Street and number is required"));
  EXPECT_THAT(r.body(), HasSubstr("must contain exactly one"));
  EXPECT_THAT(r.body(), HasSubstr("value=\"&lt;script&gt;alert(1)&lt;/script&gt;\""));
  EXPECT_THAT(r.body(), Not(HasSubstr("<script>")));
  EXPECT_THAT(r.body(), HasSubstr("value=\"Berlin\""));
  // Neither e-mail nor phone.
  body =
      CheckoutBody(cookie, "name=A&address_line1=B&postal_code=1&city=C&country=D&payment=invoice");
  r = Call("POST", "/shop/checkout", body, cookie);
  EXPECT_EQ(r.status(), 422);
  EXPECT_THAT(r.body(), HasSubstr("e-mail address or a phone number"));
  EXPECT_THAT(r.body(), HasSubstr("choose one of the payment methods"));
  // Missing required field names entirely -> 400.
  r = Call("POST", "/shop/checkout", "csrf=x&idem=y", cookie);
  EXPECT_EQ(r.status(), 400);
  EXPECT_EQ(Orders(), 0);
  EXPECT_EQ(Stock(), 3);
}

// Someone's cart holding every unit does not stop another customer: the first to place the
// order gets the units, and the other is told, on their cart, what ran short.
// A price that changes while the customer fills in the checkout form is never charged silently:
// the form comes back with the new total to confirm, and the confirmed form places the order.
TEST_F(ShopHandlerTest, APriceChangedSinceTheCheckoutPageIsConfirmedFirst) {
  std::string cookie = AddMug(2);
  std::string body = CheckoutBody(cookie, kGoodFields);
  EXPECT_THAT(body, HasSubstr("&seen_total=2500&"));
  ProductUpdate dearer;
  dearer.price_minor = 1500;
  ASSERT_THAT(shop_->UpdateProduct("MUG-1", dearer), IsOk());
  HttpResponse r = Call("POST", "/shop/checkout", body, cookie);
  EXPECT_EQ(r.status(), 409);
  EXPECT_THAT(r.body(),
              HasSubstr("it is now <strong>" + HtmlEscape(FormatMoney(3000, "EUR")) +
                        "</strong> (it was " + HtmlEscape(FormatMoney(2500, "EUR")) + ")"));
  EXPECT_THAT(r.body(), HasSubstr("Nothing was ordered yet"));
  // Which line changed, and how (the page said each line's price).
  EXPECT_THAT(body, HasSubstr("&seen_prices=MUG-1:1250&"));
  EXPECT_THAT(r.body(), HasSubstr("The price of &#39;" + HtmlEscape("Blue <mug> & \"co\"") +
                                  "&#39; changed from " + HtmlEscape(FormatMoney(1250, "EUR")) +
                                  " to " + HtmlEscape(FormatMoney(1500, "EUR")) + "."));
  EXPECT_EQ(HiddenValue(r.body(), "seen_prices"), "MUG-1:1500");
  EXPECT_THAT(r.body(), HasSubstr("value=\"Ada Lovelace\""));  // the form keeps what was typed
  EXPECT_EQ(HiddenValue(r.body(), "seen_total"), "3000");
  EXPECT_EQ(Orders(), 0);
  EXPECT_EQ(Stock(), 3);
  // A form that does not say what it showed is shown again too.
  std::string blind = std::regex_replace(body, std::regex("&seen_total=[0-9]+"), "");
  r = Call("POST", "/shop/checkout", blind, cookie);
  EXPECT_EQ(r.status(), 409);
  EXPECT_THAT(r.body(), HasSubstr("Please confirm the total of your order"));
  EXPECT_EQ(Orders(), 0);
  // Confirmed: the order is placed at the total the customer saw last.
  std::string confirmed =
      std::regex_replace(body, std::regex("seen_total=2500"), "seen_total=3000");
  r = Call("POST", "/shop/checkout", confirmed, cookie);
  ASSERT_EQ(r.status(), 200) << r.body();
  auto order = shop_->GetOrder("M-000001");
  ASSERT_THAT(order, IsOk());
  EXPECT_EQ(order->totals.total_minor, 3000);
}

TEST_F(ShopHandlerTest, ACartHoldingEveryUnitDoesNotStopAnotherCustomer) {
  std::string hoarder = AddMug(3);
  std::string buyer = AddMug(3);  // not "sold out"
  HttpResponse r = Call("POST", "/shop/checkout", CheckoutBody(buyer, kGoodFields), buyer);
  ASSERT_EQ(r.status(), 200) << r.body();
  EXPECT_EQ(Stock(), 0);
  std::string body = CheckoutBody(hoarder, kGoodFields);
  r = Call("POST", "/shop/checkout", body, hoarder);
  EXPECT_EQ(r.status(), 409);
  EXPECT_THAT(r.body(), HasSubstr("sold out before your order was placed"));
  EXPECT_THAT(r.body(), HasSubstr("Blue &lt;mug&gt;"));
  EXPECT_EQ(Orders(), 1);
  HttpResponse cart = Call("GET", "/shop/cart", "", hoarder);
  EXPECT_THAT(cart.body(), HasSubstr("sold out"));
  ASSERT_THAT(shop_->SetStock("MUG-1", 1), IsOk());
  cart = Call("GET", "/shop/cart", "", hoarder);
  EXPECT_THAT(cart.body(), HasSubstr("only 1 left"));
  EXPECT_THAT(cart.body(), HasSubstr("max=\"20\""));
}

TEST_F(ShopHandlerTest, CartAdditionsAreLimitedPerClientNetwork) {
  auto add_from = [&](std::string address, std::string_view cookie = {}) {
    HttpRequest r("POST", "/shop/cart/add");
    r.AddHeader("Host", "shop.test");
    r.AddHeader("Origin", "http://shop.test");
    r.AddHeader("Content-Type", "application/x-www-form-urlencoded");
    if (!cookie.empty()) r.AddHeader("Cookie", cookie);
    r.SetRemoteAddressForTest(std::move(address));
    r.SetBody("sku=MUG-1&qty=1");
    return handler_->HandleRequest(r, {});
  };
  // 30 additions at once (each a new anonymous cart) are fine; the 31st is refused.
  for (int i = 0; i < 30; ++i) ASSERT_EQ(add_from("203.0.113.5").status(), 303) << i;
  HttpResponse r = add_from("203.0.113.5");
  EXPECT_EQ(r.status(), 429);
  EXPECT_EQ(r.FindHeader("Retry-After"), "20");  // one addition every 20 s after the burst
  EXPECT_THAT(r.body(), HasSubstr("Too many cart changes from your network; please wait a few "
                                  "minutes"));
  EXPECT_FALSE(r.FindHeader("Set-Cookie").has_value());
  auto lines = db_->Query("SELECT count(*) FROM commerce_cart_lines");
  EXPECT_EQ((*lines)[0].Int(0), 30);
  EXPECT_EQ(Stock(), 3);
  // Other customers are not affected; the same customer may continue after the wait.
  EXPECT_EQ(add_from("203.0.113.6").status(), 303);
  EXPECT_EQ(add_from("2001:db8:7:1::1").status(), 303);
  env_.AdvanceSeconds(19);
  r = add_from("203.0.113.5");
  EXPECT_EQ(r.status(), 429);
  env_.AdvanceSeconds(std::stoi(std::string(r.FindHeader("Retry-After").value_or("99"))));
  std::string cookie = CookiePair(add_from("203.0.113.5"));
  ASSERT_FALSE(cookie.empty());
  EXPECT_EQ(add_from("203.0.113.5").status(), 429);
  // Changing the cart (not adding to it) is not counted.
  r = Call("POST", "/shop/cart/update", "csrf=" + HandlerCsrf(cookie) + "&sku=MUG-1&qty=2", cookie);
  EXPECT_EQ(r.status(), 303);

  // 0: no limit (a site that cannot see its customers' addresses).
  ShopConfig config = shop_->config();
  config.cart_adds_per_10_minutes_per_client = 0;
  auto unlimited = Shop::Open(env_, *db_, config, {NewCashOnDeliveryProvider()});
  ASSERT_THAT(unlimited, IsOk());
  handler_ = std::make_shared<ShopHandler>(**unlimited, ShopHandlerOptions{});
  for (int i = 0; i < 40; ++i) ASSERT_EQ(add_from("203.0.113.5").status(), 303) << i;
  handler_.reset();  // before the shop it points to
}

TEST_F(ShopHandlerTest, CheckoutWithEmptyCartOrStaleSession) {
  HttpResponse r = Call("GET", "/shop/checkout");
  EXPECT_EQ(r.status(), 409);
  EXPECT_THAT(r.body(), HasSubstr("cart is empty"));
  std::string cookie = AddMug(1);
  std::string body = CheckoutBody(cookie, kGoodFields);
  r = Call("POST", "/shop/checkout", body, "tieup_cart=" + std::string(43, 'A'));
  EXPECT_EQ(r.status(), 403);
  EXPECT_THAT(r.body(), HasSubstr("session"));
  EXPECT_EQ(Orders(), 0);
}

TEST_F(ShopHandlerTest, DelegatedRequestRecordsChannelAndArea) {
  ShopRequestContext ctx{"shop-b", Area::kTieup};
  HttpResponse r = Call("POST", "/shop/cart/add", "sku=MUG-1&qty=1", {}, "http://shop.test",
                        "application/x-www-form-urlencoded", ctx);
  ASSERT_EQ(r.status(), 303);
  std::string cookie = CookiePair(r);
  std::string body = CheckoutBody(cookie, kGoodFields);
  r = Call("POST", "/shop/checkout", body, cookie, "http://shop.test",
           "application/x-www-form-urlencoded", ctx);
  ASSERT_EQ(r.status(), 200) << r.body();
  auto o = shop_->GetOrder("M-000001");
  ASSERT_THAT(o, IsOk());
  EXPECT_EQ(o->channel, "shop-b");
  EXPECT_EQ(o->area, Area::kTieup);
}

TEST_F(ShopHandlerTest, RoutesAndMethods) {
  HttpResponse r = Call("GET", "/shop/cart/add");
  EXPECT_EQ(r.status(), 405);
  EXPECT_EQ(r.FindHeader("Allow"), "POST");
  EXPECT_EQ(Call("DELETE", "/shop/cart").status(), 405);
  EXPECT_EQ(Call("GET", "/shop/nothing").status(), 404);
  EXPECT_EQ(Call("GET", "/shop/orders/M-000001").status(), 404);
  EXPECT_EQ(Call("GET", "/shop/orders/M-000001?key=%zz").status(), 400);
  EXPECT_TRUE(ShopHandler::Serves("/shop/cart"));
  EXPECT_FALSE(ShopHandler::Serves("/shopping"));
}

}  // namespace
}  // namespace tieup::commerce
