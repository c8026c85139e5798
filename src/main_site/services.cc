#include "main_site/services.h"

#include "main_site/blocklists.h"
#include "main_site/console_pages.h"
#include "main_site/emergency_edits.h"
#include "main_site/ledger_service.h"
#include "main_site/main_daemon.h"
#include "main_site/marketing.h"
#include "main_site/ops_metrics.h"
#include "main_site/page_probes.h"
#include "main_site/security_alerts.h"
#include "main_site/shop_service.h"
#include "main_site/users_service.h"
#include "main_site/withdrawals.h"

namespace tieup {

Status AttachMainServices(MainDaemon& daemon) {
  RETURN_IF_ERROR(AttachMainLedgerService(daemon));
  RETURN_IF_ERROR(AttachShop(daemon));
  RETURN_IF_ERROR(AttachUsers(daemon));
  RETURN_IF_ERROR(AttachMarketing(daemon));
  RETURN_IF_ERROR(AttachEmergencyEdits(daemon));
  RETURN_IF_ERROR(AttachWithdrawals(daemon));
  RETURN_IF_ERROR(AttachBlocklist(daemon));
  RETURN_IF_ERROR(AttachSecurityAlerts(daemon));
  RETURN_IF_ERROR(AttachPageProbes(daemon));
  RETURN_IF_ERROR(AttachMainConsole(daemon));
  RETURN_IF_ERROR(AttachMainOpsMetrics(daemon));
  return Status::Ok();
}

}  // namespace tieup
