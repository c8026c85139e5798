#include "users/account_pages.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <condition_variable>
#include <future>
#include <mutex>

#include "store/database.h"
#include "test_database.h"
#include "test_support.h"
#include "users/user_store.h"

namespace tieup::users {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using ::tieup::testing::FakeClockEnv;
using ::tieup::testing::IsOk;
using ::tieup::testing::TempDir;

// Answers with what the test sets, and remembers what it was asked.
class FakeBackend : public AccountBackend {
 public:
  Result<LoginReply> Login(const LoginRequest& r) override {
    std::lock_guard<std::mutex> lock(mu_);
    logins.push_back(r);
    return login_result;
  }

  // Where accounts are kept (main): the account page's details and "delete my account".
  Result<User> Account(std::string_view user_id) override {
    if (!keeps_accounts) return Status::Unimplemented("accounts are kept by main");
    User u;
    u.id = std::string(user_id);
    u.email = "ada@example.org";
    u.display_name = "Ada <3";
    u.address = address;
    u.marketing_consent_micros = consent ? 1 : 0;
    u.visits_consent_micros = visits ? 1 : 0;
    return u;
  }
  Result<User> SetAddress(std::string_view user_id, const PostalAddress& a) override {
    if (!a.empty() && a.city.empty()) return Status::InvalidArgument("the city is required");
    address = a;
    return Account(user_id);
  }
  Result<User> SetMarketingConsent(std::string_view user_id, bool c) override {
    consent = c;
    return Account(user_id);
  }
  Result<User> SetVisitsConsent(std::string_view user_id, bool c) override {
    visits = c;
    return Account(user_id);
  }
  bool visits = false;
  PostalAddress address;
  bool consent = false;
  Status DeleteAccount(std::string_view user_id, std::string_view current) override {
    std::lock_guard<std::mutex> lock(mu_);
    deletions.emplace_back(std::string(user_id), std::string(current));
    return delete_result;
  }

  bool keeps_accounts = false;
  Status delete_result = Status::Ok();
  std::vector<std::pair<std::string, std::string>> deletions;
  Result<LoginReply> login_result = LoginReply{"usr_abcdefghijklmnop", "Ada <3"};
  std::vector<LoginRequest> logins;

 private:
  std::mutex mu_;
};

constexpr char kHost[] = "shop-b.example:8080";
constexpr char kForm[] = "application/x-www-form-urlencoded";

class AccountPagesTest : public ::testing::Test {
 protected:
  HttpRequest Post(std::string_view path, std::string body, std::string_view type = kForm) {
    HttpRequest r("POST", path);
    r.AddHeader("Host", kHost);
    r.AddHeader("Content-Type", type);
    r.SetBody(std::move(body));
    return r;
  }
  HttpResponse Send(const HttpRequest& r) { return pages_.HandleRequest(r); }
  std::string Body(const HttpResponse& r) { return std::string(r.body()); }

