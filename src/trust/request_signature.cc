#include "trust/request_signature.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <set>

#include "base/encoding.h"
#include "crypto/hash.h"

namespace tieup {
namespace {

// --- a small RFC 8941 (Structured Field Values) parser and serializer: what RFC 9421 needs ---

struct BareItem {
  enum class Kind { kInteger, kString, kToken, kBytes, kBoolean };
  Kind kind = Kind::kBoolean;
  int64_t integer = 0;
  std::string text;  // string, token, or the decoded bytes
  bool boolean = true;
};

using Params = std::vector<std::pair<std::string, BareItem>>;

struct Item {
  BareItem value;
  Params params;
};

struct Member {
  std::string key;
  bool is_inner_list = false;
  std::vector<Item> inner;  // when is_inner_list
  Item item;                // otherwise (params in item.params)
  Params list_params;       // the inner list's parameters
};

class SfParser {
 public:
  explicit SfParser(std::string_view in) : in_(in) {}

  Result<std::vector<Member>> Dictionary() {
    std::vector<Member> out;
    SkipSp();
    while (!AtEnd()) {
      Member m;
      ASSIGN_OR_RETURN(m.key, Key());
      if (Peek('=')) {
        ++pos_;
        if (Peek('(')) {
          m.is_inner_list = true;
          RETURN_IF_ERROR(InnerList(m));
        } else {
          ASSIGN_OR_RETURN(m.item.value, Bare());
          ASSIGN_OR_RETURN(m.item.params, Parameters());
        }
      } else {
        ASSIGN_OR_RETURN(m.item.params, Parameters());
      }
      // Later duplicates override earlier ones (RFC 8941 4.2.2).
      auto same =
          std::find_if(out.begin(), out.end(), [&](const Member& x) { return x.key == m.key; });
      if (same != out.end()) out.erase(same);
      out.push_back(std::move(m));
      SkipOws();
      if (AtEnd()) break;
      if (!Peek(',')) return Error("expected ',' between members");
      ++pos_;
      SkipOws();
      if (AtEnd()) return Error("trailing ','");
    }
    return out;
  }

 private:
  bool AtEnd() const { return pos_ >= in_.size(); }
  bool Peek(char c) const { return !AtEnd() && in_[pos_] == c; }
  void SkipSp() {
    while (Peek(' ')) ++pos_;
  }
  void SkipOws() {
    while (Peek(' ') || Peek('\t')) ++pos_;
  }
  Status Error(std::string_view what) const {
    return Status::InvalidArgument(std::string(what) + " at offset " + std::to_string(pos_));
  }

  Result<std::string> Key() {
    if (AtEnd() || !(std::islower(static_cast<unsigned char>(in_[pos_])) || in_[pos_] == '*')) {
      return Error("expected a key");
    }
    std::string key;
    while (!AtEnd()) {
      char c = in_[pos_];
      if (std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
          c == '*') {
        key += c;
        ++pos_;
      } else {
        break;
      }
    }
    return key;
  }

  Status InnerList(Member& m) {
    ++pos_;  // '('
    while (true) {
      SkipSp();
      if (AtEnd()) return Error("unterminated inner list");
      if (Peek(')')) {
        ++pos_;
        ASSIGN_OR_RETURN(m.list_params, Parameters());
        return Status::Ok();
      }
      Item item;
      ASSIGN_OR_RETURN(item.value, Bare());
      ASSIGN_OR_RETURN(item.params, Parameters());
      m.inner.push_back(std::move(item));
      if (!Peek(' ') && !Peek(')')) return Error("expected ' ' or ')' in inner list");
    }
  }

  Result<Params> Parameters() {
    Params out;
    while (Peek(';')) {
      ++pos_;
      SkipSp();
      ASSIGN_OR_RETURN(std::string key, Key());
      BareItem value;
      if (Peek('=')) {
        ++pos_;
        ASSIGN_OR_RETURN(value, Bare());
      }
      auto same =
          std::find_if(out.begin(), out.end(), [&](const auto& p) { return p.first == key; });
      if (same != out.end()) {
        same->second = std::move(value);
      } else {
        out.emplace_back(std::move(key), std::move(value));
      }
    }
    return out;
  }

