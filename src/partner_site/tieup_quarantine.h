// Stopping the tie-up area when its files keep being changed (issue 17 item 4): a tie-up file
// changed or removed on disk is restored at once (partner_daemon.cc), but when it happens
// kRepeatLimit times within kWindowSeconds,
// someone is likely still inside, and restoring again and again would hide it. The partner then
// stops serving its tie-up pages (they answer 503 "unavailable for now"; original pages are
// served as before), tells main (a critical security event: main's manager may also withdraw the
// pages) and waits for its manager: `tieup partner resume DIR` once the server is clean.
//
// The stop is kept in the site's database (table partner_quarantine), so a restart does not lift
// it, and the running daemon sees a `resume` from the command line at its next tick.
// Thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "base/env.h"
#include "base/status.h"
#include "store/database.h"
#include "sync/tieup_notices.h"

namespace tieup {

struct TieupStop {
  int64_t since = 0;  // unix seconds
  std::string reason;
};

class TieupQuarantine {
 public:
  static constexpr int kRepeatLimit = 3;
  static constexpr int64_t kWindowSeconds = 600;

  // Migrates its table and puts the stored state on `board` (which outlives the object).
  static Result<std::unique_ptr<TieupQuarantine>> Open(Env& env, Database& db,
                                                       sync::TieupNotices& board);

  // A tie-up file was found changed or removed on disk (`what` names it). Returns the stop when
  // this finding stopped the area, nullopt otherwise (also when it is stopped already).
  Result<std::optional<TieupStop>> Found(const std::string& what);

  // Rereads the stored state (a `tieup partner resume` from another process); true when the
  // stop was lifted since the last call.
  Result<bool> Refresh();

  std::optional<TieupStop> current() const;

 private:
  TieupQuarantine(Env& env, Database& db, sync::TieupNotices& board)
      : env_(env), db_(db), board_(board) {}
  void PublishLocked();
  Env& env_;
  Database& db_;
  sync::TieupNotices& board_;
  mutable std::mutex mu_;
  std::optional<TieupStop> stop_;
  std::deque<int64_t> recent_;  // times of recent findings
};

// The stop in effect at the partner whose database is `db`, or nullopt.
Result<std::optional<TieupStop>> ReadTieupStop(Database& db);
// Lifts it (`tieup partner resume`); NotFound when the tie-up pages are not stopped.
Result<TieupStop> ResumeTieupArea(Database& db);

}  // namespace tieup
