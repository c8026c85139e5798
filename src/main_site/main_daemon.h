// The `tieup main serve` daemon: main's public site, its sync port (partners enroll, fetch
// blobs, answer approvals), the publisher's scheduler, and the control socket through which
// `tieup main publish` runs inside the daemon (main_site/control.h).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "content/builder.h"
#include "main_site/control.h"
#include "main_site/main_sync.h"
#include "site/public_site.h"
#include "site/site_metrics.h"
#include "site/sync_transport.h"
#include "store/database.h"

namespace tieup {

struct MainDaemonOptions {
  // How often the scheduler looks for partners whose schedule or retry time has come.
  std::chrono::milliseconds tick{2000};
  // The control socket's limits (request size, time to send it, drain at Stop).
  ControlServerOptions control;
};

class MainDaemon {
 public:
  static Result<std::unique_ptr<MainDaemon>> Open(Env& env, const std::string& site_dir,
                                                  std::shared_ptr<Logger> logger,
                                                  MainDaemonOptions options = {});
  ~MainDaemon();
  // Starts the public port, the sync port, the control socket (SITE_DIR/run/control.sock) and
  // the scheduler, and in the background reads what the first publish needs (the authoring
  // sources, each partner's newest release: sync::Publisher::Prepare). FailedPrecondition when
  // another daemon already answers on the control socket. A control socket that cannot be made
  // otherwise (a site path too long for a Unix socket) is logged and left out: `tieup main publish`
  // then runs in its own process.
  Status Start();
  // Stops the control socket first (a publish it runs finishes), then the scheduler and ports.
  void Stop();

  // Whose work a periodic task does.
  enum class TaskScope {
    // The site's, in the shared store (deliveries, notices, alerts): when several `main serve`
    // processes share one PostgreSQL store, one of them runs the task at a time (each run holds
    // the lease "task:<name>"; a process that finds it held skips that tick).
    kSite,
    // This process's own (its connections, the tables its console shows): runs in every process.
    kProcess,
  };
  // Runs `task` on the daemon's background thread every tick (scheduler work, outbox
  // delivery, ledger shipping). Tasks must not block for long. Before Start().
  void AddPeriodicTask(std::string name, std::function<void()> task,
                       TaskScope scope = TaskScope::kSite);
  // Runs `start` at Start() (after the ports and the control socket; an error fails Start) and
  // `stop` at Stop() (before them, in reverse order), for servers a service adds (the manager's
  // console). Before Start().
  void AddServer(std::function<Status()> start, std::function<void()> stop);
  // `tieup main publish` inside the daemon (main_site/publish_run.h RunPublish), on the served
  // content and the scheduler's publisher, with the daemon's source cache: what the control
  // socket runs for the command line and the console for its manager. One run at a time (a
  // scheduled run waits too). Thread-safe.
  Status Publish(const PublishRequest& request, PublishOutput& output);
  Database& db() { return *db_; }
  Env& env() { return *env_; }
  const std::shared_ptr<Logger>& logger() const { return logger_; }
  uint16_t public_port() const { return site_->public_port(); }
  uint16_t sync_port() const { return sync_server_->port(); }
  PublicSite& site() { return *site_; }
  MainSync& sync() { return *sync_; }

 private:
  MainDaemon() = default;
  void SchedulerLoop();
  // Closes the sync connections of partners no longer in good standing (revoked, superseded).
  void DisconnectPeersOutOfStanding();
  // When main's catalog as pages show it (title, price, stock state) is not what main's pages
  // were last built with, builds them again and, when a page changed and shop.catalog_publish
  // is "partners" (the default), publishes every partner now ("main": partners follow on their
  // schedules; "off": nothing). The catalog may be changed by another process
  // (`tieup main product set-price`), so it is read each tick.
  void PublishCatalogChanges();

  Env* env_ = nullptr;
  std::shared_ptr<Logger> logger_;
  // Source hashes kept between publishes (unchanged files are not read again). Guarded by
  // sources_mu_: one run uses it at a time (a publish through the control socket, a scheduled
  // run, the warm-up after Start), each after SourceCache::NewRun.
  std::mutex sources_mu_;
  content::SourceCache publish_sources_;
  MainDaemonOptions options_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<PublicSite> site_;
  std::unique_ptr<MainSync> sync_;
  std::unique_ptr<SyncServer> sync_server_;
  std::unique_ptr<ControlServer> control_;
  // shop.catalog_publish: "partners" (default), "main" or "off".
  std::string catalog_publish_ = "partners";
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  struct PeriodicTask {
    std::string name;
    std::function<void()> run;
    TaskScope scope;
  };
  // Runs `task` now, under the lease "task:<name>" (site work): false when another process holds
  // it (or it cannot be taken: logged).
  bool RunLeased(const std::string& name, const std::function<void()>& task);
  std::vector<PeriodicTask> tasks_;
  std::vector<std::pair<std::function<Status()>, std::function<void()>>> servers_;
  std::thread scheduler_;
  std::thread warmup_;
  // tieup_publish_runs_total{trigger} and tieup_publish_partner_outcomes_total{state} (the
  // operations port); in the site's metrics registry.
  prometheus::Family<prometheus::Counter>* publish_runs_ = nullptr;
  prometheus::Family<prometheus::Counter>* publish_outcomes_ = nullptr;
  void CountPublishOutcome(const std::string& state);
};

}  // namespace tieup
