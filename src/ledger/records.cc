#include "ledger/records.h"

#include <algorithm>
#include <boost/json.hpp>
#include <vector>

#include "base/encoding.h"

namespace tieup::ledger {
namespace {

namespace json = boost::json;

// Writes compact JSON objects whose keys the caller adds in sorted order. Written by hand
// rather than through boost::json::object: the access log encodes one record per request.
class CanonicalWriter {
 public:
  CanonicalWriter() { out_.reserve(256); }
  void Key(std::string_view key) {
    out_.push_back(out_.empty() ? '{' : ',');
    AppendString(key);
    out_.push_back(':');
  }
  void String(std::string_view key, std::string_view value) {
    Key(key);
    bool valid = true;
    for (size_t i = 0; i < value.size() && valid;) {
      size_t n = Utf8SequenceLength(value, i);
      valid = n != 0;
      i += n;
    }
    if (valid) {
      AppendString(value);
    } else {
      AppendString(SanitizeUtf8(value));
    }
  }
  void Int(std::string_view key, int64_t v) {
    Key(key);
    out_ += std::to_string(v);
  }
  void Uint(std::string_view key, uint64_t v) {
    Key(key);
    out_ += std::to_string(v);
  }
  std::string Finish() {
    out_.push_back('}');
    return std::move(out_);
  }

 private:
  // A JSON string: quote and backslash escaped, control characters as short escapes or \u00XX;
  // everything else (valid UTF-8 by now) as is.
  void AppendString(std::string_view s) {
    out_.push_back('"');
    for (char c : s) {
      switch (c) {
        case '"':
          out_ += "\\\"";
          break;
        case '\\':
          out_ += "\\\\";
          break;
        case '\b':
          out_ += "\\b";
          break;
        case '\f':
          out_ += "\\f";
          break;
        case '\n':
          out_ += "\\n";
          break;
        case '\r':
          out_ += "\\r";
          break;
        case '\t':
          out_ += "\\t";
          break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            static constexpr char kHex[] = "0123456789abcdef";
            out_ += "\\u00";
            out_.push_back(kHex[(c >> 4) & 0xF]);
            out_.push_back(kHex[c & 0xF]);
          } else {
            out_.push_back(c);
          }
      }
    }
    out_.push_back('"');
  }

  std::string out_;
};

// Reads fields out of a parsed object, remembering the first error.
class FieldReader {
 public:
  FieldReader(const json::object& o, std::string_view type) : o_(o), type_(type) {}

  const json::value* Find(std::string_view key) {
    const json::value* v = o_.if_contains(key);
    if (v == nullptr) Fail(std::string("the field \"") + std::string(key) + "\" is missing");
    return v;
  }
  std::string String(std::string_view key) {
    const json::value* v = Find(key);
    if (v == nullptr) return {};
    if (!v->is_string()) {
      Fail("the field \"" + std::string(key) + "\" must be a string");
      return {};
    }
    return std::string(v->get_string());
  }
  // An integer within [min, max].
  int64_t Int(std::string_view key, int64_t min, int64_t max) {
    const json::value* v = Find(key);
    if (v == nullptr) return 0;
    if (v->is_int64() && v->get_int64() >= min && v->get_int64() <= max) return v->get_int64();
    Fail("the field \"" + std::string(key) + "\" must be an integer from " + std::to_string(min) +
         " to " + std::to_string(max));
    return 0;
  }
  uint64_t Uint(std::string_view key) {
    const json::value* v = Find(key);
    if (v == nullptr) return 0;
    if (v->is_int64() && v->get_int64() >= 0) return static_cast<uint64_t>(v->get_int64());
    if (v->is_uint64()) return v->get_uint64();
    Fail("the field \"" + std::string(key) + "\" must be a non-negative integer");
    return 0;
  }
  RecordArea Area(std::string_view key) {
    std::string s = String(key);
    if (s == "tieup") return RecordArea::kTieup;
    if (s == "original") return RecordArea::kOriginal;
    if (status_.ok()) {
      Fail("the field \"" + std::string(key) + "\" must be \"tieup\" or \"original\", got \"" +
           s.substr(0, 40) + "\"");
    }
    return RecordArea::kTieup;
  }
  void Fail(std::string message) {
    if (status_.ok()) {
      status_ = Status::InvalidArgument("ledger " + std::string(type_) + " record: " + message);
    }
  }
  const Status& status() const { return status_; }

