// Main's OpenID Connect provider (users/oidc_provider.h), its registration pages
// (users/registration.h) and a partner's relying party (users/sso_client.h) wired to it in process:
// the relying party's transport calls the provider's handler, so every request and answer is the
// real one. A real SQLite file, a clock the test sets.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <cstring>
#include <map>
#include <regex>
#include <set>

#include "base/encoding.h"
#include "crypto/hash.h"
#include "store/database.h"
#include "test_database.h"
#include "test_support.h"
#include "users/account_pages.h"
#include "users/oidc_provider.h"
#include "users/registration.h"
#include "users/sessions.h"
#include "users/sso_client.h"
#include "users/user_store.h"

namespace tieup::users {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using ::tieup::testing::FakeClockEnv;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

namespace json = boost::json;

constexpr char kIssuer[] = "https://main.example";
constexpr char kMainHost[] = "main.example";
constexpr char kRedirect[] = "https://shop-a.example/account/callback";
constexpr char kAfterLogout[] = "https://shop-a.example/account/signed-out";
constexpr char kOidcPassword[] = "a long enough secret";

std::string Enc(std::string_view s) {
  return boost::urls::encode(s, boost::urls::unreserved_chars);
}

std::string HeaderOf(const HttpResponse& r, std::string_view name) {
  auto v = r.FindHeader(name);
  return v ? std::string(*v) : std::string();
}

// The value of query parameter `name` of URL `url` ("" when absent).
std::string Param(const std::string& url, const std::string& name) {
  auto u = boost::urls::parse_uri_reference(url);
  if (!u) return "";
  for (auto p : u->params()) {
    if (p.key == name) return std::string(p.value);
  }
  return "";
}

std::string QueryOf(const std::string& url) {
  const size_t q = url.find('?');
  return q == std::string::npos ? "" : url.substr(q + 1);
}

class OidcTest : public ::testing::Test {
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
    auto key = JwtSigningKey::Generate();
    ASSERT_THAT(key, IsOk());
    OidcProviderOptions po;
    po.issuer = kIssuer;
    po.key = std::make_shared<const JwtSigningKey>(*key);
    po.sessions = sessions_;
    po.session_cookie = std::string(kMainSessionCookie);
    po.https = true;
    po.content_security_policy = "default-src 'self'; form-action 'self'; frame-ancestors 'none'";
    po.env = &env_;
    po.failures_per_client = 3;
    po.logged_out = [this](const std::string& user, const std::vector<std::string>& clients) {
      logged_out_.emplace_back(user, clients);
    };
    auto registrations = PendingRegistrations::Open(env_, *db_, *users_);
    ASSERT_THAT(registrations, IsOk());
    registrations_db_ = std::move(*registrations);
    po.client_allowed = [this](const std::string& client) { return refused_client_ != client; };
    po.new_account = [this](const std::string& user, const std::string& client) {
      return registrations_db_->TakeNewAccountNotice(user, client);
    };
    po.record_visits = [this](const std::string& user, const std::string&) {
      return record_visits_.count(user) != 0;
    };
    po.signed_out_at = [this](const std::string& user) {
      auto it = signed_out_at_.find(user);
      return it == signed_out_at_.end() ? int64_t{0} : it->second;
    };
    auto provider = OidcProvider::Open(env_, *db_, *users_, po);
    ASSERT_THAT(provider, IsOk());
    provider_ = std::move(*provider);
    auto user =
        users_->Register({"ada@example.org", "Ada", kOidcPassword, "shop-a", UserArea::kTieup});
    ASSERT_THAT(user, IsOk());
    user_id_ = user->id;

    SsoTransport t;
    t.register_client = [this]() -> Result<SsoClientGrant> {
      ++registrations_;
      SsoClientGrant g{"shop-a", "", kIssuer, kRedirect, kAfterLogout};
      ASSIGN_OR_RETURN(
          g.client_secret,
          provider_->RegisterClient({"shop-a", "Tea House Asahi", {kRedirect}, {kAfterLogout}}));
      secret_ = g.client_secret;
      return g;
    };
    t.send_token_request = [this](const HttpRequest& r) -> Result<HttpResponse> {
      HttpResponse answer = provider_->HandleRequest(r);
      if (after_token_) after_token_();
      return answer;
    };
    t.fetch_jwks = [this]() -> Result<std::string> {
      if (!jwks_override_.empty()) return jwks_override_;
      return std::string(provider_->HandleRequest(Get("/oidc/jwks")).body());
    };
    sso_ = std::make_unique<SingleSignOn>(env_, t);

