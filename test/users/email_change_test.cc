// Changing the e-mail address at main (users/email_change.h): the pages with a real SQLite
// file, the real user store and sessions, and a clock the test sets.
#include "users/email_change.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <thread>

#include "store/database.h"
#include "test_database.h"
#include "test_support.h"

namespace tieup::users {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::tieup::testing::FakeClockEnv;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

constexpr char kEmailChangeHost[] = "main.example";
constexpr char kEmailChangeBase[] = "https://main.example";
constexpr char kEmailChangePassword[] = "ada's own password";

class EmailChangeTest : public ::testing::Test {
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
    auto changes = EmailChanges::Open(env_, *db_, *users_);
    ASSERT_THAT(changes, IsOk());
    changes_ = std::move(*changes);
    EmailChangePagesOptions o;
    o.base_url = kEmailChangeBase;
    o.sessions = sessions_;
    o.session_cookie = "tieup_main_session";
    o.send_mail = [this](const EmailChangeMail& mail) {
      mails_.push_back(mail);
      return Status::Ok();
    };
    pages_ = std::make_unique<EmailChangePages>(changes_, o);
    auto ada = users_->Register(
        {"ada@example.org", "Ada", kEmailChangePassword, "main", UserArea::kOriginal});
    ASSERT_THAT(ada, IsOk());
    ada_ = *ada;
    SignIn();
  }

  // A session of Ada's at main (cookie_, csrf_).
  void SignIn() {
    auto session = sessions_->Create(ada_.id, ada_.id, "Ada");
    ASSERT_THAT(session, IsOk());
    cookie_ = "tieup_main_session=" + session->cookie_value;
    csrf_ = sessions_->Find(session->cookie_value)->csrf_token;
  }

  HttpResponse Get(const std::string& target, const std::string& cookie = "") {
    HttpRequest r("GET", target);
    r.AddHeader("Host", kEmailChangeHost);
    if (!cookie.empty()) r.AddHeader("Cookie", cookie);
    return pages_->HandleRequest(r);
  }
  HttpResponse Post(const std::string& target, const std::string& body,
                    const std::string& cookie = "") {
    HttpRequest r("POST", target);
    r.AddHeader("Host", kEmailChangeHost);
    r.AddHeader("Origin", kEmailChangeBase);
    r.AddHeader("Content-Type", "application/x-www-form-urlencoded");
    if (!cookie.empty()) r.AddHeader("Cookie", cookie);
    r.SetBody(body);
    return pages_->HandleRequest(r);
  }
  HttpResponse Ask(const std::string& new_email,
                   const std::string& password = "ada%27s+own+password") {
    return Post("/account/email",
                "csrf=" + csrf_ + "&new_email=" + new_email + "&current_password=" + password,
                cookie_);
  }
  static std::string Body(const HttpResponse& r) { return std::string(r.body()); }
  static std::string TokenOf(const EmailChangeMail& m) {
    const size_t at = m.link.find("token=");
    return at == std::string::npos ? "" : m.link.substr(at + 6);
  }

  FakeClockEnv env_;
  TempDir dir_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<UserStore> users_;
  std::shared_ptr<SessionStore> sessions_;
  std::shared_ptr<EmailChanges> changes_;
  std::unique_ptr<EmailChangePages> pages_;
  std::vector<EmailChangeMail> mails_;
  User ada_;
  std::string cookie_, csrf_;
};

TEST_F(EmailChangeTest, TheFormNeedsTheSession) {
  HttpResponse anonymous = Get("/account/email");
  EXPECT_EQ(anonymous.status(), 303);
  EXPECT_EQ(anonymous.FindHeader("Location").value_or(""), "/account/login");
  HttpResponse form = Get("/account/email", cookie_);
  ASSERT_EQ(form.status(), 200);
  EXPECT_THAT(Body(form), HasSubstr("name=\"csrf\" value=\"" + csrf_ + "\""));
  EXPECT_THAT(Body(form), HasSubstr("<label for=\"current_password\">"));
  EXPECT_EQ(Post("/account/email", "csrf=" + csrf_ + "&new_email=a%40b.org").status(), 303);
  EXPECT_EQ(
      Post("/account/email", "csrf=wrong&new_email=a%40b.org&current_password=x", cookie_).status(),
      403);
  EXPECT_TRUE(mails_.empty());
}

