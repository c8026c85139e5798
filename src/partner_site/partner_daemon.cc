#include "partner_site/partner_daemon.h"

#include <algorithm>
#include <mutex>
#include <unordered_set>

#include "base/encoding.h"
#include "crypto/hash.h"
#include "partner_site/services.h"
#include "site/main_areas.h"

namespace tieup {

Result<std::unique_ptr<PartnerDaemon>> PartnerDaemon::Open(Env& env, const std::string& site_dir,
                                                           std::shared_ptr<Logger> logger,
                                                           PartnerDaemonOptions options) {
  std::unique_ptr<PartnerDaemon> d(new PartnerDaemon());
  d->env_ = &env;
  d->logger_ = logger ? logger : NewNullLogger();
  d->options_ = options;
  PublicSiteOptions site_options;
  site_options.listen = !options.further_main;
  ASSIGN_OR_RETURN(d->site_, PublicSite::Open(env, site_dir, d->logger_, site_options));
  if (d->site_->config().role != SiteRole::kPartner) {
    return Status::FailedPrecondition("'" + site_dir + "' is a main site: run 'tieup main serve'");
  }
  if (d->site_->config().emergency_edit) {
    d->logger_->warn(
        "site.toml: [partner] emergency_edit = true has no effect any more: main grants "
        "emergency edits in the partnership, in the signed release; remove the line");
  }
  ASSIGN_OR_RETURN(d->db_, OpenSqlite(SitePaths(site_dir).database()));
  ASSIGN_OR_RETURN(d->security_,
                   PartnerSecurityEvents::Open(env, site_dir, d->site_->config(), *d->db_,
                                               IsEnrolled(env, site_dir), d->logger_));
  if (!IsEnrolled(env, site_dir)) {
    d->logger_->info(
        "not enrolled with a main site: serving original pages only (enroll with 'tieup partner "
        "enroll {} --main URL --token CODE')",
        site_dir);
    RETURN_IF_ERROR(AttachPartnerServices(*d));
    RETURN_IF_ERROR(d->OpenFurtherMains());
    return d;
  }
  ASSIGN_OR_RETURN(d->sync_, PartnerSync::Open(env, site_dir, d->site_->config(), *d->db_,
                                               d->site_->content(), d->logger_));
  ASSIGN_OR_RETURN(d->quarantine_,
                   TieupQuarantine::Open(env, *d->db_, d->site_->content().tieup_notices()));
  if (auto stop = d->quarantine_->current()) {
    d->logger_->error(
        "the tie-up pages are stopped since {}: {}; they answer 503 until 'tieup partner resume "
        "{}'",
        FormatRfc3339(stop->since), stop->reason, site_dir);
  }
  ASSIGN_OR_RETURN(TlsContextPtr tls, d->sync_->ServerContext());
  PartnerSync* sync = d->sync_.get();
  d->sync_server_ = std::make_unique<SyncServer>(
      env, d->site_->config().sync_address, std::move(tls),
      [sync](const HttpRequest& r) { return sync->HandleSyncRequest(r); }, d->logger_);
  RETURN_IF_ERROR(AttachPartnerServices(*d));
  RETURN_IF_ERROR(d->OpenFurtherMains());
  return d;
}

Status PartnerDaemon::OpenFurtherMains() {
  if (options_.further_main) return Status::Ok();  // one level only
  ASSIGN_OR_RETURN(std::vector<FurtherMain> mains, LoadFurtherMains(*env_, site_->site_dir()));
  for (FurtherMain& m : mains) {
    PartnerDaemonOptions o = options_;
    o.further_main = true;
    auto daemon = PartnerDaemon::Open(*env_, m.dir, logger_, o);
    if (!daemon.ok()) {
      return daemon.status().Annotate("opening the further main in '" + m.dir +
                                      "' (remove that directory to leave that main)");
    }
    PageMount mount;
    mount.prefix = m.config.area_prefix;
    mount.host = m.config.area_host;
    mount.handler = (*daemon)->site().handler();
    mount.access_log = &(*daemon)->site().access_log();
    RETURN_IF_ERROR(site_->Mount(std::move(mount)));
    logger_->info("{}: served here, trading on sync port {}", DescribeMain(m.config),
                  m.config.sync_address.ToString());
    further_.push_back(std::move(*daemon));
  }
  return Status::Ok();
}

PartnerDaemon::~PartnerDaemon() { Stop(); }

void PartnerDaemon::AddPeriodicTask(std::string name, std::function<void()> task) {
  tasks_.emplace_back(std::move(name), std::move(task));
}

void PartnerDaemon::AddServer(std::function<Status()> start, std::function<void()> stop) {
  servers_.emplace_back(std::move(start), std::move(stop));
}

Status PartnerDaemon::Start() {
  // The further mains first: the public port below serves their areas from its first request.
  for (auto& f : further_) RETURN_IF_ERROR(f->Start());
  RETURN_IF_ERROR(site_->Start());
  if (sync_server_) RETURN_IF_ERROR(sync_server_->Start());
  if (options_.further_main) {
    for (auto& [start, stop] : servers_) RETURN_IF_ERROR(start());
    background_ = std::thread([this] { BackgroundLoop(); });
    return Status::Ok();
  }
  // Where the public port really is (the configured port may be 0: any free port), for the
  // command line's preview links.
  const std::string addr_file = PublicAddressFile(site_->site_dir());
  Status written = CreateDirs(*env_, DirName(addr_file));
  if (written.ok()) {
    const HostPort bound{site_->config().public_address.host, site_->public_port()};
    written = WriteFileAtomic(*env_, addr_file, bound.ToString() + "\n");
  }
  if (!written.ok()) logger_->warn("recording the public address: {}", written.message());
  for (auto& [start, stop] : servers_) RETURN_IF_ERROR(start());
  RETURN_IF_ERROR(StartIntegrityMonitor());
  background_ = std::thread([this] { BackgroundLoop(); });
  return Status::Ok();
}

Status PartnerDaemon::StartIntegrityMonitor() {
  SiteContent& content = site_->content();
  // Where the blob store keeps a blob: "<dir>/ab/<hex>".
  std::string blob_dir;
  RETURN_IF_ERROR(content.Read([&](content::ContentStore& store) -> Status {
    ASSIGN_OR_RETURN(std::string p, store.blobs().Path(std::string(64, '0')));
    blob_dir = DirName(DirName(p));
    return Status::Ok();
  }));
  // The list of the view served, made once per view (the monitor asks again at each sweep and
  // at each file written during an update).
  struct Listed {
    std::mutex mu;
    std::shared_ptr<const content::SiteView> view;
    guard::IntegrityMonitor::FileList files;
  };
  auto listed = std::make_shared<Listed>();
  auto lister = [&content, blob_dir, listed]() -> guard::IntegrityMonitor::FileList {
    std::shared_ptr<const content::SiteView> view = content.view();
    std::lock_guard<std::mutex> lock(listed->mu);
    if (listed->files != nullptr && view == listed->view) return listed->files;
    auto out = std::make_shared<std::vector<guard::WatchedFile>>();
    listed->view = view;
    listed->files = out;
    if (view == nullptr) return out;
    std::unordered_set<std::string> seen;
    seen.reserve(view->files().size() * 2);
    out->reserve(view->files().size() * 2);
    auto add = [&](const std::string& hash, uint64_t length,
                   std::shared_ptr<const std::string> memory) {
      if (hash.size() != 64 || !seen.insert(hash).second) return;
      out->push_back(guard::WatchedFile{blob_dir + "/" + hash.substr(0, 2) + "/" + hash, hash,
                                        length, std::move(memory)});
    };
    for (const auto& [path, f] : view->files()) {
      add(f.hash, f.length, f.body);
      if (f.gzip) add(f.gzip->hash, f.gzip->length, nullptr);
    }
    return out;
  };
  auto reporter = [this](const guard::IntegrityFinding& finding) {
    if (finding.reason.empty()) return;  // restored: CheckBlobFaults says it is served again
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (integrity_findings_.size() < 1000) integrity_findings_.push_back(finding);
    }
    cv_.notify_all();
  };
  if (!env_->FileExists(blob_dir)) RETURN_IF_ERROR(CreateDirs(*env_, blob_dir));
  auto monitor =
      guard::IntegrityMonitor::Start(*env_, {blob_dir}, lister, reporter, options_.integrity);
  if (!monitor.ok()) {
    return monitor.status().Annotate("starting the integrity monitor of the served files");
  }
  integrity_ = std::move(*monitor);
  integrity_view_ = content.view().get();
  return Status::Ok();
}

