#include "trust/request_signature.h"

#include <gtest/gtest.h>

#include <thread>

#include "base/encoding.h"
#include "crypto/hash.h"
#include "test_support.h"

namespace tieup {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::FakeClockEnv;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;

// RFC 9421 appendix B.1.4, test-key-ed25519 (PKCS#8 and SubjectPublicKeyInfo bodies; the raw
// key is the last 32 bytes of each).
Ed25519PrivateKey RfcTestKey() {
  std::string der =
      *Base64Decode("MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF");
  return *Ed25519PrivateKey::FromSeed(der.substr(der.size() - 32));
}
std::string RfcTestPublicKey() {
  std::string der = *Base64Decode("MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=");
  return der.substr(der.size() - 32);
}

TEST(SignatureBaseTest, MatchesRfc9421AppendixB26) {
  // The test-request of RFC 9421 B.2: POST /foo?param=Value&Pet=dog on example.com.
  SignedRequestTarget req{"POST", "example.com", "/foo?param=Value&Pet=dog"};
  HttpFields fields = {{"Host", "example.com"},
                       {"Date", "Tue, 20 Apr 2021 02:07:55 GMT"},
                       {"Content-Type", "application/json"},
                       {"Content-Length", "18"}};
  auto base = SignatureBase(
      req, fields, {"date", "@method", "@path", "@authority", "content-type", "content-length"},
      ";created=1618884473;keyid=\"test-key-ed25519\"");
  ASSERT_THAT(base, IsOk());
  EXPECT_EQ(
      *base,
      "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n"
      "\"@method\": POST\n"
      "\"@path\": /foo\n"
      "\"@authority\": example.com\n"
      "\"content-type\": application/json\n"
      "\"content-length\": 18\n"
      "\"@signature-params\": (\"date\" \"@method\" \"@path\" \"@authority\" \"content-type\" "
      "\"content-length\");created=1618884473;keyid=\"test-key-ed25519\"");
  // Ed25519 is deterministic: the RFC's signature value comes out exactly.
  Ed25519PrivateKey key = RfcTestKey();
  EXPECT_EQ(key.public_key().bytes(), RfcTestPublicKey());
  EXPECT_EQ(Base64Encode(key.Sign(*base)),
            "wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw"
            "==");
}

TEST(SignatureBaseTest, DerivedComponents) {
  HttpFields fields = {{"X-A", " one "}, {"x-a", "two"}};
  auto base = SignatureBase({"GET", "Main.Example:8443", "/"}, fields,
                            {"@method", "@authority", "@path", "@query", "x-a"}, "");
  ASSERT_THAT(base, IsOk());
  EXPECT_EQ(*base,
            "\"@method\": GET\n\"@authority\": main.example:8443\n\"@path\": /\n\"@query\": ?\n"
            "\"x-a\": one, two\n"
            "\"@signature-params\": (\"@method\" \"@authority\" \"@path\" \"@query\" \"x-a\")");
  EXPECT_THAT(SignatureBase({"GET", "h", "/?a=1&b"}, {}, {"@query", "@path"}, ""), testing::IsOk());
  EXPECT_EQ(*SignatureBase({"GET", "h", "/p?a=1&b"}, {}, {"@query"}, ""),
            "\"@query\": ?a=1&b\n\"@signature-params\": (\"@query\")");
  EXPECT_THAT(SignatureBase({"GET", "h", "/"}, {}, {"@status"}, ""),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("not supported")));
  EXPECT_THAT(SignatureBase({"GET", "h", "/"}, {}, {"x-missing"}, ""),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("the request has none")));
  EXPECT_THAT(SignatureBase({"GET", "h", "http://h/"}, {}, {"@path"}, ""),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("origin form")));
}

TEST(ContentDigestTest, Rfc9530Sha256) {
  // RFC 9530 section 2, example: {"hello": "world"}.
  EXPECT_EQ(ContentDigest("{\"hello\": \"world\"}"),
            "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:");
}

