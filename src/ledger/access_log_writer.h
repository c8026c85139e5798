// The partner's access recorder: HTTP worker threads hand it one AccessRecord per request;
// a background thread group-commits them to the ledger and signs checkpoints.
//
// When the ledger cannot be written (a full disk), requests keep being served: their records
// stay queued (up to max_queue) and the writer tries again every retry_interval (and at each
// Flush); the ledger recovers by itself (log.h), so once a write succeeds everything queued is
// written in order. A request whose record cannot be kept (the queue is full, or the writer
// stops while writes still fail) is never silently lost: it is counted, and the count, with the
// arrival times of the first and last such request and the reason, is written to the ledger as
// an UnrecordedRecord (records.h) before any later record, so it is signed and shipped to main
// like every entry. Until then the count is kept in "<ledger dir>/unrecorded.pending" (when it
// can be written) so a restart does not lose it. Failures are logged once, then summarised at
// most every fault_log_interval, and the recovery is logged with the count.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>

#include "base/env.h"
#include "base/log.h"
#include "base/status.h"
#include "ledger/checkpoint.h"
#include "ledger/log.h"
#include "ledger/records.h"

namespace tieup::ledger {

struct AccessLogWriterOptions {
  // Records waiting to be written; Record() drops (and counts) what does not fit.
  size_t max_queue = 65536;
  // The writer commits at least this often while records wait...
  std::chrono::milliseconds commit_interval{5};
  // ...and at once when this many are waiting (also the largest batch per fsync).
  size_t max_batch = 4096;
  // While the ledger cannot be written, the writer tries again this often (real time).
  std::chrono::milliseconds retry_interval{1000};
  // While the ledger cannot be written (or records are dropped), a summary is logged at most
  // this often (by the Env's clock).
  std::chrono::seconds fault_log_interval{60};
  // A checkpoint is signed when this much time (by the Env's clock) has passed since the last
  // one and the log has grown. Zero: only on demand (CheckpointNow).
  std::chrono::seconds checkpoint_interval{60};
  // Called with each newly signed checkpoint note (to ship it to main): on the writer thread
  // for periodic checkpoints, on the caller's thread for CheckpointNow.
  std::function<void(const std::string& note)> on_checkpoint;
};

// Thread safety: Record, Flush, CheckpointNow and the counters may be called from any thread.
class AccessLogWriter {
 public:
  // Writes to `log`, which must outlive the writer. With a `signer`, checkpoints are signed
  // (origin = the signer's name) periodically and on demand. `env` gives the clock for the
  // checkpoint interval. `logger` receives warnings (drops, failed writes); may be null.
  // A count of unrecorded requests left by an earlier run (unrecorded.pending) is taken over and
  // written to the ledger first.
  AccessLogWriter(Env& env, Log& log, std::optional<NoteSigner> signer,
                  AccessLogWriterOptions options = {}, std::shared_ptr<Logger> logger = nullptr);
  // Flushes what is queued, then stops the writer thread. Records that still cannot be written
  // are counted as unrecorded (and persisted in unrecorded.pending when possible).
  ~AccessLogWriter();
  AccessLogWriter(const AccessLogWriter&) = delete;
  AccessLogWriter& operator=(const AccessLogWriter&) = delete;

  // Queues `record` and returns at once: never waits for disk. When the queue is full the
  // record is dropped and counted (see dropped() and unrecorded()).
  void Record(AccessRecord record);
  // The same for the advertisements a page showed or a click on one (site/ad_frames.h).
  void Record(AdRecord record);
  // The same for a search on the site's search page or a click on one of its results. A query
  // of more than kMaxSearchQueryBytes (after invalid UTF-8 is replaced, as EncodeRecord does) is
  // cut to fit at a character boundary, so that the record is always one ParseRecord reads.
  void Record(SearchRecord record);

