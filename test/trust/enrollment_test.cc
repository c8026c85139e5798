#include "trust/enrollment.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "base/encoding.h"
#include "crypto/hash.h"
#include "test_support.h"

namespace tieup {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::FakeClockEnv;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

enum class StoreKind { kMemory, kFile };

class EnrollmentTokensTest : public ::testing::TestWithParam<StoreKind> {
 protected:
  EnrollmentTokensTest() { env_.SetNowMicros(*ParseRfc3339("2026-11-24T09:00:00Z") * 1'000'000); }
  std::unique_ptr<TokenStore> MakeStore() {
    if (GetParam() == StoreKind::kMemory) return NewMemoryTokenStore();
    return NewFileTokenStore(env_, TokenFilePath(dir_.path()));
  }

  FakeClockEnv env_;
  TempDir dir_;
  std::unique_ptr<TokenStore> store_ = MakeStore();
  EnrollmentTokens tokens_{env_, *store_};
};

TEST_P(EnrollmentTokensTest, RedeemsOnceThenRefusesAsUsed) {
  auto token = tokens_.IssueToken("shop-a", 3600);
  ASSERT_THAT(token, IsOk());
  EXPECT_EQ(token->size(), 43u);
  EXPECT_EQ(Base64UrlDecode(*token)->size(), 32u);
  env_.AdvanceSeconds(60);
  EXPECT_THAT(tokens_.RedeemToken(*token, "shop-a"), IsOk());
  env_.AdvanceSeconds(60);
  EXPECT_THAT(tokens_.RedeemToken(*token, "shop-a"),
              StatusIs(StatusCode::kUnauthenticated,
                       "this enrollment code was already used, at 2026-11-24T09:01:00Z (for "
                       "partner 'shop-a'): a code works only once; ask the main site manager "
                       "for a new code ('tieup main partner token MAIN_DIR shop-a' prints one)"));
  auto record = store_->Get("shop-a");
  ASSERT_THAT(record, IsOk());
  EXPECT_TRUE(record->used);
  EXPECT_EQ(record->used_at, *ParseRfc3339("2026-11-24T09:01:00Z"));
}

TEST_P(EnrollmentTokensTest, ExpiredTokenIsRefused) {
  auto token = tokens_.IssueToken("shop-a", 3600);
  ASSERT_THAT(token, IsOk());
  env_.AdvanceSeconds(3600);
  EXPECT_THAT(tokens_.RedeemToken(*token, "shop-a"),
              StatusIs(StatusCode::kUnauthenticated,
                       "this enrollment code expired at 2026-11-24T10:00:00Z (for partner "
                       "'shop-a'): ask the main site manager for a new code ('tieup main "
                       "partner token MAIN_DIR shop-a' prints one)"));
  // A refused redemption does not use the token up: had the clock been right, it would work.
  env_.AdvanceSeconds(-1);
  EXPECT_THAT(tokens_.RedeemToken(*token, "shop-a"), IsOk());
}

TEST_P(EnrollmentTokensTest, WrongPartnerIsRefused) {
  auto token = tokens_.IssueToken("shop-a", 3600);
  ASSERT_THAT(tokens_.IssueToken("shop-b", 3600), IsOk());
  EXPECT_THAT(tokens_.RedeemToken(*token, "shop-b"),
              StatusIs(StatusCode::kUnauthenticated,
                       HasSubstr("enrollment token was not issued for partner 'shop-b'")));
  EXPECT_THAT(tokens_.RedeemToken(*token, "shop-c"),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("not issued for partner 'shop-c'")));
  // Still good for its own partner.
  EXPECT_THAT(tokens_.RedeemToken(*token, "shop-a"), IsOk());
}

