#include "ledger/access_log_writer.h"

#include <algorithm>
#include <variant>
#include <vector>

#include "base/encoding.h"

namespace tieup::ledger {
namespace {

// How often an idle writer wakes up to see whether a periodic checkpoint is due.
constexpr std::chrono::milliseconds kIdleTick{1000};
constexpr std::string_view kPendingName = "unrecorded.pending";
// Reasons longer than this are cut (an error message can name long paths).
constexpr size_t kMaxReasonBytes = 400;

std::string Rfc3339Micros(int64_t micros) { return FormatRfc3339(micros / 1'000'000); }

int64_t Micros(std::chrono::seconds d) { return static_cast<int64_t>(d.count()) * 1'000'000; }

}  // namespace

void AccessLogWriter::Gap::Add(int64_t micros, const std::string& why) {
  if (count == 0) {
    first_micros = last_micros = micros;
    reason = why.substr(0, kMaxReasonBytes);
  } else {
    first_micros = std::min(first_micros, micros);
    last_micros = std::max(last_micros, micros);
  }
  ++count;
}

void AccessLogWriter::Gap::Merge(const Gap& other) {
  if (other.count == 0) return;
  if (count == 0) {
    *this = other;
    return;
  }
  count += other.count;
  first_micros = std::min(first_micros, other.first_micros);
  last_micros = std::max(last_micros, other.last_micros);
}

std::string AccessLogWriter::PendingPath(const std::string& ledger_dir) {
  return JoinPath(ledger_dir, kPendingName);
}

AccessLogWriter::AccessLogWriter(Env& env, Log& log, std::optional<NoteSigner> signer,
                                 AccessLogWriterOptions options, std::shared_ptr<Logger> logger)
    : env_(env),
      log_(log),
      signer_(std::move(signer)),
      options_(std::move(options)),
      logger_(logger != nullptr ? std::move(logger) : NewNullLogger()),
      pending_path_(PendingPath(log.dir())) {
  // A count an earlier run could not write to the ledger: taken over, written first.
  if (env_.FileExists(pending_path_)) {
    auto text = env_.ReadFile(pending_path_);
    Result<LedgerRecord> parsed =
        text.ok() ? ParseRecord(*text) : Result<LedgerRecord>(text.status());
    const UnrecordedRecord* r =
        parsed.ok() ? std::get_if<UnrecordedRecord>(&parsed.value()) : nullptr;
    if (r != nullptr) {
      pending_.count = r->count;
      pending_.first_micros = r->first_micros;
      pending_.last_micros = r->last_micros;
      pending_.reason = r->reason;
      unrecorded_ = r->count;
      pending_file_ = true;
      logger_->warn(
          "ledger '{}': an earlier run could not record {} requests (between {} and {}); "
          "the count is written to the ledger now",
          log_.dir(), r->count, Rfc3339Micros(r->first_micros), Rfc3339Micros(r->last_micros));
    } else {
      logger_->error(
          "ledger '{}': '{}' does not hold a count of unrecorded requests ({}); it is "
          "left as it is for the site manager to look at",
          log_.dir(), pending_path_,
          parsed.ok() ? "another record type" : parsed.status().ToString());
    }
  }
  thread_ = std::thread([this] { Run(); });
}

AccessLogWriter::~AccessLogWriter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  thread_.join();
}

void AccessLogWriter::CountUnrecordedLocked(const Queued& record, const std::string& why) {
  pending_.Add(std::visit([](const auto& r) { return r.time_micros; }, record), why);
  pending_dirty_ = true;
  ++unrecorded_;
}

void AccessLogWriter::Record(AccessRecord record) { Enqueue(std::move(record)); }

void AccessLogWriter::Record(AdRecord record) { Enqueue(std::move(record)); }

void AccessLogWriter::Record(SearchRecord record) {
  if (record.query.size() > kMaxSearchQueryBytes || !IsValidUtf8(record.query)) {
    std::string query = SanitizeUtf8(record.query);
    size_t end = 0;  // the longest whole-character prefix that fits
    while (end < query.size()) {
      const size_t n = Utf8SequenceLength(query, end);
      if (n == 0 || end + n > kMaxSearchQueryBytes) break;
      end += n;
    }
    query.resize(end);
    record.query = std::move(query);
  }
  Enqueue(std::move(record));
}

void AccessLogWriter::Enqueue(Queued record) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || queue_.size() >= options_.max_queue) {
      ++dropped_;
      // The reason of a gap is that of its first request: built only then.
      std::string why;
      if (pending_.count == 0) {
        why = stopping_  ? std::string("the access recorder was stopping")
              : failing_ ? "the ledger could not be written (" + last_error_.message() +
                               ") and the queue of " + std::to_string(options_.max_queue) +
                               " records waiting for it was full"
                         : "the queue of " + std::to_string(options_.max_queue) +
                               " records was full (the ledger writer fell behind)";
      }
      CountUnrecordedLocked(record, why);
      return;
    }
    queue_.push_back(std::move(record));
    ++queued_;
    // The first record starts the writer's commit timer; a full batch commits at once.
    wake = queue_.size() == 1 || queue_.size() == options_.max_batch;
  }
  if (wake) work_cv_.notify_one();
}

