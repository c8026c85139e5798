#include "commerce/wire.h"

#include <boost/json.hpp>
#include <set>

namespace tieup::commerce {
namespace {

namespace json = boost::json;

// Reads fields of one JSON object, remembering which were used so that unknown ones are refused.
class Fields {
 public:
  Fields(const json::object& o, std::string where) : o_(o), where_(std::move(where)) {}

  Status Bad(std::string_view key, std::string_view want) const {
    return Status::InvalidArgument(where_ + "." + std::string(key) + " must be " +
                                   std::string(want));
  }
  const json::value* Get(std::string_view key, bool required, Status* s) {
    used_.insert(std::string(key));
    const json::value* v = o_.if_contains(key);
    if (!v && required)
      *s = Status::InvalidArgument(where_ + " lacks the field '" + std::string(key) + "'");
    return v;
  }
  Status String(std::string_view key, std::string* out, bool required = true) {
    Status s;
    const json::value* v = Get(key, required, &s);
    if (!v) return s;
    const json::string* str = v->if_string();
    if (!str || str->size() > 16 * 1024) return Bad(key, "a string");
    *out = std::string(str->data(), str->size());
    return Status::Ok();
  }
  Status Int(std::string_view key, int64_t* out, bool required = true) {
    Status s;
    const json::value* v = Get(key, required, &s);
    if (!v) return s;
    if (const int64_t* i = v->if_int64()) {
      *out = *i;
      return Status::Ok();
    }
    if (const uint64_t* u = v->if_uint64(); u && *u <= static_cast<uint64_t>(INT64_MAX)) {
      *out = static_cast<int64_t>(*u);
      return Status::Ok();
    }
    return Bad(key, "an integer");
  }
  Status Bool(std::string_view key, bool* out, bool required = true) {
    Status s;
    const json::value* v = Get(key, required, &s);
    if (!v) return s;
    const bool* b = v->if_bool();
    if (!b) return Bad(key, "true or false");
    *out = *b;
    return Status::Ok();
  }
  Result<const json::array*> Array(std::string_view key) {
    Status s;
    const json::value* v = Get(key, true, &s);
    if (!v) return s;
    const json::array* a = v->if_array();
    if (!a || a->size() > 1000) return Bad(key, "an array of at most 1000 entries");
    return a;
  }
  Result<const json::object*> Object(std::string_view key) {
    Status s;
    const json::value* v = Get(key, true, &s);
    if (!v) return s;
    const json::object* o = v->if_object();
    if (!o) return Bad(key, "an object");
    return o;
  }
  // Refuses fields nobody asked for.
  Status Done() const {
    for (const auto& kv : o_) {
      if (!used_.count(std::string(kv.key()))) {
        return Status::InvalidArgument(where_ + " has an unknown field '" + std::string(kv.key()) +
                                       "'");
      }
    }
    return Status::Ok();
  }

 private:
  const json::object& o_;
  std::string where_;
  std::set<std::string> used_;
};

Result<json::value> Parse(std::string_view text, std::string_view what) {
  if (text.size() > kMaxWireBytes) {
    return Status::InvalidArgument(std::string(what) + " is larger than " +
                                   std::to_string(kMaxWireBytes) + " bytes");
  }
  boost::system::error_code ec;
  json::value v = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec) return Status::InvalidArgument(std::string(what) + " is not valid JSON: " + ec.message());
  if (!v.is_object()) return Status::InvalidArgument(std::string(what) + " must be a JSON object");
  return v;
}

Result<const json::object*> Element(const json::array& a, size_t i, std::string_view where) {
  const json::object* o = a[i].if_object();
  if (!o) {
    return Status::InvalidArgument(std::string(where) + "[" + std::to_string(i) +
                                   "] must be an object");
  }
  return o;
}

}  // namespace

