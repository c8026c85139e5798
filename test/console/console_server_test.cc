#include "console/console_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/ssl/context.hpp>
#include <optional>
#include <thread>

#include "commerce/form.h"
#include "crypto/x509.h"
#include "net/http_client.h"
#include "test_database.h"
#include "test_support.h"
#include "trust/tls.h"

namespace tieup::console {
namespace {

using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Optional;
using ::testing::StartsWith;
using ::tieup::testing::FakeClockEnv;
using ::tieup::testing::IsOk;
using ::tieup::testing::TempDir;

constexpr char kEmail[] = "ada@example.org";
constexpr char kPassword[] = "correct horse battery";
constexpr char kCsp[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

// The page template of the test daemon: a form with the CSRF token and escaped data.
constexpr char kOrdersTemplate[] =
    "<p class=\"note\">{{note}}</p>{{> _field}}"
    "<form method=\"post\" action=\"/orders\"><input type=\"hidden\" name=\"csrf\" "
    "value=\"{{csrf}}\"><button>Save</button></form>";
constexpr uint64_t kUploadLimit = 64 * 1024;
constexpr char kBoundary[] = "----WebKitFormBoundaryTieupTest";
constexpr char kMultipartType[] = "multipart/form-data; boundary=----WebKitFormBoundaryTieupTest";

// A multipart body as Chromium sends it: text fields, then a file.
std::string MultipartBody(const std::vector<std::pair<std::string, std::string>>& fields,
                          std::string_view filename, std::string_view bytes) {
  std::string body;
  for (const auto& [name, value] : fields) {
    body += std::string("--") + kBoundary + "\r\nContent-Disposition: form-data; name=\"" + name +
            "\"\r\n\r\n" + value + "\r\n";
  }
  body += std::string("--") + kBoundary +
          "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + std::string(filename) +
          "\"\r\nContent-Type: image/png\r\n\r\n" + std::string(bytes) + "\r\n--" + kBoundary +
          "--\r\n";
  return body;
}

constexpr char kFieldPartial[] = "<label for=\"n\">Name</label><input id=\"n\" name=\"n\">";

class ConsoleServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = ::tieup::testing::OpenTestDatabase(dir_.path() + "/tieup.db");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    options_.title = "Tea House Asahi — partner console";
    options_.managers.cost = users::PasswordHashCost::MinimumForTest();
  }

  void TearDown() override {
    client_.reset();
    if (console_) console_->Stop();
  }

  // Opens and starts the console with the test pages, and a manager with a password.
  void StartConsole() {
    auto console = Console::Open(env_, *db_, options_);
    ASSERT_THAT(console, IsOk());
    console_ = std::move(*console);
    console_->AddTemplates({{"orders", kOrdersTemplate}, {"_field", kFieldPartial}});
    console_->AddStyles(".orders-note { font-weight: bold; }");
    console_->AddScript("/* the orders page's script */");
    console_->AddNav("Home", "/");
    console_->AddNav("Orders", "/orders");
    console_->AddPage("/orders", [this](const ConsoleRequest& r) {
      ++order_calls_;
      ConsolePage page;
      page.title = "Orders";
      page.template_name = "orders";
      page.data["note"] = "<b>bold</b> & \"quoted\"";
      if (r.http.method() == "POST") {
        last_form_ = std::string(r.form.Get("n"));
        EXPECT_THAT(console_->Audit(r, "save order", "name " + last_form_), IsOk());
        page.redirect = "/orders";
        page.flash = "Order saved.";
      }
      return page;
    });
    console_->AddPage("/items/", [](const ConsoleRequest& r) {
      ConsolePage page;
      page.title = "Item";
      page.template_name = "problem";
      page.data["message"] = "item at " + std::string(r.http.path());
      return page;
    });
    console_->AddPage("/", [](const ConsoleRequest&) {
      ConsolePage page;
      page.title = "Home";
      page.template_name = "problem";
      page.data["message"] = "the home page";
      return page;
    });
    console_->AddPage("/broken", [](const ConsoleRequest&) -> ConsolePage {
      throw std::runtime_error("the page broke");
    });
    // A page that takes uploads of at most kUploadLimit bytes.
    PageOptions uploads;
    uploads.max_upload_bytes = kUploadLimit;
    console_->AddPage(
        "/upload",
        [this](const ConsoleRequest& r) {
          ConsolePage page;
          page.title = "Upload";
          page.template_name = "problem";
          if (r.http.method() == "POST") {
            ++upload_calls_;
            last_files_ = r.files;
            last_form_ = std::string(r.form.Get("n"));
            page.redirect = "/upload";
          }
          return page;
        },
        uploads);
    // A file to download, under a name that needs making safe.
    console_->AddPage("/export", [](const ConsoleRequest&) {
      ConsolePage page;
      page.download = Download{"text/csv; charset=utf-8", "orders \"2026\"/11.csv",
                               "section,item\nline,<b>not html</b>\n"};
      return page;
    });
    // A document for a frame: a preview whose resources come from `origin`.
    console_->AddPage("/frame", [](const ConsoleRequest& r) {
      ConsolePage page;
      auto query = commerce::ParseForm(r.http.query());
      page.framed = FramedDocument{"<!DOCTYPE html><p>preview</p><script>alert(1)</script>",
                                   query.ok() ? std::string(query->Get("origin")) : ""};
      return page;
    });
    // A preview whose own addresses resolve at the public site: <base> first in its head.
    console_->AddPage("/based", [](const ConsoleRequest& r) {
      auto query = commerce::ParseForm(r.http.query());
      ConsolePage page;
      page.framed = FramedDocument{query.ok() ? std::string(query->Get("html")) : "",
                                   "http://127.0.0.1:8081", /*base_at_resources_origin=*/true};
      return page;
    });
    ASSERT_THAT(console_->Start(), IsOk());
    host_ = "127.0.0.1:" + std::to_string(console_->port());
    origin_ = std::string(tls_ ? "https://" : "http://") + host_;
    HttpClientOptions client_options;
    client_options.tls = tls_;
    client_ = std::make_unique<HttpClient>("127.0.0.1", console_->port(), client_options);

    auto token = console_->managers().Add(kEmail, "Ada");
    ASSERT_THAT(token, IsOk());
    ASSERT_THAT(console_->managers().SetPassword(*token, kPassword), IsOk());
  }