 private:
  const json::object& o_;
  std::string_view type_;
  Status status_;
};

// Checks that `o` has exactly the keys `required` plus any of `optional`.
Status CheckKeys(const json::object& o, std::string_view type,
                 std::initializer_list<std::string_view> required,
                 std::initializer_list<std::string_view> optional = {}) {
  for (const auto& kv : o) {
    std::string_view k = kv.key();
    bool known = std::find(required.begin(), required.end(), k) != required.end() ||
                 std::find(optional.begin(), optional.end(), k) != optional.end();
    if (!known) {
      return Status::InvalidArgument("ledger " + std::string(type) + " record: unknown field \"" +
                                     std::string(k.substr(0, 40)) + "\"");
    }
  }
  for (std::string_view k : required) {
    if (!o.contains(k)) {
      return Status::InvalidArgument("ledger " + std::string(type) + " record: the field \"" +
                                     std::string(k) + "\" is missing");
    }
  }
  return Status::Ok();
}

constexpr int64_t kMaxInt64 = INT64_MAX;

}  // namespace

std::string_view RecordAreaName(RecordArea area) {
  return area == RecordArea::kTieup ? "tieup" : "original";
}

std::string_view AdOwnerName(AdOwner owner) { return owner == AdOwner::kMain ? "main" : "partner"; }

// Keys below are written in sorted (byte) order: that order is part of the canonical form.

std::string EncodeRecord(const AccessRecord& r) {
  CanonicalWriter w;
  w.String("area", RecordAreaName(r.area));
  w.Uint("bytes", r.bytes);
  w.String("method", r.method);
  w.String("path", r.path);
  w.String("referer", r.referer);
  if (r.remote.has_value()) w.String("remote", *r.remote);
  w.String("session_id", r.session_id);
  w.Int("status", r.status);
  w.Int("time_micros", r.time_micros);
  w.String("type", "access");
  w.String("user_agent", r.user_agent);
  w.String("user_id", r.user_id);
  w.Int("v", AccessRecord::kVersion);
  return w.Finish();
}

std::string EncodeRecord(const RegistrationRecord& r) {
  CanonicalWriter w;
  w.String("area", RecordAreaName(r.area));
  w.String("partner", r.partner);
  w.Int("time_micros", r.time_micros);
  w.String("type", "registration");
  w.String("user_id", r.user_id);
  w.Int("v", RegistrationRecord::kVersion);
  return w.Finish();
}

std::string EncodeRecord(const OrderRecord& r) {
  CanonicalWriter w;
  w.Int("amount_minor", r.amount_minor);
  w.String("area", RecordAreaName(r.area));
  w.String("currency", r.currency);
  w.Uint("items", r.items);
  w.String("order_id", r.order_id);
  w.String("partner", r.partner);
  w.Int("time_micros", r.time_micros);
  w.String("type", "order");
  w.Int("v", OrderRecord::kVersion);
  return w.Finish();
}

std::string EncodeRecord(const ContentRecord& r) {
  CanonicalWriter w;
  w.String("area", RecordAreaName(r.area));
  w.Uint("bytes", r.bytes);
  w.Uint("pages", r.pages);
  w.Int("time_micros", r.time_micros);
  w.String("type", "content");
  w.Int("v", ContentRecord::kVersion);
  w.Uint("version", r.version);
  return w.Finish();
}

