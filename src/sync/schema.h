// Private to sync: the SQLite schema of both sides (one migration list, so a database used by
// both roles in a test stays consistent), and the event table helpers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "store/database.h"
#include "sync/protocol.h"

namespace tieup::sync::internal {

// Migrate(db, "sync", ...) with every table of the publisher and the receiver.
Status MigrateSyncSchema(Database& db);

// Appends one line to sync_events.
Status RecordEvent(Database& db, int64_t time, std::string_view partner, std::string_view update_id,
                   uint64_t version, std::string_view kind, std::string_view message);

// The newest `limit` events, oldest first; only those of `partner` unless it is empty.
Result<std::vector<SyncEvent>> ListEvents(Database& db, std::string_view partner, size_t limit);

}  // namespace tieup::sync::internal
