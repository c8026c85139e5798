#include "ledger/log.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <future>

namespace tieup::ledger {
namespace {

constexpr std::string_view kSegmentHeader = "tieup-ledger-v1\n";
constexpr std::string_view kSegmentPrefix = "entries-";
constexpr std::string_view kSegmentSuffix = ".log";
constexpr std::string_view kCheckpointDir = "checkpoints";
constexpr std::string_view kCheckpointSuffix = ".note";
constexpr size_t kRecordOverhead = 12;  // length, length check, check
constexpr std::string_view kTilesDir = "tiles";
constexpr uint64_t kIndexStride = 256;  // entries between two IndexPoints (at most)

std::string Padded(uint64_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020llu", static_cast<unsigned long long>(n));
  return buf;
}

// Parses "<prefix><20 digits><suffix>"; nullopt for any other name.
std::optional<uint64_t> ParseNumberedName(std::string_view name, std::string_view prefix,
                                          std::string_view suffix) {
  if (name.size() != prefix.size() + 20 + suffix.size() || !name.starts_with(prefix) ||
      !name.ends_with(suffix)) {
    return std::nullopt;
  }
  uint64_t n = 0;
  for (char c : name.substr(prefix.size(), 20)) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (n > (UINT64_MAX - d) / 10) return std::nullopt;
    n = n * 10 + d;
  }
  return n;
}

void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

uint32_t GetU32(std::string_view in, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(in[at + i]);
  return v;
}

uint32_t Crc(uint32_t crc, const void* data, size_t n) {
  return static_cast<uint32_t>(crc32_z(crc, static_cast<const Bytef*>(data), n));
}

uint32_t LengthCheck(uint32_t length) {
  unsigned char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<unsigned char>((length >> (8 * i)) & 0xFF);
  return ~Crc(0, b, 4);
}

uint32_t RecordCheck(uint64_t index, std::string_view entry) {
  unsigned char b[12];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>((index >> (8 * i)) & 0xFF);
  uint32_t length = static_cast<uint32_t>(entry.size());
  for (int i = 0; i < 4; ++i) b[8 + i] = static_cast<unsigned char>((length >> (8 * i)) & 0xFF);
  return Crc(Crc(0, b, sizeof b), entry.data(), entry.size());
}

void AppendRecord(std::string& out, uint64_t index, std::string_view entry) {
  uint32_t length = static_cast<uint32_t>(entry.size());
  PutU32(out, length);
  PutU32(out, LengthCheck(length));
  out.append(entry);
  PutU32(out, RecordCheck(index, entry));
}

// Creates `dir` and its missing parents, and makes each new directory entry durable (a
// directory's entry lives in its parent, so the parent is synced).
Status CreateDurableDirs(Env& env, const std::string& dir) {
  std::vector<std::string> missing;
  for (std::string d = dir; !d.empty() && d != "." && d != "/" && !env.FileExists(d);
       d = DirName(d)) {
    missing.push_back(d);
  }
  RETURN_IF_ERROR(CreateDirs(env, dir));
  for (const std::string& d : missing) RETURN_IF_ERROR(env.SyncDir(DirName(d)));
  return Status::Ok();
}

enum class RecordState { kOk, kTorn, kCorrupt };

struct ParsedRecord {
  RecordState state = RecordState::kOk;
  std::string_view entry;
  size_t end = 0;      // offset just past the record
  std::string reason;  // for kCorrupt
};

// Parses the record of entry `index` at `offset` in a segment's bytes. kTorn means the bytes end
// inside the record (or only zeros follow, as a crash can leave): only acceptable at the very
// end of the log.
ParsedRecord ParseRecord(std::string_view data, size_t offset, uint64_t index) {
  ParsedRecord r;
  if (offset > data.size()) {  // a cached copy older than the record
    r.state = RecordState::kTorn;
    return r;
  }
  std::string_view rest = data.substr(offset);
  if (rest.find_first_not_of('\0') == std::string_view::npos) {
    r.state = RecordState::kTorn;
    return r;
  }
  if (rest.size() < 8) {
    r.state = RecordState::kTorn;
    return r;
  }
  uint32_t length = GetU32(rest, 0);
  if (GetU32(rest, 4) != LengthCheck(length)) {
    r.state = RecordState::kCorrupt;
    r.reason = "its length field is corrupt";
    return r;
  }
  if (rest.size() < kRecordOverhead + length) {
    r.state = RecordState::kTorn;
    return r;
  }
  r.entry = rest.substr(8, length);
  if (GetU32(rest, 8 + length) != RecordCheck(index, r.entry)) {
    r.state = RecordState::kCorrupt;
    r.reason = "its checksum does not match (the entry was altered, moved or damaged)";
    return r;
  }
  r.end = offset + kRecordOverhead + length;
  return r;
}

}  // namespace

