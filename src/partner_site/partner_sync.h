// A partner's side of the partnership channel: enrolling with main, and the receiver that
// verifies, fetches, stages and activates main's updates (or holds them for the manager).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/env.h"
#include "base/log.h"
#include "base/status.h"
#include "crypto/ed25519.h"
#include "net/http_message.h"
#include "site/config.h"
#include "site/site_content.h"
#include "site/sync_transport.h"
#include "store/database.h"
#include "sync/receiver.h"

namespace tieup {

// Enrolls the partner site at `site_dir` with main at `main_sync_url` using the enrollment
// `code` the main site manager handed over ("<token>.<CA fingerprint>"):
//  1. fetch main's CA certificate and compare it with the fingerprint in the code (refusing an
//     impostor before anything secret is sent);
//  2. make the site's key (never leaves the machine) and a certificate request;
//  3. over TLS that authenticates main, send the request with the token; receive the
//     certificate, the CA certificate and main's root signing key, and pin them.
// Writes keys/sync.key (0600), keys/sync.crt, keys/ca.crt, keys/root.pub, keys/root.json and
// sets main_sync_url in site.toml. `from_address` (an IP literal; empty: the system chooses) is
// the local address to connect from (HttpClientOptions::local_address).
Status EnrollWithMain(Env& env, const std::string& site_dir, const std::string& main_sync_url,
                      const std::string& code, const std::string& from_address = {});

// True iff the site has enrolled (has its sync certificate).
bool IsEnrolled(Env& env, const std::string& site_dir);

// Main's root signing key and root metadata envelope as pinned at enrollment (keys/root.pub,
// keys/root.json), for checking what main signs.
struct PinnedMainRoot {
  Ed25519PublicKey key;
  std::string envelope;
};
Result<PinnedMainRoot> LoadPinnedRoot(Env& env, const std::string& site_dir);

class PartnerSync {
 public:
  // `db` and `content` must outlive the object. `from_address`: the local address the calls to
  // main leave from (HttpClientOptions::local_address; empty: the system chooses).
  static Result<std::unique_ptr<PartnerSync>> Open(Env& env, const std::string& site_dir,
                                                   const SiteConfig& config, Database& db,
                                                   SiteContent& content,
                                                   std::shared_ptr<Logger> logger,
                                                   const std::string& from_address = {});
  ~PartnerSync();

  sync::Receiver& receiver() { return *receiver_; }

  // The sync port's server context: only main may connect.
  Result<TlsContextPtr> ServerContext();
  // Sends authenticated sync requests under `prefix` (exact, or a subtree when it ends in '/')
  // to `handler`, which sees the TLS-authenticated peer in request.peer_site_id(). For
  // services beyond page updates (ledger shipping, delegated orders). Before serving starts.
  using SyncRoute = std::function<HttpResponse(const HttpRequest&)>;
  void AddSyncRoute(std::string prefix, SyncRoute handler);

  // Handles one request from main on the sync port.
  HttpResponse HandleSyncRequest(const HttpRequest& request);

 private:
  PartnerSync() = default;
  std::unique_ptr<SyncIdentity> identity_;
  std::unique_ptr<sync::MainLink> link_;
  std::vector<std::pair<std::string, SyncRoute>> routes_;
  std::unique_ptr<sync::Receiver> receiver_;
};

}  // namespace tieup
