// Integration: users across two real `tieup` daemons. A visitor registers through the partner:
// the partner sends the browser to main's registration page (OpenID Connect, prompt=create),
// main mails a confirmation link (read here from main's outbox, SITE_DIR/mail/pending), the
// account lands in main's central store (registered via the partner) once the link is used, the
// customer comes back signed in, and the partner's ledger gets a registration record with main's
// user id and the area of the page the visitor came from. Signing in at the partner happens at
// main (the partner exchanges the code over the sync channel); a customer signed in at main is
// signed in at the partner without the password. Main down: 503, nothing recorded. Main's own
// account pages use the same store.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <chrono>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "base/env.h"
#include "daemon_harness.h"
#include "ledger/log.h"
#include "ledger/records.h"
#include "shop_customer.h"
#include "site/config.h"
#include "site/site_store.h"
#include "store/database.h"
#include "sync_harness.h"
#include "test_support.h"

namespace tieup::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPassword[] = "correct horse battery";

std::string Match(const std::string& text, const std::string& pattern) {
  std::smatch m;
  return std::regex_search(text, m, std::regex(pattern)) ? m[1].str() : std::string();
}

// A form POST as a browser on the site sends it (Origin and Referer of the site itself).
std::string PostForm(int port, const std::string& path, const std::string& body,
                     const std::string& referer_path = "/account/register",
                     const std::string& cookie = "") {
  const std::string host = "127.0.0.1:" + std::to_string(port);
  std::string req = "POST " + path + " HTTP/1.1\r\nHost: " + host +
                    (cookie.empty() ? "" : "\r\nCookie: " + cookie) +
                    "\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded"
                    "\r\nOrigin: http://" +
                    host + "\r\nReferer: http://" + host + referer_path +
                    "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  return RawExchange(port, req, 15000);
}

std::string Encode(const std::string& s) {
  return boost::urls::encode(s, boost::urls::unreserved_chars);
}

// What a browser keeps of the sign-on: its cookies at main and at the partner.
struct Browser {
  std::string main_cookie;                           // "tieup_main_session=..."
  std::string partner_cookie;                        // "tieup_session_shop-b=..."
  std::string last;                                  // the last response
  std::map<std::string, std::string> other_cookies;  // at the other partners, by site id
};

std::string PathAndQuery(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  return slash == std::string::npos ? "/" : url.substr(slash);
}

// The hidden fields of a page's forms, as "&name=value..." for a POST body.
std::string HiddenFields(const std::string& page) {
  std::string body;
  std::regex hidden("<input type=\"hidden\" name=\"([a-z_]+)\" value=\"([^\"]*)\">");
  for (std::sregex_iterator i(page.begin(), page.end(), hidden), end; i != end; ++i) {
    body += "&" + (*i)[1].str() + "=" +
            Encode(std::regex_replace((*i)[2].str(), std::regex("&amp;"), "&"));
  }
  return body;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

constexpr char kConfirmLink[] =
    "http://127\\.0\\.0\\.1:[0-9]+/account/register/confirm\\?token=[A-Za-z0-9_-]{43}";

class UsersIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    main_dir_ = dir_.Sub("main");
    shop_dir_ = dir_.Sub("shop-b");
    const int main_sync = FreePort(), main_public = FreePort();
    main_sync_port_ = main_sync;
    ASSERT_NE(main_sync, 0);
    ASSERT_NE(main_public, 0);
    // A fixed public port: it is in the issuer of main's ID tokens.
    Run({"main", "init", main_dir_, "--name", "Tea House", "--public",
         "127.0.0.1:" + std::to_string(main_public), "--sync",
         "127.0.0.1:" + std::to_string(main_sync)});
    const CommandResult moved = MoveMainToTestStore(main_dir_);
    ASSERT_EQ(moved.exit_code, 0) << moved.output;
    // Fast password hashing: the setting documented as for tests only.
    auto config = LoadSiteConfig(*env_, main_dir_);
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    config->variables["users.password_hashing"] = "min";
    ASSERT_TRUE(SaveSiteConfig(*env_, main_dir_, *config).ok());
    const std::string pages = main_dir_ + "/authoring/pages";
    ASSERT_TRUE(CreateDirs(*env_, pages).ok());
    ASSERT_TRUE(WriteFileAtomic(*env_, pages + "/welcome.html", "<h1>Tie-up welcome</h1>").ok());
    main_ = std::make_unique<Daemon>(std::vector<std::string>{"main", "serve", main_dir_});
    ASSERT_TRUE(main_->ok()) << main_->output();

    partner_ = StartPartner("shop-b", "Shop B", shop_dir_);
    ASSERT_TRUE(partner_ != nullptr);
  }

  // Enrolls and starts partner `id` (public URL http://ID.example/) in `dir` with a tie-up page
  // /welcome.html from main and an original page /local.html; null (the test failed) when it
  // does not come up.
  std::unique_ptr<Daemon> StartPartner(const std::string& id, const std::string& name,
                                       const std::string& dir) {
    const int partner_sync = FreePort();
    EXPECT_NE(partner_sync, 0);
    const std::string added = Run({"main", "partner", "add", main_dir_, "--id", id, "--name", name,
                                   "--public-url", "http://" + id + ".example/", "--sync-url",
                                   "https://127.0.0.1:" + std::to_string(partner_sync)});
    const std::string code = EnrollmentCodeOf(added);
    EXPECT_FALSE(code.empty()) << added;
    Run({"partner", "init", dir, "--id", id, "--name", name, "--public", "127.0.0.1:0", "--sync",
         "127.0.0.1:" + std::to_string(partner_sync), "--main",
         "https://127.0.0.1:" + std::to_string(main_sync_port_), "--token", code});
    const std::string original = dir_.Sub("original-" + id);
    EXPECT_TRUE(CreateDirs(*env_, original).ok());
    EXPECT_TRUE(WriteFileAtomic(*env_, original + "/local.html", "<h1>Our wagashi</h1>").ok());
    Run({"partner", "page", "put", dir, "/", original});
    auto partner = std::make_unique<Daemon>(std::vector<std::string>{"partner", "serve", dir});
    EXPECT_TRUE(partner->ok()) << partner->output();
    if (!partner->ok()) return nullptr;
    Run({"main", "publish", main_dir_, "--all"});
    // The tie-up release is active once its page is served.
    const bool served =
        WaitFor([&] { return StatusOf(HttpGet(partner->port(), "/welcome.html")) == 200; });
    EXPECT_TRUE(served) << partner->output();
    return served ? std::move(partner) : nullptr;
  }

  // The daemon of partner `site` ("shop-b": partner_; another: started by the test).
  Daemon& PartnerDaemon(const std::string& site) {
    return site == "shop-b" ? *partner_ : *others_.at(site);
  }
  static std::string NameOf(const std::string& site) {
    return site == "shop-b" ? "Shop B" : site == "shop-a" ? "Shop A" : site;
  }
  static std::string& CookieAt(Browser* b, const std::string& site) {
    return site == "shop-b" ? b->partner_cookie : b->other_cookies[site];
  }

  // Runs `tieup args...`, which must succeed; its output.
  std::string Run(const std::vector<std::string>& args) {
    CommandResult r = RunTieup(args);
    EXPECT_EQ(r.exit_code, 0) << "tieup " << args[0] << " " << args[1] << ":\n" << r.output;
    return r.output;
  }

  // A browser signing in at the partner, which sends it to main's sign-in page: `email` and
  // `password` are typed there unless `b`'s main session is still good. Returns the status of
  // the step that ended it: 303 (back at the partner, signed in: b->partner_cookie set), or the
  // status of main's sign-in page that refused the password (b->last holds it).
  int SignInAtPartner(Browser* b, const std::string& email, const std::string& password,
                      const std::string& site = "shop-b") {
    const int pp = PartnerDaemon(site).port();
    std::string r = HttpGet(pp, "/account/login", {"Referer: http://127.0.0.1/welcome.html"});
    b->last = r;
    if (StatusOf(r) != 303) return StatusOf(r);
    const std::string pending = Match(r, "Set-Cookie: (tieup_sso_pending=[^;]+);");
    EXPECT_FALSE(pending.empty()) << r;
    const std::string authorize = HeaderOf(r, "Location");
    EXPECT_THAT(authorize,
                ::testing::StartsWith("http://127.0.0.1:" + std::to_string(main_->port()) +
                                      "/oidc/authorize?"));
    std::vector<std::string> headers;
    if (!b->main_cookie.empty()) headers.push_back("Cookie: " + b->main_cookie);
    r = HttpGet(main_->port(), PathAndQuery(authorize), headers);
    b->last = r;
    if (StatusOf(r) == 200) {
      // Main's sign-in page: its hidden fields carry the request; the password is typed here.
      EXPECT_THAT(r, HasSubstr("continue to <strong>" + NameOf(site) + "</strong>"));
      std::string body =
          "email=" + Encode(email) + "&password=" + Encode(password) + HiddenFields(r);
      r = PostForm(main_->port(), "/oidc/authorize", body, "/oidc/authorize", b->main_cookie);
      b->last = r;
      if (StatusOf(r) != 303) return StatusOf(r);
      const std::string cookie = Match(r, "Set-Cookie: (tieup_main_session=[A-Za-z0-9_-]{43});");
      EXPECT_FALSE(cookie.empty()) << r;
      b->main_cookie = cookie;
    }
    if (StatusOf(r) != 303) return StatusOf(r);
    // Back to the partner's redirect URI (the partnership's public URL) with the code.
    const std::string callback = HeaderOf(r, "Location");
    EXPECT_THAT(callback,
                ::testing::StartsWith("http://" + site + ".example/account/callback?code="));
    r = HttpGet(pp, PathAndQuery(callback), {"Cookie: " + pending});
    b->last = r;
    if (StatusOf(r) != 303) return StatusOf(r);
    EXPECT_EQ(HeaderOf(r, "Location"), "/welcome.html");
    CookieAt(b, site) = Match(r, "Set-Cookie: (tieup_session_" + site + "=[A-Za-z0-9_-]{43});");
    EXPECT_FALSE(CookieAt(b, site).empty()) << r;
    return 303;
  }

  // The first link matching `link_regex` in a mail to `to` (ignoring case) in main's outbox that
  // this test has not read yet; "" when none comes. Quoted-printable soft breaks and "=3D" undone.
  std::string NewMailLink(const std::string& to, const std::string& link_regex) {
    std::string link;
    WaitFor([&] {
      auto files = env_->ListDir(main_dir_ + "/mail/pending");
      if (!files.ok()) return false;
      for (const auto& f : *files) {
        if (read_mails_.count(f.name) != 0) continue;
        auto text = env_->ReadFile(main_dir_ + "/mail/pending/" + f.name);
        if (!text.ok() || Lower(*text).find("<" + Lower(to) + ">") == std::string::npos) continue;
        read_mails_.insert(f.name);
        std::string mail = std::regex_replace(*text, std::regex("=\r\n"), "");
        mail = std::regex_replace(mail, std::regex("=3D"), "=");
        last_mail_ = mail;
        link = Match(mail, "(" + link_regex + ")");
        return true;
      }
      return false;
    });
    return link;
  }

  // Main's registration from the page at `form` (a path on main, with its continue parameter,
  // if any): the form typed, the link in the mail opened, the account confirmed. Returns the
  // confirmation's answer (303 to the continuation, or 200 "Welcome"; b->main_cookie set), or
  // the status of the step that failed (b->last holds it; 0: no mail).
  int RegisterAtMain(Browser* b, const std::string& form, const std::string& email,
                     const std::string& name, const std::string& password) {
    std::string r = HttpGet(main_->port(), form);
    b->last = r;
    if (StatusOf(r) != 200) return StatusOf(r);
    r = PostForm(main_->port(), "/account/register",
                 "email=" + Encode(email) + "&display_name=" + Encode(name) +
                     "&password=" + Encode(password) + HiddenFields(r));
    b->last = r;
    if (StatusOf(r) != 200) return StatusOf(r);
    EXPECT_THAT(r, HasSubstr("Check your mail"));
    const std::string link = NewMailLink(email, kConfirmLink);
    if (link.empty()) {
      b->last = "no confirmation link in: " + last_mail_;
      return 0;
    }
    r = HttpGet(main_->port(), PathAndQuery(link));
    b->last = r;
    if (StatusOf(r) != 200) return StatusOf(r);
    EXPECT_THAT(r, HasSubstr("Create my account"));
    r = PostForm(main_->port(), "/account/register/confirm", HiddenFields(r).substr(1),
                 "/account/register/confirm", b->main_cookie);
    b->last = r;
    const std::string cookie = Match(r, "Set-Cookie: (tieup_main_session=[A-Za-z0-9_-]{43});");
    if (!cookie.empty()) b->main_cookie = cookie;
    return StatusOf(r);
  }

  // A visitor of the partner's page `from` who follows its "Register" link: main's registration
  // (RegisterAtMain), then back at the partner, signed in. Returns 303 when back at the partner
  // (b->partner_cookie set), else the status of the step that failed (b->last holds it).
  int RegisterAtPartner(Browser* b, const std::string& email, const std::string& name,
                        const std::string& password, const std::string& from = "/welcome.html",
                        const std::string& site = "shop-b") {
    const int pp = PartnerDaemon(site).port();
    std::string r = HttpGet(pp, "/account/register", {"Referer: http://127.0.0.1" + from});
    b->last = r;
    if (StatusOf(r) != 303) return StatusOf(r);
    const std::string pending = Match(r, "Set-Cookie: (tieup_sso_pending=[^;]+);");
    EXPECT_FALSE(pending.empty()) << r;
    const std::string authorize = HeaderOf(r, "Location");
    EXPECT_THAT(authorize, HasSubstr("prompt=create"));
    r = HttpGet(main_->port(), PathAndQuery(authorize));
    b->last = r;
    if (StatusOf(r) != 303) return StatusOf(r);
    const std::string form = HeaderOf(r, "Location");
    EXPECT_THAT(form, ::testing::StartsWith("/account/register?continue="));
    const int made = RegisterAtMain(b, form, email, name, password);
    if (made != 303) return made == 200 ? 500 : made;  // 200: the continuation was lost
    // Main answers the partner at once: the customer is signed in there.
    r = HttpGet(main_->port(), HeaderOf(b->last, "Location"), {"Cookie: " + b->main_cookie});
    b->last = r;
    if (StatusOf(r) != 303) return StatusOf(r);
    const std::string callback = HeaderOf(r, "Location");
    EXPECT_THAT(callback,
                ::testing::StartsWith("http://" + site + ".example/account/callback?code="));
    r = HttpGet(pp, PathAndQuery(callback), {"Cookie: " + pending});
    b->last = r;
    if (StatusOf(r) != 303) return StatusOf(r);
    EXPECT_EQ(HeaderOf(r, "Location"), from);
    CookieAt(b, site) = Match(r, "Set-Cookie: (tieup_session_" + site + "=[A-Za-z0-9_-]{43});");
    EXPECT_FALSE(CookieAt(b, site).empty()) << r;
    return 303;
  }

  // The registration records in the partner's ledger (stops the partner to read it).
  std::vector<ledger::RegistrationRecord> PartnerRegistrations() {
    EXPECT_EQ(partner_->Stop(), 0);
    auto log = ledger::Log::Open(*env_, shop_dir_ + "/ledger", {.read_only = true, .tiles = {}});
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    std::vector<ledger::RegistrationRecord> out;
    if (!log.ok()) return out;
    for (uint64_t i = 0; i < (*log)->size(); ++i) {
      auto rec = ledger::ParseRecord(*(*log)->Read(i));
      EXPECT_TRUE(rec.ok()) << rec.status().ToString();
      if (!rec.ok()) continue;
      if (auto* r = std::get_if<ledger::RegistrationRecord>(&*rec)) out.push_back(*r);
    }
    return out;
  }

  std::unique_ptr<Env> env_ = NewPosixEnv();
  TempDir dir_;
  std::string main_dir_, shop_dir_;
  int main_sync_port_ = 0;
  std::unique_ptr<Daemon> main_, partner_;
  std::map<std::string, std::unique_ptr<Daemon>> others_;  // partners a test added
  std::set<std::string> read_mails_;
  std::string last_mail_;
};

