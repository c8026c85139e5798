// The partner manager's web console (DESIGN.md "Consoles"; issue #13): the pages of a small shop
// owner's daily work on the console machinery (console/console_server.h), on the console's own
// address ([console] listen in site.toml, loopback by default).
//
//   /                  home: what is live, what waits (pending updates), recent orders
//   /updates           pending updates and the history of every update; roll back
//   /updates/ID        review: the files added, changed, removed, a side-by-side diff of each
//                      changed text page, the preview link; Approve, or Reject with a reason
//   /rollback          confirm and roll the tie-up pages back to the previous release
//   /orders, /orders/N the shop's own orders by status; mark paid, ship, deliver, cancel
//   /pages, /pages/edit, /pages/delete   the original pages: list, create or edit (Markdown or
//                      HTML), delete
//   /audit             every manager action: who, when, what, from where
//
// Every action calls what the command line calls (sync::Receiver, page_tools.h, commerce::Shop),
// and is recorded in the console's audit log. A new pending update is announced live to every
// open console page (a banner, a browser notification, speech where switched on).
#pragma once

#include "base/status.h"

namespace tieup {

class PartnerDaemon;

// Adds the console to `daemon`: started and stopped with it; its URL is logged at start and
// written to SITE_DIR/run/console.addr. Before Start().
Status AttachPartnerConsole(PartnerDaemon& daemon);

}  // namespace tieup