json::object CustomerToJson(const Customer& c) {
  return json::object{{"name", c.name},
                      {"address_line1", c.address_line1},
                      {"address_line2", c.address_line2},
                      {"postal_code", c.postal_code},
                      {"city", c.city},
                      {"country", c.country},
                      {"email", c.email},
                      {"phone", c.phone}};
}

std::string OrderRequestToJson(const OrderRequest& r) {
  json::array lines;
  for (const OrderLineRequest& l : r.lines) {
    json::object o{{"sku", l.sku}, {"quantity", l.quantity}};
    if (l.unit_price_minor) o["unit_price_minor"] = *l.unit_price_minor;
    if (l.title) o["title"] = *l.title;
    if (l.tax_class) o["tax_class"] = *l.tax_class;
    if (l.expected_unit_price_minor) {
      o["expected_unit_price_minor"] = *l.expected_unit_price_minor;
    }
    lines.push_back(std::move(o));
  }
  json::object customer = CustomerToJson(r.customer);
  json::object o{{"channel", r.channel},
                 {"area", std::string(AreaName(r.area))},
                 {"idempotency_key", r.idempotency_key},
                 {"payment_method", r.payment_method},
                 {"check_inventory", r.check_inventory},
                 {"actor", r.actor},
                 {"customer", std::move(customer)},
                 {"lines", std::move(lines)}};
  return json::serialize(o);
}

Result<OrderRequest> OrderRequestFromJson(std::string_view text) {
  ASSIGN_OR_RETURN(json::value v, Parse(text, "the order request"));
  Fields f(v.as_object(), "order");
  OrderRequest r;
  std::string area;
  RETURN_IF_ERROR(f.String("channel", &r.channel));
  RETURN_IF_ERROR(f.String("area", &area));
  ASSIGN_OR_RETURN(r.area, ParseArea(area));
  RETURN_IF_ERROR(f.String("idempotency_key", &r.idempotency_key));
  RETURN_IF_ERROR(f.String("payment_method", &r.payment_method));
  RETURN_IF_ERROR(f.Bool("check_inventory", &r.check_inventory));
  RETURN_IF_ERROR(f.String("actor", &r.actor, false));
  ASSIGN_OR_RETURN(const json::object* customer, f.Object("customer"));
  Fields c(*customer, "order.customer");
  RETURN_IF_ERROR(c.String("name", &r.customer.name));
  RETURN_IF_ERROR(c.String("address_line1", &r.customer.address_line1));
  RETURN_IF_ERROR(c.String("address_line2", &r.customer.address_line2, false));
  RETURN_IF_ERROR(c.String("postal_code", &r.customer.postal_code));
  RETURN_IF_ERROR(c.String("city", &r.customer.city));
  RETURN_IF_ERROR(c.String("country", &r.customer.country));
  RETURN_IF_ERROR(c.String("email", &r.customer.email, false));
  RETURN_IF_ERROR(c.String("phone", &r.customer.phone, false));
  RETURN_IF_ERROR(c.Done());
  ASSIGN_OR_RETURN(const json::array* lines, f.Array("lines"));
  for (size_t i = 0; i < lines->size(); ++i) {
    ASSIGN_OR_RETURN(const json::object* lo, Element(*lines, i, "order.lines"));
    Fields l(*lo, "order.lines[" + std::to_string(i) + "]");
    OrderLineRequest line;
    RETURN_IF_ERROR(l.String("sku", &line.sku));
    RETURN_IF_ERROR(l.Int("quantity", &line.quantity));
    if (lo->contains("unit_price_minor")) {
      int64_t p = 0;
      RETURN_IF_ERROR(l.Int("unit_price_minor", &p));
      line.unit_price_minor = p;
    }
    if (lo->contains("title")) {
      std::string t;
      RETURN_IF_ERROR(l.String("title", &t));
      line.title = t;
    }
    if (lo->contains("tax_class")) {
      std::string t;
      RETURN_IF_ERROR(l.String("tax_class", &t));
      line.tax_class = t;
    }
    if (lo->contains("expected_unit_price_minor")) {
      int64_t p = 0;
      RETURN_IF_ERROR(l.Int("expected_unit_price_minor", &p));
      line.expected_unit_price_minor = p;
    }
    RETURN_IF_ERROR(l.Done());
    r.lines.push_back(std::move(line));
  }
  RETURN_IF_ERROR(f.Done());
  return r;
}