class RequestSignatureTest : public ::testing::Test {
 protected:
  RequestSignatureTest() {
    lookup_ = [this](std::string_view keyid) -> Result<Ed25519PublicKey> {
      if (keyid == "shop-a/2026") return key_.public_key();
      return Status::NotFound("no key '" + std::string(keyid) + "'");
    };
  }

  // The request as it arrives: its own fields plus what SignRequest added.
  HttpFields Signed(int64_t ttl = 300) {
    auto added = SignRequest(env_, key_, "shop-a/2026", target_, covered_, body_, now_, ttl);
    EXPECT_THAT(added, IsOk());
    HttpFields all = covered_;
    all.insert(all.end(), added->begin(), added->end());
    all.emplace_back("Content-Type", "application/json");  // not covered
    return all;
  }
  Result<VerifiedRequest> Verify(const HttpFields& fields, std::string_view body) {
    return VerifyRequest(lookup_, target_, fields, body, now_, cache_);
  }
  static std::string& Field(HttpFields& fields, std::string_view name) {
    for (auto& [n, v] : fields) {
      if (n == name) return v;
    }
    ADD_FAILURE() << "no field " << name;
    static std::string none;
    return none;
  }

  FakeClockEnv env_;
  const int64_t now_ = 1'790'000'000;
  Ed25519PrivateKey key_ = *Ed25519PrivateKey::FromSeed(std::string(32, 'a'));
  SignatureKeyLookup lookup_;
  ReplayCache cache_{1000};
  SignedRequestTarget target_{"POST", "main.example:8443", "/v1/orders?partner=shop-a"};
  HttpFields covered_ = {{"Idempotency-Key", "order-7"}};
  std::string body_ = R"({"sku":"tea","qty":2})";
};

TEST_F(RequestSignatureTest, SignedRequestVerifies) {
  HttpFields fields = Signed();
  EXPECT_EQ(Field(fields, "Content-Digest"), ContentDigest(body_));
  const std::string& input = Field(fields, "Signature-Input");
  EXPECT_EQ(input.rfind("tieup=(\"@method\" \"@authority\" \"@path\" \"@query\" \"content-digest\" "
                        "\"idempotency-key\");created=1790000000;expires=1790000300;nonce=\"",
                        0),
            0u)
      << input;
  EXPECT_THAT(input, HasSubstr("\";keyid=\"shop-a/2026\";alg=\"ed25519\""));
  auto v = Verify(fields, body_);
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->keyid, "shop-a/2026");
  EXPECT_EQ(v->created, now_);
  EXPECT_EQ(v->expires, now_ + 300);
  EXPECT_EQ(v->nonce.size(), 22u);
  EXPECT_EQ(v->covered_components.back(), "idempotency-key");
  EXPECT_EQ(cache_.size(), 1u);
}

TEST_F(RequestSignatureTest, NoncesAreFresh) {
  HttpFields a = Signed();
  HttpFields b = Signed();
  EXPECT_NE(Field(a, "Signature-Input"), Field(b, "Signature-Input"));
  EXPECT_THAT(Verify(a, body_), IsOk());
  EXPECT_THAT(Verify(b, body_), IsOk());
}

TEST_F(RequestSignatureTest, ReplayIsRefused) {
  HttpFields fields = Signed();
  ASSERT_THAT(Verify(fields, body_), IsOk());
  EXPECT_THAT(Verify(fields, body_),
              StatusIs(StatusCode::kAlreadyExists, HasSubstr("refusing a replayed request")));
}

