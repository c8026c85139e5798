#include "trust/signed_metadata.h"

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

Ed25519PrivateKey KeyFrom(char fill) { return *Ed25519PrivateKey::FromSeed(std::string(32, fill)); }

class SignedMetadataTest : public ::testing::Test {
 protected:
  SignedMetadataTest() {
    root_.version = 3;
    root_.expires = now_ + 365 * 86400;
    root_.root_key = root_key_.public_key();
    root_.release_keys = {release_key_.public_key()};
    root_json_ = EncodeEnvelope(*SignRootMetadata(root_key_, root_));
  }

  const int64_t now_ = *ParseRfc3339("2026-11-24T09:00:00Z");
  Ed25519PrivateKey root_key_ = KeyFrom('r');
  Ed25519PrivateKey release_key_ = KeyFrom('k');
  RootMetadata root_;
  std::string root_json_;
  const std::string payload_ = R"({"files":[],"partner":"shop-b","version":10})";
};

TEST_F(SignedMetadataTest, KeyIdIsHexSha256OfPublicKey) {
  EXPECT_EQ(KeyId(root_key_.public_key()), Sha256Hex(root_key_.public_key().bytes()));
}

TEST_F(SignedMetadataTest, CanonicalJsonOfAnOverflowingNumberParsesBack) {
  boost::json::value v = boost::json::parse(R"({"n":1e9990,"m":-1e9990})");
  const std::string c = CanonicalJson(v);
  EXPECT_EQ(c, R"({"m":null,"n":null})");
  boost::system::error_code ec;
  (void)boost::json::parse(c, ec);
  EXPECT_FALSE(ec);
}

// Boost.JSON reads some doubles' shortest text back one unit off: the canonical text is one it
// reads back exactly, so canonicalizing twice gives the same bytes (fuzz/signed_envelope).
TEST_F(SignedMetadataTest, CanonicalJsonOfAnImpreciselyReadNumberIsStable) {
  for (const char* literal : {"233333733333333333333333333", "2333333733333333333333333333", "0.1",
                              "1.7976931348623157e308", "5e-324"}) {
    boost::json::value v = boost::json::parse(literal);
    const std::string once = CanonicalJson(v);
    EXPECT_EQ(CanonicalJson(boost::json::parse(once)), once) << literal;
  }
}

TEST_F(SignedMetadataTest, CanonicalJsonSortsKeysWithoutWhitespace) {
  boost::json::value v = boost::json::parse(R"({ "b": [3, {"z": 1, "a": "x\"y"}], "a": null,
      "B": true, "aa": -5 })");
  EXPECT_EQ(CanonicalJson(v), R"({"B":true,"a":null,"aa":-5,"b":[3,{"a":"x\"y","z":1}]})");
}

TEST_F(SignedMetadataTest, PreAuthEncodingFollowsDsse) {
  // The DSSE specification's example.
  EXPECT_EQ(PreAuthEncoding("http://example.com/HelloWorld", "hello world"),
            "DSSEv1 29 http://example.com/HelloWorld 11 hello world");
}

TEST_F(SignedMetadataTest, EnvelopeRoundTripsAndIsCanonical) {
  SignedEnvelope e = SignRelease(release_key_, payload_);
  std::string text = EncodeEnvelope(e);
  EXPECT_EQ(text.rfind(R"({"payload":")", 0), 0u);
  EXPECT_NE(
      text.find(R"("payloadType":"application/vnd.tieup.release+json","signatures":[{"keyid":")"),
      std::string::npos);
  auto back = ParseEnvelope(text);
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(back->payload, payload_);
  EXPECT_EQ(back->payload_type, kReleasePayloadType);
  ASSERT_EQ(back->signatures.size(), 1u);
  EXPECT_EQ(back->signatures[0].keyid, KeyId(release_key_.public_key()));
  EXPECT_EQ(back->signatures[0].sig, e.signatures[0].sig);
  EXPECT_EQ(EncodeEnvelope(*back), text);
}

TEST_F(SignedMetadataTest, RootMetadataRoundTrips) {
  auto parsed = ParseRootMetadata(EncodeRootMetadata(root_));
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->version, 3);
  EXPECT_EQ(parsed->expires, root_.expires);
  EXPECT_EQ(parsed->root_key.bytes(), root_key_.public_key().bytes());
  ASSERT_EQ(parsed->release_keys.size(), 1u);
  EXPECT_EQ(parsed->release_keys[0].bytes(), release_key_.public_key().bytes());
}