void PartnerDaemon::HandleIntegrityFindings(std::vector<guard::IntegrityFinding> findings) {
  SiteContent& content = site_->content();
  std::shared_ptr<const content::SiteView> view = content.view();
  if (view == nullptr) return;
  for (const guard::IntegrityFinding& finding : findings) {
    const std::string& hash = finding.file.sha256;
    const content::ServedFile* served = nullptr;
    bool gzip = false;
    for (const auto& [path, f] : view->files()) {
      if (f.hash == hash || (f.gzip && f.gzip->hash == hash)) {
        served = &f;
        gzip = f.hash != hash;
        break;
      }
    }
    if (served == nullptr) continue;  // no longer served
    const bool tieup = served->area == content::Area::kTieup;
    const std::string what = std::string(tieup ? "tie-up" : "original") + " page '" + served->path +
                             "'" + (gzip ? " (its gzip variant)" : "");
    const content::BlobFault fault{served->path,        served->area, hash,
                                   finding.file.length, gzip,         finding.reason};
    std::string message;
    bool restored = false;
    if (finding.in_memory) {
      message = "integrity: the copy of " + what +
                " served from memory no longer matches its signed hash; it is reloaded from the "
                "verified copy on disk";
      content.ReportReadFault(fault);
    } else {
      if (!gzip && served->body != nullptr && served->body->size() == served->length &&
          Sha256Hex(*served->body) == hash) {
        restored = content
                       .Mutate([&](content::ContentStore& store) {
                         return store.blobs().PutExpected(hash, *served->body);
                       })
                       .ok();
      }
      message = "integrity: " + what + " was " + finding.reason +
                (finding.reason.find("on disk") == std::string::npos ? " on disk; " : "; ") +
                (restored ? std::string("restored from the verified copy served from memory")
                 : tieup  ? std::string("it answers 503 and is fetched again from main")
                          : "it answers 503 until the partner manager puts it again ('tieup "
                            "partner page put " +
                               site_->site_dir() + " " + served->path + " FILE')");
      if (!restored) content.ReportReadFault(fault);
    }
    logger_->error("{}", message);
    if (sync_) sync_->receiver().RecordDamage(message);
    if (tieup && !finding.in_memory && quarantine_) StopTieupAreaIfRepeated(what);
    // Restored at once (or reloaded from disk): main should know, nobody need act. Otherwise a
    // page is not served until it is fetched again or put again.
    security_->Report("damaged",
                      finding.in_memory || restored ? guard::AlertSeverity::kWarning
                                                    : guard::AlertSeverity::kCritical,
                      message);
  }
  security_->Flush();
}

