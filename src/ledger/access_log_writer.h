// The partner's access recorder: HTTP worker threads hand it one AccessRecord per request;
// a background thread group-commits them to the ledger and signs checkpoints.
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
  AccessLogWriter(Env& env, Log& log, std::optional<NoteSigner> signer,
                  AccessLogWriterOptions options = {}, std::shared_ptr<Logger> logger = nullptr);
  // Flushes what is queued, then stops the writer thread.
  ~AccessLogWriter();
  AccessLogWriter(const AccessLogWriter&) = delete;
  AccessLogWriter& operator=(const AccessLogWriter&) = delete;

  // Queues `record` and returns at once: never waits for disk. When the queue is full the
  // record is dropped and counted (see dropped()).
  void Record(AccessRecord record);

  // Waits until every record queued before the call is durable (or failed) and the periodic
  // checkpoint check that follows has run. Returns the first write error since the last Flush.
  Status Flush();
  // Flushes, then signs and stores a checkpoint of the log now; returns the note.
  Result<std::string> CheckpointNow();

  // Records dropped because the queue was full, since the start.
  uint64_t dropped() const;
  // Records made durable, since the start.
  uint64_t committed() const;
  // Records lost to failed writes, since the start.
  uint64_t failed() const;

 private:
  void Run();
  void MaybePeriodicCheckpoint();

  Env& env_;
  Log& log_;
  std::optional<NoteSigner> signer_;
  const AccessLogWriterOptions options_;
  std::shared_ptr<Logger> logger_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  std::deque<AccessRecord> queue_;
  uint64_t queued_ = 0;     // records ever queued
  uint64_t processed_ = 0;  // records ever finished (committed or failed)
  uint64_t checked_ = 0;    // processed_ when the last periodic checkpoint check finished
  int flush_waiters_ = 0;
  bool stopping_ = false;
  uint64_t dropped_ = 0;
  uint64_t dropped_reported_ = 0;
  uint64_t committed_ = 0;
  uint64_t failed_ = 0;
  Status first_error_;

  // Writer thread only.
  int64_t last_checkpoint_micros_ = 0;
  uint64_t last_checkpoint_size_ = UINT64_MAX;

  std::thread thread_;  // last: starts after every member above is ready
};

}  // namespace tieup::ledger
