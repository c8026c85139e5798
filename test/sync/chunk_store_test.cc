#include "sync/chunk_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/hash.h"
#include "sync/schema.h"
#include "test_database.h"
#include "test_support.h"

namespace tieup::sync::internal {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

class ChunkStoreTest : public ::testing::Test {
 protected:
  ChunkStoreTest() {
    auto db = ::tieup::testing::OpenTestDatabase(dir_.Sub("main.db"));
    EXPECT_THAT(db.status(), IsOk());
    db_ = std::move(*db);
    EXPECT_THAT(MigrateSyncSchema(*db_), IsOk());
  }
  // Chunks named by their SHA-256, as the publisher passes them.
  struct Value {
    std::vector<std::string> keys, bytes;
    std::vector<EncodedChunk> refs() const {
      std::vector<EncodedChunk> out;
      for (size_t i = 0; i < keys.size(); ++i) out.push_back({keys[i], bytes[i]});
      return out;
    }
  };
  static Value Make(const std::vector<std::string>& chunks) {
    Value v;
    for (const std::string& c : chunks) {
      v.keys.push_back(Sha256(c));
      v.bytes.push_back(c);
    }
    return v;
  }
  int64_t Count() {
    auto rows = db_->Query("SELECT COUNT(*) FROM sync_chunks");
    return rows.ok() ? (*rows)[0].Int(0) : -1;
  }
  TempDir dir_;
  std::unique_ptr<Database> db_;
};

TEST_F(ChunkStoreTest, ARecordReadsBackAsItsHeaderAndChunksWithEachChunkStoredOnce) {
  const Value v = Make({"alpha", "beta", "alpha", std::string("\0\xff bin", 6)});
  auto record = PutChunked(*db_, "HEADER", v.refs());
  ASSERT_THAT(record.status(), IsOk());
  EXPECT_TRUE(IsChunkedRecord(*record));
  EXPECT_EQ(Count(), 3);
  EXPECT_EQ(ChunkKeys(*record), v.keys);
  auto back = ReadChunked(*db_, *record);
  ASSERT_THAT(back.status(), IsOk());
  EXPECT_EQ(*back, std::string("HEADERalphabetaalpha\0\xff bin", 26));

  // A second value sharing chunks adds only its new one; the record stays small.
  const Value w = Make({"alpha", "gamma", "beta"});
  auto second = PutChunked(*db_, "", w.refs());
  ASSERT_THAT(second.status(), IsOk());
  EXPECT_EQ(Count(), 4);
  EXPECT_EQ(*ReadChunked(*db_, *second), "alphagammabeta");
  EXPECT_LT(second->size(), 32u * 3 + 40);

  // An empty value.
  auto empty = PutChunked(*db_, "", {});
  ASSERT_THAT(empty.status(), IsOk());
  EXPECT_EQ(*ReadChunked(*db_, *empty), "");
}

TEST_F(ChunkStoreTest, ChunksTheCallerKnowsAreStoredAreNotWritten) {
  const Value v = Make({"one", "two"});
  auto record = PutChunked(*db_, "h", v.refs(), [](std::string_view) { return true; });
  ASSERT_THAT(record.status(), IsOk());
  EXPECT_EQ(Count(), 0);
  // The caller was wrong: reading says which chunk is missing.
  EXPECT_THAT(ReadChunked(*db_, *record).status(),
              StatusIs(StatusCode::kDataLoss, HasSubstr("missing")));
}

TEST_F(ChunkStoreTest, DamageIsDataLoss) {
  const Value v = Make({"one", "two"});
  auto record = PutChunked(*db_, "h", v.refs());
  ASSERT_THAT(record.status(), IsOk());
  // A chunk whose bytes changed in the table.
  ASSERT_THAT(db_->Exec("UPDATE sync_chunks SET data = 'oNe' WHERE data = 'one'"), IsOk());
  EXPECT_THAT(ReadChunked(*db_, *record).status(),
              StatusIs(StatusCode::kDataLoss, HasSubstr("damaged")));
  // Truncated records, records of another kind, a wrong key size.
  EXPECT_THAT(ReadChunked(*db_, record->substr(0, record->size() - 1)).status(),
              StatusIs(StatusCode::kDataLoss));
  EXPECT_THAT(ReadChunked(*db_, record->substr(0, 20)).status(), StatusIs(StatusCode::kDataLoss));
  EXPECT_THAT(ReadChunked(*db_, "tieup-compact...").status(), StatusIs(StatusCode::kDataLoss));
  EXPECT_FALSE(IsChunkedRecord("tieup-compact..."));
  EXPECT_TRUE(ChunkKeys("not a record").empty());
  EXPECT_THAT(PutChunked(*db_, "h", {{"short", "bytes"}}).status(),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(ChunkStoreTest, SweepKeepsTheChunksOfLiveRecordsOnly) {
  auto a = PutChunked(*db_, "a", Make({"shared", "only-a"}).refs());
  auto b = PutChunked(*db_, "b", Make({"shared", "only-b"}).refs());
  ASSERT_THAT(a.status(), IsOk());
  ASSERT_THAT(b.status(), IsOk());
  EXPECT_EQ(Count(), 3);
  auto swept = SweepChunks(*db_, {*b, "an unchunked record"});
  ASSERT_THAT(swept.status(), IsOk());
  EXPECT_EQ(*swept, 1);
  EXPECT_EQ(Count(), 2);
  EXPECT_EQ(*ReadChunked(*db_, *b), "bsharedonly-b");
  EXPECT_THAT(ReadChunked(*db_, *a).status(), StatusIs(StatusCode::kDataLoss));
  EXPECT_EQ(*SweepChunks(*db_, {}), 2);
  EXPECT_EQ(Count(), 0);
}

}  // namespace
}  // namespace tieup::sync::internal
