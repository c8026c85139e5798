#include "users/customer_copy.h"

#include <algorithm>
#include <boost/json.hpp>
#include <mutex>

#include "crypto/hash.h"
#include "trust/signed_metadata.h"

namespace tieup::users {
namespace {

namespace json = boost::json;

// How far ahead of the partner's clock main's may be before a message is suspicious.
constexpr int64_t kMaxClockAheadSeconds = 86400;
constexpr size_t kMaxTextBytes = 1000;

Status Bad(std::string_view what) {
  return Status::InvalidArgument("customer copy message: " + std::string(what));
}

bool Has(const std::vector<std::string>& fields, std::string_view f) {
  return std::find(fields.begin(), fields.end(), f) != fields.end();
}

bool IsUserId(std::string_view id) {
  if (!id.starts_with("usr_") || id.size() < 5 || id.size() > 64) return false;
  for (char c : id.substr(4)) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

bool IsHexSha256(std::string_view h) {
  if (h.size() != 64) return false;
  for (char c : h) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

json::value AddressJson(const PostalAddress& a) {
  if (a.empty()) return nullptr;
  return json::object{
      {"name", a.name}, {"line1", a.line1},     {"line2", a.line2}, {"postal_code", a.postal_code},
      {"city", a.city}, {"country", a.country}, {"phone", a.phone}};
}

json::object CopyJson(const CustomerCopy& c) {
  json::object o{{"user_id", c.user_id}};
  if (c.name) o["name"] = *c.name;
  if (c.email) o["email"] = *c.email;
  if (c.address) o["address"] = AddressJson(*c.address);
  if (c.marketing_consent) o["marketing_consent"] = *c.marketing_consent;
  return o;
}

Result<std::string> Text(const json::value& v, std::string_view what) {
  if (!v.is_string()) return Bad(std::string(what) + " is not a string");
  if (v.get_string().size() > kMaxTextBytes) {
    return Bad(std::string(what) + " is longer than " + std::to_string(kMaxTextBytes) + " bytes");
  }
  return std::string(v.get_string());
}

Result<const json::value*> Field(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return Bad("field '" + std::string(key) + "' is missing");
  return v;
}

Result<CustomerCopy> ParseCopy(const json::value& v, const std::vector<std::string>& fields) {
  const json::object* o = v.if_object();
  if (o == nullptr) return Bad("a copy is not an object");
  if (o->size() != fields.size() + 1) {
    return Bad("a copy must hold exactly the contract's fields and user_id");
  }
  CustomerCopy c;
  ASSIGN_OR_RETURN(const json::value* id, Field(*o, "user_id"));
  ASSIGN_OR_RETURN(c.user_id, Text(*id, "user_id"));
  if (!IsUserId(c.user_id)) return Bad("'" + c.user_id.substr(0, 40) + "' is not a user id");
  for (const std::string& f : fields) {
    ASSIGN_OR_RETURN(const json::value* value, Field(*o, f));
    if (f == "name") {
      ASSIGN_OR_RETURN(c.name, Text(*value, "name"));
    } else if (f == "email") {
      ASSIGN_OR_RETURN(c.email, Text(*value, "email"));
    } else if (f == "marketing_consent") {
      if (!value->is_bool()) return Bad("marketing_consent is not true or false");
      c.marketing_consent = value->get_bool();
    } else if (f == "address") {
      PostalAddress a;
      if (!value->is_null()) {
        const json::object* ao = value->if_object();
        if (ao == nullptr || ao->size() != 7) return Bad("address is not an address or null");
        for (auto [key, out] : {std::pair<const char*, std::string*>{"name", &a.name},
                                {"line1", &a.line1},
                                {"line2", &a.line2},
                                {"postal_code", &a.postal_code},
                                {"city", &a.city},
                                {"country", &a.country},
                                {"phone", &a.phone}}) {
          ASSIGN_OR_RETURN(const json::value* part, Field(*ao, key));
          ASSIGN_OR_RETURN(*out, Text(*part, std::string("address ") + key));
        }
        if (a.empty()) return Bad("an empty address is written null");
      }
      c.address = std::move(a);
    }
  }
  return c;
}

Result<int64_t> Integer(const json::object& o, std::string_view key) {
  ASSIGN_OR_RETURN(const json::value* v, Field(o, key));
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64() && v->get_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    return static_cast<int64_t>(v->get_uint64());
  }
  return Bad("field '" + std::string(key) + "' is not an integer");
}

Result<const json::array*> Array(const json::object& o, std::string_view key) {
  ASSIGN_OR_RETURN(const json::value* v, Field(o, key));
  const json::array* a = v->if_array();
  if (a == nullptr) return Bad("field '" + std::string(key) + "' is not an array");
  return a;
}

constexpr std::string_view kSchema = R"(
CREATE TABLE customer_copies (
  user_id TEXT PRIMARY KEY,
  copy TEXT NOT NULL,
  received_at INTEGER NOT NULL
);
CREATE TABLE customer_copy_state (
  one INTEGER PRIMARY KEY CHECK (one = 1),
  seq INTEGER NOT NULL,
  fields TEXT NOT NULL
);
)";

}  // namespace

CustomerCopy CopyOf(const User& user, const std::vector<std::string>& fields) {
  CustomerCopy c;
  c.user_id = user.id;
  if (Has(fields, "name")) c.name = user.display_name;
  if (Has(fields, "email")) c.email = user.email;
  if (Has(fields, "address")) c.address = user.address;
  if (Has(fields, "marketing_consent")) c.marketing_consent = user.marketing_consent_micros != 0;
  return c;
}

std::string EmailSha256(std::string_view email) {
  std::string lower(email);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return Sha256Hex(lower);
}

std::string EncodeCustomerCopy(const CustomerCopy& copy) { return CanonicalJson(CopyJson(copy)); }

std::string EncodeCustomerCopyMessage(const CustomerCopyMessage& m) {
  json::array upsert, drop, erase, fields;
  for (const CustomerCopy& c : m.upsert) upsert.push_back(CopyJson(c));
  for (const std::string& id : m.drop) drop.push_back(json::string(id));
  for (const CopyErasure& e : m.erase) {
    erase.push_back(json::object{{"user_id", e.user_id}, {"email_sha256", e.email_sha256}});
  }
  for (const std::string& f : m.fields) fields.push_back(json::string(f));
  json::object o{
      {"_type", "customer_copy"}, {"partner", m.partner}, {"seq", m.seq}, {"issued", m.issued},
      {"fields", fields},         {"upsert", upsert},     {"drop", drop}, {"erase", erase}};
  return CanonicalJson(o);
}

Result<CustomerCopyMessage> ParseCustomerCopyMessage(std::string_view payload) {
  if (payload.size() > kMaxCopyMessageBytes) return Bad("longer than the limit");
  boost::system::error_code ec;
  json::value v = json::parse(payload, ec);
  if (ec) return Bad("not JSON: " + ec.message());
  const json::object* o = v.if_object();
  if (o == nullptr) return Bad("not a JSON object");
  ASSIGN_OR_RETURN(const json::value* type, Field(*o, "_type"));
  if (!type->is_string() || type->get_string() != "customer_copy") {
    return Bad("_type is not 'customer_copy'");
  }
  CustomerCopyMessage m;
  ASSIGN_OR_RETURN(const json::value* partner, Field(*o, "partner"));
  ASSIGN_OR_RETURN(m.partner, Text(*partner, "partner"));
  if (m.partner.empty()) return Bad("field 'partner' is empty");
  ASSIGN_OR_RETURN(int64_t seq, Integer(*o, "seq"));
  if (seq < 1) return Bad("field 'seq' must be at least 1");
  m.seq = static_cast<uint64_t>(seq);
  ASSIGN_OR_RETURN(m.issued, Integer(*o, "issued"));
  if (m.issued < 0) return Bad("field 'issued' is negative");
  ASSIGN_OR_RETURN(const json::array* fields, Array(*o, "fields"));
  for (const json::value& f : *fields) {
    ASSIGN_OR_RETURN(std::string name, Text(f, "a field name"));
    if (name != "name" && name != "email" && name != "address" && name != "marketing_consent") {
      return Bad("'" + name.substr(0, 40) + "' is not a field a partner may copy");
    }
    m.fields.push_back(std::move(name));
  }
  if (!std::is_sorted(m.fields.begin(), m.fields.end()) ||
      std::adjacent_find(m.fields.begin(), m.fields.end()) != m.fields.end()) {
    return Bad("the fields are not sorted and distinct");
  }
  ASSIGN_OR_RETURN(const json::array* upsert, Array(*o, "upsert"));
  ASSIGN_OR_RETURN(const json::array* drop, Array(*o, "drop"));
  ASSIGN_OR_RETURN(const json::array* erase, Array(*o, "erase"));
  if (upsert->size() + drop->size() + erase->size() > kMaxCopyEntries) {
    return Bad("more than " + std::to_string(kMaxCopyEntries) + " entries");
  }
  for (const json::value& c : *upsert) {
    ASSIGN_OR_RETURN(CustomerCopy copy, ParseCopy(c, m.fields));
    m.upsert.push_back(std::move(copy));
  }
  for (const json::value& d : *drop) {
    ASSIGN_OR_RETURN(std::string id, Text(d, "a dropped user id"));
    if (!IsUserId(id)) return Bad("'" + id.substr(0, 40) + "' is not a user id");
    m.drop.push_back(std::move(id));
  }
  for (const json::value& e : *erase) {
    const json::object* eo = e.if_object();
    if (eo == nullptr || eo->size() != 2) return Bad("an erasure is not {user_id, email_sha256}");
    CopyErasure x;
    ASSIGN_OR_RETURN(const json::value* id, Field(*eo, "user_id"));
    ASSIGN_OR_RETURN(x.user_id, Text(*id, "user_id"));
    ASSIGN_OR_RETURN(const json::value* hash, Field(*eo, "email_sha256"));
    ASSIGN_OR_RETURN(x.email_sha256, Text(*hash, "email_sha256"));
    if (!IsUserId(x.user_id) || !IsHexSha256(x.email_sha256)) {
      return Bad("an erasure's user id or e-mail hash is malformed");
    }
    m.erase.push_back(std::move(x));
  }
  // Exactly the canonical encoding: no other key, spelling or order.
  if (EncodeCustomerCopyMessage(m) != payload) return Bad("not in its canonical form");
  return m;
}

std::string SignCustomerCopyMessage(const Ed25519PrivateKey& release_key,
                                    const CustomerCopyMessage& message) {
  return EncodeEnvelope(
      SignEnvelope(release_key, kCustomerCopyPayloadType, EncodeCustomerCopyMessage(message)));
}

Result<CustomerCopyMessage> VerifyCustomerCopyMessage(const Ed25519PublicKey& pinned_root,
                                                      std::string_view root_envelope_json,
                                                      std::string_view envelope_json,
                                                      std::string_view expected_partner,
                                                      uint64_t last_seq, int64_t now) {
  if (envelope_json.size() > kMaxCopyMessageBytes * 2) {
    return Status::ResourceExhausted("customer copy message: the envelope is too long");
  }
  ASSIGN_OR_RETURN(
      SignedEnvelope envelope,
      VerifyReleaseKeySigned(pinned_root, root_envelope_json, envelope_json,
                             {kCustomerCopyPayloadType}, "customer copy message", now));
  ASSIGN_OR_RETURN(CustomerCopyMessage m, ParseCustomerCopyMessage(envelope.payload));
  if (m.partner != expected_partner) {
    return Status::PermissionDenied("customer copy message is for partner '" + m.partner +
                                    "', not for this site ('" + std::string(expected_partner) +
                                    "'): refusing it");
  }
  if (m.seq <= last_seq) {
    return Status::FailedPrecondition("customer copy message number " + std::to_string(m.seq) +
                                      " is not newer than number " + std::to_string(last_seq) +
                                      ", already accepted: refusing a replay");
  }
  if (m.issued > now + kMaxClockAheadSeconds) {
    return Status::InvalidArgument(
        "customer copy message was issued more than a day ahead of "
        "this site's clock: refusing it");
  }
  return m;
}

class CustomerCopyKeeper::Impl {
 public:
  Impl(Env& env, Database& db, Options options)
      : env_(env), db_(db), options_(std::move(options)) {}

