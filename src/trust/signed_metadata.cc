#include "trust/signed_metadata.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <set>

#include "base/encoding.h"
#include "crypto/hash.h"

namespace tieup {
namespace {

namespace json = boost::json;

// A double as canonical JSON: text that Boost.JSON parses back to the very double it writes,
// so that canonicalizing is idempotent. Boost.JSON 1.81 parses imprecisely, and the shortest
// text for a double can come back one unit off ("2.3333373333333334E26" reads as
// ...37E26; found by fuzz/signed_envelope): step to the double it reads back until the text is
// stable. An overflowing literal ("1e9999") is infinity, which JSON cannot write: "null", as
// for a value without a stable text. Signed metadata holds integers only; this is for
// whatever a forger sends.
std::string CanonicalDouble(double d) {
  for (int step = 0; step < 8 && std::isfinite(d); ++step) {
    std::string text = json::serialize(json::value(d));
    boost::system::error_code ec;
    json::value back = json::parse(text, ec);
    if (ec || !back.is_double()) break;
    if (back.get_double() == d) return text;
    d = back.get_double();
  }
  return "null";
}

void AppendCanonical(const json::value& v, std::string& out) {
  switch (v.kind()) {
    case json::kind::object: {
      const json::object& o = v.get_object();
      std::vector<std::pair<std::string_view, const json::value*>> members;
      members.reserve(o.size());
      for (const auto& kv : o) members.emplace_back(std::string_view(kv.key()), &kv.value());
      std::sort(members.begin(), members.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      out += '{';
      for (size_t i = 0; i < members.size(); ++i) {
        if (i > 0) out += ',';
        out += json::serialize(json::string(members[i].first));
        out += ':';
        AppendCanonical(*members[i].second, out);
      }
      out += '}';
      return;
    }
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const json::value& e : v.get_array()) {
        if (!first) out += ',';
        first = false;
        AppendCanonical(e, out);
      }
      out += ']';
      return;
    }
    case json::kind::double_:
      out += CanonicalDouble(v.get_double());
      return;
    default:
      out += json::serialize(v);
      return;
  }
}

Result<json::object> ParseObject(std::string_view text, std::string_view what) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return Status::InvalidArgument(std::string(what) + " is not JSON: " + ec.message());
  if (!v.is_object()) return Status::InvalidArgument(std::string(what) + " is not a JSON object");
  return std::move(v.get_object());
}

Result<std::string> StringField(const json::object& o, std::string_view key,
                                std::string_view what) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) {
    return Status::InvalidArgument(std::string(what) + " has no string field '" + std::string(key) +
                                   "'");
  }
  return std::string(v->get_string());
}

Result<std::string> Base64Field(const json::object& o, std::string_view key,
                                std::string_view what) {
  ASSIGN_OR_RETURN(std::string text, StringField(o, key, what));
  auto bytes = Base64Decode(text);
  if (!bytes.ok()) {
    return Status::InvalidArgument(std::string(what) + " field '" + std::string(key) +
                                   "' is not base64");
  }
  return bytes;
}

json::object KeyJson(const Ed25519PublicKey& key) {
  json::object o;
  o["keyid"] = KeyId(key);
  o["public"] = Base64Encode(key.bytes());
  return o;
}

Result<Ed25519PublicKey> KeyFromJson(const json::value& v) {
  constexpr std::string_view kWhat = "root metadata key";
  if (!v.is_object()) return Status::InvalidArgument("root metadata key is not an object");
  ASSIGN_OR_RETURN(std::string raw, Base64Field(v.get_object(), "public", kWhat));
  ASSIGN_OR_RETURN(std::string keyid, StringField(v.get_object(), "keyid", kWhat));
  ASSIGN_OR_RETURN(Ed25519PublicKey key, Ed25519PublicKey::FromBytes(raw));
  if (keyid != KeyId(key)) {
    return Status::InvalidArgument("root metadata key id " + keyid + " does not match its key");
  }
  return key;
}

std::string ShortId(std::string_view keyid) { return std::string(keyid.substr(0, 16)); }

}  // namespace

std::string KeyId(const Ed25519PublicKey& key) { return Sha256Hex(key.bytes()); }

std::string CanonicalJson(const boost::json::value& value) {
  std::string out;
  AppendCanonical(value, out);
  return out;
}

std::string PreAuthEncoding(std::string_view payload_type, std::string_view payload) {
  std::string out = "DSSEv1 " + std::to_string(payload_type.size()) + " ";
  out += payload_type;
  out += " " + std::to_string(payload.size()) + " ";
  out += payload;
  return out;
}

SignedEnvelope SignEnvelope(const Ed25519PrivateKey& key, std::string_view payload_type,
                            std::string_view payload) {
  SignedEnvelope e;
  e.payload_type = std::string(payload_type);
  e.payload = std::string(payload);
  e.signatures.push_back(
      {KeyId(key.public_key()), key.Sign(PreAuthEncoding(payload_type, payload))});
  return e;
}

