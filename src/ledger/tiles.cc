#include "ledger/tiles.h"

#include <cstring>

#include "ledger/merkle_paths.h"

namespace tieup::ledger {
namespace {

constexpr uint64_t kCacheKeyShift = 56;

std::string LevelFileName(unsigned height, size_t level) {
  return "h" + std::to_string(height) + "-level-" + std::to_string(level) + ".tiles";
}

// Folds 2^k hashes pairwise into the root of their complete subtree, in place.
Hash Fold(std::vector<Hash>& hashes) {
  for (size_t n = hashes.size(); n > 1; n /= 2) {
    for (size_t i = 0; i < n / 2; ++i) hashes[i] = HashChildren(hashes[2 * i], hashes[2 * i + 1]);
  }
  return hashes[0];
}

}  // namespace

TiledMerkleTree::TiledMerkleTree(Env& env, std::string dir, TileOptions options, bool read_only)
    : env_(env), dir_(std::move(dir)), options_(options), read_only_(read_only) {
  if (options_.cache_tiles == 0) options_.cache_tiles = 1;
}

Result<std::unique_ptr<TiledMerkleTree>> TiledMerkleTree::Open(Env& env, std::string dir,
                                                               TileOptions options,
                                                               bool read_only) {
  if (options.height == 0 || options.height > 16) {
    return Status::InvalidArgument("a tile height must be between 1 and 16, not " +
                                   std::to_string(options.height));
  }
  std::unique_ptr<TiledMerkleTree> tree(
      new TiledMerkleTree(env, std::move(dir), options, read_only));
  if (read_only && !env.FileExists(tree->dir_)) return tree;
  if (!read_only) RETURN_IF_ERROR(CreateDirs(env, tree->dir_));
  ASSIGN_OR_RETURN(std::vector<FileInfo> files, env.ListDir(tree->dir_));
  const std::string prefix = "h" + std::to_string(options.height) + "-level-";
  for (const FileInfo& f : files) {
    if (f.is_dir || !f.name.starts_with(prefix) || !f.name.ends_with(".tiles")) continue;
    const std::string digits =
        f.name.substr(prefix.size(), f.name.size() - prefix.size() - std::string(".tiles").size());
    if (digits.empty() || digits.size() > 2 ||
        digits.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    const size_t level = std::stoul(digits);
    if (LevelFileName(options.height, level) != f.name) continue;
    // A crash or a failed write may have left part of a tile at the end: only whole ones count.
    const std::string path = JoinPath(tree->dir_, f.name);
    ASSIGN_OR_RETURN(uint64_t bytes, env.FileSize(path));
    const uint64_t whole = bytes / tree->TileBytes();
    if (whole * tree->TileBytes() != bytes && !read_only) {
      RETURN_IF_ERROR(env.TruncateFile(path, whole * tree->TileBytes()));
    }
    tree->found_tiles_[level] = whole;
  }
  return tree;
}

TiledMerkleTree::Level& TiledMerkleTree::LevelAt(size_t level) {
  while (levels_.size() <= level) {
    Level l;
    l.path = JoinPath(dir_, LevelFileName(options_.height, levels_.size()));
    auto found = found_tiles_.find(levels_.size());
    if (found != found_tiles_.end()) l.file_tiles = found->second;
    l.partial.reserve(Width());
    levels_.push_back(std::move(l));
  }
  return levels_[level];
}

void TiledMerkleTree::AppendLeafHash(const Hash& leaf_hash) {
  frontier_.AppendLeafHash(leaf_hash);
  Level& level = LevelAt(0);
  level.partial.push_back(leaf_hash);
  if (level.partial.size() < Width()) return;
  std::string bytes(TileBytes(), '\0');
  std::memcpy(bytes.data(), level.partial.data(), bytes.size());
  level.partial.clear();
  TileCompleted(0, std::move(bytes));
  if (read_only_) return;
  // After a failed write, tiles of other levels may still wait for their turn.
  for (Level& l : levels_) {
    if (!l.kept.empty()) FlushKept(l);
  }
}

void TiledMerkleTree::TileCompleted(size_t index, std::string bytes) {
  std::vector<Hash> hashes(Width());
  std::memcpy(hashes.data(), bytes.data(), bytes.size());
  const Hash root = Fold(hashes);
  {
    Level& level = LevelAt(index);
    ++level.full_tiles;
    level.kept.push_back(std::make_shared<const std::string>(std::move(bytes)));
    FlushKept(level);
  }
  Level& up = LevelAt(index + 1);  // may reallocate levels_: no reference kept across it
  up.partial.push_back(root);
  if (up.partial.size() < Width()) return;
  std::string up_bytes(TileBytes(), '\0');
  std::memcpy(up_bytes.data(), up.partial.data(), up_bytes.size());
  up.partial.clear();
  TileCompleted(index + 1, std::move(up_bytes));
}

void TiledMerkleTree::FlushKept(Level& level) {
  const uint64_t tile_bytes = TileBytes();
  while (!level.kept.empty()) {
    const std::string& tile = *level.kept.front();
    const uint64_t index = level.checked_tiles;
    if (level.cut_needed) {
      // Part of a tile a failed write left behind goes before anything else is appended.
      Status cut = env_.TruncateFile(level.path, level.file_tiles * tile_bytes);
      if (!cut.ok()) {
        last_write_error_ = cut;
        return;
      }
      level.cut_needed = false;
    }
    if (index < level.file_tiles) {
      auto stored = env_.ReadFileRange(level.path, index * tile_bytes, tile_bytes);
      if (stored.ok() && *stored == tile) {
        ++tiles_checked_;
        ++level.checked_tiles;
        level.kept.pop_front();
        continue;
      }
      if (read_only_) level.file_tiles = index;  // the file is not used from here on
    }
    if (read_only_) return;  // kept in memory
    if (index < level.file_tiles) {
      // Different (or unreadable): this tile and everything after it are rewritten.
      Status cut = env_.TruncateFile(level.path, index * tile_bytes);
      if (!cut.ok()) {
        last_write_error_ = cut;
        return;
      }
      ++tiles_replaced_;
      level.file_tiles = index;
    }
    // Opened for each tile (one write per 2^height leaves): a main holding thousands of
    // partners' ledgers open keeps no file of theirs open for it.
    auto file = env_.NewAppendableFile(level.path);
    Status written = file.ok() ? (*file)->Append(tile) : file.status();
    if (written.ok()) written = (*file)->Close();
    if (!written.ok()) {
      last_write_error_ = written;
      level.cut_needed = file.ok();  // part of the tile may have reached the file
      return;
    }
    last_write_error_ = Status::Ok();
    ++tiles_written_;
    ++level.file_tiles;
    ++level.checked_tiles;
    level.kept.pop_front();
  }
}

Result<std::shared_ptr<const std::string>> TiledMerkleTree::FullTile(size_t index,
                                                                     uint64_t tile) const {
  const Level& level = levels_[index];
  if (tile >= level.checked_tiles) return level.kept[tile - level.checked_tiles];
  const uint64_t key = (uint64_t{index} << kCacheKeyShift) | tile;
  auto hit = cache_index_.find(key);
  if (hit != cache_index_.end()) {
    ++cache_hits_;
    cache_.splice(cache_.end(), cache_, hit->second);
    return hit->second->second;
  }
  auto bytes = env_.ReadFileRange(level.path, tile * TileBytes(), TileBytes());
  if (!bytes.ok()) return bytes.status().Annotate("reading a Merkle tile");
  if (bytes->size() != TileBytes()) {
    return Status::DataLoss("Merkle tile " + std::to_string(tile) + " of '" + level.path +
                            "' is cut short: the file changed behind the ledger's back; reopen "
                            "the ledger to rebuild its tiles");
  }
  ++tile_reads_;
  auto data = std::make_shared<const std::string>(std::move(*bytes));
  cache_.emplace_back(key, data);
  cache_index_[key] = std::prev(cache_.end());
  while (cache_.size() > options_.cache_tiles) {
    cache_index_.erase(cache_.front().first);
    cache_.pop_front();
  }
  return data;
}

Status TiledMerkleTree::StoredHashes(size_t index, uint64_t first, uint64_t count,
                                     Hash* out) const {
  const Level& level = levels_[index];
  const uint64_t tile = first >> options_.height;
  const uint64_t within = first & (Width() - 1);
  if (tile < level.full_tiles) {
    ASSIGN_OR_RETURN(std::shared_ptr<const std::string> bytes, FullTile(index, tile));
    std::memcpy(out, bytes->data() + within * kHashSize, count * kHashSize);
  } else {
    std::memcpy(out, level.partial.data() + within, count * kHashSize);
  }
  return Status::Ok();
}

Result<Hash> TiledMerkleTree::Node(unsigned tree_level, uint64_t index) const {
  const size_t level = tree_level / options_.height;
  const unsigned below = tree_level % options_.height;
  if (level >= levels_.size()) {
    return Status::Internal("no tile level " + std::to_string(level) + " for tree level " +
                            std::to_string(tree_level));
  }
  std::vector<Hash> hashes(uint64_t{1} << below);
  RETURN_IF_ERROR(StoredHashes(level, index << below, hashes.size(), hashes.data()));
  return Fold(hashes);
}

Result<Hash> TiledMerkleTree::Root(uint64_t tree_size) const {
  if (tree_size == size()) return Root();
  return internal::RootOf([this](unsigned l, uint64_t i) { return Node(l, i); }, size(), tree_size);
}

Result<Hash> TiledMerkleTree::LeafHash(uint64_t index) const {
  if (index >= size()) return internal::LeafOutOfRange(index, size());
  return Node(0, index);
}

Result<std::vector<Hash>> TiledMerkleTree::InclusionProof(uint64_t index,
                                                          uint64_t tree_size) const {
  return internal::InclusionProofOf([this](unsigned l, uint64_t i) { return Node(l, i); }, size(),
                                    index, tree_size);
}

Result<std::vector<Hash>> TiledMerkleTree::ConsistencyProof(uint64_t old_size,
                                                            uint64_t new_size) const {
  return internal::ConsistencyProofOf([this](unsigned l, uint64_t i) { return Node(l, i); }, size(),
                                      old_size, new_size);
}

TileStats TiledMerkleTree::stats() const {
  TileStats s;
  s.tiles_written = tiles_written_;
  s.tiles_checked = tiles_checked_;
  s.tiles_replaced = tiles_replaced_;
  s.tile_reads = tile_reads_;
  s.cache_hits = cache_hits_;
  s.cached_tiles = cache_.size();
  for (const Level& l : levels_) s.cached_tiles += l.kept.size();
  s.last_write_error = last_write_error_;
  return s;
}

}  // namespace tieup::ledger
