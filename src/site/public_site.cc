#include "site/public_site.h"

#include "crypto/ed25519.h"
#include "ledger/checkpoint.h"

namespace tieup {

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
                                                     std::shared_ptr<Logger> logger) {
  std::unique_ptr<PublicSite> site(new PublicSite());
  site->site_dir_ = site_dir;
  site->logger_ = logger ? std::move(logger) : NewNullLogger();
  ASSIGN_OR_RETURN(site->config_, LoadSiteConfig(env, site_dir));
  SitePaths paths(site_dir);

  SiteContentOptions co;
  co.site_id = site->config_.id;
  co.keep_releases = static_cast<size_t>(site->config_.keep_releases);
  ASSIGN_OR_RETURN(site->content_, SiteContent::Open(env, site_dir, co));

  ASSIGN_OR_RETURN(site->ledger_, ledger::Log::Open(env, paths.ledger()));
  ASSIGN_OR_RETURN(Ed25519PrivateKey key, LoadPrivateKey(env, paths.keys() + "/site.key"));
  ASSIGN_OR_RETURN(ledger::NoteSigner signer,
                   ledger::NoteSigner::Create("tieup.ledger/" + site->config_.id, key));
  site->access_log_ = std::make_unique<ledger::AccessLogWriter>(
      env, *site->ledger_, std::move(signer), ledger::AccessLogWriterOptions{}, site->logger_);

  site->pages_ = std::make_unique<PageServer>(env, site->config_, *site->content_,
                                              site->access_log_.get(), site->logger_);
  return site;
}

PublicSite::~PublicSite() { Stop(); }

Status PublicSite::Start() {
  Status s = pages_->Start();
  if (!s.ok()) {
    return s.Annotate("starting the public port " + config_.public_address.ToString() +
                      " (change 'public' in " + SitePaths(site_dir_).config() + ")");
  }
  return Status::Ok();
}

void PublicSite::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (pages_) pages_->Stop();
  if (access_log_) {
    Status f = access_log_->Flush();
    if (!f.ok()) logger_->warn("flushing the access ledger: {}", f.ToString());
    auto cp = access_log_->CheckpointNow();
    if (!cp.ok()) logger_->warn("signing a ledger checkpoint: {}", cp.status().ToString());
  }
}

}  // namespace tieup