TEST_F(SignedMetadataTest, VerifiesAReleaseSignedByACertifiedKey) {
  std::string release = EncodeEnvelope(SignRelease(release_key_, payload_));
  auto out = VerifyRelease(root_key_.public_key(), root_json_, release, now_);
  ASSERT_THAT(out, IsOk());
  EXPECT_EQ(*out, payload_);
}

TEST_F(SignedMetadataTest, ADeltaVerifiesOnlyWhereTheCallerAcceptsDeltas) {
  const std::string delta = EncodeEnvelope(SignReleaseDelta(release_key_, payload_));
  // A caller that expects full metadata never takes a delta for it.
  EXPECT_THAT(VerifyRelease(root_key_.public_key(), root_json_, delta, now_),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("not release metadata")));
  std::string type;
  auto out = VerifyRelease(root_key_.public_key(), root_json_, delta, now_, &type);
  ASSERT_THAT(out, IsOk());
  EXPECT_EQ(*out, payload_);
  EXPECT_EQ(type, kReleaseDeltaPayloadType);
  out = VerifyRelease(root_key_.public_key(), root_json_,
                      EncodeEnvelope(SignRelease(release_key_, payload_)), now_, &type);
  ASSERT_THAT(out, IsOk());
  EXPECT_EQ(type, kReleasePayloadType);
  // The signature covers the type: a delta signature does not pass for full metadata.
  SignedEnvelope swapped = SignReleaseDelta(release_key_, payload_);
  swapped.payload_type = std::string(kReleasePayloadType);
  EXPECT_THAT(
      VerifyRelease(root_key_.public_key(), root_json_, EncodeEnvelope(swapped), now_, &type),
      StatusIs(StatusCode::kUnauthenticated, HasSubstr("altered")));
}

TEST_F(SignedMetadataTest, AcceptsWhenOneOfSeveralSignaturesIsGood) {
  SignedEnvelope e = SignRelease(KeyFrom('x'), payload_);
  e.signatures.push_back(SignRelease(release_key_, payload_).signatures[0]);
  EXPECT_THAT(VerifyRelease(root_key_.public_key(), root_json_, EncodeEnvelope(e), now_), IsOk());
}

TEST_F(SignedMetadataTest, RefusesAlteredPayload) {
  SignedEnvelope e = SignRelease(release_key_, payload_);
  e.payload = R"({"files":[],"partner":"shop-b","version":99})";
  EXPECT_THAT(VerifyRelease(root_key_.public_key(), root_json_, EncodeEnvelope(e), now_),
              StatusIs(StatusCode::kUnauthenticated,
                       HasSubstr("does not verify: it was altered or forged; refusing it")));
}

TEST_F(SignedMetadataTest, RefusesMissingSignature) {
  SignedEnvelope e = SignRelease(release_key_, payload_);
  e.signatures.clear();
  EXPECT_THAT(
      VerifyRelease(root_key_.public_key(), root_json_, EncodeEnvelope(e), now_),
      StatusIs(StatusCode::kUnauthenticated, "release metadata has no signature: refusing it"));
}

TEST_F(SignedMetadataTest, RefusesReleaseKeyNotCertifiedByRoot) {
  Ed25519PrivateKey rogue = KeyFrom('z');
  std::string release = EncodeEnvelope(SignRelease(rogue, payload_));
  EXPECT_THAT(
      VerifyRelease(root_key_.public_key(), root_json_, release, now_),
      StatusIs(StatusCode::kUnauthenticated,
               "release metadata is signed by key " + KeyId(rogue.public_key()).substr(0, 16) +
                   ", which root metadata version 3 does not certify as a release key: "
                   "refusing it"));
  // Lying about the key id does not help: the certified key's signature check fails.
  SignedEnvelope lying = SignRelease(rogue, payload_);
  lying.signatures[0].keyid = KeyId(release_key_.public_key());
  EXPECT_THAT(VerifyRelease(root_key_.public_key(), root_json_, EncodeEnvelope(lying), now_),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("does not verify")));
}

