// The partner console's orders and goods (partner_site/console_pages.h).
#include <algorithm>
#include <boost/json.hpp>
#include <set>

#include "commerce/form.h"
#include "commerce/manager_cli.h"
#include "partner_site/console_common.h"

namespace tieup::partner_console {
namespace {

// --- orders ---
ConsolePage Orders(ConsoleState& s, const ConsoleRequest& r) {
  commerce::Shop::OrderFilter filter;
  filter.limit = 200;
  std::string wanted;
  if (auto q = commerce::ParseForm(r.http.query()); q.ok()) wanted = q->Get("status");
  if (!wanted.empty()) {
    auto st = commerce::ParseOrderStatus(wanted);
    if (!st.ok()) return Problem(400, "Unknown status", st.status().message());
    filter.status = *st;
  }
  auto orders = s.shop.shop->ListOrders(filter);
  if (!orders.ok()) return Problem(500, "Orders unavailable", orders.status().message());
  json::array list;
  for (const commerce::Order& o : *orders) {
    list.push_back(json::object{{"number", o.number},
                                {"status", std::string(commerce::OrderStatusName(o.status))},
                                {"customer", o.customer.name},
                                {"total", s.Money(o.totals.total_minor)},
                                {"when", s.Time(o.created_micros)}});
  }
  json::array filters;
  for (const char* f : {"", "placed", "paid", "shipped", "delivered", "cancelled"}) {
    json::object filter{{"label", *f ? f : "all"}, {"current", wanted == f}};
    if (*f) filter["value"] = f;
    filters.push_back(std::move(filter));
  }
  ConsolePage p;
  p.title = "Orders";
  p.template_name = "orders";
  p.data = json::object{
      {"has_orders", !list.empty()}, {"orders", std::move(list)}, {"filters", std::move(filters)}};
  return p;
}

ConsolePage OrderPage(ConsoleState& s, const ConsoleRequest& r, const std::string& number) {
  commerce::Shop& shop = *s.shop.shop;
  if (r.http.method() == "POST") {
    const std::string actor = "manager:" + r.manager.email;
    const std::string_view action = r.form.Get("action");
    Status st;
    if (action == "paid") {
      st = shop.MarkPaid(number, actor, r.form.Get("note"));
    } else if (action == "ship") {
      st = shop.Ship(number, commerce::Trim(r.form.Get("carrier")),
                     commerce::Trim(r.form.Get("tracking")), actor);
    } else if (action == "deliver") {
      st = shop.MarkDelivered(number, actor);
    } else if (action == "cancel") {
      st = shop.Cancel(number, actor, commerce::Trim(r.form.Get("reason")));
    } else {
      return Problem(400, "Unknown action", "Choose one of the order's buttons.");
    }
    (void)s.console->Audit(r, "order." + std::string(action),
                           number + (st.ok() ? "" : " refused: " + st.message()));
    if (!st.ok()) return Redirect("/orders/" + number, "Not done: " + st.message());
    const char* done = action == "paid"      ? "marked paid"
                       : action == "ship"    ? "marked shipped; the customer is mailed"
                       : action == "deliver" ? "marked delivered"
                                             : "cancelled; its stock is back";
    return Redirect("/orders/" + number, "Order " + number + " " + done + ".");
  }
  auto o = shop.GetOrder(number);
  if (!o.ok()) return Problem(404, "No such order", "There is no order " + number + ".");
  json::array lines, events;
  for (const commerce::OrderLine& l : o->lines) {
    lines.push_back(json::object{{"title", l.title},
                                 {"sku", l.sku},
                                 {"quantity", l.quantity},
                                 {"total", s.Money(l.line_total_minor)}});
  }
  for (const commerce::OrderEvent& e : o->events) {
    json::object event{{"when", s.Time(e.at_micros)}, {"actor", e.actor}, {"to", e.to_status}};
    if (!e.note.empty()) event["note"] = e.note;
    events.push_back(std::move(event));
  }
  const commerce::OrderStatus st = o->status;
  json::object data{
      {"number", o->number},
      {"status", std::string(commerce::OrderStatusName(st))},
      {"customer", o->customer.name},
      {"address", o->customer.address_line1 + ", " + o->customer.postal_code + " " +
                      o->customer.city + ", " + o->customer.country},
      {"contact", o->customer.email.empty() ? o->customer.phone : o->customer.email},
      {"payment", shop.FindPaymentProvider(o->payment_method) != nullptr
                      ? shop.FindPaymentProvider(o->payment_method)->title()
                      : o->payment_method},
      {"paid", o->paid},
      {"total", s.Money(o->totals.total_minor)},
      {"lines", std::move(lines)},
      {"events", std::move(events)},
      {"can_pay", !o->paid && st != commerce::OrderStatus::kCancelled},
      {"can_ship", st == commerce::OrderStatus::kPlaced || st == commerce::OrderStatus::kPaid},
      {"can_deliver", st == commerce::OrderStatus::kShipped},
      {"can_cancel", st == commerce::OrderStatus::kPlaced || st == commerce::OrderStatus::kPaid}};
  ConsolePage p;
  p.title = "Order " + o->number;
  p.template_name = "order";
  p.data = std::move(data);
  return p;
}

// --- goods ---
// GET: the shop's products (main's mirrored goods are main's: shown, not edited). POST: add a
// product, or set a product's price or stock; the same functions as `tieup partner product`.
ConsolePage Products(ConsoleState& s, const ConsoleRequest& r) {
  commerce::Shop& shop = *s.shop.shop;
  if (r.http.method() == "POST") {
    const std::string_view action = r.form.Get("action");
    const std::string sku(commerce::Trim(r.form.Get("sku")));
    Result<std::string> done = Status::InvalidArgument("choose one of the forms' buttons");
    if (action == "add") {
      commerce::ProductArgs a;
      a.sku = sku;
      a.title = commerce::Trim(r.form.Get("title"));
      a.price = commerce::Trim(r.form.Get("price"));
      a.stock = commerce::Trim(r.form.Get("stock"));
      a.category = commerce::Trim(r.form.Get("category"));
      a.page = commerce::Trim(r.form.Get("page"));
      done = commerce::CliProductAdd(shop, a);
    } else if (action == "price") {
      done = commerce::CliProductSetPrice(shop, sku, commerce::Trim(r.form.Get("price")));
    } else if (action == "stock") {
      done = commerce::CliProductSetStock(shop, sku, commerce::Trim(r.form.Get("stock")));
    }
    (void)s.console->Audit(r, "product." + std::string(action),
                           done.ok() ? *done : sku + " refused: " + done.status().message());
    return Redirect("/products", done.ok() ? *done : "Not done: " + done.status().message());
  }
  auto products = shop.ListProducts();
  if (!products.ok()) return Problem(500, "Goods unavailable", products.status().message());
  auto mirrored = s.shop_db->Query("SELECT sku FROM shop_mirror", {});
  std::set<std::string> mains;
  if (mirrored.ok()) {
    for (const SqlRow& row : *mirrored) mains.insert(row.Text(0));
  }
  json::array own, theirs;
  for (const commerce::Product& p : *products) {
    json::object e{
        {"sku", p.sku}, {"title", p.title}, {"price", s.Money(p.price_minor)}, {"stock", p.stock}};
    (mains.contains(p.sku) ? theirs : own).push_back(std::move(e));
  }
  ConsolePage p;
  p.title = "Goods";
  p.template_name = "products";
  p.data = json::object{{"has_own", !own.empty()},
                        {"own", std::move(own)},
                        {"has_mains", !theirs.empty()},
                        {"mains", std::move(theirs)},
                        {"currency", shop.config().currency}};
  return p;
}

}  // namespace

void AddShopPages(ConsoleState& s) {
  ConsoleState* p = &s;
  s.console->AddPage("/orders", [p](const ConsoleRequest& r) { return Orders(*p, r); });
  s.console->AddPage("/orders/", [p](const ConsoleRequest& r) {
    return OrderPage(*p, r, std::string(r.http.path().substr(8)));
  });
  s.console->AddPage("/products", [p](const ConsoleRequest& r) { return Products(*p, r); });
}

}  // namespace tieup::partner_console