  std::shared_ptr<FakeBackend> backend_ = std::make_shared<FakeBackend>();
  AccountPages pages_{
      backend_,
      {.site_name = "Shop B", .threads = 2, .site = {}, .sessions = nullptr, .https = false}};
};

// Registration is main's (users/registration.h): without single sign-on these pages have none.
TEST_F(AccountPagesTest, NoRegistrationHere) {
  HttpRequest get("GET", "/account/register");
  get.AddHeader("Host", kHost);
  EXPECT_EQ(Send(get).status(), 404);
  EXPECT_EQ(Send(Post("/account/register", "email=a%40b.org&display_name=A&password=x")).status(),
            404);
}

TEST_F(AccountPagesTest, CrossSiteFormsAreRefused) {
  struct Case {
    const char* header;
    const char* value;
  };
  for (const Case& c :
       {Case{"Origin", "https://evil.example"}, Case{"Origin", "null"},
        Case{"Referer", "https://evil.example/x.html"}, Case{"Sec-Fetch-Site", "cross-site"},
        Case{"Sec-Fetch-Site", "same-site"}, Case{"Origin", "http://shop-b.example:9999"}}) {
    HttpRequest login = Post("/account/login", "email=a%40b.org&password=x");
    login.AddHeader(c.header, c.value);
    EXPECT_EQ(Send(login).status(), 403) << c.header << ": " << c.value;
  }
  HttpRequest same = Post("/account/login", "email=a%40b.org&password=x");
  same.AddHeader("Sec-Fetch-Site", "same-origin");
  same.AddHeader("Origin", "HTTP://SHOP-B.EXAMPLE:8080");
  EXPECT_EQ(Send(same).status(), 200);
  EXPECT_EQ(backend_->logins.size(), 1u);
}

TEST_F(AccountPagesTest, UnreadableFormsAreRefusedBeforeTheBackend) {
  EXPECT_EQ(Send(Post("/account/login", R"({"email":"a@b.org"})", "application/json")).status(),
            415);
  EXPECT_EQ(Send(Post("/account/login", "email=a%40b.org&pad=" + std::string(9000, 'x'))).status(),
            413);
  EXPECT_EQ(Send(Post("/account/login", "email=%zz")).status(), 400);
  EXPECT_EQ(Send(Post("/account/login", "email=a%40b.org&email=c%40d.org&password=x")).status(),
            400);
  EXPECT_EQ(Send(Post("/account/login", "password=%00")).status(), 400);
  EXPECT_TRUE(backend_->logins.empty());
}

TEST_F(AccountPagesTest, SignInShowsTheNameEscaped) {
  HttpResponse r = Send(Post("/account/login", "email=ada%40example.org&password=pw"));
  EXPECT_EQ(r.status(), 200);
  EXPECT_THAT(Body(r), HasSubstr("Signed in as <strong>Ada &lt;3</strong>"));
  EXPECT_EQ(r.user, "usr_abcdefghijklmnop");
  ASSERT_EQ(backend_->logins.size(), 1u);
  EXPECT_EQ(backend_->logins[0].password, "pw");
}

TEST_F(AccountPagesTest, TooManyWrongPasswordsIs429SayingWhenToTryAgain) {
  backend_->login_result = Status::ResourceExhausted(
      "too many wrong passwords for this email address: try again in 8 seconds");
  HttpResponse r = Send(Post("/account/login", "email=ada%40example.org&password=x"));
  EXPECT_EQ(r.status(), 429);
  EXPECT_THAT(Body(r), HasSubstr("Too many wrong passwords for this email address: try again in "
                                 "8 seconds."));
  EXPECT_THAT(Body(r), HasSubstr("value=\"ada@example.org\""));
  EXPECT_EQ(r.FindHeader("Retry-After").value_or(""), "60");
}

TEST_F(AccountPagesTest, AWrongSignInIs401AndKeepsTheEmail) {
  backend_->login_result = Status::Unauthenticated("wrong email address or password");
  HttpResponse r =
      Send(Post("/account/login", "email=%22%3E%3Cscript%3E%40x.org&password=wrong-pw-123"));
  EXPECT_EQ(r.status(), 401);
  EXPECT_THAT(Body(r), HasSubstr("Wrong email address or password."));
  EXPECT_THAT(Body(r), HasSubstr("value=\"&quot;&gt;&lt;script&gt;@x.org\""));
  EXPECT_THAT(Body(r), Not(HasSubstr("wrong-pw-123")));
  backend_->login_result = Status::Unavailable("down");
  EXPECT_EQ(Send(Post("/account/login", "email=a%40b.org&password=x")).status(), 503);
}

// Each field on its own line with its label (the form styles of the checkout), in the site's
// shell with the header's cart count from the shop's cookie.
TEST_F(AccountPagesTest, FormsHaveALabelledFieldPerLineInTheSiteShell) {
  HttpRequest login("GET", "/account/login");
  login.AddHeader("Host", kHost);
  login.AddHeader("Cookie", "tieup_cart_count=4");
  std::string page = Body(Send(login));
  EXPECT_THAT(page, HasSubstr("<title>Sign in · Shop B</title>"));
  EXPECT_THAT(page, HasSubstr("data-cart-count>4</span>"));
  EXPECT_THAT(page, HasSubstr("<form class=\"fields\" method=\"post\""));
  EXPECT_THAT(page, HasSubstr("<label for=\"email\">Email</label>\n<input type=\"email\""));
  EXPECT_THAT(page, HasSubstr("<label for=\"password\">Password</label>"));
}

TEST_F(AccountPagesTest, EveryBuiltInTemplateParses) {
  content::PageTemplates t(AccountPageTemplates(), {});
  for (const auto& [name, text] : AccountPageTemplates()) {
    EXPECT_THAT(t.RenderBody(name, boost::json::object{}), ::tieup::testing::IsOk()) << name;
  }
}

TEST_F(AccountPagesTest, OtherPathsAre404) {
  HttpRequest get("GET", "/account/settings");
  EXPECT_EQ(Send(get).status(), 404);
  EXPECT_EQ(Send(Post("/account/", "")).status(), 405);
}

TEST_F(AccountPagesTest, PostsAreAnsweredFromTheWorkerThreads) {
  HttpRequest post = Post("/account/login", "email=a%40b.org&password=x");
  std::promise<HttpResponse> answered;
  pages_.Handle(
      post, HttpResponder::FromCallback([&](HttpResponse r) { answered.set_value(std::move(r)); }));
  EXPECT_EQ(answered.get_future().get().status(), 200);
}

// Sessions (users/sessions.h) in a real SQLite file, on a clock the test sets.
class AccountSessionsTest : public AccountPagesTest {
 protected:
  void SetUp() override {
    auto db = ::tieup::testing::OpenTestDatabase(dir_.path() + "/tieup.db");
    ASSERT_THAT(db, IsOk());
    db_ = std::move(*db);
    auto sessions = OpenCustomerSessions(env_, *db_);
    ASSERT_THAT(sessions, IsOk());
    sessions_ = std::move(*sessions);
    pages_ = std::make_unique<AccountPages>(backend_, AccountPagesOptions{.site_name = "Shop B",
                                                                          .threads = 2,
                                                                          .site = {},
                                                                          .sessions = sessions_,
                                                                          .https = https_,
                                                                          .max_queued_posts = 64,
                                                                          .failures_per_client = 3,
                                                                          .env = &env_});
  }
  HttpResponse Send(const HttpRequest& r) { return pages_->HandleRequest(r); }
  HttpRequest Get(std::string_view path, const std::string& cookie = "") {
    HttpRequest r("GET", path);
    r.AddHeader("Host", kHost);
    if (!cookie.empty()) r.AddHeader("Cookie", cookie);
    return r;
  }
  static std::vector<std::string> SetCookies(const HttpResponse& r) {
    std::vector<std::string> out;
    for (const HttpHeaderView& h : r.Headers()) {
      if (EqualsIgnoreCase(h.name, "Set-Cookie")) out.emplace_back(h.value);
    }
    return out;
  }
  // "tieup_session=VALUE" from a response's Set-Cookie ("" when none).
  static std::string SessionPair(const HttpResponse& r) {
    for (const std::string& c : SetCookies(r)) {
      if (c.find("tieup_session=") != std::string::npos) return c.substr(0, c.find(';'));
    }
    return "";
  }
  std::string SignIn(const std::string& cookie = "") {
    HttpRequest post = Post("/account/login", "email=ada%40example.org&password=pw");
    if (!cookie.empty()) post.AddHeader("Cookie", cookie);
    HttpResponse r = Send(post);
    EXPECT_EQ(r.status(), 200);
    return SessionPair(r);
  }
  // The CSRF token of the account page's sign-out form.
  std::string CsrfOf(const std::string& cookie) {
    const std::string page(Send(Get("/account/", cookie)).body());
    const std::string marker = "name=\"csrf\" value=\"";
    const size_t at = page.find(marker);
    if (at == std::string::npos) return "";
    const size_t start = at + marker.size();
    return page.substr(start, page.find('"', start) - start);
  }

