#include "partner_site/services.h"

#include "partner_site/blocklists.h"
#include "partner_site/console_pages.h"
#include "partner_site/emergency_edits.h"
#include "partner_site/ledger_service.h"
#include "partner_site/ops_metrics.h"
#include "partner_site/own_content.h"
#include "partner_site/partner_daemon.h"
#include "partner_site/preview.h"
#include "partner_site/shop_service.h"
#include "partner_site/users_service.h"
#include "partner_site/withdrawals.h"

namespace tieup {

Status AttachPartnerServices(PartnerDaemon& daemon) {
  ASSIGN_OR_RETURN(std::string preview_secret,
                   LoadOrCreatePreviewSecret(daemon.env(), daemon.site().site_dir()));
  RETURN_IF_ERROR(daemon.site().AddPublicRoute(
      kPreviewPrefix, "GET, HEAD",
      std::make_shared<PreviewHandler>(daemon.env(), daemon.site().content(),
                                       std::move(preview_secret))));
  RETURN_IF_ERROR(AttachPartnerLedgerService(daemon));
  RETURN_IF_ERROR(AttachShop(daemon));
  RETURN_IF_ERROR(AttachUsers(daemon));
  RETURN_IF_ERROR(AttachEmergencyEditReports(daemon));
  RETURN_IF_ERROR(AttachPartnerWithdrawals(daemon));
  RETURN_IF_ERROR(AttachPartnerBlocklist(daemon));
  RETURN_IF_ERROR(AttachOwnPages(daemon));
  // A further main's directory has no console of its own (site/main_areas.h).
  if (!daemon.further_main()) RETURN_IF_ERROR(AttachPartnerConsole(daemon));
  RETURN_IF_ERROR(AttachPartnerOpsMetrics(daemon));
  return Status::Ok();
}

}  // namespace tieup
