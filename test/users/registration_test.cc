// Main's registration confirmed by mail (users/registration.h): the pages with a real SQLite
// file, the real user store and sessions, and a clock the test sets. The end-to-end flow
// through a client (prompt=create, the provider, the relying party) is in oidc_test.cc.
#include "users/registration.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <mutex>
#include <thread>

#include "store/database.h"
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

constexpr char kRegistrationHost[] = "main.example";
constexpr char kRegistrationBase[] = "https://main.example";

class RegistrationTest : public ::testing::Test {
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
    auto sessions = OpenCustomerSessions(env_, *db_);
    ASSERT_THAT(sessions, IsOk());
    sessions_ = std::move(*sessions);
    auto registrations = PendingRegistrations::Open(env_, *db_, *users_);
    ASSERT_THAT(registrations, IsOk());
    registrations_ = std::move(*registrations);
    RegistrationPagesOptions o;
    o.base_url = kRegistrationBase;
    o.sessions = sessions_;
    o.session_cookie = "tieup_main_session";
    o.env = &env_;
    o.requests_per_client = 5;
    o.client = [](std::string_view id) -> std::optional<OidcClient> {
      if (id != "shop-a") return std::nullopt;
      return OidcClient{"shop-a", "Tea House <Asahi>", {"https://shop-a.example/cb"}, {}};
    };
    o.send_mail = [this](const RegistrationMail& mail) {
      std::lock_guard<std::mutex> lock(mu_);
      mails_.push_back(mail);
      return Status::Ok();
    };
    pages_ = std::make_unique<RegistrationPages>(registrations_, o);
  }

  HttpResponse Get(const std::string& target) {
    HttpRequest r("GET", target);
    r.AddHeader("Host", kRegistrationHost);
    return pages_->HandleRequest(r);
  }
  HttpResponse Post(const std::string& target, const std::string& body,
                    const std::string& from = "203.0.113.7") {
    HttpRequest r("POST", target);
    r.AddHeader("Host", kRegistrationHost);
    r.AddHeader("Origin", kRegistrationBase);
    r.AddHeader("Content-Type", "application/x-www-form-urlencoded");
    r.SetRemoteAddressForTest(from);
    r.SetBody(body);
    return pages_->HandleRequest(r);
  }
  HttpResponse Register(const std::string& email, const std::string& password = "long+enough+pw",
                        const std::string& extra = "", const std::string& from = "203.0.113.7") {
    return Post("/account/register",
                "email=" + email + "&display_name=Kim&password=" + password + extra, from);
  }
  static std::string Body(const HttpResponse& r) { return std::string(r.body()); }
  // The token of the last confirmation mail.
  std::string LastToken() {
    std::lock_guard<std::mutex> lock(mu_);
    if (mails_.empty()) return "";
    const std::string& link = mails_.back().link;
    const size_t at = link.find("token=");
    return at == std::string::npos ? "" : link.substr(at + 6);
  }

  FakeClockEnv env_;
  TempDir dir_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<UserStore> users_;
  std::shared_ptr<SessionStore> sessions_;
  std::shared_ptr<PendingRegistrations> registrations_;
  std::unique_ptr<RegistrationPages> pages_;
  std::mutex mu_;
  std::vector<RegistrationMail> mails_;
};

TEST_F(RegistrationTest, TheFormNamesAKnownClientOnlyAndEscapes) {
  HttpResponse plain = Get("/account/register");
  ASSERT_EQ(plain.status(), 200);
  EXPECT_THAT(Body(plain), HasSubstr("name=\"password\""));
  EXPECT_THAT(Body(plain), HasSubstr("name=\"continue\" value=\"\""));
  EXPECT_THAT(Body(plain), Not(HasSubstr("continue to")));
  EXPECT_EQ(plain.FindHeader("Cache-Control").value_or(""), "no-store");
  HttpResponse through =
      Get("/account/register?continue=%2Foidc%2Fauthorize%3Fclient_id%3Dshop-a%26state%3Dx");
  EXPECT_THAT(Body(through), HasSubstr("continue to <strong>Tea House &lt;Asahi&gt;</strong>"));
  EXPECT_THAT(Body(through), Not(HasSubstr("<Asahi>")));
  // Unknown clients and other places are dropped: never a way to send the customer elsewhere.
  for (const char* bad : {"%2Foidc%2Fauthorize%3Fclient_id%3Devil", "https%3A%2F%2Fevil.example",
                          "%2F%2Fevil.example%2Foidc%2Fauthorize%3Fclient_id%3Dshop-a",
                          "%2Faccount%2F%3Fclient_id%3Dshop-a"}) {
    HttpResponse r = Get(std::string("/account/register?continue=") + bad);
    EXPECT_THAT(Body(r), HasSubstr("name=\"continue\" value=\"\"")) << bad;
  }
}