std::string OrderReceiptToJson(const OrderReceipt& receipt) {
  const Order& o = receipt.order;
  json::array lines;
  for (const OrderLine& l : o.lines) {
    lines.push_back(json::object{{"sku", l.sku},
                                 {"title", l.title},
                                 {"quantity", l.quantity},
                                 {"unit_price_minor", l.unit_price_minor},
                                 {"line_total_minor", l.line_total_minor},
                                 {"tax_class", l.tax_class},
                                 {"tax_rate_bp", l.tax_rate_bp},
                                 {"tax_minor", l.tax_minor}});
  }
  json::object j{{"replayed", receipt.replayed},
                 {"number", o.number},
                 {"access_key", o.access_key},
                 {"status", std::string(OrderStatusName(o.status))},
                 {"paid", o.paid},
                 {"channel", o.channel},
                 {"area", std::string(AreaName(o.area))},
                 {"currency", o.currency},
                 {"subtotal_minor", o.totals.subtotal_minor},
                 {"tax_minor", o.totals.tax_minor},
                 {"shipping_minor", o.totals.shipping_minor},
                 {"total_minor", o.totals.total_minor},
                 {"payment_method", o.payment_method},
                 {"payment_reference", o.payment_reference},
                 {"payment_instructions", o.payment_instructions},
                 {"created_micros", o.created_micros},
                 {"lines", std::move(lines)}};
  return json::serialize(j);
}

Result<OrderReceipt> OrderReceiptFromJson(std::string_view text) {
  ASSIGN_OR_RETURN(json::value v, Parse(text, "the order receipt"));
  Fields f(v.as_object(), "receipt");
  OrderReceipt r;
  Order& o = r.order;
  std::string status, area;
  RETURN_IF_ERROR(f.Bool("replayed", &r.replayed));
  RETURN_IF_ERROR(f.String("number", &o.number));
  RETURN_IF_ERROR(f.String("access_key", &o.access_key));
  RETURN_IF_ERROR(f.String("status", &status));
  ASSIGN_OR_RETURN(o.status, ParseOrderStatus(status));
  RETURN_IF_ERROR(f.Bool("paid", &o.paid));
  RETURN_IF_ERROR(f.String("channel", &o.channel));
  RETURN_IF_ERROR(f.String("area", &area));
  ASSIGN_OR_RETURN(o.area, ParseArea(area));
  RETURN_IF_ERROR(f.String("currency", &o.currency));
  RETURN_IF_ERROR(f.Int("subtotal_minor", &o.totals.subtotal_minor));
  RETURN_IF_ERROR(f.Int("tax_minor", &o.totals.tax_minor));
  RETURN_IF_ERROR(f.Int("shipping_minor", &o.totals.shipping_minor));
  RETURN_IF_ERROR(f.Int("total_minor", &o.totals.total_minor));
  RETURN_IF_ERROR(f.String("payment_method", &o.payment_method));
  RETURN_IF_ERROR(f.String("payment_reference", &o.payment_reference));
  RETURN_IF_ERROR(f.String("payment_instructions", &o.payment_instructions));
  RETURN_IF_ERROR(f.Int("created_micros", &o.created_micros));
  ASSIGN_OR_RETURN(const json::array* lines, f.Array("lines"));
  for (size_t i = 0; i < lines->size(); ++i) {
    ASSIGN_OR_RETURN(const json::object* lo, Element(*lines, i, "receipt.lines"));
    Fields l(*lo, "receipt.lines[" + std::to_string(i) + "]");
    OrderLine line;
    RETURN_IF_ERROR(l.String("sku", &line.sku));
    RETURN_IF_ERROR(l.String("title", &line.title));
    RETURN_IF_ERROR(l.Int("quantity", &line.quantity));
    RETURN_IF_ERROR(l.Int("unit_price_minor", &line.unit_price_minor));
    RETURN_IF_ERROR(l.Int("line_total_minor", &line.line_total_minor));
    RETURN_IF_ERROR(l.String("tax_class", &line.tax_class));
    RETURN_IF_ERROR(l.Int("tax_rate_bp", &line.tax_rate_bp));
    RETURN_IF_ERROR(l.Int("tax_minor", &line.tax_minor));
    RETURN_IF_ERROR(l.Done());
    line.area = o.area;
    o.lines.push_back(std::move(line));
  }
  RETURN_IF_ERROR(f.Done());
  return r;
}