    RegistrationPagesOptions ro;
    ro.base_url = kIssuer;
    ro.sessions = sessions_;
    ro.session_cookie = std::string(kMainSessionCookie);
    ro.https = true;
    ro.client = [this](std::string_view id) -> std::optional<OidcClient> {
      auto c = provider_->GetClient(id);
      return c.ok() ? std::optional<OidcClient>(*c) : std::nullopt;
    };
    ro.content_security_policy = "default-src 'self'; form-action 'self'";
    ro.send_mail = [this](const RegistrationMail& mail) {
      mails_.push_back(mail);
      return Status::Ok();
    };
    registration_pages_ = std::make_unique<RegistrationPages>(registrations_db_, ro);
  }

  static HttpRequest Get(const std::string& target, const std::string& cookie = "") {
    HttpRequest r("GET", target);
    r.AddHeader("Host", kMainHost);
    if (!cookie.empty()) r.AddHeader("Cookie", cookie);
    return r;
  }
  static HttpRequest PostForm(const std::string& target, const std::string& body,
                              const std::string& cookie = "") {
    HttpRequest r("POST", target);
    r.AddHeader("Host", kMainHost);
    r.AddHeader("Origin", std::string("https://") + kMainHost);
    r.AddHeader("Content-Type", "application/x-www-form-urlencoded");
    if (!cookie.empty()) r.AddHeader("Cookie", cookie);
    r.SetBody(body);
    return r;
  }

  // The hidden fields of a page's form, URL-encoded for its POST.
  static std::string HiddenFields(std::string_view html) {
    std::string body, text(html);
    std::regex hidden("<input type=\"hidden\" name=\"([a-z_]+)\" value=\"([^\"]*)\">");
    for (std::sregex_iterator i(text.begin(), text.end(), hidden), end; i != end; ++i) {
      std::string v = std::regex_replace((*i)[2].str(), std::regex("&amp;"), "&");
      body += "&" + (*i)[1].str() + "=" + Enc(v);
    }
    return body;
  }

  // Main's session cookie pair from a response ("" when none).
  static std::string MainCookie(const HttpResponse& r) {
    for (const HttpHeaderView& h : r.Headers()) {
      if (EqualsIgnoreCase(h.name, "Set-Cookie") &&
          h.value.find("tieup_main_session=") != std::string_view::npos) {
        std::string c(h.value.substr(0, h.value.find(';')));
        return c.ends_with("=") ? "" : c;
      }
    }
    return "";
  }

  // The whole sign-in: Begin, main's page (the password typed unless `main_cookie` holds a
  // session), back with a code. Returns main's last answer (a 303 to the redirect URI on
  // success) and sets `start`.
  HttpResponse Authorize(SingleSignOn::Start* start, std::string* main_cookie,
                         const std::string& password = kOidcPassword) {
    auto begun = sso_->Begin("/products/sencha.html");
    EXPECT_THAT(begun, IsOk());
    *start = *begun;
    EXPECT_THAT(start->location, StartsWith(std::string(kIssuer) + "/oidc/authorize?"));
    const std::string target = start->location.substr(std::string(kIssuer).size());
    HttpResponse page = provider_->HandleRequest(Get(target, *main_cookie));
    if (page.status() != 200) return page;
    HttpResponse r = provider_->HandleRequest(
        PostForm("/oidc/authorize",
                 "email=ada%40example.org&password=" + Enc(password) + HiddenFields(page.body())));
    if (std::string c = MainCookie(r); !c.empty()) *main_cookie = c;
    return r;
  }

  // A token request as a client sends it.
  HttpResponse Token(const std::string& code, const std::string& verifier,
                     const std::string& client = "shop-a", std::string secret = "",
                     const std::string& redirect = kRedirect) {
    if (secret.empty()) secret = secret_;
    HttpRequest r("POST", "/oidc/token");
    r.AddHeader("Content-Type", "application/x-www-form-urlencoded");
    r.AddHeader("Authorization", "Basic " + Base64Encode(Enc(client) + ":" + Enc(secret)));
    r.SetBody("grant_type=authorization_code&code=" + Enc(code) + "&redirect_uri=" + Enc(redirect) +
              "&code_verifier=" + Enc(verifier));
    return provider_->HandleRequest(r);
  }

  // The verifier kept in a pending cookie (state.nonce.verifier.issued.return).
  static std::string VerifierOf(const std::string& pending) {
    size_t a = pending.find('.'), b = pending.find('.', a + 1), c = pending.find('.', b + 1);
    return pending.substr(b + 1, c - b - 1);
  }

