#include "crypto/x509.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <vector>

#include "base/encoding.h"
#include "crypto/hash.h"

namespace tieup {
namespace {

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using ReqPtr = std::unique_ptr<X509_REQ, Deleter<X509_REQ, X509_REQ_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;
using NamePtr = std::unique_ptr<X509_NAME, Deleter<X509_NAME, X509_NAME_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;

void FreeGeneralNames(GENERAL_NAMES* g) { GENERAL_NAMES_free(g); }
void FreeExtensionStack(STACK_OF(X509_EXTENSION) * s) {
  sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free);
}
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES, FreeGeneralNames>>;
using ExtStackPtr = std::unique_ptr<STACK_OF(X509_EXTENSION),
                                    Deleter<STACK_OF(X509_EXTENSION), FreeExtensionStack>>;

constexpr int64_t kBackdateSeconds = 300;

// The last OpenSSL error as text (and the thread's error queue emptied, so that a stale error
// never confuses a later TLS call on this thread).
std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  std::string out = "unknown OpenSSL error";
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    out = buf;
  }
  ERR_clear_error();
  return out;
}

Status Internal(std::string_view what) {
  return Status::Internal(std::string(what) + ": " + OpenSslError());
}

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, n > 0 ? static_cast<size_t>(n) : 0);
}

std::string NameEntry(const X509_NAME* name, int nid) {
  if (name == nullptr) return "";
  int i = X509_NAME_get_index_by_NID(name, nid, -1);
  if (i < 0) return "";
  const ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
  if (s == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
}

Result<int64_t> AsnTime(const ASN1_TIME* t) {
  struct tm tm = {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    ERR_clear_error();
    return Status::InvalidArgument("certificate has an unreadable validity time");
  }
  return DaysFromCivil(tm.tm_year + 1900, unsigned(tm.tm_mon + 1), unsigned(tm.tm_mday)) * 86400 +
         tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
}

// The URI subjectAltNames in `names` that carry a tieup site id (prefix stripped).
std::vector<std::string> SiteUris(const GENERAL_NAMES* names) {
  std::vector<std::string> out;
  if (names == nullptr) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
    if (g->type != GEN_URI) continue;
    std::string uri(
        reinterpret_cast<const char*>(ASN1_STRING_get0_data(g->d.uniformResourceIdentifier)),
        static_cast<size_t>(ASN1_STRING_length(g->d.uniformResourceIdentifier)));
    if (uri.rfind(kSiteIdUriPrefix, 0) == 0) out.push_back(uri.substr(kSiteIdUriPrefix.size()));
  }
  return out;
}

std::string PublicKeyDerOf(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int n = i2d_PUBKEY(key, &der);
  if (n <= 0) {
    ERR_clear_error();
    return "";
  }
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  return out;
}

Result<X509Ptr> ToX509(const Certificate& cert) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(cert.der().data());
  X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(cert.der().size())));
  if (!x) return Status::InvalidArgument("certificate DER does not parse: " + OpenSslError());
  return x;
}

// Adds an extension to `x` from OpenSSL's configuration syntax; `ctx` names issuer and subject.
Status AddExtension(X509* x, X509V3_CTX* ctx, int nid, const std::string& value) {
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
  if (!ext) return Internal("building certificate extension '" + value + "'");
  if (X509_add_ext(x, ext.get(), -1) != 1) return Internal("adding certificate extension");
  return Status::Ok();
}

Result<NamePtr> CommonNameOnly(std::string_view cn) {
  NamePtr name(X509_NAME_new());
  if (!name || X509_NAME_add_entry_by_NID(name.get(), NID_commonName, MBSTRING_UTF8,
                                          reinterpret_cast<const unsigned char*>(cn.data()),
                                          static_cast<int>(cn.size()), -1, 0) != 1) {
    return Internal("building a certificate name");
  }
  return name;
}

