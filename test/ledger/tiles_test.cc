#include "ledger/tiles.h"

#include <gtest/gtest.h>

#include <random>

#include "full_disk_env.h"
#include "ledger/log.h"
#include "test_support.h"

namespace tieup::ledger {
namespace {

using ::tieup::testing::FullDiskEnv;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

Hash Leaf(uint64_t i) { return HashLeaf("leaf-" + std::to_string(i)); }

// Every root, leaf hash, inclusion proof and consistency proof of `tiled` equals the in-memory
// tree's, for every size up to `tiled.size()` (every pair of sizes for consistency).
void ExpectSameAsInMemory(const TiledMerkleTree& tiled, const MerkleTree& memory) {
  ASSERT_EQ(tiled.size(), memory.size());
  EXPECT_EQ(tiled.Root(), memory.Root());
  EXPECT_EQ(tiled.Frontier().Root(), memory.Root());
  for (uint64_t size = 0; size <= memory.size(); ++size) {
    auto root = tiled.Root(size);
    ASSERT_THAT(root, IsOk());
    EXPECT_EQ(*root, *memory.Root(size)) << "size " << size;
    for (uint64_t old_size = 0; old_size <= size; ++old_size) {
      auto proof = tiled.ConsistencyProof(old_size, size);
      ASSERT_THAT(proof, IsOk());
      EXPECT_EQ(*proof, *memory.ConsistencyProof(old_size, size))
          << "from " << old_size << " to " << size;
    }
  }
  for (uint64_t i = 0; i < memory.size(); ++i) {
    EXPECT_EQ(*tiled.LeafHash(i), *memory.LeafHash(i));
    auto proof = tiled.InclusionProof(i, memory.size());
    ASSERT_THAT(proof, IsOk());
    EXPECT_EQ(*proof, *memory.InclusionProof(i, memory.size())) << "leaf " << i;
  }
}

class TiledMerkleTreeTest : public ::testing::Test {
 protected:
  std::unique_ptr<TiledMerkleTree> Open(TileOptions options) {
    auto tree = TiledMerkleTree::Open(*env_, tiles_, options);
    EXPECT_THAT(tree, IsOk());
    return tree.ok() ? std::move(*tree) : nullptr;
  }

