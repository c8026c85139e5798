// BlobStore: content-addressed files under SITE_DIR/blobs, named by the lower-case hex SHA-256 of
// their bytes (blobs/ab/abcdef...). Writes are crash-safe (tmp file, fsync, rename, directory
// fsync): a blob name exists only with its complete bytes, and a successful Put is durable.
// BlobBatch writes many blobs with the same guarantees and two syncs of the file system in all.
//
// Thread-safe. Reads verify the hash, so a corrupted or tampered blob is reported as DataLoss,
// never served.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/status.h"

namespace tieup::content {

// Where new blobs go: the store itself (each Put durable when it returns) or a BlobBatch.
class BlobWriter {
 public:
  virtual ~BlobWriter() = default;
  // Stores `data`; returns its hash.
  virtual Result<std::string> Put(std::string_view data) = 0;
  // Stores `data` under `hash_hex` after checking that it hashes to it: DataLoss when it does not,
  // InvalidArgument for a malformed hash.
  virtual Status PutExpected(std::string_view hash_hex, std::string_view data) = 0;
};

class BlobStore : public BlobWriter {
 public:
  // A store over `dir` (created with its parents when missing, on first Put). `env` must outlive
  // the store.
  BlobStore(Env& env, std::string dir);
  BlobStore(const BlobStore&) = delete;
  BlobStore& operator=(const BlobStore&) = delete;

  // Stores `data`; returns its hash. Idempotent: when the blob is already present and intact,
  // nothing is rewritten (a damaged copy is replaced).
  Result<std::string> Put(std::string_view data) override;

  // Stores `data` under `hash_hex` after checking that it hashes to it: DataLoss when it does not
  // (the bytes received are not the ones the metadata promised), InvalidArgument for a malformed
  // hash.
  Status PutExpected(std::string_view hash_hex, std::string_view data) override;

  // True iff a blob named `hash_hex` exists (its bytes are not checked). False for a malformed
  // hash.
  bool Has(std::string_view hash_hex);

  // The blob's bytes, verified against the hash. NotFound when absent, DataLoss when damaged,
  // InvalidArgument for a malformed hash.
  Result<std::string> Get(std::string_view hash_hex);

  // As Get, but reads at most `expected_length` bytes (the length the metadata states), so an
  // oversized file is never read whole. DataLoss when shorter or when the bytes do not match.
  Result<std::string> Get(std::string_view hash_hex, uint64_t expected_length);

  // The size of the stored file (not verified). NotFound when absent.
  Result<uint64_t> Size(std::string_view hash_hex);

  // The file path of a blob ("<dir>/ab/<hex>"); InvalidArgument for a malformed hash.
  Result<std::string> Path(std::string_view hash_hex) const;

  // Removes a blob. OK when it is already absent.
  Status Remove(std::string_view hash_hex);

  // Removes leftover "*.tmp" files of interrupted writes last written kLeftoverAge ago or more
  // (or of an unknown age). Younger ones may be another process's BlobBatch awaiting its commit
  // (a publish in `tieup main serve` while a command opens the store): a crash's are removed by
  // the first start after that. Call at start-up only, before any Put.
  Status RemoveLeftoversForRecovery();
  static constexpr int64_t kLeftoverAgeSeconds = 3600;

  // Calls `fn` with the hash of every stored blob (in hash order). Stops at, and returns, the
  // first error of `fn`.
  Status ForEach(const std::function<Status(const std::string& hash_hex)>& fn);

  // Hashes stored by Put/PutExpected since the previous call; the call starts a new period.
  // ContentStore::Prune spares these so a release being fetched is not collected before it is
  // staged.
  std::set<std::string> TakeRecentlyPut();

  const std::string& dir() const { return dir_; }

 private:
  friend class BlobBatch;

  Status Write(const std::string& hash_hex, std::string_view data);
  // Writes `data` to a new temporary file beside the blob's place (its bytes synced when `sync`)
  // and sets `*tmp` to its path; `*tmp` is left empty when the blob is already stored with these
  // bytes (nothing written: only its directory entry may still need a sync).
  Status WriteTemporary(const std::string& hash_hex, std::string_view data, bool sync,
                        std::string* tmp);
  void NoteRecentlyPut(const std::string& hash_hex);
  Status EnsureShardDir(const std::string& shard);

  Env& env_;
  const std::string dir_;
  std::mutex mu_;
  bool dir_synced_ = false;              // guarded by mu_
  std::set<std::string> synced_shards_;  // guarded by mu_: shard dirs known durable
  std::set<std::string> recently_put_;   // guarded by mu_
};

// Below this many blobs, Put on the store (a sync per file and per directory) costs less than a
// BlobBatch's two syncs of the whole file system, which also write whatever else is pending on it.
inline constexpr size_t kBlobBatchWorthIt = 16;

// Many blobs made durable together: a first sync stores tens of thousands, and a sync per file
// and per directory took 0.7 ms each on this machine's ext4 (~20 s for a 10,000-page site).
// Put writes each blob to a temporary file beside its place, unsynced; Commit makes them all
// durable (Env::SyncFileSystem), gives each its name, and makes the names durable (a second
// SyncFileSystem). So a blob name still exists only with its complete bytes. Before Commit no blob
// of the batch is in the store (Has, Get); a batch destroyed without a successful Commit removes
// its temporary files, and a crash leaves only temporary files (RemoveLeftoversForRecovery).
// Put and PutExpected are thread-safe; Commit is called once, after them.
class BlobBatch : public BlobWriter {
 public:
  explicit BlobBatch(BlobStore& store);
  ~BlobBatch() override;
  BlobBatch(const BlobBatch&) = delete;
  BlobBatch& operator=(const BlobBatch&) = delete;

  Result<std::string> Put(std::string_view data) override;
  Status PutExpected(std::string_view hash_hex, std::string_view data) override;

  // Makes every blob put so far durable and present in the store. On an error the blobs not yet
  // named are dropped (their temporary files removed); those named before it are in the store.
  Status Commit();

  // Blobs put and not yet committed.
  size_t pending() const;

 private:
  struct Pending {
    std::string tmp;  // empty: already stored, only its entry is synced
    std::string path;
    std::string hash;
  };
  Status Add(const std::string& hash_hex, std::string_view data);
  void RemoveTemporaries(std::vector<Pending>& from, size_t start);

  BlobStore& store_;
  mutable std::mutex mu_;
  std::vector<Pending> pending_;  // guarded by mu_
};

}  // namespace tieup::content