  FakeClockEnv env_;
  TempDir dir_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<UserStore> users_;
  std::shared_ptr<SessionStore> sessions_;
  std::shared_ptr<PendingRegistrations> registrations_db_;
  std::unique_ptr<OidcProvider> provider_;
  std::unique_ptr<SingleSignOn> sso_;
  std::unique_ptr<RegistrationPages> registration_pages_;
  std::vector<RegistrationMail> mails_;
  std::string user_id_, secret_, jwks_override_, refused_client_;
  std::set<std::string> record_visits_;           // accounts the provider lets clients record
  std::map<std::string, int64_t> signed_out_at_;  // the hook's generations of sign-outs
  std::function<void()> after_token_;
  int registrations_ = 0;
  std::vector<std::pair<std::string, std::vector<std::string>>> logged_out_;
};

TEST_F(OidcTest, DiscoveryAndKeySet) {
  HttpResponse r = provider_->HandleRequest(Get("/.well-known/openid-configuration"));
  ASSERT_EQ(r.status(), 200);
  json::object d = json::parse(r.body()).as_object();
  EXPECT_EQ(d.at("issuer").as_string(), kIssuer);
  EXPECT_EQ(d.at("authorization_endpoint").as_string(), std::string(kIssuer) + "/oidc/authorize");
  EXPECT_EQ(d.at("token_endpoint").as_string(), std::string(kIssuer) + "/oidc/token");
  EXPECT_EQ(d.at("jwks_uri").as_string(), std::string(kIssuer) + "/oidc/jwks");
  EXPECT_EQ(d.at("code_challenge_methods_supported"), json::array{"S256"});
  EXPECT_EQ(d.at("id_token_signing_alg_values_supported"), json::array{"ES256"});
  r = provider_->HandleRequest(Get("/oidc/jwks"));
  EXPECT_EQ(HeaderOf(r, "Content-Type"), "application/jwk-set+json");
  EXPECT_EQ(r.body().find("\"d\""), std::string_view::npos);
  EXPECT_EQ(provider_->HandleRequest(Get("/oidc/nothing")).status(), 404);
}

TEST_F(OidcTest, SignInAtMainThenBackSignedIn) {
  SingleSignOn::Start start;
  std::string main_cookie;
  HttpResponse r = Authorize(&start, &main_cookie);
  ASSERT_EQ(r.status(), 303) << r.body();
  const std::string location = HeaderOf(r, "Location");
  EXPECT_THAT(location, StartsWith(std::string(kRedirect) + "?code="));
  EXPECT_EQ(Param(location, "iss"), kIssuer);
  EXPECT_FALSE(main_cookie.empty());
  // The relying party checks everything and names the customer.
  auto done = sso_->Finish(QueryOf(location), start.pending_cookie);
  ASSERT_THAT(done, IsOk());
  EXPECT_EQ(done->user_id, user_id_);
  EXPECT_EQ(done->name, "Ada");
  EXPECT_EQ(done->return_path, "/products/sencha.html");
  EXPECT_EQ(registrations_, 1);

  // A second sign-in with main's session: a code at once, no page, no password.
  SingleSignOn::Start again;
  r = Authorize(&again, &main_cookie, "not typed");
  ASSERT_EQ(r.status(), 303);
  ASSERT_THAT(sso_->Finish(QueryOf(HeaderOf(r, "Location")), again.pending_cookie), IsOk());
  EXPECT_EQ(registrations_, 1);  // the credentials are kept
}

TEST_F(OidcTest, TheSignInPageNamesTheClientAndAllowsItsOriginAsFormTarget) {
  auto begun = sso_->Begin("/");
  ASSERT_THAT(begun, IsOk());
  HttpResponse page =
      provider_->HandleRequest(Get(begun->location.substr(std::string(kIssuer).size())));
  ASSERT_EQ(page.status(), 200);
  EXPECT_THAT(page.body(), HasSubstr("continue to <strong>Tea House Asahi</strong>"));
  EXPECT_THAT(HeaderOf(page, "Content-Security-Policy"),
              HasSubstr("form-action 'self' https://shop-a.example;"));
  // "Register" is main's registration page, going on with this request afterwards.
  EXPECT_THAT(page.body(),
              HasSubstr("href=\"/account/register?continue=/oidc/authorize?response_type=code%26"));
  EXPECT_THAT(page.body(), HasSubstr("href=\"https://shop-a.example/\">Back to Tea House Asahi"));
  EXPECT_EQ(HeaderOf(page, "Cache-Control"), "no-store");
  // A wrong password: the page again, 401, nothing issued.
  HttpResponse r = provider_->HandleRequest(
      PostForm("/oidc/authorize",
               "email=ada%40example.org&password=wrong+one+entirely" + HiddenFields(page.body())));
  EXPECT_EQ(r.status(), 401);
  EXPECT_THAT(r.body(), HasSubstr("Wrong email address or password."));
  EXPECT_TRUE(MainCookie(r).empty());
  // From another site: refused.
  HttpRequest forged = PostForm("/oidc/authorize", "email=ada%40example.org&password=x");
  forged.RemoveHeader("Origin");
  forged.AddHeader("Origin", "https://evil.example");
  EXPECT_EQ(provider_->HandleRequest(forged).status(), 403);
}

