#include "main_site/signed_requests.h"

#include <atomic>
#include <map>
#include <mutex>
#include <utility>

#include "base/encoding.h"
#include "crypto/x509.h"
#include "site/sync_transport.h"
#include "trust/request_signature.h"

namespace tieup {
namespace {

constexpr size_t kMaxKnownCertificates = 1024;
// Expired nonces are deleted from the store after this many inserts.
constexpr int kSweepEveryInserts = 256;

// The Ed25519 key of a SubjectPublicKeyInfo (RFC 8410: 12 bytes of prefix, then 32 raw).
Result<Ed25519PublicKey> Ed25519FromSpki(std::string_view der) {
  static constexpr unsigned char kPrefix[] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                              0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
  if (der.size() != sizeof(kPrefix) + 32 ||
      der.substr(0, sizeof(kPrefix)) !=
          std::string_view(reinterpret_cast<const char*>(kPrefix), sizeof(kPrefix))) {
    return Status::Unauthenticated("the certificate's key is not an Ed25519 key");
  }
  return Ed25519PublicKey::FromBytes(der.substr(sizeof(kPrefix)));
}

}  // namespace

class PartnerRequestVerifier::Impl {
 public:
  Impl(Env& env, Certificate ca, Database& db) : env_(env), ca_(std::move(ca)), db_(db) {}

  Result<SignedPartnerRequest> Verify(const HttpRequest& request) {
    const std::string peer(request.peer_site_id());
    if (peer.empty() || peer == "main") {
      return Status::Unauthenticated("signed requests are for enrolled partners only");
    }
    HttpFields fields;
    for (const HttpHeaderView& h : request.Headers()) {
      fields.emplace_back(std::string(h.name), std::string(h.value));
    }
    const std::string cert_b64(request.HeaderOr("Tieup-Certificate"));
    SignatureKeyLookup lookup = [&](std::string_view keyid) -> Result<Ed25519PublicKey> {
      if (keyid != peer) {
        return Status::Unauthenticated("the signature's key id '" + std::string(keyid) +
                                       "' is not the connected partner '" + peer + "'");
      }
      if (cert_b64.empty()) {
        return Status::Unauthenticated("the request lacks the Tieup-Certificate header");
      }
      return KeyOf(cert_b64, peer);
    };
    SignedRequestTarget target{request.method(), request.HeaderOr("Host"), request.target()};
    ASSIGN_OR_RETURN(VerifiedRequest v, VerifyRequest(lookup, target, fields, request.body(),
                                                      env_.NowSeconds(), replay_));
    RETURN_IF_ERROR(RememberNonce(v));
    return SignedPartnerRequest{peer, std::move(v.nonce), cert_b64};
  }

 private:
  // The memory cache forgets at a restart; the store does not, so a request captured before
  // main restarted cannot be replayed after it. kAlreadyExists for a nonce seen before.
  Status RememberNonce(const VerifiedRequest& v) {
    const std::string key = std::to_string(v.keyid.size()) + ":" + v.keyid + v.nonce;
    ASSIGN_OR_RETURN(auto rows, db_.Query("INSERT INTO main_seen_nonces (key, expires) VALUES "
                                          "(?, ?) ON CONFLICT (key) DO NOTHING RETURNING key",
                                          {key, v.expires}));
    if (rows.empty()) {
      return Status::AlreadyExists("request signature nonce '" + v.nonce + "' from key '" +
                                   v.keyid +
                                   "' was already used (before main restarted): refusing a "
                                   "replayed request");
    }
    if (inserts_.fetch_add(1) % kSweepEveryInserts == kSweepEveryInserts - 1) {
      // Best effort: a failed sweep leaves rows that only cost space until the next one.
      (void)db_.Exec("DELETE FROM main_seen_nonces WHERE expires < ?", {env_.NowSeconds()});
    }
    return Status::Ok();
  }

  // The key of `peer`'s certificate once it checked out against main's CA.
  Result<Ed25519PublicKey> KeyOf(const std::string& cert_b64, const std::string& peer) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = known_keys_.find(cert_b64);
      if (it != known_keys_.end() && it->second.first == peer) return it->second.second;
    }
    ASSIGN_OR_RETURN(std::string der, Base64Decode(cert_b64));
    ASSIGN_OR_RETURN(Certificate cert, ParseCertificateDer(der));
    RETURN_IF_ERROR(VerifyCertificateIssuedBy(cert, ca_, env_.NowSeconds()));
    ASSIGN_OR_RETURN(std::string site, CertificateSiteId(cert));
    if (site != peer) {
      return Status::Unauthenticated("the certificate names '" + site + "', not '" + peer + "'");
    }
    ASSIGN_OR_RETURN(Ed25519PublicKey key, Ed25519FromSpki(cert.public_key_der()));
    // An expired certificate leaves the cache at the next clear.
    std::lock_guard<std::mutex> lock(mu_);
    if (known_keys_.size() >= kMaxKnownCertificates) known_keys_.clear();
    known_keys_.emplace(cert_b64, std::make_pair(peer, key));
    return key;
  }

  Env& env_;
  const Certificate ca_;
  Database& db_;
  std::atomic<uint64_t> inserts_{0};
  ReplayCache replay_;
  std::mutex mu_;
  // certificate (base64 DER) -> (partner, its key), for certificates already checked.
  std::map<std::string, std::pair<std::string, Ed25519PublicKey>> known_keys_;
};

PartnerRequestVerifier::PartnerRequestVerifier(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
PartnerRequestVerifier::~PartnerRequestVerifier() = default;

Result<std::unique_ptr<PartnerRequestVerifier>> PartnerRequestVerifier::Create(
    Env& env, const std::string& site_dir, Database& db) {
  RETURN_IF_ERROR(Migrate(db, "main_replay",
                          {{1,
                            "CREATE TABLE main_seen_nonces (key TEXT PRIMARY KEY, "
                            "expires INTEGER NOT NULL)"}}));
  ASSIGN_OR_RETURN(std::string ca_pem, env.ReadFile(CaCertPath(site_dir)));
  ASSIGN_OR_RETURN(Certificate ca, ParseCertificate(ca_pem));
  return std::unique_ptr<PartnerRequestVerifier>(
      new PartnerRequestVerifier(std::make_unique<Impl>(env, std::move(ca), db)));
}

Result<SignedPartnerRequest> PartnerRequestVerifier::Verify(const HttpRequest& request) {
  return impl_->Verify(request);
}

std::string SignedRequestsTableSql(std::string_view table, std::string_view more_columns) {
  const std::string t(table);
  return "\nCREATE TABLE " + t +
         " (\n  id INTEGER PRIMARY KEY,\n  at INTEGER NOT NULL,\n  partner TEXT NOT NULL,\n"
         "  nonce TEXT NOT NULL,\n  method TEXT NOT NULL,\n  target TEXT NOT NULL,\n" +
         std::string(more_columns) + "\n);\nCREATE INDEX " + t + "_partner ON " + t +
         "(partner, at);\n";
}

HttpResponse SyncJsonReply(int status, std::string body) {
  HttpResponse r(status);
  r.AddHeader("Content-Type", "application/json");
  r.AddHeader("Cache-Control", "no-store");
  r.SetBody(std::move(body));
  return r;
}

}  // namespace tieup
