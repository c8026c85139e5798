// The services a partner daemon runs besides serving and receiving updates (the shop and its
// request routing, ledger shipping, ...). Each feature has its own Attach function in its own
// file; this is the one place that lists them.
#pragma once

#include "base/status.h"

namespace tieup {

class PartnerDaemon;

// Attaches every service to `daemon` (routes on its public and sync ports, periodic tasks).
// Called by PartnerDaemon::Open before the daemon starts; `daemon.sync()` is null for a site
// that has not enrolled.
Status AttachPartnerServices(PartnerDaemon& daemon);

}  // namespace tieup
