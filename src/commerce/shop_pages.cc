#include "commerce/shop_pages.h"

#include <boost/json.hpp>

#include "base/encoding.h"
#include "base/time_format.h"
#include "commerce/form.h"
#include "commerce/money.h"

namespace tieup::commerce {

// Generated from src/commerce/templates/*.mustache (tieup_embed_files).
const content::EmbeddedTemplates& EmbeddedShopTemplates();

namespace {

namespace json = boost::json;

constexpr int64_t kCartCountMaxAgeSeconds = 30 * 86400;

}  // namespace

const content::EmbeddedTemplates& ShopPageTemplates() { return EmbeddedShopTemplates(); }

int64_t CartItemCount(const Cart& cart) {
  int64_t n = 0;
  for (const CartLine& l : cart.lines) n += l.quantity;
  return n;
}

std::string CartCountCookie(int64_t count, bool secure) {
  std::string cookie = std::string(kCartCountCookie) + "=" + std::to_string(count) +
                       "; Path=/; Max-Age=" + std::to_string(kCartCountMaxAgeSeconds) +
                       "; SameSite=Lax";
  if (secure) cookie += "; Secure";
  return cookie;
}

std::optional<int64_t> CartCountFromRequest(const HttpRequest& request) {
  return ParseDigits(CookieValue(request.HeaderOr("Cookie"), kCartCountCookie), 6);
}

json::object TotalsData(const Totals& t, std::string_view currency, const ShopConfig& config) {
  json::object o;
  o["subtotal"] = FormatMoney(t.subtotal_minor, currency, config.locale);
  o["tax"] = FormatMoney(t.tax_minor, currency, config.locale);
  o["shipping"] = FormatMoney(t.shipping_minor, currency, config.locale);
  o["total"] = FormatMoney(t.total_minor, currency, config.locale);
  o["tax_included"] = config.prices_include_tax;
  return o;
}

std::string PageTime(int64_t micros, const ShopConfig& config) {
  return FormatDateTime(micros, config.time_zone, config.locale);
}

std::string OrderHref(const Order& o) {
  return "/shop/orders/" + PercentEncode(o.number) + "?key=" + PercentEncode(o.access_key);
}

json::object OrderData(const Shop& shop, const Order& o, std::string_view by,
                       std::string_view href) {
  json::object out;
  out["number"] = o.number;
  if (!by.empty()) out["by"] = by;
  if (!href.empty()) out["href"] = href;
  json::array lines;
  for (const OrderLine& l : o.lines) {
    json::object line;
    line["title"] = l.title;
    line["sku"] = l.sku;
    line["unit_price"] = FormatMoney(l.unit_price_minor, o.currency, shop.config().locale);
    line["quantity"] = l.quantity;
    line["line_total"] = FormatMoney(l.line_total_minor, o.currency, shop.config().locale);
    lines.push_back(std::move(line));
  }
  out["lines"] = std::move(lines);
  // An order keeps no tax mode of its own: the shop's (main's orders shown at a partner use the
  // partner's, as both sell under one contract).
  out["totals"] = TotalsData(o.totals, o.currency, shop.config());
  json::object payment;
  const PaymentProvider* p = shop.FindPaymentProvider(o.payment_method);
  payment["method"] = p != nullptr ? p->title() : o.payment_method;
  if (o.paid) {
    payment["paid_on"] = PageTime(o.paid_micros, shop.config());
  } else if (o.status == OrderStatus::kCancelled) {
    payment["cancelled"] = true;
  } else {
    if (!o.payment_instructions.empty()) payment["instructions"] = o.payment_instructions;
    if (!o.payment_redirect_url.empty()) payment["pay_url"] = o.payment_redirect_url;
  }
  out["payment"] = std::move(payment);
  return out;
}

json::object ProblemData(std::string_view heading, std::string_view message, std::string_view home,
                         std::string_view back_href, std::string_view back_text) {
  json::object o;
  o["heading"] = heading;
  o["message"] = message;
  o["home"] = home;
  if (!back_href.empty()) o["back"] = json::object{{"href", back_href}, {"text", back_text}};
  return o;
}

Result<std::vector<OrderSummary>> OrdersOf(Shop& shop, std::string_view email, int limit) {
  Shop::OrderFilter f;
  f.customer_email = std::string(email);
  f.limit = limit;
  ASSIGN_OR_RETURN(std::vector<Order> orders, shop.ListOrders(f));
  std::vector<OrderSummary> out;
  for (const Order& o : orders) {
    out.push_back({o.number, PageTime(o.created_micros, shop.config()),
                   std::string(OrderStatusName(o.status)),
                   FormatMoney(o.totals.total_minor, o.currency, shop.config().locale),
                   OrderHref(o),
                   o.channel == "main" || o.channel.empty() ? std::string() : o.channel,
                   o.created_micros, std::string()});
  }
  return out;
}

}  // namespace tieup::commerce
