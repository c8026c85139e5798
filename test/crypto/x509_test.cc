#include "crypto/x509.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "base/encoding.h"
#include "crypto/hash.h"
#include "test_support.h"

namespace tieup {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::FakeClockEnv;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

constexpr int64_t kYear = 365 * 86400;

// Builds a CSR the way an attacker or a foreign tool might: any key, any CN, extra extensions.
std::string CraftRequest(EVP_PKEY* key, const std::string& cn,
                         const std::vector<std::pair<int, std::string>>& extensions) {
  X509_REQ* req = X509_REQ_new();
  X509_NAME* name = X509_NAME_new();
  X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.data()), int(cn.size()), -1,
                             0);
  X509_REQ_set_subject_name(req, name);
  X509_REQ_set_pubkey(req, key);
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  for (const auto& [nid, value] : extensions) {
    sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(nullptr, nullptr, nid, value.c_str()));
  }
  if (!extensions.empty()) X509_REQ_add_extensions(req, exts);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  const bool ed = EVP_PKEY_is_a(key, "ED25519");
  EXPECT_GT(X509_REQ_sign(req, key, ed ? nullptr : EVP_sha256()), 0);
  unsigned char* der = nullptr;
  int n = i2d_X509_REQ(req, &der);
  std::string out(reinterpret_cast<char*>(der), size_t(n));
  OPENSSL_free(der);
  X509_NAME_free(name);
  X509_REQ_free(req);
  return PemEncode("CERTIFICATE REQUEST", out);
}

class X509Test : public ::testing::Test {
 protected:
  FakeClockEnv env_;
  TempDir dir_;
  CertificateAuthority ca_ =
      CertificateAuthority::Create(env_, "Example partnership CA", kYear).value();
};

TEST_F(X509Test, CaCertificateIsSelfSignedCa) {
  const Certificate& c = ca_.certificate();
  EXPECT_TRUE(c.is_ca());
  EXPECT_EQ(c.common_name(), "Example partnership CA");
  EXPECT_EQ(c.issuer_common_name(), "Example partnership CA");
  EXPECT_LE(c.not_before(), env_.NowSeconds());
  EXPECT_EQ(c.not_after(), env_.NowSeconds() + kYear);
  EXPECT_THAT(VerifyCertificateIssuedBy(c, c, env_.NowSeconds()), IsOk());
  EXPECT_THAT(CertificateSiteId(c),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("names no tieup site")));
}