TEST_F(RequestSignatureTest, MissingFieldsAreRefused) {
  HttpFields fields = Signed();
  HttpFields no_input, no_sig, no_digest;
  for (const auto& f : fields) {
    if (f.first != "Signature-Input") no_input.push_back(f);
    if (f.first != "Signature") no_sig.push_back(f);
    if (f.first != "Content-Digest") no_digest.push_back(f);
  }
  EXPECT_THAT(Verify(no_input, body_),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("request is not signed")));
  EXPECT_THAT(Verify(no_sig, body_),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("but no Signature")));
  EXPECT_THAT(Verify(no_digest, body_),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("no Content-Digest")));
  HttpFields no_covered;
  for (const auto& f : fields) {
    if (f.first != "Idempotency-Key") no_covered.push_back(f);
  }
  EXPECT_THAT(Verify(no_covered, body_),
              StatusIs(StatusCode::kUnauthenticated,
                       HasSubstr("covers the 'idempotency-key' field, but the request has none")));
  EXPECT_EQ(cache_.size(), 0u);
}

TEST_F(RequestSignatureTest, GarbledFieldsAreRefused) {
  for (const char* garbage :
       {"tieup=(\"@method\"", "tieup=(@method)", "tieup=(\"@method\");created=1.5", "=x",
        "tieup=(\"a\"),", "tieup=(\"\\x\")", "TIEUP=()"}) {
    HttpFields fields = Signed();
    Field(fields, "Signature-Input") = garbage;
    EXPECT_THAT(Verify(fields, body_), StatusIs(StatusCode::kInvalidArgument,
                                                HasSubstr("Signature-Input field is garbled")))
        << garbage;
  }
  HttpFields fields = Signed();
  Field(fields, "Signature") = "tieup=:!!!:";
  EXPECT_THAT(Verify(fields, body_),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("Signature field is garbled")));
  Field(fields, "Signature") = "tieup=\"text\"";
  EXPECT_THAT(Verify(fields, body_),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("no 'tieup' byte sequence")));
  fields = Signed();
  Field(fields, "Content-Digest") = "sha-256=:abc";
  EXPECT_THAT(Verify(fields, body_),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("Content-Digest field is garbled")));
  fields = Signed();
  Field(fields, "Signature-Input") = "other=(\"@method\")";
  EXPECT_THAT(Verify(fields, body_),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("no 'tieup' signature")));
}

TEST_F(RequestSignatureTest, BadSignatureIsRefused) {
  HttpFields fields = Signed();
  std::string& sig = Field(fields, "Signature");
  std::string raw = *Base64Decode(sig.substr(7, sig.size() - 8));
  raw[0] ^= 1;
  sig = "tieup=:" + Base64Encode(raw) + ":";
  EXPECT_THAT(Verify(fields, body_),
              StatusIs(StatusCode::kUnauthenticated,
                       "request signature by key 'shop-a/2026' does not verify: the request was "
                       "altered or signed with another key"));
  EXPECT_EQ(cache_.size(), 0u);
}

TEST_F(RequestSignatureTest, AlteredRequestPartsAreRefused) {
  HttpFields fields = Signed();
  // Each covered part changed in turn.
  for (SignedRequestTarget t :
       {SignedRequestTarget{"PUT", target_.authority, target_.target},
        SignedRequestTarget{"POST", "evil.example", target_.target},
        SignedRequestTarget{"POST", target_.authority, "/v1/refunds"},
        SignedRequestTarget{"POST", target_.authority, "/v1/orders?partner=shop-b"}}) {
    EXPECT_THAT(VerifyRequest(lookup_, t, fields, body_, now_, cache_),
                StatusIs(StatusCode::kUnauthenticated, HasSubstr("does not verify")))
        << t.method << " " << t.authority << t.target;
  }
  Field(fields, "Idempotency-Key") = "order-8";
  EXPECT_THAT(Verify(fields, body_),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("does not verify")));
  // The authority is compared case-insensitively, as RFC 9421 normalises it.
  HttpFields again = Signed();
  EXPECT_THAT(VerifyRequest(lookup_, {"POST", "MAIN.example:8443", target_.target}, again, body_,
                            now_, cache_),
              IsOk());
}

