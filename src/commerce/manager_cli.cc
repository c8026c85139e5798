#include "commerce/manager_cli.h"

#include <algorithm>
#include <vector>

#include "base/encoding.h"
#include "base/time_format.h"
#include "commerce/form.h"
#include "commerce/money.h"

namespace tieup::commerce {
namespace {

// Display width of UTF-8 text (code points; good enough for a terminal table).
size_t Width(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string Table(const std::vector<std::string>& head,
                  const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(head.size());
  for (size_t i = 0; i < head.size(); ++i) widths[i] = Width(head[i]);
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], Width(r[i]));
    }
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (size_t i = 0; i < cells.size(); ++i) {
      s += cells[i];
      if (i + 1 < cells.size()) s.append(widths[i] - Width(cells[i]) + 2, ' ');
    }
    return s + "\n";
  };
  std::string out = line(head);
  for (const auto& r : rows) out += line(r);
  return out;
}

// In the site's time zone and locale, as its pages and mail show it.
std::string Date(int64_t micros, Shop& shop) {
  return FormatDateTime(micros, shop.config().time_zone, shop.config().locale);
}

Result<int64_t> ParseCount(std::string_view text, std::string_view what) {
  bool ok = !text.empty() && text.size() <= 10;
  for (char c : text) ok = ok && c >= '0' && c <= '9';
  if (!ok) {
    return Status::InvalidArgument(std::string(what) + " '" + std::string(text.substr(0, 20)) +
                                   "' must be a whole number from 0 to " +
                                   std::to_string(kMaxStock));
  }
  int64_t v = std::stoll(std::string(text));
  if (v > kMaxStock) {
    return Status::OutOfRange(std::string(what) + " must be at most " + std::to_string(kMaxStock));
  }
  return v;
}

std::vector<std::string> SplitImages(std::string_view text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= text.size() && !Trim(text).empty()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view one = Trim(text.substr(pos, comma - pos));
    if (!one.empty()) out.emplace_back(one);
    pos = comma + 1;
  }
  return out;
}

std::string Money(int64_t minor, std::string_view currency, Shop& shop) {
  return FormatMoney(minor, currency, shop.config().locale);
}

}  // namespace

Result<std::string> CliProductAdd(Shop& shop, const ProductArgs& a) {
  Product p;
  p.sku = a.sku;
  p.title = a.title;
  p.currency = shop.config().currency;
  ASSIGN_OR_RETURN(p.price_minor, ParseMoney(a.price, p.currency));
  p.tax_class = a.tax_class.empty() ? "standard" : a.tax_class;
  ASSIGN_OR_RETURN(p.stock, ParseCount(a.stock.empty() ? "0" : a.stock, "stock"));
  p.category = a.category;
  p.description = a.description;
  p.images = SplitImages(a.images);
  p.page_path = a.page;
  RETURN_IF_ERROR(shop.AddProduct(p));
  return "added " + p.sku + " '" + p.title + "' at " + Money(p.price_minor, p.currency, shop) +
         ", stock " + std::to_string(p.stock) + "\n";
}

Result<std::string> CliProductList(Shop& shop, std::string_view category) {
  ASSIGN_OR_RETURN(auto products, shop.ListProducts(category));
  if (products.empty()) {
    return std::string(category.empty() ? "no products yet: add one with `product add`\n"
                                        : "no products in this category\n");
  }
  std::vector<std::vector<std::string>> rows;
  for (const Product& p : products) {
    rows.push_back({p.sku, p.title, Money(p.price_minor, p.currency, shop), p.tax_class,
                    std::to_string(p.stock), p.category});
  }
  return Table({"SKU", "TITLE", "PRICE", "TAX", "STOCK", "CATEGORY"}, rows);
}

Result<std::string> CliProductShow(Shop& shop, std::string_view sku) {
  ASSIGN_OR_RETURN(Product p, shop.GetProduct(sku));
  std::string images;
  for (const auto& i : p.images) images += (images.empty() ? "" : ", ") + i;
  return "sku:         " + p.sku + "\ntitle:       " + p.title +
         "\nprice:       " + Money(p.price_minor, p.currency, shop) +
         "\ntax class:   " + p.tax_class + "\nstock:       " + std::to_string(p.stock) +
         " available\ncategory:    " + p.category + "\npage:        " + p.page_path +
         "\nimages:      " + images + "\nupdated:     " + Date(p.updated_micros, shop) +
         "\ndescription: " + p.description + "\n";
}

Result<std::string> CliProductSetStock(Shop& shop, std::string_view sku, std::string_view stock) {
  if (!stock.empty() && (stock[0] == '+' || stock[0] == '-')) {
    ASSIGN_OR_RETURN(int64_t n, ParseCount(stock.substr(1), "the stock change"));
    RETURN_IF_ERROR(shop.AdjustStock(sku, stock[0] == '-' ? -n : n));
  } else {
    ASSIGN_OR_RETURN(int64_t n, ParseCount(stock, "stock"));
    RETURN_IF_ERROR(shop.SetStock(sku, n));
  }
  ASSIGN_OR_RETURN(Product p, shop.GetProduct(sku));
  return p.sku + ": stock " + std::to_string(p.stock) + "\n";
}

Result<std::string> CliProductSetPrice(Shop& shop, std::string_view sku, std::string_view price) {
  ASSIGN_OR_RETURN(int64_t minor, ParseMoney(price, shop.config().currency));
  ProductUpdate u;
  u.price_minor = minor;
  RETURN_IF_ERROR(shop.UpdateProduct(sku, u));
  return std::string(sku) + ": price " + Money(minor, shop.config().currency, shop) + "\n";
}