TEST_F(SignedMetadataTest, RootKeyCannotSignReleasesUnlessCertified) {
  std::string release = EncodeEnvelope(SignRelease(root_key_, payload_));
  EXPECT_THAT(VerifyRelease(root_key_.public_key(), root_json_, release, now_),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("does not certify")));
}

TEST_F(SignedMetadataTest, RefusesSwappedPayloadTypes) {
  // A root document presented as a release (and the reverse) fails on its type.
  EXPECT_THAT(VerifyRelease(root_key_.public_key(), root_json_, root_json_, now_),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("not release metadata")));
  std::string release = EncodeEnvelope(SignRelease(release_key_, payload_));
  EXPECT_THAT(VerifyRelease(root_key_.public_key(), release, release, now_),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("not root metadata")));
  // Changing the type field breaks the signature (it is inside the PAE).
  SignedEnvelope e = SignRelease(release_key_, payload_);
  e.payload_type = "application/vnd.tieup.other+json";
  SignedEnvelope r = e;
  r.payload_type = kReleasePayloadType;
  r.signatures =
      SignEnvelope(release_key_, "application/vnd.tieup.other+json", payload_).signatures;
  EXPECT_THAT(VerifyRelease(root_key_.public_key(), root_json_, EncodeEnvelope(r), now_),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("does not verify")));
}

TEST_F(SignedMetadataTest, RefusesRootNotSignedByPinnedKey) {
  Ed25519PrivateKey other_root = KeyFrom('o');
  RootMetadata forged = root_;
  forged.root_key = other_root.public_key();
  std::string forged_json = EncodeEnvelope(*SignRootMetadata(other_root, forged));
  std::string release = EncodeEnvelope(SignRelease(release_key_, payload_));
  EXPECT_THAT(VerifyRelease(root_key_.public_key(), forged_json, release, now_),
              StatusIs(StatusCode::kUnauthenticated,
                       HasSubstr("root metadata is not signed by the pinned root key")));
}

TEST_F(SignedMetadataTest, RefusesAlteredRoot) {
  auto e = ParseEnvelope(root_json_);
  RootMetadata widened = root_;
  widened.release_keys.push_back(KeyFrom('z').public_key());
  e->payload = EncodeRootMetadata(widened);
  EXPECT_THAT(VerifyRootMetadata(root_key_.public_key(), EncodeEnvelope(*e), now_),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("the metadata was altered")));
}

TEST_F(SignedMetadataTest, RefusesRootNamingAnotherRootKey) {
  // Signed by the pinned key, but names a different root: inconsistent, refused.
  RootMetadata odd = root_;
  odd.root_key = KeyFrom('o').public_key();
  SignedEnvelope e = SignEnvelope(root_key_, kRootPayloadType, EncodeRootMetadata(odd));
  EXPECT_THAT(VerifyRootMetadata(root_key_.public_key(), EncodeEnvelope(e), now_),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("is pinned: refusing it")));
}

TEST_F(SignedMetadataTest, RefusesExpiredRoot) {
  std::string release = EncodeEnvelope(SignRelease(release_key_, payload_));
  EXPECT_THAT(VerifyRelease(root_key_.public_key(), root_json_, release, root_.expires),
              StatusIs(StatusCode::kFailedPrecondition,
                       "root metadata version 3 expired at 2027-11-24T09:00:00Z: refusing frozen "
                       "metadata; the main site manager must re-sign the root metadata"));
  EXPECT_THAT(VerifyRelease(root_key_.public_key(), root_json_, release, root_.expires - 1),
              IsOk());
}

TEST_F(SignedMetadataTest, SignRootRefusesWrongKeyOrNoReleaseKeys) {
  EXPECT_THAT(SignRootMetadata(release_key_, root_), StatusIs(StatusCode::kInvalidArgument));
  RootMetadata empty = root_;
  empty.release_keys.clear();
  EXPECT_THAT(SignRootMetadata(root_key_, empty),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("at least one release key")));
}

