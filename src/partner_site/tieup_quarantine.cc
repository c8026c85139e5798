#include "partner_site/tieup_quarantine.h"

#include "base/encoding.h"

namespace tieup {
namespace {

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> steps = {
      {1,
       "CREATE TABLE partner_quarantine(area TEXT PRIMARY KEY, since INTEGER NOT NULL, reason "
       "TEXT NOT NULL)"},
  };
  return steps;
}

// The stored stop (the table migrated already).
Result<std::optional<TieupStop>> ReadStop(Database& db) {
  ASSIGN_OR_RETURN(auto rows, db.Query("SELECT since, reason FROM partner_quarantine WHERE area "
                                       "= 'tieup'"));
  if (rows.empty()) return std::optional<TieupStop>();
  return std::optional<TieupStop>(TieupStop{rows[0].Int(0), rows[0].Text(1)});
}

}  // namespace

Result<std::optional<TieupStop>> ReadTieupStop(Database& db) {
  RETURN_IF_ERROR(Migrate(db, "quarantine", Migrations()));
  return ReadStop(db);
}

Result<TieupStop> ResumeTieupArea(Database& db) {
  ASSIGN_OR_RETURN(std::optional<TieupStop> stop, ReadTieupStop(db));
  if (!stop) {
    return Status::NotFound("the tie-up pages are not stopped: nothing to resume");
  }
  RETURN_IF_ERROR(db.Exec("DELETE FROM partner_quarantine WHERE area = 'tieup'"));
  return *stop;
}

Result<std::unique_ptr<TieupQuarantine>> TieupQuarantine::Open(Env& env, Database& db,
                                                               sync::TieupNotices& board) {
  std::unique_ptr<TieupQuarantine> q(new TieupQuarantine(env, db, board));
  ASSIGN_OR_RETURN(q->stop_, ReadTieupStop(db));
  std::lock_guard<std::mutex> lock(q->mu_);
  q->PublishLocked();
  return q;
}

void TieupQuarantine::PublishLocked() {
  board_.SetQuarantined(stop_ ? std::make_shared<const std::string>(stop_->reason) : nullptr);
}

Result<std::optional<TieupStop>> TieupQuarantine::Found(const std::string& what) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stop_) return std::optional<TieupStop>();
  const int64_t now = env_.NowSeconds();
  recent_.push_back(now);
  while (!recent_.empty() && recent_.front() <= now - kWindowSeconds) recent_.pop_front();
  if (static_cast<int>(recent_.size()) < kRepeatLimit) return std::optional<TieupStop>();
  const std::string reason = "tie-up files were changed on disk " + std::to_string(recent_.size()) +
                             " times within " + std::to_string(kWindowSeconds / 60) +
                             " minutes (the last: " + what + ")";
  TieupStop stop{now, reason + ": someone may still be changing this server's files"};
  RETURN_IF_ERROR(
      db_.Exec("INSERT INTO partner_quarantine(area, since, reason) VALUES('tieup', ?, ?) ON "
               "CONFLICT(area) DO UPDATE SET since = excluded.since, reason = excluded.reason",
               {stop.since, stop.reason}));
  stop_ = stop;
  recent_.clear();
  PublishLocked();
  return std::optional<TieupStop>(stop);
}

Result<bool> TieupQuarantine::Refresh() {
  ASSIGN_OR_RETURN(std::optional<TieupStop> stored, ReadStop(db_));  // Open migrated
  std::lock_guard<std::mutex> lock(mu_);
  const bool lifted = stop_.has_value() && !stored.has_value();
  stop_ = stored;
  PublishLocked();
  return lifted;
}

std::optional<TieupStop> TieupQuarantine::current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stop_;
}

}  // namespace tieup