Log::Log(Env& env, std::string dir, LogOpenOptions options)
    : env_(env), dir_(std::move(dir)), options_(options) {}

Result<std::unique_ptr<Log>> Log::Open(Env& env, std::string dir, LogOpenOptions options) {
  if (options.segment_bytes < kSegmentHeader.size() + kRecordOverhead) {
    return Status::InvalidArgument("ledger segment_bytes is too small");
  }
  std::unique_ptr<Log> log(new Log(env, std::move(dir), options));
  RETURN_IF_ERROR(log->Load().Annotate("opening the ledger in '" + log->dir_ + "'"));
  return log;
}

Status Log::Load() {
  if (options_.read_only) {
    if (!env_.FileExists(dir_)) return Status::NotFound("the directory does not exist");
  } else {
    RETURN_IF_ERROR(CreateDurableDirs(env_, dir_));
  }
  ASSIGN_OR_RETURN(tree_, TiledMerkleTree::Open(env_, JoinPath(dir_, kTilesDir), options_.tiles,
                                                options_.read_only));
  ASSIGN_OR_RETURN(std::vector<FileInfo> files, env_.ListDir(dir_));
  std::vector<Segment> found;
  for (const FileInfo& f : files) {
    if (f.is_dir) continue;
    if (auto first = ParseNumberedName(f.name, kSegmentPrefix, kSegmentSuffix)) {
      found.push_back({*first, JoinPath(dir_, f.name)});
    }
  }
  std::sort(found.begin(), found.end(),
            [](const Segment& a, const Segment& b) { return a.first_index < b.first_index; });

  uint64_t next_index = 0;
  uint64_t last_valid_end = 0;
  uint64_t last_records = 0;
  for (size_t s = 0; s < found.size(); ++s) {
    const Segment& seg = found[s];
    bool last = s + 1 == found.size();
    if (seg.first_index != next_index) {
      return Status::DataLoss("segment '" + seg.path + "' starts at entry " +
                              std::to_string(seg.first_index) +
                              " but the segments before it end at " + std::to_string(next_index) +
                              ": a segment is missing or was added; restore it from a backup");
    }
    ASSIGN_OR_RETURN(std::string data, env_.ReadFile(seg.path));
    size_t valid_end = kSegmentHeader.size();
    uint64_t records = 0;
    if (data.size() < kSegmentHeader.size() && kSegmentHeader.substr(0, data.size()) == data &&
        last) {
      // A crash while the segment was being started: it holds no entries.
      valid_end = 0;
    } else if (!data.starts_with(kSegmentHeader)) {
      return Status::DataLoss("segment '" + seg.path +
                              "' does not start with the ledger header: not a ledger file, or "
                              "damaged");
    } else {
      size_t offset = kSegmentHeader.size();
      while (offset < data.size()) {
        uint64_t index = next_index;
        ParsedRecord r = ParseRecord(data, offset, index);
        if (r.state == RecordState::kCorrupt) {
          return Status::DataLoss("entry " + std::to_string(index) + " at byte " +
                                  std::to_string(offset) + " of '" + seg.path + "': " + r.reason +
                                  "; the log cannot be trusted past this point");
        }
        if (r.state == RecordState::kTorn) {
          if (!last) {
            return Status::DataLoss("segment '" + seg.path + "' ends inside entry " +
                                    std::to_string(index) +
                                    " although later segments follow: the file was truncated");
          }
          break;  // a torn tail: cut off below
        }
        tree_->AppendLeafHash(HashLeaf(r.entry));
        if (next_index % kIndexStride == 0 || records == 0)
          index_.push_back({next_index, s, offset});
        ++next_index;
        ++records;
        offset = r.end;
      }
      valid_end = offset;
    }
    if (last) {
      last_valid_end = valid_end;
      last_records = records;
      if (valid_end != data.size() && !options_.read_only) {
        // Cut the torn tail (atomically: the valid prefix replaces the file).
        RETURN_IF_ERROR(WriteFileAtomic(
            env_, seg.path,
            valid_end == 0 ? std::string(kSegmentHeader) : data.substr(0, valid_end)));
        if (valid_end == 0) last_valid_end = kSegmentHeader.size();
      }
    }
  }
  segments_ = std::move(found);
  if (options_.read_only) return Status::Ok();

  if (segments_.empty()) return StartSegment(0);
  ASSIGN_OR_RETURN(file_, env_.NewAppendableFile(segments_.back().path));
  file_bytes_ = last_valid_end;
  file_segment_ = segments_.size() - 1;
  file_records_ = last_records;
  return Status::Ok();
}