void PartnerDaemon::StopTieupAreaIfRepeated(const std::string& what) {
  auto stop = quarantine_->Found(what);
  if (!stop.ok()) {
    logger_->error("recording that the tie-up pages stop: {}", stop.status().message());
    return;
  }
  if (!*stop) return;
  const std::string message =
      "STOPPED serving the tie-up pages: " + (*stop)->reason +
      ". They answer 503 (unavailable for now) and original pages are served as before. Check "
      "the server, then run 'tieup partner resume " +
      site_->site_dir() + "'; main's manager may withdraw them meanwhile.";
  logger_->error("{}", message);
  if (sync_) sync_->receiver().RecordDamage(message);
  security_->Report("area-stopped", guard::AlertSeverity::kCritical, message);
}

void PartnerDaemon::CheckTieupResumed() {
  if (!quarantine_) return;
  auto lifted = quarantine_->Refresh();
  if (!lifted.ok()) {
    logger_->warn("reading whether the tie-up pages are stopped: {}", lifted.status().message());
    return;
  }
  if (!*lifted) return;
  const std::string message = "the tie-up pages are served again: the partner manager resumed them";
  logger_->warn("{}", message);
  if (sync_) sync_->receiver().RecordDamage(message);
  security_->Report("area-resumed", guard::AlertSeverity::kWarning, message);
}

