// The main manager's web console (DESIGN.md "Consoles"; issue #14): the network's partners at a
// glance, each partnership, publishing with live progress, main's content, the shop, users,
// ledgers and fees, on the console machinery (console/console_server.h), on the console's own
// address ([console] listen in main's site.toml, loopback by default).
//
// Every action calls what the command line calls (sync::Publisher, MainDaemon::Publish,
// commerce::Shop, ...) and is recorded in the console's audit log. The pages of each area are
// in their own console_*.cc file (console_common.h).
#pragma once

#include "base/status.h"

namespace tieup {

class MainDaemon;

// Adds the console to `daemon`: started and stopped with it; its URL is logged at start and
// written to SITE_DIR/run/console.addr. Before Start().
Status AttachMainConsole(MainDaemon& daemon);

}  // namespace tieup
