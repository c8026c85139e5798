// X.509 for the partnership: main's certificate authority (CA), site keys, certificate requests
// (CSRs) and the certificates that bind a site id to a key for mutual TLS on the sync port.
//
// Key type: Ed25519 everywhere (CA and sites). Both ends of the sync channel are tieup on
// OpenSSL 3, which supports Ed25519 certificates and the "ed25519" TLS 1.3 signature scheme,
// so interoperability with other stacks does not matter; Ed25519 gives small keys,
// deterministic signatures (no nonce to get wrong) and no curve parameters, and it is the
// primitive tieup already uses for release metadata and request signatures.
//
// Site identity: a site certificate names its site id twice: as the subject common name (for
// people reading the certificate) and as a URI subjectAltName `tieup:site/<id>`, which is what
// tieup checks (a custom scheme, so a site certificate can never be mistaken for a web server
// certificate for a DNS name). Site ids are 1 to 63 characters of [a-z0-9._-] starting with a
// letter or digit; the main site is "main".
//
// Everything here is thread-safe: the types are immutable values.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/env.h"
#include "base/status.h"

namespace tieup {

// The site id of the main site in certificates.
inline constexpr std::string_view kMainSiteId = "main";
// The URI subjectAltName prefix that carries the site id.
inline constexpr std::string_view kSiteIdUriPrefix = "tieup:site/";

// OK iff `id` is a valid site id (see above); otherwise says what is wrong with it.
Status ValidateSiteId(std::string_view id);

// PEM armour: "-----BEGIN <label>-----\n<base64 in 64-column lines>\n-----END <label>-----\n".
std::string PemEncode(std::string_view label, std::string_view der);
// Decodes the first PEM block with `label`; fails with a clear message on garbage, a missing
// block, another label or bad base64.
Result<std::string> PemDecode(std::string_view label, std::string_view pem);

// A private key for certificates (Ed25519). Copies share the same immutable OpenSSL key.
// Never logged, never sent.
class CertificateKey {
 public:
  // A fresh key from `env`'s randomness.
  static CertificateKey Generate(Env& env);
  // Parses an unencrypted PKCS#8 PEM ("PRIVATE KEY") Ed25519 key.
  static Result<CertificateKey> FromPem(std::string_view pem);

  // PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----").
  std::string ToPem() const;
  // The DER SubjectPublicKeyInfo of the public half.
  std::string PublicKeyDer() const;
  // The raw 32-byte Ed25519 public key.
  std::string PublicKeyRaw() const;

  // The OpenSSL EVP_PKEY*, borrowed (for the TLS code); valid while this object lives.
  void* native_handle() const { return key_.get(); }

 private:
  explicit CertificateKey(std::shared_ptr<void> key) : key_(std::move(key)) {}
  std::shared_ptr<void> key_;  // EVP_PKEY
};

// Writes `key` as PEM to `path` atomically with mode 0600.
Status SaveCertificateKey(Env& env, const std::string& path, const CertificateKey& key);
// Reads a key written by SaveCertificateKey; refuses a file readable by group or others.
Result<CertificateKey> LoadCertificateKey(Env& env, const std::string& path);

// A parsed certificate: its DER bytes plus the fields tieup uses. A cheap-to-copy value.
class Certificate {
 public:
  Certificate() = default;

  const std::string& der() const { return der_; }
  std::string ToPem() const { return PemEncode("CERTIFICATE", der_); }
  // The subject common name ("" when there is none).
  const std::string& common_name() const { return common_name_; }
  // The issuer common name ("" when there is none).
  const std::string& issuer_common_name() const { return issuer_common_name_; }
  // The site id from the `tieup:site/<id>` URI subjectAltName; "" when there is none or it is
  // not a single valid id (CertificateSiteId says why).
  const std::string& site_id() const { return site_id_; }
  // Lower-case hex serial number.
  const std::string& serial_hex() const { return serial_hex_; }
  // Validity, seconds since the Unix epoch.
  int64_t not_before() const { return not_before_; }
  int64_t not_after() const { return not_after_; }
  // True iff basicConstraints says CA:TRUE.
  bool is_ca() const { return is_ca_; }
  // The DER SubjectPublicKeyInfo.
  const std::string& public_key_der() const { return public_key_der_; }