TEST_F(OidcTest, BadRequestsNeverRedirectToUnregisteredAddresses) {
  ASSERT_THAT(sso_->Begin("/"), IsOk());  // registers shop-a
  const std::string base =
      "/oidc/authorize?response_type=code&client_id=shop-a&scope=openid"
      "&state=s1&code_challenge_method=S256&code_challenge=" +
      Base64UrlEncode(Sha256("v")) + "&redirect_uri=";
  HttpResponse r = provider_->HandleRequest(Get(base + Enc("https://evil.example/cb")));
  EXPECT_EQ(r.status(), 400);
  EXPECT_EQ(HeaderOf(r, "Location"), "");
  EXPECT_THAT(r.body(), HasSubstr("Wrong return address"));
  r = provider_->HandleRequest(
      Get("/oidc/authorize?response_type=code&client_id=nobody&redirect_uri=" + Enc(kRedirect)));
  EXPECT_EQ(r.status(), 400);
  EXPECT_EQ(HeaderOf(r, "Location"), "");
  // Other errors go back to the client, with its state.
  r = provider_->HandleRequest(Get(
      "/oidc/authorize?response_type=code&client_id=shop-a&scope=openid&state=s2&redirect_uri=" +
      Enc(kRedirect)));
  EXPECT_EQ(r.status(), 303);
  EXPECT_EQ(Param(HeaderOf(r, "Location"), "error"), "invalid_request");  // no PKCE
  EXPECT_EQ(Param(HeaderOf(r, "Location"), "state"), "s2");
  r = provider_->HandleRequest(Get(base + Enc(kRedirect) + "&prompt=none"));
  EXPECT_EQ(Param(HeaderOf(r, "Location"), "error"), "login_required");
  r = provider_->HandleRequest(
      Get(std::regex_replace(base, std::regex("scope=openid"), "scope=profile") + Enc(kRedirect)));
  EXPECT_EQ(Param(HeaderOf(r, "Location"), "error"), "invalid_scope");
  r = provider_->HandleRequest(
      Get(std::regex_replace(base, std::regex("response_type=code"), "response_type=token") +
          Enc(kRedirect)));
  EXPECT_EQ(Param(HeaderOf(r, "Location"), "error"), "unsupported_response_type");
  // The relying party reports main's error as such.
  EXPECT_THAT(sso_->Finish("error=access_denied&error_description=no&state=x", "irrelevant"),
              StatusIs(StatusCode::kPermissionDenied, HasSubstr("access_denied")));
}

