// Password reset by mail (users/password_reset.h): the store's tokens and the pages, on a real
// SQLite file and a clock the test sets; the "mail" is what send_mail is given.
#include "users/password_reset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <regex>

#include "crypto/hash.h"
#include "store/database.h"
#include "test_database.h"
#include "test_support.h"
#include "users/sessions.h"

namespace tieup::users {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::tieup::testing::FakeClockEnv;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

constexpr char kHost[] = "main.example";

std::string Enc(std::string_view s) {
  return boost::urls::encode(s, boost::urls::unreserved_chars);
}

class PasswordResetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = ::tieup::testing::OpenTestDatabase(dir_.Sub("tieup.db"));
    ASSERT_THAT(db, IsOk());
    db_ = std::move(*db);
    UserStoreOptions uo;
    uo.cost = PasswordHashCost::MinimumForTest();
    auto users = UserStore::Open(env_, *db_, uo);
    ASSERT_THAT(users, IsOk());
    users_ = std::move(*users);
    auto resets = PasswordResets::Open(env_, *db_, *users_);
    ASSERT_THAT(resets, IsOk());
    resets_ = std::move(*resets);
    auto user = users_->Register(
        {"ada@example.org", "Ada", "the old password", "main", UserArea::kOriginal});
    ASSERT_THAT(user, IsOk());
    user_id_ = user->id;
    PasswordResetPagesOptions o;
    o.base_url = "https://main.example";
    o.env = &env_;
    o.requests_per_client = 5;
    o.send_mail = [this](const User& u, const std::string& link) {
      mails_.emplace_back(u.email, link);
      return Status::Ok();
    };
    o.password_changed = [this](const User& u) { changed_.push_back(u.id); };
    pages_ = std::make_unique<PasswordResetPages>(resets_, o);
  }

  static HttpRequest Post(const std::string& path, const std::string& body,
                          const std::string& client = "192.0.2.1") {
    HttpRequest r("POST", path);
    r.AddHeader("Host", kHost);
    r.AddHeader("Origin", std::string("https://") + kHost);
    r.AddHeader("Content-Type", "application/x-www-form-urlencoded");
    r.SetBody(body);
    r.SetRemoteAddressForTest(client);
    return r;
  }
  static HttpRequest Get(const std::string& target) {
    HttpRequest r("GET", target);
    r.AddHeader("Host", kHost);
    return r;
  }
  // The token in the last mail's link.
  std::string LastToken() {
    if (mails_.empty()) return "";
    return mails_.back().second.substr(mails_.back().second.find("token=") + 6);
  }

  FakeClockEnv env_;
  TempDir dir_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<UserStore> users_;
  std::shared_ptr<PasswordResets> resets_;
  std::unique_ptr<PasswordResetPages> pages_;
  std::string user_id_;
  std::vector<std::pair<std::string, std::string>> mails_;
  std::vector<std::string> changed_;
};

TEST_F(PasswordResetTest, TheMailedLinkSetsANewPasswordOnce) {
  HttpResponse r = pages_->HandleRequest(Post("/account/reset", "email=Ada%40Example.org"));
  ASSERT_EQ(r.status(), 200);
  EXPECT_THAT(r.body(), HasSubstr("If an account exists for <strong>Ada@example.org</strong>"));
  ASSERT_EQ(mails_.size(), 1u);
  EXPECT_EQ(mails_[0].first, "ada@example.org");
  EXPECT_THAT(mails_[0].second,
              ::testing::StartsWith("https://main.example/account/reset/confirm?token="));
  const std::string token = LastToken();
  EXPECT_EQ(token.size(), 43u);
  // Only the token's hash is stored.
  auto rows = db_->Query("SELECT token_hash FROM password_resets");
  ASSERT_THAT(rows, IsOk());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].Text(0), Sha256Hex(token));

  r = pages_->HandleRequest(Get("/account/reset/confirm?token=" + token));
  ASSERT_EQ(r.status(), 200);
  EXPECT_THAT(r.body(), HasSubstr("Choose a new password"));
  // A password the policy refuses: the form again, the link still good.
  r = pages_->HandleRequest(Post("/account/reset/confirm", "token=" + token + "&password=short"));
  EXPECT_EQ(r.status(), 400);
  EXPECT_THAT(r.body(), HasSubstr("10 to 128 characters"));
  r = pages_->HandleRequest(
      Post("/account/reset/confirm", "token=" + token + "&password=" + Enc("the new password")));
  ASSERT_EQ(r.status(), 200);
  EXPECT_THAT(r.body(), HasSubstr("Your password is changed"));
  EXPECT_EQ(changed_, std::vector<std::string>{user_id_});
  EXPECT_THAT(users_->CheckLogin("ada@example.org", "the new password"), IsOk());
  EXPECT_THAT(users_->CheckLogin("ada@example.org", "the old password"),
              StatusIs(StatusCode::kUnauthenticated));
  // Used: the link no longer works.
  r = pages_->HandleRequest(
      Post("/account/reset/confirm", "token=" + token + "&password=" + Enc("a third password")));
  EXPECT_EQ(r.status(), 400);
  EXPECT_THAT(r.body(), HasSubstr("expired or was already used"));
  EXPECT_EQ(pages_->HandleRequest(Get("/account/reset/confirm?token=" + token)).status(), 400);
}

