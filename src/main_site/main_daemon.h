// The `tieup main serve` daemon: main's public site, its sync port (partners enroll, fetch
// blobs, answer approvals), and the publisher's scheduler.
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

#include "main_site/main_sync.h"
#include "site/public_site.h"
#include "site/sync_transport.h"
#include "store/database.h"

namespace tieup {

struct MainDaemonOptions {
  // How often the scheduler looks for partners whose schedule or retry time has come.
  std::chrono::milliseconds tick{2000};
};

class MainDaemon {
 public:
  static Result<std::unique_ptr<MainDaemon>> Open(Env& env, const std::string& site_dir,
                                                  std::shared_ptr<Logger> logger,
                                                  MainDaemonOptions options = {});
  ~MainDaemon();
  Status Start();
  void Stop();

  // Runs `task` on the daemon's background thread every tick (scheduler work, outbox
  // delivery, ledger shipping). Tasks must not block for long. Before Start().
  void AddPeriodicTask(std::string name, std::function<void()> task);
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

  Env* env_ = nullptr;
  std::shared_ptr<Logger> logger_;
  MainDaemonOptions options_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<PublicSite> site_;
  std::unique_ptr<MainSync> sync_;
  std::unique_ptr<SyncServer> sync_server_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::vector<std::pair<std::string, std::function<void()>>> tasks_;
  std::thread scheduler_;
};

}  // namespace tieup