  Result<Applied> Accept(std::string_view envelope) {
    // One message at a time: the number read is the number checked against.
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(auto contract, Contract());
    ASSIGN_OR_RETURN(
        CustomerCopyMessage m,
        VerifyCustomerCopyMessage(options_.pinned_root, options_.root_envelope, envelope,
                                  options_.site_id, contract.second, env_.NowSeconds()));
    Applied applied;
    applied.seq = m.seq;
    if (options_.erase_orders) {
      for (const CopyErasure& e : m.erase) {
        ASSIGN_OR_RETURN(int64_t n, options_.erase_orders(e.email_sha256));
        applied.orders_erased += n;
      }
    }
    std::string fields;
    for (const std::string& f : m.fields) fields += (fields.empty() ? "" : ",") + f;
    RETURN_IF_ERROR(db_.Transaction([&](Database& tx) -> Status {
      const int64_t now = env_.NowMicros();
      for (const CustomerCopy& c : m.upsert) {
        RETURN_IF_ERROR(tx.Exec(
            "INSERT INTO customer_copies(user_id, copy, received_at) VALUES(?, ?, ?) ON CONFLICT "
            "(user_id) DO UPDATE SET copy = excluded.copy, received_at = excluded.received_at",
            {c.user_id, EncodeCustomerCopy(c), now}));
      }
      for (const std::string& id : m.drop) {
        RETURN_IF_ERROR(tx.Exec("DELETE FROM customer_copies WHERE user_id = ?", {id}));
      }
      for (const CopyErasure& e : m.erase) {
        RETURN_IF_ERROR(tx.Exec("DELETE FROM customer_copies WHERE user_id = ?", {e.user_id}));
      }
      return tx.Exec(
          "INSERT INTO customer_copy_state(one, seq, fields) VALUES(1, ?, ?) ON CONFLICT (one) "
          "DO UPDATE SET seq = excluded.seq, fields = excluded.fields",
          {static_cast<int64_t>(m.seq), fields});
    }));
    applied.upserted = m.upsert.size();
    applied.dropped = m.drop.size();
    applied.erased = m.erase.size();
    return applied;
  }