TEST_F(RequestSignatureTest, AlteredBodyIsRefused) {
  HttpFields fields = Signed();
  EXPECT_THAT(Verify(fields, R"({"sku":"tea","qty":200})"),
              StatusIs(StatusCode::kUnauthenticated,
                       "request body does not match its Content-Digest: the body was altered in "
                       "transit"));
  // Replacing the digest too breaks the signature.
  Field(fields, "Content-Digest") = ContentDigest(R"({"sku":"tea","qty":200})");
  EXPECT_THAT(Verify(fields, R"({"sku":"tea","qty":200})"),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("does not verify")));
}

TEST_F(RequestSignatureTest, ExpiredAndFutureSignaturesAreRefused) {
  HttpFields fields = Signed(300);
  EXPECT_THAT(VerifyRequest(lookup_, target_, fields, body_, now_ + 300, cache_),
              StatusIs(StatusCode::kUnauthenticated,
                       HasSubstr("request signature expired at " + FormatRfc3339(now_ + 300))));
  EXPECT_THAT(VerifyRequest(lookup_, target_, fields, body_, now_ - 61, cache_),
              StatusIs(StatusCode::kUnauthenticated,
                       HasSubstr("in the future (now " + FormatRfc3339(now_ - 61) +
                                 "): check the sender's clock")));
  // Within the skew it is accepted.
  EXPECT_THAT(VerifyRequest(lookup_, target_, fields, body_, now_ - 60, cache_), IsOk());
}

TEST_F(RequestSignatureTest, OverlongValidityIsRefused) {
  HttpFields fields = Signed(3600);
  EXPECT_THAT(Verify(fields, body_),
              StatusIs(StatusCode::kUnauthenticated,
                       "request signature is valid for 3600 seconds; at most 600 are accepted"));
}

TEST_F(RequestSignatureTest, UnknownKeyIsRefused) {
  auto added = SignRequest(env_, key_, "shop-z/1", target_, {}, body_, now_, 300);
  EXPECT_THAT(VerifyRequest(lookup_, target_, *added, body_, now_, cache_),
              StatusIs(StatusCode::kUnauthenticated,
                       HasSubstr("key 'shop-z/1' is not known here: no key 'shop-z/1'")));
  // A known key id with someone else's signature.
  Ed25519PrivateKey other = *Ed25519PrivateKey::FromSeed(std::string(32, 'b'));
  auto forged = SignRequest(env_, other, "shop-a/2026", target_, {}, body_, now_, 300);
  EXPECT_THAT(VerifyRequest(lookup_, target_, *forged, body_, now_, cache_),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("does not verify")));
}

