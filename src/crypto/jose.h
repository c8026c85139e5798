// Signed JSON Web Tokens (RFC 7515 JWS, 7517 JWK, 7519 JWT) through cjose (Debian's
// libcjose-dev): the ES256 key main's OpenID Connect provider signs ID tokens with, its public
// JWK Set, and the check a relying party makes of a token against that set.
//
// Only ES256 (ECDSA on P-256 with SHA-256) is made or accepted: a token whose header names
// another algorithm ("none", HS256 with the public key as secret...) is refused before any
// signature check, and so is one without a "kid" the set holds. Thread-safe: keys are immutable.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/env.h"
#include "base/status.h"

namespace tieup {

// An ES256 private key with its key id (the base64url RFC 7638 thumbprint of its public JWK).
// Never logged; PrivateJwk is for the key file only. Cheap to copy (shared).
class JwtSigningKey {
 public:
  // A fresh P-256 key (OpenSSL's randomness).
  static Result<JwtSigningKey> Generate();
  // From a private JWK (kty "EC", crv "P-256", with "d"); InvalidArgument otherwise.
  static Result<JwtSigningKey> FromJwk(std::string_view private_jwk);

  const std::string& kid() const;
  // The public JWK (JSON object text) with "kid", "use":"sig" and "alg":"ES256".
  const std::string& PublicJwk() const;
  // The private JWK (JSON object text), for SaveJwtSigningKey.
  std::string PrivateJwk() const;

  // The compact JWS of `claims_json` (a JSON object) with the protected header
  // {"alg":"ES256","kid":...,"typ":"JWT"}.
  Result<std::string> Sign(std::string_view claims_json) const;

 private:
  struct State;
  explicit JwtSigningKey(std::shared_ptr<const State> state);
  std::shared_ptr<const State> state_;
};

// {"keys":[public JWK]}: what a JWKS endpoint serves.
std::string JwksJson(const JwtSigningKey& key);

// Writes the private JWK to `path` (mode 0600, atomically).
Status SaveJwtSigningKey(Env& env, const std::string& path, const JwtSigningKey& key);
// Reads a key written by SaveJwtSigningKey; refuses a file readable by group or others
// (PermissionDenied, saying to chmod 600) and a damaged one (DataLoss). NotFound when missing.
Result<JwtSigningKey> LoadJwtSigningKey(Env& env, const std::string& path);
// LoadJwtSigningKey, or a new key saved at `path` when there is none.
Result<JwtSigningKey> LoadOrCreateJwtSigningKey(Env& env, const std::string& path);

// The payload (claims JSON) of the compact JWS `token` when its header says ES256 and a "kid"
// of `jwks` (a JWK Set's JSON text), and that key's signature is valid. Unauthenticated, saying
// why, otherwise (InvalidArgument for a `jwks` that is not a JWK Set). The claims themselves
// (iss, aud, exp, nonce...) are the caller's to check.
Result<std::string> VerifyJws(std::string_view token, std::string_view jwks);

}  // namespace tieup