TEST_F(PasswordResetTest, TheAnswerNeverTellsWhetherAnAccountExists) {
  HttpResponse known = pages_->HandleRequest(Post("/account/reset", "email=ada%40example.org"));
  HttpResponse unknown =
      pages_->HandleRequest(Post("/account/reset", "email=nobody%40example.org", "192.0.2.2"));
  EXPECT_EQ(known.status(), unknown.status());
  std::string a(known.body()), b(unknown.body());
  EXPECT_EQ(std::regex_replace(a, std::regex("ada@example\\.org"), "X"),
            std::regex_replace(b, std::regex("nobody@example\\.org"), "X"));
  EXPECT_EQ(mails_.size(), 1u);
  // A disabled account gets no mail either, and the same page.
  ASSERT_THAT(users_->SetDisabled(user_id_, true), IsOk());
  HttpResponse disabled =
      pages_->HandleRequest(Post("/account/reset", "email=ada%40example.org", "192.0.2.3"));
  EXPECT_EQ(std::string(disabled.body()), a);
  EXPECT_EQ(mails_.size(), 1u);
  // A malformed address is said so (it reveals nothing).
  EXPECT_EQ(
      pages_->HandleRequest(Post("/account/reset", "email=not-an-address", "192.0.2.4")).status(),
      400);
}

TEST_F(PasswordResetTest, LinksExpireAndRequestsAreBounded) {
  ASSERT_THAT(resets_->Request("ada@example.org"), IsOk());
  auto first = resets_->Request("ada@example.org");
  ASSERT_THAT(first, IsOk());
  ASSERT_TRUE(first->has_value());
  auto third = resets_->Request("ada@example.org");
  ASSERT_TRUE(third.ok() && third->has_value());
  // A fourth within the hour: none (no mail bombing), the same page.
  auto fourth = resets_->Request("ada@example.org");
  ASSERT_THAT(fourth, IsOk());
  EXPECT_FALSE(fourth->has_value());
  // 30 minutes later the links have expired.
  env_.AdvanceSeconds(kResetSeconds + 1);
  EXPECT_FALSE(resets_->Usable((*first)->token));
  EXPECT_THAT(resets_->Complete((*first)->token, "a brand new password"),
              StatusIs(StatusCode::kNotFound));
  // An hour after the first ones, one may ask again; using it voids the others.
  env_.AdvanceSeconds(3600);
  auto a = resets_->Request("ada@example.org");
  auto b = resets_->Request("ada@example.org");
  ASSERT_TRUE(a.ok() && a->has_value() && b.ok() && b->has_value());
  ASSERT_THAT(resets_->Complete((*a)->token, "a brand new password"), IsOk());
  EXPECT_FALSE(resets_->Usable((*b)->token));
  // Tokens that were never issued.
  EXPECT_FALSE(resets_->Usable(""));
  EXPECT_FALSE(resets_->Usable(std::string(43, 'A')));
  EXPECT_THAT(resets_->Complete(std::string(500, 'A'), "a brand new password"),
              StatusIs(StatusCode::kNotFound));
}

TEST_F(PasswordResetTest, ChangingThePasswordEndsTheSessionsAndForgetsTheFailures) {
  auto sessions = OpenCustomerSessions(env_, *db_);
  ASSERT_THAT(sessions, IsOk());
  auto s = (*sessions)->Create(user_id_, user_id_, "Ada");
  ASSERT_THAT(s, IsOk());
  for (int i = 0; i < 7; ++i)
    (void)users_->CheckLogin("ada@example.org", "guess " + std::to_string(i));
  EXPECT_THAT(users_->CheckLogin("ada@example.org", "the old password"),
              StatusIs(StatusCode::kResourceExhausted));
  auto issued = resets_->Request("ada@example.org");
  ASSERT_TRUE(issued.ok() && issued->has_value());
  ASSERT_THAT(resets_->Complete((*issued)->token, "the new password"), IsOk());
  EXPECT_THAT((*sessions)->Find(s->cookie_value), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(users_->CheckLogin("ada@example.org", "the new password"), IsOk());
}

TEST_F(PasswordResetTest, FloodsAndForeignFormsAreRefused) {
  for (int i = 0; i < 6; ++i) {
    (void)pages_->HandleRequest(
        Post("/account/reset", "email=x" + std::to_string(i) + "%40example.org"));
  }
  HttpResponse r = pages_->HandleRequest(Post("/account/reset", "email=ada%40example.org"));
  EXPECT_EQ(r.status(), 429);
  EXPECT_TRUE(r.FindHeader("Retry-After").has_value());
  EXPECT_TRUE(mails_.empty());
  HttpRequest forged = Post("/account/reset", "email=ada%40example.org", "192.0.2.9");
  forged.RemoveHeader("Origin");
  forged.AddHeader("Origin", "https://evil.example");
  EXPECT_EQ(pages_->HandleRequest(forged).status(), 403);
  EXPECT_TRUE(mails_.empty());
}

TEST_F(PasswordResetTest, EveryBuiltInTemplateParses) {
  content::PageTemplates t(PasswordResetTemplates(), {});
  for (const auto& [name, text] : PasswordResetTemplates()) {
    EXPECT_THAT(t.RenderBody(name, boost::json::object{}), IsOk()) << name;
  }
}

}  // namespace
}  // namespace tieup::users