std::string QuoteRequestToJson(const std::vector<QuoteLineRequest>& lines) {
  json::array a;
  for (const auto& l : lines) a.push_back(json::object{{"sku", l.sku}, {"quantity", l.quantity}});
  return json::serialize(json::object{{"lines", std::move(a)}});
}

Result<std::vector<QuoteLineRequest>> QuoteRequestFromJson(std::string_view text) {
  ASSIGN_OR_RETURN(json::value v, Parse(text, "the quote request"));
  Fields f(v.as_object(), "quote");
  ASSIGN_OR_RETURN(const json::array* lines, f.Array("lines"));
  std::vector<QuoteLineRequest> out;
  for (size_t i = 0; i < lines->size(); ++i) {
    ASSIGN_OR_RETURN(const json::object* lo, Element(*lines, i, "quote.lines"));
    Fields l(*lo, "quote.lines[" + std::to_string(i) + "]");
    QuoteLineRequest q;
    RETURN_IF_ERROR(l.String("sku", &q.sku));
    RETURN_IF_ERROR(l.Int("quantity", &q.quantity));
    RETURN_IF_ERROR(l.Done());
    out.push_back(std::move(q));
  }
  RETURN_IF_ERROR(f.Done());
  return out;
}

std::string ConsultCommandToJson(const ConsultCommand& c) {
  json::array prices;
  for (const auto& p : c.prices) {
    prices.push_back(json::object{{"sku", p.sku},
                                  {"unit_price_minor", p.unit_price_minor},
                                  {"title", p.title},
                                  {"tax_class", p.tax_class}});
  }
  return json::serialize(json::object{{"accept", c.accept},
                                      {"reason", c.reason},
                                      {"check_inventory", c.check_inventory},
                                      {"prices", std::move(prices)}});
}

Result<ConsultCommand> ConsultCommandFromJson(std::string_view text) {
  ASSIGN_OR_RETURN(json::value v, Parse(text, "main's consult answer"));
  Fields f(v.as_object(), "command");
  ConsultCommand c;
  RETURN_IF_ERROR(f.Bool("accept", &c.accept));
  RETURN_IF_ERROR(f.String("reason", &c.reason));
  RETURN_IF_ERROR(f.Bool("check_inventory", &c.check_inventory));
  ASSIGN_OR_RETURN(const json::array* prices, f.Array("prices"));
  for (size_t i = 0; i < prices->size(); ++i) {
    ASSIGN_OR_RETURN(const json::object* po, Element(*prices, i, "command.prices"));
    Fields p(*po, "command.prices[" + std::to_string(i) + "]");
    ConsultCommand::LinePrice lp;
    RETURN_IF_ERROR(p.String("sku", &lp.sku));
    RETURN_IF_ERROR(p.Int("unit_price_minor", &lp.unit_price_minor));
    RETURN_IF_ERROR(p.String("title", &lp.title));
    RETURN_IF_ERROR(p.String("tax_class", &lp.tax_class));
    RETURN_IF_ERROR(p.Done());
    c.prices.push_back(std::move(lp));
  }
  RETURN_IF_ERROR(f.Done());
  return c;
}

}  // namespace tieup::commerce