TEST_F(SignedMetadataTest, MalformedEnvelopesAreInvalidArgument) {
  for (const char* text :
       {"", "garbage", "[]", R"({"payloadType":"x","signatures":[]})",
        R"({"payload":"%%%","payloadType":"x","signatures":[]})",
        R"({"payload":"","payloadType":"x"})",
        R"({"payload":"","payloadType":"x","signatures":[1]})",
        R"({"payload":"","payloadType":"x","signatures":[{"keyid":"a","sig":"!"}]})"}) {
    EXPECT_THAT(ParseEnvelope(text), StatusIs(StatusCode::kInvalidArgument)) << text;
    EXPECT_THAT(VerifyRelease(root_key_.public_key(), root_json_, text, now_),
                StatusIs(StatusCode::kInvalidArgument, HasSubstr("release metadata")))
        << text;
  }
}

TEST_F(SignedMetadataTest, MalformedRootPayloadsAreRefused) {
  for (
      const char* payload :
      {"{}", R"({"_type":"release"})", R"({"_type":"root","version":0})",
       R"({"_type":"root","version":1,"expires":"soon"})",
       R"({"_type":"root","version":1,"expires":"2030-01-01T00:00:00Z"})",
       R"({"_type":"root","version":1,"expires":"2030-01-01T00:00:00Z","root_key":{"keyid":"00","public":"AAAA"}})"}) {
    EXPECT_THAT(ParseRootMetadata(payload), StatusIs(StatusCode::kInvalidArgument)) << payload;
    SignedEnvelope e = SignEnvelope(root_key_, kRootPayloadType, payload);
    EXPECT_THAT(VerifyRootMetadata(root_key_.public_key(), EncodeEnvelope(e), now_),
                StatusIs(StatusCode::kInvalidArgument))
        << payload;
  }
  // A key whose id does not match.
  std::string bad = EncodeRootMetadata(root_);
  std::string id = KeyId(root_key_.public_key());
  bad.replace(bad.find(id), id.size(), std::string(64, '0'));
  EXPECT_THAT(ParseRootMetadata(bad),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("does not match its key")));
}

TEST(CheckReleaseHeaderTest, AcceptsNextVersionForThisSite) {
  EXPECT_THAT(CheckReleaseHeader("shop-b", 9, 1000, "shop-b", 10, 2000), IsOk());
  EXPECT_THAT(CheckReleaseHeader("shop-b", 0, 1000, "shop-b", 1, 2000), IsOk());
}

TEST(CheckReleaseHeaderTest, RefusesAnotherPartnersRelease) {
  EXPECT_THAT(CheckReleaseHeader("shop-b", 9, 1000, "shop-c", 10, 2000),
              StatusIs(StatusCode::kPermissionDenied,
                       "release is for partner 'shop-c', but this is 'shop-b': refusing another "
                       "partner's release"));
}

TEST(CheckReleaseHeaderTest, RefusesRollback) {
  EXPECT_THAT(CheckReleaseHeader("shop-b", 9, 1000, "shop-b", 7, 2000),
              StatusIs(StatusCode::kFailedPrecondition,
                       "partner 'shop-b' offered version 7, but 9 is active: refusing a rollback"));
}

TEST(CheckReleaseHeaderTest, RefusesReplay) {
  EXPECT_THAT(CheckReleaseHeader("shop-b", 9, 1000, "shop-b", 9, 2000),
              StatusIs(StatusCode::kAlreadyExists,
                       "partner 'shop-b' offered version 9, which is already active: refusing a "
                       "replay"));
}

TEST(CheckReleaseHeaderTest, RefusesFrozenMetadata) {
  const int64_t expires = *ParseRfc3339("2026-11-24T10:00:00Z");
  EXPECT_THAT(CheckReleaseHeader("shop-b", 9, expires, "shop-b", 10, expires),
              StatusIs(StatusCode::kFailedPrecondition,
                       "release version 10 for partner 'shop-b' expired at 2026-11-24T10:00:00Z: "
                       "refusing frozen metadata (main must publish a fresh release)"));
  EXPECT_THAT(CheckReleaseHeader("shop-b", 9, expires - 1, "shop-b", 10, expires), IsOk());
}

}  // namespace
}  // namespace tieup
