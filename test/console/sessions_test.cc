#include "console/sessions.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/hash.h"
#include "test_database.h"
#include "test_support.h"
#include "users/sessions.h"

namespace tieup::console {
namespace {

using ::testing::SizeIs;
using ::tieup::testing::FakeClockEnv;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

class SessionStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = ::tieup::testing::OpenTestDatabase(dir_.path() + "/tieup.db");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    auto store = SessionStore::Open(env_, *db_, options_);
    ASSERT_THAT(store, IsOk());
    store_ = std::move(*store);
  }

  std::string NewSession(const std::string& email = "ada@example.org") {
    auto created = store_->Create(email);
    EXPECT_THAT(created, IsOk());
    return created.ok() ? created->cookie_value : "";
  }

  FakeClockEnv env_;
  TempDir dir_;
  std::unique_ptr<Database> db_;
  SessionOptions options_;
  std::unique_ptr<SessionStore> store_;
};

TEST_F(SessionStoreTest, CreateAndFindAndOnlyTheHashIsStored) {
  auto created = store_->Create("ada@example.org");
  ASSERT_THAT(created, IsOk());
  EXPECT_THAT(created->cookie_value, SizeIs(43));
  EXPECT_THAT(created->session.csrf_token, SizeIs(43));
  EXPECT_NE(created->cookie_value, created->session.csrf_token);
  EXPECT_EQ(created->session.subject, "ada@example.org");
  EXPECT_EQ(created->session.created_micros, env_.NowMicros());

  auto found = store_->Find(created->cookie_value);
  ASSERT_THAT(found, IsOk());
  EXPECT_EQ(found->subject, "ada@example.org");
  EXPECT_EQ(found->csrf_token, created->session.csrf_token);

  auto rows = db_->Query("SELECT id_hash, subject, subject_key, csrf_token FROM console_sessions");
  ASSERT_THAT(rows, IsOk());
  ASSERT_THAT(*rows, SizeIs(1));
  EXPECT_EQ((*rows)[0].Text(0), Sha256Hex(created->cookie_value));
  for (size_t i = 0; i < 4; ++i) EXPECT_NE((*rows)[0].Text(i), created->cookie_value);

  // A second session gets other secrets.
  auto other = store_->Create("ada@example.org");
  ASSERT_THAT(other, IsOk());
  EXPECT_NE(other->cookie_value, created->cookie_value);
  EXPECT_NE(other->session.csrf_token, created->session.csrf_token);
}

TEST_F(SessionStoreTest, UnknownAndMalformedValuesAreNotFound) {
  NewSession();
  EXPECT_THAT(store_->Find(""), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store_->Find("x"), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store_->Find(std::string(43, 'A')), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store_->Find(std::string(42, 'A') + "'"), StatusIs(StatusCode::kNotFound));
}

