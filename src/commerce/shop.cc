#include "commerce/shop.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <set>

#include "base/encoding.h"
#include "base/time_format.h"
#include "commerce/form.h"
#include "commerce/money.h"
#include "crypto/hash.h"

namespace tieup::commerce {
namespace {

const std::vector<Migration>& Schema() {
  static const std::vector<Migration> kSteps = {
      {1, R"sql(
CREATE TABLE commerce_products (
  sku TEXT PRIMARY KEY COLLATE NOCASE,
  title TEXT NOT NULL,
  description TEXT NOT NULL,
  images TEXT NOT NULL,
  page_path TEXT NOT NULL,
  price_minor INTEGER NOT NULL CHECK (price_minor >= 0),
  currency TEXT NOT NULL,
  tax_class TEXT NOT NULL,
  category TEXT NOT NULL,
  stock INTEGER NOT NULL CHECK (stock >= 0),
  created_micros INTEGER NOT NULL,
  updated_micros INTEGER NOT NULL);
CREATE INDEX commerce_products_category ON commerce_products (category);
CREATE TABLE commerce_carts (
  id TEXT PRIMARY KEY,
  created_micros INTEGER NOT NULL,
  updated_micros INTEGER NOT NULL);
CREATE TABLE commerce_cart_lines (
  cart_id TEXT NOT NULL REFERENCES commerce_carts (id) ON DELETE CASCADE,
  sku TEXT NOT NULL COLLATE NOCASE REFERENCES commerce_products (sku) ON DELETE CASCADE,
  quantity INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 999),
  held INTEGER NOT NULL CHECK (held >= 0),
  held_until_micros INTEGER NOT NULL,
  area TEXT NOT NULL,
  added_micros INTEGER NOT NULL,
  PRIMARY KEY (cart_id, sku));
CREATE INDEX commerce_cart_lines_sku ON commerce_cart_lines (sku);
CREATE INDEX commerce_cart_lines_hold ON commerce_cart_lines (held_until_micros) WHERE held > 0;
CREATE TABLE commerce_orders (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  number TEXT NOT NULL UNIQUE,
  channel TEXT NOT NULL,
  area TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  access_key TEXT NOT NULL,
  status TEXT NOT NULL,
  paid INTEGER NOT NULL,
  payment_method TEXT NOT NULL,
  payment_reference TEXT NOT NULL,
  payment_instructions TEXT NOT NULL,
  payment_due_micros INTEGER NOT NULL,
  payment_redirect_url TEXT NOT NULL,
  paid_micros INTEGER NOT NULL,
  paid_details TEXT NOT NULL,
  customer_name TEXT NOT NULL,
  address_line1 TEXT NOT NULL,
  address_line2 TEXT NOT NULL,
  postal_code TEXT NOT NULL,
  city TEXT NOT NULL,
  country TEXT NOT NULL,
  email TEXT NOT NULL,
  phone TEXT NOT NULL,
  currency TEXT NOT NULL,
  subtotal_minor INTEGER NOT NULL,
  tax_minor INTEGER NOT NULL,
  shipping_minor INTEGER NOT NULL,
  total_minor INTEGER NOT NULL,
  created_micros INTEGER NOT NULL,
  updated_micros INTEGER NOT NULL,
  UNIQUE (channel, idempotency_key));
CREATE INDEX commerce_orders_status ON commerce_orders (status);
CREATE TABLE commerce_order_lines (
  order_id INTEGER NOT NULL REFERENCES commerce_orders (id),
  line_no INTEGER NOT NULL,
  sku TEXT NOT NULL,
  title TEXT NOT NULL,
  quantity INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 999),
  unit_price_minor INTEGER NOT NULL,
  line_total_minor INTEGER NOT NULL,
  tax_class TEXT NOT NULL,
  tax_rate_bp INTEGER NOT NULL,
  tax_minor INTEGER NOT NULL,
  area TEXT NOT NULL,
  stock_tracked INTEGER NOT NULL,
  PRIMARY KEY (order_id, line_no));
CREATE TABLE commerce_order_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  order_id INTEGER NOT NULL REFERENCES commerce_orders (id),
  at_micros INTEGER NOT NULL,
  actor TEXT NOT NULL,
  from_status TEXT NOT NULL,
  to_status TEXT NOT NULL,
  note TEXT NOT NULL);
CREATE INDEX commerce_order_events_order ON commerce_order_events (order_id);
CREATE TABLE commerce_shipments (
  order_id INTEGER PRIMARY KEY REFERENCES commerce_orders (id),
  carrier TEXT NOT NULL,
  tracking TEXT NOT NULL,
  status TEXT NOT NULL,
  created_micros INTEGER NOT NULL,
  updated_micros INTEGER NOT NULL);
)sql"},
      // Carts stop holding stock (an order takes it when placed): the units that version 1's
      // cart lines held go back to stock, once, so an upgraded site loses none, and the hold
      // columns go. The lines stay in their carts, holding nothing. (CASE, not SQLite's
      // two-argument min(), so that the step runs on PostgreSQL too.)
      {2, R"sql(
UPDATE commerce_products SET stock = CASE
    WHEN stock + (SELECT sum(l.held) FROM commerce_cart_lines l
                  WHERE l.sku = commerce_products.sku) > 1000000000 THEN 1000000000
    ELSE stock + (SELECT sum(l.held) FROM commerce_cart_lines l WHERE l.sku = commerce_products.sku)
  END
  WHERE sku IN (SELECT sku FROM commerce_cart_lines WHERE held > 0);
DROP INDEX commerce_cart_lines_hold;
ALTER TABLE commerce_cart_lines DROP COLUMN held;
ALTER TABLE commerce_cart_lines DROP COLUMN held_until_micros;
)sql"},
  };
  return kSteps;
}

constexpr std::string_view kProductColumns =
    "sku, title, description, images, page_path, price_minor, currency, tax_class, category, "
    "stock, updated_micros";

Product ProductFromRow(const SqlRow& r) {
  Product p;
  p.sku = r.Text(0);
  p.title = r.Text(1);
  p.description = r.Text(2);
  std::string images = r.Text(3);
  size_t pos = 0;
  while (!images.empty() && pos <= images.size()) {
    size_t nl = images.find('\n', pos);
    if (nl == std::string::npos) nl = images.size();
    p.images.push_back(images.substr(pos, nl - pos));
    pos = nl + 1;
  }
  p.page_path = r.Text(4);
  p.price_minor = r.Int(5);
  p.currency = r.Text(6);
  p.tax_class = r.Text(7);
  p.category = r.Text(8);
  p.stock = r.Int(9);
  p.updated_micros = r.Int(10);
  return p;
}

std::string JoinImages(const std::vector<std::string>& images) {
  std::string s;
  for (const auto& i : images) {
    if (!s.empty()) s += '\n';
    s += i;
  }
  return s;
}

Status ValidateSitePath(std::string_view path, std::string_view label) {
  auto bad = [&](std::string why) {
    return Status::InvalidArgument(std::string(label) + " '" + std::string(path) + "' " + why);
  };
  if (path.empty() || path[0] != '/') return bad("must be a site path starting with '/'");
  if (path.size() > 300) return bad("is longer than 300 characters");
  for (char c : path) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '/' && c != '.' && c != '_' &&
        c != '-' && c != '~') {
      return bad("may only hold letters, digits and / . _ - ~");
    }
  }
  if (path.find("//") != std::string_view::npos || path.find("/../") != std::string_view::npos ||
      path.find("/./") != std::string_view::npos ||
      (path.size() >= 3 && path.substr(path.size() - 3) == "/..")) {
    return bad("must not contain empty, '.' or '..' segments");
  }
  return Status::Ok();
}

std::string OrderNumber(std::string_view prefix, int64_t id) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%06lld", static_cast<long long>(id));
  return std::string(prefix) + "-" + buf;
}

void Canon(std::string& out, std::string_view v) {
  out += std::to_string(v.size());
  out += ':';
  out += v;
  out += ';';
}

std::string StatusText(OrderStatus s) { return std::string(OrderStatusName(s)); }

}  // namespace

// --- free functions ---

std::string_view AreaName(Area area) { return area == Area::kTieup ? "tieup" : "original"; }

Result<Area> ParseArea(std::string_view text) {
  if (text == "tieup") return Area::kTieup;
  if (text == "original") return Area::kOriginal;
  return Status::InvalidArgument("area '" + std::string(text) + "' must be tieup or original");
}

std::string_view OrderStatusName(OrderStatus status) {
  switch (status) {
    case OrderStatus::kPlaced:
      return "placed";
    case OrderStatus::kPaid:
      return "paid";
    case OrderStatus::kShipped:
      return "shipped";
    case OrderStatus::kDelivered:
      return "delivered";
    case OrderStatus::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

Result<OrderStatus> ParseOrderStatus(std::string_view text) {
  for (OrderStatus s : {OrderStatus::kPlaced, OrderStatus::kPaid, OrderStatus::kShipped,
                        OrderStatus::kDelivered, OrderStatus::kCancelled}) {
    if (OrderStatusName(s) == text) return s;
  }
  return Status::InvalidArgument("order status '" + std::string(text) +
                                 "' must be placed, paid, shipped, delivered or cancelled");
}

Status ValidateSku(std::string_view sku) {
  bool ok = !sku.empty() && sku.size() <= 64 && std::isalnum(static_cast<unsigned char>(sku[0]));
  for (char c : sku) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-');
  }
  if (!ok) {
    return Status::InvalidArgument("SKU '" + std::string(sku.substr(0, 80)) +
                                   "' must be 1 to 64 letters, digits, '.', '_' or '-', starting "
                                   "with a letter or digit");
  }
  return Status::Ok();
}

Status ValidateChannel(std::string_view channel) {
  bool ok =
      !channel.empty() && channel.size() <= 63 && channel.front() != '-' && channel.back() != '-';
  for (char c : channel) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
  if (!ok) {
    return Status::InvalidArgument("channel '" + std::string(channel.substr(0, 80)) +
                                   "' must be a site id: 1 to 63 of a-z, 0-9 and '-'");
  }
  return Status::Ok();
}

Status ValidateIdempotencyKey(std::string_view key) {
  bool ok = key.size() >= 8 && key.size() <= 128;
  for (char c : key) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
                c == ':');
  }
  if (!ok) {
    return Status::InvalidArgument(
        "the idempotency key must be 8 to 128 of A-Z, a-z, 0-9, '.', '_', '-' and ':'");
  }
  return Status::Ok();
}