std::string EncodeRecord(const AdRecord& r) {
  // Version 1 (no ad, no clicks) stays as older builds wrote it.
  const bool v2 = !r.ad.empty() || r.clicks != 0;
  CanonicalWriter w;
  if (v2) {
    w.String("ad", r.ad);
    w.Uint("clicks", r.clicks);
  }
  w.Uint("impressions", r.impressions);
  w.String("owner", AdOwnerName(r.owner));
  w.String("path", r.path);
  w.Int("time_micros", r.time_micros);
  w.String("type", "ad");
  w.Int("v", v2 ? AdRecord::kVersion : 1);
  return w.Finish();
}

std::string EncodeRecord(const UnrecordedRecord& r) {
  CanonicalWriter w;
  w.Uint("count", r.count);
  w.Int("first_micros", r.first_micros);
  w.Int("last_micros", r.last_micros);
  w.String("reason", r.reason);
  w.String("type", "unrecorded");
  w.Int("v", UnrecordedRecord::kVersion);
  return w.Finish();
}

std::string EncodeRecord(const OrderCancelRecord& r) {
  CanonicalWriter w;
  w.Int("amount_minor", r.amount_minor);
  w.String("area", RecordAreaName(r.area));
  w.String("currency", r.currency);
  w.String("kind", r.kind);
  w.String("order_id", r.order_id);
  w.String("partner", r.partner);
  w.Int("time_micros", r.time_micros);
  w.String("type", "order_cancel");
  w.Int("v", OrderCancelRecord::kVersion);
  return w.Finish();
}

std::string EncodeRecord(const SearchRecord& r) {
  CanonicalWriter w;
  if (r.clicked_area.has_value()) w.String("clicked_area", RecordAreaName(*r.clicked_area));
  if (!r.clicked_path.empty()) w.String("clicked_path", r.clicked_path);
  w.String("query", r.query);
  w.Uint("results", r.results);
  w.Int("time_micros", r.time_micros);
  w.String("type", "search");
  w.Int("v", SearchRecord::kVersion);
  return w.Finish();
}

std::string EncodeRecord(const LedgerRecord& record) {
  return std::visit([](const auto& r) { return EncodeRecord(r); }, record);
}