Status SetValidity(X509* x, int64_t not_before, int64_t not_after) {
  if (ASN1_TIME_set(X509_getm_notBefore(x), static_cast<time_t>(not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(x), static_cast<time_t>(not_after)) == nullptr) {
    return Internal("setting certificate validity");
  }
  return Status::Ok();
}

Status SetRandomSerial(Env& env, X509* x) {
  // 128 random bits, top bit cleared so the INTEGER is positive, never zero (RFC 5280 4.1.2.2).
  std::string bytes = RandomString(env, 16);
  bytes[0] = static_cast<char>((bytes[0] & 0x7f) | 0x01);
  BnPtr bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                     static_cast<int>(bytes.size()), nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x)) == nullptr) {
    return Internal("setting a certificate serial number");
  }
  return Status::Ok();
}

Result<Certificate> Finish(X509* x, EVP_PKEY* signer) {
  if (X509_sign(x, signer, nullptr) <= 0) return Internal("signing a certificate");
  unsigned char* der = nullptr;
  int n = i2d_X509(x, &der);
  if (n <= 0) return Internal("encoding a certificate");
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  return ParseCertificateDer(out);
}

}  // namespace

Status ValidateSiteId(std::string_view id) {
  if (id.empty() || id.size() > 63) {
    return Status::InvalidArgument("site id '" + std::string(id) +
                                   "' must be 1 to 63 characters long");
  }
  if (!std::islower(static_cast<unsigned char>(id[0])) &&
      !std::isdigit(static_cast<unsigned char>(id[0]))) {
    return Status::InvalidArgument("site id '" + std::string(id) +
                                   "' must start with a lower-case letter or a digit");
  }
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
    if (!ok) {
      return Status::InvalidArgument("site id '" + std::string(id) +
                                     "' may use only a-z, 0-9, '-', '.' and '_'");
    }
  }
  return Status::Ok();
}

std::string PemEncode(std::string_view label, std::string_view der) {
  std::string b64 = Base64Encode(der);
  std::string out = "-----BEGIN " + std::string(label) + "-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) {
    out.append(b64, i, 64);
    out += '\n';
  }
  out += "-----END " + std::string(label) + "-----\n";
  return out;
}

Result<std::string> PemDecode(std::string_view label, std::string_view pem) {
  const std::string begin = "-----BEGIN " + std::string(label) + "-----";
  const std::string end = "-----END " + std::string(label) + "-----";
  size_t b = pem.find(begin);
  if (b == std::string_view::npos) {
    size_t other = pem.find("-----BEGIN ");
    if (other != std::string_view::npos) {
      size_t close = pem.find("-----", other + 11);
      std::string found(pem.substr(other + 11, close == std::string_view::npos
                                                   ? std::string_view::npos
                                                   : close - other - 11));
      return Status::InvalidArgument("expected a PEM " + std::string(label) + " but found a " +
                                     found.substr(0, 40) + ": check which file was given");
    }
    return Status::InvalidArgument("not PEM text: expected a line '" + begin +
                                   "': check the file is a PEM " + std::string(label));
  }
  size_t body = b + begin.size();
  size_t e = pem.find(end, body);
  if (e == std::string_view::npos) {
    return Status::InvalidArgument("PEM " + std::string(label) + " has no '" + end +
                                   "' line: the file is truncated");
  }
  std::string b64;
  for (char c : pem.substr(body, e - body)) {
    if (c == '\n' || c == '\r' || c == ' ' || c == '\t') continue;
    b64 += c;
  }
  auto der = Base64Decode(b64);
  if (!der.ok()) {
    return Status::InvalidArgument("PEM " + std::string(label) +
                                   " is corrupt: " + der.status().message());
  }
  if (der->empty()) return Status::InvalidArgument("PEM " + std::string(label) + " is empty");
  return der;
}

// --- CertificateKey ---

CertificateKey CertificateKey::Generate(Env& env) {
  std::string seed = RandomString(env, 32);
  EVP_PKEY* key = EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(seed.data()), seed.size());
  OPENSSL_cleanse(seed.data(), seed.size());
  if (key == nullptr) std::abort();  // only on allocation failure: an invariant, not input
  return CertificateKey(
      std::shared_ptr<void>(key, [](void* p) { EVP_PKEY_free(static_cast<EVP_PKEY*>(p)); }));
}