 private:
  friend Result<Certificate> ParseCertificateDer(std::string_view der);
  friend Result<Certificate> CertificateFromX509(const void* x509);
  // The fields of `x509` (an X509*, already decoded) whose DER bytes are `der`.
  static Result<Certificate> Of(void* x509, std::string der);
  std::string der_;
  std::string common_name_;
  std::string issuer_common_name_;
  std::string site_id_;
  std::string site_id_error_;
  std::string serial_hex_;
  int64_t not_before_ = 0;
  int64_t not_after_ = 0;
  bool is_ca_ = false;
  std::string public_key_der_;

  friend Result<std::string> CertificateSiteId(const Certificate& cert);
};

// Parses one PEM certificate ("-----BEGIN CERTIFICATE-----"); clear errors for garbage.
Result<Certificate> ParseCertificate(std::string_view pem);
// Parses one DER certificate.
Result<Certificate> ParseCertificateDer(std::string_view der);
// The certificate OpenSSL decoded already (an X509*: a TLS peer's), without decoding it again
// (in OpenSSL 3 a decoding of the public key costs more than the rest of a certificate).
Result<Certificate> CertificateFromX509(const void* x509);

// The site id the certificate is bound to (its single `tieup:site/<id>` URI subjectAltName,
// which must agree with the common name). Fails with kUnauthenticated when there is none,
// several, or they disagree.
Result<std::string> CertificateSiteId(const Certificate& cert);

// The lower-case hex SHA-256 of the certificate's DER bytes: what revocation lists and logs
// name a certificate by.
std::string CertificateFingerprint(const Certificate& cert);

// OK iff `cert` is signed by `issuer`'s key and names it as its issuer, and `now` (seconds) is
// within both validity periods. kUnauthenticated otherwise.
Status VerifyCertificateIssuedBy(const Certificate& cert, const Certificate& issuer, int64_t now);

// A PEM certificate request (PKCS#10) for `site_id`, signed by `key`: subject CN = site id and a
// requested URI subjectAltName `tieup:site/<site_id>`. The key stays with the caller.
Result<std::string> MakeCertificateRequest(const CertificateKey& key, std::string_view site_id);

// The partnership CA of a main site: a self-signed Ed25519 CA certificate (basicConstraints
// CA:TRUE, pathlen 0) and its key. Thread-safe after construction; uses `env` (which must
// outlive it) for the clock and random serial numbers.
class CertificateAuthority {
 public:
  // A fresh CA named `common_name`, valid from now for `validity_seconds`.
  static Result<CertificateAuthority> Create(Env& env, std::string_view common_name,
                                             int64_t validity_seconds);
  // Loads a CA saved by Save; checks that the key matches the certificate.
  static Result<CertificateAuthority> Load(Env& env, const std::string& key_path,
                                           const std::string& cert_path);
  // Writes the key (mode 0600) and the certificate (PEM, mode 0644), each atomically.
  Status Save(const std::string& key_path, const std::string& cert_path) const;

  const Certificate& certificate() const { return cert_; }
  const CertificateKey& key() const { return key_; }

  // Checks the PEM request `csr_pem` and issues a certificate for `enrolled_site_id`, valid for
  // `validity_seconds` (but never beyond the CA's own expiry). Refuses (kUnauthenticated) a
  // request whose signature does not verify, whose key is not Ed25519, or whose common name or
  // requested tieup URI names another site than `enrolled_site_id`; any other extension the
  // request asks for is ignored: the certificate carries only the CA's own choice
  // (CA:FALSE, digitalSignature, serverAuth + clientAuth, the site URI). Serial: 128 random bits.
  Result<Certificate> SignRequest(std::string_view csr_pem, std::string_view enrolled_site_id,
                                  int64_t validity_seconds) const;

 private:
  CertificateAuthority(Env& env, CertificateKey key, Certificate cert)
      : env_(&env), key_(std::move(key)), cert_(std::move(cert)) {}
  Env* env_;
  CertificateKey key_;
  Certificate cert_;
};

}  // namespace tieup
