// The services a main daemon runs besides page updating (the shop and delegated orders,
// ledger collection, ...). Each feature has its own Attach function in its own file; this is
// the one place that lists them.
#pragma once

#include "base/status.h"

namespace tieup {

class MainDaemon;

// Attaches every service to `daemon` (routes on its public and sync ports, periodic tasks).
// Called by MainDaemon::Open before the daemon starts.
Status AttachMainServices(MainDaemon& daemon);

}  // namespace tieup
