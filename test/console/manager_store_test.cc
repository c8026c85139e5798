#include "console/manager_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "crypto/hash.h"
#include "test_database.h"
#include "test_support.h"

namespace tieup::console {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;
using ::testing::StartsWith;
using ::tieup::testing::FakeClockEnv;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

constexpr char kPassword[] = "correct horse battery";
constexpr char kWrong[] = "wrong horse battery";
constexpr char kWrongMessage[] = "Wrong e-mail address or password.";

class ManagerStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = ::tieup::testing::OpenTestDatabase(dir_.path() + "/tieup.db");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    options_.cost = users::PasswordHashCost::MinimumForTest();
    Reopen();
  }

  void Reopen() {
    store_.reset();
    auto store = ManagerStore::Open(env_, *db_, options_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }

  // Adds `email` and sets its password; returns nothing, fails the test on error.
  void AddWithPassword(const std::string& email, const std::string& password = kPassword) {
    auto token = store_->Add(email, "Ada");
    ASSERT_THAT(token, IsOk());
    ASSERT_THAT(store_->SetPassword(*token, password), IsOk());
  }

  FakeClockEnv env_;
  TempDir dir_;
  std::unique_ptr<Database> db_;
  ManagerStoreOptions options_;
  std::unique_ptr<ManagerStore> store_;
};