  std::string CookieName() const { return tls_ ? "__Host-tieup_console" : "tieup_console"; }

  HttpResponse Fetch(HttpRequest request) {
    auto response = client_->Fetch(request);
    EXPECT_THAT(response, IsOk());
    return response.ok() ? std::move(*response) : HttpResponse(599);
  }

  HttpResponse Get(std::string_view target, const std::string& cookie = "") {
    HttpRequest r("GET", target);
    r.AddHeader("Host", host_);
    if (!cookie.empty()) r.AddHeader("Cookie", CookieName() + "=" + cookie);
    return Fetch(std::move(r));
  }

  // A POST as a browser on the console's own page sends it.
  HttpResponse Post(std::string_view target, std::string body, const std::string& cookie = "",
                    std::optional<std::string> origin = std::nullopt,
                    std::string content_type = "application/x-www-form-urlencoded") {
    HttpRequest r("POST", target);
    r.AddHeader("Host", host_);
    r.AddHeader("Origin", origin.value_or(origin_));
    if (!content_type.empty()) r.AddHeader("Content-Type", content_type);
    if (!cookie.empty()) r.AddHeader("Cookie", CookieName() + "=" + cookie);
    r.SetBody(std::move(body));
    return Fetch(std::move(r));
  }

  // Signs in and returns the session cookie's value.
  std::string SignIn(const std::string& next = "/orders") {
    HttpResponse r = Post("/sign-in", "email=" + commerce::PercentEncode(kEmail) +
                                          "&password=" + commerce::PercentEncode(kPassword) +
                                          "&next=" + commerce::PercentEncode(next));
    EXPECT_EQ(r.status(), 303) << r.body();
    auto set = r.FindHeader("Set-Cookie");
    EXPECT_TRUE(set.has_value());
    if (!set) return "";
    const std::string prefix = CookieName() + "=";
    EXPECT_THAT(std::string(*set), StartsWith(prefix));
    const std::string_view rest = set->substr(prefix.size());
    return std::string(rest.substr(0, rest.find(';')));
  }

  // The session's CSRF token, as the orders page shows it.
  std::string CsrfOf(const std::string& cookie) {
    HttpResponse page = Get("/orders", cookie);
    const std::string body(page.body());
    const std::string marker = "name=\"csrf\" value=\"";
    const size_t at = body.find(marker);
    EXPECT_NE(at, std::string::npos) << body;
    if (at == std::string::npos) return "";
    const size_t start = at + marker.size();
    return body.substr(start, body.find('"', start) - start);
  }

  static void ExpectSecurityHeaders(const HttpResponse& r) {
    EXPECT_THAT(r.FindHeader("Content-Security-Policy"), Optional(Eq(kCsp))) << r.status();
    EXPECT_THAT(r.FindHeader("X-Frame-Options"), Optional(Eq("DENY")));
    EXPECT_THAT(r.FindHeader("Referrer-Policy"), Optional(Eq("no-referrer")));
    EXPECT_THAT(r.FindHeader("X-Content-Type-Options"), Optional(Eq("nosniff")));
    EXPECT_THAT(r.FindHeader("Cache-Control"), Optional(Eq("no-store")));
  }