// The page and status are the same whether or not the address has an account; only the mail
// differs (and goes to the address's owner).
TEST_F(RegistrationTest, TheAnswerDoesNotTellWhetherTheAddressHasAnAccount) {
  ASSERT_THAT(users_->Register(
                  {"taken@example.org", "Taro", "taros password", "main", UserArea::kOriginal}),
              IsOk());
  HttpResponse fresh = Register("new%40example.org");
  HttpResponse taken = Register("TAKEN%40example.org");
  ASSERT_EQ(fresh.status(), 200) << Body(fresh);
  ASSERT_EQ(taken.status(), 200) << Body(taken);
  auto without_address = [](std::string page, std::string_view address) {
    for (size_t at; (at = page.find(address)) != std::string::npos;) page.erase(at, address.size());
    return page;
  };
  EXPECT_EQ(without_address(Body(fresh), "new@example.org"),
            without_address(Body(taken), "TAKEN@example.org"));
  ASSERT_EQ(mails_.size(), 2u);
  EXPECT_EQ(mails_[0].kind, RegistrationMail::Kind::kConfirm);
  EXPECT_EQ(mails_[1].kind, RegistrationMail::Kind::kAlreadyRegistered);
  EXPECT_EQ(mails_[1].display_name, "Taro");  // the account's own name, not what was typed
  EXPECT_EQ(mails_[1].link, std::string(kRegistrationBase) + "/account/login");
  EXPECT_EQ(mails_[1].reset_link, std::string(kRegistrationBase) + "/account/reset");
  // No account yet for the new address; the password is kept only as a hash.
  EXPECT_THAT(users_->FindByEmail("new@example.org"), StatusIs(StatusCode::kNotFound));
  const std::string token = mails_[0].link.substr(mails_[0].link.find("token=") + 6);
  ASSERT_EQ(token.size(), 43u);
  auto rows = db_->Query("SELECT password_hash, token_hash FROM registrations");
  ASSERT_THAT(rows, IsOk());
  ASSERT_EQ(rows->size(), 2u);
  for (const SqlRow& row : *rows) {
    EXPECT_THAT(row.Text(0), Not(HasSubstr("long enough pw")));
    EXPECT_THAT(row.Text(1), Not(HasSubstr(token)));
  }
}

TEST_F(RegistrationTest, WhatToFixIsShownWithTheFormKeptWithoutThePassword) {
  HttpResponse weak = Register("kim%40example.org", "short");
  EXPECT_EQ(weak.status(), 400);
  EXPECT_THAT(Body(weak), HasSubstr("10 to 128 characters"));
  EXPECT_THAT(Body(weak), HasSubstr("value=\"kim@example.org\""));
  EXPECT_THAT(Body(weak), HasSubstr("value=\"Kim\""));
  HttpResponse bad = Register("kim+at+example", "long+enough+pw");
  EXPECT_EQ(bad.status(), 400);
  EXPECT_THAT(Body(Post("/account/register", "email=kim%40example.org&password=long+enough+pw")),
              HasSubstr("display name"));
  EXPECT_TRUE(mails_.empty());
}