void PartnerDaemon::SendWafSummary() {
  WafGate* gate = site_->waf();
  if (gate == nullptr || !sync_) return;
  const int64_t now = env_->NowSeconds();
  if (now >= next_waf_summary_) {
    const guard::WafSummary seen = gate->events().Summary();
    if (seen.blocked + seen.detected + seen.failed + seen.blocklisted > 0) {
      const guard::WafSummary taken = gate->events().TakeSummary(env_->NowMicros());
      const std::string message = "WAF: " + guard::DescribeWafSummary(taken);
      logger_->info("{}", message);
      sync_->receiver().RecordWafSummary(message);
      security_->Report(
          "waf", seen.failed > 0 ? guard::AlertSeverity::kCritical : guard::AlertSeverity::kWarning,
          message, guard::TopWafClients(taken, guard::kMaxEventClients));
      next_waf_summary_ = now + 60;
    }
  }
  security_->Flush();
}

void PartnerDaemon::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (background_.joinable()) background_.join();
  if (integrity_) integrity_->Stop();
  for (auto it = servers_.rbegin(); it != servers_.rend(); ++it) it->second();
  if (sync_server_) sync_server_->Stop();
  if (site_) {
    site_->Stop();
    if (!options_.further_main) (void)env_->RemoveFile(PublicAddressFile(site_->site_dir()));
  }
  // After the public port that served their areas.
  for (auto& f : further_) f->Stop();
}

std::string PublicAddressFile(const std::string& site_dir) {
  return JoinPath(site_dir, "run/public.addr");
}

void PartnerDaemon::CheckBlobFaults() {
  SiteContent& content = site_->content();
  if (auto reloaded = content.ReloadIfRepaired(); !reloaded.ok()) {
    logger_->warn("reloading the served pages after a repair: {}", reloaded.status().ToString());
  }
  const std::vector<content::BlobFault> faults = content.Faults();
  ReportNewFaults(faults);
  security_->Flush();
  RepairTieupFaults(faults);
  AnnounceServedAgain(content.Faults());
}

void PartnerDaemon::ReportNewFaults(const std::vector<content::BlobFault>& faults) {
  for (const content::BlobFault& f : faults) {
    if (!reported_faults_.insert(f.path + " " + f.hash).second) continue;
    const bool tieup = f.area == content::Area::kTieup;
    const std::string area = tieup ? "tie-up" : "original";
    const std::string remedy =
        tieup ? "it is being fetched again from main"
              : "the partner manager must put it again ('tieup partner page put " +
                    site_->site_dir() + " " + f.path + " FILE')";
    const std::string message =
        f.gzip_variant ? "the gzip variant of " + area + " page '" + f.path + "' cannot be used (" +
                             f.reason + "): the page is served uncompressed; " + remedy
                       : area + " page '" + f.path + "' cannot be served (" + f.reason +
                             "): it answers 503 (temporarily unavailable); " + remedy;
    logger_->warn("{}", message);
    if (sync_) sync_->receiver().RecordDamage(message);
    security_->Report("damaged",
                      tieup ? guard::AlertSeverity::kWarning : guard::AlertSeverity::kCritical,
                      message);
  }
}

