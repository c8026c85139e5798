#include "partner_site/order_cancellations.h"

#include <algorithm>
#include <vector>

#include "ledger/records.h"
#include "partner_site/partner_daemon.h"
#include "store/database.h"

namespace tieup {
namespace {

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> kSteps = {
      {1,
       "CREATE TABLE ledger_order_cancels ("
       "  number TEXT PRIMARY KEY,"
       "  entry INTEGER NOT NULL);"},
  };
  return kSteps;
}

}  // namespace

Result<size_t> RecordOrderCancellations(Database& db, ledger::Log& log, const std::string& partner,
                                        size_t max) {
  RETURN_IF_ERROR(Migrate(db, "partner_order_cancels", Migrations()));
  ASSIGN_OR_RETURN(
      auto rows,
      db.Query("SELECT o.number, o.area, o.total_minor, o.currency, MAX(e.at_micros) FROM "
               "commerce_orders o JOIN commerce_order_events e ON e.order_id = o.id AND "
               "e.to_status = 'cancelled' WHERE o.status = 'cancelled' AND o.number NOT IN "
               "(SELECT number FROM ledger_order_cancels) GROUP BY o.id, o.number, o.area, "
               "o.total_minor, o.currency ORDER BY MAX(e.at_micros), o.id LIMIT ?",
               {static_cast<int64_t>(max)}));
  size_t appended = 0;
  for (const SqlRow& row : rows) {
    ledger::OrderCancelRecord r;
    r.order_id = row.Text(0);
    r.area = row.Text(1) == "original" ? ledger::RecordArea::kOriginal : ledger::RecordArea::kTieup;
    r.amount_minor = std::max<int64_t>(0, row.Int(2));
    r.currency = row.Text(3);
    r.time_micros = std::max<int64_t>(0, row.Int(4));
    r.partner = partner;
    r.kind = "cancelled";
    ASSIGN_OR_RETURN(uint64_t entry, log.Append(ledger::EncodeRecord(r)));
    RETURN_IF_ERROR(
        db.Exec("INSERT OR IGNORE INTO ledger_order_cancels(number, entry) VALUES(?, ?)",
                {r.order_id, static_cast<int64_t>(entry)}));
    ++appended;
  }
  return appended;
}

Status AttachOrderCancellationRecorder(PartnerDaemon& daemon) {
  RETURN_IF_ERROR(Migrate(daemon.db(), "partner_order_cancels", Migrations()));
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
