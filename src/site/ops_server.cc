#include "site/ops_server.h"

#include <exception>
#include <string>

#include "net/http_message.h"
#include "net/http_server.h"
#include "net/router.h"

namespace tieup {
namespace {

HttpResponse NoStore(HttpResponse r) {
  r.AddHeader("Cache-Control", "no-store");
  r.area = "ops";
  return r;
}

class OpsHandler final : public HttpHandler {
 public:
  OpsHandler(Env& env, SiteMetrics& metrics, int64_t max_silence)
      : env_(env), metrics_(metrics), max_silence_(max_silence) {}

  void Handle(const HttpRequest& request, HttpResponder responder) override {
    const std::string_view path = request.path();
    if (path == "/metrics") {
      std::string text;
      try {
        text = metrics_.Scrape();
      } catch (const std::exception& e) {
        responder.Respond(NoStore(HttpResponse::Text(500, std::string("metrics: ") + e.what())));
        return;
      }
      HttpResponse r(200);
      r.AddHeader("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
      r.SetBody(std::move(text));
      responder.Respond(NoStore(std::move(r)));
    } else if (path == "/healthz") {
      Status live = metrics_.Liveness(env_.NowMicros(), max_silence_);
      responder.Respond(NoStore(live.ok() ? HttpResponse::Text(200, "ok\n")
                                          : HttpResponse::Text(503, live.message() + "\n")));
    } else if (path == "/readyz") {
      std::string lines;
      bool ready = true;
      for (const SiteMetrics::Check& c : metrics_.Readiness()) {
        if (c.status.ok()) {
          lines += "ok " + c.name + "\n";
        } else {
          ready = false;
          lines += "not ready " + c.name + ": " + c.status.message() + "\n";
        }
      }
      responder.Respond(NoStore(ready ? HttpResponse::Text(200, "ready\n" + lines)
                                      : HttpResponse::Text(503, lines)));
    } else {
      responder.Respond(NoStore(
          HttpResponse::Text(404, "not found: this port serves /metrics, /healthz and /readyz\n")));
    }
  }

  std::string_view AllowedMethods() const override { return "GET, HEAD"; }

 private:
  Env& env_;
  SiteMetrics& metrics_;
  const int64_t max_silence_;
};

}  // namespace

struct OpsServer::Impl {
  std::unique_ptr<HttpServer> http;
};

Result<std::unique_ptr<OpsServer>> OpsServer::Start(Env& env, SiteMetrics& metrics,
                                                    OpsServerOptions options,
                                                    std::shared_ptr<Logger> logger) {
  if (!IsLoopbackHost(options.address.host)) {
    return Status::InvalidArgument("the operations port must listen on a loopback address, not '" +
                                   options.address.host +
                                   "': its metrics show the site's traffic ([ops] listen)");
  }
  HttpServerOptions http;
  http.address = options.address.host == "localhost" ? "127.0.0.1" : options.address.host;
  http.port = options.address.port;
  http.threads = 1;
  http.max_body_bytes = 0;
  http.max_connections = 64;
  http.logger = logger;
  std::unique_ptr<OpsServer> server(new OpsServer());
  server->impl_ = std::make_unique<Impl>();
  server->impl_->http = std::make_unique<HttpServer>(
      env, http, std::make_shared<OpsHandler>(env, metrics, options.max_silence_micros));
  if (Status s = server->impl_->http->Start(); !s.ok()) {
    return s.Annotate("the operations port ([ops] listen = \"" + options.address.ToString() +
                      "\")");
  }
  return server;
}

OpsServer::~OpsServer() { Stop(); }

uint16_t OpsServer::port() const { return impl_->http->port(); }

void OpsServer::Stop() {
  if (impl_ && impl_->http) impl_->http->Stop();
}

}  // namespace tieup
