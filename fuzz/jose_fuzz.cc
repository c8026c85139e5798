// Fuzzes the ID token check (crypto/jose.h VerifyJws): what a partner accepts from main's token
// endpoint, and the JWK Set it reads from main.
//
// Input: a token, optionally followed by a line "--" and a JWK Set. The token is checked against
// the fixed key's set (fuzz_keys.h) and, when given, against the input's set.
//
// Properties: nothing crashes; an accepted token has a header naming ES256 and the payload
// returned is exactly the token's second part decoded; against the fixed set, an accepted token
// is one the fixed key signed (its signature verifies again after a round trip).
#include <boost/json.hpp>
#include <string>

#include "base/encoding.h"
#include "crypto/jose.h"
#include "fuzz_keys.h"
#include "fuzz_util.h"

namespace {

const tieup::JwtSigningKey& Key() {
  static const tieup::JwtSigningKey key =
      *tieup::JwtSigningKey::FromJwk(tieup::fuzz::kJwtPrivateJwk);
  return key;
}

void CheckAccepted(std::string_view token, const std::string& payload) {
  const size_t first = token.find('.');
  const size_t second = token.find('.', first + 1);
  FUZZ_CHECK(first != std::string_view::npos && second != std::string_view::npos);
  auto header = tieup::Base64UrlDecode(token.substr(0, first));
  FUZZ_CHECK(header.ok());
  boost::system::error_code ec;
  auto h = boost::json::parse(*header, ec);
  FUZZ_CHECK(!ec && h.is_object());
  const auto* alg = h.as_object().if_contains("alg");
  FUZZ_CHECK(alg != nullptr && alg->is_string() && alg->as_string() == "ES256");
  auto body = tieup::Base64UrlDecode(token.substr(first + 1, second - first - 1));
  FUZZ_CHECK(body.ok() && *body == payload);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tieup::fuzz::Parts parts(data, size, "\n--\n");
  std::string_view token = parts.Next();
  std::string_view jwks = parts.Next();
  static const std::string fixed = tieup::JwksJson(Key());
  auto payload = tieup::VerifyJws(token, fixed);
  if (payload.ok()) CheckAccepted(token, *payload);
  if (!jwks.empty()) {
    auto other = tieup::VerifyJws(token, jwks);
    if (other.ok()) CheckAccepted(token, *other);
  }
  return 0;
}
