#include "users/user_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <regex>
#include <thread>

#include "test_database.h"
#include "test_support.h"

namespace tieup::users {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using ::tieup::testing::FakeClockEnv;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

constexpr char kPassword[] = "correct horse battery";

class UserStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = ::tieup::testing::OpenTestDatabase(dir_.path() + "/tieup.db");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    Reopen();
  }

  void Reopen(int max_hashes = 4) {
    store_.reset();
    UserStoreOptions options;
    options.cost = PasswordHashCost::MinimumForTest();
    options.max_concurrent_hashes = max_hashes;
    options.throttled = [this](const User& user, int64_t failures) {
      throttled_.emplace_back(user.email, failures);
    };
    auto store = UserStore::Open(env_, *db_, options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }

  Result<User> Register(std::string email, std::string via = "shop-b",
                        std::string password = kPassword, std::string name = "Ada") {
    return store_->Register(
        {std::move(email), std::move(name), std::move(password), std::move(via), UserArea::kTieup});
  }

  int64_t Count() { return *store_->Count(); }

  FakeClockEnv env_;
  TempDir dir_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<UserStore> store_;
  std::vector<std::pair<std::string, int64_t>> throttled_;  // UserStoreOptions::throttled
};

TEST_F(UserStoreTest, RegisterKeepsTheAccountWithAnArgon2idHash) {
  auto user = store_->Register(
      {" Ada@Example.ORG ", " Ada Lovelace ", kPassword, "shop-b", UserArea::kOriginal});
  ASSERT_TRUE(user.ok()) << user.status().ToString();
  EXPECT_TRUE(std::regex_match(user->id, std::regex("usr_[a-z2-7]{16}"))) << user->id;
  EXPECT_EQ(user->email, "Ada@example.org");  // trimmed, domain lower-cased
  EXPECT_EQ(user->display_name, "Ada Lovelace");
  EXPECT_EQ(user->registered_via, "shop-b");
  EXPECT_EQ(user->area, UserArea::kOriginal);
  EXPECT_EQ(user->registered_at_micros, env_.NowMicros());

  auto got = store_->Get(user->id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, *user);
  auto rows = db_->Query("SELECT password_hash FROM users WHERE id = ?", {user->id});
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_THAT((*rows)[0].Text(0), StartsWith("$argon2id$v=19$"));
  EXPECT_THAT((*rows)[0].Text(0), Not(HasSubstr(kPassword)));
}

// A registration confirmed later (users/registration.h): the hash now, the account then.
TEST_F(UserStoreTest, RegisterHashedKeepsTheGivenHashAndTheConfirmation) {
  auto hash = store_->HashNewPassword(kPassword);
  ASSERT_TRUE(hash.ok()) << hash.status().ToString();
  EXPECT_THAT(*hash, StartsWith("$argon2id$"));
  EXPECT_EQ(store_->HashNewPassword("short").status().code(), StatusCode::kInvalidArgument);
  NewUser u{"kim@example.org", "Kim", "", "shop-b", UserArea::kTieup};
  u.email_confirmed_micros = env_.NowMicros();
  auto user = store_->RegisterHashed(u, *hash);
  ASSERT_TRUE(user.ok()) << user.status().ToString();
  EXPECT_EQ(user->email_confirmed_micros, env_.NowMicros());
  EXPECT_EQ(*store_->Get(user->id), *user);
  EXPECT_TRUE(store_->CheckLogin("kim@example.org", kPassword).ok());
  EXPECT_EQ(store_->RegisterHashed(u, *hash).status().code(), StatusCode::kAlreadyExists);
  u.email = "lee@example.org";
  EXPECT_EQ(store_->RegisterHashed(u, "plain text").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Count(), 1);
  // Accounts made otherwise have no confirmed address.
  auto ada = Register("ada@example.org");
  ASSERT_TRUE(ada.ok());
  EXPECT_EQ(ada->email_confirmed_micros, 0);
}