TEST_P(EnrollmentTokensTest, UnknownAndMalformedTokensAreRefused) {
  ASSERT_THAT(tokens_.IssueToken("shop-a", 3600), IsOk());
  std::string stranger = Base64UrlEncode(std::string(32, 'x'));
  EXPECT_THAT(tokens_.RedeemToken(stranger, "shop-a"),
              StatusIs(StatusCode::kUnauthenticated,
                       HasSubstr("enrollment token for 'shop-a' is not known")));
  EXPECT_THAT(tokens_.RedeemToken(stranger, "shop-q"),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("is not known")));
  EXPECT_THAT(tokens_.RedeemToken("abc", "shop-a"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("enrollment token is malformed")));
  EXPECT_THAT(tokens_.RedeemToken("", "shop-a"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(tokens_.RedeemToken(stranger.substr(0, 42) + "!", "shop-a"),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(tokens_.RedeemToken(stranger, "Shop A"), StatusIs(StatusCode::kInvalidArgument));
}

TEST_P(EnrollmentTokensTest, NewTokenReplacesOld) {
  auto first = tokens_.IssueToken("shop-a", 3600);
  auto second = tokens_.IssueToken("shop-a", 3600);
  ASSERT_THAT(second, IsOk());
  EXPECT_NE(*first, *second);
  EXPECT_THAT(tokens_.RedeemToken(*first, "shop-a"),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("replaced by a newer one")));
  EXPECT_THAT(tokens_.RedeemToken(*second, "shop-a"), IsOk());
}

TEST_P(EnrollmentTokensTest, StoresOnlyTheHash) {
  auto token = tokens_.IssueToken("shop-a", 600);
  auto record = store_->Get("shop-a");
  ASSERT_THAT(record, IsOk());
  EXPECT_EQ(record->token_sha256, Sha256Hex(*token));
  EXPECT_EQ(record->expires_at - record->issued_at, 600);
  EXPECT_FALSE(record->used);
  auto all = store_->List();
  ASSERT_EQ(all->size(), 1u);
  if (GetParam() == StoreKind::kFile) {
    const std::string path = TokenFilePath(dir_.path());
    std::string text = *env_.ReadFile(path);
    EXPECT_EQ(text.find(*token), std::string::npos);
    EXPECT_NE(text.find(Sha256Hex(*token)), std::string::npos);
    EXPECT_EQ(*env_.GetPermissions(path), 0600u);
  }
}

TEST_P(EnrollmentTokensTest, IssueRefusesBadArguments) {
  EXPECT_THAT(tokens_.IssueToken("Shop A", 600), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(tokens_.IssueToken("main", 600),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("not a partner id")));
  EXPECT_THAT(tokens_.IssueToken("shop-a", 0), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->List()->size(), 0u);
}

TEST_P(EnrollmentTokensTest, RemoveCancelsToken) {
  auto token = tokens_.IssueToken("shop-a", 600);
  ASSERT_THAT(store_->Remove("shop-a"), IsOk());
  ASSERT_THAT(store_->Remove("shop-a"), IsOk());
  EXPECT_THAT(tokens_.RedeemToken(*token, "shop-a"), StatusIs(StatusCode::kUnauthenticated));
}

TEST_P(EnrollmentTokensTest, ConcurrentRedemptionsSucceedOnce) {
  auto token = tokens_.IssueToken("shop-a", 600);
  std::atomic<int> ok{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      Status s = tokens_.RedeemToken(*token, "shop-a");
      (s.ok() ? ok : refused).fetch_add(1);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(refused.load(), 7);
}

INSTANTIATE_TEST_SUITE_P(Stores, EnrollmentTokensTest,
                         ::testing::Values(StoreKind::kMemory, StoreKind::kFile),
                         [](const auto& info) {
                           return info.param == StoreKind::kMemory ? "Memory" : "File";
                         });

class FileTokenStoreTest : public ::testing::Test {
 protected:
  FakeClockEnv env_;
  TempDir dir_;
  std::string path_ = TokenFilePath(dir_.path());
};

TEST_F(FileTokenStoreTest, SurvivesReopening) {
  std::string token;
  {
    auto store = NewFileTokenStore(env_, path_);
    EnrollmentTokens tokens(env_, *store);
    token = *tokens.IssueToken("shop-a", 600);
  }
  EXPECT_EQ(path_, dir_.path() + "/keys/tokens.json");
  auto store = NewFileTokenStore(env_, path_);
  EnrollmentTokens tokens(env_, *store);
  EXPECT_THAT(tokens.RedeemToken(token, "shop-a"), IsOk());
  auto again = NewFileTokenStore(env_, path_);
  EnrollmentTokens tokens2(env_, *again);
  EXPECT_THAT(tokens2.RedeemToken(token, "shop-a"),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("already used")));
}

TEST_F(FileTokenStoreTest, CorruptFileIsReportedNotIgnored) {
  ASSERT_THAT(CreateDirs(env_, DirName(path_)), IsOk());
  for (const char* text : {"not json", "[1,2]", R"({"format":"other","tokens":[]})",
                           R"({"format":"tieup-enrollment-tokens-v1","tokens":[{"partner":"a"}]})",
                           R"({"format":"tieup-enrollment-tokens-v1","tokens":[{"partner":"a",
                              "sha256":"00","issued_at":"yesterday","expires_at":"x"}]})"}) {
    ASSERT_THAT(WriteFileAtomic(env_, path_, text), IsOk());
    auto store = NewFileTokenStore(env_, path_);
    EXPECT_THAT(store->List(), StatusIs(StatusCode::kDataLoss, HasSubstr("is corrupt"))) << text;
    EnrollmentTokens tokens(env_, *store);
    EXPECT_THAT(tokens.IssueToken("shop-a", 600), StatusIs(StatusCode::kDataLoss)) << text;
  }
}

}  // namespace
}  // namespace tieup
