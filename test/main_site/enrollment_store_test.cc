#include "main_site/enrollment_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "test_database.h"
#include "test_support.h"

namespace tieup {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::FakeClockEnv;
using ::tieup::testing::IsOk;
using ::tieup::testing::OpenTestDatabase;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

class DatabaseTokenStoreTest : public ::testing::Test {
 protected:
  // A connection to the site's store, as one `main serve` process has.
  std::unique_ptr<Database> Connect() {
    auto db = OpenTestDatabase(dir_.Sub("tieup.db"));
    EXPECT_THAT(db.status(), IsOk());
    return db.ok() ? std::move(*db) : nullptr;
  }
  std::unique_ptr<TokenStore> Store(Database& db) {
    auto store = OpenDatabaseTokenStore(env_, db, dir_.path());
    EXPECT_THAT(store.status(), IsOk());
    return store.ok() ? std::move(*store) : nullptr;
  }

  FakeClockEnv env_;
  TempDir dir_;
};

TEST_F(DatabaseTokenStoreTest, ACodeIssuedByOneProcessIsRedeemedOnceByAnother) {
  auto db1 = Connect();
  auto db2 = Connect();
  auto store1 = Store(*db1);
  auto store2 = Store(*db2);
  EnrollmentTokens issuer(env_, *store1);
  EnrollmentTokens other(env_, *store2);
  auto token = issuer.IssueToken("shop-a", 600);
  ASSERT_THAT(token.status(), IsOk());
  EXPECT_THAT(other.RedeemToken(*token + "x", "shop-a"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(other.RedeemToken(*token, "shop-b"), StatusIs(StatusCode::kUnauthenticated));
  EXPECT_THAT(other.RedeemToken(*token, "shop-a"), IsOk());
  EXPECT_THAT(issuer.RedeemToken(*token, "shop-a"),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("already used")));
  auto listed = store1->List();
  ASSERT_THAT(listed.status(), IsOk());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_TRUE((*listed)[0].used);

  // A new code replaces the old; an expired one is refused.
  auto fresh = issuer.IssueToken("shop-a", 60);
  ASSERT_THAT(fresh.status(), IsOk());
  env_.AdvanceSeconds(61);
  EXPECT_THAT(other.RedeemToken(*fresh, "shop-a"),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("expired")));
  ASSERT_THAT(store2->Remove("shop-a"), IsOk());
  EXPECT_THAT(store1->Get("shop-a").status(), StatusIs(StatusCode::kNotFound));
}

TEST_F(DatabaseTokenStoreTest, ConcurrentRedemptionsOnTwoConnectionsLetOneWin) {
  auto db1 = Connect();
  auto db2 = Connect();
  auto store1 = Store(*db1);
  auto store2 = Store(*db2);
  EnrollmentTokens a(env_, *store1);
  EnrollmentTokens b(env_, *store2);
  for (int round = 0; round < 10; ++round) {
    auto token = a.IssueToken("shop-a", 600);
    ASSERT_THAT(token.status(), IsOk());
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back([&, i] {
        if ((i % 2 == 0 ? a : b).RedeemToken(*token, "shop-a").ok()) ++ok;
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok.load(), 1) << "round " << round;
  }
}

TEST_F(DatabaseTokenStoreTest, TokensOfTheOldFileAreTakenOverWithoutUndoingAUse) {
  // An older tieup's file: shop-a's code (used since, in the store) and shop-b's (new to it).
  std::string token_a, token_b;
  {
    auto file = NewFileTokenStore(env_, TokenFilePath(dir_.path()));
    EnrollmentTokens tokens(env_, *file);
    token_a = *tokens.IssueToken("shop-a", 600);
    token_b = *tokens.IssueToken("shop-b", 600);
  }
  const std::string copy = *env_.ReadFile(TokenFilePath(dir_.path()));
  auto db = Connect();
  {
    auto store = Store(*db);
    EnrollmentTokens tokens(env_, *store);
    EXPECT_THAT(tokens.RedeemToken(token_a, "shop-a"), IsOk());
  }
  EXPECT_FALSE(env_.FileExists(TokenFilePath(dir_.path())));
  EXPECT_TRUE(env_.FileExists(TokenFilePath(dir_.path()) + ".imported"));
  // The file comes back (keys/ copied from a backup): shop-a's use is not undone.
  ASSERT_THAT(WriteFileAtomic(env_, TokenFilePath(dir_.path()), copy, 0600), IsOk());
  auto store = Store(*db);
  EnrollmentTokens tokens(env_, *store);
  EXPECT_THAT(tokens.RedeemToken(token_a, "shop-a"),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("already used")));
  EXPECT_THAT(tokens.RedeemToken(token_b, "shop-b"), IsOk());
}

TEST_F(DatabaseTokenStoreTest, ADamagedOldFileIsReportedAndKept) {
  ASSERT_THAT(CreateDirs(env_, dir_.Sub("keys")), IsOk());
  ASSERT_THAT(WriteFileAtomic(env_, TokenFilePath(dir_.path()), "not json", 0600), IsOk());
  auto db = Connect();
  EXPECT_THAT(OpenDatabaseTokenStore(env_, *db, dir_.path()).status(),
              StatusIs(StatusCode::kDataLoss, HasSubstr("is corrupt")));
  EXPECT_TRUE(env_.FileExists(TokenFilePath(dir_.path())));
}

}  // namespace
}  // namespace tieup
