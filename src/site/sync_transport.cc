#include "site/sync_transport.h"

#include <charconv>

namespace tieup {

std::string SyncEndpoint::ToUrl() const {
  if (host.find(':') != std::string::npos) return "https://[" + host + "]:" + std::to_string(port);
  return "https://" + host + ":" + std::to_string(port);
}

Result<SyncEndpoint> ParseSyncUrl(std::string_view url) {
  const std::string hint = " (write https://HOST:PORT, e.g. https://127.0.0.1:9080)";
  constexpr std::string_view kScheme = "https://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return Status::InvalidArgument("sync URL '" + std::string(url) + "' must start with https://" +
                                   hint);
  }
  std::string_view rest = url.substr(kScheme.size());
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  SyncEndpoint e;
  std::string_view port_text;
  if (!rest.empty() && rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      return Status::InvalidArgument("sync URL '" + std::string(url) + "' is malformed" + hint);
    }
    e.host = std::string(rest.substr(1, close - 1));
    port_text = rest.substr(close + 2);
  } else {
    size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || rest.find('/') != std::string_view::npos) {
      return Status::InvalidArgument("sync URL '" + std::string(url) + "' needs a port" + hint);
    }
    e.host = std::string(rest.substr(0, colon));
    port_text = rest.substr(colon + 1);
  }
  unsigned port = 0;
  auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || p != port_text.data() + port_text.size() || port == 0 || port > 65535) {
    return Status::InvalidArgument("sync URL '" + std::string(url) + "' has a bad port" + hint);
  }
  e.port = static_cast<uint16_t>(port);
  return e;
}

std::string SyncKeyPath(const std::string& site_dir) { return site_dir + "/keys/sync.key"; }
std::string SyncCertPath(const std::string& site_dir) { return site_dir + "/keys/sync.crt"; }
std::string CaCertPath(const std::string& site_dir) { return site_dir + "/keys/ca.crt"; }

Result<SyncIdentity> LoadSyncIdentity(Env& env, const std::string& site_dir) {
  if (!env.FileExists(SyncCertPath(site_dir))) {
    return Status::NotFound("'" + site_dir +
                            "' has no sync certificate yet: enroll it with main first ('tieup "
                            "partner enroll DIR --main URL --token CODE')");
  }
  ASSIGN_OR_RETURN(CertificateKey key, LoadCertificateKey(env, SyncKeyPath(site_dir)));
  ASSIGN_OR_RETURN(std::string cert_pem, env.ReadFile(SyncCertPath(site_dir)));
  ASSIGN_OR_RETURN(Certificate cert, ParseCertificate(cert_pem));
  ASSIGN_OR_RETURN(std::string ca_pem, env.ReadFile(CaCertPath(site_dir)));
  ASSIGN_OR_RETURN(Certificate ca, ParseCertificate(ca_pem));
  return SyncIdentity{std::move(key), std::move(cert), std::move(ca)};
}

sync::HttpRoundTrip TlsRoundTrip(SyncEndpoint endpoint, TlsContextPtr client_context,
                                 std::string peer_site_id, HttpClientOptions options) {
  options.tls = std::move(client_context);
  options.expected_peer_site_id = std::move(peer_site_id);
  return [endpoint = std::move(endpoint),
          options](const HttpRequest& request) -> Result<HttpResponse> {
    HttpRequest copy = request;
    return HttpFetch(endpoint.host, endpoint.port, copy, options);
  };
}

sync::HttpRoundTrip KeptAliveTlsRoundTrip(const SyncEndpoint& endpoint,
                                          TlsContextPtr client_context, std::string peer_site_id,
                                          HttpClientOptions options) {
  options.tls = std::move(client_context);
  options.expected_peer_site_id = std::move(peer_site_id);
  HttpClientPoolOptions keep;
  keep.max_idle_connections = 4;
  keep.max_idle = kSyncIdleTimeout - std::chrono::seconds(2);
  auto pool = std::make_shared<HttpClientPool>(endpoint.host, endpoint.port, std::move(options),
                                               std::move(keep));
  return [pool](const HttpRequest& request) -> Result<HttpResponse> {
    return pool->FetchOnceMoreIfStale(request);
  };
}

namespace {

class PooledHandler final : public HttpHandler {
 public:
  PooledHandler(WorkerPool& pool, SyncServer::Handler handler)
      : pool_(pool), handler_(std::move(handler)) {}
  void Handle(const HttpRequest& request, HttpResponder responder) override {
    // The request stays valid until the responder is used.
    auto shared = std::make_shared<HttpResponder>(std::move(responder));
    const HttpRequest* req = &request;
    bool queued = pool_.Submit([this, req, shared] { shared->Respond(handler_(*req)); });
    if (!queued) {
      shared->Respond(sync::ErrorResponse(Status::Unavailable("the site is shutting down")));
    }
  }
  std::string_view AllowedMethods() const override { return "GET, POST"; }

 private:
  WorkerPool& pool_;
  SyncServer::Handler handler_;
};

}  // namespace

SyncServer::SyncServer(Env& env, HostPort address, TlsContextPtr tls, Handler handler,
                       std::shared_ptr<Logger> logger, size_t workers)
    : pool_(std::make_unique<WorkerPool>(workers)), address_(std::move(address)) {
  HttpServerOptions o;
  o.address = address_.host;
  o.port = address_.port;
  o.threads = 2;
  o.tls = std::move(tls);
  o.max_body_bytes = 64ull << 20;  // release metadata of a large site
  // One address must not take the port from the others: a partner needs a few connections;
  // anonymous clients (enrolling partners) get short deadlines and a request rate.
  o.max_connections_per_client = 128;
  o.requests_per_second_per_client = 10;
  o.request_burst_per_client = 40;
  o.unauthenticated_timeout = std::chrono::seconds(5);
  o.idle_timeout = kSyncIdleTimeout;
  o.logger = std::move(logger);
  o.server_name = "";
  server_ = std::make_unique<HttpServer>(
      env, std::move(o), std::make_shared<PooledHandler>(*pool_, std::move(handler)));
}

SyncServer::~SyncServer() { Stop(); }

Status SyncServer::Start() {
  Status s = server_->Start();
  if (!s.ok()) {
    return s.Annotate("starting the sync port " + address_.ToString() +
                      " (change 'sync' in site.toml)");
  }
  return Status::Ok();
}

uint16_t SyncServer::port() const { return server_->port(); }

int SyncServer::DisconnectPeers(
    const std::function<bool(std::string_view, std::string_view)>& should_close) {
  return server_->DisconnectPeers(should_close);
}

void SyncServer::Stop() {
  if (server_) server_->Stop();
  pool_.reset();  // finishes queued work
}

}  // namespace tieup
