#include "ledger/access_log_writer.h"

#include <algorithm>
#include <vector>

namespace tieup::ledger {
namespace {

// How often an idle writer wakes up to see whether a periodic checkpoint is due.
constexpr std::chrono::milliseconds kIdleTick{1000};

}  // namespace

AccessLogWriter::AccessLogWriter(Env& env, Log& log, std::optional<NoteSigner> signer,
                                 AccessLogWriterOptions options, std::shared_ptr<Logger> logger)
    : env_(env),
      log_(log),
      signer_(std::move(signer)),
      options_(std::move(options)),
      logger_(logger != nullptr ? std::move(logger) : NewNullLogger()),
      thread_([this] { Run(); }) {}

AccessLogWriter::~AccessLogWriter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  thread_.join();
}

void AccessLogWriter::Record(AccessRecord record) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || queue_.size() >= options_.max_queue) {
      ++dropped_;
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
  uint64_t target = queued_;
  ++flush_waiters_;
  work_cv_.notify_one();
  done_cv_.wait(lock, [&] { return checked_ >= target; });
  --flush_waiters_;
  Status s = first_error_;
  first_error_ = Status::Ok();
  return s;
}

Result<std::string> AccessLogWriter::CheckpointNow() {
  RETURN_IF_ERROR(Flush());
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

uint64_t AccessLogWriter::failed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failed_;
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

void AccessLogWriter::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  auto urgent = [&] {
    return stopping_ || flush_waiters_ > 0 || queue_.size() >= options_.max_batch;
  };
  for (;;) {
    if (queue_.empty() && !urgent()) {
      work_cv_.wait_for(lock, kIdleTick, [&] { return urgent() || !queue_.empty(); });
    }
    if (!queue_.empty() && !urgent()) {
      // Let a batch gather for up to commit_interval.
      work_cv_.wait_for(lock, options_.commit_interval, urgent);
    }
    if (stopping_ && queue_.empty()) break;

    std::vector<AccessRecord> batch;
    size_t n = std::min(queue_.size(), options_.max_batch);
    batch.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    uint64_t dropped_now = dropped_ - dropped_reported_;
    dropped_reported_ = dropped_;
    lock.unlock();

    if (dropped_now > 0) {
      logger_->warn("ledger '{}': dropped {} access records because the queue of {} was full",
                    log_.dir(), dropped_now, options_.max_queue);
    }
    Status status;
    if (!batch.empty()) {
      std::vector<std::string> entries;
      entries.reserve(batch.size());
      for (const AccessRecord& r : batch) entries.push_back(EncodeRecord(r));
      status = log_.Append(std::move(entries)).status();
      if (!status.ok()) {
        logger_->error("ledger '{}': writing {} access records failed: {}", log_.dir(),
                       batch.size(), status.ToString());
      }
    }
    MaybePeriodicCheckpoint();

    lock.lock();
    processed_ += batch.size();
    if (status.ok()) {
      committed_ += batch.size();
    } else {
      failed_ += batch.size();
      if (first_error_.ok()) first_error_ = status;
    }
    checked_ = processed_;
    done_cv_.notify_all();
  }
  checked_ = processed_;
  done_cv_.notify_all();
}

}  // namespace tieup::ledger