TEST_F(EmailChangeTest, ALinkToTheNewAddressANoticeToTheOldOneThenTheChange) {
  HttpResponse sent = Ask("Ada.L%40Example.NET");
  ASSERT_EQ(sent.status(), 200) << Body(sent);
  EXPECT_THAT(Body(sent), HasSubstr("We have sent a mail to <strong>Ada.L@example.net</strong>"));
  ASSERT_EQ(mails_.size(), 2u);
  EXPECT_EQ(mails_[0].kind, EmailChangeMail::Kind::kConfirm);
  EXPECT_EQ(mails_[0].to, "Ada.L@example.net");
  EXPECT_EQ(mails_[1].kind, EmailChangeMail::Kind::kNotice);
  EXPECT_EQ(mails_[1].to, "ada@example.org");
  EXPECT_EQ(mails_[1].reset_link, std::string(kEmailChangeBase) + "/account/reset");
  EXPECT_EQ(users_->Get(ada_.id)->email, "ada@example.org");  // nothing changed yet

  const std::string token = TokenOf(mails_[0]);
  ASSERT_EQ(token.size(), 43u);
  HttpResponse ask = Get("/account/email/confirm?token=" + token);
  ASSERT_EQ(ask.status(), 200);
  EXPECT_THAT(Body(ask), HasSubstr("from <strong>ada@example.org</strong> to "
                                   "<strong>Ada.L@example.net</strong>"));
  EXPECT_EQ(users_->Get(ada_.id)->email, "ada@example.org");
  // From another browser: the link is the proof, no session needed.
  HttpResponse done = Post("/account/email/confirm", "token=" + token);
  ASSERT_EQ(done.status(), 200) << Body(done);
  EXPECT_THAT(Body(done), HasSubstr("now <strong>Ada.L@example.net</strong>"));
  auto now = users_->Get(ada_.id);
  ASSERT_THAT(now, IsOk());
  EXPECT_EQ(now->email, "Ada.L@example.net");
  EXPECT_NE(now->email_confirmed_micros, 0);
  EXPECT_THAT(users_->CheckLogin("ada.l@example.net", kEmailChangePassword), IsOk());
  EXPECT_THAT(users_->FindByEmail("ada@example.org"), StatusIs(StatusCode::kNotFound));
  // Used up.
  EXPECT_EQ(Post("/account/email/confirm", "token=" + token).status(), 400);
  EXPECT_EQ(Get("/account/email/confirm?token=" + token).status(), 400);
}

TEST_F(EmailChangeTest, TheSameAnswerWhenTheNewAddressHasAnAccount) {
  ASSERT_THAT(
      users_->Register({"bob@example.org", "Bob", "bob's password!", "main", UserArea::kOriginal}),
      IsOk());
  HttpResponse fresh = Ask("new%40example.org");
  HttpResponse taken = Ask("bob%40example.org");
  ASSERT_EQ(fresh.status(), 200);
  ASSERT_EQ(taken.status(), 200);
  std::string a = Body(fresh), b = Body(taken);
  a.replace(a.find("new@example.org"), 15, "bob@example.org");
  EXPECT_EQ(a, b);
  ASSERT_EQ(mails_.size(), 4u);
  EXPECT_EQ(mails_[2].kind, EmailChangeMail::Kind::kTaken);
  EXPECT_EQ(mails_[2].to, "bob@example.org");
  EXPECT_EQ(mails_[2].link, "");
  // The first link still works; bob's address stays bob's.
  ASSERT_EQ(Post("/account/email/confirm", "token=" + TokenOf(mails_[0])).status(), 200);
  EXPECT_EQ(users_->FindByEmail("bob@example.org")->display_name, "Bob");
}