std::vector<FieldError> ValidateCustomer(const Customer& c) {
  std::vector<FieldError> errors;
  auto text = [&](std::string_view field, std::string_view value, std::string_view label,
                  size_t max, bool required) {
    Status s = CheckTextField(value, label, max, required);
    if (!s.ok()) errors.push_back({std::string(field), s.message()});
  };
  text("name", c.name, "Name", 200, true);
  text("address_line1", c.address_line1, "Street and number", 200, true);
  text("address_line2", c.address_line2, "Address line 2", 200, false);
  text("postal_code", c.postal_code, "Postal code", 20, true);
  if (std::none_of(errors.begin(), errors.end(),
                   [](const FieldError& e) { return e.field == "postal_code"; })) {
    for (char ch : c.postal_code) {
      if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != ' ' && ch != '-') {
        errors.push_back({"postal_code",
                          "Postal code may only hold letters, digits, spaces and "
                          "'-'"});
        break;
      }
    }
  }
  text("city", c.city, "City", 100, true);
  text("country", c.country, "Country", 60, true);
  if (Trim(c.email).empty() && Trim(c.phone).empty()) {
    errors.push_back({"contact",
                      "Please give an e-mail address or a phone number (or both), so "
                      "that we can reach you about your order"});
  }
  if (!c.email.empty()) {
    Status s = ValidateEmailAddress(c.email);
    if (!s.ok()) {
      std::string m = s.message();
      m[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(m[0])));
      errors.push_back({"email", m});
    }
  }
  if (!c.phone.empty()) {
    int digits = 0;
    bool ok = c.phone.size() <= 30;
    for (size_t i = 0; i < c.phone.size(); ++i) {
      char ch = c.phone[i];
      if (std::isdigit(static_cast<unsigned char>(ch))) {
        ++digits;
      } else if (ch == '+') {
        ok = ok && i == 0;
      } else if (ch != ' ' && ch != '-' && ch != '(' && ch != ')' && ch != '/' && ch != '.') {
        ok = false;
      }
    }
    if (!ok || digits < 6 || digits > 20) {
      errors.push_back({"phone",
                        "Phone number should be 6 to 20 digits, optionally starting with "
                        "'+' and grouped with spaces or '-'"});
    }
  }
  return errors;
}

ConsultCommand CommandFromQuote(const PriceQuote& quote, bool require_stock_at_main,
                                bool partner_checks_inventory) {
  ConsultCommand c;
  c.check_inventory = partner_checks_inventory;
  for (const QuotedLine& l : quote.lines) {
    if (!l.known) {
      c.reason = "product " + l.sku + " is not sold any more";
      return c;
    }
    if (require_stock_at_main && !l.in_stock) {
      c.reason = "only " + std::to_string(l.available) + " of '" + l.title + "' are left";
      return c;
    }
    c.prices.push_back({l.sku, l.unit_price_minor, l.title, l.tax_class});
  }
  c.accept = !quote.lines.empty();
  if (!c.accept) c.reason = "the order has no lines";
  return c;
}

Status ApplyConsultCommand(const ConsultCommand& command, OrderRequest* request) {
  if (!command.accept) {
    return Status::FailedPrecondition(command.reason.empty() ? "main refused the order"
                                                             : command.reason);
  }
  request->check_inventory = command.check_inventory;
  for (OrderLineRequest& line : request->lines) {
    auto it = std::find_if(command.prices.begin(), command.prices.end(),
                           [&](const ConsultCommand::LinePrice& p) { return p.sku == line.sku; });
    if (it == command.prices.end()) {
      return Status::InvalidArgument("main's answer has no price for " + line.sku);
    }
    line.unit_price_minor = it->unit_price_minor;
    line.title = it->title;
    line.tax_class = it->tax_class;
  }
  return Status::Ok();
}

// --- the shop ---

class Shop::Impl {
 public:
  Impl(Env& env, Database& db, ShopConfig config,
       std::vector<std::shared_ptr<PaymentProvider>> payments, MailOutbox* outbox,
       std::shared_ptr<Logger> logger)
      : env_(env),
        db_(db),
        config_(std::move(config)),
        payments_(std::move(payments)),
        outbox_(outbox),
        logger_(logger ? std::move(logger) : NewNullLogger()) {}

  Status ValidateConfig() {
    RETURN_IF_ERROR(ValidateChannel(config_.site_id).Annotate("shop site_id"));
    RETURN_IF_ERROR(ValidateCurrency(config_.currency).Annotate("shop currency"));
    if (config_.tax_classes.empty()) {
      return Status::InvalidArgument("shop tax_classes: configure at least one tax class");
    }
    std::set<std::string> names;
    for (const TaxClass& t : config_.tax_classes) {
      bool ok = !t.name.empty() && t.name.size() <= 32;
      for (char c : t.name) ok = ok && ((c >= 'a' && c <= 'z') || c == '_' || c == '-');
      if (!ok) {
        return Status::InvalidArgument("shop tax class '" + t.name +
                                       "': names are 1 to 32 of a-z, '_' and '-'");
      }
      if (t.rate_bp < 0 || t.rate_bp > 10000) {
        return Status::InvalidArgument("shop tax class '" + t.name +
                                       "': the rate must be 0 to 10000 basis points");
      }
      if (!names.insert(t.name).second) {
        return Status::InvalidArgument("shop tax class '" + t.name + "' is defined twice");
      }
    }
    bool prefix_ok = !config_.order_prefix.empty() && config_.order_prefix.size() <= 8;
    for (char c : config_.order_prefix) {
      prefix_ok = prefix_ok && ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'));
    }
    if (!prefix_ok) {
      return Status::InvalidArgument("shop order_prefix '" + config_.order_prefix +
                                     "' must be 1 to 8 of A-Z and 0-9");
    }
    // reservation_seconds is ignored (see ShopConfig), so any value opens.
    if (config_.cart_idle_seconds < 60) {
      return Status::InvalidArgument("shop cart_idle_seconds must be at least 60 seconds");
    }
    if (config_.shipping_fee_minor < 0 || config_.shipping_fee_minor > kMaxUnitPriceMinor) {
      return Status::InvalidArgument("shop shipping_fee is out of range");
    }
    if (config_.max_cart_lines < 1 || config_.max_cart_lines > 1000) {
      return Status::InvalidArgument("shop max_cart_lines must be 1 to 1000");
    }
    if (config_.max_units_per_line < 1 || config_.max_units_per_line > kMaxQuantity) {
      return Status::InvalidArgument("shop max_units_per_line must be 1 to " +
                                     std::to_string(kMaxQuantity));
    }
    if (config_.cart_adds_per_10_minutes_per_client < 0 ||
        config_.cart_adds_per_10_minutes_per_client > 1'000'000) {
      return Status::InvalidArgument(
          "shop cart_adds_per_10_minutes_per_client must be 0 (no limit) to 1000000");
    }
    if (!config_.mail_from.address.empty()) {
      RETURN_IF_ERROR(ValidateEmailAddress(config_.mail_from.address).Annotate("shop mail_from"));
    }
    if (!config_.manager_email.empty()) {
      RETURN_IF_ERROR(ValidateEmailAddress(config_.manager_email).Annotate("shop manager_email"));
    }
    if (payments_.empty()) {
      return Status::InvalidArgument("the shop needs at least one payment method");
    }
    std::set<std::string, std::less<>> ids;
    for (const auto& p : payments_) {
      if (!p || !ids.insert(std::string(p->id())).second) {
        return Status::InvalidArgument("payment methods must be distinct and non-null");
      }
    }
    return Status::Ok();
  }

  const TaxClass* FindTax(std::string_view name) const {
    for (const TaxClass& t : config_.tax_classes) {
      if (t.name == name) return &t;
    }
    return nullptr;
  }

  std::string TaxNames() const {
    std::string s;
    for (const TaxClass& t : config_.tax_classes) s += (s.empty() ? "" : ", ") + t.name;
    return s;
  }

  const PaymentProvider* FindPayment(std::string_view id) const {
    for (const auto& p : payments_) {
      if (p->id() == id) return p.get();
    }
    return nullptr;
  }

  std::string PaymentIds() const {
    std::string s;
    for (const auto& p : payments_) s += (s.empty() ? "" : ", ") + std::string(p->id());
    return s;
  }

  // Line total and its tax at `rate_bp`, following prices_include_tax.
  Result<std::pair<int64_t, int64_t>> LineMoney(int64_t unit, int64_t qty, int64_t rate_bp,
                                                std::string_view sku) const {
    ASSIGN_OR_RETURN(int64_t total, CheckedMul(unit, qty, "the line total of " + std::string(sku)));
    int64_t tax = 0;
    if (config_.prices_include_tax) {
      // tax = total - round(total * 10000 / (10000 + rate)), in 128 bits: total * 10000 may
      // exceed int64 for large (but allowed) line totals.
      __extension__ using Int128 = __int128;
      Int128 scaled = static_cast<Int128>(total) * 10000;
      Int128 denom = 10000 + rate_bp;
      Int128 net = scaled / denom;
      if ((scaled % denom) * 2 >= denom) ++net;
      tax = total - static_cast<int64_t>(net);
    } else {
      ASSIGN_OR_RETURN(tax, ApplyBasisPoints(total, rate_bp));
    }
    return std::make_pair(total, tax);
  }