std::string EncodeEnvelope(const SignedEnvelope& envelope) {
  json::object o;
  o["payload"] = Base64Encode(envelope.payload);
  o["payloadType"] = envelope.payload_type;
  json::array sigs;
  for (const EnvelopeSignature& s : envelope.signatures) {
    json::object so;
    so["keyid"] = s.keyid;
    so["sig"] = Base64Encode(s.sig);
    sigs.push_back(std::move(so));
  }
  o["signatures"] = std::move(sigs);
  return CanonicalJson(o);
}

Result<SignedEnvelope> ParseEnvelope(std::string_view text) {
  constexpr std::string_view kWhat = "signed envelope";
  ASSIGN_OR_RETURN(json::object o, ParseObject(text, kWhat));
  SignedEnvelope e;
  ASSIGN_OR_RETURN(e.payload, Base64Field(o, "payload", kWhat));
  ASSIGN_OR_RETURN(e.payload_type, StringField(o, "payloadType", kWhat));
  const json::value* sigs = o.if_contains("signatures");
  if (sigs == nullptr || !sigs->is_array()) {
    return Status::InvalidArgument("signed envelope has no 'signatures' list");
  }
  for (const json::value& v : sigs->get_array()) {
    if (!v.is_object())
      return Status::InvalidArgument("signed envelope signature is not an object");
    EnvelopeSignature s;
    ASSIGN_OR_RETURN(s.keyid, StringField(v.get_object(), "keyid", "envelope signature"));
    ASSIGN_OR_RETURN(s.sig, Base64Field(v.get_object(), "sig", "envelope signature"));
    e.signatures.push_back(std::move(s));
  }
  return e;
}

std::string EncodeRootMetadata(const RootMetadata& root) {
  json::object o;
  o["_type"] = "root";
  o["version"] = root.version;
  o["expires"] = FormatRfc3339(root.expires);
  o["root_key"] = KeyJson(root.root_key);
  json::array keys;
  for (const Ed25519PublicKey& k : root.release_keys) keys.push_back(KeyJson(k));
  o["release_keys"] = std::move(keys);
  return CanonicalJson(o);
}

Result<RootMetadata> ParseRootMetadata(std::string_view payload) {
  constexpr std::string_view kWhat = "root metadata";
  ASSIGN_OR_RETURN(json::object o, ParseObject(payload, kWhat));
  ASSIGN_OR_RETURN(std::string type, StringField(o, "_type", kWhat));
  if (type != "root") {
    return Status::InvalidArgument("root metadata has _type '" + type + "', not 'root'");
  }
  RootMetadata root;
  const json::value* version = o.if_contains("version");
  if (version == nullptr || !version->is_int64() || version->get_int64() < 1) {
    return Status::InvalidArgument("root metadata has no positive integer 'version'");
  }
  root.version = version->get_int64();
  ASSIGN_OR_RETURN(std::string expires, StringField(o, "expires", kWhat));
  auto t = ParseRfc3339(expires);
  if (!t.ok()) return Status::InvalidArgument("root metadata 'expires' is not an RFC 3339 time");
  root.expires = *t;
  const json::value* root_key = o.if_contains("root_key");
  if (root_key == nullptr) return Status::InvalidArgument("root metadata has no 'root_key'");
  ASSIGN_OR_RETURN(root.root_key, KeyFromJson(*root_key));
  const json::value* keys = o.if_contains("release_keys");
  if (keys == nullptr || !keys->is_array()) {
    return Status::InvalidArgument("root metadata has no 'release_keys' list");
  }
  for (const json::value& k : keys->get_array()) {
    ASSIGN_OR_RETURN(Ed25519PublicKey key, KeyFromJson(k));
    root.release_keys.push_back(std::move(key));
  }
  return root;
}

Result<SignedEnvelope> SignRootMetadata(const Ed25519PrivateKey& root_key,
                                        const RootMetadata& root) {
  if (root_key.public_key().bytes() != root.root_key.bytes()) {
    return Status::InvalidArgument("the signing key is not the root key the metadata names");
  }
  if (root.release_keys.empty()) {
    return Status::InvalidArgument("root metadata must certify at least one release key");
  }
  return SignEnvelope(root_key, kRootPayloadType, EncodeRootMetadata(root));
}

SignedEnvelope SignRelease(const Ed25519PrivateKey& release_key, std::string_view payload) {
  return SignEnvelope(release_key, kReleasePayloadType, payload);
}

SignedEnvelope SignReleaseDelta(const Ed25519PrivateKey& release_key, std::string_view payload) {
  return SignEnvelope(release_key, kReleaseDeltaPayloadType, payload);
}