Status Log::StartSegment(uint64_t first_index) {
  std::string path = JoinPath(
      dir_, std::string(kSegmentPrefix) + Padded(first_index) + std::string(kSegmentSuffix));
  if (file_ != nullptr) {
    RETURN_IF_ERROR(file_->Close());
    file_.reset();
  }
  ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, env_.NewWritableFile(path));
  RETURN_IF_ERROR(file->Append(kSegmentHeader));
  RETURN_IF_ERROR(file->Sync());
  RETURN_IF_ERROR(env_.SyncDir(dir_));
  file_ = std::move(file);
  file_bytes_ = kSegmentHeader.size();
  file_records_ = 0;
  std::lock_guard<std::mutex> lock(mu_);
  segments_.push_back({first_index, std::move(path)});
  file_segment_ = segments_.size() - 1;
  return Status::Ok();
}

Log::~Log() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  if (commit_thread_.joinable()) commit_thread_.join();
  if (file_ != nullptr) (void)file_->Close();
}

void Log::Enqueue(Pending pending) {
  Status refuse;
  if (options_.read_only) {
    refuse = Status::FailedPrecondition("the ledger in '" + dir_ + "' was opened read-only");
  }
  for (const std::string& e : pending.entries) {
    if (refuse.ok() && e.size() > options_.max_entry_bytes) {
      refuse = Status::InvalidArgument("a ledger entry of " + std::to_string(e.size()) +
                                       " bytes exceeds the limit of " +
                                       std::to_string(options_.max_entry_bytes));
    }
  }
  if (!refuse.ok()) {
    pending.done(refuse);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      refuse = Status::FailedPrecondition("the ledger in '" + dir_ + "' is closing");
    } else {
      queue_.push_back(std::move(pending));
      ++enqueued_;
      if (!commit_thread_.joinable()) commit_thread_ = std::thread([this] { CommitLoop(); });
    }
  }
  if (!refuse.ok()) {
    pending.done(refuse);
    return;
  }
  work_cv_.notify_one();
}

Result<uint64_t> Log::Append(std::vector<std::string> entries) {
  if (entries.empty()) return size();
  std::promise<Result<uint64_t>> promise;
  std::future<Result<uint64_t>> future = promise.get_future();
  Enqueue(
      {std::move(entries), [&promise](Result<uint64_t> r) { promise.set_value(std::move(r)); }});
  return future.get();
}

Result<uint64_t> Log::Append(std::string entry) {
  std::vector<std::string> entries;
  entries.push_back(std::move(entry));
  return Append(std::move(entries));
}

void Log::AppendAsync(std::string entry, AppendCallback done) {
  std::vector<std::string> entries;
  entries.push_back(std::move(entry));
  Enqueue({std::move(entries), std::move(done)});
}

Status Log::Sync() {
  std::unique_lock<std::mutex> lock(mu_);
  uint64_t target = enqueued_;
  idle_cv_.wait(lock, [&] { return completed_ >= target; });
  return write_error_;
}