  Result<std::vector<CustomerCopy>> List() {
    ASSIGN_OR_RETURN(auto contract, Contract());
    ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT copy FROM customer_copies ORDER BY user_id"));
    std::vector<CustomerCopy> out;
    for (const SqlRow& row : rows) {
      ASSIGN_OR_RETURN(CustomerCopy c, Decode(row.Text(0)));
      out.push_back(std::move(c));
    }
    return out;
  }

  Result<std::optional<CustomerCopy>> Get(std::string_view user_id) {
    ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT copy FROM customer_copies WHERE user_id = ?",
                                          {std::string(user_id)}));
    if (rows.empty()) return std::optional<CustomerCopy>();
    ASSIGN_OR_RETURN(CustomerCopy c, Decode(rows[0].Text(0)));
    return std::optional<CustomerCopy>(std::move(c));
  }

  Result<std::pair<std::vector<std::string>, uint64_t>> Contract() {
    ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT seq, fields FROM customer_copy_state"));
    std::pair<std::vector<std::string>, uint64_t> out{{}, 0};
    if (rows.empty()) return out;
    out.second = static_cast<uint64_t>(rows[0].Int(0));
    const std::string fields = rows[0].Text(1);
    size_t start = 0;
    while (start < fields.size()) {
      size_t comma = fields.find(',', start);
      if (comma == std::string::npos) comma = fields.size();
      out.first.push_back(fields.substr(start, comma - start));
      start = comma + 1;
    }
    return out;
  }

 private:
  // A stored copy (written by Accept from a checked message): its fields are its keys.
  static Result<CustomerCopy> Decode(const std::string& text) {
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec || !v.is_object()) return Status::DataLoss("a stored customer copy is damaged");
    std::vector<std::string> fields;
    for (const auto& kv : v.as_object()) {
      if (kv.key() != "user_id") fields.emplace_back(kv.key());
    }
    std::sort(fields.begin(), fields.end());
    return ParseCopy(v, fields);
  }

  Env& env_;
  Database& db_;
  const Options options_;
  std::mutex mu_;
};

CustomerCopyKeeper::CustomerCopyKeeper(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CustomerCopyKeeper::~CustomerCopyKeeper() = default;

Result<std::unique_ptr<CustomerCopyKeeper>> CustomerCopyKeeper::Open(Env& env, Database& db,
                                                                     Options options) {
  RETURN_IF_ERROR(Migrate(db, "customer_copies", {{1, std::string(kSchema)}}));
  return std::unique_ptr<CustomerCopyKeeper>(
      new CustomerCopyKeeper(std::make_unique<Impl>(env, db, std::move(options))));
}

Result<CustomerCopyKeeper::Applied> CustomerCopyKeeper::Accept(std::string_view envelope) {
  return impl_->Accept(envelope);
}
Result<std::vector<CustomerCopy>> CustomerCopyKeeper::List() { return impl_->List(); }
Result<std::optional<CustomerCopy>> CustomerCopyKeeper::Get(std::string_view user_id) {
  return impl_->Get(user_id);
}
Result<std::pair<std::vector<std::string>, uint64_t>> CustomerCopyKeeper::Contract() {
  return impl_->Contract();
}

}  // namespace tieup::users