  Result<Totals> SumTotals(const std::vector<std::pair<int64_t, int64_t>>& lines) const {
    Totals t;
    for (const auto& [total, tax] : lines) {
      ASSIGN_OR_RETURN(t.subtotal_minor, CheckedAdd(t.subtotal_minor, total, "the order total"));
      ASSIGN_OR_RETURN(t.tax_minor, CheckedAdd(t.tax_minor, tax, "the order tax"));
    }
    t.shipping_minor = lines.empty() ? 0 : config_.shipping_fee_minor;
    ASSIGN_OR_RETURN(t.total_minor,
                     CheckedAdd(t.subtotal_minor, t.shipping_minor, "the order total"));
    if (!config_.prices_include_tax) {
      ASSIGN_OR_RETURN(t.total_minor, CheckedAdd(t.total_minor, t.tax_minor, "the order total"));
    }
    if (t.total_minor > kMaxUnitPriceMinor * 1000) {
      return Status::OutOfRange("the order total is larger than tieup accepts");
    }
    return t;
  }

  Status ValidateProduct(const Product& p) const {
    RETURN_IF_ERROR(ValidateSku(p.sku));
    std::string label = "product " + p.sku + ": ";
    RETURN_IF_ERROR(CheckTextField(p.title, label + "title", 200, true));
    if (p.description.size() > 10000 || !IsValidUtf8(p.description)) {
      return Status::InvalidArgument(label +
                                     "description must be UTF-8 text of at most 10000 bytes");
    }
    if (p.images.size() > 10) return Status::InvalidArgument(label + "at most 10 images");
    for (const std::string& i : p.images) RETURN_IF_ERROR(ValidateSitePath(i, label + "image"));
    if (!p.page_path.empty()) RETURN_IF_ERROR(ValidateSitePath(p.page_path, label + "page"));
    if (p.price_minor < 0 || p.price_minor > kMaxUnitPriceMinor) {
      return Status::OutOfRange(label + "price must be between 0 and " +
                                FormatMoney(kMaxUnitPriceMinor, config_.currency, config_.locale));
    }
    RETURN_IF_ERROR(ValidateCurrency(p.currency).Annotate(label.substr(0, label.size() - 2)));
    if (p.currency != config_.currency) {
      return Status::InvalidArgument(label + "priced in " + p.currency +
                                     ", but this shop sells in " + config_.currency);
    }
    if (!FindTax(p.tax_class)) {
      return Status::InvalidArgument(label + "tax class '" + p.tax_class +
                                     "' is not configured; use one of: " + TaxNames());
    }
    RETURN_IF_ERROR(CheckTextField(p.category, label + "category", 100, false));
    if (p.stock < 0 || p.stock > kMaxStock) {
      return Status::OutOfRange(label + "stock must be between 0 and " + std::to_string(kMaxStock));
    }
    return Status::Ok();
  }

  Result<Product> LoadProduct(Database& db, std::string_view sku) {
    RETURN_IF_ERROR(ValidateSku(sku));
    ASSIGN_OR_RETURN(auto rows, db.Query("SELECT " + std::string(kProductColumns) +
                                             " FROM commerce_products WHERE sku = ?",
                                         {std::string(sku)}));
    if (rows.empty()) {
      return Status::NotFound("no product with SKU '" + std::string(sku) + "'");
    }
    return ProductFromRow(rows[0]);
  }

  // "only 2 of 'Blue mug' are left" (`left` > 0).
  static std::string OnlyLeft(int64_t left, std::string_view title) {
    return "only " + std::to_string(left) + " of '" + std::string(title) + "' " +
           (left == 1 ? "is" : "are") + " left";
  }

  // Checks, without taking anything, that `quantity` of `p` is in stock now (a cart line's new
  // quantity; `in_cart` is what the line held before, for the message).
  static Status CheckInStock(const Product& p, int64_t quantity, int64_t in_cart) {
    if (quantity <= p.stock) return Status::Ok();
    if (p.stock == 0) return Status::FailedPrecondition("'" + p.title + "' is sold out");
    return Status::FailedPrecondition(
        OnlyLeft(p.stock, p.title) +
        (in_cart > 0 ? " and your cart already holds " + std::to_string(in_cart) : "") +
        "; please choose a smaller quantity");
  }

  // Who takes stock, so that a failure's message fits the customer's situation.
  enum class Taker { kCheckout, kOrder };

  // Takes `units` of `p` out of stock (inside the caller's transaction), or fails with
  // kFailedPrecondition naming the product and how many are left.
  Status TakeStock(Database& db, const Product& p, int64_t units, Taker taker) {
    if (units <= 0) return Status::Ok();
    RETURN_IF_ERROR(
        db.Exec("UPDATE commerce_products SET stock = stock - ? WHERE sku = ? AND stock >= ?",
                {units, p.sku, units}));
    if (db.ChangedRows() == 1) return Status::Ok();
    ASSIGN_OR_RETURN(auto rows,
                     db.Query("SELECT stock FROM commerce_products WHERE sku = ?", {p.sku}));
    int64_t left = rows.empty() ? 0 : rows[0].Int(0);
    if (taker == Taker::kCheckout) {
      // The customer's cart was fine when filled; someone else ordered first.
      if (left == 0) {
        return Status::FailedPrecondition("'" + p.title +
                                          "' sold out before your order was placed; please "
                                          "remove it from your cart to order the rest");
      }
      return Status::FailedPrecondition(OnlyLeft(left, p.title) + " (your cart holds " +
                                        std::to_string(units) +
                                        "); please lower the quantity in your cart and place "
                                        "the order again");
    }
    if (left == 0) return Status::FailedPrecondition("'" + p.title + "' is sold out");
    return Status::FailedPrecondition(OnlyLeft(left, p.title) +
                                      "; please choose a smaller quantity");
  }

  Status CheckToken(std::string_view token) const {
    bool ok = token.size() == 43;
    for (char c : token) {
      ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
    }
    if (!ok) return Status::InvalidArgument("the cart session is not valid; start a new cart");
    return Status::Ok();
  }

  static std::string CartId(std::string_view token) { return Sha256Hex(token); }

  static Status CheckQuantity(int64_t q) {
    if (q < 1 || q > kMaxQuantity) {
      return Status::InvalidArgument("the quantity must be a whole number from 1 to " +
                                     std::to_string(kMaxQuantity) + ", not " + std::to_string(q));
    }
    return Status::Ok();
  }

  Status TouchCart(Database& db, const std::string& cart_id, int64_t now) {
    return db.Exec(
        "INSERT INTO commerce_carts (id, created_micros, updated_micros) VALUES (?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET updated_micros = excluded.updated_micros",
        {cart_id, now, now});
  }

  // A cart line's quantity may not exceed max_units_per_line.
  Status CheckLineCap(const Product& p, int64_t quantity) const {
    if (quantity <= config_.max_units_per_line) return Status::Ok();
    return Status::InvalidArgument(
        "you can order at most " + std::to_string(config_.max_units_per_line) + " of '" + p.title +
        "' at a time (your cart would hold " + std::to_string(quantity) + ")");
  }

  // The quantity of `sku` in the cart, if it has such a line.
  Result<std::optional<int64_t>> LoadLine(Database& db, const std::string& cart_id,
                                          std::string_view sku) {
    ASSIGN_OR_RETURN(auto rows, db.Query("SELECT quantity FROM commerce_cart_lines WHERE "
                                         "cart_id = ? AND sku = ?",
                                         {cart_id, std::string(sku)}));
    if (rows.empty()) return std::optional<int64_t>();
    return std::optional<int64_t>(rows[0].Int(0));
  }

  Status AddToCart(std::string_view token, std::string_view sku, int64_t quantity, Area area) {
    RETURN_IF_ERROR(CheckToken(token));
    RETURN_IF_ERROR(CheckQuantity(quantity));
    RETURN_IF_ERROR(ValidateSku(sku));
    std::string cart_id = CartId(token);
    int64_t now = env_.NowMicros();
    return db_.Transaction([&](Database& db) -> Status {
      ASSIGN_OR_RETURN(Product p, LoadProduct(db, sku));
      ASSIGN_OR_RETURN(auto line, LoadLine(db, cart_id, p.sku));
      const int64_t in_cart = line.value_or(0);
      const int64_t new_quantity = quantity + in_cart;
      RETURN_IF_ERROR(CheckLineCap(p, new_quantity));
      if (!line) {
        ASSIGN_OR_RETURN(auto count, db.Query("SELECT count(*) FROM commerce_cart_lines WHERE "
                                              "cart_id = ?",
                                              {cart_id}));
        if (!count.empty() && count[0].Int(0) >= config_.max_cart_lines) {
          return Status::ResourceExhausted("your cart already holds " +
                                           std::to_string(config_.max_cart_lines) +
                                           " different products; check out or remove some first");
        }
      }
      RETURN_IF_ERROR(CheckInStock(p, new_quantity, in_cart));
      RETURN_IF_ERROR(TouchCart(db, cart_id, now));
      return db.Exec(
          "INSERT INTO commerce_cart_lines (cart_id, sku, quantity, area, added_micros) VALUES "
          "(?, ?, ?, ?, ?) ON CONFLICT (cart_id, sku) DO UPDATE SET quantity = "
          "excluded.quantity, area = excluded.area",
          {cart_id, p.sku, new_quantity, std::string(AreaName(area)), now});
    });
  }