  Result<BareItem> Bare() {
    if (AtEnd()) return Error("expected a value");
    char c = in_[pos_];
    BareItem v;
    if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) {
      v.kind = BareItem::Kind::kInteger;
      bool negative = c == '-';
      if (negative) ++pos_;
      size_t start = pos_;
      int64_t n = 0;
      while (!AtEnd() && std::isdigit(static_cast<unsigned char>(in_[pos_]))) {
        if (pos_ - start >= 15) return Error("integer longer than 15 digits");
        n = n * 10 + (in_[pos_] - '0');
        ++pos_;
      }
      if (pos_ == start) return Error("expected digits");
      if (Peek('.')) return Error("decimal numbers are not used here");
      v.integer = negative ? -n : n;
      return v;
    }
    if (c == '"') {
      v.kind = BareItem::Kind::kString;
      ++pos_;
      while (true) {
        if (AtEnd()) return Error("unterminated string");
        char d = in_[pos_++];
        if (d == '\\') {
          if (AtEnd() || (in_[pos_] != '"' && in_[pos_] != '\\')) return Error("bad escape");
          v.text += in_[pos_++];
        } else if (d == '"') {
          return v;
        } else if (d < 0x20 || d > 0x7e) {
          return Error("string has a character outside printable ASCII");
        } else {
          v.text += d;
        }
      }
    }
    if (c == ':') {
      v.kind = BareItem::Kind::kBytes;
      ++pos_;
      size_t end = in_.find(':', pos_);
      if (end == std::string_view::npos) return Error("unterminated byte sequence");
      auto bytes = Base64Decode(in_.substr(pos_, end - pos_));
      if (!bytes.ok()) return Error("byte sequence is not base64");
      v.text = std::move(*bytes);
      pos_ = end + 1;
      return v;
    }
    if (c == '?') {
      v.kind = BareItem::Kind::kBoolean;
      ++pos_;
      if (Peek('1')) {
        v.boolean = true;
      } else if (Peek('0')) {
        v.boolean = false;
      } else {
        return Error("bad boolean");
      }
      ++pos_;
      return v;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '*') {
      v.kind = BareItem::Kind::kToken;
      while (!AtEnd()) {
        char d = in_[pos_];
        if (std::isalnum(static_cast<unsigned char>(d)) ||
            std::string_view("!#$%&'*+-.^_`|~:/").find(d) != std::string_view::npos) {
          v.text += d;
          ++pos_;
        } else {
          break;
        }
      }
      return v;
    }
    return Error("unexpected character");
  }

  std::string_view in_;
  size_t pos_ = 0;
};

std::string SerializeString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::string SerializeBare(const BareItem& v) {
  switch (v.kind) {
    case BareItem::Kind::kInteger:
      return std::to_string(v.integer);
    case BareItem::Kind::kString:
      return SerializeString(v.text);
    case BareItem::Kind::kToken:
      return v.text;
    case BareItem::Kind::kBytes:
      return ":" + Base64Encode(v.text) + ":";
    case BareItem::Kind::kBoolean:
      return v.boolean ? "?1" : "?0";
  }
  return "";
}

std::string SerializeParams(const Params& params) {
  std::string out;
  for (const auto& [key, value] : params) {
    out += ';' + key;
    if (!(value.kind == BareItem::Kind::kBoolean && value.boolean))
      out += '=' + SerializeBare(value);
  }
  return out;
}

bool IsPrintableAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The combined value of field `name` (case-insensitive), or nullopt when absent.
std::optional<std::string> FieldValue(const HttpFields& fields, std::string_view name) {
  std::optional<std::string> out;
  for (const auto& [n, v] : fields) {
    if (n.size() != name.size() || Lower(n) != name) continue;
    if (out) {
      *out += ", ";
      *out += TrimOws(v);
    } else {
      out = std::string(TrimOws(v));
    }
  }
  return out;
}

Status Refuse(std::string what) { return Status::Unauthenticated(std::move(what)); }

Result<BareItem> Param(const Params& params, std::string_view key, BareItem::Kind kind) {
  for (const auto& [k, v] : params) {
    if (k != key) continue;
    if (v.kind != kind) {
      return Status::InvalidArgument("signature parameter '" + std::string(key) +
                                     "' has the wrong type");
    }
    return v;
  }
  return Refuse("request signature has no '" + std::string(key) +
                "' parameter: tieup requires created, expires, nonce and keyid");
}

}  // namespace

