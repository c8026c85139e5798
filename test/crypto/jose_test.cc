#include "crypto/jose.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "base/encoding.h"
#include "crypto/hash.h"
#include "test_support.h"

namespace tieup {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

std::string Part(const std::string& token, int index) {
  size_t start = 0;
  for (int i = 0; i < index; ++i) start = token.find('.', start) + 1;
  const size_t end = token.find('.', start);
  return token.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

TEST(JoseTest, SignsAndVerifiesAgainstTheKeySet) {
  auto key = JwtSigningKey::Generate();
  ASSERT_THAT(key, IsOk());
  const std::string claims = R"({"iss":"https://main.example","sub":"usr_1","exp":2000000000})";
  auto token = key->Sign(claims);
  ASSERT_THAT(token, IsOk());
  auto header = Base64UrlDecode(Part(*token, 0));
  ASSERT_THAT(header, IsOk());
  boost::json::object h = boost::json::parse(*header).as_object();
  EXPECT_EQ(h.at("alg"), "ES256");
  EXPECT_EQ(h.at("kid").as_string(), key->kid());
  EXPECT_EQ(h.at("typ"), "JWT");
  // ES256 signatures are the 64-byte r||s (RFC 7518 3.4), not DER.
  EXPECT_EQ(Base64UrlDecode(Part(*token, 2))->size(), 64u);

  const std::string jwks = JwksJson(*key);
  auto payload = VerifyJws(*token, jwks);
  ASSERT_THAT(payload, IsOk());
  EXPECT_EQ(*payload, claims);

  // The published set holds no private part.
  EXPECT_EQ(jwks.find("\"d\""), std::string::npos);
  boost::json::object jwk = boost::json::parse(jwks).at("keys").at(0).as_object();
  EXPECT_EQ(jwk.at("kty"), "EC");
  EXPECT_EQ(jwk.at("crv"), "P-256");
  EXPECT_EQ(jwk.at("use"), "sig");
  EXPECT_EQ(jwk.at("alg"), "ES256");
  // RFC 7638 thumbprint, recomputed here from the published members.
  const std::string canonical = std::string(R"({"crv":"P-256","kty":"EC","x":")") +
                                std::string(jwk.at("x").as_string()) + R"(","y":")" +
                                std::string(jwk.at("y").as_string()) + R"("})";
  EXPECT_EQ(key->kid(), Base64UrlEncode(Sha256(canonical)));
}

TEST(JoseTest, RefusesAlteredTokensAndOtherKeys) {
  auto key = JwtSigningKey::Generate();
  auto other = JwtSigningKey::Generate();
  ASSERT_THAT(key, IsOk());
  ASSERT_THAT(other, IsOk());
  const std::string token = *key->Sign(R"({"sub":"usr_1"})");
  const std::string jwks = JwksJson(*key);

  // Another payload under the same signature.
  const std::string forged =
      Part(token, 0) + "." + Base64UrlEncode(R"({"sub":"usr_2"})") + "." + Part(token, 2);
  EXPECT_THAT(VerifyJws(forged, jwks), StatusIs(StatusCode::kUnauthenticated));
  // A flipped signature bit.
  std::string sig = *Base64UrlDecode(Part(token, 2));
  sig[5] ^= 1;
  EXPECT_THAT(VerifyJws(Part(token, 0) + "." + Part(token, 1) + "." + Base64UrlEncode(sig), jwks),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("signature")));
  // Signed by a key the set does not hold (its kid is unknown)...
  EXPECT_THAT(VerifyJws(*other->Sign(R"({"sub":"usr_1"})"), jwks),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("not in the JWK Set")));
  // ... or that claims the set's kid.
  const std::string other_token = *other->Sign(R"({"sub":"usr_1"})");
  const std::string claimed_header =
      Base64UrlEncode(R"({"alg":"ES256","kid":")" + key->kid() + R"(","typ":"JWT"})");
  EXPECT_THAT(
      VerifyJws(claimed_header + "." + Part(other_token, 1) + "." + Part(other_token, 2), jwks),
      StatusIs(StatusCode::kUnauthenticated));
}