Status Log::RecoverFromFailedWrite() {
  const RollbackPoint point = *rollback_;
  if (file_ != nullptr) {
    (void)file_->Close();  // its error, if any, concerns the failed batch only
    file_.reset();
  }
  Segment current;
  {
    std::lock_guard<std::mutex> lock(mu_);
    current = segments_[point.segments - 1];
  }
  // Segment files started during the failed batch, listed in segments_ or not (a failed
  // StartSegment may have left one), and the temporary file of an earlier failed rewrite.
  ASSIGN_OR_RETURN(std::vector<FileInfo> files, env_.ListDir(dir_));
  const std::string current_name = current.path.substr(current.path.rfind('/') + 1);
  bool removed = false;
  for (const FileInfo& f : files) {
    if (f.is_dir) continue;
    auto first = ParseNumberedName(f.name, kSegmentPrefix, kSegmentSuffix);
    if ((first && *first > current.first_index) || f.name == current_name + ".tmp") {
      RETURN_IF_ERROR(env_.RemoveFile(JoinPath(dir_, f.name)));
      removed = true;
    }
  }
  if (removed) RETURN_IF_ERROR(env_.SyncDir(dir_));
  {
    std::lock_guard<std::mutex> lock(mu_);
    segments_.resize(point.segments);  // the removed ones held no durable entry
  }
  // Cut the current segment back to its last good record. Env has no truncate: the good prefix
  // replaces the file atomically (a crash in between leaves the old file, whose torn tail Open
  // cuts off).
  ASSIGN_OR_RETURN(uint64_t size, env_.FileSize(current.path));
  if (size < point.file_bytes) {
    return Status::DataLoss("segment '" + current.path + "' has " + std::to_string(size) +
                            " bytes, fewer than the " + std::to_string(point.file_bytes) +
                            " already made durable: it was truncated behind the ledger's back");
  }
  if (size > point.file_bytes) {
    ASSIGN_OR_RETURN(std::string good, env_.ReadFilePrefix(current.path, point.file_bytes));
    if (good.size() != point.file_bytes) {
      return Status::DataLoss("segment '" + current.path + "' could not be read back whole");
    }
    Status rewritten = WriteFileAtomic(env_, current.path, good);
    if (!rewritten.ok()) {
      (void)env_.RemoveFile(current.path + ".tmp");
      return rewritten.Annotate("cutting the failed write off '" + current.path + "'");
    }
  }
  ASSIGN_OR_RETURN(file_, env_.NewAppendableFile(current.path));
  file_bytes_ = point.file_bytes;
  file_records_ = point.file_records;
  file_segment_ = point.segments - 1;
  {
    // A cached copy may hold records of the failed batch at offsets new entries will take.
    std::lock_guard<std::mutex> lock(cache_mu_);
    cached_segment_ = SIZE_MAX;
    cached_data_.reset();
  }
  rollback_.reset();
  return Status::Ok();
}

void Log::CommitLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left to write

    std::vector<Pending> batch;
    uint64_t bytes = 0;
    while (!queue_.empty()) {
      uint64_t b = 0;
      for (const std::string& e : queue_.front().entries) b += e.size() + kRecordOverhead;
      if (!batch.empty() && bytes + b > options_.max_commit_bytes) break;
      bytes += b;
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    uint64_t first = tree_->size();
    lock.unlock();

    std::vector<Hash> hashes;
    std::vector<IndexPoint> points;
    uint64_t entries = 0;
    for (const Pending& p : batch) entries += p.entries.size();
    Status status;
    if (rollback_.has_value()) {
      status = RecoverFromFailedWrite();
      if (!status.ok()) {
        status = status.Annotate("ledger '" + dir_ + "' cannot recover from a failed write yet (" +
                                 std::to_string(entries) +
                                 " entries refused; it tries again on the next append)");
      }
    }
    if (status.ok()) {
      const RollbackPoint before{segments_.size(), file_bytes_, file_records_};
      status = WriteBatch(batch, first, hashes, points);
      if (!status.ok()) {
        status = status.Annotate("ledger '" + dir_ + "': writing " + std::to_string(entries) +
                                 " entries failed and none of them was kept (the log recovers "
                                 "by itself once writes succeed again)");
        rollback_ = before;
        // Once at once: when the fault has passed (or no byte of the batch reached the file),
        // the files are clean again before anyone looks.
        (void)RecoverFromFailedWrite();
      }
    }

    lock.lock();
    if (status.ok()) {
      for (const Hash& h : hashes) tree_->AppendLeafHash(h);
      index_.insert(index_.end(), points.begin(), points.end());
      write_error_ = Status::Ok();
    } else {
      write_error_ = status;
    }
    lock.unlock();

    uint64_t index = first;
    for (Pending& p : batch) {
      if (status.ok()) {
        p.done(index);
      } else {
        p.done(status);
      }
      index += p.entries.size();
    }

    lock.lock();
    completed_ += batch.size();
    idle_cv_.notify_all();
  }
}