TEST_F(OidcTest, CodesAreSingleUseShortLivedAndBoundToVerifierClientAndRedirect) {
  SingleSignOn::Start start;
  std::string cookie;
  HttpResponse r = Authorize(&start, &cookie);
  ASSERT_EQ(r.status(), 303);
  const std::string code = Param(HeaderOf(r, "Location"), "code");
  const std::string verifier = VerifierOf(start.pending_cookie);
  // Another client's credentials, a wrong secret, another redirect URI: refused, code intact.
  auto shop_x = provider_->RegisterClient({"shop-x", "X", {"https://x.example/cb"}, {}});
  ASSERT_THAT(shop_x, IsOk());
  HttpResponse stolen = Token(code, verifier, "shop-x", *shop_x, "https://x.example/cb");
  EXPECT_EQ(stolen.status(), 400);
  EXPECT_THAT(stolen.body(), HasSubstr("invalid_grant"));
  EXPECT_EQ(Token(code, verifier, "shop-a", "not-the-secret").status(), 401);
  // (the code is burnt by a failed redirect or verifier check, as by any use)
  HttpResponse ok = Token(code, verifier);
  ASSERT_EQ(ok.status(), 200) << ok.body();
  json::object tokens = json::parse(ok.body()).as_object();
  EXPECT_EQ(tokens.at("token_type").as_string(), "Bearer");
  EXPECT_EQ(tokens.at("expires_in").as_int64(), kIdTokenSeconds);
  EXPECT_EQ(HeaderOf(ok, "Cache-Control"), "no-store");
  const std::string access(tokens.at("access_token").as_string());
  HttpRequest info("GET", "/oidc/userinfo");
  info.AddHeader("Authorization", "Bearer " + access);
  HttpResponse claims = provider_->HandleRequest(info);
  ASSERT_EQ(claims.status(), 200);
  EXPECT_THAT(claims.body(), HasSubstr("\"email\":\"ada@example.org\""));
  // A second use: refused, and the first use's access token is revoked.
  HttpResponse again = Token(code, verifier);
  EXPECT_EQ(again.status(), 400);
  EXPECT_THAT(again.body(), HasSubstr("invalid_grant"));
  EXPECT_EQ(provider_->HandleRequest(info).status(), 401);

  // A wrong verifier (PKCE).
  r = Authorize(&start, &cookie);
  HttpResponse bad = Token(Param(HeaderOf(r, "Location"), "code"), std::string(43, 'A'));
  EXPECT_EQ(bad.status(), 400);
  EXPECT_THAT(bad.body(), HasSubstr("code_verifier"));
  // Another redirect URI than the authorization's.
  r = Authorize(&start, &cookie);
  bad = Token(Param(HeaderOf(r, "Location"), "code"), VerifierOf(start.pending_cookie), "shop-a",
              "", "https://shop-a.example/other");
  EXPECT_EQ(bad.status(), 400);
  // Too late: codes live kCodeSeconds.
  r = Authorize(&start, &cookie);
  env_.AdvanceSeconds(kCodeSeconds + 1);
  bad = Token(Param(HeaderOf(r, "Location"), "code"), VerifierOf(start.pending_cookie));
  EXPECT_EQ(bad.status(), 400);
  EXPECT_THAT(bad.body(), HasSubstr("expired"));
  // Not a form, not this grant.
  HttpRequest json_body("POST", "/oidc/token");
  json_body.AddHeader("Content-Type", "application/json");
  EXPECT_EQ(provider_->HandleRequest(json_body).status(), 400);
}

TEST_F(OidcTest, TheRelyingPartyRefusesWhatIsNotItsOwnSignIn) {
  SingleSignOn::Start start;
  std::string cookie;
  HttpResponse r = Authorize(&start, &cookie);
  const std::string query = QueryOf(HeaderOf(r, "Location"));
  // No cookie, another browser's cookie, a state that differs.
  EXPECT_THAT(sso_->Finish(query, ""), StatusIs(StatusCode::kUnauthenticated));
  SingleSignOn::Start other;
  std::string other_cookie;
  (void)Authorize(&other, &other_cookie);
  EXPECT_THAT(sso_->Finish(query, other.pending_cookie),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("not for the sign-in")));
  // A cookie whose nonce was changed (state kept): the ID token's nonce does not match.
  std::string tampered = start.pending_cookie;
  tampered.replace(44, 43, std::string(43, 'n'));
  EXPECT_THAT(sso_->Finish(query, tampered),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("nonce")));
  // Too slow: the pending sign-in lasts kSsoPendingSeconds.
  r = Authorize(&start, &cookie);
  env_.AdvanceSeconds(kSsoPendingSeconds + 1);
  EXPECT_THAT(sso_->Finish(QueryOf(HeaderOf(r, "Location")), start.pending_cookie),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("too long")));
}

TEST_F(OidcTest, TheRelyingPartyChecksTheIdToken) {
  // Signed by a key main does not publish.
  auto stranger = JwtSigningKey::Generate();
  ASSERT_THAT(stranger, IsOk());
  jwks_override_ = JwksJson(*stranger);
  SingleSignOn::Start start;
  std::string cookie;
  HttpResponse r = Authorize(&start, &cookie);
  EXPECT_THAT(sso_->Finish(QueryOf(HeaderOf(r, "Location")), start.pending_cookie),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("ID token")));
  jwks_override_.clear();
  // Expired by the time it is checked (the clock moves on during the exchange).
  r = Authorize(&start, &cookie);
  after_token_ = [this] { env_.AdvanceSeconds(kIdTokenSeconds + 120); };
  EXPECT_THAT(sso_->Finish(QueryOf(HeaderOf(r, "Location")), start.pending_cookie),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("expired")));
}