TEST_F(X509Test, CreateRefusesBadArguments) {
  EXPECT_THAT(CertificateAuthority::Create(env_, "", kYear),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(CertificateAuthority::Create(env_, "x", 0), StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(X509Test, IssuesCertificateBoundToEnrolledSite) {
  CertificateKey key = CertificateKey::Generate(env_);
  auto csr = MakeCertificateRequest(key, "shop-a");
  ASSERT_THAT(csr, IsOk());
  EXPECT_THAT(*csr, HasSubstr("-----BEGIN CERTIFICATE REQUEST-----"));
  auto cert = ca_.SignRequest(*csr, "shop-a", 90 * 86400);
  ASSERT_THAT(cert, IsOk());
  EXPECT_FALSE(cert->is_ca());
  EXPECT_EQ(cert->common_name(), "shop-a");
  EXPECT_EQ(cert->issuer_common_name(), "Example partnership CA");
  EXPECT_EQ(*CertificateSiteId(*cert), "shop-a");
  EXPECT_EQ(cert->public_key_der(), key.PublicKeyDer());
  EXPECT_EQ(cert->not_after(), env_.NowSeconds() + 90 * 86400);
  EXPECT_EQ(CertificateFingerprint(*cert), Sha256Hex(cert->der()));
  EXPECT_EQ(CertificateFingerprint(*cert).size(), 64u);
  EXPECT_THAT(VerifyCertificateIssuedBy(*cert, ca_.certificate(), env_.NowSeconds()), IsOk());

  // PEM round trip.
  auto again = ParseCertificate(cert->ToPem());
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->der(), cert->der());
  EXPECT_EQ(again->serial_hex(), cert->serial_hex());
}

// A certificate OpenSSL decoded already (a TLS peer's) reads as the same Certificate as its DER.
TEST_F(X509Test, CertificateFromX509HasTheFieldsOfTheParsedOne) {
  CertificateKey key = CertificateKey::Generate(env_);
  auto cert = ca_.SignRequest(*MakeCertificateRequest(key, "shop-a"), "shop-a", kYear);
  ASSERT_THAT(cert, IsOk());
  const unsigned char* p = reinterpret_cast<const unsigned char*>(cert->der().data());
  X509* x = d2i_X509(nullptr, &p, static_cast<long>(cert->der().size()));
  ASSERT_NE(x, nullptr);
  auto from = CertificateFromX509(x);
  X509_free(x);
  ASSERT_THAT(from, IsOk());
  EXPECT_EQ(from->der(), cert->der());
  EXPECT_EQ(from->common_name(), "shop-a");
  EXPECT_EQ(from->issuer_common_name(), cert->issuer_common_name());
  EXPECT_EQ(*CertificateSiteId(*from), "shop-a");
  EXPECT_EQ(from->serial_hex(), cert->serial_hex());
  EXPECT_EQ(from->not_before(), cert->not_before());
  EXPECT_EQ(from->not_after(), cert->not_after());
  EXPECT_EQ(from->is_ca(), cert->is_ca());
  EXPECT_EQ(from->public_key_der(), key.PublicKeyDer());
  EXPECT_EQ(CertificateFingerprint(*from), CertificateFingerprint(*cert));
  EXPECT_THAT(CertificateFromX509(nullptr), StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(X509Test, SerialNumbersAreRandom) {
  CertificateKey key = CertificateKey::Generate(env_);
  std::string csr = *MakeCertificateRequest(key, "shop-a");
  auto a = ca_.SignRequest(csr, "shop-a", 86400);
  auto b = ca_.SignRequest(csr, "shop-a", 86400);
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_NE(a->serial_hex(), b->serial_hex());
  EXPECT_GE(a->serial_hex().size(), 30u);  // about 128 bits
  EXPECT_NE(a->serial_hex(), ca_.certificate().serial_hex());
}

TEST_F(X509Test, ValidityNeverOutlivesTheCa) {
  CertificateKey key = CertificateKey::Generate(env_);
  auto cert = ca_.SignRequest(*MakeCertificateRequest(key, "shop-a"), "shop-a", 10 * kYear);
  ASSERT_THAT(cert, IsOk());
  EXPECT_EQ(cert->not_after(), ca_.certificate().not_after());
}

TEST_F(X509Test, RefusesRequestForAnotherSite) {
  CertificateKey key = CertificateKey::Generate(env_);
  EXPECT_THAT(ca_.SignRequest(*MakeCertificateRequest(key, "shop-b"), "shop-a", 86400),
              StatusIs(StatusCode::kUnauthenticated,
                       "certificate request asks for site 'shop-b', but the enrollment is for "
                       "'shop-a': refusing to issue a certificate"));
}

TEST_F(X509Test, RefusesRequestWhoseSubjectAltNameNamesAnotherSite) {
  CertificateKey key = CertificateKey::Generate(env_);
  std::string csr = CraftRequest(static_cast<EVP_PKEY*>(key.native_handle()), "shop-a",
                                 {{NID_subject_alt_name, "URI:tieup:site/main"}});
  EXPECT_THAT(ca_.SignRequest(csr, "shop-a", 86400),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("asks for site 'main'")));
}

TEST_F(X509Test, IgnoresExtraExtensionsInTheRequest) {
  CertificateKey key = CertificateKey::Generate(env_);
  std::string csr =
      CraftRequest(static_cast<EVP_PKEY*>(key.native_handle()), "shop-a",
                   {{NID_basic_constraints, "critical,CA:TRUE"},
                    {NID_subject_alt_name, "DNS:bank.example,URI:tieup:site/shop-a"}});
  auto cert = ca_.SignRequest(csr, "shop-a", 86400);
  ASSERT_THAT(cert, IsOk());
  EXPECT_FALSE(cert->is_ca());
  EXPECT_EQ(*CertificateSiteId(*cert), "shop-a");
  std::string der = cert->der();
  EXPECT_EQ(der.find("bank.example"), std::string::npos);
}

TEST_F(X509Test, RefusesTamperedRequest) {
  CertificateKey key = CertificateKey::Generate(env_);
  std::string der = *PemDecode("CERTIFICATE REQUEST", *MakeCertificateRequest(key, "shop-a"));
  der.back() = static_cast<char>(der.back() ^ 1);  // the last byte belongs to the signature
  EXPECT_THAT(ca_.SignRequest(PemEncode("CERTIFICATE REQUEST", der), "shop-a", 86400),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("has a bad signature")));
}

TEST_F(X509Test, RefusesNonEd25519Request) {
  EVP_PKEY* ec = EVP_EC_gen("P-256");
  ASSERT_NE(ec, nullptr);
  std::string csr = CraftRequest(ec, "shop-a", {});
  EVP_PKEY_free(ec);
  EXPECT_THAT(ca_.SignRequest(csr, "shop-a", 86400),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("not for an Ed25519 key")));
}

TEST_F(X509Test, RefusesGarbageRequest) {
  EXPECT_THAT(ca_.SignRequest("hello", "shop-a", 86400),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("not PEM text")));
  EXPECT_THAT(ca_.SignRequest(PemEncode("CERTIFICATE REQUEST", "garbage"), "shop-a", 86400),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("not a PKCS#10 request")));
  EXPECT_THAT(ca_.SignRequest(*MakeCertificateRequest(CertificateKey::Generate(env_), "shop-a"),
                              "Shop A!", 86400),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(X509Test, AnotherCaDidNotIssue) {
  auto other = CertificateAuthority::Create(env_, "Other CA", kYear);
  ASSERT_THAT(other, IsOk());
  CertificateKey key = CertificateKey::Generate(env_);
  auto cert = other->SignRequest(*MakeCertificateRequest(key, "shop-a"), "shop-a", 86400);
  ASSERT_THAT(cert, IsOk());
  EXPECT_THAT(VerifyCertificateIssuedBy(*cert, ca_.certificate(), env_.NowSeconds()),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("was not issued by")));
  // Same name, different key: the name matches but the signature does not.
  auto twin = CertificateAuthority::Create(env_, "Example partnership CA", kYear);
  auto cert2 = twin->SignRequest(*MakeCertificateRequest(key, "shop-a"), "shop-a", 86400);
  EXPECT_THAT(VerifyCertificateIssuedBy(*cert2, ca_.certificate(), env_.NowSeconds()),
              StatusIs(StatusCode::kUnauthenticated));
}