Result<CertificateKey> CertificateKey::FromPem(std::string_view pem) {
  ERR_clear_error();
  if (pem.find("-----BEGIN PRIVATE KEY-----") == std::string_view::npos) {
    RETURN_IF_ERROR(PemDecode("PRIVATE KEY", pem).status());
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr) {
    return Status::InvalidArgument("private key PEM does not parse: " + OpenSslError());
  }
  PkeyPtr owned(key);
  if (!EVP_PKEY_is_a(key, "ED25519")) {
    return Status::InvalidArgument("certificate key is not Ed25519: tieup uses only Ed25519");
  }
  return CertificateKey(std::shared_ptr<void>(
      owned.release(), [](void* p) { EVP_PKEY_free(static_cast<EVP_PKEY*>(p)); }));
}

std::string CertificateKey::ToPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), static_cast<EVP_PKEY*>(key_.get()), nullptr,
                                       nullptr, 0, nullptr, nullptr) != 1) {
    std::abort();  // memory BIO: only allocation failure
  }
  return BioContents(bio.get());
}

std::string CertificateKey::PublicKeyDer() const {
  return PublicKeyDerOf(static_cast<EVP_PKEY*>(key_.get()));
}

std::string CertificateKey::PublicKeyRaw() const {
  std::string out(32, '\0');
  size_t n = out.size();
  if (EVP_PKEY_get_raw_public_key(static_cast<EVP_PKEY*>(key_.get()),
                                  reinterpret_cast<unsigned char*>(out.data()), &n) != 1) {
    ERR_clear_error();
    return "";
  }
  out.resize(n);
  return out;
}

Status SaveCertificateKey(Env& env, const std::string& path, const CertificateKey& key) {
  std::string pem = key.ToPem();
  Status s = WriteFileAtomic(env, path, pem, 0600);
  OPENSSL_cleanse(pem.data(), pem.size());
  return s;
}

Result<CertificateKey> LoadCertificateKey(Env& env, const std::string& path) {
  ASSIGN_OR_RETURN(uint32_t mode, env.GetPermissions(path));
  if ((mode & 077) != 0) {
    char buf[16];
    std::snprintf(buf, sizeof(buf), "%04o", mode);
    return Status::PermissionDenied("private key '" + path + "' has mode " + buf +
                                    ", readable by others: run 'chmod 600 " + path +
                                    "' and consider the key compromised");
  }
  ASSIGN_OR_RETURN(std::string pem, env.ReadFile(path));
  auto key = CertificateKey::FromPem(pem);
  OPENSSL_cleanse(pem.data(), pem.size());
  if (!key.ok()) return key.status().Annotate("reading private key '" + path + "'");
  return key;
}

// --- Certificate ---

Result<Certificate> ParseCertificate(std::string_view pem) {
  auto der = PemDecode("CERTIFICATE", pem);
  if (!der.ok()) return der.status();
  return ParseCertificateDer(*der);
}

Result<Certificate> ParseCertificateDer(std::string_view der) {
  ERR_clear_error();
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!x) {
    return Status::InvalidArgument(
        "not an X.509 certificate (DER does not parse: " + OpenSslError() + ")");
  }
  if (p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    return Status::InvalidArgument("certificate has trailing bytes after its DER encoding");
  }
  return Certificate::Of(x.get(), std::string(der));
}

