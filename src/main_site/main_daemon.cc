#include "main_site/main_daemon.h"

#include "main_site/own_site.h"
#include "main_site/services.h"
#include "site/site_store.h"

namespace tieup {

Result<std::unique_ptr<MainDaemon>> MainDaemon::Open(Env& env, const std::string& site_dir,
                                                     std::shared_ptr<Logger> logger,
                                                     MainDaemonOptions options) {
  std::unique_ptr<MainDaemon> d(new MainDaemon());
  d->env_ = &env;
  d->logger_ = logger ? logger : NewNullLogger();
  d->options_ = options;
  ASSIGN_OR_RETURN(d->site_, PublicSite::Open(env, site_dir, d->logger_));
  if (d->site_->config().role != SiteRole::kMain) {
    return Status::FailedPrecondition("'" + site_dir +
                                      "' is a partner site: run 'tieup partner serve'");
  }
  ASSIGN_OR_RETURN(d->db_, OpenSiteDatabase(d->site_->config(), site_dir));
  ASSIGN_OR_RETURN(d->sync_,
                   MainSync::Open(env, site_dir, d->site_->config(), *d->db_, d->logger_));
  ASSIGN_OR_RETURN(TlsContextPtr tls, d->sync_->ServerContext());
  MainSync* sync = d->sync_.get();
  d->sync_server_ = std::make_unique<SyncServer>(
      env, d->site_->config().sync_address, std::move(tls),
      [sync](const HttpRequest& r) { return sync->HandleSyncRequest(r); }, d->logger_);
  auto setting = d->site_->config().variables.find("shop.catalog_publish");
  if (setting != d->site_->config().variables.end() && !setting->second.empty()) {
    if (setting->second != "partners" && setting->second != "main" && setting->second != "off") {
      return Status::InvalidArgument(
          "site.toml [variables] shop.catalog_publish = '" + setting->second +
          "': use \"partners\" (a catalog change publishes main's pages and every partner's), "
          "\"main\" (main's pages; partners on their schedules) or \"off\"");
    }
    d->catalog_publish_ = setting->second;
  }
  SiteMetrics& metrics = d->site_->metrics();
  d->publish_runs_ = &metrics.AddCounterFamily(
      "tieup_publish_runs_total",
      "Publish runs: trigger manager (the command line or the console) or schedule");
  d->publish_outcomes_ = &metrics.AddCounterFamily(
      "tieup_publish_partner_outcomes_total",
      "Each partner's outcome in a publish run (activated, pending_approval, failed, ...)");
  RETURN_IF_ERROR(AttachMainServices(*d));
  return d;
}

void MainDaemon::CountPublishOutcome(const std::string& state) {
  publish_outcomes_->Add({{"state", state}}).Increment();
}

MainDaemon::~MainDaemon() { Stop(); }

void MainDaemon::AddPeriodicTask(std::string name, std::function<void()> task, TaskScope scope) {
  tasks_.push_back({std::move(name), std::move(task), scope});
}

bool MainDaemon::RunLeased(const std::string& name, const std::function<void()>& task) {
  const std::string lease = "task:" + name;
  auto taken = TryLockName(*db_, lease);
  if (!taken.ok()) {
    logger_->warn("periodic task '{}' skipped: its lease could not be taken: {}", name,
                  taken.status().message());
    return false;
  }
  if (!*taken) return false;  // another process runs it now
  task();
  Status released = UnlockName(*db_, lease);
  if (!released.ok()) {
    logger_->warn("periodic task '{}': releasing its lease: {}", name, released.message());
  }
  return true;
}

void MainDaemon::AddServer(std::function<Status()> start, std::function<void()> stop) {
  servers_.emplace_back(std::move(start), std::move(stop));
}

Status MainDaemon::Publish(const PublishRequest& request, PublishOutput& output) {
  std::lock_guard<std::mutex> sources_lock(sources_mu_);
  publish_runs_->Add({{"trigger", "manager"}}).Increment();
  PublishOutput counted = output;
  counted.progress = [this, &output](const sync::PublishProgress& step) {
    if (step.done) CountPublishOutcome(step.stage);
    if (output.progress) output.progress(step);
  };
  return RunPublish(*env_, site_->config(), site_->content(), sync_->publisher(), request, counted,
                    &publish_sources_);
}

Status MainDaemon::Start() {
  RETURN_IF_ERROR(site_->Start());
  RETURN_IF_ERROR(sync_server_->Start());
  // `tieup main publish` runs here, on the served content (activating main's own release there
  // is what makes this daemon serve it) and the publisher the scheduler uses.
  auto control = ControlServer::Start(
      *env_, site_->site_dir(),
      [this](const PublishRequest& request, PublishOutput& output) {
        return Publish(request, output);
      },
      logger_, options_.control);
  if (control.ok()) {
    control_ = std::move(*control);
  } else if (control.status().code() == StatusCode::kFailedPrecondition) {
    return control.status();
  } else {
    logger_->warn("no control socket ({}): 'tieup main publish' will run in its own process",
                  control.status().message());
  }
  for (auto& [start, stop] : servers_) RETURN_IF_ERROR(start());
  scheduler_ = std::thread([this] { SchedulerLoop(); });
  // A restarted daemon would otherwise read every source and every partner's newest release in
  // its first publish.
  warmup_ = std::thread([this] {
    const int64_t start = env_->NowMicros();
    std::lock_guard<std::mutex> sources_lock(sources_mu_);
    publish_sources_.NewRun();
    Status ready = sync_->publisher().Prepare(&publish_sources_);
    if (ready.ok()) {
      logger_->info("ready to publish: sources and partner releases read in {} ms",
                    (env_->NowMicros() - start) / 1000);
    } else {
      logger_->warn("reading sources and partner releases ahead of the first publish failed: {}",
                    ready.message());
    }
  });
  return Status::Ok();
}

void MainDaemon::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto it = servers_.rbegin(); it != servers_.rend(); ++it) it->second();
  if (control_) control_->Stop();
  if (scheduler_.joinable()) scheduler_.join();
  if (warmup_.joinable()) warmup_.join();
  if (sync_server_) sync_server_->Stop();
  if (site_) site_->Stop();
}