TEST_F(RegistrationTest, ConfirmingCreatesTheAccountSignsInAndUsesTheLinkUp) {
  ASSERT_EQ(Register("kim%40example.org").status(), 200);
  const std::string token = LastToken();
  ASSERT_EQ(token.size(), 43u);
  // Opening the link changes nothing (mail scanners follow links).
  HttpResponse ask = Get("/account/register/confirm?token=" + token);
  ASSERT_EQ(ask.status(), 200);
  EXPECT_THAT(Body(ask), HasSubstr("kim@example.org"));
  EXPECT_THAT(users_->FindByEmail("kim@example.org"), StatusIs(StatusCode::kNotFound));
  HttpResponse made = Post("/account/register/confirm", "token=" + token);
  ASSERT_EQ(made.status(), 200) << Body(made);
  EXPECT_THAT(Body(made), HasSubstr("Welcome, Kim"));
  EXPECT_THAT(Body(made), HasSubstr("you are signed in"));
  bool session = false;
  for (const HttpHeaderView& h : made.Headers()) {
    if (EqualsIgnoreCase(h.name, "Set-Cookie") && h.value.starts_with("tieup_main_session=")) {
      session = h.value.find("HttpOnly") != std::string_view::npos;
    }
  }
  EXPECT_TRUE(session);
  auto kim = users_->FindByEmail("kim@example.org");
  ASSERT_THAT(kim, IsOk());
  EXPECT_EQ(kim->registered_via, "main");
  EXPECT_EQ(kim->area, UserArea::kOriginal);
  EXPECT_EQ(made.user, kim->id);
  EXPECT_THAT(users_->CheckLogin("kim@example.org", "long enough pw"), IsOk());
  // Used up; the hash is gone from the table.
  EXPECT_EQ(Post("/account/register/confirm", "token=" + token).status(), 400);
  EXPECT_EQ(Get("/account/register/confirm?token=" + token).status(), 400);
  auto rows = db_->Query("SELECT password_hash FROM registrations");
  ASSERT_THAT(rows, IsOk());
  EXPECT_EQ((*rows)[0].Text(0), "");
  // Not through a client: nobody is told it is new.
  EXPECT_FALSE(registrations_->TakeNewAccountNotice(kim->id, "shop-a"));
}

TEST_F(RegistrationTest, ThroughAClientTheConfirmationGoesOnAndTheClientIsToldOnce) {
  const std::string next = "/oidc/authorize?client_id=shop-a&state=s1";
  ASSERT_EQ(Register("kim%40example.org", "long+enough+pw",
                     "&continue=%2Foidc%2Fauthorize%3Fclient_id%3Dshop-a%26state%3Ds1")
                .status(),
            200);
  ASSERT_EQ(mails_.size(), 1u);
  EXPECT_EQ(mails_[0].client_name, "Tea House <Asahi>");
  HttpResponse made = Post("/account/register/confirm", "token=" + LastToken());
  ASSERT_EQ(made.status(), 303);
  EXPECT_EQ(made.FindHeader("Location").value_or(""), next);
  auto kim = users_->FindByEmail("kim@example.org");
  ASSERT_THAT(kim, IsOk());
  EXPECT_EQ(kim->registered_via, "shop-a");
  EXPECT_FALSE(registrations_->TakeNewAccountNotice(kim->id, "shop-b"));
  EXPECT_TRUE(registrations_->TakeNewAccountNotice(kim->id, "shop-a"));
  EXPECT_FALSE(registrations_->TakeNewAccountNotice(kim->id, "shop-a"));
}