Status Log::WriteBatch(std::vector<Pending>& batch, uint64_t first_index,
                       std::vector<Hash>& leaf_hashes, std::vector<IndexPoint>& points) {
  std::string buffer;
  uint64_t index = first_index;
  for (const Pending& p : batch) {
    for (const std::string& e : p.entries) {
      if (file_records_ > 0 && file_bytes_ + buffer.size() >= options_.segment_bytes) {
        if (!buffer.empty()) {
          RETURN_IF_ERROR(file_->Append(buffer));
          file_bytes_ += buffer.size();
          buffer.clear();
        }
        RETURN_IF_ERROR(file_->Sync());
        RETURN_IF_ERROR(StartSegment(index));
      }
      if (index % kIndexStride == 0 || file_records_ == 0) {
        points.push_back({index, file_segment_, file_bytes_ + buffer.size()});
      }
      AppendRecord(buffer, index, e);
      leaf_hashes.push_back(HashLeaf(e));
      ++file_records_;
      ++index;
    }
  }
  if (!buffer.empty()) {
    RETURN_IF_ERROR(file_->Append(buffer));
    file_bytes_ += buffer.size();
  }
  return file_->Sync();
}

uint64_t Log::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tree_->size();
}

TreeHead Log::Head() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {tree_->size(), tree_->Root()};
}

MerkleFrontier Log::Frontier() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tree_->Frontier();
}

TileStats Log::tile_stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tree_->stats();
}

Result<Hash> Log::Root(uint64_t size) const {
  std::lock_guard<std::mutex> lock(mu_);
  return tree_->Root(size);
}

Result<Hash> Log::LeafHash(uint64_t index) const {
  std::lock_guard<std::mutex> lock(mu_);
  return tree_->LeafHash(index);
}

Result<std::vector<Hash>> Log::InclusionProof(uint64_t index, uint64_t size) const {
  std::lock_guard<std::mutex> lock(mu_);
  return tree_->InclusionProof(index, size);
}

Result<std::vector<Hash>> Log::ConsistencyProof(uint64_t old_size, uint64_t new_size) const {
  std::lock_guard<std::mutex> lock(mu_);
  return tree_->ConsistencyProof(old_size, new_size);
}

Status Log::ReadInto(uint64_t begin, uint64_t end, std::vector<std::string>& out) const {
  uint64_t next = begin;
  while (next < end) {
    IndexPoint point;
    std::string path;
    uint64_t stop = end;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = std::upper_bound(index_.begin(), index_.end(), next,
                                 [](uint64_t i, const IndexPoint& p) { return i < p.first_index; });
      if (it == index_.begin()) {
        return Status::Internal("no record position for entry " + std::to_string(next));
      }
      point = *std::prev(it);
      path = segments_[point.segment].path;
      if (point.segment + 1 < segments_.size()) {
        stop = std::min(stop, segments_[point.segment + 1].first_index);
      }
    }
    // The records of [next, stop) are all in this segment, after the point's.
    std::lock_guard<std::mutex> lock(cache_mu_);
    const size_t kept = out.size();
    for (int attempt = 0;; ++attempt) {
      if (cached_segment_ != point.segment || cached_data_ == nullptr || attempt == 1) {
        ASSIGN_OR_RETURN(std::string data, env_.ReadFile(path));
        cached_data_ = std::make_shared<const std::string>(std::move(data));
        cached_segment_ = point.segment;
      }
      uint64_t offset = point.offset;
      uint64_t index = point.first_index;
      bool torn = false;
      while (index < stop) {
        ParsedRecord r = ParseRecord(*cached_data_, offset, index);
        if (r.state == RecordState::kOk) {
          if (index >= next) out.emplace_back(r.entry);
          offset = r.end;
          ++index;
          continue;
        }
        if (r.state == RecordState::kCorrupt || attempt == 1) {
          return Status::DataLoss(
              "entry " + std::to_string(index) + " at byte " + std::to_string(offset) + " of '" +
              path + "' changed since the ledger was opened: " +
              (r.reason.empty() ? std::string("the file was truncated") : r.reason));
        }
        torn = true;  // the segment has grown since it was cached: read it again
        break;
      }
      if (!torn) break;
      out.resize(kept);
    }
    next = stop;
  }
  return Status::Ok();
}