TEST_F(RequestSignatureTest, WeakCoverageOrParamsAreRefused) {
  // A correct signature over too little (the RFC's own B.2.6 example) is refused.
  Ed25519PrivateKey rfc = RfcTestKey();
  HttpFields fields = {
      {"Date", "Tue, 20 Apr 2021 02:07:55 GMT"},
      {"Content-Type", "application/json"},
      {"Content-Length", "18"},
      {"Signature-Input",
       "sig-b26=(\"date\" \"@method\" \"@path\" \"@authority\" \"content-type\" "
       "\"content-length\");created=1618884473;keyid=\"test-key-ed25519\""},
      {"Signature",
       "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WP"
       "pBKRCw==:"}};
  EXPECT_THAT(VerifyRequest(lookup_, {"POST", "example.com", "/foo?param=Value&Pet=dog"}, fields,
                            "", 1618884473, cache_),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("no 'tieup' signature")));
  for (auto& f : fields) {
    if (f.first.rfind("Signature", 0) == 0) f.second.replace(0, 7, "tieup");
  }
  EXPECT_THAT(VerifyRequest(lookup_, {"POST", "example.com", "/foo?param=Value&Pet=dog"}, fields,
                            "", 1618884473, cache_),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("does not cover '@query'")));

  // Missing parameters, a wrong algorithm, a short nonce: each named.
  auto with_params = [&](const std::string& params) {
    HttpFields f = Signed();
    Field(f, "Signature-Input") =
        "tieup=(\"@method\" \"@authority\" \"@path\" \"@query\" \"content-digest\")" + params;
    return Verify(f, body_);
  };
  EXPECT_THAT(with_params(";created=1790000000;nonce=\"aaaaaaaaaaaaaaaaaaaa\";keyid=\"k\""),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("no 'expires' parameter")));
  EXPECT_THAT(with_params(";created=1790000000;expires=1790000100;keyid=\"k\""),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("no 'nonce' parameter")));
  EXPECT_THAT(with_params(";created=\"x\";expires=1790000100;nonce=\"n\";keyid=\"k\""),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("'created' has the wrong type")));
  EXPECT_THAT(
      with_params(";created=1790000000;expires=1790000100;nonce=\"aaaaaaaaaaaaaaaaaaaa\";keyid="
                  "\"shop-a/2026\";alg=\"rsa-pss-sha512\""),
      StatusIs(StatusCode::kUnauthenticated, HasSubstr("accepts only ed25519")));
  EXPECT_THAT(
      with_params(";created=1790000000;expires=1790000100;nonce=\"short\";keyid=\"shop-a/2026\""),
      StatusIs(StatusCode::kUnauthenticated, HasSubstr("nonce is too short")));
  HttpFields dup = Signed();
  Field(dup, "Signature-Input") =
      "tieup=(\"@method\" \"@method\" \"@authority\" \"@path\" \"@query\" "
      "\"content-digest\");created=1;expires=2;nonce=\"n\";keyid=\"k\"";
  EXPECT_THAT(Verify(dup, body_), StatusIs(StatusCode::kInvalidArgument, HasSubstr("twice")));
}

TEST_F(RequestSignatureTest, SignRefusesBadArguments) {
  EXPECT_THAT(SignRequest(env_, key_, "", target_, {}, body_, now_, 300),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(SignRequest(env_, key_, "k", target_, {}, body_, now_, 0),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(SignRequest(env_, key_, "k", {"GET", "h", "relative"}, {}, body_, now_, 300),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("origin form")));
  EXPECT_THAT(SignRequest(env_, key_, "k", target_, {{"Signature", "x"}}, body_, now_, 300),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("cannot be covered")));
}

TEST(ReplayCacheTest, DropsExpiredEntriesAndStaysBounded) {
  ReplayCache cache(2);
  EXPECT_THAT(cache.Insert("k", "n1", 100, 10), IsOk());
  EXPECT_THAT(cache.Insert("k", "n2", 200, 10), IsOk());
  EXPECT_THAT(cache.Insert("k", "n1", 100, 50), StatusIs(StatusCode::kAlreadyExists));
  EXPECT_THAT(cache.Insert("other", "n1", 100, 50),
              StatusIs(StatusCode::kResourceExhausted, HasSubstr("replay cache is full")));
  // At 100 the first entry has expired and makes room.
  EXPECT_THAT(cache.Insert("other", "n1", 300, 100), IsOk());
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_THAT(cache.Insert("k", "n2", 200, 150), StatusIs(StatusCode::kAlreadyExists));
  EXPECT_THAT(cache.Insert("k", "n3", 400, 300), IsOk());
  EXPECT_EQ(cache.size(), 1u);
  // Key ids and nonces cannot be confused by concatenation.
  EXPECT_THAT(cache.Insert("ab", "c", 500, 300), IsOk());
  ReplayCache other(10);
  EXPECT_THAT(other.Insert("ab", "c", 500, 0), IsOk());
  EXPECT_THAT(other.Insert("a", "bc", 500, 0), IsOk());
}

TEST(ReplayCacheTest, ConcurrentInsertsOfOneNonceSucceedOnce) {
  ReplayCache cache(100);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (cache.Insert("k", "nonce", 100, 0).ok()) ok.fetch_add(1);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
}

}  // namespace
}  // namespace tieup
