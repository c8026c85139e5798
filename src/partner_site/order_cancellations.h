// Cancelled orders reach the partner's ledger (issue 15 item 8): for every order of this site's
// shop that is cancelled, whoever cancelled it (the console, `tieup partner shop order cancel`,
// the shop itself), one ledger::OrderCancelRecord referencing the order, dated when it was
// cancelled, so that main's fee statements take it back (fees/inputs.h: subtracted in the
// period of the cancellation).
//
// The daemon looks for new cancellations at every tick: the command line and the console change
// the shop's tables, not the daemon's objects, so the tables are the one place that sees them
// all. A cancellation is recorded once: table ledger_order_cancels (schema component
// "partner_order_cancels") names each order recorded, written right after the append.
#pragma once

#include <cstddef>
#include <string>

#include "base/status.h"
#include "ledger/log.h"
#include "store/database.h"

namespace tieup {

class PartnerDaemon;

// Appends a cancellation record to `log` for each cancelled order in `db` (the shop's tables)
// not recorded yet, at most `max` of them, and returns how many it appended. `partner` is this
// site's id. Errors: the database or the ledger failed (what was appended stays recorded).
Result<size_t> RecordOrderCancellations(Database& db, ledger::Log& log, const std::string& partner,
                                        size_t max = 200);

// Runs RecordOrderCancellations on the daemon's ticks (after the shop's tables exist). One line
// in AttachShop.
Status AttachOrderCancellationRecorder(PartnerDaemon& daemon);

}  // namespace tieup