TEST_F(ManagerStoreTest, AddGivesAOneTimeLinkWhoseHashAloneIsStored) {
  auto token = store_->Add(" Ada@Example.ORG ", " Ada Lovelace ");
  ASSERT_THAT(token, IsOk());
  EXPECT_THAT(*token, SizeIs(43));  // 32 bytes, base64url without padding

  auto managers = store_->List();
  ASSERT_THAT(managers, IsOk());
  ASSERT_THAT(*managers, SizeIs(1));
  EXPECT_EQ((*managers)[0].email, "Ada@example.org");
  EXPECT_EQ((*managers)[0].name, "Ada Lovelace");
  EXPECT_EQ((*managers)[0].created_micros, env_.NowMicros());
  EXPECT_FALSE((*managers)[0].password_set);
  EXPECT_EQ((*managers)[0].last_login_micros, 0);

  auto rows = db_->Query("SELECT token_hash FROM console_setup_tokens");
  ASSERT_THAT(rows, IsOk());
  ASSERT_THAT(*rows, SizeIs(1));
  EXPECT_EQ((*rows)[0].Text(0), Sha256Hex(*token));

  EXPECT_THAT(store_->CheckSetupToken(*token), IsOk());
  auto email = store_->SetPassword(*token, kPassword);
  ASSERT_THAT(email, IsOk());
  EXPECT_EQ(*email, "Ada@example.org");
  EXPECT_TRUE(store_->Get("ada@EXAMPLE.org")->password_set);

  auto hashes = db_->Query("SELECT password_hash FROM console_managers");
  ASSERT_THAT(hashes, IsOk());
  EXPECT_THAT((*hashes)[0].Text(0), StartsWith("$argon2id$"));

  // Single use.
  EXPECT_THAT(store_->SetPassword(*token, "another good password"),
              StatusIs(StatusCode::kInvalidArgument,
                       "this link has expired or was used; ask for a new one (tieup partner "
                       "manager reset)"));
  EXPECT_THAT(store_->CheckSetupToken(*token), StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(ManagerStoreTest, AddRefusesABadAddressAndADuplicate) {
  EXPECT_THAT(store_->Add("not an address", ""), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->Add("ada@example.org", "bad\x01name"),
              StatusIs(StatusCode::kInvalidArgument));
  ASSERT_THAT(store_->Add("ada@example.org", ""), IsOk());
  EXPECT_THAT(store_->Add("ADA@example.ORG", "Ada"),
              StatusIs(StatusCode::kAlreadyExists, HasSubstr("manager reset")));
  EXPECT_THAT(*store_->List(), SizeIs(1));
}

TEST_F(ManagerStoreTest, APasswordOutsideThePolicyKeepsTheLinkValid) {
  auto token = store_->Add("ada@example.org", "");
  ASSERT_THAT(token, IsOk());
  EXPECT_THAT(store_->SetPassword(*token, "short"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("characters")));
  EXPECT_THAT(store_->SetPassword(*token, std::string(users::kMaxPasswordChars + 1, 'x')),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->SetPassword(*token, kPassword), IsOk());
}

TEST_F(ManagerStoreTest, TheLinkExpires) {
  auto token = store_->Add("ada@example.org", "");
  ASSERT_THAT(token, IsOk());
  env_.AdvanceSeconds(options_.setup_token_seconds - 1);
  EXPECT_THAT(store_->CheckSetupToken(*token), IsOk());
  env_.AdvanceSeconds(1);
  EXPECT_THAT(store_->CheckSetupToken(*token),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("expired")));
  EXPECT_THAT(store_->SetPassword(*token, kPassword),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("expired")));
  EXPECT_THAT(store_->SetPassword("garbage", kPassword), StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(ManagerStoreTest, OneLinkUsedTwiceAtOnceSetsOnePassword) {
  auto token = store_->Add("ada@example.org", "");
  ASSERT_THAT(token, IsOk());
  Result<std::string> a = Status::Internal("not run");
  Result<std::string> b = Status::Internal("not run");
  std::thread t1([&] { a = store_->SetPassword(*token, "first password here"); });
  std::thread t2([&] { b = store_->SetPassword(*token, "second password here"); });
  t1.join();
  t2.join();
  EXPECT_NE(a.ok(), b.ok());
  const std::string winner = a.ok() ? "first password here" : "second password here";
  const std::string loser = a.ok() ? "second password here" : "first password here";
  EXPECT_THAT(store_->CheckLogin("ada@example.org", winner, "10.0.0.1"), IsOk());
  EXPECT_THAT(store_->CheckLogin("ada@example.org", loser, "10.0.0.1"),
              StatusIs(StatusCode::kUnauthenticated));
}

TEST_F(ManagerStoreTest, CheckLoginGivesOneAnswerForAnUnknownAddressAndAWrongPassword) {
  AddWithPassword("ada@example.org");
  ASSERT_THAT(store_->Add("bob@example.org", ""), IsOk());  // no password yet
  EXPECT_THAT(store_->CheckLogin("ada@example.org", kWrong, "10.0.0.1"),
              StatusIs(StatusCode::kUnauthenticated, kWrongMessage));
  EXPECT_THAT(store_->CheckLogin("nobody@example.org", kPassword, "10.0.0.1"),
              StatusIs(StatusCode::kUnauthenticated, kWrongMessage));
  EXPECT_THAT(store_->CheckLogin("bob@example.org", "", "10.0.0.1"),
              StatusIs(StatusCode::kUnauthenticated, kWrongMessage));
  EXPECT_THAT(store_->CheckLogin("not an address", kPassword, "10.0.0.1"),
              StatusIs(StatusCode::kUnauthenticated, kWrongMessage));
  EXPECT_THAT(store_->CheckLogin("ada@example.org", std::string(10000, 'x'), "10.0.0.1"),
              StatusIs(StatusCode::kUnauthenticated, kWrongMessage));

  env_.AdvanceSeconds(60);
  auto manager = store_->CheckLogin("ADA@example.org", kPassword, "10.0.0.1");
  ASSERT_THAT(manager, IsOk());
  EXPECT_EQ(manager->email, "ada@example.org");
  EXPECT_EQ(manager->last_login_micros, env_.NowMicros());
  EXPECT_EQ(store_->Get("ada@example.org")->last_login_micros, env_.NowMicros());
}

TEST_F(ManagerStoreTest, AnAccountIsLockedAfterItsFailuresUntilTheLockoutPasses) {
  AddWithPassword("ada@example.org");
  for (int i = 1; i < options_.max_failures_per_account; ++i) {
    EXPECT_THAT(store_->CheckLogin("ada@example.org", kWrong, "10.0.0." + std::to_string(i)),
                StatusIs(StatusCode::kUnauthenticated))
        << i;
  }
  EXPECT_THAT(store_->CheckLogin("ada@example.org", kWrong, "10.0.0.99"),
              StatusIs(StatusCode::kResourceExhausted,
                       "Too many failed sign-ins; try again in 15 minutes"));
  // Locked even with the right password, from any address.
  EXPECT_THAT(store_->CheckLogin("ada@example.org", kPassword, "10.9.9.9"),
              StatusIs(StatusCode::kResourceExhausted));
  env_.AdvanceSeconds(options_.lockout_seconds - 30);
  EXPECT_THAT(
      store_->CheckLogin("ada@example.org", kPassword, "10.9.9.9"),
      StatusIs(StatusCode::kResourceExhausted, "Too many failed sign-ins; try again in 1 minute"));
  env_.AdvanceSeconds(30);
  EXPECT_THAT(store_->CheckLogin("ada@example.org", kPassword, "10.9.9.9"), IsOk());
}

TEST_F(ManagerStoreTest, AnUnknownAddressLocksLikeAKnownOne) {
  for (int i = 1; i < options_.max_failures_per_account; ++i) {
    EXPECT_THAT(store_->CheckLogin("nobody@example.org", kWrong, "10.0.0." + std::to_string(i)),
                StatusIs(StatusCode::kUnauthenticated));
  }
  EXPECT_THAT(store_->CheckLogin("nobody@example.org", kWrong, "10.0.0.99"),
              StatusIs(StatusCode::kResourceExhausted));
}

TEST_F(ManagerStoreTest, AClientAddressIsLockedAfterItsFailures) {
  AddWithPassword("ada@example.org");
  // Different accounts each time, so only the address's count reaches its limit.
  for (int i = 1; i < options_.max_failures_per_address; ++i) {
    EXPECT_THAT(
        store_->CheckLogin("guess" + std::to_string(i) + "@example.org", kWrong, "203.0.113.7"),
        StatusIs(StatusCode::kUnauthenticated))
        << i;
  }
  EXPECT_THAT(store_->CheckLogin("guess-last@example.org", kWrong, "203.0.113.7"),
              StatusIs(StatusCode::kResourceExhausted, HasSubstr("try again in 15 minutes")));
  EXPECT_THAT(store_->CheckLogin("ada@example.org", kPassword, "203.0.113.7"),
              StatusIs(StatusCode::kResourceExhausted));
  EXPECT_THAT(store_->CheckLogin("ada@example.org", kPassword, "198.51.100.1"), IsOk());
  env_.AdvanceSeconds(options_.lockout_seconds);
  EXPECT_THAT(store_->CheckLogin("ada@example.org", kPassword, "203.0.113.7"), IsOk());
}

TEST_F(ManagerStoreTest, SuccessAndTimeClearAnAccountsCount) {
  AddWithPassword("ada@example.org");
  const int below = options_.max_failures_per_account - 1;
  for (int i = 0; i < below; ++i) {
    ASSERT_THAT(store_->CheckLogin("ada@example.org", kWrong, "10.0.0.1"),
                StatusIs(StatusCode::kUnauthenticated));
  }
  ASSERT_THAT(store_->CheckLogin("ada@example.org", kPassword, "10.0.0.1"), IsOk());
  for (int i = 0; i < below; ++i) {
    ASSERT_THAT(store_->CheckLogin("ada@example.org", kWrong, "10.0.0.2"),
                StatusIs(StatusCode::kUnauthenticated));
  }
  // Failures older than the lockout window no longer count.
  env_.AdvanceSeconds(options_.lockout_seconds + 1);
  for (int i = 0; i < below; ++i) {
    ASSERT_THAT(store_->CheckLogin("ada@example.org", kWrong, "10.0.0.3"),
                StatusIs(StatusCode::kUnauthenticated));
  }
  EXPECT_THAT(store_->CheckLogin("ada@example.org", kPassword, "10.0.0.3"), IsOk());
}

TEST_F(ManagerStoreTest, ResetVoidsTheOldPasswordAndTheOldLinks) {
  AddWithPassword("ada@example.org");
  auto first = store_->Reset("ADA@example.org");
  ASSERT_THAT(first, IsOk());
  EXPECT_FALSE(store_->Get("ada@example.org")->password_set);
  EXPECT_THAT(store_->CheckLogin("ada@example.org", kPassword, "10.0.0.1"),
              StatusIs(StatusCode::kUnauthenticated, kWrongMessage));
  auto second = store_->Reset("ada@example.org");
  ASSERT_THAT(second, IsOk());
  EXPECT_THAT(store_->SetPassword(*first, "a brand new password"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("expired or was used")));
  ASSERT_THAT(store_->SetPassword(*second, "a brand new password"), IsOk());
  EXPECT_THAT(store_->CheckLogin("ada@example.org", "a brand new password", "10.0.0.1"), IsOk());
  EXPECT_THAT(store_->Reset("nobody@example.org"), StatusIs(StatusCode::kNotFound));
}

TEST_F(ManagerStoreTest, RemoveTakesTheManagerAndItsLinks) {
  AddWithPassword("ada@example.org");
  auto token = store_->Reset("ada@example.org");
  ASSERT_THAT(token, IsOk());
  ASSERT_THAT(store_->Remove("Ada@Example.org"), IsOk());
  EXPECT_THAT(*store_->List(), SizeIs(0));
  EXPECT_THAT(store_->CheckSetupToken(*token), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->CheckLogin("ada@example.org", kPassword, "10.0.0.1"),
              StatusIs(StatusCode::kUnauthenticated, kWrongMessage));
  EXPECT_THAT(store_->Remove("ada@example.org"), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store_->Get("ada@example.org"), StatusIs(StatusCode::kNotFound));
  // The address can be added again.
  EXPECT_THAT(store_->Add("ada@example.org", ""), IsOk());
}

TEST_F(ManagerStoreTest, ManagersSurviveReopeningAndMessagesNameTheConfiguredCommand) {
  options_.reset_command = "tieup main manager reset";
  Reopen();
  AddWithPassword("ada@example.org");
  Reopen();
  EXPECT_THAT(store_->CheckLogin("ada@example.org", kPassword, "10.0.0.1"), IsOk());
  EXPECT_THAT(store_->SetPassword("x", kPassword),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("(tieup main manager reset)")));
}

TEST_F(ManagerStoreTest, OpenRefusesACostBelowTheMinimum) {
  ManagerStoreOptions o;
  o.cost = {1, 1};
  EXPECT_THAT(ManagerStore::Open(env_, *db_, o), StatusIs(StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace tieup::console