// The claims of an ID token (its payload, not checked here: the relying party's tests do).
json::object ClaimsOf(const HttpResponse& token_answer) {
  const std::string id_token(
      json::parse(token_answer.body()).as_object().at("id_token").as_string());
  const size_t a = id_token.find('.'), b = id_token.find('.', a + 1);
  auto payload = Base64UrlDecode(std::string_view(id_token).substr(a + 1, b - a - 1));
  return payload.ok() ? json::parse(*payload).as_object() : json::object{};
}

// prompt=create: main's registration page names the shop; the account exists only once the
// link in the mail is used; then main answers the shop at once, whose first ID token says the
// account is new (once), with the address confirmed.
TEST_F(OidcTest, RegisteringThroughAClientConfirmsByMailThenSignsInThere) {
  auto begun = sso_->Begin("/local/about.html", /*create=*/true);
  ASSERT_THAT(begun, IsOk());
  EXPECT_EQ(Param(begun->location, "prompt"), "create");
  HttpResponse r = provider_->HandleRequest(Get(begun->location.substr(strlen(kIssuer))));
  ASSERT_EQ(r.status(), 303);
  const std::string form_url = HeaderOf(r, "Location");
  ASSERT_THAT(form_url, StartsWith("/account/register?continue="));
  EXPECT_EQ(Param(Param(form_url, "continue"), "prompt"), "");  // not again after confirming
  HttpResponse form = registration_pages_->HandleRequest(Get(form_url));
  ASSERT_EQ(form.status(), 200);
  EXPECT_THAT(form.body(), HasSubstr("continue to <strong>Tea House Asahi</strong>"));

  r = registration_pages_->HandleRequest(
      PostForm("/account/register", "email=kim%40example.org&display_name=Kim&password=" +
                                        Enc("kims own password") + HiddenFields(form.body())));
  ASSERT_EQ(r.status(), 200) << r.body();
  EXPECT_THAT(r.body(), HasSubstr("Check your mail"));
  ASSERT_EQ(mails_.size(), 1u);
  EXPECT_EQ(mails_[0].kind, RegistrationMail::Kind::kConfirm);
  EXPECT_EQ(mails_[0].client_name, "Tea House Asahi");
  EXPECT_EQ(mails_[0].email, "kim@example.org");
  ASSERT_THAT(mails_[0].link,
              StartsWith(std::string(kIssuer) + "/account/register/confirm?token="));
  EXPECT_THAT(users_->FindByEmail("kim@example.org"), StatusIs(StatusCode::kNotFound));

  const std::string confirm = mails_[0].link.substr(strlen(kIssuer));
  HttpResponse ask = registration_pages_->HandleRequest(Get(confirm));
  ASSERT_EQ(ask.status(), 200);
  EXPECT_THAT(ask.body(), HasSubstr("Create my account"));
  // The confirmation ends at shop-a's redirect URI: its form may go there.
  EXPECT_EQ(HeaderOf(ask, "Content-Security-Policy"),
            "default-src 'self'; form-action 'self' https://shop-a.example");
  EXPECT_THAT(users_->FindByEmail("kim@example.org"), StatusIs(StatusCode::kNotFound));
  HttpResponse made = registration_pages_->HandleRequest(
      PostForm("/account/register/confirm", HiddenFields(ask.body()).substr(1)));
  ASSERT_EQ(made.status(), 303) << made.body();
  EXPECT_EQ(HeaderOf(made, "Location"), Param(form_url, "continue"));
  const std::string main_cookie = MainCookie(made);
  ASSERT_FALSE(main_cookie.empty());
  auto kim = users_->FindByEmail("kim@example.org");
  ASSERT_THAT(kim, IsOk());
  EXPECT_EQ(kim->registered_via, "shop-a");
  EXPECT_EQ(kim->area, UserArea::kTieup);
  EXPECT_NE(kim->email_confirmed_micros, 0);

  // Main answers the shop at once (signed in at main), and the shop learns the account is new.
  r = provider_->HandleRequest(Get(HeaderOf(made, "Location"), main_cookie));
  ASSERT_EQ(r.status(), 303);
  auto done = sso_->Finish(QueryOf(HeaderOf(r, "Location")), begun->pending_cookie);
  ASSERT_THAT(done, IsOk());
  EXPECT_EQ(done->user_id, kim->id);
  EXPECT_EQ(done->return_path, "/local/about.html");
  EXPECT_TRUE(done->new_account);
  EXPECT_FALSE(done->record_visits);  // the provider's hook says no for Kim
  // The next sign-in there is not new; the address is confirmed.
  auto next = sso_->Begin("/");
  ASSERT_THAT(next, IsOk());
  r = provider_->HandleRequest(Get(next->location.substr(strlen(kIssuer)), main_cookie));
  ASSERT_EQ(r.status(), 303);
  HttpResponse tokens =
      Token(Param(HeaderOf(r, "Location"), "code"), VerifierOf(next->pending_cookie));
  ASSERT_EQ(tokens.status(), 200);
  json::object claims = ClaimsOf(tokens);
  EXPECT_FALSE(claims.contains("tieup_new_account"));
  EXPECT_EQ(claims.at("tieup_record_visits"), json::value(false));
  EXPECT_EQ(claims.at("email_verified"), json::value(true));
  EXPECT_FALSE(claims.contains("tieup_signed_out_at"));  // never signed out everywhere
  // Once the hook says yes (main: the terms and the customer's consent), the token says so.
  record_visits_.insert(kim->id);
  auto third = sso_->Begin("/");
  ASSERT_THAT(third, IsOk());
  r = provider_->HandleRequest(Get(third->location.substr(strlen(kIssuer)), main_cookie));
  ASSERT_EQ(r.status(), 303);
  auto recorded = sso_->Finish(QueryOf(HeaderOf(r, "Location")), third->pending_cookie);
  ASSERT_THAT(recorded, IsOk());
  EXPECT_TRUE(recorded->record_visits);
  // An account made before confirmation by mail existed: not verified.
  SingleSignOn::Start start;
  std::string ada_cookie;
  r = Authorize(&start, &ada_cookie);
  tokens = Token(Param(HeaderOf(r, "Location"), "code"), VerifierOf(start.pending_cookie));
  EXPECT_EQ(ClaimsOf(tokens).at("email_verified"), json::value(false));
  // The link is used up.
  EXPECT_EQ(registration_pages_->HandleRequest(Get(confirm)).status(), 400);
}

