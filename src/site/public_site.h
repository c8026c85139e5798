// What every tieup daemon runs: the site's content (SiteContent), its access ledger (an
// append-only Merkle log with group commit and signed checkpoints) and the public HTTP port.
// main_site and partner_site each add their sync side around it.
#pragma once

#include <memory>
#include <string>

#include "base/env.h"
#include "base/log.h"
#include "base/status.h"
#include "ledger/access_log_writer.h"
#include "ledger/log.h"
#include "site/browser_headers.h"
#include "site/config.h"
#include "site/ops_server.h"
#include "site/page_server.h"
#include "site/site_content.h"
#include "site/site_metrics.h"
#include "site/site_search.h"

namespace tieup {

// Creates SITE_DIR with its folders (keys/ mode 0700), `config` as site.toml and the site's
// Ed25519 signing key (keys/site.key, 0600: ledger checkpoints). Refuses a directory that is
// already a site, naming it.
Status CreateSiteDir(Env& env, const std::string& site_dir, const SiteConfig& config);

struct PublicSiteOptions {
  // False: the site has no public port of its own; its pages are mounted on another site's
  // (PageServer::handler(); a partner's further main, site/main_areas.h).
  bool listen = true;
};

class PublicSite {
 public:
  // Opens the site at `site_dir` (reads site.toml, opens the content store and the ledger).
  static Result<std::unique_ptr<PublicSite>> Open(Env& env, const std::string& site_dir,
                                                  std::shared_ptr<Logger> logger,
                                                  PublicSiteOptions options = {});
  ~PublicSite();

  // Routes public requests under `prefix` to `handler` (before Start); see PageServer. These are
  // pages the site makes for a person (shop, account, previews): every answer gets the browser
  // security headers of site/browser_headers.h unless the handler set them itself.
  Status AddPublicRoute(std::string_view prefix, std::string_view methods,
                        std::shared_ptr<HttpHandler> handler) {
    return pages_->AddRoute(prefix, methods, WithBrowserSecurityHeaders(std::move(handler)));
  }

  // Serves another site's pages on this site's port (PageServer::Mount). Before Start.
  Status Mount(PageMount mount) { return pages_->Mount(std::move(mount)); }
  // Clears the display-name cookie of requests whose session ended (PageServer::
  // SetSignedInCheck). Before Start.
  Status SetSignedInCheck(std::function<bool(const HttpRequest& request)> signed_in, bool https) {
    return pages_->SetSignedInCheck(std::move(signed_in), https);
  }
  // Names signed-in visitors in the access records (PageServer::SetVisitor). Before Start.
  Status SetVisitor(std::string cookie_name,
                    std::function<std::string(const HttpRequest& request)> visitor) {
    return pages_->SetVisitor(std::move(cookie_name), std::move(visitor));
  }
  // The daemon's metrics (every response of the public port is counted there); the operations
  // port, when [ops] listen is set and the site has a port of its own, starts with Start().
  SiteMetrics& metrics() { return *metrics_; }
  // The operations port's; 0 when it does not run.
  uint16_t ops_port() const { return ops_ ? ops_->port() : 0; }

  // What serves this site's pages and routes, for another site's Mount.
  std::shared_ptr<HttpHandler> handler() const { return pages_->handler(); }

  // Starts the public port (without options.listen: only follows activations). Errors name the
  // address and what to do.
  Status Start();
  // Stops the port gracefully, then flushes the access ledger and signs a checkpoint.
  void Stop();

  uint16_t public_port() const { return pages_->port(); }
  const SiteConfig& config() const { return config_; }
  SiteContent& content() { return *content_; }
  ledger::Log& ledger() { return *ledger_; }
  ledger::AccessLogWriter& access_log() { return *access_log_; }
  const std::string& site_dir() const { return site_dir_; }
  // The WAF in front of the public port; null without a port of its own (options.listen).
  WafGate* waf() { return waf_.get(); }
  // The site's search (/search; site/site_search.h); null without a port of its own. The daemon
  // gives it the catalog (SiteSearch::SetCatalog) before Start.
  SiteSearch* search() { return search_.get(); }

 private:
  PublicSite() = default;
  // Opens the site search and routes /search to it (sites with a port of their own).
  Status OpenSearch();
  std::string site_dir_;
  SiteConfig config_;
  std::shared_ptr<Logger> logger_;
  std::unique_ptr<SiteContent> content_;
  std::unique_ptr<ledger::Log> ledger_;
  std::unique_ptr<ledger::AccessLogWriter> access_log_;
  std::unique_ptr<PageServer> pages_;
  std::unique_ptr<SiteMetrics> metrics_;
  std::unique_ptr<OpsServer> ops_;
  Env* env_ = nullptr;
  std::shared_ptr<WafGate> waf_;
  std::unique_ptr<SiteSearch> search_;
  PublicSiteOptions options_;
  bool stopped_ = false;
};

}  // namespace tieup