TEST_F(RegistrationTest, LinksExpireAndTwoWaitingRegistrationsMakeOneAccount) {
  ASSERT_EQ(Register("kim%40example.org").status(), 200);
  const std::string first = LastToken();
  ASSERT_EQ(Register("kim%40example.org", "another+long+pw", "", "203.0.113.8").status(), 200);
  const std::string second = LastToken();
  ASSERT_NE(first, second);
  ASSERT_EQ(Post("/account/register/confirm", "token=" + second).status(), 200);
  HttpResponse again = Post("/account/register/confirm", "token=" + first);
  EXPECT_EQ(again.status(), 409);
  EXPECT_THAT(Body(again), HasSubstr("already has an account"));
  EXPECT_THAT(users_->CheckLogin("kim@example.org", "another long pw"), IsOk());

  ASSERT_EQ(Register("lee%40example.org").status(), 200);
  const std::string late = LastToken();
  env_.AdvanceSeconds(kConfirmSeconds + 1);
  EXPECT_EQ(Get("/account/register/confirm?token=" + late).status(), 400);
  HttpResponse expired = Post("/account/register/confirm", "token=" + late);
  EXPECT_EQ(expired.status(), 400);
  EXPECT_THAT(Body(expired), HasSubstr("register again"));
  EXPECT_THAT(users_->FindByEmail("lee@example.org"), StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(Post("/account/register/confirm", "token=").status(), 400);
  EXPECT_EQ(Post("/account/register/confirm", "token=" + std::string(500, 'a')).status(), 400);
}

// Two confirmations of one link at once make one account.
TEST_F(RegistrationTest, ConfirmingTwiceAtOnceMakesOneAccount) {
  ASSERT_EQ(Register("kim%40example.org").status(), 200);
  const std::string token = LastToken();
  int statuses[2] = {0, 0};
  std::thread a(
      [&] { statuses[0] = Post("/account/register/confirm", "token=" + token).status(); });
  std::thread b(
      [&] { statuses[1] = Post("/account/register/confirm", "token=" + token).status(); });
  a.join();
  b.join();
  EXPECT_EQ((statuses[0] == 200) + (statuses[1] == 200), 1) << statuses[0] << " " << statuses[1];
  EXPECT_EQ(*users_->Count(), 1);
}

// No mail bombing: an address gets at most kMaxRegistrationMailsPerHour mails an hour through
// this form, whatever their kind; the page does not change. A network that sends too many
// waits.
TEST_F(RegistrationTest, MailsToOneAddressAndRequestsFromOneNetworkAreBounded) {
  for (int i = 0; i < kMaxRegistrationMailsPerHour + 2; ++i) {
    HttpResponse r =
        Register("kim%40example.org", "long+enough+pw", "", "198.51.100." + std::to_string(i + 1));
    EXPECT_EQ(r.status(), 200);
    EXPECT_THAT(Body(r), HasSubstr("Check your mail"));
  }
  EXPECT_EQ(mails_.size(), static_cast<size_t>(kMaxRegistrationMailsPerHour));
  env_.AdvanceSeconds(3601);
  EXPECT_EQ(Register("kim%40example.org", "long+enough+pw", "", "198.51.100.99").status(), 200);
  EXPECT_EQ(mails_.size(), static_cast<size_t>(kMaxRegistrationMailsPerHour) + 1);

  int last = 0;
  for (int i = 0; i < 8 && last != 429; ++i) {
    last = Register("p" + std::to_string(i) + "%40example.org", "long+enough+pw", "", "192.0.2.10")
               .status();
  }
  EXPECT_EQ(last, 429);
}

TEST_F(RegistrationTest, FormsFromOtherSitesOrUnreadableAreRefused) {
  HttpRequest r("POST", "/account/register");
  r.AddHeader("Host", kRegistrationHost);
  r.AddHeader("Origin", "https://evil.example");
  r.AddHeader("Content-Type", "application/x-www-form-urlencoded");
  r.SetBody("email=kim%40example.org&display_name=Kim&password=long+enough+pw");
  EXPECT_EQ(pages_->HandleRequest(r).status(), 403);
  HttpRequest confirm("POST", "/account/register/confirm");
  confirm.AddHeader("Host", kRegistrationHost);
  confirm.AddHeader("Sec-Fetch-Site", "cross-site");
  confirm.AddHeader("Content-Type", "application/x-www-form-urlencoded");
  confirm.SetBody("token=x");
  EXPECT_EQ(pages_->HandleRequest(confirm).status(), 403);
  EXPECT_EQ(Post("/account/register", "email=%zz").status(), 400);
  EXPECT_EQ(Post("/account/register", "email=a%40b.org&pad=" + std::string(9000, 'x')).status(),
            413);
  EXPECT_EQ(Get("/account/register/other").status(), 404);
  EXPECT_TRUE(mails_.empty());
}

TEST_F(RegistrationTest, EveryBuiltInTemplateParses) {
  content::PageTemplates t(RegistrationTemplates(), {});
  for (const auto& [name, text] : RegistrationTemplates()) {
    EXPECT_THAT(t.RenderBody(name, boost::json::object{}), IsOk()) << name;
  }
}

}  // namespace
}  // namespace tieup::users