Result<Certificate> CertificateFromX509(const void* x509) {
  X509* x = const_cast<X509*>(static_cast<const X509*>(x509));
  if (x == nullptr) return Status::InvalidArgument("no certificate");
  unsigned char* der = nullptr;
  int n = i2d_X509(x, &der);  // the encoding X509 kept from its decoding: a copy
  if (n <= 0) {
    ERR_clear_error();
    return Status::InvalidArgument("the certificate cannot be encoded");
  }
  std::string bytes(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  return Certificate::Of(x, std::move(bytes));
}

Result<Certificate> Certificate::Of(void* x509, std::string der) {
  X509* x = static_cast<X509*>(x509);
  Certificate c;
  c.der_ = std::move(der);
  c.common_name_ = NameEntry(X509_get_subject_name(x), NID_commonName);
  c.issuer_common_name_ = NameEntry(X509_get_issuer_name(x), NID_commonName);
  {
    BnPtr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), nullptr));
    if (!bn) return Status::InvalidArgument("certificate has an unreadable serial number");
    char* hex = BN_bn2hex(bn.get());
    if (hex == nullptr) return Internal("formatting a serial number");
    c.serial_hex_ = hex;
    OPENSSL_free(hex);
    for (char& ch : c.serial_hex_)
      ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  ASSIGN_OR_RETURN(c.not_before_, AsnTime(X509_get0_notBefore(x)));
  ASSIGN_OR_RETURN(c.not_after_, AsnTime(X509_get0_notAfter(x)));
  c.is_ca_ = X509_check_ca(x) != 0;
  {
    // The SubjectPublicKeyInfo as the certificate holds it (no key encoder, as i2d_PUBKEY of
    // the decoded key would run in OpenSSL 3).
    unsigned char* spki = nullptr;
    int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki);
    if (n <= 0) {
      ERR_clear_error();
    } else {
      c.public_key_der_.assign(reinterpret_cast<char*>(spki), static_cast<size_t>(n));
      OPENSSL_free(spki);
    }
  }

  int crit = 0;
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, &crit, nullptr)));
  if (!names && crit != -1) {
    ERR_clear_error();
    c.site_id_error_ = "certificate's subjectAltName extension is unreadable or repeated";
  } else {
    std::vector<std::string> ids = SiteUris(names.get());
    if (ids.empty()) {
      c.site_id_error_ = "certificate for '" + c.common_name_ + "' names no tieup site (no '" +
                         std::string(kSiteIdUriPrefix) + "<id>' subjectAltName)";
    } else if (ids.size() > 1) {
      c.site_id_error_ = "certificate for '" + c.common_name_ + "' names several tieup sites";
    } else if (Status s = ValidateSiteId(ids[0]); !s.ok()) {
      c.site_id_error_ = "certificate names an invalid " + s.message();
    } else if (ids[0] != c.common_name_) {
      c.site_id_error_ =
          "certificate names site '" + ids[0] + "' but its common name is '" + c.common_name_ + "'";
    } else {
      c.site_id_ = ids[0];
    }
  }
  ERR_clear_error();
  return c;
}

Result<std::string> CertificateSiteId(const Certificate& cert) {
  if (cert.site_id_.empty()) {
    return Status::Unauthenticated(cert.site_id_error_.empty() ? "empty certificate"
                                                               : cert.site_id_error_);
  }
  return cert.site_id_;
}

std::string CertificateFingerprint(const Certificate& cert) { return Sha256Hex(cert.der()); }

Status VerifyCertificateIssuedBy(const Certificate& cert, const Certificate& issuer, int64_t now) {
  ASSIGN_OR_RETURN(X509Ptr x, ToX509(cert));
  ASSIGN_OR_RETURN(X509Ptr ca, ToX509(issuer));
  if (X509_check_issued(ca.get(), x.get()) != X509_V_OK) {
    ERR_clear_error();
    return Status::Unauthenticated("certificate for '" + cert.common_name() +
                                   "' was not issued by '" + issuer.common_name() + "'");
  }
  if (X509_verify(x.get(), X509_get0_pubkey(ca.get())) != 1) {
    ERR_clear_error();
    return Status::Unauthenticated("certificate for '" + cert.common_name() +
                                   "' has a signature that '" + issuer.common_name() +
                                   "' did not make");
  }
  for (const Certificate* c : {&cert, &issuer}) {
    if (now < c->not_before() || now > c->not_after()) {
      return Status::Unauthenticated("certificate for '" + c->common_name() + "' is valid from " +
                                     FormatRfc3339(c->not_before()) + " to " +
                                     FormatRfc3339(c->not_after()) + ", not at " +
                                     FormatRfc3339(now));
    }
  }
  return Status::Ok();
}

