// The public port of a site: serves the active tie-up and original releases over HTTP,
// follows activations (polling the release pointers), and appends one access record per
// request to the site's ledger.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "base/env.h"
#include "base/log.h"
#include "base/status.h"
#include "ledger/access_log_writer.h"
#include "net/http_server.h"
#include "net/router.h"
#include "site/config.h"
#include "site/site_content.h"
#include "site/waf_gate.h"

namespace tieup {

struct PageServerOptions {
  // How often the release pointers are checked for an activation by another process.
  std::chrono::milliseconds reload_interval{500};
};

// Pages of another content store served on this port: a further main's tie-up area
// (site/main_areas.h). Requests for `host` go to `handler` (another PageServer's handler()) as
// they are. Requests under `prefix` go to it with the prefix taken off ("/kyoto/x.html" asks for
// "/x.html"; "/kyoto" is redirected to "/kyoto/"), and its responses come back under the prefix:
// the links of HTML pages (site/html_links.h), a redirect's Location and a cookie's Path. Their
// access records (with the path as requested) go to `access_log` (that main's stream).
struct PageMount {
  std::string prefix;  // "/brand2/" (also matches "/brand2"); empty when `host` is set
  std::string host;    // "brand2.shop.example": the Host header without port, any case
  std::shared_ptr<HttpHandler> handler;
  ledger::AccessLogWriter* access_log = nullptr;  // may be null: no records
};

class PageServer {
 public:
  // `content` and `access_log` (may be null: no records) must outlive the server.
  PageServer(Env& env, const SiteConfig& config, SiteContent& content,
             ledger::AccessLogWriter* access_log, std::shared_ptr<Logger> logger,
             PageServerOptions options = {});
  ~PageServer();
  PageServer(const PageServer&) = delete;
  PageServer& operator=(const PageServer&) = delete;

  // Routes requests under `prefix` (net/router.h rules) to `handler` instead of the static
  // pages: the shop's dynamic paths, say. Only before Start().
  Status AddRoute(std::string_view prefix, std::string_view methods,
                  std::shared_ptr<HttpHandler> handler);

  // Serves `mount` on this port (a host mount before a prefix mount; either before the routes
  // and pages of this server). Only before Start().
  Status Mount(PageMount mount);

  // What serves this server's routes and pages, to mount them on another server's port.
  std::shared_ptr<HttpHandler> handler() const { return router_; }

  // Decides who is named in the access records (the user logs main keeps): for a request whose
  // Cookie header holds `cookie_name`, `visitor` returns the user id to record, "" for none; a
  // request with other cookies names no one, whatever its handler set in HttpResponse::user
  // (a request without cookies is left to its handler). Called on the I/O thread before the
  // request is handled: it must be quick and thread-safe. Only before Start().
  Status SetVisitor(std::string cookie_name,
                    std::function<std::string(const HttpRequest& request)> visitor);
  // `observer` hears every response of the port (with the access records; the metrics). Cheap
  // and non-blocking, on the I/O threads. Only before Start().
  Status AddAccessObserver(std::function<void(const AccessEvent&)> observer);

  // Keeps the pages' "Signed in as NAME" true: a request carrying the display-name cookie
  // (content::kCustomerCookie, which static pages' script shows) for which `signed_in` says no
  // session is valid (ended at sign-out elsewhere, disabled, timed out) gets it cleared in its
  // response (Max-Age=0; Secure when `https`), unless the response sets it afresh. Called on the
  // I/O thread: quick and thread-safe. Only before Start().
  Status SetSignedInCheck(std::function<bool(const HttpRequest& request)> signed_in, bool https);

  // Puts `gate` in front of everything this port serves (mounts included): each request is
  // inspected before any handler; the gate follows each activation (WafGate::Follow). Only
  // before Start().
  Status SetWaf(std::shared_ptr<WafGate> gate);

  // Binds the public address and starts serving; a clear error when the address is taken.
  Status Start();
  // Follows activations like Start, without a port of its own: the pages are served through
  // handler() mounted on another server.
  Status StartWithoutListening();
  uint16_t port() const { return server_ ? server_->port() : 0; }
  // HttpServer::CheckResponsive of the port; Unavailable before Start.
  Status CheckResponsive(std::chrono::milliseconds within) const {
    return server_ ? server_->CheckResponsive(within)
                   : Status::Unavailable("the public port is not listening");
  }
  // Stops gracefully: in-flight responses finish, then the reload thread ends.
  void Stop();

 private:
  void ReloadLoop();

  Env& env_;
  SiteContent& content_;
  std::shared_ptr<Logger> logger_;
  PageServerOptions options_;
  HttpServerOptions http_;
  std::shared_ptr<Router> router_;
  std::vector<PageMount> mounts_;
  std::string visitor_cookie_;
  std::function<std::string(const HttpRequest&)> visitor_;
  std::function<bool(const HttpRequest&)> signed_in_;
  bool signed_in_https_ = false;
  std::shared_ptr<WafGate> waf_;
  std::vector<std::function<void(const AccessEvent&)>> observers_;
  std::unique_ptr<HttpServer> server_;
  std::atomic<bool> stopping_{false};
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  std::thread reload_thread_;
};

}  // namespace tieup
