// The shop's customer pages as templates: the built-in templates (src/commerce/templates/,
// compiled in) and the template data the shop's handlers give them (content/page_templates.h
// renders them in the site's layout). Templates:
//   cart, checkout, thank_you, received, order, problem; partials _totals, _lines, _payment,
//   _order, _field.
// Every value is plain text ({{ }} escapes it); no data holds markup.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "commerce/shop.h"
#include "content/page_templates.h"
#include "net/http_message.h"

namespace tieup::commerce {

// The built-in shop templates.
const content::EmbeddedTemplates& ShopPageTemplates();

// The cookie that tells the site's pages (and their script) how many items the cart holds:
// not secret, readable by scripts.
inline constexpr std::string_view kCartCountCookie = "tieup_cart_count";

// The number of items (units) in `cart`.
int64_t CartItemCount(const Cart& cart);

// A Set-Cookie value for the count: "tieup_cart_count=N; Path=/; Max-Age=...; SameSite=Lax"
// (+ "; Secure").
std::string CartCountCookie(int64_t count, bool secure);

// The count the request's cookie states; nullopt without a well-formed one.
std::optional<int64_t> CartCountFromRequest(const HttpRequest& request);

// {subtotal, tax, shipping, total, tax_included} for the _totals partial, in the shop's locale
// and tax mode.
boost::json::object TotalsData(const Totals& totals, std::string_view currency,
                               const ShopConfig& config);

// An order for the _order partial: {number, by?, payment, lines, totals, href?}. `by` names
// who processes it ("" for none); `href` is the order page link ("" for none).
boost::json::object OrderData(const Shop& shop, const Order& order, std::string_view by,
                              std::string_view href);

// The link to an order's status page (with its access key).
std::string OrderHref(const Order& order);

// One of a customer's orders as an account page lists it.
struct OrderSummary {
  std::string number;
  std::string placed;         // in the shop's time zone and locale
  std::string status;         // "placed", "paid", "shipped"...
  std::string total;          // formatted with its currency
  std::string href;           // its status page (with its access key)
  std::string through;        // the partner it was placed through; "" for the shop's own site
  int64_t placed_micros = 0;  // when it was placed (for merging lists)
  std::string at;  // the shop that holds it, when another than the page's site (main's account
                   // page: a partner that processed it itself); "" for the page's site
};

// The orders of the customer whose e-mail address is `email` (ignoring ASCII case), newest
// first, at most `limit`, as summaries: for an account page.
Result<std::vector<OrderSummary>> OrdersOf(Shop& shop, std::string_view email, int limit = 100);

// {heading, message, back?: {href, text}, home} for the problem template.
boost::json::object ProblemData(std::string_view heading, std::string_view message,
                                std::string_view home, std::string_view back_href = {},
                                std::string_view back_text = {});

// A time as the pages show it: in the shop's time zone and locale (base/time_format.h).
std::string PageTime(int64_t micros, const ShopConfig& config);

}  // namespace tieup::commerce