const std::vector<std::string>& RequiredSignatureComponents() {
  static const std::vector<std::string> kComponents = {"@method", "@authority", "@path", "@query",
                                                       "content-digest"};
  return kComponents;
}

std::string ContentDigest(std::string_view body) {
  return "sha-256=:" + Base64Encode(Sha256(body)) + ":";
}

Result<std::string> SignatureBase(const SignedRequestTarget& request, const HttpFields& fields,
                                  const std::vector<std::string>& components,
                                  std::string_view params) {
  if (request.target.empty() || request.target.front() != '/') {
    return Status::InvalidArgument("request target '" + std::string(request.target) +
                                   "' is not in origin form (\"/path?query\")");
  }
  const size_t q = request.target.find('?');
  std::string_view path = request.target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? "" : request.target.substr(q + 1);
  std::string base;
  std::string list = "(";
  for (size_t i = 0; i < components.size(); ++i) {
    const std::string& c = components[i];
    std::string value;
    if (c == "@method") {
      value = std::string(request.method);
    } else if (c == "@authority") {
      value = Lower(request.authority);
    } else if (c == "@path") {
      value = path.empty() ? "/" : std::string(path);
    } else if (c == "@query") {
      value = "?" + std::string(query);
    } else if (!c.empty() && c[0] == '@') {
      return Status::InvalidArgument("signature component '" + c + "' is not supported");
    } else {
      if (c != Lower(c)) {
        return Status::InvalidArgument("signature component '" + c + "' must be lower case");
      }
      auto v = FieldValue(fields, c);
      if (!v) {
        return Status::InvalidArgument("signature covers the '" + c +
                                       "' field, but the request has none");
      }
      value = std::move(*v);
    }
    if (!IsPrintableAscii(value)) {
      return Status::InvalidArgument("signature component '" + c +
                                     "' has a value outside printable ASCII");
    }
    base += SerializeString(c) + ": " + value + "\n";
    list += (i > 0 ? " " : "") + SerializeString(c);
  }
  list += ")";
  base += "\"@signature-params\": " + list + std::string(params);
  return base;
}

Result<HttpFields> SignRequest(Env& env, const Ed25519PrivateKey& key, std::string_view keyid,
                               const SignedRequestTarget& request, const HttpFields& covered_fields,
                               std::string_view body, int64_t now, int64_t ttl_seconds) {
  if (keyid.empty() || !IsPrintableAscii(keyid)) {
    return Status::InvalidArgument("signing key id must be non-empty printable ASCII");
  }
  if (ttl_seconds <= 0) return Status::InvalidArgument("signature lifetime must be positive");
  HttpFields fields = covered_fields;
  const std::string digest = ContentDigest(body);
  fields.emplace_back("Content-Digest", digest);
  std::vector<std::string> components = RequiredSignatureComponents();
  for (const auto& [name, value] : covered_fields) {
    std::string n = Lower(name);
    if (n == "content-digest" || n == "signature" || n == "signature-input") {
      return Status::InvalidArgument("field '" + name + "' cannot be covered by the caller");
    }
    if (std::find(components.begin(), components.end(), n) == components.end()) {
      components.push_back(n);
    }
  }
  const std::string nonce = Base64UrlEncode(RandomString(env, 16));
  Params params;
  auto integer = [](int64_t n) {
    BareItem v;
    v.kind = BareItem::Kind::kInteger;
    v.integer = n;
    return v;
  };
  auto string = [](std::string_view s) {
    BareItem v;
    v.kind = BareItem::Kind::kString;
    v.text = std::string(s);
    return v;
  };
  params.emplace_back("created", integer(now));
  params.emplace_back("expires", integer(now + ttl_seconds));
  params.emplace_back("nonce", string(nonce));
  params.emplace_back("keyid", string(keyid));
  params.emplace_back("alg", string("ed25519"));
  const std::string serialized_params = SerializeParams(params);
  ASSIGN_OR_RETURN(std::string base, SignatureBase(request, fields, components, serialized_params));
  std::string list = "(";
  for (size_t i = 0; i < components.size(); ++i) {
    list += (i > 0 ? " " : "") + SerializeString(components[i]);
  }
  list += ")";
  HttpFields out;
  out.emplace_back("Content-Digest", digest);
  out.emplace_back("Signature-Input",
                   std::string(kSignatureLabel) + "=" + list + serialized_params);
  out.emplace_back("Signature",
                   std::string(kSignatureLabel) + "=:" + Base64Encode(key.Sign(base)) + ":");
  return out;
}

