// Main's part of the operations port (site/ops_server.h): besides what every site reports
// (site/site_metrics.h AddSiteOpsBasics), tieup_partners{state} (partnerships by the state the
// console's partner overview shows: up_to_date, behind, failing, ...) and liveness (the
// scheduler's tick). The publish counters are the daemon's own (MainDaemon::Publish).
#pragma once

#include "base/status.h"

namespace tieup {

class MainDaemon;

Status AttachMainOpsMetrics(MainDaemon& daemon);

}  // namespace tieup