TEST_F(UserStoreTest, IdsDiffer) {
  auto a = Register("a@example.org");
  auto b = Register("b@example.org");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->id, b->id);
}

TEST_F(UserStoreTest, AnEmailIsTakenWhateverItsCase) {
  ASSERT_THAT(Register("Ada@Example.org").status(), IsOk());
  EXPECT_THAT(Register("ada@example.org").status(),
              StatusIs(StatusCode::kAlreadyExists, HasSubstr("already exists")));
  EXPECT_THAT(Register("  ADA@EXAMPLE.ORG").status(), StatusIs(StatusCode::kAlreadyExists));
  EXPECT_EQ(Count(), 1);
}

TEST_F(UserStoreTest, BadEmailsAreRefusedAndNothingIsStored) {
  for (const std::string& email : std::vector<std::string>{"",
                                                           "   ",
                                                           "ada",
                                                           "@example.org",
                                                           "ada@",
                                                           "ada@example",
                                                           "ada example@example.org",
                                                           "\"ada\"@example.org",
                                                           "ada@exa_mple.org",
                                                           "ada@-example.org",
                                                           "ada@example-.org",
                                                           "a..b@example.org",
                                                           ".ada@example.org",
                                                           "ada@example..org",
                                                           "ada@ex ample.org",
                                                           "ad\na@example.org",
                                                           "ad<a>@example.org",
                                                           "äda@example.org",
                                                           std::string(250, 'a') + "@example.org",
                                                           std::string(65, 'a') + "@example.org"}) {
    EXPECT_THAT(Register(email).status(), StatusIs(StatusCode::kInvalidArgument)) << email;
  }
  EXPECT_EQ(Count(), 0);
}

TEST_F(UserStoreTest, PasswordPolicyBounds) {
  EXPECT_THAT(Register("a@example.org", "shop-b", "nine char").status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("10 to 128 characters")));
  EXPECT_THAT(Register("b@example.org", "shop-b", "ten chars!").status(), IsOk());
  EXPECT_THAT(Register("c@example.org", "shop-b", std::string(128, 'x')).status(), IsOk());
  EXPECT_THAT(Register("d@example.org", "shop-b", std::string(129, 'x')).status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("it has 129")));
  EXPECT_THAT(Register("e@example.org", "shop-b", std::string(100000, 'x')).status(),
              StatusIs(StatusCode::kInvalidArgument));
  // Characters, not bytes: ten two-byte letters pass, nine do not.
  std::string ten, nine;
  for (int i = 0; i < 10; ++i) ten += "ä";
  for (int i = 0; i < 9; ++i) nine += "ä";
  EXPECT_THAT(Register("f@example.org", "shop-b", ten).status(), IsOk());
  EXPECT_THAT(Register("g@example.org", "shop-b", nine).status(),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(Register("h@example.org", "shop-b", "\xff\xfe long enough bytes").status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("UTF-8")));
  EXPECT_EQ(Count(), 3);
}

TEST_F(UserStoreTest, DisplayNameIsChecked) {
  EXPECT_THAT(Register("a@example.org", "shop-b", kPassword, "  ").status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("display name is required")));
  EXPECT_THAT(Register("a@example.org", "shop-b", kPassword, std::string(81, 'n')).status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("longer than 80")));
  EXPECT_THAT(Register("a@example.org", "shop-b", kPassword, "Ada\x01").status(),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(Register("a@example.org", "shop-b", kPassword, "\xc3\x28").status(),
              StatusIs(StatusCode::kInvalidArgument));
  std::string eighty;
  for (int i = 0; i < 80; ++i) eighty += "名";
  EXPECT_THAT(Register("a@example.org", "shop-b", kPassword, eighty).status(), IsOk());
}