Result<LedgerRecord> ParseRecord(std::string_view entry) {
  boost::system::error_code ec;
  json::value doc = json::parse(entry, ec);
  if (ec) {
    return Status::InvalidArgument("ledger record is not valid JSON: " + ec.message());
  }
  if (!doc.is_object()) return Status::InvalidArgument("ledger record is not a JSON object");
  const json::object& o = doc.get_object();
  const json::value* type_value = o.if_contains("type");
  if (type_value == nullptr || !type_value->is_string()) {
    return Status::InvalidArgument("ledger record has no string field \"type\"");
  }
  std::string type(type_value->get_string());
  const json::value* v = o.if_contains("v");
  if (v == nullptr || !v->is_int64()) {
    return Status::InvalidArgument("ledger " + type + " record has no integer version \"v\"");
  }
  int64_t version = v->get_int64();

  LedgerRecord record;
  FieldReader f(o, type);
  auto check_version = [&](int known) -> Status {
    if (version != known) {
      return Status::Unimplemented("ledger " + type + " record version " + std::to_string(version) +
                                   " is not supported (this build " + "reads version " +
                                   std::to_string(known) + "); upgrade tieup to read it");
    }
    return Status::Ok();
  };
  if (type == "access") {
    RETURN_IF_ERROR(check_version(AccessRecord::kVersion));
    RETURN_IF_ERROR(CheckKeys(o, type,
                              {"area", "bytes", "method", "path", "referer", "session_id", "status",
                               "time_micros", "type", "user_agent", "user_id", "v"},
                              {"remote"}));
    AccessRecord r;
    r.time_micros = f.Int("time_micros", 0, kMaxInt64);
    r.area = f.Area("area");
    r.method = f.String("method");
    r.path = f.String("path");
    r.status = static_cast<int32_t>(f.Int("status", 0, 999));
    r.bytes = f.Uint("bytes");
    r.referer = f.String("referer");
    r.user_agent = f.String("user_agent");
    r.user_id = f.String("user_id");
    r.session_id = f.String("session_id");
    if (o.contains("remote")) r.remote = f.String("remote");
    if (r.method.empty() && f.status().ok()) f.Fail("the field \"method\" is empty");
    record = std::move(r);
  } else if (type == "registration") {
    RETURN_IF_ERROR(check_version(RegistrationRecord::kVersion));
    RETURN_IF_ERROR(CheckKeys(o, type, {"area", "partner", "time_micros", "type", "user_id", "v"}));
    RegistrationRecord r;
    r.time_micros = f.Int("time_micros", 0, kMaxInt64);
    r.partner = f.String("partner");
    r.user_id = f.String("user_id");
    r.area = f.Area("area");
    if (r.user_id.empty() && f.status().ok()) f.Fail("the field \"user_id\" is empty");
    record = std::move(r);
  } else if (type == "order") {
    RETURN_IF_ERROR(check_version(OrderRecord::kVersion));
    RETURN_IF_ERROR(CheckKeys(o, type,
                              {"amount_minor", "area", "currency", "items", "order_id", "partner",
                               "time_micros", "type", "v"}));
    OrderRecord r;
    r.time_micros = f.Int("time_micros", 0, kMaxInt64);
    r.order_id = f.String("order_id");
    r.partner = f.String("partner");
    r.area = f.Area("area");
    r.amount_minor = f.Int("amount_minor", INT64_MIN, kMaxInt64);
    r.currency = f.String("currency");
    r.items = static_cast<uint32_t>(f.Int("items", 0, UINT32_MAX));
    bool currency_ok = r.currency.size() == 3;
    for (char c : r.currency) currency_ok = currency_ok && c >= 'A' && c <= 'Z';
    if (!currency_ok && f.status().ok()) {
      f.Fail("the field \"currency\" must be three upper-case letters (ISO 4217), got \"" +
             r.currency.substr(0, 20) + "\"");
    }
    if (r.order_id.empty() && f.status().ok()) f.Fail("the field \"order_id\" is empty");
    record = std::move(r);
  } else if (type == "order_cancel") {
    RETURN_IF_ERROR(check_version(OrderCancelRecord::kVersion));
    RETURN_IF_ERROR(CheckKeys(o, type,
                              {"amount_minor", "area", "currency", "kind", "order_id", "partner",
                               "time_micros", "type", "v"}));
    OrderCancelRecord r;
    r.time_micros = f.Int("time_micros", 0, kMaxInt64);
    r.order_id = f.String("order_id");
    r.partner = f.String("partner");
    r.area = f.Area("area");
    r.amount_minor = f.Int("amount_minor", 0, kMaxInt64);
    r.currency = f.String("currency");
    r.kind = f.String("kind");
    bool currency_ok = r.currency.size() == 3;
    for (char c : r.currency) currency_ok = currency_ok && c >= 'A' && c <= 'Z';
    if (!currency_ok && f.status().ok()) {
      f.Fail("the field \"currency\" must be three upper-case letters (ISO 4217), got \"" +
             r.currency.substr(0, 20) + "\"");
    }
    if (r.order_id.empty() && f.status().ok()) f.Fail("the field \"order_id\" is empty");
    if (r.kind != "cancelled" && r.kind != "refunded" && f.status().ok()) {
      f.Fail("the field \"kind\" must be \"cancelled\" or \"refunded\", got \"" +
             r.kind.substr(0, 40) + "\"");
    }
    record = std::move(r);
  } else if (type == "content") {
    RETURN_IF_ERROR(check_version(ContentRecord::kVersion));
    RETURN_IF_ERROR(
        CheckKeys(o, type, {"area", "bytes", "pages", "time_micros", "type", "v", "version"}));
    ContentRecord r;
    r.time_micros = f.Int("time_micros", 0, kMaxInt64);
    r.area = f.Area("area");
    r.version = f.Uint("version");
    r.pages = f.Uint("pages");
    r.bytes = f.Uint("bytes");
    record = std::move(r);
  } else if (type == "ad") {
    if (version != 1) RETURN_IF_ERROR(check_version(AdRecord::kVersion));
    if (version == 1) {
      RETURN_IF_ERROR(
          CheckKeys(o, type, {"impressions", "owner", "path", "time_micros", "type", "v"}));
    } else {
      RETURN_IF_ERROR(CheckKeys(
          o, type, {"ad", "clicks", "impressions", "owner", "path", "time_micros", "type", "v"}));
    }
    AdRecord r;
    if (version != 1) {
      r.ad = f.String("ad");
      r.clicks = f.Uint("clicks");
    }
    r.time_micros = f.Int("time_micros", 0, kMaxInt64);
    std::string owner = f.String("owner");
    if (owner == "main") {
      r.owner = AdOwner::kMain;
    } else if (owner == "partner") {
      r.owner = AdOwner::kPartner;
    } else if (f.status().ok()) {
      f.Fail("the field \"owner\" must be \"main\" or \"partner\", got \"" + owner.substr(0, 40) +
             "\"");
    }
    r.impressions = f.Uint("impressions");
    r.path = f.String("path");
    record = std::move(r);
  } else if (type == "unrecorded") {
    RETURN_IF_ERROR(check_version(UnrecordedRecord::kVersion));
    RETURN_IF_ERROR(
        CheckKeys(o, type, {"count", "first_micros", "last_micros", "reason", "type", "v"}));
    UnrecordedRecord r;
    r.count = f.Uint("count");
    r.first_micros = f.Int("first_micros", 0, kMaxInt64);
    r.last_micros = f.Int("last_micros", 0, kMaxInt64);
    r.reason = f.String("reason");
    if (r.count == 0 && f.status().ok()) f.Fail("the field \"count\" must be at least 1");
    if (r.last_micros < r.first_micros && f.status().ok()) {
      f.Fail("the field \"last_micros\" is before \"first_micros\"");
    }
    record = std::move(r);
  } else if (type == "search") {
    RETURN_IF_ERROR(check_version(SearchRecord::kVersion));
    RETURN_IF_ERROR(CheckKeys(o, type, {"query", "results", "time_micros", "type", "v"},
                              {"clicked_area", "clicked_path"}));
    SearchRecord r;
    r.time_micros = f.Int("time_micros", 0, kMaxInt64);
    r.query = f.String("query");
    r.results = f.Uint("results");
    const bool has_area = o.contains("clicked_area");
    const bool has_path = o.contains("clicked_path");
    if (has_area) r.clicked_area = f.Area("clicked_area");
    if (has_path) r.clicked_path = f.String("clicked_path");
    if (r.query.size() > kMaxSearchQueryBytes && f.status().ok()) {
      f.Fail("the field \"query\" is " + std::to_string(r.query.size()) + " bytes long; at most " +
             std::to_string(kMaxSearchQueryBytes) + " are recorded");
    }
    if (has_area != has_path && f.status().ok()) {
      f.Fail(has_area ? "a click has \"clicked_area\" without \"clicked_path\""
                      : "a click has \"clicked_path\" without \"clicked_area\"");
    }
    if (has_path && !r.clicked_path.starts_with('/') && f.status().ok()) {
      f.Fail("the field \"clicked_path\" must be a path starting with '/', got \"" +
             r.clicked_path.substr(0, 40) + "\"");
    }
    record = std::move(r);
  } else {
    return Status::Unimplemented("ledger record type \"" + type.substr(0, 40) +
                                 "\" is not known to this build; upgrade tieup to read it");
  }
  RETURN_IF_ERROR(f.status());
  if (EncodeRecord(record) != entry) {
    return Status::InvalidArgument("ledger " + type +
                                   " record is not in canonical form (compact JSON, keys "
                                   "sorted, no other spelling): it was not written by tieup or "
                                   "was altered");
  }
  return record;
}

}  // namespace tieup::ledger