TEST(JoseTest, RefusesOtherAlgorithms) {
  auto key = JwtSigningKey::Generate();
  ASSERT_THAT(key, IsOk());
  const std::string jwks = JwksJson(*key);
  const std::string payload = Base64UrlEncode(R"({"sub":"usr_1"})");
  // "none": no signature at all.
  const std::string none = Base64UrlEncode(R"({"alg":"none","kid":")" + key->kid() + "\"}");
  EXPECT_THAT(VerifyJws(none + "." + payload + ".", jwks),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("ES256")));
  // HS256 keyed with the public JWK's text (the classic confusion).
  const std::string hs = Base64UrlEncode(R"({"alg":"HS256","kid":")" + key->kid() + "\"}");
  const std::string mac = HmacSha256(key->PublicJwk(), hs + "." + payload);
  EXPECT_THAT(VerifyJws(hs + "." + payload + "." + Base64UrlEncode(mac), jwks),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("ES256")));
  // Base64url that cjose's own decoder would abort the process on (a length of 4n+1), in each
  // part; more than three parts (found by fuzz.jose).
  const std::string token = *key->Sign(R"({"sub":"usr_1"})");
  for (int part = 0; part < 3; ++part) {
    std::string bad;
    for (int i = 0; i < 3; ++i) {
      std::string p = Part(token, i);
      if (i == part) p = p.substr(0, p.size() - p.size() % 4) + "A";  // 4n+1 characters
      bad += (i == 0 ? "" : ".") + p;
    }
    EXPECT_THAT(VerifyJws(bad, jwks), StatusIs(StatusCode::kUnauthenticated)) << part;
  }
  EXPECT_THAT(VerifyJws(token + ".e30", jwks), StatusIs(StatusCode::kUnauthenticated));
  // And a key set whose coordinates are such base64url.
  std::string bad_set = jwks;
  const size_t x = bad_set.find("\"x\":\"") + 5;
  bad_set.replace(x, 43, std::string(41, 'A'));  // 41 = 4n+1 characters
  EXPECT_THAT(VerifyJws(token, bad_set), StatusIs(StatusCode::kUnauthenticated));
  // Garbage.
  for (const std::string bad : {"", ".", "..", "a.b.c", "eyJ9.e30.", "not a token"}) {
    EXPECT_THAT(VerifyJws(bad, jwks), StatusIs(StatusCode::kUnauthenticated)) << bad;
  }
  EXPECT_THAT(VerifyJws(*key->Sign("{}"), "[]"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(VerifyJws(*key->Sign("{}"), R"({"keys":{}})"),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST(JoseTest, KeyFileIsOwnerOnlyAndChecked) {
  TempDir dir;
  auto env = NewPosixEnv();
  const std::string p = dir.Sub("oidc.jwk");
  EXPECT_THAT(LoadJwtSigningKey(*env, p), StatusIs(StatusCode::kNotFound));
  auto created = LoadOrCreateJwtSigningKey(*env, p);
  ASSERT_THAT(created, IsOk());
  EXPECT_EQ(*env->GetPermissions(p), 0600u);
  auto again = LoadOrCreateJwtSigningKey(*env, p);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->kid(), created->kid());
  // A token signed before a restart verifies with the reloaded key's set.
  EXPECT_THAT(VerifyJws(*created->Sign("{}"), JwksJson(*again)), IsOk());

  ASSERT_THAT(env->SetPermissions(p, 0640), IsOk());
  EXPECT_THAT(LoadJwtSigningKey(*env, p),
              StatusIs(StatusCode::kPermissionDenied, HasSubstr("chmod 600")));
  ASSERT_THAT(WriteFileAtomic(*env, p, "{\"kty\":\"EC\"}", 0600), IsOk());
  EXPECT_THAT(LoadJwtSigningKey(*env, p), StatusIs(StatusCode::kDataLoss, HasSubstr("remove it")));
  // A public key only is no signing key.
  ASSERT_THAT(WriteFileAtomic(*env, p, created->PublicJwk(), 0600), IsOk());
  EXPECT_THAT(LoadJwtSigningKey(*env, p), StatusIs(StatusCode::kDataLoss, HasSubstr("\"d\"")));
  EXPECT_THAT(LoadOrCreateJwtSigningKey(*env, p), StatusIs(StatusCode::kDataLoss));
}

}  // namespace
}  // namespace tieup
