// Main's side of the partnership channel: its trust material (the partnership CA, the root and
// release signing keys, the signed root metadata), enrollment of partners, revocation, and the
// publisher that keeps every partner's tie-up pages up to date.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/env.h"
#include "base/log.h"
#include "base/status.h"
#include "content/blob_store.h"
#include "crypto/x509.h"
#include "main_site/catalog_pages.h"
#include "net/client_limits.h"
#include "net/http_message.h"
#include "site/config.h"
#include "site/sync_transport.h"
#include "store/database.h"
#include "sync/publisher.h"
#include "trust/enrollment.h"
#include "trust/tls.h"

namespace tieup {

// Creates main's trust material in SITE_DIR/keys (private keys 0600): the partnership CA,
// main's own sync certificate, the root key, the release key and the root metadata signed by
// the root key. Refuses to overwrite existing keys.
Status InitMainTrust(Env& env, const std::string& site_dir, const std::string& site_name);

// What a partner manager needs to enroll: printed once by `tieup main partner add`.
struct EnrollmentCode {
  std::string code;            // "<token>.<CA fingerprint>": both halves are needed
  std::string ca_fingerprint;  // hex SHA-256 of the partnership CA certificate
  int64_t expires = 0;
};

class MainSync {
 public:
  // Opens main's sync side for the site at `site_dir` (a main site). `db` must outlive it.
  static Result<std::unique_ptr<MainSync>> Open(Env& env, const std::string& site_dir,
                                                const SiteConfig& config, Database& db,
                                                std::shared_ptr<Logger> logger);
  ~MainSync();

  sync::Publisher& publisher() { return *publisher_; }
  // The rendered files of the partners' releases (what they fetch; keyed by SHA-256).
  content::BlobStore& partner_blobs() { return *partner_blobs_; }
  // Main's catalog as pages show it (main_site/catalog_pages.h): what main's own pages and
  // every partner's release are built with.
  CatalogPages& catalog() { return *catalog_; }

  // Adds a partnership and issues its one-time enrollment code (valid `ttl_seconds`).
  Result<EnrollmentCode> AddPartner(const sync::Partnership& partnership, int64_t ttl_seconds);
  // Issues a new enrollment code for an existing partnership (the old one stops working).
  Result<EnrollmentCode> NewEnrollmentCode(const std::string& partner_id, int64_t ttl_seconds);
  // Revokes a partner: its certificate is refused at the next handshake, no more updates.
  Status Revoke(const std::string& partner_id);

  // True iff `partner_id` is an active (not revoked) partnership and `fingerprint` names the
  // newest certificate issued to it (a re-enrollment supersedes the older one). Checked at each
  // handshake and again on every request; the daemon also closes the connections of peers that
  // fall out of standing. Thread-safe.
  bool InGoodStanding(std::string_view partner_id, std::string_view fingerprint);

  // The sync port's TLS server context: any enrolled, non-revoked partner, plus anonymous
  // clients (they may only enroll).
  Result<TlsContextPtr> ServerContext();

  // Sends authenticated sync requests under `prefix` (exact, or a subtree when it ends in '/')
  // to `handler`, which sees the TLS-authenticated peer in request.peer_site_id(). For
  // services beyond page updates (ledger shipping, delegated orders). Before serving starts.
  using SyncRoute = std::function<HttpResponse(const HttpRequest&)>;
  void AddSyncRoute(std::string prefix, SyncRoute handler);
  // As AddSyncRoute, for an exact `path` that clients WITHOUT a certificate may call too (rate
  // limited per address like enrollment): only for answers that are public by nature, such as
  // the signed withdrawal notice of a revoked partner (main_site/withdrawals.h). Before serving.
  void AddAnonymousSyncRoute(std::string path, SyncRoute handler);
  // A round trip to `partner_id`'s sync port (mutual TLS, the peer must be that partner), as the
  // publisher uses it. FailedPrecondition for a pull-mode partner (no sync URL). `request_timeout`
  // defaults to the 10 minutes an offer may take; short messages pass less (connecting is given
  // at most 5 s, and no more than `request_timeout`).
  Result<sync::HttpRoundTrip> ConnectToPartner(
      const std::string& partner_id,
      std::chrono::milliseconds request_timeout = std::chrono::minutes(10));

  // Handles one request on the sync port. `request.peer_site_id()` is the TLS-authenticated
  // partner, empty for an anonymous (enrolling) client.
  HttpResponse HandleSyncRequest(const HttpRequest& request);

 private:
  MainSync(Env& env, std::string site_dir, SiteConfig config, Database& db,
           std::shared_ptr<Logger> logger);
  HttpResponse HandleEnroll(const HttpRequest& request);
  bool IsAccepted(std::string_view partner_id);
  bool IsRevoked(std::string_view partner_id, std::string_view fingerprint);

  Env& env_;
  const std::string site_dir_;
  const SiteConfig config_;
  Database& db_;
  std::shared_ptr<Logger> logger_;
  std::unique_ptr<CertificateAuthority> ca_;
  std::unique_ptr<SyncIdentity> identity_;
  std::string root_public_key_;  // raw 32 bytes
  std::string root_envelope_;
  std::unique_ptr<content::BlobStore> partner_blobs_;
  std::unique_ptr<TokenStore> token_store_;
  std::unique_ptr<EnrollmentTokens> tokens_;
  TlsContextPtr client_context_;
  std::unique_ptr<sync::PartnerLink> link_;
  std::vector<std::pair<std::string, SyncRoute>> routes_;
  std::vector<std::pair<std::string, SyncRoute>> anonymous_routes_;
  std::shared_ptr<CatalogPages> catalog_;
  std::unique_ptr<sync::Publisher> publisher_;
  // /v1/ca and /v1/enroll, per client address.
  std::unique_ptr<ClientLimiter> enroll_limiter_;
};

}  // namespace tieup