Result<std::string> CliProductRemove(Shop& shop, std::string_view sku) {
  RETURN_IF_ERROR(shop.RemoveProduct(sku));
  return "removed " + std::string(sku) + " (orders keep their copy)\n";
}

Result<std::string> CliOrderList(Shop& shop, std::string_view status, std::string_view channel,
                                 int limit) {
  Shop::OrderFilter f;
  if (!status.empty()) {
    ASSIGN_OR_RETURN(f.status, ParseOrderStatus(status));
  }
  f.channel = std::string(channel);
  if (limit < 1 || limit > 10000) {
    return Status::InvalidArgument("--limit must be between 1 and 10000");
  }
  f.limit = limit;
  ASSIGN_OR_RETURN(auto orders, shop.ListOrders(f));
  if (orders.empty()) return std::string("no orders\n");
  std::vector<std::vector<std::string>> rows;
  for (const Order& o : orders) {
    rows.push_back({o.number, Date(o.created_micros, shop), std::string(OrderStatusName(o.status)),
                    o.paid ? "yes" : "no", o.channel, std::string(AreaName(o.area)),
                    Money(o.totals.total_minor, o.currency, shop), o.customer.name});
  }
  return Table({"NUMBER", "DATE", "STATUS", "PAID", "CHANNEL", "AREA", "TOTAL", "CUSTOMER"}, rows);
}

Result<std::string> CliOrderShow(Shop& shop, std::string_view number) {
  ASSIGN_OR_RETURN(Order o, shop.GetOrder(number));
  std::string s = "order " + o.number + "  " + std::string(OrderStatusName(o.status)) +
                  (o.paid ? ", paid" : ", not paid") + "\nplaced " + Date(o.created_micros, shop) +
                  " through " + o.channel + " (" + std::string(AreaName(o.area)) + ")\n\n";
  std::vector<std::vector<std::string>> rows;
  for (const OrderLine& l : o.lines) {
    rows.push_back({l.sku, l.title, std::to_string(l.quantity),
                    Money(l.unit_price_minor, o.currency, shop),
                    Money(l.line_total_minor, o.currency, shop), l.tax_class});
  }
  s += Table({"SKU", "TITLE", "QTY", "PRICE", "TOTAL", "TAX"}, rows);
  s += "\nsubtotal " + Money(o.totals.subtotal_minor, o.currency, shop) + ", tax " +
       Money(o.totals.tax_minor, o.currency, shop) + ", shipping " +
       Money(o.totals.shipping_minor, o.currency, shop) + ", total " +
       Money(o.totals.total_minor, o.currency, shop) + "\n\n";
  const Customer& c = o.customer;
  s += "customer: " + c.name + ", " + c.address_line1 +
       (c.address_line2.empty() ? "" : ", " + c.address_line2) + ", " + c.postal_code + " " +
       c.city + ", " + c.country + "\ncontact:  " + c.email +
       (c.email.empty() || c.phone.empty() ? "" : ", ") + c.phone + "\n";
  s += "payment:  " + o.payment_method +
       (o.payment_reference.empty() ? "" : ", reference " + o.payment_reference) +
       (o.payment_due_micros ? ", due " + Date(o.payment_due_micros, shop) : "") + "\n";
  if (o.paid) s += "paid:     " + Date(o.paid_micros, shop) + ": " + o.paid_details + "\n";
  if (o.shipment) {
    s += "shipment: " + o.shipment->carrier + " " + o.shipment->tracking + ", " +
         o.shipment->status + " (" + Date(o.shipment->updated_micros, shop) + ")\n";
  }
  s += "\nhistory:\n";
  for (const OrderEvent& e : o.events) {
    s += "  " + Date(e.at_micros, shop) + "  " +
         (e.from_status.empty() ? "" : e.from_status + " -> ") + e.to_status + "  by " + e.actor +
         (e.note.empty() ? "" : ": " + e.note) + "\n";
  }
  return s;
}

namespace {
Result<std::string> Now(Shop& shop, std::string_view number) {
  ASSIGN_OR_RETURN(Order o, shop.GetOrder(number));
  return "order " + o.number + " is now " + std::string(OrderStatusName(o.status)) +
         (o.paid ? " (paid)" : "") + "\n";
}
}  // namespace

Result<std::string> CliOrderMarkPaid(Shop& shop, std::string_view number, std::string_view actor,
                                     std::string_view note) {
  RETURN_IF_ERROR(shop.MarkPaid(number, actor, note));
  return Now(shop, number);
}

Result<std::string> CliOrderShip(Shop& shop, std::string_view number, std::string_view carrier,
                                 std::string_view tracking, std::string_view actor) {
  RETURN_IF_ERROR(shop.Ship(number, carrier, tracking, actor));
  return Now(shop, number);
}

Result<std::string> CliOrderShipment(Shop& shop, std::string_view number, std::string_view state,
                                     std::string_view actor, std::string_view note) {
  RETURN_IF_ERROR(shop.UpdateShipment(number, state, actor, note));
  return Now(shop, number);
}

Result<std::string> CliOrderDeliver(Shop& shop, std::string_view number, std::string_view actor) {
  RETURN_IF_ERROR(shop.MarkDelivered(number, actor));
  return Now(shop, number);
}

Result<std::string> CliOrderCancel(Shop& shop, std::string_view number, std::string_view actor,
                                   std::string_view reason) {
  RETURN_IF_ERROR(shop.Cancel(number, actor, reason));
  return Now(shop, number);
}

}  // namespace tieup::commerce