TEST_F(UsersIntegrationTest, RegistrationThroughThePartnerIsConfirmedAtMainAndRecorded) {
  const int port = partner_->port();
  // From an original page of the partner (HttpGet sends Host: 127.0.0.1).
  Browser ada;
  ASSERT_EQ(RegisterAtPartner(&ada, "Ada@Example.ORG", "Ada Lovelace", kPassword, "/local.html"),
            303)
      << ada.last << main_->output() << partner_->output();
  std::string r = HttpGet(port, "/account/", {"Cookie: " + ada.partner_cookie});
  EXPECT_EQ(StatusOf(r), 200) << r;
  EXPECT_THAT(r, HasSubstr("Signed in as <strong>Ada Lovelace</strong>"));
  EXPECT_THAT(last_mail_, HasSubstr("Subject: Confirm your address"));
  EXPECT_THAT(last_mail_, HasSubstr("(through Shop B)"));
  // From a tie-up page.
  Browser bob;
  ASSERT_EQ(RegisterAtPartner(&bob, "bob@example.org", "Bob", "another good password"), 303)
      << bob.last;

  // The address of an account again: the same page ("check your mail"), a mail saying so, no
  // second account; a weak password: the form again, with what to fix.
  Browser other;
  EXPECT_EQ(RegisterAtPartner(&other, "ada@example.org", "Other Ada", "yet another password"), 0);
  EXPECT_THAT(other.last, HasSubstr("Subject: You already have an account at Tea House"));
  EXPECT_THAT(other.last, HasSubstr("Hello Ada Lovelace"));
  EXPECT_THAT(other.last, Not(HasSubstr("yet another password")));
  Browser eve;
  EXPECT_EQ(RegisterAtPartner(&eve, "eve@example.org", "Eve", "short"), 400);
  EXPECT_THAT(eve.last, HasSubstr("10 to 128 characters"));
  EXPECT_THAT(eve.last, HasSubstr("value=\"Eve\""));
  // The confirmation link is no secret in main's log.
  EXPECT_THAT(main_->output(), Not(HasSubstr("confirm?token=")));

  // Main's central store holds both, registered via shop-b, their addresses confirmed.
  std::string listed = Run({"main", "users", "ls", main_dir_, "--partner", "shop-b"});
  const std::string ada_id = Match(listed, "(usr_[a-z2-7]{16})[^\\n]*Ada@example\\.org");
  const std::string bob_id = Match(listed, "(usr_[a-z2-7]{16})[^\\n]*bob@example\\.org");
  ASSERT_FALSE(ada_id.empty()) << listed;
  ASSERT_FALSE(bob_id.empty()) << listed;
  EXPECT_THAT(listed, HasSubstr("2 of 2 user(s)"));
  EXPECT_THAT(listed, Not(HasSubstr("eve@")));
  std::string shown = Run({"main", "users", "show", main_dir_, ada_id});
  EXPECT_THAT(shown, HasSubstr("Ada@example.org"));
  EXPECT_THAT(shown, HasSubstr("Ada Lovelace"));
  EXPECT_THAT(shown, HasSubstr("Registered via:  shop-b"));
  EXPECT_THAT(shown, Not(HasSubstr("argon2")));

  // Signing in at the partner happens at main; a later sign-in records nothing more.
  Browser browser;
  ASSERT_EQ(SignInAtPartner(&browser, "ADA@example.org", kPassword), 303)
      << browser.last << main_->output() << partner_->output();
  Browser wrong;
  EXPECT_EQ(SignInAtPartner(&wrong, "ada@example.org", "correct horse batteryX"), 401);
  EXPECT_THAT(wrong.last, HasSubstr("Wrong email address or password."));
  Browser unknown;
  EXPECT_EQ(SignInAtPartner(&unknown, "nobody@example.org", kPassword), 401);
  // The same page but for the address typed (and the request's own state and nonce).
  std::regex per_request("value=\"[A-Za-z0-9_-]{43}\"|continue=[^\"]*\"");
  std::string a = std::regex_replace(BodyOf(wrong.last), per_request, "");
  std::string b = std::regex_replace(BodyOf(unknown.last), per_request, "");
  EXPECT_EQ(b, a.replace(a.find("ada@example.org"), 15, "nobody@example.org"));

  // The partner's ledger has one registration record per account, with main's ids and the area
  // of the page the visitor came from.
  auto records = PartnerRegistrations();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].user_id, ada_id);
  EXPECT_EQ(records[0].partner, "shop-b");
  EXPECT_EQ(records[0].area, ledger::RecordArea::kOriginal);
  EXPECT_EQ(records[1].user_id, bob_id);
  EXPECT_EQ(records[1].area, ledger::RecordArea::kTieup);
  EXPECT_GT(records[1].time_micros, 0);
}

