#include "partner_site/services.h"

#include "partner_site/partner_daemon.h"

namespace tieup {

Status AttachPartnerServices(PartnerDaemon& daemon) {
  (void)daemon;  // One line per service goes here as features land.
  return Status::Ok();
}

}  // namespace tieup
