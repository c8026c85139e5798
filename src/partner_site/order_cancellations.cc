#include "partner_site/order_cancellations.h"

#include <algorithm>
#include <vector>

#include "ledger/records.h"
#include "partner_site/partner_daemon.h"
#include "store/database.h"

namespace tieup {
namespace {

const std::vector<Migration>& Migrations() {
  // No release has shipped with this component: step 1 is still free to change.
  static const std::vector<Migration> kSteps = {
      {1,
       "CREATE TABLE ledger_order_cancel_cursor ("
       "  id INTEGER PRIMARY KEY CHECK (id = 1),"
       "  last_event_id INTEGER NOT NULL);"
       "INSERT INTO ledger_order_cancel_cursor(id, last_event_id) VALUES (1, 0);"},
  };
  return kSteps;
}

}  // namespace

Status MigrateOrderCancellations(Database& db) {
  return Migrate(db, "partner_order_cancels", Migrations());
}

Result<size_t> RecordOrderCancellations(Database& db, ledger::Log& log, const std::string& partner,
                                        size_t max) {
  ASSIGN_OR_RETURN(auto cursor,
                   db.Query("SELECT last_event_id FROM ledger_order_cancel_cursor WHERE id = 1"));
  if (cursor.empty()) {
    return Status::FailedPrecondition("the ledger's order cancellation cursor is missing");
  }
  // Only the order events after the last one recorded: the index on the primary key, never a
  // scan of every cancellation ever.
  ASSIGN_OR_RETURN(
      auto rows,
      db.Query("SELECT e.id, o.number, o.area, o.total_minor, o.currency, e.at_micros FROM "
               "commerce_order_events e JOIN commerce_orders o ON o.id = e.order_id WHERE "
               "e.id > ? AND e.to_status = 'cancelled' ORDER BY e.id LIMIT ?",
               {cursor[0].Int(0), static_cast<int64_t>(max)}));
  size_t appended = 0;
  for (const SqlRow& row : rows) {
    ledger::OrderCancelRecord r;
    r.order_id = row.Text(1);
    r.area = row.Text(2) == "original" ? ledger::RecordArea::kOriginal : ledger::RecordArea::kTieup;
    r.amount_minor = std::max<int64_t>(0, row.Int(3));
    r.currency = row.Text(4);
    r.time_micros = std::max<int64_t>(0, row.Int(5));
    r.partner = partner;
    r.kind = "cancelled";
    RETURN_IF_ERROR(log.Append(ledger::EncodeRecord(r)).status());
    // Advanced only once the record is durable. A crash between the two appends it again on
    // the next tick; fees/inputs.cc counts one cancellation per order, so that is harmless.
    RETURN_IF_ERROR(db.Exec("UPDATE ledger_order_cancel_cursor SET last_event_id = ? WHERE id = 1",
                            {row.Int(0)}));
    ++appended;
  }
  return appended;
}

Status AttachOrderCancellationRecorder(PartnerDaemon& daemon) {
  RETURN_IF_ERROR(MigrateOrderCancellations(daemon.db()));
  daemon.AddPeriodicTask("order cancellations", [&daemon] {
    auto done =
        RecordOrderCancellations(daemon.db(), daemon.site().ledger(), daemon.site().config().id);
    if (!done.ok()) {
      daemon.logger()->warn("ledger: recording cancelled orders: {}", done.status().message());
    } else if (*done > 0) {
      daemon.logger()->info("ledger: recorded {} cancelled order(s)", *done);
    }
  });
  return Status::Ok();
}

}  // namespace tieup