  FakeClockEnv env_;
  TempDir dir_;
  std::unique_ptr<Database> db_;
  std::shared_ptr<SessionStore> sessions_;
  bool https_ = false;
  std::unique_ptr<AccountPages> pages_;
};

TEST_F(AccountSessionsTest, SigningInStartsASessionThatEveryPageShows) {
  HttpResponse r = Send(Post("/account/login", "email=ada%40example.org&password=pw"));
  ASSERT_EQ(r.status(), 200);
  const std::vector<std::string> cookies = SetCookies(r);
  ASSERT_EQ(cookies.size(), 2u);
  EXPECT_THAT(cookies[0], StartsWith("tieup_session="));
  EXPECT_THAT(cookies[0], HasSubstr("; Path=/; HttpOnly; SameSite=Lax"));
  EXPECT_THAT(cookies[0], Not(HasSubstr("Secure")));
  EXPECT_EQ(cookies[1], "tieup_customer=Ada%20%3C3; Path=/; SameSite=Lax");
  // The page itself already shows the customer in the header's account link.
  EXPECT_THAT(std::string(r.body()),
              HasSubstr("<a href=\"/account/\" data-account-link>Signed in as Ada &lt;3</a>"));
  const std::string session = SessionPair(r);
  // The next page knows who it is.
  HttpResponse account = Send(Get("/account/", session));
  EXPECT_EQ(account.status(), 200);
  EXPECT_THAT(std::string(account.body()), HasSubstr("Signed in as <strong>Ada &lt;3</strong>"));
  EXPECT_THAT(std::string(account.body()), HasSubstr("Sign out</button>"));
  EXPECT_EQ(account.user, "usr_abcdefghijklmnop");
  EXPECT_THAT(std::string(Send(Get("/account/login", session)).body()),
              HasSubstr("Signed in as Ada &lt;3</a>"));
  // Without the cookie, or with one that was never given, nobody is signed in.
  HttpResponse anonymous = Send(Get("/account/"));
  EXPECT_EQ(anonymous.status(), 303);
  EXPECT_EQ(anonymous.FindHeader("Location").value_or(""), "/account/login");
  EXPECT_EQ(Send(Get("/account/", "tieup_session=" + std::string(43, 'A'))).status(), 303);
  EXPECT_THAT(std::string(Send(Get("/account/login")).body()),
              HasSubstr("<a href=\"/account/login\" data-account-link>Sign in</a>"));
}

TEST_F(AccountSessionsTest, EachSignInGetsAFreshIdAndEndsTheVisitorsOldOne) {
  const std::string first = SignIn();
  const std::string second = SignIn(first);
  ASSERT_FALSE(second.empty());
  EXPECT_NE(first, second);
  EXPECT_EQ(Send(Get("/account/", first)).status(), 303);
  EXPECT_EQ(Send(Get("/account/", second)).status(), 200);
}

TEST_F(AccountSessionsTest, ASessionEndsAfterIdleAndAbsoluteTimeouts) {
  std::string session = SignIn();
  env_.AdvanceSeconds(29 * 60);
  EXPECT_EQ(Send(Get("/account/", session)).status(), 200);  // still in use
  env_.AdvanceSeconds(30 * 60);
  HttpResponse idle = Send(Get("/account/", session + "; tieup_customer=Ada"));
  EXPECT_EQ(idle.status(), 303);  // 30 minutes without a request
  EXPECT_THAT(SetCookies(idle), ::testing::ElementsAre(HasSubstr("tieup_customer=; ")));
  // A busy session ends after 12 hours all the same.
  session = SignIn();
  for (int i = 0; i < 12 * 3; ++i) {
    env_.AdvanceSeconds(20 * 60);
    if (Send(Get("/account/", session)).status() != 200) {
      EXPECT_EQ(i, 12 * 3 - 1) << "ended after " << (i + 1) * 20 << " minutes";
      return;
    }
  }
  ADD_FAILURE() << "the session outlived its absolute timeout";
}

TEST_F(AccountSessionsTest, TheOrdersListNamesWhereEachIsAndWhichShopsDidNotAnswer) {
  Result<AccountOrders> answer = AccountOrders{};
  AccountPagesOptions o;
  o.site_name = "Tea House";
  o.threads = 2;
  o.sessions = sessions_;
  o.orders = [&](const std::string& user_id) -> Result<AccountOrders> {
    EXPECT_EQ(user_id, "usr_abcdefghijklmnop");
    return answer;
  };
  pages_ = std::make_unique<AccountPages>(backend_, o);
  const std::string session = SignIn();
  EXPECT_THAT(std::string(Send(Get("/account/", session)).body()), HasSubstr("No orders yet."));

  AccountOrder at_main{"TEA-000001",
                       "1 Dec 2026",
                       "paid",
                       "$12.00",
                       "/shop/orders/TEA-000001?key=k",
                       "shop-a",
                       2,
                       ""};
  AccountOrder at_shop{"SHOPB-000003",
                       "2 Dec 2026",
                       "placed",
                       "$9.00",
                       "http://shop-b.example/shop/orders/SHOPB-000003?key=j",
                       "",
                       3,
                       "Shop <B>"};
  answer =
      AccountOrders{{at_shop, at_main}, {"Shop C", "Shop D"}, {{"Shop E", "http://e/account/"}}};
  std::string page(Send(Get("/account/", session)).body());
  EXPECT_THAT(page, HasSubstr("<a href=\"http://shop-b.example/shop/orders/SHOPB-000003?key=j\">"
                              "SHOPB-000003</a> <span class=\"small\">(at Shop &lt;B&gt;)</span>"));
  EXPECT_THAT(page, HasSubstr("TEA-000001</a> <span class=\"small\">(through shop-a)</span>"));
  EXPECT_LT(page.find("SHOPB-000003"), page.find("TEA-000001"));
  EXPECT_THAT(page, HasSubstr("Your orders at Shop C and Shop D cannot be shown right now"));
  EXPECT_THAT(page, HasSubstr("Your orders at Shop E are on <a href=\"http://e/account/\">its own "
                              "account page</a>."));
  EXPECT_THAT(page, Not(HasSubstr("No orders yet.")));

  answer = Status::Unavailable("database is locked");
  page = std::string(Send(Get("/account/", session)).body());
  EXPECT_THAT(page, HasSubstr("Your orders cannot be shown right now"));
  EXPECT_THAT(page, Not(HasSubstr("database is locked")));
}

TEST_F(AccountSessionsTest, SuggestionsAreListedWhenThereAreSome) {
  Result<std::vector<AccountSuggestion>> answer = std::vector<AccountSuggestion>{};
  AccountPagesOptions o;
  o.site_name = "Tea House";
  o.threads = 2;
  o.sessions = sessions_;
  o.suggestions = [&](const std::string& user_id) -> Result<std::vector<AccountSuggestion>> {
    EXPECT_EQ(user_id, "usr_abcdefghijklmnop");
    return answer;
  };
  pages_ = std::make_unique<AccountPages>(backend_, o);
  const std::string session = SignIn();
  EXPECT_THAT(std::string(Send(Get("/account/", session)).body()),
              Not(HasSubstr("You may also like")));
  answer = std::vector<AccountSuggestion>{{"Gyokuro <Kin>", "¥3,600", "/products/gyokuro.html"},
                                          {"Hojicha", "¥1,200", "/products/hojicha.html"}};
  const std::string page(Send(Get("/account/", session)).body());
  EXPECT_THAT(page, HasSubstr("<h2 id=\"suggestions\">You may also like</h2>"));
  EXPECT_THAT(page, HasSubstr("<li><a href=\"/products/gyokuro.html\">Gyokuro &lt;Kin&gt;</a> "
                              "¥3,600</li>"));
  EXPECT_LT(page.find("Gyokuro"), page.find("Hojicha"));
  // Not readable now: the page goes without them, saying nothing of why.
  answer = Status::Unavailable("database is locked");
  const std::string without(Send(Get("/account/", session)).body());
  EXPECT_THAT(without, Not(HasSubstr("You may also like")));
  EXPECT_THAT(without, Not(HasSubstr("database is locked")));
  EXPECT_THAT(without, HasSubstr("Signed in as"));
}

TEST_F(AccountSessionsTest, SigningOutNeedsTheSessionsTokenAndEndsIt) {
  const std::string session = SignIn();
  const std::string csrf = CsrfOf(session);
  ASSERT_EQ(csrf.size(), 43u);
  HttpRequest forged = Post("/account/logout", "csrf=" + std::string(43, 'x'));
  forged.AddHeader("Cookie", session);
  EXPECT_EQ(Send(forged).status(), 403);
  HttpRequest cross = Post("/account/logout", "csrf=" + csrf);
  cross.AddHeader("Cookie", session);
  cross.AddHeader("Sec-Fetch-Site", "cross-site");
  EXPECT_EQ(Send(cross).status(), 403);
  EXPECT_EQ(Send(Get("/account/", session)).status(), 200);  // not signed out by either

  HttpRequest logout = Post("/account/logout", "csrf=" + csrf);
  logout.AddHeader("Cookie", session);
  HttpResponse r = Send(logout);
  EXPECT_EQ(r.status(), 200);
  EXPECT_THAT(std::string(r.body()), HasSubstr("You are signed out"));
  EXPECT_THAT(SetCookies(r), ::testing::ElementsAre(HasSubstr("tieup_session=; "),
                                                    HasSubstr("tieup_customer=; ")));
  EXPECT_THAT(SetCookies(r)[0], HasSubstr("Max-Age=0"));
  EXPECT_EQ(Send(Get("/account/", session)).status(), 303);
  EXPECT_EQ(Send(Get("/account/logout", session)).status(), 405);
}

TEST_F(AccountSessionsTest, DeletingTheAccountNeedsThePasswordTheBoxAndTheToken) {
  const std::string session = SignIn();
  // Where accounts are not kept (a partner), there is no such page.
  EXPECT_EQ(Send(Get("/account/delete", session)).status(), 405);
  backend_->keeps_accounts = true;
  EXPECT_EQ(Send(Get("/account/delete")).status(), 303);  // not signed in
  HttpResponse page = Send(Get("/account/delete", session));
  ASSERT_EQ(page.status(), 200);
  EXPECT_THAT(std::string(page.body()), HasSubstr("Deleting the account <strong>ada@example.org"));
  const std::string csrf = CsrfOf(session);
  auto post = [&](const std::string& body) {
    HttpRequest r = Post("/account/delete", body);
    r.AddHeader("Cookie", session);
    return Send(r);
  };
  EXPECT_EQ(post("csrf=" + std::string(43, 'x') + "&confirm=yes&current_password=pw").status(),
            403);
  HttpResponse unticked = post("csrf=" + csrf + "&current_password=pw");
  EXPECT_EQ(unticked.status(), 400);
  EXPECT_THAT(std::string(unticked.body()), HasSubstr("Tick the box"));
  EXPECT_TRUE(backend_->deletions.empty());
  backend_->delete_result = Status::Unauthenticated("wrong email address or password");
  HttpResponse wrong = post("csrf=" + csrf + "&confirm=yes&current_password=nope");
  EXPECT_EQ(wrong.status(), 401);
  EXPECT_THAT(std::string(wrong.body()), HasSubstr("The current password is not right."));
  backend_->delete_result = Status::Ok();
  HttpResponse done = post("csrf=" + csrf + "&confirm=yes&current_password=pw");
  ASSERT_EQ(done.status(), 200);
  EXPECT_THAT(std::string(done.body()), HasSubstr("Your account is deleted"));
  EXPECT_THAT(SetCookies(done), ::testing::ElementsAre(HasSubstr("tieup_session=; "),
                                                       HasSubstr("tieup_customer=; ")));
  ASSERT_EQ(backend_->deletions.size(), 2u);
  EXPECT_EQ(backend_->deletions[1],
            std::make_pair(std::string("usr_abcdefghijklmnop"), std::string("pw")));
}

TEST_F(AccountSessionsTest, TheAddressAndTheNewsConsentAreKeptWithTheAccount) {
  const std::string session = SignIn();
  backend_->keeps_accounts = true;
  const std::string csrf = CsrfOf(session);
  auto post = [&](std::string_view path, const std::string& body) {
    HttpRequest r = Post(path, body);
    r.AddHeader("Cookie", session);
    return Send(r);
  };
  // Another page's token, or none: refused before the backend is asked.
  EXPECT_EQ(post("/account/address", "csrf=x&line1=1+Main&city=Kyoto").status(), 403);
  EXPECT_TRUE(backend_->address.empty());
  EXPECT_EQ(Send(Get("/account/address", session)).status(), 405);

  // A refused address: the page says what to fix and keeps what was typed, escaped.
  HttpResponse bad =
      post("/account/address", "csrf=" + csrf + "&address_name=Ada+%3CL%3E&line1=1+Main");
  EXPECT_EQ(bad.status(), 400);
  EXPECT_THAT(Body(bad), HasSubstr("The city is required."));
  EXPECT_THAT(Body(bad), HasSubstr("value=\"Ada &lt;L&gt;\""));
  EXPECT_THAT(Body(bad), HasSubstr("value=\"1 Main\""));

  HttpResponse ok = post("/account/address", "csrf=" + csrf +
                                                 "&address_name=Ada+L&line1=1+Main&postal_code=600&"
                                                 "city=Kyoto&country=Japan&line2=&phone=");
  ASSERT_EQ(ok.status(), 303);
  EXPECT_EQ(ok.FindHeader("Location").value_or(""), "/account/?saved=address");
  EXPECT_EQ(backend_->address.city, "Kyoto");
  const std::string page = Body(Send(Get("/account/?saved=address", session)));
  EXPECT_THAT(page, HasSubstr("Your address is saved: checkout starts with it."));
  EXPECT_THAT(page, HasSubstr("id=\"city\" name=\"city\" value=\"Kyoto\""));
  // Only fixed words come from the query.
  EXPECT_THAT(Body(Send(Get("/account/?saved=%3Cscript%3E", session))), Not(HasSubstr("<script>")));

  HttpResponse news = post("/account/news", "csrf=" + csrf + "&news=yes");
  ASSERT_EQ(news.status(), 303);
  EXPECT_TRUE(backend_->consent);
  EXPECT_THAT(Body(Send(Get("/account/?saved=news", session))),
              HasSubstr("You will get news of the shops&#39; offers by mail."));
  EXPECT_THAT(Body(Send(Get("/account/", session))), HasSubstr("value=\"yes\" checked"));
  ASSERT_EQ(post("/account/news", "csrf=" + csrf).status(), 303);  // the box unticked
  EXPECT_FALSE(backend_->consent);
  EXPECT_THAT(Body(Send(Get("/account/?saved=news", session))),
              HasSubstr("You will get no more news by mail."));

  ASSERT_EQ(post("/account/visits", "csrf=" + csrf + "&visits=yes").status(), 303);
  EXPECT_TRUE(backend_->visits);
  EXPECT_FALSE(backend_->consent);  // each box is its own
  EXPECT_THAT(Body(Send(Get("/account/?saved=visits", session))),
              HasSubstr("The shops may now record your visits under your account."));
  EXPECT_EQ(post("/account/visits", "visits=yes").status(), 403);  // without the token
}

TEST_F(AccountSessionsTest, DisablingAnAccountEndsItsSessions) {
  auto store = UserStore::Open(env_, *db_,
                               {.cost = PasswordHashCost::MinimumForTest(),
                                .max_concurrent_hashes = 1,
                                .max_waiting_hashes = 1,
                                .free_login_failures = 5,
                                .max_login_delay_seconds = 60,
                                .hasher_observer_for_test = {}});
  ASSERT_THAT(store, IsOk());
  auto user = (*store)->Register({.email = "ada@example.org",
                                  .display_name = "Ada",
                                  .password = "long-enough-pw",
                                  .registered_via = "main",
                                  .area = UserArea::kOriginal});
  ASSERT_THAT(user, IsOk());
  backend_->login_result = LoginReply{user->id, "Ada"};
  const std::string session = SignIn();
  EXPECT_EQ(Send(Get("/account/", session)).status(), 200);
  ASSERT_THAT((*store)->SetDisabled(user->id, true), IsOk());
  EXPECT_EQ(Send(Get("/account/", session)).status(), 303);
}

class AccountSessionsHttpsTest : public AccountSessionsTest {
 protected:
  void SetUp() override {
    https_ = true;
    AccountSessionsTest::SetUp();
  }
};

TEST_F(AccountSessionsHttpsTest, UnderHttpsTheCookiesAreSecureAndHostOnly) {
  HttpResponse r = Send(Post("/account/login", "email=ada%40example.org&password=pw"));
  const std::vector<std::string> cookies = SetCookies(r);
  ASSERT_EQ(cookies.size(), 2u);
  EXPECT_THAT(cookies[0], StartsWith("__Host-tieup_session="));
  EXPECT_THAT(cookies[0], HasSubstr("; Path=/; HttpOnly; SameSite=Lax; Secure"));
  EXPECT_THAT(cookies[1], HasSubstr("; Secure"));
  const std::string pair = cookies[0].substr(0, cookies[0].find(';'));
  EXPECT_EQ(Send(Get("/account/", pair)).status(), 200);
  // The plain name is not read under HTTPS (a cookie set over HTTP could plant it).
  EXPECT_EQ(Send(Get("/account/", pair.substr(std::string("__Host-").size()))).status(), 303);
}

// Failed sign-ins are counted per client address: past failures_per_client (3 here), the address
// waits 5 s, then 10... before its next sign-in (429, the backend not asked); others do not.
TEST_F(AccountSessionsTest, FailedSignInsFromOneAddressMakeItWait) {
  backend_->login_result = Status::Unauthenticated("wrong email address or password");
  auto attempt = [&](const std::string& address) {
    HttpRequest post = Post("/account/login", "email=ada%40example.org&password=guess");
    post.SetRemoteAddressForTest(address);
    return Send(post);
  };
  for (int i = 0; i < 4; ++i) EXPECT_EQ(attempt("203.0.113.5").status(), 401) << i;
  const size_t asked = backend_->logins.size();
  HttpResponse throttled = attempt("203.0.113.5");
  EXPECT_EQ(throttled.status(), 429);
  EXPECT_THAT(std::string(throttled.body()),
              HasSubstr("Too many failed sign-ins from your network: try again in 5 seconds."));
  EXPECT_EQ(throttled.FindHeader("Retry-After").value_or(""), "5");
  EXPECT_EQ(backend_->logins.size(), asked);         // main was not asked
  EXPECT_EQ(attempt("198.51.100.7").status(), 401);  // another address
  // Addresses of one IPv6 /64 are one client: rotating through them does not help.
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(attempt("2001:db8:1:2::" + std::to_string(i + 1)).status(), 401);
  EXPECT_EQ(attempt("2001:db8:1:2::99").status(), 429);
  EXPECT_EQ(attempt("2001:db8:1:3::1").status(), 401);
  env_.AdvanceSeconds(5);
  EXPECT_EQ(attempt("203.0.113.5").status(), 401);
  EXPECT_THAT(std::string(attempt("203.0.113.5").body()), HasSubstr("try again in 10 seconds"));
}

// Stands in for main while it is slow: each sign-in waits until the test opens the gate.
class GatedBackend : public AccountBackend {
 public:
  Result<LoginReply> Login(const LoginRequest&) override {
    std::unique_lock<std::mutex> lock(mu_);
    ++entered_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    return LoginReply{"usr_abcdefghijklmnop", "Ada"};
  }
  void WaitEntered(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return entered_ >= n; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int entered_ = 0;
  bool open_ = false;
};

// With every worker busy and max_queued_posts waiting, one POST more is answered 503 at once
// instead of queueing without end; the waiting ones are answered once the workers are free.
TEST(AccountPagesQueueTest, AFullQueueIsAnswered503AtOnce) {
  auto backend = std::make_shared<GatedBackend>();
  AccountPages pages(backend, {.site_name = "Shop B",
                               .threads = 1,
                               .site = {},
                               .sessions = nullptr,
                               .https = false,
                               .max_queued_posts = 1,
                               .failures_per_client = 20,
                               .env = nullptr});
  auto post = [] {
    HttpRequest r("POST", "/account/login");
    r.AddHeader("Host", kHost);
    r.AddHeader("Content-Type", kForm);
    r.SetBody("email=ada%40example.org&password=pw");
    return r;
  };
  const HttpRequest first = post(), second = post(), third = post();
  std::promise<int> a, b, c;
  pages.Handle(first,
               HttpResponder::FromCallback([&](HttpResponse r) { a.set_value(r.status()); }));
  backend->WaitEntered(1);  // the only worker is busy
  pages.Handle(second,
               HttpResponder::FromCallback([&](HttpResponse r) { b.set_value(r.status()); }));
  HttpResponse busy(0);
  pages.Handle(third, HttpResponder::FromCallback([&](HttpResponse r) {
                 busy = std::move(r);
                 c.set_value(busy.status());
               }));
  EXPECT_EQ(c.get_future().get(), 503);
  EXPECT_EQ(busy.FindHeader("Retry-After").value_or(""), "5");
  EXPECT_THAT(std::string(busy.body()), HasSubstr("try again in a few seconds"));
  backend->Open();
  EXPECT_EQ(a.get_future().get(), 200);
  EXPECT_EQ(b.get_future().get(), 200);
}

}  // namespace
}  // namespace tieup::users