  Status SetCartQuantity(std::string_view token, std::string_view sku, int64_t quantity) {
    if (quantity == 0) return RemoveFromCart(token, sku);
    RETURN_IF_ERROR(CheckToken(token));
    RETURN_IF_ERROR(CheckQuantity(quantity));
    RETURN_IF_ERROR(ValidateSku(sku));
    std::string cart_id = CartId(token);
    int64_t now = env_.NowMicros();
    return db_.Transaction([&](Database& db) -> Status {
      ASSIGN_OR_RETURN(Product p, LoadProduct(db, sku));
      ASSIGN_OR_RETURN(auto line, LoadLine(db, cart_id, p.sku));
      if (!line) {
        return Status::NotFound("'" + p.title + "' is not in your cart");
      }
      // Lowering a quantity is always allowed, even when the product ran short meanwhile (or
      // the line predates the cap).
      if (quantity > *line) {
        RETURN_IF_ERROR(CheckLineCap(p, quantity));
        RETURN_IF_ERROR(CheckInStock(p, quantity, 0));
      }
      RETURN_IF_ERROR(TouchCart(db, cart_id, now));
      return db.Exec("UPDATE commerce_cart_lines SET quantity = ? WHERE cart_id = ? AND sku = ?",
                     {quantity, cart_id, p.sku});
    });
  }

  Status RemoveFromCart(std::string_view token, std::string_view sku) {
    RETURN_IF_ERROR(CheckToken(token));
    RETURN_IF_ERROR(ValidateSku(sku));
    std::string cart_id = CartId(token);
    return db_.Transaction([&](Database& db) -> Status {
      ASSIGN_OR_RETURN(auto line, LoadLine(db, cart_id, sku));
      if (!line) return Status::NotFound("product " + std::string(sku) + " is not in your cart");
      return db.Exec("DELETE FROM commerce_cart_lines WHERE cart_id = ? AND sku = ?",
                     {cart_id, std::string(sku)});
    });
  }

  Result<Cart> LoadCart(Database& db, const std::string& cart_id) {
    Cart cart;
    cart.currency = config_.currency;
    cart.prices_include_tax = config_.prices_include_tax;
    ASSIGN_OR_RETURN(
        auto rows,
        db.Query("SELECT p.sku, p.title, p.page_path, l.quantity, p.price_minor, p.tax_class, "
                 "l.area, p.stock FROM commerce_cart_lines l JOIN "
                 "commerce_products p ON p.sku = l.sku WHERE l.cart_id = ? ORDER BY "
                 "l.added_micros, p.sku",
                 {cart_id}));
    std::vector<std::pair<int64_t, int64_t>> money;
    for (const SqlRow& r : rows) {
      CartLine l;
      l.sku = r.Text(0);
      l.title = r.Text(1);
      l.page_path = r.Text(2);
      l.quantity = r.Int(3);
      l.unit_price_minor = r.Int(4);
      l.tax_class = r.Text(5);
      const TaxClass* tax = FindTax(l.tax_class);
      l.tax_rate_bp = tax ? tax->rate_bp : 0;
      l.area = r.Text(6) == "tieup" ? Area::kTieup : Area::kOriginal;
      l.available = r.Int(7);
      ASSIGN_OR_RETURN(auto m, LineMoney(l.unit_price_minor, l.quantity, l.tax_rate_bp, l.sku));
      l.line_total_minor = m.first;
      l.tax_minor = m.second;
      money.push_back(m);
      cart.lines.push_back(std::move(l));
    }
    ASSIGN_OR_RETURN(cart.totals, SumTotals(money));
    return cart;
  }

  Result<Cart> GetCart(std::string_view token) {
    if (!CheckToken(token).ok()) {
      Cart empty;
      empty.currency = config_.currency;
      empty.prices_include_tax = config_.prices_include_tax;
      return empty;
    }
    return LoadCart(db_, CartId(token));
  }

  // --- orders ---

  Result<std::optional<Order>> FindByKey(Database& db, std::string_view channel,
                                         std::string_view key, std::string* request_hash) {
    ASSIGN_OR_RETURN(auto rows, db.Query("SELECT number, request_hash FROM commerce_orders WHERE "
                                         "channel = ? AND idempotency_key = ?",
                                         {std::string(channel), std::string(key)}));
    if (rows.empty()) return std::optional<Order>();
    *request_hash = rows[0].Text(1);
    ASSIGN_OR_RETURN(Order o, LoadOrder(db, rows[0].Text(0)));
    return std::optional<Order>(std::move(o));
  }

  struct NewOrder {
    std::string channel;
    std::string idempotency_key;
    std::string request_hash;
    Customer customer;
    const PaymentProvider* payment = nullptr;
    std::vector<OrderLine> lines;
    std::string actor;
  };