TEST_F(SessionStoreTest, AnIdleSessionEnds) {
  const std::string cookie = NewSession();
  env_.AdvanceSeconds(options_.idle_seconds - 1);
  ASSERT_THAT(store_->Find(cookie), IsOk());  // touched: the idle time starts again
  env_.AdvanceSeconds(options_.idle_seconds - 1);
  auto found = store_->Find(cookie);
  ASSERT_THAT(found, IsOk());
  EXPECT_EQ(found->last_seen_micros, env_.NowMicros());
  env_.AdvanceSeconds(options_.idle_seconds);
  EXPECT_THAT(store_->Find(cookie), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(*db_->Query("SELECT 1 FROM console_sessions"), SizeIs(0));
}

TEST_F(SessionStoreTest, PeekDoesNotKeepASessionAlive) {
  const std::string cookie = NewSession();
  env_.AdvanceSeconds(options_.idle_seconds - 1);
  ASSERT_THAT(store_->Peek(cookie), IsOk());
  env_.AdvanceSeconds(1);
  EXPECT_THAT(store_->Peek(cookie), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store_->Find(cookie), StatusIs(StatusCode::kNotFound));
}

TEST_F(SessionStoreTest, ABusySessionEndsAtItsAbsoluteTimeout) {
  const std::string cookie = NewSession();
  const int64_t step = options_.idle_seconds / 2;
  int64_t elapsed = 0;
  while (elapsed + step < options_.absolute_seconds) {
    env_.AdvanceSeconds(step);
    elapsed += step;
    ASSERT_THAT(store_->Find(cookie), IsOk()) << elapsed;
  }
  env_.AdvanceSeconds(options_.absolute_seconds - elapsed);
  EXPECT_THAT(store_->Find(cookie), StatusIs(StatusCode::kNotFound));
}

TEST_F(SessionStoreTest, EndEndsOneSession) {
  const std::string a = NewSession();
  const std::string b = NewSession();
  ASSERT_THAT(store_->End(a), IsOk());
  EXPECT_THAT(store_->Find(a), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store_->Find(b), IsOk());
  EXPECT_THAT(store_->End(a), IsOk());
  EXPECT_THAT(store_->End("garbage"), IsOk());
}

TEST_F(SessionStoreTest, EndAllForEndsEveryBrowserOfOneManager) {
  const std::string a1 = NewSession("Ada@example.org");
  const std::string a2 = NewSession("ada@EXAMPLE.org");
  const std::string b = NewSession("bob@example.org");
  ASSERT_THAT(store_->EndAllFor("ADA@example.org"), IsOk());
  EXPECT_THAT(store_->Find(a1), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store_->Find(a2), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store_->Find(b), IsOk());
  EXPECT_THAT(store_->EndAllFor("nobody@example.org"), IsOk());
}

TEST_F(SessionStoreTest, CreatingSweepsOutTimedOutSessions) {
  NewSession();
  NewSession();
  env_.AdvanceSeconds(options_.idle_seconds);
  NewSession();
  EXPECT_THAT(*db_->Query("SELECT 1 FROM console_sessions"), SizeIs(1));
}

// A database from before users/sessions.h kept the console's sessions: its table is renamed in
// place (schema step 2) and the sessions in it stay signed in.
TEST(SessionStoreMigrationTest, SessionsOfTheFirstSchemaSurvive) {
  FakeClockEnv env;
  TempDir dir;
  auto db = ::tieup::testing::OpenTestDatabase(dir.path() + "/tieup.db");
  ASSERT_THAT(db, IsOk());
  ASSERT_THAT(Migrate(**db, "console_sessions",
                      {{1,
                        "CREATE TABLE console_sessions (id_hash TEXT PRIMARY KEY, email TEXT "
                        "NOT NULL, email_key TEXT NOT NULL, csrf_token TEXT NOT NULL, "
                        "created_at INTEGER NOT NULL, last_seen INTEGER NOT NULL);"}}),
              IsOk());
  const std::string cookie(43, 'c');
  ASSERT_THAT((*db)->Exec("INSERT INTO console_sessions VALUES(?, ?, ?, ?, ?, ?)",
                          {Sha256Hex(cookie), "Ada@Example.org", "ada@example.org",
                           std::string(43, 't'), env.NowMicros(), env.NowMicros()}),
              IsOk());
  auto store = SessionStore::Open(env, **db);
  ASSERT_THAT(store, IsOk());
  auto found = (*store)->Find(cookie);
  ASSERT_THAT(found, IsOk());
  EXPECT_EQ(found->subject, "Ada@Example.org");
  EXPECT_EQ(found->csrf_token, std::string(43, 't'));
  ASSERT_THAT((*store)->EndAllFor("ADA@example.org"), IsOk());
  EXPECT_FALSE((*store)->Find(cookie).ok());
}

// A notice of a sign-out everywhere that arrives late (main tells partners in the background)
// ends the customer's sessions made before that sign-out, not the one made by signing in again
// since: that sign-in carried the sign-out's generation.
TEST(CustomerSessionsTest, ALateSignOutNoticeEndsOnlyTheSessionsMadeBeforeIt) {
  FakeClockEnv env;
  TempDir dir;
  auto db = ::tieup::testing::OpenTestDatabase(dir.path() + "/tieup.db");
  ASSERT_THAT(db, IsOk());
  auto sessions = users::OpenCustomerSessions(env, **db);
  ASSERT_THAT(sessions, IsOk());
  users::SessionStore& store = **sessions;
  auto phone = store.Create("usr_a", "usr_a", "Ann");         // before any sign-out
  auto laptop = store.Create("usr_a", "usr_a", "Ann", 1000);  // after the sign-out of 1000
  auto again = store.Create("usr_a", "usr_a", "Ann", 2000);   // after the sign-out of 2000
  auto other = store.Create("usr_b", "usr_b", "Bo");
  ASSERT_THAT(phone, IsOk());
  ASSERT_THAT(laptop, IsOk());
  ASSERT_THAT(again, IsOk());
  ASSERT_THAT(other, IsOk());

  auto ended = store.EndAllBefore("usr_a", 2000);
  ASSERT_THAT(ended, IsOk());
  EXPECT_EQ(*ended, 2);
  EXPECT_THAT(store.Find(phone->cookie_value), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store.Find(laptop->cookie_value), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store.Find(again->cookie_value), IsOk());
  EXPECT_THAT(store.Find(other->cookie_value), IsOk());
  // The same notice again (delivered twice): nothing more ends.
  EXPECT_EQ(*store.EndAllBefore("usr_a", 2000), 0);
  EXPECT_THAT(store.Find(again->cookie_value), IsOk());
  // A later sign-out ends it.
  EXPECT_EQ(*store.EndAllBefore("usr_a", 2001), 1);
  EXPECT_THAT(store.Find(again->cookie_value), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store.Find(other->cookie_value), IsOk());
}

TEST(CsrfTest, MatchesOnlyTheSessionsOwnToken) {
  Session s;
  s.csrf_token = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";
  EXPECT_TRUE(CsrfMatches(s, s.csrf_token));
  EXPECT_FALSE(CsrfMatches(s, ""));
  EXPECT_FALSE(CsrfMatches(s, s.csrf_token.substr(0, 42)));
  EXPECT_FALSE(CsrfMatches(s, s.csrf_token + "x"));
  EXPECT_FALSE(CsrfMatches(s, "bbcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"));
  Session empty;
  EXPECT_FALSE(CsrfMatches(empty, ""));
}

}  // namespace
}  // namespace tieup::console