TEST_F(X509Test, ExpiredCertificateFailsVerification) {
  CertificateKey key = CertificateKey::Generate(env_);
  auto cert = ca_.SignRequest(*MakeCertificateRequest(key, "shop-a"), "shop-a", 86400);
  ASSERT_THAT(cert, IsOk());
  EXPECT_THAT(VerifyCertificateIssuedBy(*cert, ca_.certificate(), env_.NowSeconds() + 2 * 86400),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("is valid from")));
}

TEST_F(X509Test, SaveAndLoadCa) {
  const std::string key_path = dir_.Sub("ca.key");
  const std::string cert_path = dir_.Sub("ca.pem");
  ASSERT_THAT(ca_.Save(key_path, cert_path), IsOk());
  EXPECT_EQ(*env_.GetPermissions(key_path), 0600u);
  auto loaded = CertificateAuthority::Load(env_, key_path, cert_path);
  ASSERT_THAT(loaded, IsOk());
  EXPECT_EQ(loaded->certificate().der(), ca_.certificate().der());
  // The loaded CA can issue certificates the original's certificate verifies.
  CertificateKey key = CertificateKey::Generate(env_);
  auto cert = loaded->SignRequest(*MakeCertificateRequest(key, "shop-a"), "shop-a", 86400);
  ASSERT_THAT(cert, IsOk());
  EXPECT_THAT(VerifyCertificateIssuedBy(*cert, ca_.certificate(), env_.NowSeconds()), IsOk());
}

TEST_F(X509Test, LoadRefusesReadableKey) {
  const std::string key_path = dir_.Sub("ca.key");
  const std::string cert_path = dir_.Sub("ca.pem");
  ASSERT_THAT(ca_.Save(key_path, cert_path), IsOk());
  ASSERT_THAT(env_.SetPermissions(key_path, 0644), IsOk());
  EXPECT_THAT(CertificateAuthority::Load(env_, key_path, cert_path),
              StatusIs(StatusCode::kPermissionDenied, HasSubstr("chmod 600")));
}