  std::unique_ptr<Env> env_ = NewPosixEnv();
  TempDir dir_;
  std::string tiles_ = dir_.Sub("tiles");
};

TEST_F(TiledMerkleTreeTest, RootsAndProofsEqualTheInMemoryTreesAtEverySize) {
  // Height 2 (4 hashes per tile): 150 leaves make four tile levels and every kind of edge.
  auto tiled = Open({.height = 2, .cache_tiles = 3});
  MerkleTree memory;
  for (uint64_t i = 0; i < 150; ++i) {
    tiled->AppendLeafHash(Leaf(i));
    memory.AppendLeafHash(Leaf(i));
    if (i % 37 == 0 || i < 20) ExpectSameAsInMemory(*tiled, memory);
  }
  ExpectSameAsInMemory(*tiled, memory);
  const TileStats stats = tiled->stats();
  EXPECT_EQ(stats.tiles_written, 37u + 9u + 2u);  // 150/4, 37/4, 9/4 full tiles
  EXPECT_THAT(stats.last_write_error, IsOk());
  EXPECT_LE(stats.cached_tiles, 3u);
  EXPECT_GT(stats.tile_reads, 0u);
}

TEST_F(TiledMerkleTreeTest, TheRealShapeAgreesToo) {
  // The default shape (256 hashes per tile) across two tile levels.
  auto tiled = Open({});
  MerkleTree memory;
  for (uint64_t i = 0; i < 70'000; ++i) {
    tiled->AppendLeafHash(Leaf(i));
    memory.AppendLeafHash(Leaf(i));
  }
  EXPECT_EQ(tiled->Root(), memory.Root());
  std::mt19937_64 random(7);
  for (int n = 0; n < 300; ++n) {
    const uint64_t size = 1 + random() % memory.size();
    const uint64_t index = random() % size;
    const uint64_t old_size = 1 + random() % size;
    EXPECT_EQ(*tiled->Root(size), *memory.Root(size));
    EXPECT_EQ(*tiled->InclusionProof(index, size), *memory.InclusionProof(index, size));
    EXPECT_EQ(*tiled->ConsistencyProof(old_size, size), *memory.ConsistencyProof(old_size, size));
  }
  EXPECT_LE(tiled->stats().cached_tiles, TileOptions{}.cache_tiles + 2);
}

TEST_F(TiledMerkleTreeTest, ReopenedTilesAreCheckedNotWrittenAgain) {
  MerkleTree memory;
  {
    auto tiled = Open({.height = 3, .cache_tiles = 2});
    for (uint64_t i = 0; i < 100; ++i) tiled->AppendLeafHash(Leaf(i));
  }
  auto tiled = Open({.height = 3, .cache_tiles = 2});
  for (uint64_t i = 0; i < 130; ++i) {
    tiled->AppendLeafHash(Leaf(i));
    memory.AppendLeafHash(Leaf(i));
  }
  ExpectSameAsInMemory(*tiled, memory);
  // 100 leaves had made 12 + 1 full tiles; the 130 make 16 + 2.
  EXPECT_EQ(tiled->stats().tiles_checked, 13u);
  EXPECT_EQ(tiled->stats().tiles_written, 5u);
  EXPECT_EQ(tiled->stats().tiles_replaced, 0u);
}

TEST_F(TiledMerkleTreeTest, ADamagedTileIsReplacedNotTrusted) {
  {
    auto tiled = Open({.height = 3});
    for (uint64_t i = 0; i < 100; ++i) tiled->AppendLeafHash(Leaf(i));
  }
  // One bit of tile 5 of the leaf level flipped on disk.
  const std::string path = tiles_ + "/h3-level-0.tiles";
  std::string bytes = *env_->ReadFile(path);
  bytes[5 * 8 * 32 + 17] ^= 0x01;
  ASSERT_THAT(WriteFileAtomic(*env_, path, bytes), IsOk());

  auto tiled = Open({.height = 3});
  MerkleTree memory;
  for (uint64_t i = 0; i < 100; ++i) {
    tiled->AppendLeafHash(Leaf(i));
    memory.AppendLeafHash(Leaf(i));
  }
  ExpectSameAsInMemory(*tiled, memory);
  EXPECT_EQ(tiled->stats().tiles_replaced, 1u);
  // Tiles 0-4 were checked; 5-11 (cut off with the damaged one) written again.
  EXPECT_EQ(tiled->stats().tiles_written, 7u);
  EXPECT_EQ(*env_->ReadFile(path), [&] {
    std::string fixed = bytes;
    fixed[5 * 8 * 32 + 17] ^= 0x01;
    return fixed;
  }());
}

TEST_F(TiledMerkleTreeTest, AReadOnlyTreeUsesTheTilesThatCheckOutAndWritesNothing) {
  {
    auto tiled = Open({.height = 3});
    for (uint64_t i = 0; i < 100; ++i) tiled->AppendLeafHash(Leaf(i));
  }
  const std::string path = tiles_ + "/h3-level-0.tiles";
  std::string bytes = *env_->ReadFile(path);
  bytes[7 * 8 * 32] ^= 0x01;  // tile 7 of the leaf level
  ASSERT_THAT(WriteFileAtomic(*env_, path, bytes), IsOk());

  auto opened = TiledMerkleTree::Open(*env_, tiles_, {.height = 3}, /*read_only=*/true);
  ASSERT_THAT(opened, IsOk());
  MerkleTree memory;
  for (uint64_t i = 0; i < 120; ++i) {
    (*opened)->AppendLeafHash(Leaf(i));
    memory.AppendLeafHash(Leaf(i));
  }
  ExpectSameAsInMemory(**opened, memory);
  const TileStats stats = (*opened)->stats();
  EXPECT_EQ(stats.tiles_written, 0u);
  EXPECT_EQ(stats.tiles_replaced, 0u);
  EXPECT_EQ(stats.tiles_checked, 7u + 1u);  // leaf tiles 0-6 and the one tile above
  EXPECT_EQ(*env_->ReadFile(path), bytes) << "a read-only tree changed a file";

  // No tiles at all: everything in memory, nothing created.
  TempDir other;
  auto bare = TiledMerkleTree::Open(*env_, other.Sub("tiles"), {.height = 3}, true);
  ASSERT_THAT(bare, IsOk());
  for (uint64_t i = 0; i < 120; ++i) (*bare)->AppendLeafHash(Leaf(i));
  ExpectSameAsInMemory(**bare, memory);
  EXPECT_FALSE(env_->FileExists(other.Sub("tiles")));
}

TEST_F(TiledMerkleTreeTest, APartTileLeftByACrashIsCutOff) {
  {
    auto tiled = Open({.height = 3});
    for (uint64_t i = 0; i < 40; ++i) tiled->AppendLeafHash(Leaf(i));
  }
  const std::string path = tiles_ + "/h3-level-0.tiles";
  {
    auto file = env_->NewAppendableFile(path);
    ASSERT_THAT(file, IsOk());
    ASSERT_THAT((*file)->Append(std::string(100, 'z')), IsOk());
  }
  auto tiled = Open({.height = 3});
  EXPECT_EQ(*env_->FileSize(path), 5u * 8 * 32);
  MerkleTree memory;
  for (uint64_t i = 0; i < 50; ++i) {
    tiled->AppendLeafHash(Leaf(i));
    memory.AppendLeafHash(Leaf(i));
  }
  ExpectSameAsInMemory(*tiled, memory);
  EXPECT_EQ(tiled->stats().tiles_replaced, 0u);
  EXPECT_EQ(tiled->stats().tiles_checked, 5u);
}

TEST_F(TiledMerkleTreeTest, TilesThatCannotBeWrittenWaitInMemoryAndAreWrittenOnceThereIsSpace) {
  FullDiskEnv full(*env_);
  auto opened = TiledMerkleTree::Open(full, tiles_, {.height = 2});
  ASSERT_THAT(opened, IsOk());
  TiledMerkleTree& tiled = **opened;
  MerkleTree memory;
  for (uint64_t i = 0; i < 16; ++i) {
    tiled.AppendLeafHash(Leaf(i));
    memory.AppendLeafHash(Leaf(i));
  }
  full.SetFreeBytes(50);  // a tile and a half
  for (uint64_t i = 16; i < 40; ++i) {
    tiled.AppendLeafHash(Leaf(i));
    memory.AppendLeafHash(Leaf(i));
  }
  EXPECT_THAT(tiled.stats().last_write_error, StatusIs(StatusCode::kResourceExhausted));
  EXPECT_GT(tiled.stats().cached_tiles, 0u);
  ExpectSameAsInMemory(tiled, memory);  // answered from the tiles kept in memory

  full.LiftLimit();
  for (uint64_t i = 40; i < 44; ++i) {
    tiled.AppendLeafHash(Leaf(i));
    memory.AppendLeafHash(Leaf(i));
  }
  EXPECT_THAT(tiled.stats().last_write_error, IsOk());
  ExpectSameAsInMemory(tiled, memory);
  // The files hold what a tree that never met a full disk writes.
  TempDir other;
  auto clean = TiledMerkleTree::Open(*env_, other.path(), {.height = 2});
  ASSERT_THAT(clean, IsOk());
  for (uint64_t i = 0; i < 44; ++i) (*clean)->AppendLeafHash(Leaf(i));
  for (const char* name : {"h2-level-0.tiles", "h2-level-1.tiles"}) {
    EXPECT_EQ(*env_->ReadFile(tiles_ + "/" + name), *env_->ReadFile(other.path() + "/" + name))
        << name;
  }
  auto reopened = Open({.height = 2});
  for (uint64_t i = 0; i < 44; ++i) reopened->AppendLeafHash(Leaf(i));
  EXPECT_EQ(reopened->stats().tiles_replaced, 0u);
  EXPECT_EQ(reopened->stats().tiles_written, 0u);
}

TEST_F(TiledMerkleTreeTest, ATileFileCutBehindTheTreesBackIsAnErrorNotAWrongProof) {
  auto tiled = Open({.height = 2, .cache_tiles = 1});
  for (uint64_t i = 0; i < 64; ++i) tiled->AppendLeafHash(Leaf(i));
  ASSERT_THAT(env_->TruncateFile(tiles_ + "/h2-level-0.tiles", 4 * 32), IsOk());
  EXPECT_THAT(tiled->LeafHash(40), StatusIs(StatusCode::kDataLoss));
  EXPECT_THAT(tiled->InclusionProof(40, 64), StatusIs(StatusCode::kDataLoss));
  EXPECT_THAT(tiled->LeafHash(1), IsOk());
  EXPECT_THAT(tiled->LeafHash(64), StatusIs(StatusCode::kOutOfRange));
}

TEST_F(TiledMerkleTreeTest, AnUnusableShapeIsRefused) {
  EXPECT_THAT(TiledMerkleTree::Open(*env_, tiles_, {.height = 0}),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(TiledMerkleTree::Open(*env_, tiles_, {.height = 40}),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST(MerkleFrontierTest, RootEqualsTheTreesAtEverySize) {
  MerkleFrontier frontier;
  MerkleTree memory;
  EXPECT_EQ(frontier.Root(), EmptyRoot());
  for (uint64_t i = 0; i < 300; ++i) {
    frontier.AppendLeafHash(Leaf(i));
    memory.AppendLeafHash(Leaf(i));
    ASSERT_EQ(frontier.Root(), memory.Root()) << "size " << i + 1;
    ASSERT_EQ(memory.Frontier().Root(), memory.Root());
    ASSERT_EQ(memory.Frontier().size(), memory.size());
  }
  EXPECT_THAT(MerkleFrontier::FromSubtrees(3, {Leaf(0)}), StatusIs(StatusCode::kInvalidArgument));
}

// The log on tiles: small segments, reads across them, proofs after a reopen with damaged tiles.
TEST(LogTilesTest, ReadsAcrossSegmentsAndProofsSurviveDamagedTiles) {
  auto env = NewPosixEnv();
  TempDir dir;
  const LogOpenOptions options{.segment_bytes = 2000, .tiles = {.height = 3, .cache_tiles = 2}};
  std::vector<std::string> entries;
  MerkleTree memory;
  {
    auto log = Log::Open(*env, dir.path(), options);
    ASSERT_THAT(log, IsOk());
    for (int batch = 0; batch < 20; ++batch) {
      std::vector<std::string> add;
      for (int i = 0; i < 37; ++i) {
        add.push_back("entry " + std::to_string(entries.size() + add.size()) +
                      std::string(static_cast<size_t>(i * 3), 'x'));
      }
      for (const std::string& e : add) {
        entries.push_back(e);
        memory.AppendEntry(e);
      }
      ASSERT_THAT((*log)->Append(add), IsOk());
    }
    EXPECT_EQ((*log)->Head().root, memory.Root());
    auto all = (*log)->ReadRange(0, entries.size());
    ASSERT_THAT(all, IsOk());
    EXPECT_EQ(*all, entries);
    for (uint64_t i : {0u, 1u, 255u, 256u, 257u, 500u, 739u})
      EXPECT_EQ(*(*log)->Read(i), entries[i]);
    auto middle = (*log)->ReadRange(250, 600);
    ASSERT_THAT(middle, IsOk());
    EXPECT_EQ(*middle, std::vector<std::string>(entries.begin() + 250, entries.begin() + 600));
  }
  ASSERT_GT(env->ListDir(dir.path())->size(), 5u);  // several segments
  // Every tile file damaged: the log opens with the same tree and proofs.
  auto tile_files = env->ListDir(dir.path() + "/tiles");
  ASSERT_THAT(tile_files, IsOk());
  for (const FileInfo& f : *tile_files) {
    const std::string path = dir.path() + "/tiles/" + f.name;
    std::string bytes = *env->ReadFile(path);
    bytes[0] ^= 0x40;
    ASSERT_THAT(WriteFileAtomic(*env, path, bytes), IsOk());
  }
  auto log = Log::Open(*env, dir.path(), options);
  ASSERT_THAT(log, IsOk());
  EXPECT_GE((*log)->tile_stats().tiles_replaced, 3u);
  EXPECT_EQ((*log)->Head().root, memory.Root());
  EXPECT_EQ(*(*log)->InclusionProof(123, 700), *memory.InclusionProof(123, 700));
  EXPECT_EQ(*(*log)->ConsistencyProof(300, 740), *memory.ConsistencyProof(300, 740));
  EXPECT_EQ((*log)->Frontier().Root(), memory.Root());
  auto read_only = Log::Open(*env, dir.path(), {.read_only = true, .tiles = {.height = 3}});
  ASSERT_THAT(read_only, IsOk());
  EXPECT_EQ((*read_only)->Head().root, memory.Root());
  EXPECT_EQ(*(*read_only)->InclusionProof(5, 740), *memory.InclusionProof(5, 740));
}

}  // namespace
}  // namespace tieup::ledger