  Result<Order> CreateOrder(Database& db, NewOrder& n, int64_t now) {
    std::vector<std::pair<int64_t, int64_t>> money;
    Area area = Area::kOriginal;
    for (const OrderLine& l : n.lines) {
      money.emplace_back(l.line_total_minor, l.tax_minor);
      if (l.area == Area::kTieup) area = Area::kTieup;
    }
    ASSIGN_OR_RETURN(Totals totals, SumTotals(money));
    std::string access_key = Base64UrlEncode(RandomString(env_, 18));
    const Customer& c = n.customer;
    RETURN_IF_ERROR(db.Exec(
        "INSERT INTO commerce_orders (number, channel, area, idempotency_key, request_hash, "
        "access_key, status, paid, payment_method, payment_reference, payment_instructions, "
        "payment_due_micros, payment_redirect_url, paid_micros, paid_details, customer_name, "
        "address_line1, address_line2, postal_code, city, country, email, phone, currency, "
        "subtotal_minor, tax_minor, shipping_minor, total_minor, created_micros, updated_micros) "
        "VALUES (?, ?, ?, ?, ?, ?, 'placed', 0, ?, '', '', 0, '', 0, '', ?, ?, ?, ?, ?, ?, ?, ?, "
        "?, ?, ?, ?, ?, ?, ?)",
        {"new:" + access_key,
         n.channel,
         std::string(AreaName(area)),
         n.idempotency_key,
         n.request_hash,
         access_key,
         std::string(n.payment->id()),
         std::string(Trim(c.name)),
         std::string(Trim(c.address_line1)),
         std::string(Trim(c.address_line2)),
         std::string(Trim(c.postal_code)),
         std::string(Trim(c.city)),
         std::string(Trim(c.country)),
         std::string(Trim(c.email)),
         std::string(Trim(c.phone)),
         config_.currency,
         totals.subtotal_minor,
         totals.tax_minor,
         totals.shipping_minor,
         totals.total_minor,
         now,
         now}));
    int64_t id = db.LastInsertId();
    std::string number = OrderNumber(config_.order_prefix, id);
    PaymentContext ctx{number,
                       id,
                       totals.total_minor,
                       config_.currency,
                       now,
                       config_.shop_name,
                       config_.locale,
                       config_.time_zone};
    ASSIGN_OR_RETURN(PaymentSetup setup, n.payment->Setup(ctx));
    RETURN_IF_ERROR(db.Exec(
        "UPDATE commerce_orders SET number = ?, payment_reference = ?, payment_instructions = ?, "
        "payment_due_micros = ?, payment_redirect_url = ? WHERE id = ?",
        {number, setup.reference, setup.instructions, setup.due_micros, setup.redirect_url, id}));
    int64_t line_no = 0;
    for (const OrderLine& l : n.lines) {
      RETURN_IF_ERROR(
          db.Exec("INSERT INTO commerce_order_lines (order_id, line_no, sku, title, quantity, "
                  "unit_price_minor, line_total_minor, tax_class, tax_rate_bp, tax_minor, area, "
                  "stock_tracked) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  {id, ++line_no, l.sku, l.title, l.quantity, l.unit_price_minor,
                   l.line_total_minor, l.tax_class, l.tax_rate_bp, l.tax_minor,
                   std::string(AreaName(l.area)), int64_t{l.stock_tracked ? 1 : 0}}));
    }
    RETURN_IF_ERROR(AddEvent(
        db, id, now, n.actor, "", "placed",
        "placed through " + n.channel + ", payment by " + std::string(n.payment->title())));
    return LoadOrder(db, number);
  }

  Status AddEvent(Database& db, int64_t order_id, int64_t now, std::string_view actor,
                  std::string_view from, std::string_view to, std::string_view note) {
    return db.Exec(
        "INSERT INTO commerce_order_events (order_id, at_micros, actor, from_status, to_status, "
        "note) VALUES (?, ?, ?, ?, ?, ?)",
        {order_id, now, std::string(actor), std::string(from), std::string(to), std::string(note)});
  }

  Result<Order> LoadOrder(Database& db, std::string_view number, bool with_details = true) {
    ASSIGN_OR_RETURN(
        auto rows,
        db.Query("SELECT id, number, channel, area, idempotency_key, access_key, status, paid, "
                 "payment_method, payment_reference, payment_instructions, payment_due_micros, "
                 "payment_redirect_url, paid_micros, paid_details, customer_name, address_line1, "
                 "address_line2, postal_code, city, country, email, phone, currency, "
                 "subtotal_minor, tax_minor, shipping_minor, total_minor, created_micros FROM "
                 "commerce_orders WHERE number = ?",
                 {std::string(number)}));
    if (rows.empty()) {
      return Status::NotFound("no order numbered '" + std::string(number.substr(0, 40)) + "'");
    }
    Order o = OrderFromRow(rows[0]);
    if (!with_details) return o;
    ASSIGN_OR_RETURN(auto lines,
                     db.Query("SELECT sku, title, quantity, unit_price_minor, line_total_minor, "
                              "tax_class, tax_rate_bp, tax_minor, area, stock_tracked FROM "
                              "commerce_order_lines WHERE order_id = ? ORDER BY line_no",
                              {o.id}));
    for (const SqlRow& r : lines) {
      OrderLine l;
      l.sku = r.Text(0);
      l.title = r.Text(1);
      l.quantity = r.Int(2);
      l.unit_price_minor = r.Int(3);
      l.line_total_minor = r.Int(4);
      l.tax_class = r.Text(5);
      l.tax_rate_bp = r.Int(6);
      l.tax_minor = r.Int(7);
      l.area = r.Text(8) == "tieup" ? Area::kTieup : Area::kOriginal;
      l.stock_tracked = r.Int(9) != 0;
      o.lines.push_back(std::move(l));
    }
    ASSIGN_OR_RETURN(auto events, db.Query("SELECT at_micros, actor, from_status, to_status, note "
                                           "FROM commerce_order_events WHERE order_id = ? ORDER "
                                           "BY id",
                                           {o.id}));
    for (const SqlRow& r : events) {
      o.events.push_back({r.Int(0), r.Text(1), r.Text(2), r.Text(3), r.Text(4)});
    }
    ASSIGN_OR_RETURN(auto ship, db.Query("SELECT carrier, tracking, status, updated_micros FROM "
                                         "commerce_shipments WHERE order_id = ?",
                                         {o.id}));
    if (!ship.empty()) {
      o.shipment = Shipment{ship[0].Text(0), ship[0].Text(1), ship[0].Text(2), ship[0].Int(3)};
    }
    return o;
  }

  static Order OrderFromRow(const SqlRow& r) {
    Order o;
    o.id = r.Int(0);
    o.number = r.Text(1);
    o.channel = r.Text(2);
    o.area = r.Text(3) == "tieup" ? Area::kTieup : Area::kOriginal;
    o.idempotency_key = r.Text(4);
    o.access_key = r.Text(5);
    o.status = ParseOrderStatus(r.Text(6)).value_or(OrderStatus::kPlaced);
    o.paid = r.Int(7) != 0;
    o.payment_method = r.Text(8);
    o.payment_reference = r.Text(9);
    o.payment_instructions = r.Text(10);
    o.payment_due_micros = r.Int(11);
    o.payment_redirect_url = r.Text(12);
    o.paid_micros = r.Int(13);
    o.paid_details = r.Text(14);
    o.customer = {r.Text(15), r.Text(16), r.Text(17), r.Text(18),
                  r.Text(19), r.Text(20), r.Text(21), r.Text(22)};
    o.currency = r.Text(23);
    o.totals = {r.Int(24), r.Int(25), r.Int(26), r.Int(27)};
    o.created_micros = r.Int(28);
    return o;
  }

  Status CheckCustomer(const Customer& c) const {
    std::vector<FieldError> errors = ValidateCustomer(c);
    if (errors.empty()) return Status::Ok();
    std::string m = "the customer details are incomplete: ";
    for (size_t i = 0; i < errors.size(); ++i) m += (i ? "; " : "") + errors[i].message;
    return Status::InvalidArgument(m);
  }

  Result<const PaymentProvider*> PaymentFor(std::string_view id) const {
    const PaymentProvider* p = FindPayment(id);
    if (!p) {
      return Status::NotFound("payment method '" + std::string(id.substr(0, 40)) +
                              "' is not offered; choose one of: " + PaymentIds());
    }
    return p;
  }

  Result<OrderReceipt> Checkout(std::string_view token, const Customer& customer,
                                std::string_view method, std::string_view key,
                                std::string_view channel_in, std::optional<Area> only_area,
                                const ShownPrices* shown) {
    RETURN_IF_ERROR(CheckToken(token));
    RETURN_IF_ERROR(CheckCustomer(customer));
    ASSIGN_OR_RETURN(const PaymentProvider* payment, PaymentFor(method));
    std::string channel(channel_in.empty() ? config_.site_id : channel_in);
    RETURN_IF_ERROR(ValidateChannel(channel));
    std::string idem(key);
    if (idem.empty()) idem = "web:" + Base64UrlEncode(RandomString(env_, 18));
    RETURN_IF_ERROR(ValidateIdempotencyKey(idem));
    std::string cart_id = CartId(token);
    std::string request_hash =
        Sha256Hex("cart:" + cart_id + (only_area ? ":" + std::string(AreaName(*only_area)) : ""));
    int64_t now = env_.NowMicros();
    OrderReceipt receipt;
    Status s = db_.Transaction([&](Database& db) -> Status {
      std::string previous_hash;
      ASSIGN_OR_RETURN(auto existing, FindByKey(db, channel, idem, &previous_hash));
      if (existing) {
        if (previous_hash != request_hash) return KeyReused(idem, existing->number);
        receipt.order = std::move(*existing);
        receipt.replayed = true;
        return Status::Ok();
      }
      ASSIGN_OR_RETURN(Cart cart, LoadCart(db, cart_id));
      const size_t in_cart = cart.lines.size();
      if (only_area) {
        std::erase_if(cart.lines, [&](const CartLine& l) { return l.area != *only_area; });
      }
      if (cart.lines.empty()) {
        return Status::FailedPrecondition("your cart is empty: add a product before checking out");
      }
      NewOrder n{channel, idem, request_hash, customer, payment, {}, "customer"};
      for (const CartLine& l : cart.lines) {
        if (shown != nullptr) {
          auto seen = shown->find(l.sku);
          RETURN_IF_ERROR(CheckShownPrice(
              l.title, seen == shown->end() ? std::nullopt : std::optional<int64_t>(seen->second),
              l.unit_price_minor));
        }
        // Stock is taken here, not when the line was added: the first buyer to place the
        // order gets the units; a failure rolls the whole checkout back.
        ASSIGN_OR_RETURN(Product p, LoadProduct(db, l.sku));
        RETURN_IF_ERROR(TakeStock(db, p, l.quantity, Taker::kCheckout));
        n.lines.push_back({l.sku, l.title, l.quantity, l.unit_price_minor, l.line_total_minor,
                           l.tax_class, l.tax_rate_bp, l.tax_minor, l.area, true});
      }
      ASSIGN_OR_RETURN(receipt.order, CreateOrder(db, n, now));
      if (cart.lines.size() < in_cart) {
        for (const CartLine& l : cart.lines) {
          RETURN_IF_ERROR(db.Exec("DELETE FROM commerce_cart_lines WHERE cart_id = ? AND sku = ?",
                                  {cart_id, l.sku}));
        }
        return Status::Ok();
      }
      RETURN_IF_ERROR(db.Exec("DELETE FROM commerce_cart_lines WHERE cart_id = ?", {cart_id}));
      return db.Exec("DELETE FROM commerce_carts WHERE id = ?", {cart_id});
    });
    if (!s.ok()) return s;
    if (!receipt.replayed) MailConfirmation(receipt.order);
    return receipt;
  }

  // kAborted when the price charged is not the one the customer was shown (nullopt: the
  // line was not on the customer's page at all).
  Status CheckShownPrice(std::string_view title, std::optional<int64_t> shown,
                         int64_t price) const {
    if (shown && *shown == price) return Status::Ok();
    if (!shown) {
      return Status::Aborted("'" + std::string(title) +
                             "' was added to the cart after the order's page was shown.");
    }
    return Status::Aborted("The price of '" + std::string(title) + "' changed from " +
                           FormatMoney(*shown, config_.currency, config_.locale) + " to " +
                           FormatMoney(price, config_.currency, config_.locale) + ".");
  }

  static Status KeyReused(std::string_view key, std::string_view number) {
    return Status::AlreadyExists("idempotency key '" + std::string(key) +
                                 "' was already used for a different order (" +
                                 std::string(number) + "); use a new key for a new order");
  }

  Result<OrderReceipt> PlaceOrder(const OrderRequest& req) {
    RETURN_IF_ERROR(ValidateChannel(req.channel));
    RETURN_IF_ERROR(ValidateIdempotencyKey(req.idempotency_key));
    if (req.lines.empty()) return Status::InvalidArgument("the order has no lines");
    if (req.lines.size() > static_cast<size_t>(config_.max_cart_lines)) {
      return Status::ResourceExhausted("the order has more than " +
                                       std::to_string(config_.max_cart_lines) + " lines");
    }
    std::set<std::string> seen;
    std::string canon;
    Canon(canon, AreaName(req.area));
    Canon(canon, req.payment_method);
    Canon(canon, req.check_inventory ? "1" : "0");
    for (const OrderLineRequest& l : req.lines) {
      RETURN_IF_ERROR(ValidateSku(l.sku));
      RETURN_IF_ERROR(CheckQuantity(l.quantity).Annotate("line " + l.sku));
      std::string lower;
      for (char c : l.sku) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (!seen.insert(lower).second) {
        return Status::InvalidArgument("SKU " + l.sku + " appears twice; give one line per SKU");
      }
      if (l.unit_price_minor &&
          (*l.unit_price_minor < 0 || *l.unit_price_minor > kMaxUnitPriceMinor)) {
        return Status::OutOfRange(
            "the price given for " + l.sku + " is outside 0.." +
            FormatMoney(kMaxUnitPriceMinor, config_.currency, config_.locale));
      }
      if (l.title) RETURN_IF_ERROR(CheckTextField(*l.title, "the title of " + l.sku, 200, true));
      if (l.tax_class && !FindTax(*l.tax_class)) {
        return Status::InvalidArgument("tax class '" + *l.tax_class + "' of " + l.sku +
                                       " is not configured here; use one of: " + TaxNames());
      }
      Canon(canon, l.sku);
      Canon(canon, std::to_string(l.quantity));
      Canon(canon, l.unit_price_minor ? std::to_string(*l.unit_price_minor) : "-");
      Canon(canon, l.title.value_or("-"));
      Canon(canon, l.tax_class.value_or("-"));
    }
    RETURN_IF_ERROR(CheckCustomer(req.customer));
    ASSIGN_OR_RETURN(const PaymentProvider* payment, PaymentFor(req.payment_method));
    for (std::string_view f :
         {req.customer.name, req.customer.address_line1, req.customer.address_line2,
          req.customer.postal_code, req.customer.city, req.customer.country, req.customer.email,
          req.customer.phone}) {
      Canon(canon, f);
    }
    std::string request_hash = Sha256Hex(canon);
    std::string actor = req.actor.empty() ? "customer" : req.actor;
    int64_t now = env_.NowMicros();
    OrderReceipt receipt;
    Status s = db_.Transaction([&](Database& db) -> Status {
      std::string previous_hash;
      ASSIGN_OR_RETURN(auto existing,
                       FindByKey(db, req.channel, req.idempotency_key, &previous_hash));
      if (existing) {
        if (previous_hash != request_hash) return KeyReused(req.idempotency_key, existing->number);
        receipt.order = std::move(*existing);
        receipt.replayed = true;
        return Status::Ok();
      }
      NewOrder n{req.channel, req.idempotency_key, request_hash, req.customer, payment, {}, actor};
      for (const OrderLineRequest& l : req.lines) {
        auto product = LoadProduct(db, l.sku);
        OrderLine line;
        line.quantity = l.quantity;
        line.area = req.area;
        line.stock_tracked = req.check_inventory;
        if (product.ok()) {
          line.sku = product->sku;
          line.title = l.title.value_or(product->title);
          line.unit_price_minor = l.unit_price_minor.value_or(product->price_minor);
          line.tax_class = l.tax_class.value_or(product->tax_class);
          if (l.expected_unit_price_minor) {
            RETURN_IF_ERROR(
                CheckShownPrice(line.title, l.expected_unit_price_minor, line.unit_price_minor));
          }
          if (req.check_inventory) {
            RETURN_IF_ERROR(TakeStock(db, *product, l.quantity, Taker::kOrder));
          }
        } else if (product.status().code() == StatusCode::kNotFound && !req.check_inventory &&
                   l.unit_price_minor && l.title && l.tax_class) {
          line.sku = l.sku;
          line.title = *l.title;
          line.unit_price_minor = *l.unit_price_minor;
          line.tax_class = *l.tax_class;
          if (l.expected_unit_price_minor) {
            RETURN_IF_ERROR(
                CheckShownPrice(line.title, l.expected_unit_price_minor, line.unit_price_minor));
          }
        } else {
          return product.status();
        }
        const TaxClass* tax = FindTax(line.tax_class);
        line.tax_rate_bp = tax ? tax->rate_bp : 0;
        ASSIGN_OR_RETURN(auto m,
                         LineMoney(line.unit_price_minor, line.quantity, line.tax_rate_bp, l.sku));
        line.line_total_minor = m.first;
        line.tax_minor = m.second;
        n.lines.push_back(std::move(line));
      }
      ASSIGN_OR_RETURN(receipt.order, CreateOrder(db, n, now));
      return Status::Ok();
    });
    if (!s.ok()) return s;
    if (!receipt.replayed) MailConfirmation(receipt.order);
    return receipt;
  }

  Result<PriceQuote> Quote(const std::vector<QuoteLineRequest>& lines) {
    if (lines.empty()) return Status::InvalidArgument("nothing to quote: no lines");
    if (lines.size() > static_cast<size_t>(config_.max_cart_lines)) {
      return Status::ResourceExhausted("too many lines to quote");
    }
    PriceQuote q;
    q.currency = config_.currency;
    q.all_known = q.all_in_stock = true;
    std::vector<std::pair<int64_t, int64_t>> money;
    for (const QuoteLineRequest& l : lines) {
      RETURN_IF_ERROR(ValidateSku(l.sku));
      RETURN_IF_ERROR(CheckQuantity(l.quantity).Annotate("line " + l.sku));
      QuotedLine out;
      out.sku = l.sku;
      out.quantity = l.quantity;
      auto p = LoadProduct(db_, l.sku);
      if (!p.ok()) {
        if (p.status().code() != StatusCode::kNotFound) return p.status();
        q.all_known = q.all_in_stock = false;
        q.lines.push_back(std::move(out));
        continue;
      }
      out.known = true;
      out.sku = p->sku;
      out.title = p->title;
      out.unit_price_minor = p->price_minor;
      out.tax_class = p->tax_class;
      const TaxClass* tax = FindTax(p->tax_class);
      out.tax_rate_bp = tax ? tax->rate_bp : 0;
      ASSIGN_OR_RETURN(auto m, LineMoney(out.unit_price_minor, l.quantity, out.tax_rate_bp, l.sku));
      out.line_total_minor = m.first;
      out.tax_minor = m.second;
      money.push_back(m);
      out.available = p->stock;
      out.in_stock = out.available >= l.quantity;
      if (!out.in_stock) q.all_in_stock = false;
      q.lines.push_back(std::move(out));
    }
    ASSIGN_OR_RETURN(q.totals, SumTotals(money));
    return q;
  }

  // --- transitions ---

  // Loads the order, runs `body` in one transaction, then mails when asked.
  Status WithOrder(std::string_view number, const std::function<Status(Database&, Order&)>& body) {
    return db_.Transaction([&](Database& db) -> Status {
      ASSIGN_OR_RETURN(Order o, LoadOrder(db, number));
      return body(db, o);
    });
  }

  Status SetStatus(Database& db, const Order& o, OrderStatus to, std::string_view actor,
                   std::string_view note, int64_t now) {
    RETURN_IF_ERROR(
        db.Exec("UPDATE commerce_orders SET status = ?, updated_micros = ? WHERE "
                "id = ? AND status = ?",
                {StatusText(to), now, o.id, StatusText(o.status)}));
    if (db.ChangedRows() != 1) {
      return Status::Aborted("order " + o.number + " changed meanwhile; try again");
    }
    return AddEvent(db, o.id, now, actor, OrderStatusName(o.status), OrderStatusName(to), note);
  }

  static Status CheckActor(std::string_view actor) {
    return CheckTextField(actor, "the actor", 100, true);
  }

  Status MarkPaid(std::string_view number, std::string_view actor, std::string_view note) {
    RETURN_IF_ERROR(CheckActor(actor));
    RETURN_IF_ERROR(CheckTextField(note, "the payment note", 500, false));
    int64_t now = env_.NowMicros();
    return WithOrder(number, [&](Database& db, Order& o) -> Status {
      const PaymentProvider* p = FindPayment(o.payment_method);
      if (!p) {
        return Status::FailedPrecondition("order " + o.number + " was paid by '" +
                                          o.payment_method +
                                          "', which this shop no longer offers; configure it "
                                          "again to record the payment");
      }
      if (o.paid) {
        return Status::FailedPrecondition(
            "order " + o.number + " was already marked paid on " +
            FormatDateTime(o.paid_micros, config_.time_zone, config_.locale));
      }
      bool record_only = false;
      if (o.status == OrderStatus::kCancelled) {
        return Status::FailedPrecondition("order " + o.number +
                                          " is cancelled; a cancelled order cannot be paid");
      } else if (o.status != OrderStatus::kPlaced) {
        if (!p->ships_before_payment()) {
          return Status::FailedPrecondition("order " + o.number + " is " + StatusText(o.status) +
                                            "; it cannot be marked paid now");
        }
        record_only = true;
      }
      PaymentContext ctx{o.number,          o.id,           o.totals.total_minor, o.currency, now,
                         config_.shop_name, config_.locale, config_.time_zone};
      ASSIGN_OR_RETURN(std::string details, p->RecordPayment(ctx, o.payment_reference, note));
      RETURN_IF_ERROR(
          db.Exec("UPDATE commerce_orders SET paid = 1, paid_micros = ?, paid_details "
                  "= ?, updated_micros = ? WHERE id = ?",
                  {now, details, now, o.id}));
      if (record_only) {
        return AddEvent(db, o.id, now, actor, StatusText(o.status), StatusText(o.status),
                        "payment received: " + details);
      }
      return SetStatus(db, o, OrderStatus::kPaid, actor, details, now);
    });
  }

  Status Ship(std::string_view number, std::string_view carrier, std::string_view tracking,
              std::string_view actor) {
    RETURN_IF_ERROR(CheckActor(actor));
    RETURN_IF_ERROR(CheckTextField(carrier, "The carrier", 100, true));
    RETURN_IF_ERROR(CheckTextField(tracking, "The tracking number", 100, true));
    for (char c : tracking) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != ' ' && c != '-') {
        return Status::InvalidArgument(
            "the tracking number may only hold letters, digits, spaces "
            "and '-'");
      }
    }
    int64_t now = env_.NowMicros();
    Order shipped;
    Status s = WithOrder(number, [&](Database& db, Order& o) -> Status {
      const PaymentProvider* p = FindPayment(o.payment_method);
      bool can_ship = o.status == OrderStatus::kPaid ||
                      (o.status == OrderStatus::kPlaced && p && p->ships_before_payment());
      if (!can_ship) {
        if (o.status == OrderStatus::kPlaced) {
          return Status::FailedPrecondition("order " + o.number + " is not paid yet; " +
                                            (p ? std::string(p->title()) : o.payment_method) +
                                            " orders ship after payment (mark it paid first)");
        }
        return Status::FailedPrecondition("order " + o.number + " is " + StatusText(o.status) +
                                          "; only placed or paid orders can be shipped");
      }
      RETURN_IF_ERROR(
          db.Exec("INSERT INTO commerce_shipments (order_id, carrier, tracking, "
                  "status, created_micros, updated_micros) VALUES (?, ?, ?, "
                  "'shipped', ?, ?)",
                  {o.id, std::string(carrier), std::string(tracking), now, now}));
      RETURN_IF_ERROR(SetStatus(
          db, o, OrderStatus::kShipped, actor,
          "shipped with " + std::string(carrier) + ", tracking " + std::string(tracking), now));
      ASSIGN_OR_RETURN(shipped, LoadOrder(db, o.number));
      return Status::Ok();
    });
    if (s.ok()) MailShippingNotice(shipped);
    return s;
  }

  Status Deliver(Database& db, Order& o, std::string_view actor, std::string_view note,
                 int64_t now) {
    if (o.status != OrderStatus::kShipped) {
      return Status::FailedPrecondition("order " + o.number + " is " + StatusText(o.status) +
                                        "; only a shipped order can be delivered");
    }
    RETURN_IF_ERROR(
        db.Exec("UPDATE commerce_shipments SET status = 'delivered', updated_micros "
                "= ? WHERE order_id = ?",
                {now, o.id}));
    return SetStatus(db, o, OrderStatus::kDelivered, actor, note.empty() ? "delivered" : note, now);
  }

  Status UpdateShipment(std::string_view number, std::string_view state, std::string_view actor,
                        std::string_view note) {
    RETURN_IF_ERROR(CheckActor(actor));
    RETURN_IF_ERROR(CheckTextField(note, "the note", 500, false));
    bool known = false;
    for (std::string_view k : kShipmentStates) known = known || (k == state && k != "shipped");
    if (!known) {
      return Status::InvalidArgument("shipment status '" + std::string(state.substr(0, 40)) +
                                     "' must be in_transit, out_for_delivery, delivered or "
                                     "delivery_failed");
    }
    int64_t now = env_.NowMicros();
    return WithOrder(number, [&](Database& db, Order& o) -> Status {
      if (state == "delivered") return Deliver(db, o, actor, note, now);
      if (o.status != OrderStatus::kShipped) {
        return Status::FailedPrecondition("order " + o.number + " is " + StatusText(o.status) +
                                          "; only a shipped order's shipment can be updated");
      }
      RETURN_IF_ERROR(
          db.Exec("UPDATE commerce_shipments SET status = ?, updated_micros = ? "
                  "WHERE order_id = ?",
                  {std::string(state), now, o.id}));
      std::string text = "shipment " + std::string(state);
      if (!note.empty()) text += ": " + std::string(note);
      return AddEvent(db, o.id, now, actor, "shipped", "shipped", text);
    });
  }

  Status MarkDelivered(std::string_view number, std::string_view actor) {
    RETURN_IF_ERROR(CheckActor(actor));
    int64_t now = env_.NowMicros();
    return WithOrder(
        number, [&](Database& db, Order& o) -> Status { return Deliver(db, o, actor, "", now); });
  }

  Status Cancel(std::string_view number, std::string_view actor, std::string_view reason) {
    RETURN_IF_ERROR(CheckActor(actor));
    RETURN_IF_ERROR(CheckTextField(reason, "The reason for cancelling", 500, true));
    int64_t now = env_.NowMicros();
    return WithOrder(number, [&](Database& db, Order& o) -> Status {
      if (o.status != OrderStatus::kPlaced && o.status != OrderStatus::kPaid) {
        return Status::FailedPrecondition("order " + o.number + " is " + StatusText(o.status) +
                                          "; only placed or paid orders can be cancelled");
      }
      for (const OrderLine& l : o.lines) {
        if (!l.stock_tracked) continue;
        RETURN_IF_ERROR(db.Exec("UPDATE commerce_products SET stock = stock + ? WHERE sku = ?",
                                {l.quantity, l.sku}));
      }
      std::string note(reason);
      if (o.paid)
        note += " (paid " + FormatMoney(o.totals.total_minor, o.currency, config_.locale) +
                ": refund due)";
      return SetStatus(db, o, OrderStatus::kCancelled, actor, note, now);
    });
  }

  // " WHERE ..." of `f` (its limit and offset aside), with its parameters.
  std::string OrderWhere(const OrderFilter& f, std::vector<SqlValue>& params) const {
    std::string sql = " WHERE 1 = 1";
    if (f.status) {
      sql += " AND status = ?";
      params.emplace_back(StatusText(*f.status));
    }
    if (!f.channel.empty()) {
      sql += " AND channel = ?";
      params.emplace_back(f.channel);
    } else if (f.other_channels) {
      sql += " AND channel <> ?";
      params.emplace_back(config_.site_id);
    }
    if (!f.customer_email.empty()) {
      sql += " AND lower(email) = lower(?)";
      params.emplace_back(f.customer_email);
    }
    return sql;
  }

  Result<int64_t> CountOrders(const OrderFilter& f) {
    std::vector<SqlValue> params;
    const std::string sql = "SELECT COUNT(*) FROM commerce_orders" + OrderWhere(f, params);
    ASSIGN_OR_RETURN(auto rows, db_.Query(sql, params));
    return rows.empty() ? 0 : rows[0].Int(0);
  }

  Result<int64_t> EraseCustomer(std::string_view email) {
    if (email.empty()) return Status::InvalidArgument("whose orders? the email address is empty");
    int64_t changed = 0;
    RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
      ASSIGN_OR_RETURN(auto rows, db.Query("SELECT COUNT(*) FROM commerce_orders WHERE "
                                           "lower(email) = lower(?)",
                                           {std::string(email)}));
      changed = rows.empty() ? 0 : rows[0].Int(0);
      return db.Exec(
          "UPDATE commerce_orders SET customer_name = '', address_line1 = '', "
          "address_line2 = '', postal_code = '', city = '', email = '', phone = '', "
          "updated_micros = ? WHERE lower(email) = lower(?)",
          {env_.NowMicros(), std::string(email)});
    }));
    return changed;
  }

  Result<std::vector<Order>> ListOrders(const OrderFilter& f) {
    std::vector<SqlValue> params;
    std::string sql = "SELECT number FROM commerce_orders" + OrderWhere(f, params);
    sql += " ORDER BY id DESC LIMIT ? OFFSET ?";
    params.emplace_back(int64_t{std::clamp(f.limit, 1, 10000)});
    params.emplace_back(std::max<int64_t>(f.offset, 0));
    ASSIGN_OR_RETURN(auto rows, db_.Query(sql, params));
    std::vector<Order> out;
    for (const SqlRow& r : rows) {
      ASSIGN_OR_RETURN(Order o, LoadOrder(db_, r.Text(0)));
      o.events.clear();
      out.push_back(std::move(o));
    }
    return out;
  }

  // --- mail ---

  std::string OrderLink(const Order& o) const {
    if (config_.public_base_url.empty()) return "";
    return config_.public_base_url + "/shop/orders/" + o.number + "?key=" + o.access_key;
  }

  std::string LinesText(const Order& o) const {
    std::string s;
    for (const OrderLine& l : o.lines) {
      s += "  " + std::to_string(l.quantity) + " x " + l.title + " (" + l.sku + ")  " +
           FormatMoney(l.line_total_minor, o.currency, config_.locale) + "\n";
    }
    s += "\nSubtotal: " + FormatMoney(o.totals.subtotal_minor, o.currency, config_.locale) + "\n";
    s += std::string(config_.prices_include_tax ? "Tax included: " : "Tax: ") +
         FormatMoney(o.totals.tax_minor, o.currency, config_.locale) + "\n";
    s += "Shipping: " + FormatMoney(o.totals.shipping_minor, o.currency, config_.locale) + "\n";
    s += "Total: " + FormatMoney(o.totals.total_minor, o.currency, config_.locale) + "\n";
    return s;
  }

  void Send(const Order& o, std::string subject, std::string body, const std::string& to) {
    MailMessage m;
    m.from = config_.mail_from;
    if (m.from.name.empty()) m.from.name = config_.shop_name;
    m.to.push_back({o.customer.name, to});
    m.subject = std::move(subject);
    m.body = std::move(body);
    auto r = outbox_->Enqueue(std::move(m));
    if (!r.ok()) {
      logger_->warn("order {}: could not write mail to {}: {}", o.number, to,
                    r.status().ToString());
    }
  }

  void MailConfirmation(const Order& o) {
    if (!outbox_ || config_.mail_from.address.empty()) return;
    const PaymentProvider* p = FindPayment(o.payment_method);
    std::string body = "Hello " + o.customer.name + ",\n\nthank you for your order " + o.number +
                       " at " + config_.shop_name + ".\n\n" + LinesText(o) +
                       "\nPayment: " + (p ? std::string(p->title()) : o.payment_method) + "\n" +
                       o.payment_instructions + "\n\nDelivery address:\n" + o.customer.name + "\n" +
                       o.customer.address_line1 + "\n" +
                       (o.customer.address_line2.empty() ? "" : o.customer.address_line2 + "\n") +
                       o.customer.postal_code + " " + o.customer.city + "\n" + o.customer.country +
                       "\n";
    std::string link = OrderLink(o);
    if (!link.empty()) body += "\nFollow your order: " + link + "\n";
    body += "\n" + config_.shop_name + "\n";
    std::string subject = "Your order " + o.number + " at " + config_.shop_name;
    if (!o.customer.email.empty()) Send(o, subject, body, o.customer.email);
    if (!config_.manager_email.empty()) {
      Send(o,
           "New order " + o.number + " (" +
               FormatMoney(o.totals.total_minor, o.currency, config_.locale) + ")",
           body, config_.manager_email);
    }
  }

  void MailShippingNotice(const Order& o) {
    if (!outbox_ || config_.mail_from.address.empty() || o.customer.email.empty() || !o.shipment) {
      return;
    }
    std::string body = "Hello " + o.customer.name + ",\n\nyour order " + o.number +
                       " is on its way.\n\nCarrier: " + o.shipment->carrier +
                       "\nTracking number: " + o.shipment->tracking + "\n\n" + LinesText(o);
    std::string link = OrderLink(o);
    if (!link.empty()) body += "\nFollow your order: " + link + "\n";
    body += "\n" + config_.shop_name + "\n";
    Send(o, "Your order " + o.number + " has shipped", body, o.customer.email);
  }

  Database& db() { return db_; }

  Env& env_;
  Database& db_;
  ShopConfig config_;
  std::vector<std::shared_ptr<PaymentProvider>> payments_;
  MailOutbox* outbox_;
  std::shared_ptr<Logger> logger_;
};