  // Makes one write attempt for what is queued (and a pending count of unrecorded requests)
  // and waits for it: OK once every record queued before the call is durable and the periodic
  // checkpoint check that follows has run; the write error when an attempt made after the call
  // failed (the records stay queued and are tried again).
  Status Flush();
  // Flushes, then signs and stores a checkpoint of the log now; returns the note. Records that
  // cannot be written do not stop the checkpoint (they are counted as unrecorded); a failure to
  // store the checkpoint does.
  Result<std::string> CheckpointNow();

  // Records dropped because the queue was full, since the start.
  uint64_t dropped() const;
  // Records made durable, since the start.
  uint64_t committed() const;
  // Requests that could not be recorded, since the start (dropped, or still queued when the
  // writer stopped while writes failed), plus the count taken over from an earlier run.
  uint64_t unrecorded() const;
  // Of those, how many are not yet counted in an UnrecordedRecord in the ledger.
  uint64_t unrecorded_pending() const;
  // Write attempts that failed, since the start.
  uint64_t failed_writes() const;
  // True while the last write attempt failed.
  bool failing() const;

  // The file that keeps the pending count of unrecorded requests: "<ledger
  // dir>/unrecorded.pending".
  static std::string PendingPath(const std::string& ledger_dir);

 private:
  // Requests not recorded that the ledger does not count yet.
  struct Gap {
    uint64_t count = 0;
    int64_t first_micros = 0;
    int64_t last_micros = 0;
    std::string reason;
    void Add(int64_t micros, const std::string& why);
    void Merge(const Gap& other);
  };

  void Run();
  void MaybePeriodicCheckpoint();
  using Queued = std::variant<AccessRecord, AdRecord, SearchRecord>;
  void Enqueue(Queued record);
  // Under mu_: counts `record` as unrecorded.
  void CountUnrecordedLocked(const Queued& record, const std::string& why);
  // Writer thread, without mu_: persists `gap` in PendingPath (removes the file when empty).
  // Best effort: a failure is logged once per fault.
  void PersistPending(const Gap& gap);
  // Writer thread, under mu_: the rate-limited fault log lines.
  void LogFaultLocked(const Status& error, bool first_failure);

  Env& env_;
  Log& log_;
  std::optional<NoteSigner> signer_;
  const AccessLogWriterOptions options_;
  std::shared_ptr<Logger> logger_;
  const std::string pending_path_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  std::deque<Queued> queue_;
  uint64_t queued_ = 0;     // records ever queued
  uint64_t processed_ = 0;  // records ever finished (committed, or counted unrecorded at stop)
  uint64_t checked_ = 0;    // processed_ when the last periodic checkpoint check finished
  int flush_waiters_ = 0;
  uint64_t flush_requests_ = 0;  // Flush calls ever made
  uint64_t flush_served_ = 0;    // flush_requests_ when the last attempt began
  uint64_t attempts_begun_ = 0;
  uint64_t attempts_done_ = 0;
  uint64_t last_failed_attempt_ = 0;  // number (1-based) of the last failed attempt; 0: none
  bool stopping_ = false;
  uint64_t dropped_ = 0;
  uint64_t committed_ = 0;
  uint64_t unrecorded_ = 0;
  uint64_t failed_writes_ = 0;
  Gap pending_;                 // not yet in the ledger (nor being written)
  uint64_t inflight_gap_ = 0;   // the count being written now
  bool pending_dirty_ = false;  // pending_ changed since it was last persisted
  bool failing_ = false;
  Status last_error_;
  int64_t fault_since_micros_ = 0;
  int64_t last_fault_log_micros_ = 0;
  uint64_t dropped_logged_ = 0;
  int64_t last_drop_log_micros_ = 0;

  // Writer thread only (and the constructor, before it starts).
  int64_t last_checkpoint_micros_ = 0;
  uint64_t last_checkpoint_size_ = UINT64_MAX;
  bool pending_file_ = false;  // PendingPath may exist
  bool persist_failure_logged_ = false;

  std::thread thread_;  // started by the constructor once every member above is ready
};

}  // namespace tieup::ledger
