// TieupNotices: what a site's public port shows for its tie-up area instead of the pages (a
// withdrawal in effect, sync/withdrawal.h), shared between the service that decides it (the
// partner's WithdrawalKeeper, sync/withdrawal_service.h) and the page server that reads it on
// every tie-up request. The site's SiteContent owns one (site/site_content.h); both sides are
// handed that one. Thread-safe, wait-free reads.
#pragma once

#include <atomic>
#include <memory>

#include "sync/withdrawal.h"

namespace tieup::sync {

class TieupNotices {
 public:
  // The withdrawal in effect (action kWithdraw), or null: tie-up pages are served.
  std::shared_ptr<const Withdrawal> withdrawn() const { return std::atomic_load(&withdrawn_); }
  void Set(std::shared_ptr<const Withdrawal> withdrawn) {
    std::atomic_store(&withdrawn_, std::move(withdrawn));
  }

  // The partner stopped serving its tie-up area itself because its files kept being changed on
  // disk (partner_site/tieup_quarantine.h): why, or null. A withdrawal from main still shows
  // first when both are in effect.
  std::shared_ptr<const std::string> quarantined() const { return std::atomic_load(&quarantined_); }
  void SetQuarantined(std::shared_ptr<const std::string> reason) {
    std::atomic_store(&quarantined_, std::move(reason));
  }

 private:
  std::shared_ptr<const Withdrawal> withdrawn_;
  std::shared_ptr<const std::string> quarantined_;
};

}  // namespace tieup::sync