Result<std::string> Log::Read(uint64_t index) const {
  uint64_t n = size();
  if (index >= n) {
    return Status::OutOfRange("entry " + std::to_string(index) + " is beyond the ledger's " +
                              std::to_string(n) + " entries");
  }
  std::vector<std::string> out;
  RETURN_IF_ERROR(ReadInto(index, index + 1, out));
  return std::move(out[0]);
}

Result<std::vector<std::string>> Log::ReadRange(uint64_t begin, uint64_t end) const {
  uint64_t n = size();
  if (begin > end || end > n) {
    return Status::OutOfRange("entries [" + std::to_string(begin) + ", " + std::to_string(end) +
                              ") are not within the ledger's " + std::to_string(n) + " entries");
  }
  std::vector<std::string> out;
  out.reserve(end - begin);
  RETURN_IF_ERROR(ReadInto(begin, end, out));
  return out;
}

Result<std::string> Log::SignCheckpoint(const NoteSigner& signer, std::string origin) {
  std::lock_guard<std::mutex> guard(checkpoint_mu_);
  TreeHead head = Head();
  Checkpoint c;
  c.origin = origin.empty() ? signer.name() : std::move(origin);
  c.size = head.size;
  c.root = head.root;
  ASSIGN_OR_RETURN(std::string note, ledger::SignCheckpoint(c, signer));
  if (options_.read_only) {
    return Status::FailedPrecondition("the ledger in '" + dir_ + "' was opened read-only");
  }
  std::string dir = JoinPath(dir_, kCheckpointDir);
  std::string path = JoinPath(dir, Padded(c.size) + std::string(kCheckpointSuffix));
  if (env_.FileExists(path)) {
    ASSIGN_OR_RETURN(std::string stored, env_.ReadFile(path));
    ASSIGN_OR_RETURN(std::string body, FormatCheckpoint(c));
    if (stored.starts_with(body + "\n")) return stored;
    return Status::AlreadyExists("a different checkpoint for size " + std::to_string(c.size) +
                                 " is stored in '" + path +
                                 "'; one size has one root: sign again after the log grows");
  }
  RETURN_IF_ERROR(CreateDurableDirs(env_, dir));
  RETURN_IF_ERROR(WriteFileAtomic(env_, path, note));
  return note;
}

Result<std::vector<std::string>> Log::StoredCheckpoints() const {
  std::string dir = JoinPath(dir_, kCheckpointDir);
  std::vector<std::string> notes;
  if (!env_.FileExists(dir)) return notes;
  ASSIGN_OR_RETURN(std::vector<FileInfo> files, env_.ListDir(dir));
  std::vector<std::pair<uint64_t, std::string>> named;
  for (const FileInfo& f : files) {
    if (f.is_dir) continue;
    if (auto size = ParseNumberedName(f.name, "", kCheckpointSuffix)) {
      named.emplace_back(*size, JoinPath(dir, f.name));
    }
  }
  std::sort(named.begin(), named.end());
  for (const auto& [size, path] : named) {
    ASSIGN_OR_RETURN(std::string note, env_.ReadFile(path));
    notes.push_back(std::move(note));
  }
  return notes;
}

}  // namespace tieup::ledger
