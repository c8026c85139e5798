// /products, /orders: main's catalog and every channel's orders. The pages call the functions
// `tieup main product ...` and `tieup main order ...` call (commerce/manager_cli.h) on main's
// shop, opened on the daemon's database as the command line opens it (main_site/shop_service.h).
#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "commerce/form.h"
#include "commerce/manager_cli.h"
#include "commerce/money.h"
#include "main_site/console_common.h"
#include "main_site/shop_service.h"

namespace tieup::main_console {
namespace {

constexpr int kOrdersPerPage = 25;
constexpr int64_t kMaxPage = 1'000'000;

// What the shop pages hold beyond ConsoleState.
struct ShopPages {
  ConsoleState* s = nullptr;
  OpenedShop opened;
  // shop.catalog_publish (MainDaemon::PublishCatalogChanges): "partners", "main" or "off".
  std::string catalog_publish = "partners";

  commerce::Shop& shop() { return *opened.shop; }
  std::string Money(int64_t minor) const {
    return FormatMoney(minor, opened.shop->config().currency, s->config().locale);
  }
};

// What follows a change of price or stock, in words (main's daemon rebuilds the pages that show
// the product: MainDaemon::PublishCatalogChanges).
std::string CatalogFollowUp(const ShopPages& p) {
  if (p.catalog_publish == "off") {
    return "Pages are not rebuilt for catalog changes (shop.catalog_publish = \"off\"): publish "
           "to show the change.";
  }
  if (p.catalog_publish == "main") {
    return "Main's pages that show it are rebuilt within seconds; partners' pages follow at their "
           "next scheduled update.";
  }
  return "Main's pages that show it are rebuilt within seconds; partners' pages follow (published "
         "to every partner).";
}

// Sets data[key] only when `value` is not empty (the templates' sections treat any string as
// set).
void SetIfAny(json::object& data, std::string_view key, const std::string& value) {
  if (!value.empty()) data[key] = value;
}

std::string FirstLine(std::string_view text) {
  const size_t end = text.find('\n');
  return std::string(text.substr(0, end));
}

// --- products ---
// GET: main's catalog. POST: set a product's price or stock, as `tieup main product set-price`
// and `set-stock` do.
ConsolePage Products(ShopPages& p, const ConsoleRequest& r) {
  commerce::Shop& shop = p.shop();
  std::string problem;
  if (r.http.method() == "POST") {
    const std::string_view action = r.form.Get("action");
    const std::string sku(commerce::Trim(r.form.Get("sku")));
    Result<std::string> done = Status::InvalidArgument("choose one of the forms' buttons");
    if (action == "price") {
      done = commerce::CliProductSetPrice(shop, sku, commerce::Trim(r.form.Get("price")));
    } else if (action == "stock") {
      done = commerce::CliProductSetStock(shop, sku, commerce::Trim(r.form.Get("stock")));
    }
    (void)p.s->console->Audit(
        r,
        action == "stock"   ? "product.stock"
        : action == "price" ? "product.price"
                            : "product.unknown",
        done.ok() ? FirstLine(*done) : sku + " refused: " + done.status().message());
    if (done.ok()) {
      return Redirect("/products#product-" + sku, FirstLine(*done) + ". " + CatalogFollowUp(p));
    }
    // Shown on the page itself (not a flash), as an error next to what was refused.
    problem = sku + " not changed: " + done.status().message() + ".";
  }
  auto products = shop.ListProducts();
  if (!products.ok()) return Problem(500, "Products unavailable", products.status().message());
  json::array rows;
  for (const commerce::Product& x : *products) {
    json::object row{
        {"sku", x.sku},     {"title", x.title},         {"price", p.Money(x.price_minor)},
        {"stock", x.stock}, {"sold_out", x.stock == 0}, {"updated", p.s->Time(x.updated_micros)}};
    SetIfAny(row, "category", x.category);
    SetIfAny(row, "page", x.page_path);
    rows.push_back(std::move(row));
  }
  ConsolePage page;
  page.title = "Products";
  page.template_name = "shop_products";
  page.data = json::object{{"has_products", !rows.empty()},
                           {"products", std::move(rows)},
                           {"currency", shop.config().currency},
                           {"follow_up", CatalogFollowUp(p)}};
  if (!problem.empty()) {
    page.status = 400;
    page.data["problem"] = problem;
  }
  return page;
}

// --- orders ---
// The list's query (?status=&channel=&partner=&page=), parsed once.
struct OrdersQuery {
  std::string status;  // "" or an order status
  // "", "main" (main's own site), "partners" (tie-up pages, delegated to main) or "processed"
  // (orders partners processed themselves: routing local or consult; known to main only through
  // their ledgers' order records, LedgerCollector::Orders)
  std::string channel;
  std::string partner;  // "" or a partner id (implies channel "partners")
  int64_t page = 1;