// --- ReplayCache ---

void ReplayCache::DropExpiredLocked(int64_t now) {
  while (!by_expiry_.empty() && by_expiry_.begin()->first <= now) {
    entries_.erase(by_expiry_.begin()->second);
    by_expiry_.erase(by_expiry_.begin());
  }
}

Status ReplayCache::Insert(std::string_view keyid, std::string_view nonce, int64_t expires_at,
                           int64_t now) {
  std::string key = std::to_string(keyid.size()) + ":" + std::string(keyid) + std::string(nonce);
  std::lock_guard lock(mu_);
  DropExpiredLocked(now);
  if (entries_.count(key) > 0) {
    return Status::AlreadyExists("request signature nonce '" + std::string(nonce) + "' from key '" +
                                 std::string(keyid) +
                                 "' was already used: refusing a replayed request");
  }
  if (entries_.size() >= max_entries_) {
    return Status::ResourceExhausted("replay cache is full (" + std::to_string(max_entries_) +
                                     " unexpired nonces): retry the request later");
  }
  entries_.emplace(key, expires_at);
  by_expiry_.emplace(expires_at, std::move(key));
  return Status::Ok();
}

size_t ReplayCache::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

// --- VerifyRequest ---

Result<VerifiedRequest> VerifyRequest(const SignatureKeyLookup& lookup,
                                      const SignedRequestTarget& request, const HttpFields& fields,
                                      std::string_view body, int64_t now, ReplayCache& cache,
                                      const RequestVerifyOptions& options) {
  const std::string label(kSignatureLabel);
  auto input_text = FieldValue(fields, "signature-input");
  if (!input_text) {
    return Refuse("request is not signed: it has no Signature-Input field (RFC 9421)");
  }
  auto signature_text = FieldValue(fields, "signature");
  if (!signature_text) return Refuse("request has a Signature-Input field but no Signature");
  auto inputs = SfParser(*input_text).Dictionary();
  if (!inputs.ok()) {
    return Status::InvalidArgument("Signature-Input field is garbled: " +
                                   inputs.status().message());
  }
  auto signatures = SfParser(*signature_text).Dictionary();
  if (!signatures.ok()) {
    return Status::InvalidArgument("Signature field is garbled: " + signatures.status().message());
  }
  auto input =
      std::find_if(inputs->begin(), inputs->end(), [&](const Member& m) { return m.key == label; });
  if (input == inputs->end() || !input->is_inner_list) {
    return Refuse("Signature-Input has no '" + label + "' signature");
  }
  auto sig = std::find_if(signatures->begin(), signatures->end(),
                          [&](const Member& m) { return m.key == label; });
  if (sig == signatures->end() || sig->is_inner_list ||
      sig->item.value.kind != BareItem::Kind::kBytes) {
    return Refuse("Signature has no '" + label + "' byte sequence");
  }

  VerifiedRequest out;
  std::set<std::string> seen;
  for (const Item& item : input->inner) {
    if (item.value.kind != BareItem::Kind::kString || !item.params.empty()) {
      return Status::InvalidArgument(
          "Signature-Input lists a component that is not a plain string");
    }
    if (!seen.insert(item.value.text).second) {
      return Status::InvalidArgument("Signature-Input lists '" + item.value.text + "' twice");
    }
    out.covered_components.push_back(item.value.text);
  }
  for (const std::string& required : RequiredSignatureComponents()) {
    if (seen.count(required) == 0) {
      return Refuse("request signature does not cover '" + required +
                    "': tieup requires @method, @authority, @path, @query and content-digest");
    }
  }
  const Params& params = input->list_params;
  ASSIGN_OR_RETURN(BareItem created, Param(params, "created", BareItem::Kind::kInteger));
  ASSIGN_OR_RETURN(BareItem expires, Param(params, "expires", BareItem::Kind::kInteger));
  ASSIGN_OR_RETURN(BareItem nonce, Param(params, "nonce", BareItem::Kind::kString));
  ASSIGN_OR_RETURN(BareItem keyid, Param(params, "keyid", BareItem::Kind::kString));
  for (const auto& [k, v] : params) {
    if (k == "alg" && !(v.kind == BareItem::Kind::kString && v.text == "ed25519")) {
      return Refuse("request signature algorithm is '" + v.text + "': tieup accepts only ed25519");
    }
  }
  out.keyid = keyid.text;
  out.nonce = nonce.text;
  out.created = created.integer;
  out.expires = expires.integer;
  if (out.nonce.size() < 16) {
    return Refuse("request signature nonce is too short (at least 16 characters)");
  }
  if (out.created > now + options.max_clock_skew_seconds) {
    return Refuse("request signature was created at " + FormatRfc3339(out.created) +
                  ", in the future (now " + FormatRfc3339(now) + "): check the sender's clock");
  }
  if (out.expires <= now) {
    return Refuse("request signature expired at " + FormatRfc3339(out.expires) + " (now " +
                  FormatRfc3339(now) + "): the request must be signed again");
  }
  if (out.expires < out.created || out.expires - out.created > options.max_lifetime_seconds) {
    return Refuse("request signature is valid for " + std::to_string(out.expires - out.created) +
                  " seconds; at most " + std::to_string(options.max_lifetime_seconds) +
                  " are accepted");
  }
  auto key = lookup(out.keyid);
  if (!key.ok()) {
    return Refuse("request signature key '" + out.keyid +
                  "' is not known here: " + key.status().message());
  }
  auto digest_text = FieldValue(fields, "content-digest");
  if (!digest_text) return Refuse("request has no Content-Digest field");
  auto digests = SfParser(*digest_text).Dictionary();
  if (!digests.ok()) {
    return Status::InvalidArgument("Content-Digest field is garbled: " +
                                   digests.status().message());
  }
  auto sha = std::find_if(digests->begin(), digests->end(),
                          [](const Member& m) { return m.key == "sha-256"; });
  if (sha == digests->end() || sha->is_inner_list ||
      sha->item.value.kind != BareItem::Kind::kBytes) {
    return Refuse("Content-Digest has no sha-256 digest");
  }
  if (sha->item.value.text != Sha256(body)) {
    return Refuse(
        "request body does not match its Content-Digest: the body was altered in transit");
  }
  auto base = SignatureBase(request, fields, out.covered_components, SerializeParams(params));
  if (!base.ok()) return Refuse("request signature cannot be checked: " + base.status().message());
  if (!key->Verify(*base, sig->item.value.text)) {
    return Refuse("request signature by key '" + out.keyid +
                  "' does not verify: the request was altered or signed with another key");
  }
  RETURN_IF_ERROR(cache.Insert(out.keyid, out.nonce, out.expires, now));
  return out;
}

}  // namespace tieup
