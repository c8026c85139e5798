#include "site/public_site.h"

#include "crypto/ed25519.h"
#include "ledger/checkpoint.h"
#include "ledger/records.h"

namespace tieup {
namespace {

// Writes one ContentRecord per area whose active release differs from `before` (every area
// with a release on the first load, so that content activated while the daemon was down, by
// `tieup partner page put`, is recorded at the next start): the fees' content amounts are
// read from the ledger. Pages are the HTML documents; bytes are every file of the area.
void RecordContentAmounts(Env& env, ledger::Log& log, Logger& logger,
                          const content::SiteView* before, const content::SiteView& after) {
  for (content::Area area : {content::Area::kTieup, content::Area::kOriginal}) {
    const uint64_t version = after.version(area);
    if (version == 0 || (before != nullptr && before->version(area) == version)) continue;
    ledger::ContentRecord r;
    r.time_micros = env.NowMicros();
    r.area =
        area == content::Area::kTieup ? ledger::RecordArea::kTieup : ledger::RecordArea::kOriginal;
    r.version = version;
    // Kept by the view as it is loaded: no walk over every file on each activation.
    const content::AreaTotals& totals = after.totals(area);
    r.bytes = totals.bytes;
    r.pages = totals.pages;
    auto appended = log.Append(ledger::EncodeRecord(r));
    if (!appended.ok()) {
      logger.warn("could not record the content of release {} in the ledger: {}", version,
                  appended.status().ToString());
    }
  }
}

}  // namespace

Status CreateSiteDir(Env& env, const std::string& site_dir, const SiteConfig& config) {
  SitePaths paths(site_dir);
  if (env.FileExists(paths.config())) {
    return Status::AlreadyExists("'" + site_dir +
                                 "' is already a tieup site (it has a site.toml); choose another "
                                 "directory or remove this one first");
  }
  if (!IsValidSiteId(config.id)) {
    return Status::InvalidArgument("site id '" + config.id +
                                   "' is not valid: use 1-63 lower-case letters, digits or '-'");
  }
  RETURN_IF_ERROR(CreateDirs(env, site_dir));
  // Owner-only even when the directory existed before (made by hand, say, under umask 022).
  RETURN_IF_ERROR(env.SetPermissions(site_dir, 0700));
  for (const std::string& d :
       {site_dir + "/blobs", site_dir + "/releases", paths.ledger(), paths.logs(), paths.keys()}) {
    RETURN_IF_ERROR(env.CreateDir(d));
  }
  RETURN_IF_ERROR(env.SetPermissions(paths.keys(), 0700));
  RETURN_IF_ERROR(
      SavePrivateKey(env, paths.keys() + "/site.key", Ed25519PrivateKey::Generate(env)));
  // site.toml last: its presence is what marks a finished site directory.
  return SaveSiteConfig(env, site_dir, config);
}

Result<std::unique_ptr<PublicSite>> PublicSite::Open(Env& env, const std::string& site_dir,
                                                     std::shared_ptr<Logger> logger,
                                                     PublicSiteOptions options) {
  std::unique_ptr<PublicSite> site(new PublicSite());
  site->site_dir_ = site_dir;
  site->options_ = options;
  site->logger_ = logger ? std::move(logger) : NewNullLogger();
  ASSIGN_OR_RETURN(site->config_, LoadSiteConfig(env, site_dir));
  SitePaths paths(site_dir);
  for (const std::string& open : FindSiteDataOpenToOthers(env, site_dir)) {
    site->logger_->warn(
        "site data is readable by other users of this machine: {}; it holds keys, password "
        "hashes and customers' addresses: run 'chmod -R go-rwx {}'",
        open, site_dir);
  }

  // The ledger first: the content's first load already records the content amounts in it.
  ASSIGN_OR_RETURN(site->ledger_, ledger::Log::Open(env, paths.ledger()));
  SiteContentOptions co;
  co.site_id = site->config_.id;
  co.keep_releases = static_cast<size_t>(site->config_.keep_releases);
  PublicSite* self = site.get();
  co.on_view_loaded = [self, &env](const content::SiteView* before,
                                   const content::SiteView& after) {
    RecordContentAmounts(env, *self->ledger_, *self->logger_, before, after);
    // The first load comes before the search exists: its Start indexes that view.
    if (self->search_) self->search_->ViewLoaded();
  };
  ASSIGN_OR_RETURN(site->content_, SiteContent::Open(env, site_dir, co));
  ASSIGN_OR_RETURN(Ed25519PrivateKey key, LoadPrivateKey(env, paths.keys() + "/site.key"));
  ASSIGN_OR_RETURN(ledger::NoteSigner signer,
                   ledger::NoteSigner::Create("tieup.ledger/" + site->config_.id, key));
  site->access_log_ = std::make_unique<ledger::AccessLogWriter>(
      env, *site->ledger_, std::move(signer), ledger::AccessLogWriterOptions{}, site->logger_);

  site->pages_ = std::make_unique<PageServer>(env, site->config_, *site->content_,
                                              site->access_log_.get(), site->logger_);
  site->env_ = &env;
  site->metrics_ = std::make_unique<SiteMetrics>(site->config_.id,
                                                 std::string(SiteRoleName(site->config_.role)));
  {
    SiteMetrics* metrics = site->metrics_.get();
    prometheus::Counter* blocked =
        &metrics
             ->AddCounterFamily("tieup_waf_blocked_total",
                                "Requests the web application firewall refused (403)")
             .Add({});
    RETURN_IF_ERROR(site->pages_->AddAccessObserver([metrics, blocked](const AccessEvent& e) {
      metrics->ObserveRequest("public", e);
      if (e.area == "waf" && e.status == 403) blocked->Increment();
    }));
    metrics->AddReadinessCheck("content", [self]() -> Status {
      // The pages served come from a loaded view of the content store (a partner's tie-up
      // pages may come later: it serves its own meanwhile).
      return self->content_->view() != nullptr
                 ? Status::Ok()
                 : Status::Unavailable("the site's content is not loaded yet");
    });
  }
  if (options.listen) {
    // The WAF in front of the port (its pages and every area mounted on it).
    auto gate = WafGate::Create(env, site_dir, site->config_, *site->content_, site->logger_);
    if (!gate.ok()) {
      return gate.status().Annotate("starting the web application firewall ([waf] in " +
                                    paths.config() + ")");
    }
    site->waf_ = *gate;
    RETURN_IF_ERROR(site->pages_->SetWaf(site->waf_));
    RETURN_IF_ERROR(site->OpenSearch());
  }
  return site;
}

PublicSite::~PublicSite() { Stop(); }

Status PublicSite::OpenSearch() {
  // A partner's search page wears main's layout (its tie-up release), as its shop pages do.
  const bool partner = config_.role == SiteRole::kPartner;
  content::PageSite layout;
  layout.view = [content = content_.get()] { return content->view(); };
  layout.area = partner ? content::Area::kTieup : content::Area::kOriginal;
  layout.site_name = config_.name.empty() ? config_.id : config_.name;
  layout.warn = [logger = logger_](const std::string& message) {
    logger->warn("search page: {}", message);
  };
  SiteSearchOptions options;
  const std::string language = SiteVariable(config_, "search.language");
  if (!language.empty()) options.language = language;
  auto search = SiteSearch::Open(*env_, site_dir_, *content_, access_log_.get(), logger_,
                                 std::move(layout), options);
  if (!search.ok()) {
    return search.status().Annotate("opening the site search (SITE_DIR/search; " +
                                    std::string("[variables] search.language in ") +
                                    SitePaths(site_dir_).config() + ")");
  }
  search_ = std::move(*search);
  if (partner) search_->SetResponseArea("tieup");
  return AddPublicRoute("/search", "GET, HEAD", search_->handler());
}

Status PublicSite::Start() {
  if (!options_.listen) return pages_->StartWithoutListening();
  Status s = pages_->Start();
  if (!s.ok()) {
    return s.Annotate("starting the public port " + config_.public_address.ToString() +
                      " (change 'public' in " + SitePaths(site_dir_).config() + ")");
  }
  // The index follows the served pages from now on (its first pass opens or builds it).
  if (search_) search_->Start();
  // Ready while each of the port's I/O threads takes work (a stuck handler holds its thread's
  // connections).
  metrics_->AddReadinessCheck("public-port", [this]() -> Status {
    return pages_->CheckResponsive(std::chrono::seconds(2));
  });
  if (!config_.ops_address.host.empty()) {
    OpsServerOptions o;
    o.address = config_.ops_address;
    auto ops = OpsServer::Start(*env_, *metrics_, o, logger_);
    if (ops.ok()) {
      ops_ = std::move(*ops);
      logger_->info("operations port: http://{}:{}/metrics, /healthz, /readyz",
                    config_.ops_address.host, ops_->port());
    } else {
      // The site serves without it; monitoring sees the port missing.
      logger_->error(
          "{}: the site serves without metrics; free the port or change [ops] listen "
          "in {}",
          ops.status().message(), SitePaths(site_dir_).config());
    }
  }
  return Status::Ok();
}

void PublicSite::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (ops_) ops_->Stop();
  if (pages_) pages_->Stop();
  if (search_) search_->Stop();
  if (access_log_) {
    Status f = access_log_->Flush();
    if (!f.ok()) logger_->warn("flushing the access ledger: {}", f.ToString());
    auto cp = access_log_->CheckpointNow();
    if (!cp.ok()) logger_->warn("signing a ledger checkpoint: {}", cp.status().ToString());
  }
}

}  // namespace tieup
