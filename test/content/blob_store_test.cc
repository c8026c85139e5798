#include "content/blob_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/hash.h"
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

TEST_F(BlobStoreTest, RemoveLeftoversDeletesInterruptedWrites) {
  auto hash = blobs_.Put("kept");
  ASSERT_THAT(hash, IsOk());
  const std::string shard = dir_.Sub("site/blobs/" + hash->substr(0, 2));
  ASSERT_THAT(WriteFileAtomic(*env_, shard + "/" + *hash + ".0011223344556677.tmp", "half"),
              IsOk());
  ASSERT_THAT(blobs_.RemoveLeftoversForRecovery(), IsOk());
  auto files = env_->ListDir(shard);
  ASSERT_THAT(files, IsOk());
  ASSERT_EQ(files->size(), 1u);
  EXPECT_EQ((*files)[0].name, *hash);
}

TEST_F(BlobStoreTest, TakeRecentlyPutReturnsPutsSinceTheLastCall) {
  auto a = blobs_.Put("a");
  ASSERT_THAT(a, IsOk());
  EXPECT_EQ(blobs_.TakeRecentlyPut(), (std::set<std::string>{*a}));
  EXPECT_TRUE(blobs_.TakeRecentlyPut().empty());
}

}  // namespace
}  // namespace tieup::content