Status AccessLogWriter::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t target = queued_;
  const uint64_t before = attempts_begun_;
  const bool gap_waiting = pending_.count > 0;
  ++flush_waiters_;
  ++flush_requests_;
  work_cv_.notify_one();
  done_cv_.wait(lock, [&] {
    return last_failed_attempt_ > before ||
           (checked_ >= target && (!gap_waiting || attempts_done_ > before)) ||
           (stopping_ && queue_.empty() && attempts_done_ == attempts_begun_);
  });
  --flush_waiters_;
  if (last_failed_attempt_ > before) return last_error_;
  return Status::Ok();
}

Result<std::string> AccessLogWriter::CheckpointNow() {
  // Records that cannot be written now are kept or counted (and the fault logged): the
  // checkpoint covers what is durable.
  (void)Flush();
  if (!signer_.has_value()) {
    return Status::FailedPrecondition("the access log writer has no signing key for checkpoints");
  }
  ASSIGN_OR_RETURN(std::string note, log_.SignCheckpoint(*signer_));
  if (options_.on_checkpoint) options_.on_checkpoint(note);
  return note;
}

uint64_t AccessLogWriter::dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dropped_;
}

uint64_t AccessLogWriter::committed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return committed_;
}

uint64_t AccessLogWriter::unrecorded() const {
  std::lock_guard<std::mutex> lock(mu_);
  return unrecorded_;
}

uint64_t AccessLogWriter::unrecorded_pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.count + inflight_gap_;
}

uint64_t AccessLogWriter::failed_writes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failed_writes_;
}

bool AccessLogWriter::failing() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failing_;
}

void AccessLogWriter::MaybePeriodicCheckpoint() {
  if (!signer_.has_value() || options_.checkpoint_interval.count() <= 0) return;
  int64_t now = env_.NowMicros();
  int64_t interval =
      std::chrono::duration_cast<std::chrono::microseconds>(options_.checkpoint_interval).count();
  uint64_t size = log_.size();
  if (size == last_checkpoint_size_ || now - last_checkpoint_micros_ < interval) return;
  auto note = log_.SignCheckpoint(*signer_);
  if (!note.ok()) {
    logger_->warn("ledger '{}': signing a checkpoint failed: {}", log_.dir(),
                  note.status().ToString());
    return;
  }
  last_checkpoint_micros_ = now;
  last_checkpoint_size_ = size;
  if (options_.on_checkpoint) options_.on_checkpoint(*note);
}

void AccessLogWriter::PersistPending(const Gap& gap) {
  if (gap.count == 0) {
    if (!pending_file_) return;
    Status s = env_.RemoveFile(pending_path_);
    if (s.ok() || s.code() == StatusCode::kNotFound) pending_file_ = false;
    return;
  }
  UnrecordedRecord r;
  r.count = gap.count;
  r.first_micros = gap.first_micros;
  r.last_micros = gap.last_micros;
  r.reason = gap.reason;
  pending_file_ = true;
  Status s = WriteFileAtomic(env_, pending_path_, EncodeRecord(r));
  if (s.ok()) {
    persist_failure_logged_ = false;
    return;
  }
  (void)env_.RemoveFile(pending_path_ + ".tmp");
  if (!persist_failure_logged_) {
    persist_failure_logged_ = true;
    logger_->error(
        "ledger '{}': cannot keep the count of {} unrecorded requests in '{}' either "
        "({}); it is kept in memory and written to the ledger once it can be written",
        log_.dir(), gap.count, pending_path_, s.ToString());
  }
}

void AccessLogWriter::LogFaultLocked(const Status& error, bool first_failure) {
  const int64_t now = env_.NowMicros();
  dropped_logged_ = dropped_;  // drops during the fault are in its summaries
  if (first_failure) {
    last_fault_log_micros_ = now;
    logger_->error(
        "ledger '{}': access records cannot be written: {}. Requests are still "
        "served; their records wait in memory (up to {}) and are written as soon as "
        "the ledger can be written again (tried every {} ms); any that do not fit are "
        "counted and reported to main",
        log_.dir(), error.ToString(), options_.max_queue, options_.retry_interval.count());
    return;
  }
  if (now - last_fault_log_micros_ < Micros(options_.fault_log_interval)) return;
  last_fault_log_micros_ = now;
  logger_->warn(
      "ledger '{}' still cannot be written ({} s, {} failed attempts): {} records "
      "waiting, {} requests unrecorded so far; last error: {}",
      log_.dir(), (now - fault_since_micros_) / 1'000'000, failed_writes_, queue_.size(),
      unrecorded_, error.ToString());
}

