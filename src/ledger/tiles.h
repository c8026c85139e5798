// A Merkle tree kept in tiles on disk with a bounded cache, as transparency logs do (C2SP
// tlog-tiles): the tree's memory does not grow with its size.
//
// A tile of tile level L holds 2^height consecutive node hashes of tree level L * height (tile
// level 0: leaf hashes). Only full tiles are written, each once, appended to the file
// "h<height>-level-<L>.tiles" in the tiles directory (tile N at byte N * 2^height * 32); the
// unfinished right edge of every level (fewer than 2^height hashes each) is kept in memory.
// Nodes between two stored levels are hashed from the level below when asked for (at most
// 2^height - 1 hash operations per node), so proofs cost O(log n) tile reads.
//
// Tiles are derived data: the ledger's segment files are the truth. Open is given every leaf
// hash again (Log::Open hashes each record while it checks it); each full tile so rebuilt is
// compared with the stored one and a stored tile that differs (a damaged file, tiles left from
// another copy of the log) is replaced with everything after it, so a damaged tile file can only
// cost time. Writes are not fsynced (a crash loses at most tiles Open rebuilds); a failed write
// (a full disk) keeps the tile in memory and is tried again with the next tile.
//
// Not thread-safe: the owner serializes access (ledger::Log does so with its mutex); const
// methods update the cache, so they too must be serialized.
#pragma once

#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "ledger/merkle.h"

namespace tieup::ledger {

struct TileOptions {
  // log2 of the hashes per tile: 8 gives 256 hashes (8 KiB) per tile, as in tlog-tiles.
  unsigned height = 8;
  // Full tiles kept in memory, the least recently used leaving first (at least 1).
  size_t cache_tiles = 16;
};

// What a TiledMerkleTree did, for tests, benchmarks and metrics.
struct TileStats {
  uint64_t tiles_written = 0;   // full tiles appended to files
  uint64_t tiles_checked = 0;   // stored tiles found equal to the rebuilt ones
  uint64_t tiles_replaced = 0;  // stored tiles that differed and were cut off and rewritten
  uint64_t tile_reads = 0;      // tiles read from files (cache misses)
  uint64_t cache_hits = 0;
  size_t cached_tiles = 0;  // full tiles held in memory now (cache and unwritten)
  Status last_write_error;  // OK once a tile write succeeded after the last failure
};

class TiledMerkleTree {
 public:
  // Tiles under `dir` (created when missing). The tree starts empty: the caller appends every
  // leaf hash from the first, and stored tiles are checked as they are reached (see above).
  // `read_only`: nothing is written, created or cut; stored tiles that check out are used, and
  // the tiles from the first missing or different one on are kept in memory (a look at a log
  // another process writes).
  static Result<std::unique_ptr<TiledMerkleTree>> Open(Env& env, std::string dir,
                                                       TileOptions options = {},
                                                       bool read_only = false);

  TiledMerkleTree(const TiledMerkleTree&) = delete;
  TiledMerkleTree& operator=(const TiledMerkleTree&) = delete;

  // Adds one leaf. Never fails: a tile that cannot be written stays in memory (stats()).
  void AppendLeafHash(const Hash& leaf_hash);

  // Number of leaves.
  uint64_t size() const { return frontier_.size(); }
  // The root of the current tree (from memory: never reads a tile).
  Hash Root() const { return frontier_.Root(); }
  // The right edge of the current tree.
  const MerkleFrontier& Frontier() const { return frontier_; }

  // As MerkleTree's; a tile that cannot be read (or that was cut short behind the tree's back)
  // is an error naming the file.
  Result<Hash> Root(uint64_t size) const;
  Result<Hash> LeafHash(uint64_t index) const;
  Result<std::vector<Hash>> InclusionProof(uint64_t index, uint64_t size) const;
  Result<std::vector<Hash>> ConsistencyProof(uint64_t old_size, uint64_t new_size) const;

  TileStats stats() const;

 private:
  struct Level {
    std::string path;
    uint64_t full_tiles = 0;     // full tiles of this level in the tree
    uint64_t file_tiles = 0;     // whole tiles in the file (found at open, checked or written)
    uint64_t checked_tiles = 0;  // the first tiles of the file known to belong to this tree
    std::vector<Hash> partial;   // the unfinished right edge (< 2^height hashes)
    // Full tiles from checked_tiles on, not yet checked against the file or written (one at a
    // time, unless writing fails; read-only: every tile the file does not hold).
    std::deque<std::shared_ptr<const std::string>> kept;
    bool cut_needed = false;  // a failed write may have left part of a tile
  };

  TiledMerkleTree(Env& env, std::string dir, TileOptions options, bool read_only);
  uint64_t Width() const { return uint64_t{1} << options_.height; }
  uint64_t TileBytes() const { return Width() * kHashSize; }
  // Records the full tile `bytes` as tile `index` of `level`; its root goes up one level.
  void TileCompleted(size_t level, std::string bytes);
  // Checks the kept tiles against the file, or appends them, as far as it can.
  void FlushKept(Level& level);
  Level& LevelAt(size_t level);
  // The bytes of full tile `index` of `level`.
  Result<std::shared_ptr<const std::string>> FullTile(size_t level, uint64_t index) const;
  // `count` consecutive stored hashes of tile level `level` from `first` (one tile at most).
  Status StoredHashes(size_t level, uint64_t first, uint64_t count, Hash* out) const;
  // The node of tree level `tree_level` at `index` (merkle_paths.h's source).
  Result<Hash> Node(unsigned tree_level, uint64_t index) const;

  Env& env_;
  std::string dir_;
  TileOptions options_;
  bool read_only_;
  MerkleFrontier frontier_;
  std::vector<Level> levels_;
  Status last_write_error_;
  uint64_t tiles_written_ = 0;
  uint64_t tiles_checked_ = 0;
  uint64_t tiles_replaced_ = 0;
  std::unordered_map<size_t, uint64_t> found_tiles_;  // whole tiles per level file at Open

  // Least recently used first; key = level << 56 | index.
  mutable std::list<std::pair<uint64_t, std::shared_ptr<const std::string>>> cache_;
  mutable std::unordered_map<uint64_t, decltype(cache_)::iterator> cache_index_;
  mutable uint64_t tile_reads_ = 0;
  mutable uint64_t cache_hits_ = 0;
};

}  // namespace tieup::ledger