  // "/orders?..." with these filters and `page_number`.
  std::string Link(int64_t page_number) const {
    std::string q;
    auto add = [&q](std::string_view name, std::string_view value) {
      if (value.empty()) return;
      q += q.empty() ? "?" : "&";
      q += std::string(name) + "=" + commerce::PercentEncode(value);
    };
    add("status", status);
    add("channel", channel);
    add("partner", partner);
    if (page_number > 1) add("page", std::to_string(page_number));
    return "/orders" + q;
  }
};

Result<OrdersQuery> ParseOrdersQuery(const ConsoleRequest& r, commerce::Shop::OrderFilter& f) {
  OrdersQuery q;
  ASSIGN_OR_RETURN(commerce::FormFields fields, commerce::ParseForm(r.http.query()));
  q.status = std::string(commerce::Trim(fields.Get("status")));
  q.channel = std::string(commerce::Trim(fields.Get("channel")));
  q.partner = std::string(commerce::Trim(fields.Get("partner")));
  const std::string_view page = commerce::Trim(fields.Get("page"));
  if (!q.status.empty()) {
    ASSIGN_OR_RETURN(f.status, commerce::ParseOrderStatus(q.status));
  }
  if (!q.partner.empty()) {
    if (q.partner == "main" || !commerce::ValidateChannel(q.partner).ok()) {
      return Status::InvalidArgument("'" + q.partner.substr(0, 64) +
                                     "' is not a partner id (letters a-z, digits and hyphens, "
                                     "as in the partners' table)");
    }
    if (q.channel == "main") {
      return Status::InvalidArgument(
          "orders on main's own site have no partner: choose \"Partners' tie-up pages\" or "
          "\"All channels\", or clear the partner");
    }
    f.channel = q.partner;
  } else if (q.channel == "main") {
    f.channel = "main";
  } else if (q.channel == "partners") {
    f.other_channels = true;
  } else if (!q.channel.empty() && q.channel != "processed") {
    return Status::InvalidArgument(
        "the channel must be main's own site, partners' tie-up pages or processed at partners");
  }
  if (q.channel == "processed" && !q.status.empty()) {
    return Status::InvalidArgument(
        "orders processed at partners have no status at main (the partner handles them): "
        "choose \"any status\" for them");
  }
  if (!page.empty()) {
    auto n = commerce::ParseDigits(page, 7);
    if (!n || *n < 1 || *n > kMaxPage) {
      return Status::InvalidArgument("the page must be a number from 1");
    }
    q.page = *n;
  }
  return q;
}

// Where an order came from, in words.
std::string ChannelWords(const commerce::Order& o, const std::string& own_site) {
  if (o.channel == own_site) return "main's site";
  return o.channel + (o.area == commerce::Area::kTieup ? " (tie-up page)" : "");
}

// The filters' choices and suggestions, shared by both lists.
void AddFilterChoices(ShopPages& p, const OrdersQuery& query, json::object& data) {
  json::array statuses;
  for (const char* st : {"", "placed", "paid", "shipped", "delivered", "cancelled"}) {
    statuses.push_back(json::object{
        {"value", st}, {"label", *st ? st : "any status"}, {"selected", query.status == st}});
  }
  json::array channels;
  for (auto [value, label] : {std::pair<const char*, const char*>{"", "All channels"},
                              {"main", "Main's own site"},
                              {"partners", "Partners' tie-up pages"},
                              {"processed", "Processed at partners"}}) {
    channels.push_back(
        json::object{{"value", value}, {"label", label}, {"selected", query.channel == value}});
  }
  // The partners orders came through (main's shop or the partners' ledgers), for the partner
  // field's suggestions.
  json::array known;
  auto channel_rows = p.s->daemon->db().Query(
      "SELECT channel FROM commerce_orders WHERE channel <> ? UNION SELECT partner FROM "
      "ledger_orders ORDER BY 1 LIMIT 500",
      {p.shop().config().site_id});
  if (channel_rows.ok()) {
    for (const SqlRow& row : *channel_rows) known.push_back(json::string(row.Text(0)));
  }
  data["statuses"] = std::move(statuses);
  data["channels"] = std::move(channels);
  data["partner"] = query.partner;
  data["known_partners"] = std::move(known);
  data["filtered"] = !query.status.empty() || !query.channel.empty() || !query.partner.empty();
}

// The orders partners processed themselves (channel "processed"): what their ledgers recorded.
// Main cannot act on them, so they have no page of their own.
ConsolePage ProcessedOrders(ShopPages& p, const OrdersQuery& query) {
  LedgerOrderQuery lq;
  lq.partner = query.partner;
  lq.exclude_main_shop_orders = true;
  lq.limit = 0;
  auto counted = p.s->ledger->Orders(lq);
  if (!counted.ok()) return Problem(500, "Orders unavailable", counted.status().message());
  const int64_t total = counted->total;
  const int64_t pages = std::max<int64_t>(1, (total + kOrdersPerPage - 1) / kOrdersPerPage);
  const int64_t page = std::min(query.page, pages);
  lq.limit = kOrdersPerPage;
  lq.offset = (page - 1) * kOrdersPerPage;
  auto listed = p.s->ledger->Orders(lq);
  if (!listed.ok()) return Problem(500, "Orders unavailable", listed.status().message());
  json::array rows;
  for (const LedgerOrder& o : listed->orders) {
    rows.push_back(
        json::object{{"when", p.s->Time(o.time_micros)},
                     {"partner", o.partner},
                     {"area", o.area == "tieup" ? "tie-up" : o.area},
                     {"order_id", o.order_id},
                     {"items", o.items},
                     {"amount", FormatMoney(o.amount_minor, o.currency, p.s->config().locale)},
                     {"refund", o.amount_minor < 0},
                     {"excluded", o.excluded}});
  }
  json::object data{{"processed", true},
                    {"has_orders", !rows.empty()},
                    {"ledger_orders", std::move(rows)},
                    {"total", total},
                    {"page", page},
                    {"pages", pages}};
  AddFilterChoices(p, query, data);
  if (page > 1) data["previous"] = query.Link(page - 1);
  if (page < pages) data["next"] = query.Link(page + 1);
  ConsolePage out;
  out.title = "Orders processed at partners";
  out.template_name = "shop_orders";
  out.data = std::move(data);
  return out;
}

ConsolePage Orders(ShopPages& p, const ConsoleRequest& r) {
  commerce::Shop& shop = p.shop();
  commerce::Shop::OrderFilter filter;
  auto query = ParseOrdersQuery(r, filter);
  if (!query.ok()) return Problem(400, "Orders: bad filter", query.status().message() + ".");
  if (query->channel == "processed") return ProcessedOrders(p, *query);
  auto total = shop.CountOrders(filter);
  if (!total.ok()) return Problem(500, "Orders unavailable", total.status().message());
  const int64_t pages = std::max<int64_t>(1, (*total + kOrdersPerPage - 1) / kOrdersPerPage);
  const int64_t page = std::min(query->page, pages);
  filter.limit = kOrdersPerPage;
  filter.offset = (page - 1) * kOrdersPerPage;
  auto orders = shop.ListOrders(filter);
  if (!orders.ok()) return Problem(500, "Orders unavailable", orders.status().message());
  const std::string& own = shop.config().site_id;
  json::array rows;
  for (const commerce::Order& o : *orders) {
    rows.push_back(json::object{{"number", o.number},
                                {"when", p.s->Time(o.created_micros)},
                                {"channel", ChannelWords(o, own)},
                                {"status", std::string(commerce::OrderStatusName(o.status))},
                                {"paid", o.paid},
                                {"customer", o.customer.name},
                                {"total", p.Money(o.totals.total_minor)}});
  }
  json::object data{{"has_orders", !rows.empty()},
                    {"orders", std::move(rows)},
                    {"total", *total},
                    {"page", page},
                    {"pages", pages}};
  AddFilterChoices(p, *query, data);
  // "All channels" also counts the orders processed at partners, but lists them on their own
  // page (channel "processed", same partner filter) rather than merged into this one: they live
  // in another table with other columns (no status, customer or actions), and one list paged
  // across both would need a merged ordering of two queries per page. A status filter leaves
  // them out (main knows no status of theirs).
  if (query->channel.empty() && query->status.empty()) {
    LedgerOrderQuery lq;
    lq.partner = query->partner;
    lq.exclude_main_shop_orders = true;
    lq.limit = 0;
    auto processed = p.s->ledger->Orders(lq);
    if (processed.ok() && processed->total > 0) {
      OrdersQuery link = *query;
      link.channel = "processed";
      data["processed_count"] = processed->total;
      data["processed_link"] = link.Link(1);
    }
  }
  if (page > 1) data["previous"] = query->Link(page - 1);
  if (page < pages) data["next"] = query->Link(page + 1);
  ConsolePage out;
  out.title = "Orders";
  out.template_name = "shop_orders";
  out.data = std::move(data);
  return out;
}

ConsolePage OrderView(ShopPages& p, const commerce::Order& order, std::string problem);

// POST /orders/N: one of the CLI's order actions. Done: back to the order with a flash. Refused
// (the order's state does not allow it, a field is missing): the order again, status 409, with
// why in an error box above its buttons.
ConsolePage OrderAction(ShopPages& p, const ConsoleRequest& r, const std::string& number) {
  commerce::Shop& shop = p.shop();
  const std::string actor = "manager:" + r.manager.email;
  const std::string_view action = r.form.Get("action");
  Result<std::string> done = Status::InvalidArgument("choose one of the order's buttons");
  std::string what;
  if (action == "paid") {
    what = "marked paid";
    done = commerce::CliOrderMarkPaid(shop, number, actor, commerce::Trim(r.form.Get("note")));
  } else if (action == "ship") {
    what = "marked shipped; the customer is mailed a shipping notice";
    done = commerce::CliOrderShip(shop, number, commerce::Trim(r.form.Get("carrier")),
                                  commerce::Trim(r.form.Get("tracking")), actor);
  } else if (action == "shipment") {
    what = "given the shipment status " + std::string(commerce::Trim(r.form.Get("shipment")));
    done = commerce::CliOrderShipment(shop, number, commerce::Trim(r.form.Get("shipment")), actor,
                                      commerce::Trim(r.form.Get("note")));
  } else if (action == "deliver") {
    what = "marked delivered";
    done = commerce::CliOrderDeliver(shop, number, actor);
  } else if (action == "cancel") {
    what = "cancelled; its stock is back";
    done = commerce::CliOrderCancel(shop, number, actor, commerce::Trim(r.form.Get("reason")));
  }
  const std::string name = action == "paid" || action == "ship" || action == "shipment" ||
                                   action == "deliver" || action == "cancel"
                               ? std::string(action)
                               : "unknown";
  (void)p.s->console->Audit(r, "order." + name,
                            number + (done.ok() ? "" : " refused: " + done.status().message()));
  const std::string back = "/orders/" + commerce::PercentEncode(number);
  if (done.ok()) return Redirect(back, "Order " + number + " " + what + ".");
  auto now = shop.GetOrder(number);
  if (!now.ok()) return Problem(500, "Order unavailable", now.status().message());
  ConsolePage page = OrderView(p, *now, "Not done: " + done.status().message() + ".");
  page.status = done.status().code() == StatusCode::kFailedPrecondition ? 409 : 400;
  return page;
}

ConsolePage OrderPage(ShopPages& p, const ConsoleRequest& r, const std::string& number) {
  commerce::Shop& shop = p.shop();
  if (number.empty()) return Redirect("/orders", "");
  auto o = shop.GetOrder(number);
  if (!o.ok()) {
    if (o.status().code() != StatusCode::kNotFound) {
      return Problem(500, "Order unavailable", o.status().message());
    }
    return Problem(404, "No such order",
                   "There is no order " + number.substr(0, 40) + ": find it in the orders list.");
  }
  if (r.http.method() == "POST") return OrderAction(p, r, o->number);
  return OrderView(p, *o, "");
}

// The order's page (`problem`: an action just refused, shown above the buttons).
ConsolePage OrderView(ShopPages& p, const commerce::Order& order, std::string problem) {
  commerce::Shop& shop = p.shop();
  const commerce::Order* o = &order;
  json::array lines, events;
  for (const commerce::OrderLine& l : o->lines) {
    lines.push_back(json::object{{"title", l.title},
                                 {"sku", l.sku},
                                 {"quantity", l.quantity},
                                 {"unit", p.Money(l.unit_price_minor)},
                                 {"area", l.area == commerce::Area::kTieup ? "tie-up" : "original"},
                                 {"total", p.Money(l.line_total_minor)}});
  }
  for (const commerce::OrderEvent& e : o->events) {
    json::object event{{"when", p.s->Time(e.at_micros)}, {"actor", e.actor}, {"to", e.to_status}};
    SetIfAny(event, "from", e.from_status);
    SetIfAny(event, "note", e.note);
    events.push_back(std::move(event));
  }
  const commerce::OrderStatus st = o->status;
  const commerce::PaymentProvider* provider = shop.FindPaymentProvider(o->payment_method);
  const commerce::Customer& c = o->customer;
  json::object data{
      {"number", o->number},
      {"status", std::string(commerce::OrderStatusName(st))},
      {"when", p.s->Time(o->created_micros)},
      {"channel", ChannelWords(*o, shop.config().site_id)},
      {"area", o->area == commerce::Area::kTieup ? "tie-up" : "original"},
      {"customer", c.name},
      {"address1", c.address_line1},
      {"city", c.postal_code + " " + c.city},
      {"country", c.country},
      {"payment", provider != nullptr ? provider->title() : o->payment_method},
      {"paid", o->paid},
      {"subtotal", p.Money(o->totals.subtotal_minor)},
      {"tax", p.Money(o->totals.tax_minor)},
      {"shipping", p.Money(o->totals.shipping_minor)},
      {"total", p.Money(o->totals.total_minor)},
      {"tax_included", shop.config().prices_include_tax},
      {"lines", std::move(lines)},
      {"events", std::move(events)},
      {"can_pay", !o->paid && st != commerce::OrderStatus::kCancelled},
      {"can_ship", st == commerce::OrderStatus::kPlaced || st == commerce::OrderStatus::kPaid},
      {"can_update_shipment", st == commerce::OrderStatus::kShipped},
      {"can_deliver", st == commerce::OrderStatus::kShipped},
      {"can_cancel", st == commerce::OrderStatus::kPlaced || st == commerce::OrderStatus::kPaid}};
  SetIfAny(data, "address2", c.address_line2);
  SetIfAny(data, "email", c.email);
  SetIfAny(data, "phone", c.phone);
  SetIfAny(data, "reference", o->payment_reference);
  if (o->paid) {
    data["paid_when"] = p.s->Time(o->paid_micros);
    SetIfAny(data, "paid_details", o->paid_details);
  } else if (o->payment_due_micros > 0) {
    data["due"] = p.s->Time(o->payment_due_micros);
  }
  if (o->shipment) {
    data["shipment"] = json::object{{"carrier", o->shipment->carrier},
                                    {"tracking", o->shipment->tracking},
                                    {"status", o->shipment->status},
                                    {"when", p.s->Time(o->shipment->updated_micros)}};
  }
  json::array shipment_states;
  for (std::string_view state : commerce::kShipmentStates) {
    if (state == "shipped") continue;
    std::string words(state);
    std::replace(words.begin(), words.end(), '_', ' ');
    shipment_states.push_back(json::object{{"value", state}, {"label", words}});
  }
  data["shipment_states"] = std::move(shipment_states);
  data["can_act"] = data["can_pay"].as_bool() || data["can_ship"].as_bool() ||
                    data["can_deliver"].as_bool() || data["can_cancel"].as_bool();
  SetIfAny(data, "problem", problem);
  ConsolePage page;
  page.title = "Order " + o->number;
  page.template_name = "shop_order";
  page.data = std::move(data);
  return page;
}

}  // namespace

void AddShopPages(ConsoleState& s) {
  auto pages = std::make_shared<ShopPages>();
  pages->s = &s;
  auto opened = OpenMainShop(s.daemon->env(), s.daemon->site().site_dir(), s.config(),
                             s.daemon->db(), s.daemon->logger());
  if (!opened.ok()) {
    // The daemon's own shop (AttachShop) opened the same tables before: this is not expected.
    s.daemon->logger()->warn("console: main's shop cannot be opened: {}",
                             opened.status().message());
    const std::string why = opened.status().message();
    for (const char* path : {"/products", "/orders", "/orders/"}) {
      s.console->AddPage(
          path, [why](const ConsoleRequest&) { return Problem(500, "Shop unavailable", why); });
    }
    return;
  }
  pages->opened = std::move(*opened);
  auto publish = s.config().variables.find("shop.catalog_publish");
  if (publish != s.config().variables.end()) pages->catalog_publish = publish->second;
  s.console->AddPage("/products", [pages](const ConsoleRequest& r) { return Products(*pages, r); });
  s.console->AddPage("/orders", [pages](const ConsoleRequest& r) { return Orders(*pages, r); });
  s.console->AddPage("/orders/", [pages](const ConsoleRequest& r) {
    return OrderPage(*pages, r, std::string(r.http.path().substr(8)));
  });
}

}  // namespace tieup::main_console
