// The public port of a site: serves the active tie-up and original releases over HTTP,
// follows activations (polling the release pointers), and appends one access record per
// request to the site's ledger.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "base/env.h"
#include "base/log.h"
#include "base/status.h"
#include "ledger/access_log_writer.h"
#include "net/http_server.h"
#include "net/router.h"
#include "site/config.h"
#include "site/site_content.h"

namespace tieup {

struct PageServerOptions {
  // How often the release pointers are checked for an activation by another process.
  std::chrono::milliseconds reload_interval{500};
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

  // Binds the public address and starts serving; a clear error when the address is taken.
  Status Start();
  uint16_t port() const { return server_ ? server_->port() : 0; }
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
  std::unique_ptr<HttpServer> server_;
  std::atomic<bool> stopping_{false};
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  std::thread reload_thread_;
};

}  // namespace tieup