Shop::Shop(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Shop::~Shop() = default;

Result<std::unique_ptr<Shop>> Shop::Open(Env& env, Database& db, ShopConfig config,
                                         std::vector<std::shared_ptr<PaymentProvider>> payments,
                                         MailOutbox* outbox, std::shared_ptr<Logger> logger) {
  auto impl = std::make_unique<Impl>(env, db, std::move(config), std::move(payments), outbox,
                                     std::move(logger));
  RETURN_IF_ERROR(impl->ValidateConfig());
  RETURN_IF_ERROR(Migrate(db, "commerce", Schema()));
  return std::unique_ptr<Shop>(new Shop(std::move(impl)));
}

const ShopConfig& Shop::config() const { return impl_->config_; }

Env& Shop::env() const { return impl_->env_; }
const std::vector<std::shared_ptr<PaymentProvider>>& Shop::payment_providers() const {
  return impl_->payments_;
}
const PaymentProvider* Shop::FindPaymentProvider(std::string_view id) const {
  return impl_->FindPayment(id);
}
MailOutbox* Shop::outbox() const { return impl_->outbox_; }

Status Shop::AddProduct(const Product& product) {
  RETURN_IF_ERROR(impl_->ValidateProduct(product));
  int64_t now = impl_->env_.NowMicros();
  Status s = impl_->db_.Exec(
      "INSERT INTO commerce_products (sku, title, description, images, page_path, price_minor, "
      "currency, tax_class, category, stock, created_micros, updated_micros) VALUES (?, ?, ?, ?, "
      "?, ?, ?, ?, ?, ?, ?, ?)",
      {product.sku, product.title, product.description, JoinImages(product.images),
       product.page_path, product.price_minor, product.currency, product.tax_class,
       product.category, product.stock, now, now});
  if (s.code() == StatusCode::kAlreadyExists) {
    return Status::AlreadyExists("a product with SKU '" + product.sku +
                                 "' exists already; use a new SKU or update that product");
  }
  return s;
}

Status Shop::UpdateProduct(std::string_view sku, const ProductUpdate& u) {
  return impl_->db_.Transaction([&](Database& db) -> Status {
    ASSIGN_OR_RETURN(Product p, impl_->LoadProduct(db, sku));
    if (u.title) p.title = *u.title;
    if (u.description) p.description = *u.description;
    if (u.page_path) p.page_path = *u.page_path;
    if (u.tax_class) p.tax_class = *u.tax_class;
    if (u.category) p.category = *u.category;
    if (u.images) p.images = *u.images;
    if (u.price_minor) p.price_minor = *u.price_minor;
    RETURN_IF_ERROR(impl_->ValidateProduct(p));
    return db.Exec(
        "UPDATE commerce_products SET title = ?, description = ?, images = ?, page_path = ?, "
        "price_minor = ?, tax_class = ?, category = ?, updated_micros = ? WHERE sku = ?",
        {p.title, p.description, JoinImages(p.images), p.page_path, p.price_minor, p.tax_class,
         p.category, impl_->env_.NowMicros(), p.sku});
  });
}

Status Shop::SetStock(std::string_view sku, int64_t stock) {
  if (stock < 0 || stock > kMaxStock) {
    return Status::OutOfRange("stock must be between 0 and " + std::to_string(kMaxStock));
  }
  return impl_->db_.Transaction([&](Database& db) -> Status {
    ASSIGN_OR_RETURN(Product p, impl_->LoadProduct(db, sku));
    return db.Exec("UPDATE commerce_products SET stock = ?, updated_micros = ? WHERE sku = ?",
                   {stock, impl_->env_.NowMicros(), p.sku});
  });
}

Status Shop::AdjustStock(std::string_view sku, int64_t delta) {
  if (delta < -kMaxStock || delta > kMaxStock) {
    return Status::OutOfRange("a stock change must be within +-" + std::to_string(kMaxStock));
  }
  return impl_->db_.Transaction([&](Database& db) -> Status {
    ASSIGN_OR_RETURN(Product p, impl_->LoadProduct(db, sku));
    if (p.stock + delta < 0) {
      return Status::FailedPrecondition("product " + p.sku + " has " + std::to_string(p.stock) +
                                        " in stock; cannot take away " + std::to_string(-delta));
    }
    if (p.stock + delta > kMaxStock) return Status::OutOfRange("stock would exceed the limit");
    return db.Exec(
        "UPDATE commerce_products SET stock = stock + ?, updated_micros = ? WHERE "
        "sku = ?",
        {delta, impl_->env_.NowMicros(), p.sku});
  });
}

Status Shop::RemoveProduct(std::string_view sku) {
  return impl_->db_.Transaction([&](Database& db) -> Status {
    ASSIGN_OR_RETURN(Product p, impl_->LoadProduct(db, sku));
    RETURN_IF_ERROR(db.Exec("DELETE FROM commerce_cart_lines WHERE sku = ?", {p.sku}));
    return db.Exec("DELETE FROM commerce_products WHERE sku = ?", {p.sku});
  });
}

Result<Product> Shop::GetProduct(std::string_view sku) {
  return impl_->LoadProduct(impl_->db_, sku);
}

Result<std::vector<Product>> Shop::ListProducts(std::string_view category) {
  std::string sql = "SELECT " + std::string(kProductColumns) + " FROM commerce_products";
  std::vector<SqlValue> params;
  if (!category.empty()) {
    sql += " WHERE category = ?";
    params.emplace_back(std::string(category));
  }
  sql += " ORDER BY sku";
  ASSIGN_OR_RETURN(auto rows, impl_->db_.Query(sql, params));
  std::vector<Product> out;
  for (const SqlRow& r : rows) out.push_back(ProductFromRow(r));
  return out;
}

std::string Shop::NewCartToken() { return Base64UrlEncode(RandomString(impl_->env_, 32)); }

Result<Cart> Shop::GetCart(std::string_view token) { return impl_->GetCart(token); }

Status Shop::AddToCart(std::string_view token, std::string_view sku, int64_t quantity, Area area) {
  return impl_->AddToCart(token, sku, quantity, area);
}

Status Shop::SetCartQuantity(std::string_view token, std::string_view sku, int64_t quantity) {
  return impl_->SetCartQuantity(token, sku, quantity);
}

Status Shop::RemoveFromCart(std::string_view token, std::string_view sku) {
  return impl_->RemoveFromCart(token, sku);
}

Result<OrderReceipt> Shop::Checkout(std::string_view token, const Customer& customer,
                                    std::string_view payment_method,
                                    std::string_view idempotency_key, std::string_view channel,
                                    std::optional<Area> only_area, const ShownPrices* shown) {
  auto r =
      impl_->Checkout(token, customer, payment_method, idempotency_key, channel, only_area, shown);
  if (r.ok() && !r->replayed && order_observer_) order_observer_(r->order);
  return r;
}

Result<OrderReceipt> Shop::PlaceOrder(const OrderRequest& request) {
  auto r = impl_->PlaceOrder(request);
  if (r.ok() && !r->replayed && order_observer_) order_observer_(r->order);
  return r;
}

Result<PriceQuote> Shop::Quote(const std::vector<QuoteLineRequest>& lines) {
  return impl_->Quote(lines);
}

Result<int64_t> Shop::ReleaseExpired(int64_t now_micros) {
  int64_t deleted = 0;
  Status s = impl_->db_.Transaction([&](Database& db) -> Status {
    // The lines go with their cart (ON DELETE CASCADE).
    RETURN_IF_ERROR(db.Exec("DELETE FROM commerce_carts WHERE updated_micros <= ?",
                            {now_micros - impl_->config_.cart_idle_seconds * 1'000'000}));
    deleted = db.ChangedRows();
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return deleted;
}

Result<Order> Shop::GetOrder(std::string_view number) {
  return impl_->LoadOrder(impl_->db_, number);
}

Result<Order> Shop::GetOrderForCustomer(std::string_view number, std::string_view access_key) {
  auto o = impl_->LoadOrder(impl_->db_, number);
  if (!o.ok() || access_key.empty() || !ConstantTimeEquals(o->access_key, access_key)) {
    if (!o.ok() && o.status().code() != StatusCode::kNotFound) return o.status();
    return Status::NotFound(
        "no order with this number and key; check the link in your "
        "confirmation");
  }
  return o;
}

Result<int64_t> Shop::EraseCustomer(std::string_view email) { return impl_->EraseCustomer(email); }
Result<std::optional<std::string>> Shop::EmailWithSha256(std::string_view email_sha256) {
  ASSIGN_OR_RETURN(auto rows,
                   impl_->db().Query("SELECT DISTINCT lower(email) FROM commerce_orders WHERE "
                                     "email != ''"));
  for (const SqlRow& row : rows) {
    if (Sha256Hex(row.Text(0)) == email_sha256) return std::optional<std::string>(row.Text(0));
  }
  return std::optional<std::string>();
}

Result<int64_t> Shop::EraseCustomerWithEmailSha256(std::string_view email_sha256) {
  ASSIGN_OR_RETURN(std::optional<std::string> email, EmailWithSha256(email_sha256));
  if (!email) return int64_t{0};
  return impl_->EraseCustomer(*email);
}
Result<std::vector<Order>> Shop::ListOrders(const OrderFilter& filter) {
  return impl_->ListOrders(filter);
}

Result<int64_t> Shop::CountOrders(const OrderFilter& filter) { return impl_->CountOrders(filter); }

Status Shop::MarkPaid(std::string_view number, std::string_view actor, std::string_view note) {
  return impl_->MarkPaid(number, actor, note);
}

Status Shop::Ship(std::string_view number, std::string_view carrier, std::string_view tracking,
                  std::string_view actor) {
  return impl_->Ship(number, carrier, tracking, actor);
}

Status Shop::UpdateShipment(std::string_view number, std::string_view shipment_status,
                            std::string_view actor, std::string_view note) {
  return impl_->UpdateShipment(number, shipment_status, actor, note);
}

Status Shop::MarkDelivered(std::string_view number, std::string_view actor) {
  return impl_->MarkDelivered(number, actor);
}

Status Shop::Cancel(std::string_view number, std::string_view actor, std::string_view reason) {
  return impl_->Cancel(number, actor, reason);
}

}  // namespace tieup::commerce