Result<std::string> MakeCertificateRequest(const CertificateKey& key, std::string_view site_id) {
  RETURN_IF_ERROR(ValidateSiteId(site_id));
  ERR_clear_error();
  ReqPtr req(X509_REQ_new());
  if (!req) return Internal("allocating a certificate request");
  EVP_PKEY* pkey = static_cast<EVP_PKEY*>(key.native_handle());
  ASSIGN_OR_RETURN(NamePtr name, CommonNameOnly(site_id));
  if (X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) != 1 ||
      X509_REQ_set_subject_name(req.get(), name.get()) != 1 ||
      X509_REQ_set_pubkey(req.get(), pkey) != 1) {
    return Internal("building a certificate request");
  }
  ExtStackPtr exts(sk_X509_EXTENSION_new_null());
  std::string san = "URI:" + std::string(kSiteIdUriPrefix) + std::string(site_id);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, san.c_str());
  if (!exts || ext == nullptr || sk_X509_EXTENSION_push(exts.get(), ext) == 0 ||
      X509_REQ_add_extensions(req.get(), exts.get()) != 1) {
    return Internal("adding the site id to a certificate request");
  }
  if (X509_REQ_sign(req.get(), pkey, nullptr) <= 0)
    return Internal("signing a certificate request");
  unsigned char* der = nullptr;
  int n = i2d_X509_REQ(req.get(), &der);
  if (n <= 0) return Internal("encoding a certificate request");
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  return PemEncode("CERTIFICATE REQUEST", out);
}

// --- CertificateAuthority ---

