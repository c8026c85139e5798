#include "content/blob_store.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <set>
#include <thread>
#include <vector>

#include "crypto/hash.h"
#include "mem_env.h"
#include "test_support.h"

namespace tieup::content {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

class BlobStoreTest : public ::testing::Test {
 protected:
  BlobStoreTest() : env_(NewPosixEnv()), blobs_(*env_, dir_.Sub("site/blobs")) {}

  // Overwrites a stored blob's file behind the store's back (tampering, disk rot).
  void Tamper(const std::string& hash, const std::string& bytes) {
    auto path = blobs_.Path(hash);
    ASSERT_THAT(path, IsOk());
    ASSERT_THAT(WriteFileAtomic(*env_, *path, bytes), IsOk());
  }

  TempDir dir_;
  std::unique_ptr<Env> env_;
  BlobStore blobs_;
};

TEST_F(BlobStoreTest, PutStoresUnderShardedHashAndGetReturnsBytes) {
  auto hash = blobs_.Put("hello tie-up");
  ASSERT_THAT(hash, IsOk());
  EXPECT_EQ(*hash, Sha256Hex("hello tie-up"));
  EXPECT_TRUE(env_->FileExists(dir_.Sub("site/blobs/" + hash->substr(0, 2) + "/" + *hash)));
  EXPECT_TRUE(blobs_.Has(*hash));
  auto data = blobs_.Get(*hash);
  ASSERT_THAT(data, IsOk());
  EXPECT_EQ(*data, "hello tie-up");
  EXPECT_EQ(*blobs_.Size(*hash), 12u);
}

TEST_F(BlobStoreTest, PutIsIdempotentAndLeavesNoTemporaryFiles) {
  auto first = blobs_.Put("same bytes");
  auto second = blobs_.Put("same bytes");
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(*first, *second);
  auto files = env_->ListDir(dir_.Sub("site/blobs/" + first->substr(0, 2)));
  ASSERT_THAT(files, IsOk());
  ASSERT_EQ(files->size(), 1u);
  EXPECT_EQ((*files)[0].name, *first);
}

TEST_F(BlobStoreTest, EmptyBlobIsStorable) {
  auto hash = blobs_.Put("");
  ASSERT_THAT(hash, IsOk());
  EXPECT_EQ(*blobs_.Get(*hash, 0), "");
}

TEST_F(BlobStoreTest, PutReplacesADamagedCopy) {
  auto hash = blobs_.Put("original bytes");
  ASSERT_THAT(hash, IsOk());
  Tamper(*hash, "defaced bytes");
  EXPECT_THAT(blobs_.Get(*hash), StatusIs(StatusCode::kDataLoss));
  ASSERT_THAT(blobs_.Put("original bytes"), IsOk());
  EXPECT_EQ(*blobs_.Get(*hash), "original bytes");
}

TEST_F(BlobStoreTest, PutExpectedStoresMatchingBytes) {
  std::string hash = Sha256Hex("page body");
  ASSERT_THAT(blobs_.PutExpected(hash, "page body"), IsOk());
  EXPECT_EQ(*blobs_.Get(hash), "page body");
}

TEST_F(BlobStoreTest, PutExpectedRefusesBytesThatHashDifferently) {
  std::string promised = Sha256Hex("what the metadata promised");
  Status s = blobs_.PutExpected(promised, "something else");
  EXPECT_THAT(s, StatusIs(StatusCode::kDataLoss, HasSubstr(promised)));
  EXPECT_THAT(s.message(), HasSubstr(Sha256Hex("something else")));
  EXPECT_FALSE(blobs_.Has(promised));
}

TEST_F(BlobStoreTest, GetDetectsACorruptedBlob) {
  auto hash = blobs_.Put("good");
  ASSERT_THAT(hash, IsOk());
  Tamper(*hash, "evil");
  EXPECT_THAT(blobs_.Get(*hash), StatusIs(StatusCode::kDataLoss, HasSubstr("damaged")));
  EXPECT_THAT(blobs_.Get(*hash, 4), StatusIs(StatusCode::kDataLoss));
}

TEST_F(BlobStoreTest, GetWithLengthStopsAtTheStatedLength) {
  auto hash = blobs_.Put("exact");
  ASSERT_THAT(hash, IsOk());
  // Bytes appended after the stated length are never read: the stated prefix still verifies.
  Tamper(*hash, "exact and a very long tail that an attacker appended");
  EXPECT_EQ(*blobs_.Get(*hash, 5), "exact");
  EXPECT_THAT(blobs_.Get(*hash), StatusIs(StatusCode::kDataLoss));
}

TEST_F(BlobStoreTest, GetWithLengthReportsATruncatedBlob) {
  auto hash = blobs_.Put("complete body");
  ASSERT_THAT(hash, IsOk());
  Tamper(*hash, "compl");
  EXPECT_THAT(blobs_.Get(*hash, 13), StatusIs(StatusCode::kDataLoss, HasSubstr("truncated")));
}

TEST_F(BlobStoreTest, MissingBlobIsNotFound) {
  std::string hash = Sha256Hex("never stored");
  EXPECT_FALSE(blobs_.Has(hash));
  EXPECT_THAT(blobs_.Get(hash), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(blobs_.Get(hash, 3), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(blobs_.Size(hash), StatusIs(StatusCode::kNotFound));
}

TEST_F(BlobStoreTest, MalformedHashStringsAreRefusedEverywhere) {
  const std::string valid = Sha256Hex("x");
  std::string upper = valid;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const std::vector<std::string> bad = {
      "",
      "../../../../etc/passwd",
      valid.substr(0, 63),
      valid + "0",
      upper,
      "zz" + valid.substr(2),
      "ab/" + valid.substr(3),
      valid.substr(0, 32) + std::string(1, '\0') + valid.substr(33),
  };
  for (const std::string& h : bad) {
    SCOPED_TRACE(h);
    EXPECT_THAT(blobs_.Path(h), StatusIs(StatusCode::kInvalidArgument, HasSubstr("64")));
    EXPECT_THAT(blobs_.Get(h), StatusIs(StatusCode::kInvalidArgument));
    EXPECT_THAT(blobs_.Get(h, 1), StatusIs(StatusCode::kInvalidArgument));
    EXPECT_THAT(blobs_.PutExpected(h, "x"), StatusIs(StatusCode::kInvalidArgument));
    EXPECT_THAT(blobs_.Remove(h), StatusIs(StatusCode::kInvalidArgument));
    EXPECT_FALSE(blobs_.Has(h));
  }
}

TEST_F(BlobStoreTest, RemoveDeletesAndIsIdempotent) {
  auto hash = blobs_.Put("short-lived");
  ASSERT_THAT(hash, IsOk());
  ASSERT_THAT(blobs_.Remove(*hash), IsOk());
  EXPECT_FALSE(blobs_.Has(*hash));
  EXPECT_THAT(blobs_.Remove(*hash), IsOk());
}

TEST_F(BlobStoreTest, ForEachListsStoredBlobsOnly) {
  auto a = blobs_.Put("a");
  auto b = blobs_.Put("b");
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  // Foreign files are not blobs.
  ASSERT_THAT(WriteFileAtomic(*env_, dir_.Sub("site/blobs/README"), "x"), IsOk());
  std::set<std::string> seen;
  ASSERT_THAT(blobs_.ForEach([&](const std::string& h) {
    seen.insert(h);
    return Status::Ok();
  }),
              IsOk());
  EXPECT_EQ(seen, (std::set<std::string>{*a, *b}));
}

TEST_F(BlobStoreTest, RemoveLeftoversDeletesInterruptedWritesButNotABatchInProgress) {
  auto hash = blobs_.Put("kept");
  ASSERT_THAT(hash, IsOk());
  const std::string shard = dir_.Sub("site/blobs/" + hash->substr(0, 2));
  const std::string old_tmp = shard + "/" + *hash + ".0011223344556677.tmp";
  ASSERT_THAT(WriteFileAtomic(*env_, old_tmp, "half"), IsOk());
  // Last written two hours ago: a crash's leftover.
  const int64_t two_hours_ago = env_->NowMicros() / 1'000'000 - 2 * 3600;
  const timespec times[2] = {{two_hours_ago, 0}, {two_hours_ago, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, old_tmp.c_str(), times, 0), 0);
  // Another process's batch, written just now and not committed yet.
  BlobBatch batch(blobs_);
  auto pending = batch.Put("in another process's batch");
  ASSERT_THAT(pending, IsOk());
  BlobStore other_process(*env_, dir_.Sub("site/blobs"));
  ASSERT_THAT(other_process.RemoveLeftoversForRecovery(), IsOk());
  auto files = env_->ListDir(shard);
  ASSERT_THAT(files, IsOk());
  ASSERT_EQ(files->size(), 1u);
  EXPECT_EQ((*files)[0].name, *hash);
  // The batch still commits.
  ASSERT_THAT(batch.Commit(), IsOk());
  EXPECT_EQ(*blobs_.Get(*pending), "in another process's batch");
}

TEST_F(BlobStoreTest, TakeRecentlyPutReturnsPutsSinceTheLastCall) {
  auto a = blobs_.Put("a");
  ASSERT_THAT(a, IsOk());
  EXPECT_EQ(blobs_.TakeRecentlyPut(), (std::set<std::string>{*a}));
  EXPECT_TRUE(blobs_.TakeRecentlyPut().empty());
}

// The names under a shard directory, temporary files included.
std::vector<std::string> ShardFiles(Env& env, const std::string& blobs_dir,
                                    const std::string& hash) {
  std::vector<std::string> names;
  auto files = env.ListDir(blobs_dir + "/" + hash.substr(0, 2));
  if (files.ok()) {
    for (const FileInfo& f : *files) names.push_back(f.name);
  }
  return names;
}

TEST_F(BlobStoreTest, ABatchsBlobsAreInTheStoreOnlyAfterItsCommit) {
  BlobBatch batch(blobs_);
  auto a = batch.Put("first page of a batch");
  auto b = batch.Put("second page of a batch");
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(*a, Sha256Hex("first page of a batch"));
  EXPECT_EQ(batch.pending(), 2u);
  EXPECT_FALSE(blobs_.Has(*a));
  EXPECT_THAT(blobs_.Get(*b), StatusIs(StatusCode::kNotFound));
  // Only a temporary file so far, which a restart's recovery would remove.
  auto before = ShardFiles(*env_, blobs_.dir(), *a);
  ASSERT_EQ(before.size(), 1u);
  EXPECT_TRUE(before[0].ends_with(".tmp")) << before[0];

  ASSERT_THAT(batch.Commit(), IsOk());
  EXPECT_EQ(batch.pending(), 0u);
  EXPECT_EQ(*blobs_.Get(*a), "first page of a batch");
  EXPECT_EQ(*blobs_.Get(*b), "second page of a batch");
  EXPECT_EQ(ShardFiles(*env_, blobs_.dir(), *a), std::vector<std::string>{*a});
  // Spared by a prune like a Put's.
  EXPECT_EQ(blobs_.TakeRecentlyPut(), (std::set<std::string>{*a, *b}));
}

TEST_F(BlobStoreTest, ABatchDroppedWithoutCommitLeavesNoFile) {
  std::string hash;
  {
    BlobBatch batch(blobs_);
    auto a = batch.Put("never committed");
    ASSERT_THAT(a, IsOk());
    hash = *a;
  }
  EXPECT_FALSE(blobs_.Has(hash));
  EXPECT_TRUE(ShardFiles(*env_, blobs_.dir(), hash).empty());
}

TEST_F(BlobStoreTest, ABatchRefusesBytesThatHashDifferently) {
  BlobBatch batch(blobs_);
  const std::string promised = Sha256Hex("promised");
  EXPECT_THAT(batch.PutExpected(promised, "delivered"),
              StatusIs(StatusCode::kDataLoss, HasSubstr("refusing to store them")));
  EXPECT_THAT(batch.PutExpected("not-a-hash", "x"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(batch.pending(), 0u);
  ASSERT_THAT(batch.PutExpected(promised, "promised"), IsOk());
  ASSERT_THAT(batch.Commit(), IsOk());
  EXPECT_EQ(*blobs_.Get(promised), "promised");
}

TEST_F(BlobStoreTest, ABatchOfBlobsAlreadyStoredWritesNothingAndReplacesADamagedOne) {
  auto kept = blobs_.Put("kept as it is");
  auto damaged = blobs_.Put("damaged on disk");
  ASSERT_THAT(kept, IsOk());
  ASSERT_THAT(damaged, IsOk());
  Tamper(*damaged, "rot");
  BlobBatch batch(blobs_);
  ASSERT_THAT(batch.Put("kept as it is"), IsOk());
  ASSERT_THAT(batch.Put("damaged on disk"), IsOk());
  EXPECT_EQ(ShardFiles(*env_, blobs_.dir(), *kept), std::vector<std::string>{*kept});
  ASSERT_THAT(batch.Commit(), IsOk());
  EXPECT_EQ(*blobs_.Get(*damaged), "damaged on disk");
  EXPECT_EQ(ShardFiles(*env_, blobs_.dir(), *damaged), std::vector<std::string>{*damaged});
}

TEST_F(BlobStoreTest, ABatchTakesPutsFromSeveralThreads) {
  BlobBatch batch(blobs_);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&batch, t] {
      for (int i = 0; i < 50; ++i) {
        EXPECT_THAT(batch.Put("page " + std::to_string(t) + "/" + std::to_string(i)), IsOk());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(batch.pending(), 200u);
  ASSERT_THAT(batch.Commit(), IsOk());
  for (int t = 0; t < 4; ++t) {
    for (int i = 0; i < 50; ++i) {
      const std::string bytes = "page " + std::to_string(t) + "/" + std::to_string(i);
      EXPECT_EQ(*blobs_.Get(Sha256Hex(bytes)), bytes);
    }
  }
}

// A batch whose blobs were all stored already writes nothing and syncs the file system once (the
// entries may come from a write whose directory sync never happened); a new blob costs its
// temporary file (create, append), its rename and a second sync.
TEST(BlobBatchSyncTest, ABatchOfStoredBlobsSyncsOnceAndANewBlobTwice) {
  ::tieup::testing::MemEnv env;
  BlobStore store(env, "/site/blobs");
  ASSERT_THAT(store.Put("stored already"), IsOk());
  {
    BlobBatch batch(store);
    ASSERT_THAT(batch.Put("stored already"), IsOk());
    const uint64_t before = env.mutating_ops();
    ASSERT_THAT(batch.Commit(), IsOk());
    EXPECT_EQ(env.mutating_ops() - before, 1u);
  }
  BlobBatch batch(store);
  ASSERT_THAT(batch.Put("new"), IsOk());
  const uint64_t before = env.mutating_ops();
  ASSERT_THAT(batch.Commit(), IsOk());
  EXPECT_EQ(env.mutating_ops() - before, 3u);  // sync, rename, sync
  EXPECT_THAT(store.Get(Sha256Hex("new")), IsOk());
}

// A power loss at every step of a batch (MemEnv drops what was not synced): afterwards every blob
// name that exists holds its complete bytes, and after a commit that returned OK every blob is
// there. Recovery's removal of temporary files leaves nothing else behind.
TEST(BlobBatchCrashTest, APowerLossAtAnyStepLeavesOnlyCompleteBlobs) {
  std::vector<std::string> pages;
  for (int i = 0; i < 20; ++i) pages.push_back("page " + std::to_string(i) + std::string(i, '*'));
  bool committed_run = false;
  for (uint64_t n = 0; !committed_run; ++n) {
    ::tieup::testing::MemEnv env;
    BlobStore store(env, "/site/blobs");
    ASSERT_THAT(store.Put("before the batch"), IsOk());
    env.SyncAllForTest();  // the directories above the store too
    env.CrashAfter(n);
    bool committed = false;
    {
      BlobBatch batch(store);
      bool put_all = true;
      for (const std::string& p : pages) put_all = put_all && batch.Put(p).ok();
      committed = put_all && batch.Commit().ok();
    }
    committed_run = !env.crashed() && committed;
    env.Recover();
    BlobStore after(env, "/site/blobs");
    ASSERT_THAT(after.RemoveLeftoversForRecovery(), IsOk()) << "crash after " << n;
    EXPECT_THAT(after.Get(Sha256Hex("before the batch")), IsOk()) << "crash after " << n;
    size_t present = 0;
    ASSERT_THAT(after.ForEach([&](const std::string& hash) {
      auto bytes = after.Get(hash);
      EXPECT_THAT(bytes, IsOk()) << "crash after " << n << ": blob " << hash;
      ++present;
      return Status::Ok();
    }),
                IsOk());
    if (committed) {
      EXPECT_EQ(present, pages.size() + 1) << "crash after " << n;
    }
    ASSERT_LT(n, 1000u) << "the batch never completed";
  }
}

}  // namespace
}  // namespace tieup::content