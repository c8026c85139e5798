// A partner's part of the operations port (site/ops_server.h): besides what every site reports
// (site/site_metrics.h AddSiteOpsBasics), tieup_tieup_version (main's release it serves; 0:
// none yet) and tieup_tieup_quarantined (1 while the tie-up pages are stopped after a fault),
// and liveness (the background loop's tick). The shop adds its outbox's depth
// (partner_site/shop_service.h). Not for a further main's daemon: the site's own reports.
#pragma once

#include "base/status.h"

namespace tieup {

class PartnerDaemon;

Status AttachPartnerOpsMetrics(PartnerDaemon& daemon);

}  // namespace tieup