Result<CertificateAuthority> CertificateAuthority::Create(Env& env, std::string_view common_name,
                                                          int64_t validity_seconds) {
  if (common_name.empty()) {
    return Status::InvalidArgument("the partnership CA needs a name (common name)");
  }
  if (validity_seconds <= 0) {
    return Status::InvalidArgument("the partnership CA's validity must be positive");
  }
  ERR_clear_error();
  CertificateKey key = CertificateKey::Generate(env);
  EVP_PKEY* pkey = static_cast<EVP_PKEY*>(key.native_handle());
  X509Ptr x(X509_new());
  if (!x) return Internal("allocating a certificate");
  ASSIGN_OR_RETURN(NamePtr name, CommonNameOnly(common_name));
  const int64_t now = env.NowSeconds();
  if (X509_set_version(x.get(), X509_VERSION_3) != 1 ||
      X509_set_subject_name(x.get(), name.get()) != 1 ||
      X509_set_issuer_name(x.get(), name.get()) != 1 || X509_set_pubkey(x.get(), pkey) != 1) {
    return Internal("building the CA certificate");
  }
  RETURN_IF_ERROR(SetRandomSerial(env, x.get()));
  RETURN_IF_ERROR(SetValidity(x.get(), now - kBackdateSeconds, now + validity_seconds));
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, x.get(), x.get(), nullptr, nullptr, 0);
  RETURN_IF_ERROR(AddExtension(x.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
  RETURN_IF_ERROR(AddExtension(x.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign"));
  RETURN_IF_ERROR(AddExtension(x.get(), &ctx, NID_subject_key_identifier, "hash"));
  ASSIGN_OR_RETURN(Certificate cert, Finish(x.get(), pkey));
  return CertificateAuthority(env, std::move(key), std::move(cert));
}

Result<CertificateAuthority> CertificateAuthority::Load(Env& env, const std::string& key_path,
                                                        const std::string& cert_path) {
  ASSIGN_OR_RETURN(CertificateKey key, LoadCertificateKey(env, key_path));
  ASSIGN_OR_RETURN(std::string pem, env.ReadFile(cert_path));
  auto cert = ParseCertificate(pem);
  if (!cert.ok()) return cert.status().Annotate("reading CA certificate '" + cert_path + "'");
  if (!cert->is_ca()) {
    return Status::FailedPrecondition("'" + cert_path +
                                      "' is not a CA certificate: check the file names");
  }
  if (cert->public_key_der() != key.PublicKeyDer()) {
    return Status::FailedPrecondition("CA key '" + key_path + "' does not belong to certificate '" +
                                      cert_path + "': restore the matching pair from backup");
  }
  return CertificateAuthority(env, std::move(key), std::move(*cert));
}

Status CertificateAuthority::Save(const std::string& key_path, const std::string& cert_path) const {
  RETURN_IF_ERROR(SaveCertificateKey(*env_, key_path, key_));
  return WriteFileAtomic(*env_, cert_path, cert_.ToPem(), 0644);
}

Result<Certificate> CertificateAuthority::SignRequest(std::string_view csr_pem,
                                                      std::string_view enrolled_site_id,
                                                      int64_t validity_seconds) const {
  RETURN_IF_ERROR(ValidateSiteId(enrolled_site_id));
  if (validity_seconds <= 0) {
    return Status::InvalidArgument("certificate validity must be positive");
  }
  const std::string site(enrolled_site_id);
  auto der = PemDecode("CERTIFICATE REQUEST", csr_pem);
  if (!der.ok()) return der.status().Annotate("certificate request from '" + site + "'");
  ERR_clear_error();
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der->data());
  ReqPtr req(d2i_X509_REQ(nullptr, &p, static_cast<long>(der->size())));
  if (!req || p != reinterpret_cast<const unsigned char*>(der->data()) + der->size()) {
    ERR_clear_error();
    return Status::InvalidArgument("certificate request from '" + site +
                                   "' is not a PKCS#10 request: re-run 'tieup partner init'");
  }
  EVP_PKEY* pub = X509_REQ_get0_pubkey(req.get());
  if (pub == nullptr || !EVP_PKEY_is_a(pub, "ED25519")) {
    ERR_clear_error();
    return Status::Unauthenticated("certificate request from '" + site +
                                   "' is not for an Ed25519 key: tieup issues only Ed25519 "
                                   "certificates");
  }
  if (X509_REQ_verify(req.get(), pub) != 1) {
    ERR_clear_error();
    return Status::Unauthenticated("certificate request from '" + site +
                                   "' has a bad signature: it was altered or not made with its "
                                   "key; refusing to issue a certificate");
  }
  const std::string cn = NameEntry(X509_REQ_get_subject_name(req.get()), NID_commonName);
  if (cn != site) {
    return Status::Unauthenticated("certificate request asks for site '" + cn +
                                   "', but the enrollment is for '" + site +
                                   "': refusing to issue a certificate");
  }
  {
    ExtStackPtr exts(X509_REQ_get_extensions(req.get()));
    ERR_clear_error();
    for (int i = 0; exts && i < sk_X509_EXTENSION_num(exts.get()); ++i) {
      X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts.get(), i);
      if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_subject_alt_name) continue;
      GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext)));
      if (!names) {
        ERR_clear_error();
        return Status::InvalidArgument("certificate request from '" + site +
                                       "' has an unreadable subjectAltName");
      }
      for (const std::string& id : SiteUris(names.get())) {
        if (id != site) {
          return Status::Unauthenticated("certificate request asks for site '" + id +
                                         "', but the enrollment is for '" + site +
                                         "': refusing to issue a certificate");
        }
      }
    }
  }

  X509Ptr x(X509_new());
  if (!x) return Internal("allocating a certificate");
  ASSIGN_OR_RETURN(NamePtr subject, CommonNameOnly(site));
  ASSIGN_OR_RETURN(X509Ptr ca, ToX509(cert_));
  const int64_t now = env_->NowSeconds();
  const int64_t not_after = std::min(now + validity_seconds, cert_.not_after());
  if (X509_set_version(x.get(), X509_VERSION_3) != 1 ||
      X509_set_subject_name(x.get(), subject.get()) != 1 ||
      X509_set_issuer_name(x.get(), X509_get_subject_name(ca.get())) != 1 ||
      X509_set_pubkey(x.get(), pub) != 1) {
    return Internal("building a site certificate");
  }
  RETURN_IF_ERROR(SetRandomSerial(*env_, x.get()));
  RETURN_IF_ERROR(SetValidity(x.get(), now - kBackdateSeconds, not_after));
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca.get(), x.get(), nullptr, nullptr, 0);
  RETURN_IF_ERROR(AddExtension(x.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE"));
  RETURN_IF_ERROR(AddExtension(x.get(), &ctx, NID_key_usage, "critical,digitalSignature"));
  RETURN_IF_ERROR(AddExtension(x.get(), &ctx, NID_ext_key_usage, "serverAuth,clientAuth"));
  RETURN_IF_ERROR(AddExtension(x.get(), &ctx, NID_subject_alt_name,
                               "URI:" + std::string(kSiteIdUriPrefix) + site));
  RETURN_IF_ERROR(AddExtension(x.get(), &ctx, NID_subject_key_identifier, "hash"));
  RETURN_IF_ERROR(AddExtension(x.get(), &ctx, NID_authority_key_identifier, "keyid:always"));
  return Finish(x.get(), static_cast<EVP_PKEY*>(key_.native_handle()));
}

}  // namespace tieup