void PartnerDaemon::RepairTieupFaults(const std::vector<content::BlobFault>& faults) {
  std::vector<sync::BlobRepair> repairs;
  for (const content::BlobFault& f : faults) {
    if (f.area == content::Area::kTieup)
      repairs.push_back(sync::BlobRepair{f.path, f.hash, f.length});
  }
  if (!sync_ || repairs.empty() || env_->NowSeconds() < next_repair_) return;
  auto repaired = sync_->receiver().RepairBlobs(repairs);
  if (!repaired.ok()) {
    // Tried again on a later tick: 5 s, 10 s, 20 s, ... up to 5 minutes apart.
    ++repair_failures_;
    const int64_t wait = std::min<int64_t>(300, int64_t{5} << std::min(repair_failures_ - 1, 6));
    next_repair_ = env_->NowSeconds() + wait;
    if (repaired.status().message() != last_repair_error_) {
      last_repair_error_ = repaired.status().message();
      logger_->warn("{} (trying again in {} s)", repaired.status().ToString(), wait);
    }
    return;
  }
  repair_failures_ = 0;
  next_repair_ = 0;
  last_repair_error_.clear();
  if (*repaired == 0) return;
  logger_->info("fetched {} missing or damaged blobs again from main", *repaired);
  if (auto reloaded = site_->content().ReloadIfRepaired(); !reloaded.ok()) {
    logger_->warn("reloading the served pages after a repair: {}", reloaded.status().ToString());
  }
}

void PartnerDaemon::AnnounceServedAgain(const std::vector<content::BlobFault>& faults) {
  std::set<std::string> now;
  for (const content::BlobFault& f : faults) now.insert(f.path + " " + f.hash);
  for (auto it = reported_faults_.begin(); it != reported_faults_.end();) {
    if (now.count(*it) != 0) {
      ++it;
      continue;
    }
    logger_->info("'{}' is served again", it->substr(0, it->find(' ')));
    it = reported_faults_.erase(it);
  }
}

void PartnerDaemon::BackgroundLoop() {
  // A damaged or missing file found at start is dealt with at once, not a tick later.
  CheckBlobFaults();
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, options_.tick, [this] { return stopping_ || !integrity_findings_.empty(); });
    if (stopping_) break;
    std::vector<guard::IntegrityFinding> findings = std::move(integrity_findings_);
    integrity_findings_.clear();
    lock.unlock();
    if (!findings.empty()) {
      // Found by the integrity monitor: dealt with at once, not at the next tick.
      HandleIntegrityFindings(std::move(findings));
      CheckBlobFaults();
      lock.lock();
      continue;
    }
    if (integrity_ && site_->content().view().get() != integrity_view_) {
      integrity_view_ = site_->content().view().get();
      integrity_->Rescan();  // a new release is served: check its files from now on
    }
    if (sync_) {
      // An approval or rejection main did not receive (main was down) is sent again.
      Status s = sync_->receiver().ResendResponses();
      if (!s.ok()) logger_->warn("telling main about decided updates: {}", s.message());
      const int poll = site_->config().poll_seconds;
      if (poll > 0 && env_->NowSeconds() >= next_poll_) {
        next_poll_ = env_->NowSeconds() + poll;
        // Missing blobs are found and repaired by CheckBlobFaults from the served view.
        auto polled = sync_->receiver().Poll(/*repair_missing=*/false);
        if (!polled.ok()) {
          logger_->warn("asking main for updates (pull mode): {}", polled.status().message());
        } else if (polled->state != "up_to_date") {
          logger_->info("pull mode: version {} {}", polled->version, polled->state);
        }
      }
    }
    CheckBlobFaults();
    CheckTieupResumed();
    SendWafSummary();
    for (auto& [name, task] : tasks_) task();
    lock.lock();
  }
}

}  // namespace tieup
