// A partner's security events (issue 17 item 5; guard/alerts.h): what its WAF refused, files
// found changed or damaged and what was done about them. Each is kept as an alert in the
// partner's own store (its manager sees them: `tieup partner alerts DIR`) and sent to main,
// signed with the partner's key (POST /v1/security-events on main's sync port), where it becomes
// an alert about this partner. Events main has not acknowledged are sent again on a later tick
// (at most 500 wait; beyond that the oldest are dropped, and the partner's own store still has
// them).
#pragma once

#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "base/env.h"
#include "base/log.h"
#include "base/status.h"
#include "guard/alerts.h"
#include "site/config.h"
#include "store/database.h"

namespace tieup {

class MainClient;

class PartnerSecurityEvents {
 public:
  // The store in `db`; events go to main only when the site is enrolled (`enrolled`).
  static Result<std::unique_ptr<PartnerSecurityEvents>> Open(Env& env, const std::string& site_dir,
                                                             const SiteConfig& config, Database& db,
                                                             bool enrolled,
                                                             std::shared_ptr<Logger> logger);
  ~PartnerSecurityEvents();

  // Records the event here and queues it for main (`clients`: for "waf", the addresses it
  // refused most, which main counts across partners to block an address network-wide).
  void Report(const std::string& kind, guard::AlertSeverity severity, const std::string& message,
              std::vector<std::string> clients = {});
  // Sends what main has not acknowledged, in batches; stops at the first failure (kept for the
  // next call). Background thread.
  void Flush();

  guard::AlertStore& store() { return *store_; }

 private:
  PartnerSecurityEvents() = default;
  Env* env_ = nullptr;
  std::string site_id_;
  std::shared_ptr<Logger> logger_;
  std::unique_ptr<guard::AlertStore> store_;
  std::unique_ptr<MainClient> main_;  // null when not enrolled
  std::mutex mu_;
  std::deque<guard::SecurityEvent> unsent_;
  std::string last_error_;
};

}  // namespace tieup