// `tieup main users disable|enable` (the call main's console makes): a disabled account is refused
// at the partner as a wrong login would be, and signs in again once enabled.
TEST_F(UsersIntegrationTest, ADisabledAccountCannotSignInAtThePartner) {
  const int port = partner_->port();
  Browser browser;
  ASSERT_EQ(RegisterAtPartner(&browser, "kenji@example.org", "Kenji", "green tea every morning"),
            303)
      << browser.last;

  ASSERT_EQ(StatusOf(HttpGet(port, "/account/", {"Cookie: " + browser.partner_cookie})), 200);
  EXPECT_THAT(Run({"main", "users", "disable", main_dir_, "Kenji@Example.org"}),
              HasSubstr("Disabled kenji@example.org"));
  // Signed out at the partner too: the command left a notice, the running daemon delivers it.
  EXPECT_TRUE(WaitFor([&] {
    return StatusOf(HttpGet(port, "/account/", {"Cookie: " + browser.partner_cookie})) == 303;
  })) << main_->output();
  EXPECT_THAT(Run({"main", "users", "ls", main_dir_}),
              ::testing::ContainsRegex("kenji@example\\.org \\(Kenji\\) DISABLED"));
  // Main's session ended with the account: the sign-in page asks again, and refuses.
  EXPECT_EQ(SignInAtPartner(&browser, "kenji@example.org", "green tea every morning"), 401);
  EXPECT_THAT(browser.last, HasSubstr("Wrong email address or password."));

  const std::string listed = Run({"main", "users", "ls", main_dir_});
  const std::string id = Match(listed, "(usr_[a-z2-7]{16})[^\\n]*kenji@example\\.org");
  ASSERT_FALSE(id.empty()) << listed;
  EXPECT_THAT(Run({"main", "users", "show", main_dir_, id}),
              HasSubstr("State:           disabled"));
  EXPECT_THAT(Run({"main", "users", "enable", main_dir_, id}), HasSubstr("Enabled"));
  EXPECT_EQ(SignInAtPartner(&browser, "kenji@example.org", "green tea every morning"), 303);
  EXPECT_THAT(Run({"main", "users", "show", main_dir_, id}), HasSubstr("State:           active"));

  CommandResult unknown = RunTieup({"main", "users", "disable", main_dir_, "nobody@example.org"});
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_THAT(unknown.output, HasSubstr("no account with the email address"));
}

