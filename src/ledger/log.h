// A durable, append-only, tamper-evident log of opaque entries in one directory.
//
// Layout of the directory:
//   entries-<20-digit index of the first entry>.log   segment files, in order
//   checkpoints/<20-digit size>.note                  signed checkpoints (see checkpoint.h)
//
// A segment starts with the 16-byte header "tieup-ledger-v1\n" followed by records:
//   length:u32le  length_check:u32le  entry[length]  check:u32le
// where length_check = ~crc32(length bytes) and check = crc32(index:u64le || length:u32le ||
// entry). The entry's index is in its check, so a record moved, swapped or deleted fails too.
//
// Every entry is a leaf of an RFC 6962 Merkle tree (merkle.h) kept in tiles under tiles/
// (tiles.h): Open hashes every record while it checks it and compares the tiles it rebuilds with
// the stored ones, so damaged tiles are replaced, never trusted. Memory does not grow with the
// log: the tiles' bounded cache, their unfinished right edges, and one position per 256 entries
// (to find a record; the last segment read is kept too). A read-only Log writes nothing: it
// uses the stored tiles that check out and keeps the others in memory (32 bytes per entry).
//
// Durability: an append returns (or calls back) only after the records are written and
// fsynced. Concurrent appends are group-committed: one commit thread writes everything queued
// and covers it with one fsync. Readers (Read, Root, proofs, size) only ever see durable
// entries.
//
// A failed write or fsync (a full disk, say) fails the batch being written and nothing of it is
// kept: before the next batch is written (and once at once, in case the fault has passed) the log
// recovers by itself, back to its last durable state: segment files started during the failed
// batch are removed and the current one is cut back to its last good record (rewritten
// atomically when bytes of the failed batch reached it), so no half record is ever left behind
// and later appends continue the same Merkle tree. While recovery itself fails (the disk is
// still full) every append fails with that error; nothing needs to be reopened.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "ledger/checkpoint.h"
#include "ledger/merkle.h"
#include "ledger/tiles.h"

namespace tieup::ledger {

struct LogOpenOptions {
  // A new segment file is started once the current one reaches this many bytes.
  uint64_t segment_bytes = 8ull << 20;
  // Larger entries are refused by Append with InvalidArgument (reading accepts any length).
  uint32_t max_entry_bytes = 1u << 20;
  // One group commit writes at most about this many bytes (a single batch always goes whole).
  uint64_t max_commit_bytes = 4ull << 20;
  // Open without changing anything on disk: a torn tail is ignored rather than cut off, the
  // directory is not created, and every append fails with FailedPrecondition.
  bool read_only = false;
  // The Merkle tiles' shape and cache (tiles.h).
  TileOptions tiles;
};

// The size and root of the log at one moment.
struct TreeHead {
  uint64_t size = 0;
  Hash root{};
};

class Log {
 public:
  // Called once an asynchronous append is durable (with the entry's index) or has failed. It
  // runs on the log's commit thread (or, for an entry refused at once, on the caller's): it
  // must be quick and must not call Append or Sync.
  using AppendCallback = std::function<void(Result<uint64_t> index)>;

  // Opens (creating when missing, unless read-only) the log in `dir`, reading every segment:
  // a torn last record (a crash in the middle of a write) is cut off; any other record that
  // fails its check, or a segment that does not follow on from the previous one, is DataLoss
  // naming the entry index and file. `env` must outlive the log.
  static Result<std::unique_ptr<Log>> Open(Env& env, std::string dir, LogOpenOptions options = {});

  // Waits for queued appends to finish, then stops the commit thread.
  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // Appends `entries` as consecutive entries and returns the index of the first, once they are
  // durable. An empty batch returns size() without writing. Blocks the caller; concurrent
  // callers share fsyncs.
  Result<uint64_t> Append(std::vector<std::string> entries);
  // Appends one entry; returns its index once durable.
  Result<uint64_t> Append(std::string entry);
  // Queues one entry without waiting; `done` is called once it is durable or has failed.
  // The queue is not bounded here: callers bound what they have in flight.
  void AppendAsync(std::string entry, AppendCallback done);
  // Waits until every append queued before the call has finished; returns the error of the
  // last failed write when no write has succeeded since (the log is not writable now), else OK.
  Status Sync();

