#include "users/account_pages.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <future>
#include <mutex>

#include "test_support.h"

namespace tieup::users {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Answers with what the test sets, and remembers what it was asked.
class FakeBackend : public AccountBackend {
 public:
  Result<std::string> Register(const RegistrationRequest& r, std::string_view from) override {
    std::lock_guard<std::mutex> lock(mu_);
    registrations.push_back(r);
    from_paths.emplace_back(from);
    return register_result;
  }
  Result<LoginReply> Login(const LoginRequest& r) override {
    std::lock_guard<std::mutex> lock(mu_);
    logins.push_back(r);
    return login_result;
  }

  Result<std::string> register_result = std::string("usr_abcdefghijklmnop");
  Result<LoginReply> login_result = LoginReply{"usr_abcdefghijklmnop", "Ada <3"};
  std::vector<RegistrationRequest> registrations;
  std::vector<std::string> from_paths;
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
  AccountPages pages_{backend_, {.site_name = "Shop B", .threads = 2, .site = {}}};
};

TEST_F(AccountPagesTest, RegistrationFormRemembersThePageOnThisSite) {
  HttpRequest get("GET", "/account/register");
  get.AddHeader("Host", kHost);
  get.AddHeader("Referer", "http://shop-b.example:8080/local/wagashi.html?x=1");
  HttpResponse r = Send(get);
  EXPECT_EQ(r.status(), 200);
  EXPECT_THAT(Body(r), HasSubstr("name=\"from\" value=\"/local/wagashi.html\""));
  EXPECT_THAT(Body(r), HasSubstr("name=\"password\""));
  EXPECT_EQ(r.FindHeader("Cache-Control").value_or(""), "no-store");

  HttpRequest foreign("GET", "/account/register");
  foreign.AddHeader("Host", kHost);
  foreign.AddHeader("Referer", "https://elsewhere.example/page.html");
  EXPECT_THAT(Body(Send(foreign)), HasSubstr("name=\"from\" value=\"\""));
}

TEST_F(AccountPagesTest, RegistrationGoesToTheBackendAndWelcomes) {
  HttpRequest post = Post("/account/register",
                          "email=ada%40example.org&display_name=Ada+%3Cb%3E&password=correct+"
                          "horse+battery&from=%2Fproducts%2Ftea.html");
  post.AddHeader("Origin", "http://shop-b.example:8080");
  HttpResponse r = Send(post);
  EXPECT_EQ(r.status(), 200) << Body(r);
  EXPECT_THAT(Body(r), HasSubstr("Welcome, Ada &lt;b&gt;"));
  EXPECT_THAT(Body(r), Not(HasSubstr("<b>")));
  EXPECT_THAT(Body(r), Not(HasSubstr("usr_")));  // no internal ids on customer pages
  EXPECT_EQ(r.user, "usr_abcdefghijklmnop");
  ASSERT_EQ(backend_->registrations.size(), 1u);
  EXPECT_EQ(backend_->registrations[0].email, "ada@example.org");
  EXPECT_EQ(backend_->registrations[0].display_name, "Ada <b>");
  EXPECT_EQ(backend_->registrations[0].password, "correct horse battery");
  EXPECT_EQ(backend_->from_paths[0], "/products/tea.html");
}

TEST_F(AccountPagesTest, WithoutAFromFieldThePostsRefererIsThePage) {
  HttpRequest post = Post("/account/register", "email=a%40b.org&display_name=A&password=p");
  post.AddHeader("Referer", "http://shop-b.example:8080/local/page.html");
  Send(post);
  ASSERT_EQ(backend_->from_paths.size(), 1u);
  EXPECT_EQ(backend_->from_paths[0], "/local/page.html");
}

TEST_F(AccountPagesTest, ATakenEmailShowsTheFormAgainWithoutThePassword) {
  backend_->register_result = Status::AlreadyExists("an account with this email already exists");
  HttpResponse r = Send(Post("/account/register",
                             "email=ada%40example.org&display_name=Ada&password=s3cret-pass-word"));
  EXPECT_EQ(r.status(), 409);
  EXPECT_THAT(Body(r), HasSubstr("An account with this email already exists."));
  EXPECT_THAT(Body(r), HasSubstr("value=\"ada@example.org\""));
  EXPECT_THAT(Body(r), HasSubstr("value=\"Ada\""));
  EXPECT_THAT(Body(r), Not(HasSubstr("s3cret-pass-word")));
}

TEST_F(AccountPagesTest, AWeakPasswordIsA400WithTheReason) {
  backend_->register_result = Status::InvalidArgument("the password must be 10 to 128 characters");
  HttpResponse r = Send(Post("/account/register", "email=a%40b.org&display_name=A&password=short"));
  EXPECT_EQ(r.status(), 400);
  EXPECT_THAT(Body(r), HasSubstr("The password must be 10 to 128 characters."));
}

TEST_F(AccountPagesTest, MainUnreachableIs503AndSaysToTryLater) {
  backend_->register_result = Status::Unavailable("connect: refused");
  HttpResponse r = Send(Post("/account/register", "email=a%40b.org&display_name=A&password=x"));
  EXPECT_EQ(r.status(), 503);
  EXPECT_THAT(Body(r), HasSubstr("not available right now, try again in a few minutes"));
  EXPECT_THAT(Body(r), Not(HasSubstr("refused")));  // no internals shown
  EXPECT_TRUE(r.FindHeader("Retry-After").has_value());
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
    HttpRequest post = Post("/account/register", "email=a%40b.org&display_name=A&password=x");
    post.AddHeader(c.header, c.value);
    EXPECT_EQ(Send(post).status(), 403) << c.header << ": " << c.value;
    HttpRequest login = Post("/account/login", "email=a%40b.org&password=x");
    login.AddHeader(c.header, c.value);
    EXPECT_EQ(Send(login).status(), 403) << c.header << ": " << c.value;
  }
  HttpRequest same = Post("/account/login", "email=a%40b.org&password=x");
  same.AddHeader("Sec-Fetch-Site", "same-origin");
  same.AddHeader("Origin", "HTTP://SHOP-B.EXAMPLE:8080");
  EXPECT_EQ(Send(same).status(), 200);
  EXPECT_TRUE(backend_->registrations.empty());
  EXPECT_EQ(backend_->logins.size(), 1u);
}

