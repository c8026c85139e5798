#include "crypto/jose.h"

#include <cjose/cjose.h>

#include <boost/json.hpp>

#include "base/encoding.h"
#include "crypto/hash.h"

namespace tieup {
namespace {

namespace json = boost::json;

std::string CjoseError(const cjose_err& err) {
  return err.message != nullptr ? err.message : "unknown cjose error";
}

struct JwkDeleter {
  void operator()(cjose_jwk_t* jwk) const { cjose_jwk_release(jwk); }
};
struct JwsDeleter {
  void operator()(cjose_jws_t* jws) const { cjose_jws_release(jws); }
};
struct HeaderDeleter {
  void operator()(cjose_header_t* h) const { cjose_header_release(h); }
};
struct CharDeleter {
  void operator()(char* p) const { cjose_get_dealloc()(p); }
};
using JwkPtr = std::unique_ptr<cjose_jwk_t, JwkDeleter>;
using JwsPtr = std::unique_ptr<cjose_jws_t, JwsDeleter>;
using HeaderPtr = std::unique_ptr<cjose_header_t, HeaderDeleter>;
using CharPtr = std::unique_ptr<char, CharDeleter>;

Result<json::object> ParseObject(std::string_view text, std::string_view what) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    return Status::InvalidArgument(std::string(what) + " is not a JSON object");
  }
  return std::move(v.as_object());
}

std::string StringField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

// Checks a JWK is a P-256 EC key (private when `need_private`).
Status CheckP256(const json::object& jwk, bool need_private) {
  if (StringField(jwk, "kty") != "EC" || StringField(jwk, "crv") != "P-256" ||
      StringField(jwk, "x").empty() || StringField(jwk, "y").empty()) {
    return Status::InvalidArgument("the key is not an EC P-256 JWK");
  }
  if (need_private && StringField(jwk, "d").empty()) {
    return Status::InvalidArgument("the key has no private part (\"d\")");
  }
  // 32-byte values in base64url, checked here: cjose's decoder aborts the process (an
  // assertion) on some malformed base64url.
  for (const char* member : {"x", "y", "d"}) {
    const std::string value = StringField(jwk, member);
    if (value.empty() && std::string_view(member) == "d") continue;
    auto bytes = value.size() % 4 == 1 ? Result<std::string>(Status::InvalidArgument("length"))
                                       : Base64UrlDecode(value);
    if (!bytes.ok() || bytes->size() != 32) {
      return Status::InvalidArgument(std::string("the key's \"") + member +
                                     "\" is not 32 bytes of base64url");
    }
  }
  return Status::Ok();
}

// RFC 7638: the SHA-256 of the required members in lexicographic order, no whitespace.
std::string Thumbprint(const json::object& jwk) {
  json::object canonical;
  canonical["crv"] = StringField(jwk, "crv");
  canonical["kty"] = StringField(jwk, "kty");
  canonical["x"] = StringField(jwk, "x");
  canonical["y"] = StringField(jwk, "y");
  // boost::json keeps insertion order, which is the lexicographic one here.
  return Base64UrlEncode(Sha256(json::serialize(canonical)));
}

Result<JwkPtr> ImportJwk(std::string_view text) {
  cjose_err err{};
  JwkPtr jwk(cjose_jwk_import(text.data(), text.size(), &err));
  if (!jwk) return Status::InvalidArgument("the key could not be read: " + CjoseError(err));
  return jwk;
}

}  // namespace

struct JwtSigningKey::State {
  JwkPtr jwk;
  std::string kid;
  std::string public_jwk;
};

JwtSigningKey::JwtSigningKey(std::shared_ptr<const State> state) : state_(std::move(state)) {}

Result<JwtSigningKey> JwtSigningKey::Generate() {
  cjose_err err{};
  JwkPtr jwk(cjose_jwk_create_EC_random(CJOSE_JWK_EC_P_256, &err));
  if (!jwk) return Status::Internal("making an ES256 key: " + CjoseError(err));
  CharPtr text(cjose_jwk_to_json(jwk.get(), true, &err));
  if (!text) return Status::Internal("exporting an ES256 key: " + CjoseError(err));
  return FromJwk(text.get());
}

Result<JwtSigningKey> JwtSigningKey::FromJwk(std::string_view private_jwk) {
  ASSIGN_OR_RETURN(json::object o, ParseObject(private_jwk, "the key"));
  RETURN_IF_ERROR(CheckP256(o, true));
  ASSIGN_OR_RETURN(JwkPtr jwk, ImportJwk(private_jwk));
  auto state = std::make_shared<State>();
  state->kid = Thumbprint(o);
  cjose_err err{};
  if (!cjose_jwk_set_kid(jwk.get(), state->kid.data(), state->kid.size(), &err)) {
    return Status::Internal("setting the key id: " + CjoseError(err));
  }
  json::object pub;
  pub["kty"] = "EC";
  pub["crv"] = "P-256";
  pub["x"] = StringField(o, "x");
  pub["y"] = StringField(o, "y");
  pub["kid"] = state->kid;
  pub["use"] = "sig";
  pub["alg"] = "ES256";
  state->public_jwk = json::serialize(pub);
  state->jwk = std::move(jwk);
  return JwtSigningKey(std::move(state));
}

const std::string& JwtSigningKey::kid() const { return state_->kid; }
const std::string& JwtSigningKey::PublicJwk() const { return state_->public_jwk; }

std::string JwtSigningKey::PrivateJwk() const {
  cjose_err err{};
  CharPtr text(cjose_jwk_to_json(state_->jwk.get(), true, &err));
  return text ? std::string(text.get()) : std::string();
}

