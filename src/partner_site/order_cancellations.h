// Cancelled orders reach the partner's ledger (issue 15 item 8): for every order of this site's
// shop that is cancelled, whoever cancelled it (the console, `tieup partner shop order cancel`,
// the shop itself), one ledger::OrderCancelRecord referencing the order, dated when it was
// cancelled, so that main's fee statements take it back (fees/inputs.h: subtracted in the
// period of the cancellation).
//
// The daemon looks for new cancellations at every tick: the command line and the console change
// the shop's tables, not the daemon's objects, so the tables are the one place that sees them
// all. Each tick reads only the order events after a cursor: table ledger_order_cancel_cursor
// (schema component "partner_order_cancels", one row) keeps the id of the last
// commerce_order_events row recorded, advanced right after each append (a crash in between
// records that cancellation twice, which fees/inputs.cc counts once per order).
#pragma once

#include <cstddef>
#include <string>

#include "base/status.h"
#include "ledger/log.h"
#include "store/database.h"

namespace tieup {

class PartnerDaemon;

// Creates or updates the cursor's table in `db`. Once, before RecordOrderCancellations.
Status MigrateOrderCancellations(Database& db);

// Appends a cancellation record to `log` for each cancellation event in `db` (the shop's
// tables) after the cursor, at most `max` of them in event order, and returns how many it
// appended. `partner` is this site's id. Needs MigrateOrderCancellations and the shop's schema.
// Errors: the database or the ledger failed (what was appended stays recorded).
Result<size_t> RecordOrderCancellations(Database& db, ledger::Log& log, const std::string& partner,
                                        size_t max = 200);

// Runs RecordOrderCancellations on the daemon's ticks (after the shop's tables exist). One line
// in AttachShop.
Status AttachOrderCancellationRecorder(PartnerDaemon& daemon);

}  // namespace tieup
