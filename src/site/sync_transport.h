// The sync channel's transport, shared by both daemons and the command line: sync URLs, the
// site's TLS identity on disk, and HTTP round trips over mutual TLS.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "base/env.h"
#include "base/log.h"
#include "base/status.h"
#include "base/worker_pool.h"
#include "crypto/x509.h"
#include "net/http_client.h"
#include "net/http_client_pool.h"
#include "net/http_server.h"
#include "site/config.h"
#include "sync/http_api.h"
#include "trust/tls.h"

namespace tieup {

// "https://127.0.0.1:9080" -> host and port. Only https: the sync channel is always TLS.
struct SyncEndpoint {
  std::string host;
  uint16_t port = 0;
  std::string ToUrl() const;
};
Result<SyncEndpoint> ParseSyncUrl(std::string_view url);

// A site's identity on the sync channel (SITE_DIR/keys/): its key and certificate from the
// partnership CA, and the CA certificate it trusts.
struct SyncIdentity {
  CertificateKey key;
  Certificate certificate;
  Certificate ca;
};
// Paths of the identity files.
std::string SyncKeyPath(const std::string& site_dir);
std::string SyncCertPath(const std::string& site_dir);
std::string CaCertPath(const std::string& site_dir);
// Loads the identity; NotFound with "enroll first" advice when a file is missing.
Result<SyncIdentity> LoadSyncIdentity(Env& env, const std::string& site_dir);

// One request/response over mutual TLS to `endpoint`, whose certificate must name
// `peer_site_id`. Each call uses a fresh connection (the handshake re-checks revocation).
// Transport failures are kUnavailable with the address in the message; any HTTP status is a
// response.
sync::HttpRoundTrip TlsRoundTrip(SyncEndpoint endpoint, TlsContextPtr client_context,
                                 std::string peer_site_id, HttpClientOptions options = {});

// The sync port closes a connection idle this long (SyncServer): a main with thousands of
// partners does not hold a connection per partner between their updates.
inline constexpr std::chrono::milliseconds kSyncIdleTimeout{5'000};

// Like TlsRoundTrip, but on connections kept alive between calls (HttpClientPool), for a
// partner's calls to main: the fetches, answer and events of an update, and the batches of a
// ledger push, then share one TLS handshake instead of one each. A connection unused for 3 s is
// not reused (the server closes it at kSyncIdleTimeout). Main checks the partner's standing on
// every request, not only at the handshake (MainSync::HandleSyncRequest). A call that finds its
// kept connection closed by the server before any answer is sent once more on a new connection
// (nothing was processed). Copies of the returned function share the connections.
sync::HttpRoundTrip KeptAliveTlsRoundTrip(const SyncEndpoint& endpoint,
                                          TlsContextPtr client_context, std::string peer_site_id,
                                          HttpClientOptions options = {});

// The sync port: HTTPS with mutual TLS. Requests are handled on a worker pool, never on the
// I/O threads, because sync handlers block (an offer fetches blobs from main; an approval
// commands activation at the partner).
class SyncServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;
  SyncServer(Env& env, HostPort address, TlsContextPtr tls, Handler handler,
             std::shared_ptr<Logger> logger, size_t workers = 8);
  ~SyncServer();
  // Binds the sync address; the error names it and what to change.
  Status Start();
  uint16_t port() const;
  void Stop();
  // HttpServer::DisconnectPeers: closes the connections of the peers `should_close` picks (by
  // site id and certificate fingerprint). From a controlling thread.
  int DisconnectPeers(const std::function<bool(std::string_view site_id,
                                               std::string_view fingerprint)>& should_close);

 private:
  std::unique_ptr<WorkerPool> pool_;
  std::unique_ptr<HttpServer> server_;
  HostPort address_;
};

}  // namespace tieup