TEST_F(AccountPagesTest, UnreadableFormsAreRefusedBeforeTheBackend) {
  EXPECT_EQ(Send(Post("/account/register", R"({"email":"a@b.org"})", "application/json")).status(),
            415);
  EXPECT_EQ(
      Send(Post("/account/register", "email=a%40b.org&pad=" + std::string(9000, 'x'))).status(),
      413);
  EXPECT_EQ(Send(Post("/account/register", "email=%zz")).status(), 400);
  EXPECT_EQ(Send(Post("/account/login", "email=a%40b.org&email=c%40d.org&password=x")).status(),
            400);
  EXPECT_EQ(Send(Post("/account/login", "password=%00")).status(), 400);
  EXPECT_TRUE(backend_->registrations.empty());
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
  HttpRequest get("GET", "/account/register");
  get.AddHeader("Host", kHost);
  get.AddHeader("Cookie", "tieup_cart_count=4");
  std::string page = Body(Send(get));
  EXPECT_THAT(page, HasSubstr("<title>Create an account · Shop B</title>"));
  EXPECT_THAT(page, HasSubstr("data-cart-count>4</span>"));
  EXPECT_THAT(page, HasSubstr("<form class=\"fields\" method=\"post\""));
  for (const char* field : {"email", "display_name", "password"}) {
    EXPECT_THAT(page, HasSubstr("<label for=\"" + std::string(field) + "\">")) << field;
    EXPECT_THAT(page, HasSubstr("id=\"" + std::string(field) + "\" name=\"" + field + "\""))
        << field;
  }
  HttpRequest login("GET", "/account/login");
  login.AddHeader("Host", kHost);
  page = Body(Send(login));
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
  EXPECT_EQ(Send(Post("/account/", "")).status(), 404);
}

TEST_F(AccountPagesTest, PostsAreAnsweredFromTheWorkerThreads) {
  HttpRequest post = Post("/account/login", "email=a%40b.org&password=x");
  std::promise<HttpResponse> answered;
  pages_.Handle(
      post, HttpResponder::FromCallback([&](HttpResponse r) { answered.set_value(std::move(r)); }));
  EXPECT_EQ(answered.get_future().get().status(), 200);
}

}  // namespace
}  // namespace tieup::users