void AccessLogWriter::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (failing_) {
      // Try again after the retry interval, at once for a new Flush or the stop.
      work_cv_.wait_for(lock, options_.retry_interval,
                        [&] { return stopping_ || flush_requests_ != flush_served_; });
    } else {
      auto urgent = [&] {
        return stopping_ || flush_waiters_ > 0 || queue_.size() >= options_.max_batch ||
               pending_.count > 0;
      };
      if (queue_.empty() && !urgent()) {
        work_cv_.wait_for(lock, kIdleTick, [&] { return urgent() || !queue_.empty(); });
      }
      if (!queue_.empty() && !urgent()) {
        // Let a batch gather for up to commit_interval.
        work_cv_.wait_for(lock, options_.commit_interval, urgent);
      }
    }
    if (stopping_ && queue_.empty() && pending_.count == 0) break;

    std::vector<Queued> batch;
    size_t n = std::min(queue_.size(), options_.max_batch);
    batch.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    Gap gap = std::move(pending_);
    pending_ = Gap{};
    inflight_gap_ = gap.count;
    flush_served_ = flush_requests_;
    const bool write = !batch.empty() || gap.count > 0;
    const uint64_t attempt = write ? ++attempts_begun_ : 0;
    const uint64_t new_drops = dropped_ - dropped_logged_;
    const bool log_drops = new_drops > 0 && !failing_ &&
                           (dropped_logged_ == 0 || env_.NowMicros() - last_drop_log_micros_ >=
                                                        Micros(options_.fault_log_interval));
    if (log_drops) {
      dropped_logged_ = dropped_;
      last_drop_log_micros_ = env_.NowMicros();
    }
    lock.unlock();

    if (log_drops) {
      logger_->warn(
          "ledger '{}': dropped {} access records because the queue of {} was full; "
          "they are counted in an 'unrecorded' ledger entry",
          log_.dir(), new_drops, options_.max_queue);
    }
    Status status;
    if (write) {
      std::vector<std::string> entries;
      entries.reserve(batch.size() + 1);
      if (gap.count > 0) {
        // First: the count belongs before every later record.
        UnrecordedRecord r;
        r.count = gap.count;
        r.first_micros = gap.first_micros;
        r.last_micros = gap.last_micros;
        r.reason = gap.reason;
        entries.push_back(EncodeRecord(r));
      }
      for (const Queued& r : batch) {
        entries.push_back(std::visit([](const auto& x) { return EncodeRecord(x); }, r));
      }
      status = log_.Append(std::move(entries)).status();
    }
    if (status.ok()) MaybePeriodicCheckpoint();

    lock.lock();
    if (write) ++attempts_done_;
    inflight_gap_ = 0;
    if (status.ok()) {
      processed_ += batch.size();
      committed_ += batch.size();
      if (failing_) {
        failing_ = false;
        logger_->warn(
            "ledger '{}' is written again after {} s and {} failed attempts; the "
            "records that waited are being written",
            log_.dir(), (env_.NowMicros() - fault_since_micros_) / 1'000'000, failed_writes_);
      }
      if (gap.count > 0) {
        logger_->warn(
            "ledger '{}': {} requests could not be recorded between {} and {} ({}); "
            "their count is now a ledger entry, and main raises an alert for it",
            log_.dir(), gap.count, Rfc3339Micros(gap.first_micros), Rfc3339Micros(gap.last_micros),
            gap.reason);
        pending_dirty_ = true;  // the kept count is written: remove (or shrink) the file
      }
    } else {
      ++failed_writes_;
      last_failed_attempt_ = attempt;
      last_error_ = status;
      // Nothing of the batch was kept (log.h): back to the front, in order.
      for (auto it = batch.rbegin(); it != batch.rend(); ++it) queue_.push_front(std::move(*it));
      gap.Merge(pending_);
      pending_ = std::move(gap);
      const bool first_failure = !failing_;
      if (first_failure) fault_since_micros_ = env_.NowMicros();
      failing_ = true;
      LogFaultLocked(status, first_failure);
      if (stopping_) {
        // The last chance has passed: what is still queued is counted, not lost silently.
        const std::string why =
            "the site stopped while the ledger could not be written (" + status.message() + ")";
        const uint64_t lost = queue_.size();
        for (const Queued& r : queue_) CountUnrecordedLocked(r, why);
        processed_ += lost;
        queue_.clear();
        logger_->error(
            "ledger '{}': {} access records could not be written before the stop; "
            "{} requests are counted as unrecorded and reported to main once the "
            "ledger can be written",
            log_.dir(), lost, pending_.count);
      }
      pending_dirty_ = pending_dirty_ || pending_.count > 0;
    }
    if (pending_dirty_ && (failing_ || pending_.count == 0)) {
      // While the ledger cannot take the count, a file keeps it across a restart.
      pending_dirty_ = false;
      Gap copy = pending_;
      lock.unlock();
      PersistPending(copy);
      lock.lock();
    }
    checked_ = processed_;
    done_cv_.notify_all();
    // A stop that came while this failed attempt was under way (the lock is let go around the
    // write and the count's file) has not counted the records still queued: one more attempt
    // does, or writes them when it can.
    if (stopping_ && failing_ && queue_.empty()) break;
  }
  checked_ = processed_;
  done_cv_.notify_all();
}

}  // namespace tieup::ledger