Result<RootMetadata> VerifyRootMetadata(const Ed25519PublicKey& pinned_root,
                                        std::string_view root_envelope_json, int64_t now) {
  auto envelope = ParseEnvelope(root_envelope_json);
  if (!envelope.ok()) return envelope.status().Annotate("root metadata");
  if (envelope->payload_type != kRootPayloadType) {
    return Status::Unauthenticated("root metadata envelope carries '" + envelope->payload_type +
                                   "', not root metadata");
  }
  const std::string pinned_id = KeyId(pinned_root);
  const std::string pae = PreAuthEncoding(envelope->payload_type, envelope->payload);
  bool found = false;
  bool valid = false;
  for (const EnvelopeSignature& s : envelope->signatures) {
    if (s.keyid != pinned_id) continue;
    found = true;
    valid = valid || pinned_root.Verify(pae, s.sig);
  }
  if (!found) {
    return Status::Unauthenticated("root metadata is not signed by the pinned root key " +
                                   ShortId(pinned_id) +
                                   ": refusing it (was this site enrolled with another main?)");
  }
  if (!valid) {
    return Status::Unauthenticated(
        "root metadata signature by the pinned root key does not verify: the metadata was "
        "altered; refusing it");
  }
  auto root = ParseRootMetadata(envelope->payload);
  if (!root.ok()) return root.status();
  if (root->root_key.bytes() != pinned_root.bytes()) {
    return Status::Unauthenticated("root metadata names root key " + KeyId(root->root_key) +
                                   ", but " + ShortId(pinned_id) + " is pinned: refusing it");
  }
  if (now >= root->expires) {
    return Status::FailedPrecondition(
        "root metadata version " + std::to_string(root->version) + " expired at " +
        FormatRfc3339(root->expires) +
        ": refusing frozen metadata; the main site manager must re-sign the root metadata");
  }
  return root;
}

Result<SignedEnvelope> VerifyReleaseKeySigned(const Ed25519PublicKey& pinned_root,
                                              std::string_view root_envelope_json,
                                              std::string_view envelope_json,
                                              const std::vector<std::string_view>& payload_types,
                                              std::string_view what, int64_t now) {
  const std::string name(what);
  ASSIGN_OR_RETURN(RootMetadata root, VerifyRootMetadata(pinned_root, root_envelope_json, now));
  auto envelope = ParseEnvelope(envelope_json);
  if (!envelope.ok()) return envelope.status().Annotate(name);
  if (std::find(payload_types.begin(), payload_types.end(), envelope->payload_type) ==
      payload_types.end()) {
    return Status::Unauthenticated(name + " envelope carries '" +
                                   envelope->payload_type.substr(0, 80) + "', not " + name +
                                   ": refusing it");
  }
  if (envelope->signatures.empty()) {
    return Status::Unauthenticated(name + " has no signature: refusing it");
  }
  const std::string pae = PreAuthEncoding(envelope->payload_type, envelope->payload);
  std::string uncertified;
  std::string failed;
  for (const EnvelopeSignature& s : envelope->signatures) {
    const Ed25519PublicKey* key = nullptr;
    for (const Ed25519PublicKey& k : root.release_keys) {
      if (KeyId(k) == s.keyid) key = &k;
    }
    if (key == nullptr) {
      if (uncertified.empty()) uncertified = s.keyid;
      continue;
    }
    if (key->Verify(pae, s.sig)) return std::move(*envelope);
    failed = s.keyid;
  }
  if (!failed.empty()) {
    return Status::Unauthenticated(name + " signature by release key " + ShortId(failed) +
                                   " does not verify: it was altered or forged; refusing it");
  }
  return Status::Unauthenticated(name + " is signed by key " + ShortId(uncertified) +
                                 ", which root metadata version " + std::to_string(root.version) +
                                 " does not certify as a release key: refusing it");
}

Result<std::string> VerifyRelease(const Ed25519PublicKey& pinned_root,
                                  std::string_view root_envelope_json,
                                  std::string_view release_envelope_json, int64_t now,
                                  std::string* payload_type) {
  std::vector<std::string_view> types{kReleasePayloadType};
  if (payload_type != nullptr) types.push_back(kReleaseDeltaPayloadType);
  ASSIGN_OR_RETURN(SignedEnvelope envelope,
                   VerifyReleaseKeySigned(pinned_root, root_envelope_json, release_envelope_json,
                                          types, "release metadata", now));
  if (payload_type != nullptr) *payload_type = envelope.payload_type;
  return std::move(envelope.payload);
}

Status CheckReleaseHeader(std::string_view expected_site, int64_t active_version, int64_t now,
                          std::string_view site, int64_t version, int64_t expires) {
  const std::string me(expected_site);
  if (site != expected_site) {
    return Status::PermissionDenied("release is for partner '" + std::string(site) +
                                    "', but this is '" + me +
                                    "': refusing another partner's release");
  }
  if (version < active_version) {
    return Status::FailedPrecondition(
        "partner '" + me + "' offered version " + std::to_string(version) + ", but " +
        std::to_string(active_version) + " is active: refusing a rollback");
  }
  if (version == active_version) {
    return Status::AlreadyExists("partner '" + me + "' offered version " + std::to_string(version) +
                                 ", which is already active: refusing a replay");
  }
  if (now >= expires) {
    return Status::FailedPrecondition("release version " + std::to_string(version) +
                                      " for partner '" + me + "' expired at " +
                                      FormatRfc3339(expires) +
                                      ": refusing frozen metadata (main must publish a fresh "
                                      "release)");
  }
  return Status::Ok();
}

}  // namespace tieup