TEST_F(UserStoreTest, RegisteredViaMustBeASiteId) {
  EXPECT_THAT(Register("a@example.org", "Shop B").status(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(Register("a@example.org", "").status(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(Register("a@example.org", "main").status(), IsOk());
}

TEST_F(UserStoreTest, LoginWithTheRightPassword) {
  auto user = Register("Ada@example.org");
  ASSERT_TRUE(user.ok());
  auto login = store_->CheckLogin(" ADA@EXAMPLE.ORG", kPassword);
  ASSERT_TRUE(login.ok()) << login.status().ToString();
  EXPECT_EQ(*login, *user);
}

TEST_F(UserStoreTest, WrongPasswordAndUnknownEmailGiveTheSameError) {
  ASSERT_THAT(Register("ada@example.org").status(), IsOk());
  auto wrong = store_->CheckLogin("ada@example.org", "correct horse battery!");
  auto unknown = store_->CheckLogin("bob@example.org", kPassword);
  auto garbage = store_->CheckLogin("not an email", kPassword);
  auto huge = store_->CheckLogin("ada@example.org", std::string(5000, 'x'));
  EXPECT_THAT(wrong.status(), StatusIs(StatusCode::kUnauthenticated));
  for (const auto* r : {&unknown, &garbage, &huge}) {
    EXPECT_EQ(r->status().code(), wrong.status().code());
    EXPECT_EQ(r->status().message(), wrong.status().message());
  }
  EXPECT_THAT(wrong.status().message(), Not(HasSubstr("unknown")));
}

TEST_F(UserStoreTest, ListNewestFirstAndByPartner) {
  std::vector<std::string> at_b;
  for (int i = 0; i < 3; ++i) {
    env_.AdvanceSeconds(10);
    auto u = Register("b" + std::to_string(i) + "@example.org", "shop-b");
    ASSERT_TRUE(u.ok());
    at_b.insert(at_b.begin(), u->id);
  }
  env_.AdvanceSeconds(10);
  ASSERT_THAT(Register("c@example.org", "shop-c").status(), IsOk());
  ASSERT_THAT(Register("m@example.org", "main").status(), IsOk());

  auto b = store_->List({.registered_via = "shop-b", .query = {}, .limit = 1000});
  ASSERT_TRUE(b.ok());
  std::vector<std::string> ids;
  for (const User& u : *b) ids.push_back(u.id);
  EXPECT_EQ(ids, at_b);
  EXPECT_EQ(*store_->Count("shop-b"), 3);
  EXPECT_EQ(*store_->Count("shop-c"), 1);
  EXPECT_EQ(*store_->Count("nobody"), 0);
  EXPECT_EQ(Count(), 5);
  auto all = store_->List({.registered_via = std::nullopt, .query = {}, .limit = 2});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 2u);
  EXPECT_EQ(store_->List()->size(), 5u);
}

TEST_F(UserStoreTest, SearchFindsPartsOfEmailNameOrTheIdAndPages) {
  ASSERT_THAT(Register("ada@example.org", "shop-a", kPassword, "Ada Lovelace").status(), IsOk());
  env_.AdvanceSeconds(10);
  auto grace = Register("Grace@Navy.example.org", "shop-b", kPassword, "Grace Hopper");
  ASSERT_TRUE(grace.ok());
  env_.AdvanceSeconds(10);
  ASSERT_THAT(Register("alan@example.org", "main", kPassword, "Alan 100%_Turing").status(), IsOk());

  // A filter: the search `q`, at `via` when given, `limit` from `offset`.
  auto f = [](std::string q, std::optional<std::string> via = std::nullopt, int64_t limit = 1000,
              int64_t offset = 0) {
    UserFilter filter;
    filter.query = std::move(q);
    filter.registered_via = std::move(via);
    filter.limit = limit;
    filter.offset = offset;
    return filter;
  };
  auto emails = [&](const UserFilter& f) {
    std::vector<std::string> out;
    auto list = store_->List(f);
    EXPECT_THAT(list.status(), IsOk());
    if (list.ok()) {
      for (const User& u : *list) out.push_back(u.email);
    }
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(emails(f("GRACE")), V{"Grace@navy.example.org"});    // email, any case
  EXPECT_EQ(emails(f("lovelace")), V{"ada@example.org"});        // display name
  EXPECT_EQ(emails(f(grace->id)), V{"Grace@navy.example.org"});  // the id
  EXPECT_EQ(emails(f("100%_")), V{"alan@example.org"});          // no LIKE wildcards
  EXPECT_EQ(emails(f("%")), V{"alan@example.org"});
  EXPECT_EQ(emails(f("example.org")),
            (V{"alan@example.org", "Grace@navy.example.org", "ada@example.org"}));
  EXPECT_EQ(emails(f("example", "shop-a")), V{"ada@example.org"});
  EXPECT_EQ(*store_->CountMatching(f("example.org")), 3);
  EXPECT_EQ(*store_->CountMatching(f("example.org", "main")), 1);
  EXPECT_EQ(*store_->CountMatching(f("nobody")), 0);
  // Pages: newest first, `limit` at a time from `offset`.
  EXPECT_EQ(emails(f("", std::nullopt, 2, 0)), (V{"alan@example.org", "Grace@navy.example.org"}));
  EXPECT_EQ(emails(f("", std::nullopt, 2, 2)), V{"ada@example.org"});
  EXPECT_EQ(emails(f("", std::nullopt, 2, 4)), V{});
}

TEST_F(UserStoreTest, ADisabledAccountCannotSignInUntilEnabled) {
  auto user = Register("ada@example.org");
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(user->disabled_micros, 0);
  env_.AdvanceSeconds(60);
  const int64_t when = env_.NowMicros();
  auto disabled = store_->SetDisabled(user->id, true);
  ASSERT_TRUE(disabled.ok()) << disabled.status().ToString();
  EXPECT_EQ(disabled->disabled_micros, when);
  EXPECT_EQ(store_->Get(user->id)->disabled_micros, when);
  // The right password no longer signs in; the error is the one of a wrong login.
  EXPECT_THAT(store_->CheckLogin("ada@example.org", kPassword).status(),
              StatusIs(StatusCode::kUnauthenticated));
  EXPECT_THAT(store_->CheckLogin("ada@example.org", "wrong password!").status(),
              StatusIs(StatusCode::kUnauthenticated));
  // Disabling again keeps the first time; the account stays listed and counted.
  env_.AdvanceSeconds(60);
  EXPECT_EQ(store_->SetDisabled(user->id, true)->disabled_micros, when);
  EXPECT_EQ(store_->List()->front().disabled_micros, when);
  EXPECT_EQ(Count(), 1);

  auto enabled = store_->SetDisabled(user->id, false);
  ASSERT_TRUE(enabled.ok());
  EXPECT_EQ(enabled->disabled_micros, 0);
  EXPECT_THAT(store_->CheckLogin("ada@example.org", kPassword).status(), IsOk());
  EXPECT_THAT(store_->SetDisabled("usr_aaaaaaaaaaaaaaaa", true).status(),
              StatusIs(StatusCode::kNotFound));
}

TEST_F(UserStoreTest, ADisabledAccountStaysDisabledAfterReopening) {
  auto user = Register("ada@example.org");
  ASSERT_TRUE(user.ok());
  ASSERT_THAT(store_->SetDisabled(user->id, true).status(), IsOk());
  Reopen();
  EXPECT_NE(store_->Get(user->id)->disabled_micros, 0);
  EXPECT_THAT(store_->CheckLogin("ada@example.org", kPassword).status(),
              StatusIs(StatusCode::kUnauthenticated));
}

TEST_F(UserStoreTest, FindByEmailIgnoresCase) {
  auto user = Register("Ada@Example.org");
  ASSERT_TRUE(user.ok());
  auto found = store_->FindByEmail(" ADA@example.ORG ");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->id, user->id);
  EXPECT_THAT(store_->FindByEmail("bob@example.org").status(), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store_->FindByEmail("not an address").status(),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(UserStoreTest, GetUnknownIsNotFound) {
  EXPECT_THAT(store_->Get("usr_aaaaaaaaaaaaaaaa").status(), StatusIs(StatusCode::kNotFound));
}

TEST_F(UserStoreTest, ThePasswordIsNowhereButItsHashInTheUsersTable) {
  const std::string password = "zebra-quartz-0451-lantern";
  auto user = Register("ada@example.org", "shop-b", password);
  ASSERT_TRUE(user.ok());
  ASSERT_THAT(store_->CheckLogin("ada@example.org", password).status(), IsOk());
  auto hash = db_->Query("SELECT password_hash FROM users");
  ASSERT_TRUE(hash.ok());
  const std::string h = (*hash)[0].Text(0);
  auto tables = ListTables(*db_);
  ASSERT_TRUE(tables.ok());
  ASSERT_FALSE(tables->empty());
  for (const std::string& t : *tables) {
    auto rows = db_->Query("SELECT * FROM \"" + t + "\"");
    ASSERT_TRUE(rows.ok());
    int hashes = 0;
    for (const SqlRow& r : *rows) {
      for (size_t i = 0; i < r.size(); ++i) {
        EXPECT_THAT(r.Text(i), Not(HasSubstr(password))) << t;
        hashes += r.Text(i) == h;
      }
    }
    EXPECT_EQ(hashes, t == "users" ? 1 : 0) << t;
  }
  // Nor in the database files themselves.
  for (const char* suffix : {"", "-wal"}) {
    auto bytes = env_.ReadFile(dir_.path() + "/tieup.db" + suffix);
    if (bytes.ok()) {
      EXPECT_EQ(bytes->find(password), std::string::npos) << suffix;
    }
  }
}

TEST_F(UserStoreTest, ConcurrentRegistrationsOfOneEmailMakeOneAccount) {
  Reopen(/*max_hashes=*/2);
  std::atomic<int> ok{0}, taken{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto same = Register("same@example.org");
      auto own = Register("u" + std::to_string(i) + "@example.org");
      (same.ok() ? ok : taken) += 1;
      EXPECT_TRUE(own.ok()) << own.status().ToString();
      if (!same.ok()) {
        EXPECT_EQ(same.status().code(), StatusCode::kAlreadyExists);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(taken.load(), 7);
  EXPECT_EQ(Count(), 9);
}

// OWASP ASVS 2.2.1: after free_login_failures wrong passwords for one address, each further
// attempt waits 5, 10, 20... seconds after the last failure, refused before any hashing; the
// right password after the wait signs in and clears the count. Unknown addresses count the same.
TEST_F(UserStoreTest, WrongPasswordsForOneAddressMakeItWaitLongerEachTime) {
  ASSERT_TRUE(Register("ada@example.org").ok());
  for (int i = 0; i < 5; ++i) {
    EXPECT_THAT(store_->CheckLogin("ada@example.org", "wrong password").status(),
                StatusIs(StatusCode::kUnauthenticated));
  }
  // The sixth failure is still checked; now the address must wait 5 seconds.
  EXPECT_THAT(store_->CheckLogin("ADA@example.org", "wrong password").status(),
              StatusIs(StatusCode::kUnauthenticated));
  auto throttled = store_->CheckLogin("ada@example.org", kPassword);
  EXPECT_THAT(throttled.status(), StatusIs(StatusCode::kResourceExhausted));
  EXPECT_THAT(throttled.status().message(), HasSubstr("try again in 5 seconds"));
  env_.AdvanceSeconds(4);
  EXPECT_THAT(store_->CheckLogin("ada@example.org", kPassword).status(),
              StatusIs(StatusCode::kResourceExhausted));
  // Another address is not held back.
  ASSERT_TRUE(Register("bob@example.org").ok());
  EXPECT_THAT(store_->CheckLogin("bob@example.org", kPassword).status(), IsOk());
  env_.AdvanceSeconds(1);
  EXPECT_THAT(store_->CheckLogin("ada@example.org", kPassword).status(), IsOk());
  // A success starts the count again.
  EXPECT_THAT(store_->CheckLogin("ada@example.org", "wrong password").status(),
              StatusIs(StatusCode::kUnauthenticated));
  EXPECT_THAT(store_->CheckLogin("ada@example.org", kPassword).status(), IsOk());
  // The owner was told once, when the waits began (the sixth wrong password in a row).
  EXPECT_THAT(throttled_,
              ::testing::ElementsAre(std::make_pair(std::string("ada@example.org"), int64_t{6})));
  // An address with no account is throttled alike (the answers do not tell them apart), and
  // nobody is told.
  for (int i = 0; i < 7; ++i) (void)store_->CheckLogin("nobody@example.org", "guess");
  EXPECT_EQ(throttled_.size(), 1u);
  EXPECT_THAT(store_->CheckLogin("nobody@example.org", "guess").status(),
              StatusIs(StatusCode::kResourceExhausted));
  auto failures = db_->Query("SELECT failures FROM login_failures WHERE email_key = ?",
                             {std::string("nobody@example.org")});
  ASSERT_THAT(failures, IsOk());
  ASSERT_EQ(failures->size(), 1u);
  EXPECT_EQ((*failures)[0].Int(0), 6);  // the throttled attempt was refused before counting
}

// A sign-in that finds the hashing queue full is refused at once (Unavailable), rather than
// queueing behind a flood; those already waiting go through.
TEST_F(UserStoreTest, AFullHashingQueueRefusesAtOnce) {
  ASSERT_TRUE(Register("ada@example.org").ok());
  std::mutex mu;
  std::condition_variable cv;
  int started = 0, waiting = 0;
  bool release = false;
  store_.reset();
  UserStoreOptions options;
  options.cost = PasswordHashCost::MinimumForTest();
  options.max_concurrent_hashes = 1;
  options.max_waiting_hashes = 1;
  options.hasher_observer_for_test = [&](PasswordHasher::EventForTest e) {
    std::unique_lock<std::mutex> lock(mu);
    if (e == PasswordHasher::EventForTest::kWaiting) ++waiting;
    if (e == PasswordHasher::EventForTest::kStarted) {
      ++started;
      cv.notify_all();
      cv.wait(lock, [&] { return release; });  // the first hash holds its slot
    }
    cv.notify_all();
  };
  auto store = UserStore::Open(env_, *db_, options);
  ASSERT_THAT(store, IsOk());
  store_ = std::move(*store);
  std::thread first(
      [&] { EXPECT_THAT(store_->CheckLogin("ada@example.org", kPassword).status(), IsOk()); });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return started == 1; });
  }
  std::thread second(
      [&] { EXPECT_THAT(store_->CheckLogin("ada@example.org", kPassword).status(), IsOk()); });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return waiting == 1; });
  }
  auto third = store_->CheckLogin("ada@example.org", kPassword);
  EXPECT_THAT(third.status(), StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(third.status().message(), HasSubstr("try again in a few seconds"));
  EXPECT_EQ(store_->Register({"new@example.org", "New", kPassword, "main", UserArea::kOriginal})
                .status()
                .code(),
            StatusCode::kUnavailable);
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  first.join();
  second.join();
  EXPECT_THAT(store_->CheckLogin("ada@example.org", kPassword).status(), IsOk());
}

TEST_F(UserStoreTest, AccountsSurviveReopening) {
  auto user = Register("ada@example.org");
  ASSERT_TRUE(user.ok());
  Reopen();
  EXPECT_THAT(store_->CheckLogin("ada@example.org", kPassword).status(), IsOk());
}

TEST_F(UserStoreTest, TheAddressIsCheckedLikeAnOrdersAndKept) {
  auto user = Register("ada@example.org");
  ASSERT_THAT(user, IsOk());
  EXPECT_TRUE(user->address.empty());
  EXPECT_EQ(user->changed_micros, user->registered_at_micros);
  // Only a street: the message names every missing field, as checkout would.
  auto partial = store_->SetAddress(user->id, PostalAddress{"", "1 Main St", "", "", "", "", ""});
  EXPECT_EQ(partial.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(partial.status().message(), HasSubstr("City"));
  EXPECT_THAT(partial.status().message(), HasSubstr("Postal code"));
  EXPECT_TRUE(store_->Get(user->id)->address.empty());

  env_.AdvanceSeconds(5);
  const PostalAddress home{" Ada Lovelace ", "1 Main St", "", "600-8216", "Kyoto", "Japan", ""};
  auto kept = store_->SetAddress(user->id, home);
  ASSERT_THAT(kept, IsOk());
  EXPECT_EQ(kept->address.name, "Ada Lovelace");  // trimmed
  EXPECT_EQ(kept->address.city, "Kyoto");
  EXPECT_EQ(kept->changed_micros, env_.NowMicros());
  Reopen();
  EXPECT_EQ(store_->Get(user->id)->address, kept->address);

  // Every field empty: forgotten.
  ASSERT_THAT(store_->SetAddress(user->id, PostalAddress{}), IsOk());
  EXPECT_TRUE(store_->Get(user->id)->address.empty());
  EXPECT_EQ(store_->SetAddress("usr_nobody", home).status().code(), StatusCode::kNotFound);
}

TEST_F(UserStoreTest, TheMarketingConsentKeepsWhenItWasGiven) {
  auto user = Register("ada@example.org");
  ASSERT_THAT(user, IsOk());
  EXPECT_EQ(user->marketing_consent_micros, 0);
  env_.AdvanceSeconds(1);
  const int64_t given = env_.NowMicros();
  ASSERT_THAT(store_->SetMarketingConsent(user->id, true), IsOk());
  env_.AdvanceSeconds(1);
  // Given again: the first time stays, nothing changed.
  auto again = store_->SetMarketingConsent(user->id, true);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->marketing_consent_micros, given);
  EXPECT_EQ(again->changed_micros, given);
  auto withdrawn = store_->SetMarketingConsent(user->id, false);
  ASSERT_THAT(withdrawn, IsOk());
  EXPECT_EQ(withdrawn->marketing_consent_micros, 0);
  EXPECT_EQ(withdrawn->changed_micros, env_.NowMicros());
  // The consent to user logs is its own.
  EXPECT_EQ(withdrawn->visits_consent_micros, 0);
  env_.AdvanceSeconds(1);
  auto visits = store_->SetVisitsConsent(user->id, true);
  ASSERT_THAT(visits, IsOk());
  EXPECT_EQ(visits->visits_consent_micros, env_.NowMicros());
  EXPECT_EQ(visits->marketing_consent_micros, 0);
  Reopen();
  EXPECT_EQ(store_->Get(user->id)->visits_consent_micros, visits->visits_consent_micros);
  ASSERT_THAT(store_->SetVisitsConsent(user->id, false), IsOk());
  EXPECT_EQ(store_->Get(user->id)->visits_consent_micros, 0);
}

TEST(UserStoreOpenTest, RefusesACostBelowLibsodiumsMinimum) {
  TempDir dir;
  FakeClockEnv env;
  auto db = ::tieup::testing::OpenTestDatabase(dir.path() + "/t.db");
  ASSERT_TRUE(db.ok());
  UserStoreOptions options;
  options.cost = {0, 0};
  EXPECT_THAT(UserStore::Open(env, **db, options).status(), StatusIs(StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace tieup::users