TEST_F(X509Test, LoadRefusesMismatchedPair) {
  auto other = CertificateAuthority::Create(env_, "Other CA", kYear);
  ASSERT_THAT(other->Save(dir_.Sub("other.key"), dir_.Sub("other.pem")), IsOk());
  ASSERT_THAT(ca_.Save(dir_.Sub("ca.key"), dir_.Sub("ca.pem")), IsOk());
  EXPECT_THAT(CertificateAuthority::Load(env_, dir_.Sub("other.key"), dir_.Sub("ca.pem")),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("does not belong to")));
  // A site certificate is not a CA.
  CertificateKey key = CertificateKey::Generate(env_);
  auto cert = ca_.SignRequest(*MakeCertificateRequest(key, "shop-a"), "shop-a", 86400);
  ASSERT_THAT(WriteFileAtomic(env_, dir_.Sub("site.pem"), cert->ToPem()), IsOk());
  EXPECT_THAT(CertificateAuthority::Load(env_, dir_.Sub("ca.key"), dir_.Sub("site.pem")),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("is not a CA certificate")));
}

TEST_F(X509Test, SiteKeySaveLoad) {
  CertificateKey key = CertificateKey::Generate(env_);
  const std::string p = dir_.Sub("site.key");
  ASSERT_THAT(SaveCertificateKey(env_, p, key), IsOk());
  EXPECT_EQ(*env_.GetPermissions(p), 0600u);
  auto loaded = LoadCertificateKey(env_, p);
  ASSERT_THAT(loaded, IsOk());
  EXPECT_EQ(loaded->PublicKeyRaw(), key.PublicKeyRaw());
  EXPECT_EQ(key.PublicKeyRaw().size(), 32u);
  ASSERT_THAT(WriteFileAtomic(env_, p, "garbage", 0600), IsOk());
  EXPECT_THAT(LoadCertificateKey(env_, p),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("reading private key")));
}

TEST_F(X509Test, KeyFromPemRefusesOtherKeyTypes) {
  EVP_PKEY* ec = EVP_EC_gen("P-256");
  ASSERT_NE(ec, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, ec, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, size_t(n));
  BIO_free(bio);
  EVP_PKEY_free(ec);
  EXPECT_THAT(CertificateKey::FromPem(pem),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("not Ed25519")));
}

TEST_F(X509Test, GarbagePemHasClearErrors) {
  EXPECT_THAT(ParseCertificate("hello world"),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("not PEM text: expected a line '-----BEGIN CERTIFICATE-----'")));
  EXPECT_THAT(ParseCertificate(CertificateKey::Generate(env_).ToPem()),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("expected a PEM CERTIFICATE but found a PRIVATE KEY")));
  EXPECT_THAT(ParseCertificate("-----BEGIN CERTIFICATE-----\nMIIB\n"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("truncated")));
  EXPECT_THAT(ParseCertificate("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("is corrupt")));
  EXPECT_THAT(ParseCertificate("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("is empty")));
  EXPECT_THAT(ParseCertificate(PemEncode("CERTIFICATE", "not a certificate at all")),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("not an X.509 certificate")));
  std::string der = ca_.certificate().der() + "x";
  EXPECT_THAT(ParseCertificateDer(der),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("trailing bytes")));
}

TEST(PemTest, RoundTripAndLineLength) {
  std::string data(200, '\x5a');
  std::string pem = PemEncode("THING", data);
  EXPECT_EQ(pem.rfind("-----BEGIN THING-----\n", 0), 0u);
  size_t first_nl = pem.find('\n');
  EXPECT_EQ(pem.find('\n', first_nl + 1) - first_nl - 1, 64u);
  EXPECT_EQ(*PemDecode("THING", "leading text\n" + pem + "trailing"), data);
}

TEST(SiteIdTest, Validation) {
  EXPECT_THAT(ValidateSiteId("main"), IsOk());
  EXPECT_THAT(ValidateSiteId("shop-a.tokyo_2"), IsOk());
  EXPECT_THAT(ValidateSiteId("7eleven"), IsOk());
  EXPECT_THAT(ValidateSiteId(""), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateSiteId(std::string(64, 'a')), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateSiteId("-shop"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("start")));
  EXPECT_THAT(ValidateSiteId("Shop"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateSiteId("shop/a"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("may use only")));
  EXPECT_THAT(ValidateSiteId("shop,URI:x"), StatusIs(StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace tieup