// `tieup main users delete`: erasure on the customer's request, beside the running daemon.
TEST_F(UsersIntegrationTest, AManagerSendsAResetMailAndExportsAnAccountOnRequest) {
  Browser ines;
  ASSERT_EQ(RegisterAtPartner(&ines, "ines@example.org", "Ines", "a long enough secret"), 303)
      << ines.last;
  // The mail of "Forgot your password?": its link sets a new password.
  EXPECT_THAT(Run({"main", "users", "reset", main_dir_, "Ines@Example.org"}),
              HasSubstr("Queued a mail to ines@example.org"));
  const std::string link =
      NewMailLink("ines@example.org",
                  "http://127\\.0\\.0\\.1:[0-9]+/account/reset/confirm\\?token=[A-Za-z0-9_-]{43}");
  ASSERT_FALSE(link.empty()) << last_mail_;
  std::string r = HttpGet(main_->port(), PathAndQuery(link));
  ASSERT_EQ(StatusOf(r), 200) << r;
  r = PostForm(
      main_->port(), "/account/reset/confirm",
      "token=" + link.substr(link.find("token=") + 6) + "&password=" + Encode("a new long secret"),
      "/account/reset");
  ASSERT_EQ(StatusOf(r), 200) << r;
  Browser again;
  EXPECT_EQ(SignInAtPartner(&again, "ines@example.org", "a new long secret"), 303) << again.last;
  // Three links an hour at most, then it says why.
  Run({"main", "users", "reset", main_dir_, "ines@example.org"});
  Run({"main", "users", "reset", main_dir_, "ines@example.org"});
  CommandResult refused = RunTieup({"main", "users", "reset", main_dir_, "ines@example.org"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.output, HasSubstr("3 links in the last hour"));

  // The download of the account's data, for its owner: printed, or to an owner-only file.
  const std::string printed = Run({"main", "users", "export", main_dir_, "ines@example.org"});
  EXPECT_THAT(printed, HasSubstr("\"email\":\"ines@example.org\""));
  EXPECT_THAT(printed, HasSubstr("\"signed_in_through_main\":[{\"site\":\"shop-b\""));
  EXPECT_THAT(printed, Not(HasSubstr("argon2")));
  const std::string file = dir_.Sub("ines.json");
  EXPECT_THAT(Run({"main", "users", "export", main_dir_, "ines@example.org", "--out", file}),
              HasSubstr("owner-only"));
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_THAT(*env_->ReadFile(file), HasSubstr("\"email\":\"ines@example.org\""));
  EXPECT_NE(RunTieup({"main", "users", "export", main_dir_, "nobody@example.org"}).exit_code, 0);
}

TEST_F(UsersIntegrationTest, AManagerDeletesAnAccountOnRequest) {
  Browser ines;
  ASSERT_EQ(RegisterAtPartner(&ines, "ines@example.org", "Ines", "a long enough secret"), 303)
      << ines.last;
  CommandResult dry = RunTieup({"main", "users", "delete", main_dir_, "ines@example.org"});
  EXPECT_NE(dry.exit_code, 0);
  EXPECT_THAT(dry.output, HasSubstr("cannot be undone"));
  EXPECT_THAT(dry.output, HasSubstr("Add --yes"));
  EXPECT_THAT(Run({"main", "users", "ls", main_dir_}), HasSubstr("ines@example.org"));
  EXPECT_THAT(Run({"main", "users", "delete", main_dir_, "Ines@Example.org", "--yes"}),
              HasSubstr("Deleted ines@example.org"));
  EXPECT_THAT(Run({"main", "users", "ls", main_dir_}), Not(HasSubstr("ines@example.org")));
  // Signed out at the partner too, once the daemon delivers the notice.
  EXPECT_TRUE(WaitFor([&] {
    return StatusOf(HttpGet(partner_->port(), "/account/", {"Cookie: " + ines.partner_cookie})) ==
           303;
  })) << main_->output();
  Browser again;
  EXPECT_EQ(SignInAtPartner(&again, "ines@example.org", "a long enough secret"), 401);
  CommandResult unknown = RunTieup({"main", "users", "delete", main_dir_, "nobody@example.org"});
  EXPECT_NE(unknown.exit_code, 0);
}

// Everything in the partner's database files, as bytes.
std::string DatabaseBytes(Env& env, const std::string& site_dir) {
  std::string all;
  for (const char* file : {"/tieup.db", "/tieup.db-wal"}) {
    auto bytes = env.ReadFile(site_dir + file);
    if (bytes.ok()) all += *bytes;
  }
  return all;
}

TEST_F(UsersIntegrationTest, PartnerCopiesFollowTheContractAndTheErasure) {
  Browser hiro;
  ASSERT_EQ(RegisterAtPartner(&hiro, "hiro@example.org", "Hiro", kPassword), 303) << hiro.last;
  std::string r = HttpGet(main_->port(), "/account/", {"Cookie: " + hiro.main_cookie});
  const std::string csrf = Match(r, "name=\"csrf\" value=\"([A-Za-z0-9_-]{43})\"");
  ASSERT_FALSE(csrf.empty()) << r;
  r = PostForm(main_->port(), "/account/address",
               "csrf=" + csrf +
                   "&address_name=Hiro+Tanaka&line1=1-2+Gion&line2=&postal_code=605-0001&city="
                   "Kyoto&country=Japan&phone=",
               "/account/", hiro.main_cookie);
  ASSERT_EQ(StatusOf(r), 303) << r;
  // Without a contract, nothing leaves main.
  EXPECT_THAT(Run({"partner", "customers", shop_dir_}),
              HasSubstr("Main has sent no customer data"));

  // The name only: the partner gets it, and no other field of the account reaches it.
  EXPECT_THAT(Run({"main", "partner", "set", main_dir_, "shop-b", "--customer-copy", "name"}),
              HasSubstr("customer copy: (none) -> name of customers who registered there"));
  std::string listed;
  ASSERT_TRUE(WaitFor([&] {
    listed = Run({"partner", "customers", shop_dir_});
    return listed.find("Hiro") != std::string::npos;
  })) << listed
      << main_->output();
  EXPECT_THAT(listed, HasSubstr("Your partnership lets you keep: name"));
  EXPECT_THAT(listed, Not(HasSubstr("hiro@example.org")));
  const std::string bytes = DatabaseBytes(*env_, shop_dir_);
  for (const char* secret : {"Kyoto", "605-0001", "Tanaka", "1-2 Gion", "hiro@example.org"}) {
    EXPECT_EQ(bytes.find(secret), std::string::npos) << secret;
  }
  EXPECT_TRUE(WaitFor([&] {  // main records it once the partner answered
    return Run({"main", "partner", "ls", main_dir_})
               .find("shop-b         name of customers who registered there: 1 delivered") !=
           std::string::npos;
  })) << Run({"main", "partner", "ls", main_dir_});
  // The partner's checkout has only the name to start with.
  Run({"partner", "product", "add", shop_dir_, "--sku", "LOC-1", "--title", "Local honey",
       "--price", "9.00", "--stock", "7"});
  ShopCustomer cart(partner_->port());
  ASSERT_EQ(cart.Add("LOC-1", 1, "/local.html"), 303);
  r = HttpGet(partner_->port(), "/shop/checkout",
              {"Cookie: " + cart.CookieHeader() + "; " + hiro.partner_cookie});
  EXPECT_THAT(r, HasSubstr("autocomplete=\"name\" value=\"Hiro\""));
  EXPECT_THAT(r, HasSubstr("autocomplete=\"address-level2\" value=\"\""));

  // A wider contract: the address and e-mail follow, and the checkout starts with them.
  Run({"main", "partner", "set", main_dir_, "shop-b", "--customer-copy", "name,email,address"});
  ASSERT_TRUE(WaitFor([&] {
    listed = Run({"partner", "customers", shop_dir_});
    return listed.find("Kyoto") != std::string::npos;
  })) << listed
      << main_->output();
  EXPECT_THAT(listed, HasSubstr("Hiro  <hiro@example.org>  Hiro Tanaka, 1-2 Gion, 605-0001 Kyoto, "
                                "Japan"));
  r = HttpGet(partner_->port(), "/shop/checkout",
              {"Cookie: " + cart.CookieHeader() + "; " + hiro.partner_cookie});
  EXPECT_THAT(r, HasSubstr("autocomplete=\"name\" value=\"Hiro Tanaka\""));
  EXPECT_THAT(r, HasSubstr("autocomplete=\"address-level2\" value=\"Kyoto\""));
  EXPECT_THAT(r, HasSubstr("autocomplete=\"email\" value=\"hiro@example.org\""));
  // A visitor's checkout at the partner starts empty.
  r = HttpGet(partner_->port(), "/shop/checkout", {"Cookie: " + cart.CookieHeader()});
  EXPECT_THAT(r, HasSubstr("autocomplete=\"address-level2\" value=\"\""));

  // A change at main follows.
  const std::string csrf2 =
      Match(HttpGet(main_->port(), "/account/", {"Cookie: " + hiro.main_cookie}),
            "name=\"csrf\" value=\"([A-Za-z0-9_-]{43})\"");
  r = PostForm(main_->port(), "/account/profile", "csrf=" + csrf2 + "&display_name=Hiro+T.",
               "/account/", hiro.main_cookie);
  ASSERT_EQ(StatusOf(r), 303) << r;
  hiro.main_cookie = Match(r, "Set-Cookie: (tieup_main_session=[A-Za-z0-9_-]{43});");
  ASSERT_TRUE(WaitFor([&] {
    listed = Run({"partner", "customers", shop_dir_});
    return listed.find("Hiro T.") != std::string::npos;
  })) << listed
      << main_->output();

  // The data download names the copy and its fields.
  r = HttpGet(main_->port(), "/account/export", {"Cookie: " + hiro.main_cookie});
  EXPECT_THAT(BodyOf(r), HasSubstr("\"copies_kept_by_partners\":[{\"site\":\"shop-b\","
                                   "\"fields\":[\"address\",\"email\",\"name\"]}]"));

  // An order at the partner, from its own stock, with the customer's address.
  const std::string form = std::regex_replace(
      cart.CheckoutForm(), std::regex("&name=.*&payment="),
      "&name=Hiro+Tanaka&address_line1=1-2+Gion&address_line2=&postal_code=605-0001&city=Kyoto"
      "&country=Japan&email=Hiro%40Example.org&phone=&payment=");
  r = cart.Submit(form);
  ASSERT_EQ(StatusOf(r), 200) << r;
  const std::string order = FirstMatch(r, "(SHOPB-\\d{6})");
  ASSERT_FALSE(order.empty());
  EXPECT_THAT(Run({"partner", "order", "show", shop_dir_, order}), HasSubstr("Kyoto"));
  // The partner's account page lists it, with its status page (found by the address's hash).
  r = HttpGet(partner_->port(), "/account/", {"Cookie: " + hiro.partner_cookie});
  EXPECT_THAT(r, HasSubstr("Your orders at this shop"));
  EXPECT_THAT(r, ::testing::ContainsRegex("<a href=\"/shop/orders/" + order + "\\?key=[^\"]+\">" +
                                          order + "</a>"));

  // The customer deletes the account at main: the partner's copy goes, and its own order keeps
  // its lines but loses the person.
  const std::string csrf3 =
      Match(HttpGet(main_->port(), "/account/", {"Cookie: " + hiro.main_cookie}),
            "name=\"csrf\" value=\"([A-Za-z0-9_-]{43})\"");
  r = PostForm(main_->port(), "/account/delete",
               "csrf=" + csrf3 + "&confirm=yes&current_password=" + Encode(kPassword), "/account/",
               hiro.main_cookie);
  ASSERT_EQ(StatusOf(r), 200) << r;
  ASSERT_TRUE(WaitFor([&] {
    listed = Run({"partner", "customers", shop_dir_});
    return listed.find("No customers yet") != std::string::npos;
  })) << listed
      << main_->output();
  const std::string shown = Run({"partner", "order", "show", shop_dir_, order});
  EXPECT_THAT(shown, HasSubstr("Local honey"));
  EXPECT_THAT(shown, Not(HasSubstr("Kyoto")));
  EXPECT_THAT(shown, Not(HasSubstr("Tanaka")));
  // (Main records the delivery once the partner answered; the output is read by another thread.)
  EXPECT_TRUE(WaitFor([&] {
    return partner_->output().find(
               "1 erased (1 of this site's orders lost their personal fields)") !=
           std::string::npos;
  })) << partner_->output();
  EXPECT_TRUE(WaitFor([&] {
    return Run({"main", "partner", "ls", main_dir_}).find("0 delivered, 0 erasure(s) waiting") !=
           std::string::npos;
  })) << Run({"main", "partner", "ls", main_dir_});

  // None of it: what the partner holds is dropped.
  Browser mei;
  ASSERT_EQ(RegisterAtPartner(&mei, "mei@example.org", "Mei", kPassword), 303) << mei.last;
  ASSERT_TRUE(WaitFor([&] {
    return Run({"partner", "customers", shop_dir_}).find("Mei") != std::string::npos;
  })) << main_->output();
  Run({"main", "partner", "set", main_dir_, "shop-b", "--customer-copy", "none"});
  ASSERT_TRUE(WaitFor([&] {
    listed = Run({"partner", "customers", shop_dir_});
    return listed.find("Your partnership lets you keep: nothing") != std::string::npos &&
           listed.find("No customers yet") != std::string::npos;
  })) << listed
      << main_->output();
}

// The whole network, as issue 16 asks: main and two partners. Registered at shop-a, the
// customer is signed in at shop-b and at main without typing the password again; main's account
// page lists the orders at main and at both partners (which processed theirs themselves), and
// names a partner that does not answer; the data download has them; a password reset by mail
// signs the customer out at both partners; deleting the account reaches main and both partners.
TEST_F(UsersIntegrationTest, OneAccountAcrossMainAndTwoPartners) {
  const std::string a_dir = dir_.Sub("shop-a");
  others_["shop-a"] = StartPartner("shop-a", "Shop A", a_dir);
  ASSERT_TRUE(others_["shop-a"] != nullptr);
  Daemon& shop_a = *others_["shop-a"];
  // Shop A keeps the name and e-mail address of those who registered there.
  Run({"main", "partner", "set", main_dir_, "shop-a", "--customer-copy", "name,email"});
  Run({"partner", "product", "add", a_dir, "--sku", "A-1", "--title", "Yuzu jam", "--price", "7.00",
       "--stock", "5"});
  Run({"partner", "product", "add", shop_dir_, "--sku", "B-1", "--title", "Local honey", "--price",
       "9.00", "--stock", "5"});
  Run({"main", "product", "add", main_dir_, "--sku", "TEA-1", "--title", "Sencha", "--price",
       "12.50", "--stock", "10"});

  Browser yuki;
  ASSERT_EQ(
      RegisterAtPartner(&yuki, "yuki@example.org", "Yuki", kPassword, "/welcome.html", "shop-a"),
      303)
      << yuki.last;
  // Known at shop-b and at main without the password (an empty one would be refused).
  ASSERT_EQ(SignInAtPartner(&yuki, "", "", "shop-b"), 303) << yuki.last;
  EXPECT_THAT(HttpGet(main_->port(), "/account/", {"Cookie: " + yuki.main_cookie}),
              HasSubstr("Signed in as <strong>Yuki</strong>"));
  for (const std::string site : {"shop-a", "shop-b"}) {
    EXPECT_THAT(
        HttpGet(PartnerDaemon(site).port(), "/account/", {"Cookie: " + CookieAt(&yuki, site)}),
        HasSubstr("Signed in as <strong>Yuki</strong>"))
        << site;
  }
  std::string listed;
  ASSERT_TRUE(WaitFor([&] {
    listed = Run({"partner", "customers", a_dir});
    return listed.find("Yuki  <yuki@example.org>") != std::string::npos;
  })) << listed
      << main_->output();

  // An order at each partner (processed there) and one at main, with the account's address.
  auto order_at = [&](int port, const std::string& sku, const std::string& page,
                      const std::string& number_regex) {
    ShopCustomer buyer(port);
    EXPECT_EQ(buyer.Add(sku, 1, page), 303);
    const std::string r = buyer.Submit(std::regex_replace(
        buyer.CheckoutForm(), std::regex("ada%40example.org"), "Yuki%40Example.org"));
    EXPECT_EQ(StatusOf(r), 200) << r;
    return FirstMatch(r, number_regex);
  };
  const std::string at_a = order_at(shop_a.port(), "A-1", "/local.html", "(SHOPA-\\d{6})");
  const std::string at_b = order_at(partner_->port(), "B-1", "/local.html", "(SHOPB-\\d{6})");
  const std::string at_main = order_at(main_->port(), "TEA-1", "/", "(M-\\d{6})");
  ASSERT_FALSE(at_a.empty());
  ASSERT_FALSE(at_b.empty());
  ASSERT_FALSE(at_main.empty());
  // (Main's confirmation mail, read here so that the reset mail below is the next one.)
  EXPECT_EQ(NewMailLink("yuki@example.org", "Your order M-[0-9]+"), "Your order " + at_main);

  // Main's account page lists all three, newest first, each linked to its status page.
  std::string r = HttpGet(main_->port(), "/account/", {"Cookie: " + yuki.main_cookie});
  EXPECT_THAT(r, ::testing::ContainsRegex("<a href=\"http://shop-a.example/shop/orders/" + at_a +
                                          "\\?key=[^\"]+\">" + at_a +
                                          "</a> <span class=\"small\">\\(at Shop A\\)</span>"));
  EXPECT_THAT(r, ::testing::ContainsRegex("<a href=\"http://shop-b.example/shop/orders/" + at_b +
                                          "\\?key=[^\"]+\">" + at_b +
                                          "</a> <span class=\"small\">\\(at Shop B\\)</span>"));
  EXPECT_THAT(r, ::testing::ContainsRegex("<a href=\"/shop/orders/" + at_main + "\\?key=[^\"]+\">" +
                                          at_main + "</a></td>"));
  EXPECT_LT(r.find(at_main), r.find(at_b));
  EXPECT_LT(r.find(at_b), r.find(at_a));
  EXPECT_THAT(r, Not(HasSubstr("cannot be shown")));
  // Each partner's own page lists its own order only.
  r = HttpGet(shop_a.port(), "/account/", {"Cookie: " + CookieAt(&yuki, "shop-a")});
  EXPECT_THAT(r, HasSubstr(at_a + "</a>"));
  EXPECT_THAT(r, Not(HasSubstr(at_b)));

  // The data download has them too.
  r = HttpGet(main_->port(), "/account/export", {"Cookie: " + yuki.main_cookie});
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_THAT(BodyOf(r), HasSubstr("\"orders_at_partners\":[{\"site\":\"Shop B\",\"number\":\"" +
                                   at_b + "\""));
  EXPECT_THAT(BodyOf(r), HasSubstr("{\"site\":\"Shop A\",\"number\":\"" + at_a + "\""));
  EXPECT_THAT(BodyOf(r), HasSubstr("\"orders_at_main\":[{\"number\":\"" + at_main + "\""));
  EXPECT_THAT(BodyOf(r), Not(HasSubstr("orders_not_included_from")));

  // A partner that does not answer is named; the others' orders are still listed.
  ASSERT_EQ(partner_->Stop(), 0);
  r = HttpGet(main_->port(), "/account/", {"Cookie: " + yuki.main_cookie});
  EXPECT_THAT(r, HasSubstr(at_a + "</a>"));
  EXPECT_THAT(r, HasSubstr(at_main + "</a>"));
  EXPECT_THAT(r, Not(HasSubstr(at_b)));
  EXPECT_THAT(r, HasSubstr("Your orders at Shop B cannot be shown right now"));
  r = HttpGet(main_->port(), "/account/export", {"Cookie: " + yuki.main_cookie});
  EXPECT_THAT(BodyOf(r), HasSubstr("\"orders_not_included_from\":[\"Shop B\"]"));
  partner_ = std::make_unique<Daemon>(std::vector<std::string>{"partner", "serve", shop_dir_});
  ASSERT_TRUE(partner_->ok()) << partner_->output();
  ASSERT_TRUE(WaitFor([&] {
    return HttpGet(main_->port(), "/account/", {"Cookie: " + yuki.main_cookie}).find(at_b) !=
           std::string::npos;
  })) << partner_->output();

  // A new password by mail: signed out at both partners.
  r = PostForm(main_->port(), "/account/reset", "email=yuki%40example.org", "/account/reset");
  ASSERT_EQ(StatusOf(r), 200) << r;
  const std::string link =
      NewMailLink("yuki@example.org",
                  "http://127\\.0\\.0\\.1:[0-9]+/account/reset/confirm\\?token=[A-Za-z0-9_-]{43}");
  ASSERT_FALSE(link.empty()) << last_mail_;
  r = PostForm(main_->port(), "/account/reset/confirm",
               "token=" + link.substr(link.find("token=") + 6) +
                   "&password=" + Encode("a new password for yuki"),
               "/account/reset");
  ASSERT_EQ(StatusOf(r), 200) << r;
  for (const std::string site : {"shop-a", "shop-b"}) {
    EXPECT_TRUE(WaitFor([&] {
      return StatusOf(HttpGet(PartnerDaemon(site).port(), "/account/",
                              {"Cookie: " + CookieAt(&yuki, site)})) == 303;
    })) << site
        << main_->output();
  }
  Browser again;
  ASSERT_EQ(SignInAtPartner(&again, "yuki@example.org", "a new password for yuki", "shop-a"), 303)
      << again.last;

  // Deleting the account: gone at main, its copy gone at shop-a, the three orders keep their
  // lines but lose the person.
  const std::string csrf =
      Match(HttpGet(main_->port(), "/account/", {"Cookie: " + again.main_cookie}),
            "name=\"csrf\" value=\"([A-Za-z0-9_-]{43})\"");
  r = PostForm(
      main_->port(), "/account/delete",
      "csrf=" + csrf + "&confirm=yes&current_password=" + Encode("a new password for yuki"),
      "/account/", again.main_cookie);
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_THAT(Run({"main", "users", "ls", main_dir_}), Not(HasSubstr("yuki@example.org")));
  EXPECT_THAT(Run({"main", "order", "show", main_dir_, at_main}), Not(HasSubstr("Berlin")));
  for (const auto& [dir, number] : {std::pair{a_dir, at_a}, std::pair{shop_dir_, at_b}}) {
    std::string shown;
    EXPECT_TRUE(WaitFor([&] {
      shown = Run({"partner", "order", "show", dir, number});
      return shown.find("Berlin") == std::string::npos;
    })) << shown
        << main_->output();
    EXPECT_THAT(shown, Not(HasSubstr("Ada Lovelace")));
    EXPECT_THAT(shown, Not(HasSubstr("yuki@example.org")));
    EXPECT_THAT(shown, ::testing::AnyOf(HasSubstr("Yuzu jam"), HasSubstr("Local honey")));
  }
  EXPECT_TRUE(WaitFor([&] {
    return Run({"partner", "customers", a_dir}).find("No customers yet") != std::string::npos;
  })) << main_->output();
}

// The user ids of the access records in the ledger at `shop_dir` for `path`, oldest first (the
// partner is stopped first).
std::vector<std::string> VisitorsOf(Env& env, const std::string& shop_dir,
                                    const std::string& path) {
  auto log = ledger::Log::Open(env, shop_dir + "/ledger", {.read_only = true, .tiles = {}});
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  std::vector<std::string> out;
  if (!log.ok()) return out;
  for (uint64_t i = 0; i < (*log)->size(); ++i) {
    auto rec = ledger::ParseRecord(*(*log)->Read(i));
    if (!rec.ok()) continue;
    if (auto* a = std::get_if<ledger::AccessRecord>(&*rec); a != nullptr && a->path == path) {
      out.push_back(a->user_id);
    }
  }
  return out;
}

TEST_F(UsersIntegrationTest, VisitsAreRecordedUnderTheAccountOnlyWithConsentAndReachMain) {
  Browser hiro;
  ASSERT_EQ(RegisterAtPartner(&hiro, "hiro@example.org", "Hiro", kPassword), 303) << hiro.last;
  const std::string cookie = "Cookie: " + hiro.partner_cookie + "; tieup_cart_count=0";
  // The partnership's default asks for consent, and Hiro gave none: anonymous.
  ASSERT_EQ(StatusOf(HttpGet(partner_->port(), "/welcome.html?1", {cookie})), 200);
  // Hiro agrees on main's account page; the next sign-in at the partner carries it.
  std::string r = HttpGet(main_->port(), "/account/", {"Cookie: " + hiro.main_cookie});
  const std::string csrf = Match(r, "name=\"csrf\" value=\"([A-Za-z0-9_-]{43})\"");
  r = PostForm(main_->port(), "/account/visits", "csrf=" + csrf + "&visits=yes", "/account/",
               hiro.main_cookie);
  ASSERT_EQ(StatusOf(r), 303) << r;
  ASSERT_EQ(SignInAtPartner(&hiro, "", ""), 303) << hiro.last;
  const std::string named = "Cookie: " + hiro.partner_cookie;
  ASSERT_EQ(StatusOf(HttpGet(partner_->port(), "/welcome.html", {named})), 200);
  ASSERT_EQ(StatusOf(HttpGet(partner_->port(), "/local.html", {named})), 200);
  // Withdrawn: the partner's session ends at once (main tells it), so nothing more is named.
  r = PostForm(main_->port(), "/account/visits", "csrf=" + csrf, "/account/", hiro.main_cookie);
  ASSERT_EQ(StatusOf(r), 303) << r;
  EXPECT_THAT(HttpGet(main_->port(), "/account/?saved=visits", {"Cookie: " + hiro.main_cookie}),
              HasSubstr("no longer record your visits"));
  EXPECT_TRUE(WaitFor([&] {
    return StatusOf(HttpGet(partner_->port(), "/account/", {named})) == 303;
  })) << main_->output();
  ASSERT_EQ(SignInAtPartner(&hiro, "", ""), 303) << hiro.last;
  ASSERT_EQ(StatusOf(HttpGet(partner_->port(), "/local.html", {"Cookie: " + hiro.partner_cookie})),
            200);

  const std::string id = Match(Run({"main", "users", "ls", main_dir_}), "(usr_[a-z2-7]{16})");
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(partner_->Stop(), 0);
  // The set-up's anonymous loads of the page first; then Hiro's before and after the consent.
  const std::vector<std::string> welcome = VisitorsOf(*env_, shop_dir_, "/welcome.html");
  ASSERT_GE(welcome.size(), 2u);
  EXPECT_EQ(welcome[welcome.size() - 2], "");
  EXPECT_EQ(welcome.back(), id);
  // Named while the consent held; not after it was withdrawn.
  EXPECT_THAT(VisitorsOf(*env_, shop_dir_, "/local.html"), ::testing::ElementsAre(id, ""));
  // Main learns them with the partner's ledger: the customer's history across the network.
  Run({"partner", "ledger", "push", shop_dir_});
  const std::string history = Run({"main", "users", "history", main_dir_, "hiro@example.org"});
  EXPECT_THAT(history, ::testing::ContainsRegex("shop-b +tieup +200 +GET /welcome.html"));
  EXPECT_THAT(history, ::testing::ContainsRegex("shop-b +original +200 +GET /local.html"));
  EXPECT_THAT(history, Not(HasSubstr("mei")));

  // "always" in the contract names every signed-in customer, consent or not.
  EXPECT_THAT(Run({"main", "partner", "set", main_dir_, "shop-b", "--user-logs", "always"}),
              HasSubstr("user logs: consent -> always"));
  partner_ = std::make_unique<Daemon>(std::vector<std::string>{"partner", "serve", shop_dir_});
  ASSERT_TRUE(partner_->ok()) << partner_->output();
  Browser mei;
  ASSERT_EQ(RegisterAtPartner(&mei, "mei@example.org", "Mei", kPassword), 303) << mei.last;
  ASSERT_EQ(
      StatusOf(HttpGet(partner_->port(), "/welcome.html?m", {"Cookie: " + mei.partner_cookie})),
      200);
  ASSERT_EQ(partner_->Stop(), 0);
  const std::vector<std::string> later = VisitorsOf(*env_, shop_dir_, "/welcome.html");
  ASSERT_FALSE(later.empty());
  EXPECT_THAT(later.back(), ::testing::StartsWith("usr_"));
  EXPECT_NE(later.back(), id);

  // Erased: main forgets the history.
  Run({"main", "users", "delete", main_dir_, "hiro@example.org", "--yes"});
  EXPECT_THAT(RunTieup({"main", "users", "history", main_dir_, id}).output, HasSubstr("no user"));
  auto db = OpenSiteDatabase(*env_, main_dir_);  // SQLite, or PostgreSQL on the pg.* run
  ASSERT_TRUE(db.ok());
  auto left = (*db)->Query("SELECT COUNT(*) FROM ledger_user_visits WHERE user_id = ?", {id});
  ASSERT_TRUE(left.ok()) << left.status().ToString();
  EXPECT_EQ((*left)[0].Int(0), 0);
}

TEST_F(UsersIntegrationTest, MainDownMeans503AndNothingIsRecorded) {
  ASSERT_EQ(main_->Stop(), 0);
  const int port = partner_->port();
  std::string r = HttpGet(port, "/account/register");
  EXPECT_EQ(StatusOf(r), 503) << r;
  EXPECT_THAT(r, HasSubstr("Registration is not available right now, try again in a few minutes"));
  // The partner cannot get its single sign-on credentials: signing in is not available.
  r = HttpGet(port, "/account/login");
  EXPECT_EQ(StatusOf(r), 503) << r;
  EXPECT_THAT(r, HasSubstr("Signing in is not available right now"));
  EXPECT_TRUE(PartnerRegistrations().empty());
  EXPECT_THAT(Run({"main", "users", "ls", main_dir_}), HasSubstr("No users"));
}

TEST_F(UsersIntegrationTest, ARevokedPartnerKeepsNoConnectionAndRegistersNoOne) {
  // The partner keeps its connection to main open after this registration.
  Browser ada;
  ASSERT_EQ(RegisterAtPartner(&ada, "ada@example.org", "Ada", kPassword), 303) << ada.last;
  // Revoked from another process (the command writes main's store): the running daemon closes
  // the connection the partner still holds...
  Run({"main", "partner", "revoke", main_dir_, "shop-b"});
  ASSERT_TRUE(WaitFor([&] {
    return std::regex_search(main_->output(),
                             std::regex("closed [0-9]+ sync connection\\(s\\) of revoked"));
  })) << main_->output();
  // ...and nothing more goes through: main's pages no longer know it (no account is registered
  // through it), and it cannot exchange a code.
  for (const char* who : {"bob", "carol"}) {
    Browser b;
    EXPECT_NE(RegisterAtPartner(&b, std::string(who) + "@example.org", who, kPassword), 303);
  }
  Browser again{ada.main_cookie, "", "", {}};
  EXPECT_NE(SignInAtPartner(&again, "", ""), 303) << again.last;
  const std::string listed = Run({"main", "users", "ls", main_dir_});
  EXPECT_THAT(listed, HasSubstr("ada@example.org"));
  EXPECT_THAT(listed, Not(HasSubstr("bob@example.org")));
  EXPECT_THAT(listed, Not(HasSubstr("carol@example.org")));
}

TEST_F(UsersIntegrationTest, AFloodOnMainsSyncPortLeavesPartnersServed) {
  // 300 connections from 127.0.0.2 that never say a word on main's sync port (where anonymous
  // TLS is allowed for enrollment): at most 128 stay, each for 5 s; the partner's sign-ups
  // still reach main.
  std::vector<int> flood;
  for (int i = 0; i < 300; ++i) {
    int fd = ConnectFrom("127.0.0.2", main_sync_port_);
    if (fd >= 0) flood.push_back(fd);
  }
  Browser ada;
  EXPECT_EQ(RegisterAtPartner(&ada, "ada@example.org", "Ada", kPassword), 303)
      << ada.last << main_->output();
  for (int fd : flood) ::close(fd);
  EXPECT_THAT(main_->output(), HasSubstr("refused a connection from 127.0.0.2"));
}

// Registering through the partner signs the customer in there (and at main): the next request
// is known by its session cookie until the customer signs out.
TEST_F(UsersIntegrationTest, RegisteringThroughThePartnerStartsASessionThere) {
  const int port = partner_->port();
  Browser dora;
  ASSERT_EQ(RegisterAtPartner(&dora, "dora@example.org", "Dora", "a long enough secret"), 303)
      << dora.last;
  EXPECT_THAT(dora.last, HasSubstr("; HttpOnly; SameSite=Lax"));
  EXPECT_THAT(dora.last, HasSubstr("Set-Cookie: tieup_customer=Dora; Path=/; SameSite=Lax"));
  const std::string session = dora.partner_cookie;
  std::string account = HttpGet(port, "/account/", {"Cookie: " + session});
  ASSERT_EQ(StatusOf(account), 200) << account;
  EXPECT_THAT(account, HasSubstr("Signed in as <strong>Dora</strong>"));
  EXPECT_EQ(StatusOf(HttpGet(port, "/account/")), 303);
  EXPECT_EQ(StatusOf(HttpGet(main_->port(), "/account/", {"Cookie: " + session})), 303);
  EXPECT_EQ(StatusOf(HttpGet(main_->port(), "/account/", {"Cookie: " + dora.main_cookie})), 200);

  const std::string csrf = Match(account, "name=\"csrf\" value=\"([A-Za-z0-9_-]{43})\"");
  ASSERT_FALSE(csrf.empty()) << account;
  std::string r = PostForm(port, "/account/logout", "csrf=" + csrf, "/account/", session);
  EXPECT_EQ(StatusOf(r), 200) << r;
  EXPECT_THAT(r, HasSubstr("You are signed out"));
  EXPECT_EQ(StatusOf(HttpGet(port, "/account/", {"Cookie: " + session})), 303);
}

// Password guessing on main's sign-in page (where a partner's customers sign in): main counts
// the wrong passwords of the address and, past five, makes each further attempt wait; the page
// says so (429) without checking the password.
TEST_F(UsersIntegrationTest, GuessingPasswordsAtThePartnerIsSlowedDownByMain) {
  const int port = partner_->port();
  Browser registered;
  ASSERT_EQ(RegisterAtPartner(&registered, "erin@example.org", "Erin", "the right password"), 303)
      << registered.last;
  for (int i = 0; i < 6; ++i) {
    Browser guesser;
    ASSERT_EQ(SignInAtPartner(&guesser, "erin@example.org", "guess " + std::to_string(i)), 401)
        << i << guesser.last;
  }
  // Erin is told by mail, once, with the way to a new password.
  EXPECT_THAT(NewMailLink("erin@example.org", "http://127[^\\s]*/account/reset"),
              HasSubstr("/account/reset"))
      << last_mail_;
  EXPECT_THAT(last_mail_, HasSubstr("Subject: Wrong passwords tried for your account"));
  EXPECT_THAT(last_mail_, HasSubstr("6 times in a row"));
  Browser erin;
  EXPECT_EQ(SignInAtPartner(&erin, "erin@example.org", "the right password"), 429) << erin.last;
  EXPECT_THAT(erin.last,
              HasSubstr("Too many wrong passwords for this email address: try again in"));
  EXPECT_THAT(erin.last, HasSubstr("Retry-After: "));
  // A password POSTed to the partner's old sign-in form is not read: back to main's page.
  std::string r =
      PostForm(port, "/account/login", "email=erin%40example.org&password=the+right+password",
               "/account/login");
  EXPECT_EQ(StatusOf(r), 303) << r;
  EXPECT_EQ(HeaderOf(r, "Location"), "/account/login");
  // Main's own pages hold the address back alike: it is one account.
  r = PostForm(main_->port(), "/account/login",
               "email=erin%40example.org&password=the+right+password", "/account/login");
  EXPECT_EQ(StatusOf(r), 429) << r;
}

TEST_F(UsersIntegrationTest, MainsOwnPagesUseTheSameStore) {
  Browser carol;
  ASSERT_EQ(RegisterAtMain(&carol, "/account/register", "carol@example.org", "Carol",
                           "a long enough secret"),
            200)
      << carol.last;
  EXPECT_THAT(carol.last, HasSubstr("Welcome, Carol"));
  EXPECT_THAT(carol.last, Not(HasSubstr("usr_")));  // no internal ids on customer pages
  EXPECT_THAT(Run({"main", "users", "ls", main_dir_, "--partner", "main"}),
              ::testing::ContainsRegex("usr_[a-z2-7]{16}.*carol@example\\.org"));
  // Registering at main signed Carol in at main; at the partner she is signed in through main
  // without typing the password again (single sign-on).
  ASSERT_FALSE(carol.main_cookie.empty());
  ASSERT_EQ(SignInAtPartner(&carol, "", ""), 303) << carol.last;
  std::string r = HttpGet(partner_->port(), "/account/", {"Cookie: " + carol.partner_cookie});
  EXPECT_EQ(StatusOf(r), 200) << r;
  EXPECT_THAT(r, HasSubstr("Signed in as <strong>Carol</strong>"));
  // Nothing in the partner's ledger: Carol registered at main.
  EXPECT_TRUE(PartnerRegistrations().empty());
}

// Signing out at the partner ends the partner's session and offers main's "sign out
// everywhere", which ends main's session (the next sign-in asks for the password) and sends the
// customer back to the partner's signed-out page.
TEST_F(UsersIntegrationTest, SigningOutEverywhereEndsMainsSession) {
  const int port = partner_->port();
  Browser fumi;
  ASSERT_EQ(RegisterAtPartner(&fumi, "fumi@example.org", "Fumi", "matcha and mochi"), 303)
      << fumi.last;
  EXPECT_EQ(StatusOf(HttpGet(main_->port(), "/account/", {"Cookie: " + fumi.main_cookie})), 200);

  // A second browser of Fumi's, signed in at the partner too: signing out everywhere in the
  // first ends its session there as well (main tells the partner over the sync channel).
  Browser phone{fumi.main_cookie, "", "", {}};
  ASSERT_EQ(SignInAtPartner(&phone, "", ""), 303) << phone.last;
  ASSERT_EQ(StatusOf(HttpGet(port, "/account/", {"Cookie: " + phone.partner_cookie})), 200);

  std::string account = HttpGet(port, "/account/", {"Cookie: " + fumi.partner_cookie});
  const std::string csrf = Match(account, "name=\"csrf\" value=\"([A-Za-z0-9_-]{43})\"");
  std::string r =
      PostForm(port, "/account/logout", "csrf=" + csrf, "/account/", fumi.partner_cookie);
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_THAT(r, HasSubstr("You are signed out on this site."));
  std::string everywhere = Match(r, "href=\"(http://127\\.0\\.0\\.1:[0-9]+/oidc/logout[^\"]+)\"");
  ASSERT_FALSE(everywhere.empty()) << r;
  everywhere = std::regex_replace(everywhere, std::regex("&amp;"), "&");

  r = HttpGet(main_->port(), PathAndQuery(everywhere), {"Cookie: " + fumi.main_cookie});
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_THAT(r, HasSubstr("Sign out everywhere?"));
  std::string body;
  std::regex hidden("<input type=\"hidden\" name=\"([a-z_]+)\" value=\"([^\"]*)\">");
  for (std::sregex_iterator i(r.begin(), r.end(), hidden), end; i != end; ++i) {
    body += (body.empty() ? "" : "&") + (*i)[1].str() + "=" + Encode((*i)[2].str());
  }
  // Without the page's CSRF token: refused, still signed in.
  EXPECT_EQ(
      StatusOf(PostForm(main_->port(), "/oidc/logout", "csrf=x", "/oidc/logout", fumi.main_cookie)),
      403);
  r = PostForm(main_->port(), "/oidc/logout", body, "/oidc/logout", fumi.main_cookie);
  ASSERT_EQ(StatusOf(r), 303) << r;
  EXPECT_EQ(HeaderOf(r, "Location"), "http://shop-b.example/account/signed-out");
  EXPECT_EQ(StatusOf(HttpGet(main_->port(), "/account/", {"Cookie: " + fumi.main_cookie})), 303);
  r = HttpGet(port, "/account/signed-out");
  EXPECT_THAT(r, HasSubstr("You are signed out of every shop of the network."));
  // The next sign-in asks for the password again.
  Browser again{fumi.main_cookie, "", "", {}};
  std::string login = HttpGet(port, "/account/login");
  ASSERT_EQ(StatusOf(login), 303);
  r = HttpGet(main_->port(), PathAndQuery(HeaderOf(login, "Location")),
              {"Cookie: " + fumi.main_cookie});
  EXPECT_EQ(StatusOf(r), 200);
  EXPECT_THAT(r, HasSubstr("name=\"password\""));
  // (The daemons' output is read by another thread: wait for the line, not a moment.)
  EXPECT_TRUE(WaitFor([&] {
    return main_->output().find("signed out everywhere (1 partner(s) to tell)") !=
           std::string::npos;
  })) << main_->output();
  // The phone's session at the partner ends once main's notice is delivered.
  EXPECT_TRUE(WaitFor([&] {
    return StatusOf(HttpGet(port, "/account/", {"Cookie: " + phone.partner_cookie})) == 303;
  })) << main_->output()
      << partner_->output();
  EXPECT_TRUE(WaitFor([&] {
    return partner_->output().find("signed out everywhere: their sessions here ended") !=
           std::string::npos;
  })) << partner_->output();
}

// "Forgot your password?" at main: the mail in main's outbox (SITE_DIR/mail/pending) holds a
// link; the new password works through the partner's sign-in, the old one no longer does, and
// the partner's session of before has ended (main told the partner).
TEST_F(UsersIntegrationTest, APasswordResetByMailSignsOutEverywhere) {
  const int port = partner_->port();
  Browser before;
  ASSERT_EQ(RegisterAtPartner(&before, "gen@example.org", "Gen", "my first password"), 303)
      << before.last;

  std::string r =
      PostForm(main_->port(), "/account/reset", "email=gen%40example.org", "/account/reset");
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_THAT(r, HasSubstr("If an account exists for <strong>gen@example.org</strong>"));
  const std::string link =
      NewMailLink("gen@example.org",
                  "http://127\\.0\\.0\\.1:[0-9]+/account/reset/confirm\\?token=[A-Za-z0-9_-]{43}");
  ASSERT_FALSE(link.empty()) << last_mail_;
  EXPECT_THAT(last_mail_, HasSubstr("To: \"Gen\" <gen@example.org>"));
  EXPECT_THAT(main_->output(),
              Not(HasSubstr(link.substr(link.find("token=")))));  // no secret in logs

  r = HttpGet(main_->port(), PathAndQuery(link));
  ASSERT_EQ(StatusOf(r), 200) << r;
  const std::string token = link.substr(link.find("token=") + 6);
  r = PostForm(main_->port(), "/account/reset/confirm",
               "token=" + token + "&password=" + Encode("my second password"), "/account/reset");
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_THAT(r, HasSubstr("Your password is changed"));

  // Signed out at the partner too, once main's notice arrives.
  EXPECT_TRUE(WaitFor([&] {
    return StatusOf(HttpGet(port, "/account/", {"Cookie: " + before.partner_cookie})) == 303;
  })) << main_->output();
  Browser old_password;
  EXPECT_EQ(SignInAtPartner(&old_password, "gen@example.org", "my first password"), 401);
  Browser after;
  EXPECT_EQ(SignInAtPartner(&after, "gen@example.org", "my second password"), 303) << after.last;
  // The link worked once.
  r = PostForm(main_->port(), "/account/reset/confirm",
               "token=" + token + "&password=" + Encode("my third password"), "/account/reset");
  EXPECT_EQ(StatusOf(r), 400) << r;
}

// The account page at main: the details, a new name, a new password (the current one checked;
// every session ends), the data download. A partner's account page links to main's.
TEST_F(UsersIntegrationTest, TheAccountIsManagedOnMainsAccountPage) {
  Browser hiro;
  ASSERT_EQ(
      RegisterAtMain(&hiro, "/account/register", "hiro@example.org", "Hiro", "a password of mine"),
      200)
      << hiro.last;
  ASSERT_EQ(SignInAtPartner(&hiro, "", ""), 303) << hiro.last;
  // The partner's account page sends the customer to main's for the account itself.
  std::string r = HttpGet(partner_->port(), "/account/", {"Cookie: " + hiro.partner_cookie});
  EXPECT_THAT(r, ::testing::ContainsRegex("<a href=\"http://127\\.0\\.0\\.1:[0-9]+/account/\">"
                                          "see your orders at the main shop, change your name, "
                                          "address, e-mail address or password, download "
                                          "your data or delete your account"));
  EXPECT_THAT(r, Not(HasSubstr("Current password")));

  r = HttpGet(main_->port(), "/account/", {"Cookie: " + hiro.main_cookie});
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_THAT(r, HasSubstr("Email: hiro@example.org"));
  EXPECT_THAT(r, HasSubstr("<h2 id=\"orders\">Your orders</h2>"));
  EXPECT_THAT(r, HasSubstr("No orders yet."));
  const std::string csrf = Match(r, "name=\"csrf\" value=\"([A-Za-z0-9_-]{43})\"");
  ASSERT_FALSE(csrf.empty());

  // A new name: a new session under it.
  r = PostForm(main_->port(), "/account/profile", "csrf=" + csrf + "&display_name=Hiro+T.",
               "/account/", hiro.main_cookie);
  ASSERT_EQ(StatusOf(r), 303) << r;
  hiro.main_cookie = Match(r, "Set-Cookie: (tieup_main_session=[A-Za-z0-9_-]{43});");
  r = HttpGet(main_->port(), "/account/", {"Cookie: " + hiro.main_cookie});
  EXPECT_THAT(r, HasSubstr("Signed in as <strong>Hiro T.</strong>"));
  EXPECT_THAT(Run({"main", "users", "ls", main_dir_}), HasSubstr("hiro@example.org (Hiro T.)"));
  const std::string csrf2 = Match(r, "name=\"csrf\" value=\"([A-Za-z0-9_-]{43})\"");

  // An address kept with the account: main's checkout starts with it.
  r = PostForm(main_->port(), "/account/address",
               "csrf=" + csrf2 +
                   "&address_name=Hiro+Tanaka&line1=1-2+Gion&line2=&postal_code=605-0001&city="
                   "Kyoto&country=Japan&phone=",
               "/account/", hiro.main_cookie);
  ASSERT_EQ(StatusOf(r), 303) << r;
  EXPECT_EQ(HeaderOf(r, "Location"), "/account/?saved=address");
  r = PostForm(main_->port(), "/account/news", "csrf=" + csrf2 + "&news=yes", "/account/",
               hiro.main_cookie);
  ASSERT_EQ(StatusOf(r), 303) << r;
  Run({"main", "product", "add", main_dir_, "--sku", "TEA-1", "--title", "Sencha", "--price",
       "12.50", "--stock", "10"});
  r = PostForm(main_->port(), "/shop/cart/add", "sku=TEA-1&qty=1", "/", hiro.main_cookie);
  ASSERT_EQ(StatusOf(r), 303) << r;
  const std::string cart = Match(r, "Set-Cookie: (tieup_cart=[^;]+);");
  ASSERT_FALSE(cart.empty()) << r;
  r = HttpGet(main_->port(), "/shop/checkout", {"Cookie: " + cart + "; " + hiro.main_cookie});
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_THAT(r, HasSubstr("autocomplete=\"name\" value=\"Hiro Tanaka\""));
  EXPECT_THAT(r, HasSubstr("autocomplete=\"address-level2\" value=\"Kyoto\""));
  EXPECT_THAT(r, HasSubstr("autocomplete=\"email\" value=\"hiro@example.org\""));
  // A visitor's checkout (same cart, no session) starts empty.
  r = HttpGet(main_->port(), "/shop/checkout", {"Cookie: " + cart});
  EXPECT_THAT(r, HasSubstr("autocomplete=\"address-level2\" value=\"\""));
  // An order at main with the account's address: the account page lists it, linked to its page.
  ShopCustomer buyer(main_->port());
  ASSERT_EQ(buyer.Add("TEA-1", 1, "/"), 303);
  r = buyer.Submit(std::regex_replace(buyer.CheckoutForm(), std::regex("ada%40example.org"),
                                      "Hiro%40example.org"));
  ASSERT_EQ(StatusOf(r), 200) << r;
  const std::string number = FirstMatch(r, "(M-\\d{6})");
  ASSERT_FALSE(number.empty()) << r;
  // (Its confirmation mail, read here so that the mails below are the next ones.)
  EXPECT_EQ(NewMailLink("hiro@example.org", "Your order M-[0-9]+"), "Your order " + number);
  r = HttpGet(main_->port(), "/account/", {"Cookie: " + hiro.main_cookie});
  EXPECT_THAT(r, ::testing::ContainsRegex("<a href=\"/shop/orders/" + number + "\\?key=[^\"]+\">" +
                                          number + "</a>"));

  // The data download: the account and where the customer signed in through main.
  r = HttpGet(main_->port(), "/account/export", {"Cookie: " + hiro.main_cookie});
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_EQ(HeaderOf(r, "Content-Disposition"), "attachment; filename=\"my-account.json\"");
  EXPECT_THAT(BodyOf(r), HasSubstr("\"email\":\"hiro@example.org\""));
  EXPECT_THAT(BodyOf(r), HasSubstr("\"display_name\":\"Hiro T.\""));
  EXPECT_THAT(BodyOf(r),
              ::testing::ContainsRegex("\"signed_in_through_main\":\\[\\{\"site\":\"shop-b\""));
  EXPECT_THAT(BodyOf(r), HasSubstr("\"orders_at_main\":[{\"number\":\""));
  EXPECT_THAT(BodyOf(r), HasSubstr("\"city\":\"Kyoto\""));
  EXPECT_THAT(BodyOf(r), ::testing::ContainsRegex("\"news_by_mail_since\":\"20"));
  EXPECT_THAT(BodyOf(r), Not(HasSubstr("argon2")));
  EXPECT_EQ(StatusOf(HttpGet(main_->port(), "/account/export")), 303);  // not signed in

  // A new password: the current one must be right.
  r = PostForm(main_->port(), "/account/password",
               "csrf=" + csrf2 + "&current_password=wrong+one+here&new_password=a+better+password",
               "/account/", hiro.main_cookie);
  EXPECT_EQ(StatusOf(r), 401) << r;
  EXPECT_THAT(r, HasSubstr("The current password is not right."));
  r = PostForm(
      main_->port(), "/account/password",
      "csrf=" + csrf2 + "&current_password=a+password+of+mine&new_password=a+better+password",
      "/account/", hiro.main_cookie);
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_THAT(r, HasSubstr("Your password is changed"));
  EXPECT_EQ(StatusOf(HttpGet(main_->port(), "/account/", {"Cookie: " + hiro.main_cookie})), 303);
  EXPECT_TRUE(WaitFor([&] {
    return StatusOf(HttpGet(partner_->port(), "/account/", {"Cookie: " + hiro.partner_cookie})) ==
           303;
  }));
  Browser again;
  EXPECT_EQ(SignInAtPartner(&again, "hiro@example.org", "a better password"), 303) << again.last;
  // Without the session's CSRF token: refused.
  EXPECT_EQ(StatusOf(PostForm(main_->port(), "/account/profile", "csrf=x&display_name=Evil",
                              "/account/", again.main_cookie)),
            403);

  // A new address: the link goes to it, a notice to the old one; signing in uses the new one.
  r = HttpGet(main_->port(), "/account/email", {"Cookie: " + again.main_cookie});
  ASSERT_EQ(StatusOf(r), 200) << r;
  r = PostForm(main_->port(), "/account/email",
               "csrf=" + Match(r, "name=\"csrf\" value=\"([A-Za-z0-9_-]{43})\"") +
                   "&new_email=hiro.t%40example.net&current_password=a+better+password",
               "/account/email", again.main_cookie);
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_THAT(r, HasSubstr("We have sent a mail to <strong>hiro.t@example.net</strong>"));
  const std::string link =
      NewMailLink("hiro.t@example.net",
                  "http://127\\.0\\.0\\.1:[0-9]+/account/email/confirm\\?token=[A-Za-z0-9_-]{43}");
  ASSERT_FALSE(link.empty()) << last_mail_;
  EXPECT_EQ(NewMailLink("hiro@example.org", "(/account/reset)"), "/account/reset") << last_mail_;
  EXPECT_THAT(last_mail_, HasSubstr("Subject: Your address at Tea House is being changed"));
  r = PostForm(main_->port(), "/account/email/confirm",
               "token=" + link.substr(link.find("token=") + 6), "/account/email/confirm");
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_THAT(Run({"main", "users", "ls", main_dir_}), HasSubstr("hiro.t@example.net"));
  Browser renamed;
  EXPECT_EQ(SignInAtPartner(&renamed, "hiro.t@example.net", "a better password"), 303)
      << renamed.last;
  Browser old_address;
  EXPECT_EQ(SignInAtPartner(&old_address, "hiro@example.org", "a better password"), 401);

  // "Delete my account": the password and the box; signed out at the partner too, gone from the
  // store, the address free to register again.
  r = HttpGet(main_->port(), "/account/delete", {"Cookie: " + renamed.main_cookie});
  ASSERT_EQ(StatusOf(r), 200) << r;
  const std::string delete_csrf = Match(r, "name=\"csrf\" value=\"([A-Za-z0-9_-]{43})\"");
  r = PostForm(main_->port(), "/account/delete",
               "csrf=" + delete_csrf + "&confirm=yes&current_password=a+better+password",
               "/account/delete", renamed.main_cookie);
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_THAT(r, HasSubstr("Your account is deleted"));
  EXPECT_TRUE(WaitFor([&] {
    return StatusOf(HttpGet(partner_->port(), "/account/",
                            {"Cookie: " + renamed.partner_cookie})) == 303;
  })) << main_->output();
  EXPECT_THAT(Run({"main", "users", "ls", main_dir_}), Not(HasSubstr("hiro")));
  Browser gone;
  EXPECT_EQ(SignInAtPartner(&gone, "hiro.t@example.net", "a better password"), 401);
  EXPECT_TRUE(WaitFor([&] {
    return main_->output().find("deleted their account: signed out everywhere, 0 order") !=
           std::string::npos;
  })) << main_->output();
  Browser anew;
  EXPECT_EQ(RegisterAtPartner(&anew, "hiro.t@example.net", "Hiro", "a fresh password here"), 303)
      << anew.last;
}

TEST_F(UsersIntegrationTest, CrossSiteFormsAreRefused) {
  const std::string body =
      "email=ada%40example.org&display_name=Ada&password=correct+horse+battery";
  const int port = main_->port();
  std::string req = "POST /account/register HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                    "Origin: https://evil.example\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body;
  EXPECT_EQ(StatusOf(RawExchange(port, req, 15000)), 403);
  // The partner's old registration form reads nothing: back to its page (which is main's).
  std::string r = PostForm(partner_->port(), "/account/register", body);
  EXPECT_EQ(StatusOf(r), 303) << r;
  EXPECT_EQ(HeaderOf(r, "Location"), "/account/register");
  EXPECT_THAT(Run({"main", "users", "ls", main_dir_}), HasSubstr("No users"));
  EXPECT_FALSE(env_->FileExists(main_dir_ + "/mail/pending") &&
               !env_->ListDir(main_dir_ + "/mail/pending")->empty());
}

}  // namespace
}  // namespace tieup::testing