// A client main no longer allows (a revoked partner) is unknown: no sign-in page, no tokens.
TEST_F(OidcTest, AClientNoLongerAllowedGetsNothing) {
  SingleSignOn::Start start;
  std::string cookie;
  HttpResponse r = Authorize(&start, &cookie);
  ASSERT_EQ(r.status(), 303);
  const std::string code = Param(HeaderOf(r, "Location"), "code");
  refused_client_ = "shop-a";
  HttpResponse token = Token(code, VerifierOf(start.pending_cookie));
  EXPECT_EQ(token.status(), 401);
  EXPECT_THAT(token.body(), HasSubstr("invalid_client"));
  auto again = sso_->Begin("/");
  ASSERT_THAT(again, IsOk());
  HttpResponse page =
      provider_->HandleRequest(Get(again->location.substr(strlen(kIssuer)), cookie));
  EXPECT_EQ(page.status(), 400);
  EXPECT_THAT(page.body(), HasSubstr("Unknown site"));
  EXPECT_TRUE(HeaderOf(page, "Location").empty());
}

TEST_F(OidcTest, MainRefusingTheSecretMeansRegisteringAgainOnce) {
  SingleSignOn::Start start;
  std::string cookie;
  HttpResponse r = Authorize(&start, &cookie);
  // Another process registered shop-a since: the secret the relying party holds is old.
  ASSERT_THAT(provider_->RegisterClient({"shop-a", "Tea House Asahi", {kRedirect}, {}}), IsOk());
  ASSERT_THAT(sso_->Finish(QueryOf(HeaderOf(r, "Location")), start.pending_cookie), IsOk());
  EXPECT_EQ(registrations_, 2);
}

TEST_F(OidcTest, ADisabledAccountGetsNoTokens) {
  SingleSignOn::Start start;
  std::string cookie;
  HttpResponse r = Authorize(&start, &cookie);
  ASSERT_THAT(users_->SetDisabled(user_id_, true), IsOk());
  EXPECT_THAT(sso_->Finish(QueryOf(HeaderOf(r, "Location")), start.pending_cookie),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("invalid_grant")));
  // And main's session ended with it: the next sign-in asks for the password (and refuses).
  r = Authorize(&start, &cookie);
  EXPECT_EQ(r.status(), 401);
}

