// ShopHandler: the dynamic shop pages of a site (main or partner), as an HttpHandler.
//
//   GET  /shop/cart                     the cart (HTML)
//   POST /shop/cart/add                 form: sku, qty [, csrf]       -> 303 /shop/cart?added=SKU;
//                                       429 with Retry-After when the client's network made
//                                       more additions than ShopConfig::
//                                       cart_adds_per_10_minutes_per_client allows
//                                       (commerce/cart_limiter.h)
//   POST /shop/cart/update              form: csrf, sku, qty (0 removes) -> 303 /shop/cart
//   POST /shop/cart/remove              form: csrf, sku               -> 303 /shop/cart
//   GET  /shop/checkout                 the checkout form
//   POST /shop/checkout                 form: csrf, idem, seen_total, name, address_line1,
//                                       address_line2, postal_code, city, country, email,
//                                       phone, payment
//                                       -> 200 confirmation page (order number, payment
//                                       instructions, link to the order page); 422 with the
//                                       form and per-field messages when a field is wrong;
//                                       409 with the form again and the new total when the
//                                       cart's total is not the form's seen_total (a price
//                                       changed, or the cart did, since the page was shown;
//                                       checked again inside the order's transaction): the
//                                       customer confirms the new total
//   GET  /shop/orders/<number>?key=K    the order's status page (404 without the right key)
//
// The cart lives behind the cookie `tieup_cart` (HttpOnly, SameSite=Lax, Path=/, 30 days;
// Secure when configured), set when the first product is added. Every answer that changes the
// cart (and the cart page) also sets `tieup_cart_count` (commerce/shop_pages.h: the number of
// items, readable by the layout's script, not secret), so every page's header can show it.
//
// Pages are the templates of commerce/shop_pages.h rendered in the site's layout
// (content/page_templates.h); the header's cart count is filled in server-side.
//
// CSRF: SameSite=Lax keeps the cookie off cross-site POSTs in current browsers. In addition,
// every POST whose Origin (or, without Origin, Referer) names another host than the request's
// Host is refused (403), and the forms this handler renders (update, remove, checkout) carry a
// token derived from the cart session (SHA-256 of the secret cart token) that must match. The
// add form lives on static product pages that cannot know the session, so /shop/cart/add
// relies on SameSite + the Origin check (and checks a csrf field when one is sent); the worst
// a forged add could do is put a product in someone's cart.
//
// Forms must be application/x-www-form-urlencoded (415 otherwise) and are parsed strictly
// (commerce/form.h): bad percent-escapes, duplicate fields, missing fields or invalid values
// give 400, an oversized form 413, each with a page that says what was wrong. Unknown fields
// are ignored (templates may add submit-button names). Every user-supplied text is
// HTML-escaped (by the templates). Responses carry Cache-Control: no-store.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "commerce/form.h"
#include "commerce/shop.h"
#include "content/page_templates.h"
#include "net/http_server.h"

namespace tieup::commerce {

struct ShopHandlerOptions {
  // The site whose layout and template replacements the pages use (content/page_templates.h);
  // without a view: the built-in shell. An empty site_name: the shop's name.
  content::PageSite site;
  // Adds "Secure" to the cart cookie (set when the public port is behind HTTPS).
  bool secure_cookie = false;
  FormLimits form_limits;
  // The area recorded for lines added through this handler, unless `area_of` decides.
  Area default_area = Area::kOriginal;
  // Optional: the area of a line being added (for example from the Referer's page, looked up in
  // the site's content areas). Called on the worker thread; must be thread-safe.
  std::function<Area(const HttpRequest& request, std::string_view sku)> area_of;
  // Where "continue shopping" goes when the product has no page.
  std::string home_path = "/";
  // Optional: the signed-in customer's details that pre-fill the checkout form (main: the
  // account's name, e-mail and kept address; users/account_pages.h), nullopt for a visitor.
  // Called on the worker thread; must be thread-safe.
  std::function<std::optional<Customer>(const HttpRequest& request)> known_customer;
};

// Per-request choices for requests processed on another site's behalf (delegate mode: main
// handles a partner's forwarded request). Empty channel: the shop's own site id.
struct ShopRequestContext {
  std::string channel;
  std::optional<Area> area;
};

// The total the checkout form says its page showed (field `seen_total`, minor units);
// nullopt when the field is missing or not a whole number.
std::optional<int64_t> SeenTotal(const FormFields& form);

// The unit prices of `cart`'s lines, as its page shows them (for Shop::Checkout's `shown`).
ShownPrices PricesShown(const Cart& cart);

class ShopHandler : public HttpHandler {
 public:
  // `shop` must outlive the handler. Thread-safe.
  ShopHandler(Shop& shop, ShopHandlerOptions options);

  // Serves the routes above; any other path under /shop/ gives 404.
  void Handle(const HttpRequest& request, HttpResponder responder) override;
  std::string_view AllowedMethods() const override { return "GET, HEAD, POST"; }

  // The same, synchronously, with the channel and area chosen by the caller (delegate path).
  HttpResponse HandleRequest(const HttpRequest& request, const ShopRequestContext& context);

  // The checkout form of `request` shown again (409), filled in as sent, with the cart's
  // current total and a notice that it changed from the form's `seen_total` (`detail`: what
  // changed, when known): the customer checks it and places the order again. For a site that
  // places the order elsewhere (a partner delegating to main) and learns of a new price there.
  HttpResponse ConfirmAgain(const HttpRequest& request, const FormFields& form,
                            std::string_view detail);

  // True iff `path` is one this handler serves (for the daemon's dispatch: "/shop/...").
  static bool Serves(std::string_view path);

  // The CSRF token for a cart session token (what the rendered forms carry).
  static std::string CsrfToken(std::string_view cart_token);

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace tieup::commerce