  // Number of durable entries.
  uint64_t size() const;
  // Size and root of the log now, taken together.
  TreeHead Head() const;
  // Root of the first `size` entries; OutOfRange beyond size().
  Result<Hash> Root(uint64_t size) const;
  // Leaf hash of entry `index`; OutOfRange beyond size().
  Result<Hash> LeafHash(uint64_t index) const;
  // Proof that entry `index` is in the tree of `size` entries (merkle.h).
  Result<std::vector<Hash>> InclusionProof(uint64_t index, uint64_t size) const;
  // Proof that the tree of `old_size` entries is a prefix of the tree of `new_size` entries.
  Result<std::vector<Hash>> ConsistencyProof(uint64_t old_size, uint64_t new_size) const;
  // The right edge of the tree now: enough to compute the root after more entries (main checks
  // a partner's batch against its checkpoint this way before storing it).
  MerkleFrontier Frontier() const;
  // What the Merkle tiles did (writes, checks, cache), for tests and metrics.
  TileStats tile_stats() const;

  // The entry at `index` (OutOfRange beyond size()). Re-reads and re-checks it on disk: a
  // record changed since Open is DataLoss.
  Result<std::string> Read(uint64_t index) const;
  // Entries [begin, end); OutOfRange unless begin <= end <= size().
  Result<std::vector<std::string>> ReadRange(uint64_t begin, uint64_t end) const;

  // Signs a checkpoint of the current head with `signer` (origin = the signer's name unless
  // `origin` is given), stores it under checkpoints/ and returns the note. When a checkpoint
  // of the same size is stored already and has the same body, it is returned unchanged;
  // one with a different body is refused (AlreadyExists): one size has one root.
  Result<std::string> SignCheckpoint(const NoteSigner& signer, std::string origin = {});
  // The stored checkpoint notes, by size ascending (unverified: see verifier.h).
  Result<std::vector<std::string>> StoredCheckpoints() const;

  const std::string& dir() const { return dir_; }

 private:
  struct Segment {
    uint64_t first_index = 0;
    std::string path;
  };
  struct Pending {
    std::vector<std::string> entries;
    AppendCallback done;
  };
  // Where entry `first_index`'s record starts. Kept for every 256th entry and the first entry
  // of each segment, so a record is found by walking at most 255 records of one segment.
  struct IndexPoint {
    uint64_t first_index;
    size_t segment;
    uint64_t offset;  // of the record header within the segment file
  };

  Log(Env& env, std::string dir, LogOpenOptions options);
  Status Load();
  Status StartSegment(uint64_t first_index);
  void CommitLoop();
  Status WriteBatch(std::vector<Pending>& batch, uint64_t first_index,
                    std::vector<Hash>& leaf_hashes, std::vector<IndexPoint>& points);
  // Commit thread: brings the files back to `rollback_` (see the file comment) and reopens the
  // current segment for appending. On error the log stays in need of recovery.
  Status RecoverFromFailedWrite();
  void Enqueue(Pending pending);
  // Appends entries [begin, end) to `out`, checking each record again.
  Status ReadInto(uint64_t begin, uint64_t end, std::vector<std::string>& out) const;

  Env& env_;
  const std::string dir_;
  const LogOpenOptions options_;

  mutable std::mutex mu_;  // guards everything below except the commit thread's file state
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;
  std::deque<Pending> queue_;
  uint64_t enqueued_ = 0;   // batches ever queued
  uint64_t completed_ = 0;  // batches ever finished (durable or failed)
  bool stopping_ = false;
  Status write_error_;         // the last failed write's error; OK once a write succeeded again
  std::thread commit_thread_;  // started on the first append
  std::unique_ptr<TiledMerkleTree> tree_;
  std::vector<Segment> segments_;
  std::vector<IndexPoint> index_;  // ascending first_index, durable entries only

  // Owned by the commit thread (and by Open before it starts).
  std::unique_ptr<WritableFile> file_;
  uint64_t file_bytes_ = 0;    // size of the current (last) segment
  size_t file_segment_ = 0;    // index in segments_ of the current segment
  uint64_t file_records_ = 0;  // records in the current segment
  // The last durable state, set when a write failed and cleared once the files are back to it.
  struct RollbackPoint {
    size_t segments = 0;  // segments_.size() then (the last one is the current segment)
    uint64_t file_bytes = 0;
    uint64_t file_records = 0;
  };
  std::optional<RollbackPoint> rollback_;

  std::mutex checkpoint_mu_;  // serializes SignCheckpoint

  // Last segment read by Read/ReadRange, kept to serve neighbouring reads.
  mutable std::mutex cache_mu_;
  mutable size_t cached_segment_ = SIZE_MAX;
  mutable std::shared_ptr<const std::string> cached_data_;
};

}  // namespace tieup::ledger