void MainDaemon::DisconnectPeersOutOfStanding() {
  // A revocation may come from another process (`tieup main partner revoke` writes the store):
  // every request is checked anyway, and this closes what such a partner still holds open.
  int closed = sync_server_->DisconnectPeers(
      [this](std::string_view id, std::string_view fp) { return !sync_->InGoodStanding(id, fp); });
  if (closed > 0) {
    logger_->warn("closed {} sync connection(s) of revoked or superseded partner certificates",
                  closed);
  }
}

void MainDaemon::PublishCatalogChanges() {
  if (catalog_publish_ == "off") return;
  auto products = sync_->catalog().Read();
  if (!products.ok()) {
    logger_->warn("reading the catalog for the pages: {}", products.status().message());
    return;
  }
  const std::string now = PageProductsFingerprint(**products);
  // What main's pages were last built with (BuildOwnSite keeps it; another process's build
  // included). A site built before fingerprints were kept adopts the catalog as it is.
  auto built = BuiltCatalogFingerprint(*env_, site_->site_dir());
  if (!built.ok()) {
    Status kept = KeepBuiltCatalogFingerprint(*env_, site_->site_dir(), now);
    if (!kept.ok()) logger_->warn("keeping the catalog's fingerprint: {}", kept.message());
    return;
  }
  if (*built == now) return;
  std::lock_guard<std::mutex> sources_lock(sources_mu_);
  publish_sources_.NewRun();
  auto own = BuildOwnSite(*env_, site_->config(), site_->content(), *products, &publish_sources_);
  if (!own.ok()) {
    // A page naming a product that is gone, say: tried again at the next change.
    logger_->warn("the catalog changed, but main's pages could not be built: {}",
                  own.status().message());
    Status kept = KeepBuiltCatalogFingerprint(*env_, site_->site_dir(), now);
    if (!kept.ok()) logger_->warn("keeping the catalog's fingerprint: {}", kept.message());
    return;
  }
  if (!own->changed) return;  // no page shows what changed
  logger_->info("the catalog changed: main's pages are release {} ({} rendered)", own->version,
                own->rendered);
  if (catalog_publish_ != "partners") return;
  for (const sync::PublishOutcome& o :
       sync_->publisher().PublishNow({}, &publish_sources_, sync::Publisher::Trigger::kAutomatic)) {
    if (o.status.ok()) {
      logger_->info("partner '{}': {} (version {}) after the catalog change", o.partner, o.state,
                    o.version);
    } else {
      logger_->warn(
          "partner '{}': update after the catalog change failed: {} (retried under "
          "its retry policy)",
          o.partner, o.status.message());
    }
  }
}

void MainDaemon::SchedulerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, options_.tick, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    std::vector<sync::PublishOutcome> outcomes;
    {
      std::lock_guard<std::mutex> sources_lock(sources_mu_);
      publish_sources_.NewRun();
      outcomes = sync_->publisher().RunDue(env_->NowSeconds(), &publish_sources_);
    }
    if (!outcomes.empty()) publish_runs_->Add({{"trigger", "schedule"}}).Increment();
    for (const sync::PublishOutcome& o : outcomes) {
      CountPublishOutcome(o.state);
      if (o.status.ok()) {
        logger_->info("partner '{}': {} (version {})", o.partner, o.state, o.version);
      } else {
        logger_->warn("partner '{}': update failed: {}", o.partner, o.status.message());
      }
    }
    RunLeased("catalog pages", [this] { PublishCatalogChanges(); });
    for (const PeriodicTask& task : tasks_) {
      if (task.scope == TaskScope::kProcess) {
        task.run();
      } else {
        RunLeased(task.name, task.run);
      }
    }
    site_->metrics().Beat(env_->NowMicros());
    DisconnectPeersOutOfStanding();
    lock.lock();
  }
}

}  // namespace tieup