TEST_F(OidcTest, SigningOutEverywhere) {
  SingleSignOn::Start start;
  std::string cookie;
  HttpResponse r = Authorize(&start, &cookie);
  ASSERT_THAT(sso_->Finish(QueryOf(HeaderOf(r, "Location")), start.pending_cookie), IsOk());
  auto url = sso_->LogoutUrl();
  ASSERT_THAT(url, IsOk());
  EXPECT_EQ(*url, std::string(kIssuer) +
                      "/oidc/logout?client_id=shop-a&post_logout_redirect_uri=" + kAfterLogout);
  HttpResponse page =
      provider_->HandleRequest(Get(url->substr(std::string(kIssuer).size()) + "&state=st", cookie));
  ASSERT_EQ(page.status(), 200);
  EXPECT_THAT(page.body(), HasSubstr("Sign out everywhere?"));
  // The page's form, without its CSRF token: refused.
  EXPECT_EQ(provider_->HandleRequest(PostForm("/oidc/logout", "csrf=nope", cookie)).status(), 403);
  r = provider_->HandleRequest(
      PostForm("/oidc/logout", HiddenFields(page.body()).substr(1), cookie));
  ASSERT_EQ(r.status(), 303);
  EXPECT_EQ(HeaderOf(r, "Location"), std::string(kAfterLogout) + "?state=st");
  ASSERT_EQ(logged_out_.size(), 1u);
  EXPECT_EQ(logged_out_[0].first, user_id_);
  EXPECT_EQ(logged_out_[0].second, std::vector<std::string>{"shop-a"});
  // Main's session is gone: the password is asked for again.
  HttpResponse again = Authorize(&start, &cookie, "wrong password here");
  EXPECT_EQ(again.status(), 401);
  // No longer signed in there, but the site is remembered (it may hold the customer's orders)
  // until the account is erased.
  auto clients = OidcClients::Open(env_, *db_);
  ASSERT_THAT(clients, IsOk());
  EXPECT_TRUE((*clients)->SignIns(user_id_)->empty());
  EXPECT_EQ(*(*clients)->KnownTo(user_id_), std::vector<std::string>{"shop-a"});
  ASSERT_THAT((*clients)->ForgetUser(user_id_), IsOk());
  EXPECT_TRUE((*clients)->KnownTo(user_id_)->empty());
  // An unregistered post-logout address is never followed.
  page = provider_->HandleRequest(
      Get("/oidc/logout?client_id=shop-a&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F"));
  EXPECT_EQ(page.status(), 200);
  EXPECT_EQ(HeaderOf(page, "Location"), "");
  // Signing in again after it: the ID token carries the sign-out's generation (main's hook), the
  // client keeps it with its session (a late notice of that sign-out leaves the session alone).
  signed_out_at_[user_id_] = 1764979200123456;
  again = Authorize(&start, &cookie);
  ASSERT_EQ(again.status(), 303) << again.body();
  auto signed_in = sso_->Finish(QueryOf(HeaderOf(again, "Location")), start.pending_cookie);
  ASSERT_THAT(signed_in, IsOk());
  EXPECT_EQ(signed_in->signed_out_at, 1764979200123456);
}

TEST_F(OidcTest, ClientRegistryChecksAndKeepsOnlyAHash) {
  auto secret = provider_->RegisterClient({"app", "", {"https://app.example/cb"}, {}});
  ASSERT_THAT(secret, IsOk());
  auto rows = db_->Query("SELECT secret_hash FROM oidc_clients WHERE id = 'app'");
  ASSERT_THAT(rows, IsOk());
  EXPECT_EQ((*rows)[0].Text(0), Sha256Hex(*secret));
  EXPECT_EQ(provider_->GetClient("app")->name, "app");
  EXPECT_THAT(provider_->RegisterClient({"bad", "", {"javascript:alert(1)"}, {}}),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(provider_->RegisterClient({"bad", "", {}, {}}),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(provider_->RegisterClient({"a:b", "", {"https://a.example/"}, {}}),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(provider_->RemoveClient("app"), IsOk());
  EXPECT_THAT(provider_->RemoveClient("app"), StatusIs(StatusCode::kNotFound));
  OidcProviderOptions trailing_slash;
  trailing_slash.issuer = "https://main.example/";
  trailing_slash.key = std::make_shared<const JwtSigningKey>(*JwtSigningKey::Generate());
  EXPECT_THAT(OidcProvider::Open(env_, *db_, *users_, trailing_slash),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(OidcTest, EveryBuiltInTemplateParses) {
  content::PageTemplates t(OidcPageTemplates(), {});
  for (const auto& [name, text] : OidcPageTemplates()) {
    EXPECT_THAT(t.RenderBody(name, json::object{}), IsOk()) << name;
  }
}

}  // namespace
}  // namespace tieup::users