TEST_F(EmailChangeTest, WrongPasswordOrBadAddressShowTheFormAgain) {
  HttpResponse wrong = Ask("new%40example.org", "not+my+password");
  EXPECT_EQ(wrong.status(), 401);
  EXPECT_THAT(Body(wrong), HasSubstr("The current password is not right."));
  EXPECT_THAT(Body(wrong), HasSubstr("value=\"new@example.org\""));
  EXPECT_THAT(Body(wrong), Not(HasSubstr("not my password")));
  EXPECT_EQ(Ask("not+an+address").status(), 400);
  HttpResponse same = Ask("ADA%40example.org");
  EXPECT_EQ(same.status(), 400);
  EXPECT_THAT(Body(same), HasSubstr("That is already your address."));
  EXPECT_TRUE(mails_.empty());
}

TEST_F(EmailChangeTest, ExpiredLinksAndAnAddressTakenMeanwhileChangeNothing) {
  ASSERT_EQ(Ask("late%40example.org").status(), 200);
  const std::string late = TokenOf(mails_[0]);
  env_.AdvanceSeconds(kEmailChangeSeconds + 1);
  EXPECT_EQ(Post("/account/email/confirm", "token=" + late).status(), 400);
  EXPECT_EQ(users_->Get(ada_.id)->email, "ada@example.org");

  SignIn();  // the session of a day ago has ended
  ASSERT_EQ(Ask("race%40example.org").status(), 200);
  const std::string raced = TokenOf(mails_[2]);
  ASSERT_THAT(users_->Register(
                  {"race@example.org", "Racer", "racer's password", "main", UserArea::kOriginal}),
              IsOk());
  HttpResponse r = Post("/account/email/confirm", "token=" + raced);
  EXPECT_EQ(r.status(), 409);
  EXPECT_EQ(users_->Get(ada_.id)->email, "ada@example.org");
  EXPECT_EQ(Post("/account/email/confirm", "token=").status(), 400);
}

TEST_F(EmailChangeTest, AtMostAFewRequestsAnHourSendMail) {
  for (int i = 0; i < kMaxEmailChangesPerHour + 2; ++i) {
    EXPECT_EQ(Ask("n" + std::to_string(i) + "%40example.org").status(), 200);
  }
  EXPECT_EQ(mails_.size(), static_cast<size_t>(2 * kMaxEmailChangesPerHour));
}

TEST_F(EmailChangeTest, TwoConfirmationsAtOnceChangeOnce) {
  ASSERT_EQ(Ask("first%40example.org").status(), 200);
  ASSERT_EQ(Ask("second%40example.org").status(), 200);
  const std::string first = TokenOf(mails_[0]), second = TokenOf(mails_[2]);
  int statuses[2] = {0, 0};
  std::thread a([&] { statuses[0] = Post("/account/email/confirm", "token=" + first).status(); });
  std::thread b([&] { statuses[1] = Post("/account/email/confirm", "token=" + second).status(); });
  a.join();
  b.join();
  // Whichever came first; the other link was dropped with it.
  EXPECT_EQ((statuses[0] == 200) + (statuses[1] == 200), 1) << statuses[0] << " " << statuses[1];
  const std::string now = users_->Get(ada_.id)->email;
  EXPECT_TRUE(now == "first@example.org" || now == "second@example.org") << now;
}

TEST_F(EmailChangeTest, FormsFromOtherSitesAreRefused) {
  HttpRequest r("POST", "/account/email");
  r.AddHeader("Host", kEmailChangeHost);
  r.AddHeader("Origin", "https://evil.example");
  r.AddHeader("Content-Type", "application/x-www-form-urlencoded");
  r.AddHeader("Cookie", cookie_);
  r.SetBody("csrf=" + csrf_ + "&new_email=evil%40example.org&current_password=x");
  EXPECT_EQ(pages_->HandleRequest(r).status(), 403);
  EXPECT_EQ(Get("/account/email/other").status(), 404);
  EXPECT_TRUE(mails_.empty());
}

TEST_F(EmailChangeTest, EveryBuiltInTemplateParses) {
  content::PageTemplates t(EmailChangeTemplates(), {});
  for (const auto& [name, text] : EmailChangeTemplates()) {
    EXPECT_THAT(t.RenderBody(name, boost::json::object{}), IsOk()) << name;
  }
}

}  // namespace
}  // namespace tieup::users