Result<std::string> JwtSigningKey::Sign(std::string_view claims_json) const {
  cjose_err err{};
  HeaderPtr header(cjose_header_new(&err));
  if (!header || !cjose_header_set(header.get(), CJOSE_HDR_ALG, CJOSE_HDR_ALG_ES256, &err) ||
      !cjose_header_set(header.get(), CJOSE_HDR_KID, state_->kid.c_str(), &err) ||
      !cjose_header_set(header.get(), "typ", "JWT", &err)) {
    return Status::Internal("making a JWS header: " + CjoseError(err));
  }
  JwsPtr jws(cjose_jws_sign(state_->jwk.get(), header.get(),
                            reinterpret_cast<const uint8_t*>(claims_json.data()),
                            claims_json.size(), &err));
  if (!jws) return Status::Internal("signing a JWT: " + CjoseError(err));
  const char* compact = nullptr;
  if (!cjose_jws_export(jws.get(), &compact, &err) || compact == nullptr) {
    return Status::Internal("serializing a JWT: " + CjoseError(err));
  }
  return std::string(compact);
}

std::string JwksJson(const JwtSigningKey& key) {
  json::array keys;
  keys.push_back(json::parse(key.PublicJwk()));
  return json::serialize(json::object{{"keys", std::move(keys)}});
}

Status SaveJwtSigningKey(Env& env, const std::string& path, const JwtSigningKey& key) {
  return WriteFileAtomic(env, path, key.PrivateJwk() + "\n", 0600);
}

Result<JwtSigningKey> LoadJwtSigningKey(Env& env, const std::string& path) {
  if (!env.FileExists(path)) return Status::NotFound(path + " does not exist");
  ASSIGN_OR_RETURN(uint32_t mode, env.GetPermissions(path));
  if ((mode & 077) != 0) {
    return Status::PermissionDenied(path +
                                    " can be read by other users: it is a private key; run "
                                    "`chmod 600 " +
                                    path + "`");
  }
  ASSIGN_OR_RETURN(std::string text, env.ReadFile(path));
  auto key = JwtSigningKey::FromJwk(text);
  if (!key.ok()) {
    return Status::DataLoss(path + " is damaged (" + key.status().message() +
                            "); remove it to make a new key (tokens signed with it stop "
                            "being accepted)");
  }
  return key;
}

Result<JwtSigningKey> LoadOrCreateJwtSigningKey(Env& env, const std::string& path) {
  auto key = LoadJwtSigningKey(env, path);
  if (key.ok() || key.status().code() != StatusCode::kNotFound) return key;
  ASSIGN_OR_RETURN(JwtSigningKey fresh, JwtSigningKey::Generate());
  RETURN_IF_ERROR(SaveJwtSigningKey(env, path, fresh));
  return fresh;
}

Result<std::string> VerifyJws(std::string_view token, std::string_view jwks) {
  ASSIGN_OR_RETURN(json::object set, ParseObject(jwks, "the JWK Set"));
  const json::value* keys = set.if_contains("keys");
  if (keys == nullptr || !keys->is_array()) {
    return Status::InvalidArgument("the JWK Set has no \"keys\" array");
  }
  // Three parts of valid base64url, a 64-byte signature (ES256's r||s): checked here, because
  // cjose's decoder aborts the process (an assertion) on some malformed base64url.
  const size_t dot = token.find('.');
  const size_t dot2 = dot == std::string_view::npos ? dot : token.find('.', dot + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return Status::Unauthenticated("the token is not a compact JWS (three parts)");
  }
  for (std::string_view part : {token.substr(dot + 1, dot2 - dot - 1), token.substr(dot2 + 1)}) {
    if (part.size() % 4 == 1 || !Base64UrlDecode(part).ok()) {
      return Status::Unauthenticated("the token is not base64url");
    }
  }
  if (Base64UrlDecode(token.substr(dot2 + 1))->size() != 64) {
    return Status::Unauthenticated("the token's signature is not an ES256 signature");
  }
  auto header_text = Base64UrlDecode(token.substr(0, dot));
  if (!header_text.ok() || dot % 4 == 1) {
    return Status::Unauthenticated("the token's header is not base64url");
  }
  auto header = ParseObject(*header_text, "the token's header");
  if (!header.ok()) return Status::Unauthenticated(header.status().message());
  if (StringField(*header, "alg") != "ES256") {
    return Status::Unauthenticated("the token is not signed with ES256");
  }
  const std::string kid = StringField(*header, "kid");
  const json::object* jwk = nullptr;
  for (const json::value& k : keys->as_array()) {
    if (k.is_object() && !kid.empty() && StringField(k.as_object(), "kid") == kid) {
      jwk = &k.as_object();
    }
  }
  if (jwk == nullptr) return Status::Unauthenticated("the token's key is not in the JWK Set");
  if (!CheckP256(*jwk, false).ok()) {
    return Status::Unauthenticated("the token's key is not an EC P-256 key");
  }
  json::object public_only;
  for (const char* member : {"kty", "crv", "x", "y"})
    public_only[member] = StringField(*jwk, member);
  auto key = ImportJwk(json::serialize(public_only));
  if (!key.ok()) return Status::Unauthenticated(key.status().message());
  cjose_err err{};
  JwsPtr jws(cjose_jws_import(token.data(), token.size(), &err));
  if (!jws) return Status::Unauthenticated("the token could not be read: " + CjoseError(err));
  if (!cjose_jws_verify(jws.get(), key->get(), &err)) {
    return Status::Unauthenticated("the token's signature is not valid");
  }
  uint8_t* plaintext = nullptr;
  size_t length = 0;
  if (!cjose_jws_get_plaintext(jws.get(), &plaintext, &length, &err)) {
    return Status::Unauthenticated("the token has no payload: " + CjoseError(err));
  }
  return std::string(reinterpret_cast<const char*>(plaintext), length);
}

}  // namespace tieup