  FakeClockEnv env_;
  TempDir dir_;
  std::unique_ptr<Database> db_;
  ConsoleOptions options_;
  std::shared_ptr<boost::asio::ssl::context> tls_;  // the client's, for HTTPS tests
  std::unique_ptr<Console> console_;
  std::unique_ptr<HttpClient> client_;
  std::string host_, origin_;
  std::atomic<int> order_calls_{0};
  std::string last_form_;
  std::atomic<int> upload_calls_{0};
  std::vector<UploadedFile> last_files_;
};

TEST_F(ConsoleServerTest, APageWithoutASessionRedirectsToSignIn) {
  ASSERT_NO_FATAL_FAILURE(StartConsole());
  HttpResponse r = Get("/orders?status=paid");
  EXPECT_EQ(r.status(), 303);
  EXPECT_THAT(r.FindHeader("Location"), Optional(Eq("/sign-in?next=%2Forders%3Fstatus%3Dpaid")));
  ExpectSecurityHeaders(r);
  // A made-up cookie is no session either, and is cleared.
  HttpResponse forged = Get("/orders", std::string(43, 'A'));
  EXPECT_EQ(forged.status(), 303);
  EXPECT_THAT(forged.FindHeader("Set-Cookie"), Optional(HasSubstr("Max-Age=0")));
  EXPECT_EQ(order_calls_.load(), 0);
}

// A link from another site (the public host's preview banner): the browser keeps back the
// SameSite=Strict cookie, so the console opens the same address again from itself (a
// same-origin navigation, which carries it) instead of asking to sign in.
TEST_F(ConsoleServerTest, ALinkFromAnotherSiteIsOpenedAgainFromTheConsole) {
  ASSERT_NO_FATAL_FAILURE(StartConsole());
  auto navigation = [&](std::string_view from) {
    HttpRequest r("GET", "/orders?status=paid&x=%22");
    r.AddHeader("Host", host_);
    r.AddHeader("Sec-Fetch-Site", from);
    r.AddHeader("Sec-Fetch-Mode", "navigate");
    return Fetch(std::move(r));
  };
  HttpResponse r = navigation("cross-site");
  EXPECT_EQ(r.status(), 200);
  EXPECT_THAT(
      std::string(r.body()),
      HasSubstr("<meta http-equiv=\"refresh\" content=\"0; url=/orders?status=paid&amp;x=%22\">"));
  EXPECT_THAT(std::string(r.body()), HasSubstr("continue to the console"));
  ExpectSecurityHeaders(r);
  EXPECT_EQ(navigation("same-site").status(), 200);
  // From the console itself (the reopened request, still without a session): the sign-in page.
  r = navigation("same-origin");
  EXPECT_EQ(r.status(), 303);
  EXPECT_THAT(r.FindHeader("Location"), Optional(HasSubstr("/sign-in?next=")));
  // Not a navigation (a fetch from another site): no page of the console.
  HttpRequest fetch("GET", "/orders");
  fetch.AddHeader("Host", host_);
  fetch.AddHeader("Sec-Fetch-Site", "cross-site");
  fetch.AddHeader("Sec-Fetch-Mode", "cors");
  EXPECT_EQ(Fetch(std::move(fetch)).status(), 303);
  EXPECT_EQ(order_calls_.load(), 0);
}

TEST_F(ConsoleServerTest, SignInSetsAFreshSessionCookieAndShowsThePageInTheLayout) {
  ASSERT_NO_FATAL_FAILURE(StartConsole());
  HttpResponse form = Get("/sign-in?next=%2Forders");
  EXPECT_EQ(form.status(), 200);
  EXPECT_THAT(form.FindHeader("Content-Type"), Optional(HasSubstr("text/html")));
  EXPECT_THAT(form.body(), HasSubstr("<label for=\"email\">"));
  EXPECT_THAT(form.body(), HasSubstr("<label for=\"password\">"));
  EXPECT_THAT(form.body(), HasSubstr("value=\"/orders\""));

  HttpResponse r = Post("/sign-in",
                        "email=ada%40example.org&password=correct+horse+battery"
                        "&next=%2Forders");
  ASSERT_EQ(r.status(), 303) << r.body();
  EXPECT_THAT(r.FindHeader("Location"), Optional(Eq("/orders")));
  auto cookie = r.FindHeader("Set-Cookie");
  ASSERT_TRUE(cookie.has_value());
  EXPECT_THAT(std::string(*cookie), StartsWith("tieup_console="));
  EXPECT_THAT(std::string(*cookie), HasSubstr("; HttpOnly"));
  EXPECT_THAT(std::string(*cookie), HasSubstr("; SameSite=Strict"));
  EXPECT_THAT(std::string(*cookie), HasSubstr("; Path=/"));
  EXPECT_THAT(std::string(*cookie), Not(HasSubstr("Secure")));

  const std::string session = SignIn();
  HttpResponse page = Get("/orders", session);
  ASSERT_EQ(page.status(), 200) << page.body();
  ExpectSecurityHeaders(page);
  const std::string body(page.body());
  EXPECT_THAT(body, HasSubstr("<title>Orders — Tea House Asahi — partner console</title>"));
  EXPECT_THAT(body, HasSubstr("Signed in as <strong>ada@example.org</strong>"));
  EXPECT_THAT(body, HasSubstr("<a href=\"/orders\" aria-current=\"page\">Orders</a>"));
  EXPECT_THAT(body, HasSubstr("<a href=\"/\">Home</a>"));
  EXPECT_THAT(body, HasSubstr("action=\"/sign-out\""));
  // Escaped data, the partial, and the CSRF token in the page's form.
  EXPECT_THAT(body, HasSubstr("&lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot;"));
  EXPECT_THAT(body, Not(HasSubstr("<b>bold</b>")));
  EXPECT_THAT(body, HasSubstr("<label for=\"n\">Name</label>"));
  EXPECT_THAT(CsrfOf(session).size(), Eq(43u));
  // No inline script or style in the layout.
  EXPECT_THAT(body, Not(HasSubstr("<style")));
  EXPECT_THAT(body, Not(HasSubstr("style=")));
  EXPECT_THAT(body, Not(HasSubstr("<script>")));
  EXPECT_THAT(body, HasSubstr("<script src=\"/assets/console.js\" defer></script>"));

  auto audit = console_->audit().Recent();
  ASSERT_THAT(audit, IsOk());
  ASSERT_FALSE(audit->empty());
  EXPECT_EQ((*audit)[0].action, "sign in");
  EXPECT_EQ((*audit)[0].actor, kEmail);
  EXPECT_EQ((*audit)[0].address, "127.0.0.1");
}

TEST_F(ConsoleServerTest, SignInWhileSignedInGoesToThePageAsked) {
  ASSERT_NO_FATAL_FAILURE(StartConsole());
  const std::string session = SignIn();
  HttpResponse r = Get("/sign-in?next=%2Forders", session);
  EXPECT_EQ(r.status(), 303);
  EXPECT_THAT(r.FindHeader("Location"), Optional(Eq("/orders")));
  HttpResponse outside = Post("/sign-in",
                              "email=ada%40example.org&password=correct+horse+battery"
                              "&next=https%3A%2F%2Fevil.example%2F");
  EXPECT_THAT(outside.FindHeader("Location"), Optional(Eq("/")));
}

TEST_F(ConsoleServerTest, AWrongPasswordAndAnUnknownAddressGetTheSameAnswerThenAreThrottled) {
  ASSERT_NO_FATAL_FAILURE(StartConsole());
  HttpResponse wrong = Post("/sign-in", "email=ada%40example.org&password=wrong+horse+battery");
  EXPECT_EQ(wrong.status(), 401);
  EXPECT_THAT(wrong.body(), HasSubstr("Wrong e-mail address or password."));
  EXPECT_THAT(wrong.body(), HasSubstr("value=\"ada@example.org\""));  // kept in the form
  EXPECT_FALSE(wrong.FindHeader("Set-Cookie"));
  HttpResponse unknown =
      Post("/sign-in", "email=nobody%40example.org&password=correct+horse+battery");
  EXPECT_EQ(unknown.status(), 401);
  EXPECT_THAT(unknown.body(), HasSubstr("Wrong e-mail address or password."));

  for (int i = 1; i < options_.managers.max_failures_per_account - 1; ++i) {
    EXPECT_EQ(Post("/sign-in", "email=ada%40example.org&password=wrong").status(), 401);
  }
  HttpResponse locked = Post("/sign-in", "email=ada%40example.org&password=wrong");
  EXPECT_EQ(locked.status(), 429);
  EXPECT_THAT(locked.body(), HasSubstr("Too many failed sign-ins; try again in 15 minutes"));
  EXPECT_EQ(Post("/sign-in", "email=ada%40example.org&password=correct+horse+battery").status(),
            429);
  env_.AdvanceSeconds(options_.managers.lockout_seconds);
  EXPECT_EQ(Post("/sign-in", "email=ada%40example.org&password=correct+horse+battery").status(),
            303);
}

TEST_F(ConsoleServerTest, SecurityHeadersAreOnEveryAnswer) {
  ASSERT_NO_FATAL_FAILURE(StartConsole());
  const std::string session = SignIn();
  for (const char* target : {"/sign-in", "/assets/console.css", "/assets/console.js",
                             "/set-password?token=x", "/nowhere", "/orders"}) {
    SCOPED_TRACE(target);
    ExpectSecurityHeaders(Get(target));
    ExpectSecurityHeaders(Get(target, session));
  }
  ExpectSecurityHeaders(Post("/orders", "n=1", session));         // no CSRF token: 403
  ExpectSecurityHeaders(Post("/sign-in", "email=x&password=y"));  // 401
  HttpRequest put("PUT", "/orders");
  put.AddHeader("Host", host_);
  HttpResponse not_allowed = Fetch(std::move(put));
  EXPECT_EQ(not_allowed.status(), 405);
  EXPECT_THAT(not_allowed.FindHeader("Allow"), Optional(Eq("GET, HEAD, POST")));
  ExpectSecurityHeaders(not_allowed);
  EXPECT_FALSE(Get("/sign-in").FindHeader("Strict-Transport-Security"));
}

TEST_F(ConsoleServerTest, AssetsAreServedWithTheirTypes) {
  ASSERT_NO_FATAL_FAILURE(StartConsole());
  HttpResponse css = Get("/assets/console.css");
  EXPECT_EQ(css.status(), 200);
  EXPECT_THAT(css.FindHeader("Content-Type"), Optional(StartsWith("text/css")));
  EXPECT_THAT(css.body(), HasSubstr(".console-header"));
  HttpResponse js = Get("/assets/console.js");
  EXPECT_EQ(js.status(), 200);
  EXPECT_THAT(js.FindHeader("Content-Type"), Optional(StartsWith("text/javascript")));
  EXPECT_THAT(js.body(), HasSubstr("EventSource"));
  EXPECT_THAT(js.body(), HasSubstr("speechSynthesis"));
  // The daemon's own styles and script come after the console's.
  EXPECT_THAT(css.body(), HasSubstr("\n.orders-note { font-weight: bold; }"));
  EXPECT_THAT(js.body(), HasSubstr("\n/* the orders page's script */"));
}

TEST_F(ConsoleServerTest, ADownloadIsAnAttachmentWithTheSecurityHeaders) {
  ASSERT_NO_FATAL_FAILURE(StartConsole());
  // Signed-in managers only, like every page.
  HttpResponse signed_out = Get("/export");
  EXPECT_EQ(signed_out.status(), 303);
  EXPECT_FALSE(signed_out.FindHeader("Content-Disposition"));
  const std::string session = SignIn();
  HttpResponse r = Get("/export", session);
  EXPECT_EQ(r.status(), 200);
  EXPECT_THAT(r.FindHeader("Content-Type"), Optional(Eq("text/csv; charset=utf-8")));
  // Quotes and slashes cannot break out of the header's file name or name a folder.
  EXPECT_THAT(r.FindHeader("Content-Disposition"),
              Optional(Eq("attachment; filename=\"orders__2026__11.csv\"")));
  EXPECT_EQ(r.body(), "section,item\nline,<b>not html</b>\n");  // as is, not in the layout
  ExpectSecurityHeaders(r);
}

TEST_F(ConsoleServerTest, APostWithoutTheSessionsCsrfTokenIsRefused) {
  ASSERT_NO_FATAL_FAILURE(StartConsole());
  const std::string session = SignIn();
  const std::string csrf = CsrfOf(session);
  const int calls = order_calls_.load();

  HttpResponse none = Post("/orders", "n=Ada", session);
  EXPECT_EQ(none.status(), 403);
  EXPECT_THAT(none.body(), HasSubstr("reload the page"));
  HttpResponse wrong = Post("/orders", "n=Ada&csrf=" + std::string(43, 'A'), session);
  EXPECT_EQ(wrong.status(), 403);
  // Another session's token does not do either.
  const std::string other = SignIn();
  EXPECT_EQ(Post("/orders", "n=Ada&csrf=" + CsrfOf(other), session).status(), 403);
  EXPECT_EQ(order_calls_.load(), calls + 1);  // only CsrfOf(other)'s GET reached the page

  HttpResponse ok = Post("/orders", "n=Ada+L&csrf=" + csrf, session);
  EXPECT_EQ(ok.status(), 303) << ok.body();
  EXPECT_EQ(last_form_, "Ada L");
  auto audit = console_->audit().Recent(1);
  ASSERT_THAT(audit, IsOk());
  EXPECT_EQ((*audit)[0].action, "save order");
  EXPECT_EQ((*audit)[0].detail, "name Ada L");
  EXPECT_EQ((*audit)[0].actor, kEmail);
}

TEST_F(ConsoleServerTest, ACrossOriginPostIsRefused) {
  ASSERT_NO_FATAL_FAILURE(StartConsole());
  const std::string session = SignIn();
  const std::string body = "n=x&csrf=" + CsrfOf(session);
  const int calls = order_calls_.load();
  EXPECT_EQ(Post("/orders", body, session, "http://evil.example").status(), 403);
  EXPECT_EQ(Post("/orders", body, session, "null").status(), 403);
  EXPECT_EQ(order_calls_.load(), calls);

  // Signing in from another site (login CSRF) is refused too.
  HttpResponse login = Post("/sign-in", "email=ada%40example.org&password=correct+horse+battery",
                            "", "http://evil.example");
  EXPECT_EQ(login.status(), 403);
  EXPECT_FALSE(login.FindHeader("Set-Cookie"));

  // What a browser sends under Referrer-Policy no-referrer is accepted.
  HttpRequest r("POST", "/orders");
  r.AddHeader("Host", host_);
  r.AddHeader("Origin", "null");
  r.AddHeader("Sec-Fetch-Site", "same-origin");
  r.AddHeader("Content-Type", "application/x-www-form-urlencoded");
  r.AddHeader("Cookie", CookieName() + "=" + session);
  r.SetBody(body);
  EXPECT_EQ(Fetch(std::move(r)).status(), 303);
  // And Sec-Fetch-Site: cross-site is refused whatever the Origin says.
  HttpRequest c("POST", "/orders");
  c.AddHeader("Host", host_);
  c.AddHeader("Origin", origin_);
  c.AddHeader("Sec-Fetch-Site", "cross-site");
  c.AddHeader("Content-Type", "application/x-www-form-urlencoded");
  c.AddHeader("Cookie", CookieName() + "=" + session);
  c.SetBody(body);
  EXPECT_EQ(Fetch(std::move(c)).status(), 403);
}

TEST_F(ConsoleServerTest, APostMustBeAnUrlencodedFormOfAtMostOneMebibyte) {
  ASSERT_NO_FATAL_FAILURE(StartConsole());
  const std::string session = SignIn();
  const std::string csrf = CsrfOf(session);
  EXPECT_EQ(
      Post("/orders", "{\"csrf\":\"" + csrf + "\"}", session, std::nullopt, "application/json")
          .status(),
      415);
  EXPECT_EQ(Post("/orders", "csrf=" + csrf, session, std::nullopt, "").status(), 415);
  HttpResponse big =
      Post("/orders", "csrf=" + csrf + "&n=" + std::string(kMaxConsoleFormBytes, 'x'), session);
  EXPECT_EQ(big.status(), 413);
  ExpectSecurityHeaders(big);
  EXPECT_EQ(Post("/orders", "csrf=" + csrf + "&n=%zz", session).status(), 400);
}

TEST_F(ConsoleServerTest, AFlashIsShownOnceAfterARedirect) {
  ASSERT_NO_FATAL_FAILURE(StartConsole());
  const std::string session = SignIn();
  ASSERT_EQ(Post("/orders", "n=x&csrf=" + CsrfOf(session), session).status(), 303);
  // A page's background re-read (console.js) between the POST and the redirect's GET leaves
  // the flash for the page the person sees.
  HttpRequest refresh("GET", "/orders");
  refresh.AddHeader("Host", host_);
  refresh.AddHeader("Cookie", CookieName() + "=" + session);
  refresh.AddHeader("X-Tieup-Refresh", "1");
  HttpResponse background = Fetch(std::move(refresh));
  EXPECT_EQ(background.status(), 200);
  EXPECT_THAT(background.body(), Not(HasSubstr("Order saved.")));
  HttpResponse next = Get("/orders", session);
  EXPECT_THAT(next.body(), HasSubstr("<p class=\"flash\" role=\"status\">Order saved.</p>"));
  EXPECT_THAT(Get("/orders", session).body(), Not(HasSubstr("Order saved.")));
}

TEST_F(ConsoleServerTest, PrefixRoutesUnknownPagesAndFailingPages) {
  ASSERT_NO_FATAL_FAILURE(StartConsole());
  const std::string session = SignIn();
  HttpResponse item = Get("/items/42", session);
  EXPECT_EQ(item.status(), 200);
  EXPECT_THAT(item.body(), HasSubstr("item at /items/42"));
  HttpResponse home = Get("/", session);
  EXPECT_EQ(home.status(), 200);
  EXPECT_THAT(home.body(), HasSubstr("<h1>Home</h1>"));
  EXPECT_THAT(home.body(), HasSubstr("<a href=\"/\" aria-current=\"page\">Home</a>"));
  EXPECT_THAT(home.body(), HasSubstr("<a href=\"/orders\">Orders</a>"));
  // "/" is the home page, not a catch-all.
  HttpResponse missing = Get("/nowhere", session);
  EXPECT_EQ(missing.status(), 404);
  EXPECT_THAT(missing.body(), HasSubstr("<h1>Not found</h1>"));
  EXPECT_THAT(missing.body(), HasSubstr("There is no page at /nowhere."));
  EXPECT_THAT(missing.body(), HasSubstr("Signed in as"));
  HttpResponse broken = Get("/broken", session);
  EXPECT_EQ(broken.status(), 500);
  EXPECT_THAT(broken.body(), Not(HasSubstr("the page broke")));
}

TEST_F(ConsoleServerTest, SignOutEndsTheSession) {
  ASSERT_NO_FATAL_FAILURE(StartConsole());
  const std::string session = SignIn();
  const std::string csrf = CsrfOf(session);
  EXPECT_EQ(Post("/sign-out", "", session).status(), 403);  // the token is needed
  HttpResponse out = Post("/sign-out", "csrf=" + csrf, session);
  EXPECT_EQ(out.status(), 303);
  EXPECT_THAT(out.FindHeader("Location"), Optional(Eq("/sign-in?done=signed-out")));
  EXPECT_THAT(out.FindHeader("Set-Cookie"), Optional(HasSubstr("Max-Age=0")));
  EXPECT_EQ(Get("/orders", session).status(), 303);
  EXPECT_THAT(Get("/sign-in?done=signed-out").body(), HasSubstr("You are signed out."));
  auto audit = console_->audit().Recent(1);
  ASSERT_THAT(audit, IsOk());
  EXPECT_EQ((*audit)[0].action, "sign out");
}

TEST_F(ConsoleServerTest, IdleSessionsAndRemovedManagersAreSignedOut) {
  ASSERT_NO_FATAL_FAILURE(StartConsole());
  const std::string session = SignIn();
  ASSERT_EQ(Get("/orders", session).status(), 200);
  env_.AdvanceSeconds(options_.sessions.idle_seconds);
  EXPECT_EQ(Get("/orders", session).status(), 303);

  const std::string again = SignIn();
  ASSERT_EQ(Get("/orders", again).status(), 200);
  ASSERT_THAT(console_->managers().Reset(kEmail), IsOk());
  EXPECT_EQ(Get("/orders", again).status(), 303);
}

TEST_F(ConsoleServerTest, TheSetPasswordLinkWorksOnce) {
  ASSERT_NO_FATAL_FAILURE(StartConsole());
  auto token = console_->managers().Add("bob@example.org", "Bob");
  ASSERT_THAT(token, IsOk());
  const std::string link = "/set-password?token=" + *token;
  HttpResponse form = Get(link);
  EXPECT_EQ(form.status(), 200);
  EXPECT_THAT(form.body(), HasSubstr("bob@example.org"));
  EXPECT_THAT(form.body(), HasSubstr("<label for=\"confirm\">"));

  HttpResponse differ =
      Post("/set-password", "token=" + *token + "&password=one+good+password&confirm=another");
  EXPECT_EQ(differ.status(), 400);
  EXPECT_THAT(differ.body(), HasSubstr("The two passwords differ"));
  HttpResponse short_one =
      Post("/set-password", "token=" + *token + "&password=short&confirm=short");
  EXPECT_EQ(short_one.status(), 400);
  EXPECT_THAT(short_one.body(), HasSubstr("characters"));
  EXPECT_EQ(Post("/set-password",
                 "token=" + *token + "&password=one+good+password&confirm=one+good+password", "",
                 "http://evil.example")
                .status(),
            403);

  HttpResponse set = Post(
      "/set-password", "token=" + *token + "&password=one+good+password&confirm=one+good+password");
  EXPECT_EQ(set.status(), 303) << set.body();
  EXPECT_THAT(set.FindHeader("Location"),
              Optional(Eq("/sign-in?done=password&email=bob%40example.org")));
  EXPECT_THAT(Get("/sign-in?done=password&email=bob%40example.org").body(),
              HasSubstr("Your password is set"));
  EXPECT_THAT(console_->managers().CheckLogin("bob@example.org", "one good password", "x"), IsOk());

  HttpResponse used = Get(link);
  EXPECT_EQ(used.status(), 400);
  EXPECT_THAT(used.body(), HasSubstr("this link has expired or was used"));
}

TEST_F(ConsoleServerTest, EventsReachAWaitingRequest) {
  ASSERT_NO_FATAL_FAILURE(StartConsole());
  const std::string session = SignIn();
  HttpResponse page = Get("/orders", session);
  const std::string body(page.body());
  const std::string marker = "data-events-since=\"";
  const size_t at = body.find(marker);
  ASSERT_NE(at, std::string::npos);
  const std::string since =
      body.substr(at + marker.size(), body.find('"', at + marker.size()) - at - marker.size());

  std::optional<Result<HttpResponse>> answer;
  std::thread browser([&] {
    HttpClient events("127.0.0.1", console_->port());
    HttpRequest r("GET", "/events?since=" + since);
    r.AddHeader("Host", host_);
    r.AddHeader("Cookie", "tieup_console=" + session);
    answer = events.Fetch(r);
  });
  ASSERT_TRUE(console_->WaitForEventWaitersForTest(1, std::chrono::seconds(30)));
  console_->Publish("update", {{"message", "Update u3 from main arrived"}});
  browser.join();
  ASSERT_TRUE(answer.has_value());
  ASSERT_THAT(*answer, IsOk());
  const HttpResponse& r = **answer;
  EXPECT_EQ(r.status(), 200);
  EXPECT_THAT(r.FindHeader("Content-Type"), Optional(StartsWith("text/event-stream")));
  ExpectSecurityHeaders(r);
  EXPECT_THAT(r.body(), StartsWith("retry: 3000\n\n"));
  EXPECT_THAT(r.body(),
              HasSubstr("\ndata: {\"type\":\"update\",\"data\":{\"message\":\"Update u3 from main "
                        "arrived\"}}\n\n"));

  // A browser reconnecting with an older Last-Event-ID gets what it missed at once.
  HttpRequest again("GET", "/events");
  again.AddHeader("Host", host_);
  again.AddHeader("Cookie", "tieup_console=" + session);
  again.AddHeader("Last-Event-ID", since);
  HttpResponse missed = Fetch(std::move(again));
  EXPECT_THAT(missed.body(), HasSubstr("Update u3 from main arrived"));

  // Without a session: 204, so that EventSource stops trying.
  EXPECT_EQ(Get("/events").status(), 204);
}

TEST_F(ConsoleServerTest, AHeldEventRequestEndsAfterTheHoldTime) {
  options_.events_hold = std::chrono::milliseconds(1);
  ASSERT_NO_FATAL_FAILURE(StartConsole());
  const std::string session = SignIn();
  HttpResponse r = Get("/events", session);
  EXPECT_EQ(r.status(), 200);
  EXPECT_EQ(r.body(), "retry: 3000\n\n: nothing new\n\n");
}

TEST_F(ConsoleServerTest, StopAnswersHeldEventRequests) {
  ASSERT_NO_FATAL_FAILURE(StartConsole());
  const std::string session = SignIn();
  std::optional<Result<HttpResponse>> answer;
  std::thread browser([&] {
    HttpClient events("127.0.0.1", console_->port());
    HttpRequest r("GET", "/events");
    r.AddHeader("Host", host_);
    r.AddHeader("Cookie", "tieup_console=" + session);
    answer = events.Fetch(r);
  });
  ASSERT_TRUE(console_->WaitForEventWaitersForTest(1, std::chrono::seconds(30)));
  console_->Stop();
  browser.join();
  ASSERT_TRUE(answer.has_value());
  ASSERT_THAT(*answer, IsOk());
  EXPECT_EQ((*answer)->status(), 200);
}

TEST_F(ConsoleServerTest, ALoopbackConsoleRefusesOtherHostNames) {
  ASSERT_NO_FATAL_FAILURE(StartConsole());
  HttpRequest r("GET", "/sign-in");
  r.AddHeader("Host", "rebound.evil.example:" + std::to_string(console_->port()));
  HttpResponse refused = Fetch(std::move(r));
  EXPECT_EQ(refused.status(), 400);
  ExpectSecurityHeaders(refused);
  HttpRequest tunnel("GET", "/sign-in");
  tunnel.AddHeader("Host", "localhost:9000");  // an SSH tunnel's local port
  EXPECT_EQ(Fetch(std::move(tunnel)).status(), 200);
}

TEST_F(ConsoleServerTest, HttpsAddsHstsAndTheHostPrefixedSecureCookie) {
  auto ca = CertificateAuthority::Create(env_, "console.test", 86400);
  ASSERT_THAT(ca, IsOk());
  options_.tls_certificate_file = dir_.Sub("console.crt");
  options_.tls_key_file = dir_.Sub("console.key");
  ASSERT_THAT(WriteFileAtomic(env_, options_.tls_certificate_file, ca->certificate().ToPem()),
              IsOk());
  ASSERT_THAT(WriteFileAtomic(env_, options_.tls_key_file, ca->key().ToPem(), 0600), IsOk());
  auto client_tls = MakeBootstrapClientContext();  // the test trusts the certificate it made
  ASSERT_THAT(client_tls, IsOk());
  tls_ = *client_tls;
  ASSERT_NO_FATAL_FAILURE(StartConsole());
  EXPECT_THAT(console_->url(), StartsWith("https://127.0.0.1:"));

  HttpResponse form = Get("/sign-in");
  EXPECT_EQ(form.status(), 200);
  EXPECT_THAT(form.FindHeader("Strict-Transport-Security"), Optional(HasSubstr("max-age=")));
  HttpResponse r = Post("/sign-in", "email=ada%40example.org&password=correct+horse+battery");
  ASSERT_EQ(r.status(), 303) << r.body();
  auto cookie = r.FindHeader("Set-Cookie");
  ASSERT_TRUE(cookie.has_value());
  EXPECT_THAT(std::string(*cookie), StartsWith("__Host-tieup_console="));
  EXPECT_THAT(std::string(*cookie), HasSubstr("; Secure"));
  EXPECT_THAT(std::string(*cookie), HasSubstr("; Path=/"));
  // The plain name is not read under HTTPS.
  const std::string session = SignIn();
  HttpRequest plain("GET", "/orders");
  plain.AddHeader("Host", host_);
  plain.AddHeader("Cookie", "tieup_console=" + session);
  EXPECT_EQ(Fetch(std::move(plain)).status(), 303);
  EXPECT_EQ(Get("/orders", session).status(), 200);
}

TEST_F(ConsoleServerTest, OpenRefusesHalfATlsConfiguration) {
  options_.tls_certificate_file = dir_.Sub("console.crt");
  EXPECT_THAT(Console::Open(env_, *db_, options_),
              ::tieup::testing::StatusIs(StatusCode::kInvalidArgument, HasSubstr("both")));
  options_.tls_key_file = dir_.Sub("missing.key");
  EXPECT_THAT(Console::Open(env_, *db_, options_),
              ::tieup::testing::StatusIs(StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace tieup::console

namespace tieup::console {
namespace {

TEST_F(ConsoleServerTest, APageThatTakesUploadsGetsTheFilesOfAMultipartForm) {
  ASSERT_NO_FATAL_FAILURE(StartConsole());
  const std::string session = SignIn();
  const std::string csrf = CsrfOf(session);
  const std::string png("\x89PNG\r\n\x1a\n\0\0\0\rIHDR\r\n--", 21);
  HttpResponse ok =
      Post("/upload", MultipartBody({{"csrf", csrf}, {"n", "Tea 茶"}}, "tea.png", png), session,
           std::nullopt, kMultipartType);
  EXPECT_EQ(ok.status(), 303) << ok.body();
  ExpectSecurityHeaders(ok);
  EXPECT_EQ(upload_calls_.load(), 1);
  EXPECT_EQ(last_form_, "Tea 茶");
  ASSERT_EQ(last_files_.size(), 1u);
  EXPECT_EQ(last_files_[0].field, "file");
  EXPECT_EQ(last_files_[0].filename, "tea.png");
  EXPECT_EQ(last_files_[0].content_type, "image/png");
  EXPECT_EQ(last_files_[0].bytes, png);
  // The page still takes urlencoded forms, without files.
  EXPECT_EQ(Post("/upload", "n=plain&csrf=" + csrf, session).status(), 303);
  EXPECT_EQ(upload_calls_.load(), 2);
  EXPECT_EQ(last_form_, "plain");
  EXPECT_TRUE(last_files_.empty());
}

TEST_F(ConsoleServerTest, AnUploadWithoutTheCsrfTokenOrFromAnotherSiteIsRefused) {
  ASSERT_NO_FATAL_FAILURE(StartConsole());
  const std::string session = SignIn();
  const std::string csrf = CsrfOf(session);
  HttpResponse none = Post("/upload", MultipartBody({{"n", "x"}}, "a.png", "A"), session,
                           std::nullopt, kMultipartType);
  EXPECT_EQ(none.status(), 403);
  EXPECT_THAT(none.body(), HasSubstr("reload the page"));
  ExpectSecurityHeaders(none);
  EXPECT_EQ(Post("/upload", MultipartBody({{"csrf", std::string(43, 'A')}}, "a.png", "A"), session,
                 std::nullopt, kMultipartType)
                .status(),
            403);
  // The token in the query or a header is not the form's.
  EXPECT_EQ(Post("/upload?csrf=" + csrf, MultipartBody({}, "a.png", "A"), session, std::nullopt,
                 kMultipartType)
                .status(),
            403);
  EXPECT_EQ(Post("/upload", MultipartBody({{"csrf", csrf}}, "a.png", "A"), session,
                 "http://evil.example", kMultipartType)
                .status(),
            403);
  EXPECT_EQ(upload_calls_.load(), 0);
}

TEST_F(ConsoleServerTest, OnlyPagesThatOptInTakeMultipart) {
  ASSERT_NO_FATAL_FAILURE(StartConsole());
  const std::string session = SignIn();
  const std::string csrf = CsrfOf(session);
  const int calls = order_calls_.load();
  HttpResponse refused = Post("/orders", MultipartBody({{"csrf", csrf}, {"n", "x"}}, "a.png", "A"),
                              session, std::nullopt, kMultipartType);
  EXPECT_EQ(refused.status(), 415);
  EXPECT_THAT(refused.body(), HasSubstr("This page takes no file uploads"));
  ExpectSecurityHeaders(refused);
  EXPECT_EQ(order_calls_.load(), calls);
  // Nor does sign-in.
  EXPECT_EQ(Post("/sign-in", MultipartBody({{"email", kEmail}, {"password", kPassword}}, "a", ""),
                 "", std::nullopt, kMultipartType)
                .status(),
            415);
  // And an upload page takes neither JSON nor text.
  EXPECT_EQ(
      Post("/upload", "{\"csrf\":\"" + csrf + "\"}", session, std::nullopt, "application/json")
          .status(),
      415);
  EXPECT_EQ(Post("/upload", "csrf=" + csrf, session, std::nullopt, "text/plain").status(), 415);
  EXPECT_EQ(upload_calls_.load(), 0);
}

TEST_F(ConsoleServerTest, AnOversizedUploadGetsA413PageThatSaysTheLimit) {
  ASSERT_NO_FATAL_FAILURE(StartConsole());
  const std::string session = SignIn();
  const std::string csrf = CsrfOf(session);
  // Just within: taken.
  const std::string head = MultipartBody({{"csrf", csrf}}, "big.png", "");
  const std::string fits(kUploadLimit - head.size(), 'x');
  EXPECT_EQ(Post("/upload", MultipartBody({{"csrf", csrf}}, "big.png", fits), session, std::nullopt,
                 kMultipartType)
                .status(),
            303);
  ASSERT_EQ(last_files_.size(), 1u);
  EXPECT_EQ(last_files_[0].bytes.size(), fits.size());
  // One byte more: refused before it is parsed, with the limit in words.
  HttpResponse big = Post("/upload", MultipartBody({{"csrf", csrf}}, "big.png", fits + "x"),
                          session, std::nullopt, kMultipartType);
  EXPECT_EQ(big.status(), 413);
  EXPECT_THAT(big.body(), HasSubstr("more than the 64 KiB this page takes at once"));
  EXPECT_THAT(big.body(), HasSubstr("upload fewer or smaller files"));
  ExpectSecurityHeaders(big);
  EXPECT_EQ(upload_calls_.load(), 1);
  // The urlencoded limit of the page is the console's usual one.
  EXPECT_EQ(
      Post("/upload", "csrf=" + csrf + "&n=" + std::string(kMaxConsoleFormBytes, 'x'), session)
          .status(),
      413);
}

TEST_F(ConsoleServerTest, AMalformedUploadIsRefusedWithWhatWasWrong) {
  ASSERT_NO_FATAL_FAILURE(StartConsole());
  const std::string session = SignIn();
  const std::string csrf = CsrfOf(session);
  const std::string good = MultipartBody({{"csrf", csrf}}, "a.png", "AAAA");
  struct Case {
    std::string type, body, says;
  };
  for (const Case& c : std::vector<Case>{
           {kMultipartType, good.substr(0, good.size() - 10), "closing boundary is missing"},
           {"multipart/form-data", good, "names no boundary"},
           {"multipart/form-data; boundary=other", good, "as a browser sends it"},
           {kMultipartType, "garbage", "as a browser sends it"},
           {kMultipartType, "", "as a browser sends it"},
       }) {
    SCOPED_TRACE(c.type + " / " + c.body.substr(0, 40));
    HttpResponse r = Post("/upload", c.body, session, std::nullopt, c.type);
    EXPECT_EQ(r.status(), 400);
    EXPECT_THAT(r.body(), HasSubstr("The upload could not be taken"));
    EXPECT_THAT(r.body(), HasSubstr(c.says));
    ExpectSecurityHeaders(r);
  }
  EXPECT_EQ(upload_calls_.load(), 0);
}

TEST_F(ConsoleServerTest, AFramedDocumentIsSandboxedAndFramableByTheConsoleOnly) {
  ASSERT_NO_FATAL_FAILURE(StartConsole());
  const std::string session = SignIn();
  HttpResponse r = Get("/frame?origin=http%3A%2F%2F127.0.0.1%3A8081", session);
  EXPECT_EQ(r.status(), 200);
  EXPECT_EQ(r.body(), "<!DOCTYPE html><p>preview</p><script>alert(1)</script>");  // as is
  auto csp = r.FindHeader("Content-Security-Policy");
  ASSERT_TRUE(csp.has_value());
  EXPECT_THAT(std::string(*csp), StartsWith("sandbox; default-src 'none'; "));
  EXPECT_THAT(std::string(*csp), HasSubstr("frame-ancestors 'self'"));
  EXPECT_THAT(std::string(*csp), HasSubstr("img-src http://127.0.0.1:8081 data:"));
  EXPECT_THAT(std::string(*csp), HasSubstr("style-src http://127.0.0.1:8081 'unsafe-inline'"));
  EXPECT_THAT(std::string(*csp), Not(HasSubstr("script-src")));  // default-src 'none'
  EXPECT_THAT(std::string(*csp), Not(HasSubstr("allow-")));      // no sandbox exceptions
  EXPECT_THAT(r.FindHeader("X-Frame-Options"), Optional(Eq("SAMEORIGIN")));
  EXPECT_THAT(r.FindHeader("Referrer-Policy"), Optional(Eq("no-referrer")));
  EXPECT_THAT(r.FindHeader("X-Content-Type-Options"), Optional(Eq("nosniff")));
  EXPECT_THAT(r.FindHeader("Cache-Control"), Optional(Eq("no-store")));
  // An origin that would change the policy allows nothing.
  HttpResponse bad = Get("/frame?origin=http%3A%2F%2Fa.example%3B+script-src+*", session);
  auto bad_csp = bad.FindHeader("Content-Security-Policy");
  ASSERT_TRUE(bad_csp.has_value());
  EXPECT_THAT(std::string(*bad_csp), Not(HasSubstr("a.example")));
  EXPECT_THAT(std::string(*bad_csp), HasSubstr("img-src data:"));
  // Without a session it is no document but the sign-in redirect, with the console's headers.
  HttpResponse anonymous = Get("/frame");
  EXPECT_EQ(anonymous.status(), 303);
  ExpectSecurityHeaders(anonymous);
  // Every other page keeps frame-ancestors 'none'.
  ExpectSecurityHeaders(Get("/orders", session));
}

TEST_F(ConsoleServerTest, AFramedPreviewGetsItsBaseFirstInItsHead) {
  ASSERT_NO_FATAL_FAILURE(StartConsole());
  const std::string session = SignIn();
  const std::string base = "<base href=\"http://127.0.0.1:8081/\">\n";  // the template's line
  const std::vector<std::pair<std::string, std::string>> cases = {
      // After the head's start tag, whatever its case and attributes.
      {"<!DOCTYPE html><HTML><Head lang=\"en\"><title>t</title></Head><p>x",
       "<!DOCTYPE html><HTML><Head lang=\"en\">" + base + "<title>t</title></Head><p>x"},
      // <header> is not the head.
      {"<!doctype html><header>h</header><p>x",
       "<!doctype html>" + base + "<header>h</header><p>x"},
      // No doctype, no head: at the very start.
      {"<p>only a fragment</p>", base + "<p>only a fragment</p>"},
      {"", base},
  };
  for (const auto& [html, want] : cases) {
    HttpResponse r = Get("/based?html=" + commerce::PercentEncode(html), session);
    EXPECT_EQ(r.status(), 200);
    EXPECT_EQ(r.body(), want) << html;
  }
}

}  // namespace
}  // namespace tieup::console
