// BlobStore: content-addressed files under SITE_DIR/blobs, named by the lower-case hex SHA-256 of
// their bytes (blobs/ab/abcdef...). Writes are crash-safe (tmp file, fsync, rename, directory
// fsync): a blob name exists only with its complete bytes, and a successful Put is durable.
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

#include "base/env.h"
#include "base/status.h"

namespace tieup::content {

class BlobStore {
 public:
  // A store over `dir` (created with its parents when missing, on first Put). `env` must outlive
  // the store.
  BlobStore(Env& env, std::string dir);
  BlobStore(const BlobStore&) = delete;
  BlobStore& operator=(const BlobStore&) = delete;

  // Stores `data`; returns its hash. Idempotent: when the blob is already present and intact,
  // nothing is rewritten (a damaged copy is replaced).
  Result<std::string> Put(std::string_view data);

  // Stores `data` under `hash_hex` after checking that it hashes to it: DataLoss when it does not
  // (the bytes received are not the ones the metadata promised), InvalidArgument for a malformed
  // hash.
  Status PutExpected(std::string_view hash_hex, std::string_view data);

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

  // Removes leftover "*.tmp" files of interrupted writes. Call at start-up only, before any Put.
  Status RemoveLeftoversForRecovery();

  // Calls `fn` with the hash of every stored blob (in hash order). Stops at, and returns, the
  // first error of `fn`.
  Status ForEach(const std::function<Status(const std::string& hash_hex)>& fn);

  // Hashes stored by Put/PutExpected since the previous call; the call starts a new period.
  // ContentStore::Prune spares these so a release being fetched is not collected before it is
  // staged.
  std::set<std::string> TakeRecentlyPut();

  const std::string& dir() const { return dir_; }

 private:
  Status Write(const std::string& hash_hex, std::string_view data);
  Status EnsureShardDir(const std::string& shard);

  Env& env_;
  const std::string dir_;
  std::mutex mu_;
  bool dir_synced_ = false;              // guarded by mu_
  std::set<std::string> synced_shards_;  // guarded by mu_: shard dirs known durable
  std::set<std::string> recently_put_;   // guarded by mu_
};

}  // namespace tieup::content
