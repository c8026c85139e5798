// The `tieup partner serve` daemon: the partner's public site and, once enrolled, its sync
// port (main offers updates and commands activation), plus resending approval answers main
// has not yet received.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "guard/integrity_monitor.h"
#include "partner_site/partner_sync.h"
#include "partner_site/security_events.h"
#include "partner_site/tieup_quarantine.h"
#include "site/public_site.h"
#include "site/sync_transport.h"
#include "store/database.h"

namespace tieup {

struct PartnerDaemonOptions {
  std::chrono::milliseconds tick{5000};
  // The integrity monitor (guard/integrity_monitor.h) over the served files: its sweep's budget
  // and pace.
  guard::IntegrityOptions integrity;
  // Set for the daemon of a further main's directory (site/main_areas.h), which the partner's
  // daemon opens itself: no public port (its pages are mounted on the partner's), no console.
  bool further_main = false;
};

class PartnerDaemon {
 public:
  static Result<std::unique_ptr<PartnerDaemon>> Open(Env& env, const std::string& site_dir,
                                                     std::shared_ptr<Logger> logger,
                                                     PartnerDaemonOptions options = {});
  ~PartnerDaemon();
  Status Start();
  void Stop();

  // Runs `task` on the daemon's background thread every tick (scheduler work, outbox
  // delivery, ledger shipping). Tasks must not block for long. Before Start().
  void AddPeriodicTask(std::string name, std::function<void()> task);
  // Runs `start` at Start() (after the public and sync ports; an error fails Start) and `stop` at
  // Stop() (before them), for servers a service adds (the manager's console). Before Start().
  void AddServer(std::function<Status()> start, std::function<void()> stop);
  Database& db() { return *db_; }
  Env& env() { return *env_; }
  const std::shared_ptr<Logger>& logger() const { return logger_; }
  uint16_t public_port() const { return site_->public_port(); }
  // 0 when the site is not enrolled (no sync port).
  uint16_t sync_port() const { return sync_server_ ? sync_server_->port() : 0; }
  PublicSite& site() { return *site_; }
  PartnerSync* sync() { return sync_.get(); }
  // The site's security events (kept here, sent to main when enrolled).
  PartnerSecurityEvents& security() { return *security_; }
  bool further_main() const { return options_.further_main; }
  // The daemons of the further mains (site/main_areas.h), each serving its tie-up area on this
  // daemon's public port and trading with its main on its own sync port.
  const std::vector<std::unique_ptr<PartnerDaemon>>& further_mains() const { return further_; }

 private:
  PartnerDaemon() = default;
  void BackgroundLoop();
  // Opens the further mains' daemons and mounts their areas on this site's public port.
  Status OpenFurtherMains();
  // Deals with blobs the served view cannot use (found missing or damaged when it was loaded,
  // or when a body was read for a request): logs and records each new one and tells main;
  // fetches tie-up ones again from main (after a failure, again on a later tick, backing off);
  // reloads the view as soon as one is intact again (also an original page the manager put
  // again). Background thread only.
  void CheckBlobFaults();
  // Its steps: log and record each fault not reported yet as a security event (kept here and
  // sent to main, partner_site/security_events.h); fetch tie-up blobs again (backing off after a
  // failure); say once that a path reported before is served again.
  void ReportNewFaults(const std::vector<content::BlobFault>& faults);
  void RepairTieupFaults(const std::vector<content::BlobFault>& faults);
  void AnnounceServedAgain(const std::vector<content::BlobFault>& faults);
  // Sends main what the WAF of the public port refused since the last summary: at the first
  // tick after a refusal, then at most once a minute; kept and sent again while main is down.
  void SendWafSummary();
  // Starts the integrity monitor over the blobs of the served view (issue 17 item 3).
  Status StartIntegrityMonitor();
  // What the monitor found (background thread): a file of the served view changed or missing on
  // disk is restored at once from the verified copy served from memory when there is one,
  // otherwise reported as a fault (a tie-up file is then fetched again from main; an original
  // page answers 503 until the manager puts it again); a copy in memory that changed is
  // reloaded from the verified disk copy. Each is logged, recorded and told to main.
  void HandleIntegrityFindings(std::vector<guard::IntegrityFinding> findings);
  // Counts a tie-up file found changed on disk; past TieupQuarantine's limit the tie-up pages
  // stop being served (told to the manager and main). And says when `tieup partner resume`
  // lifted the stop (checked every tick).
  void StopTieupAreaIfRepeated(const std::string& what);
  void CheckTieupResumed();

  Env* env_ = nullptr;
  std::shared_ptr<Logger> logger_;
  PartnerDaemonOptions options_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<PublicSite> site_;
  std::unique_ptr<PartnerSync> sync_;
  std::unique_ptr<SyncServer> sync_server_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  int64_t next_poll_ = 0;  // unix seconds; pull mode only
  // CheckBlobFaults' state (background thread only): the faults already reported ("path hash"),
  // when to try the next repair (unix seconds), consecutive failures, the last failure's text.
  std::set<std::string> reported_faults_;
  int64_t next_repair_ = 0;
  int repair_failures_ = 0;
  std::string last_repair_error_;
  std::unique_ptr<PartnerSecurityEvents> security_;  // kept here and sent to main, signed
  std::unique_ptr<TieupQuarantine> quarantine_;      // enrolled sites only
  int64_t next_waf_summary_ = 0;                     // unix seconds (background thread)
  std::unique_ptr<guard::IntegrityMonitor> integrity_;
  std::vector<guard::IntegrityFinding> integrity_findings_;  // guarded by mu_; wakes the loop
  const void* integrity_view_ = nullptr;  // the view the monitor last listed (background thread)
  std::vector<std::pair<std::string, std::function<void()>>> tasks_;
  std::thread background_;
  std::vector<std::pair<std::function<Status()>, std::function<void()>>> servers_;
  std::vector<std::unique_ptr<PartnerDaemon>> further_;
};

// SITE_DIR/run/public.addr: "host:port" of the running daemon's public port (written at Start,
// removed at Stop), so that the command line can link to it when the configured port is 0.
std::string PublicAddressFile(const std::string& site_dir);

}  // namespace tieup
