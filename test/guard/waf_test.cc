// The WAF with Debian's OWASP Core Rule Set 3.3.4 (the real rules, read from where the package
// puts them): benign requests pass, attacks in the query, the body and the headers are blocked
// with the rules that caught them, detection-only reports without blocking, exclusions and
// settings apply, and a rule set that does not load is a clear error.
#include "guard/waf.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "base/env.h"
#include "test_support.h"

namespace tieup::guard {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::tieup::testing::IsOk;
using ::tieup::testing::TempDir;

HttpRequest Get(const std::string& target, const std::string& user_agent = "Mozilla/5.0") {
  HttpRequest r("GET", target);
  r.AddHeader("Host", "shop-a.example");
  r.AddHeader("User-Agent", user_agent);
  r.AddHeader("Accept", "text/html");
  return r;
}

HttpRequest PostForm(const std::string& target, const std::string& body) {
  HttpRequest r("POST", target);
  r.AddHeader("Host", "shop-a.example");
  r.AddHeader("User-Agent", "Mozilla/5.0");
  r.AddHeader("Accept", "text/html");
  r.AddHeader("Content-Type", "application/x-www-form-urlencoded");
  r.AddHeader("Content-Length", std::to_string(body.size()));
  r.SetBody(body);
  return r;
}

// One WAF with the default settings for the whole suite: loading the rules takes a moment.
class WafTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto waf = Waf::Create({});
    ASSERT_TRUE(waf.ok()) << waf.status().ToString();
    waf_ = waf->release();
  }
  static void TearDownTestSuite() {
    delete waf_;
    waf_ = nullptr;
  }
  static WafVerdict Inspect(Waf& waf, const HttpRequest& r) {
    auto v = waf.Inspect(r, WafConnection{"203.0.113.7", 40000, "127.0.0.1", 8081});
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? *v : WafVerdict{};
  }
  static Waf* waf_;
};
Waf* WafTest::waf_ = nullptr;

TEST_F(WafTest, TheCoreRuleSetIsLoaded) { EXPECT_GT(waf_->rule_count(), 500); }

TEST_F(WafTest, OrdinaryRequestsPass) {
  for (const HttpRequest& r :
       {Get("/"), Get("/products/sencha.html"), Get("/search?q=green+tea&page=2"),
        PostForm("/shop/cart/add", "sku=TEA-1&qty=2"),
        PostForm("/account/login", "email=ada%40example.org&password=correct+horse")}) {
    WafVerdict v = Inspect(*waf_, r);
    EXPECT_FALSE(v.blocked) << r.target() << ": " << v.message;
    EXPECT_FALSE(v.would_block) << r.target();
  }
}

TEST_F(WafTest, SqlInjectionInTheQueryIsBlockedNamingTheRules) {
  WafVerdict v = Inspect(*waf_, Get("/products/?id=1%27%20OR%20%271%27%3D%271"));
  EXPECT_TRUE(v.blocked);
  EXPECT_TRUE(v.would_block);
  EXPECT_EQ(v.status, 403);
  EXPECT_THAT(v.rule_ids, Contains(942100));  // libinjection's SQL injection
  EXPECT_THAT(v.rule_ids, Contains(949110));  // the inbound anomaly score reached the threshold
  EXPECT_GE(v.anomaly_score, 5);
  EXPECT_THAT(v.message, HasSubstr("SQL Injection"));
}

TEST_F(WafTest, CrossSiteScriptingInAFormBodyIsBlocked) {
  WafVerdict v =
      Inspect(*waf_, PostForm("/shop/checkout", "name=%3Cscript%3Ealert(1)%3C%2Fscript%3E&qty=1"));
  EXPECT_TRUE(v.blocked);
  EXPECT_THAT(v.rule_ids, Contains(941100));  // libinjection's XSS
}

TEST_F(WafTest, PathTraversalAndScannersAreBlocked) {
  WafVerdict traversal = Inspect(*waf_, Get("/assets/..%2f..%2f..%2fetc%2fpasswd"));
  EXPECT_TRUE(traversal.blocked);
  EXPECT_THAT(traversal.rule_ids, Contains(930100));
  WafVerdict scanner = Inspect(*waf_, Get("/", "Mozilla/5.00 (Nikto/2.1.6)"));
  EXPECT_TRUE(scanner.blocked);
  EXPECT_THAT(scanner.rule_ids, Contains(913100));
}

TEST_F(WafTest, SingleSignOnParametersCarryingSiteUrlsPassAndOnlyThere) {
  // Sites addressed by IP (a test, a small partner without a name): main's authorize endpoint and
  // the partner's callback get URLs in their OpenID Connect parameters.
  const std::string site = "http%3A%2F%2F203.0.113.20%3A8081";
  EXPECT_FALSE(Inspect(*waf_, Get("/oidc/authorize?response_type=code&client_id=shop-b&"
                                  "redirect_uri=" +
                                  site + "%2Faccount%2Fcallback&scope=openid"))
                   .blocked);
  EXPECT_FALSE(Inspect(*waf_, Get("/oidc/logout?post_logout_redirect_uri=" + site +
                                  "%2Faccount%2Fsigned-out"))
                   .blocked);
  EXPECT_FALSE(Inspect(*waf_, Get("/account/callback?code=abc&state=def&iss=" + site)).blocked);
  // The same URL in another parameter, or those parameters on another page: blocked (931100).
  WafVerdict other = Inspect(*waf_, Get("/oidc/authorize?client_id=shop-b&file=" + site));
  EXPECT_TRUE(other.blocked);
  EXPECT_THAT(other.rule_ids, Contains(931100));
  EXPECT_TRUE(Inspect(*waf_, Get("/shop/cart?redirect_uri=" + site + "%2Fx")).blocked);
}

TEST_F(WafTest, TieupsOwnTokensPasswordsAndSessionCookiesAreNotInspectedAndOnlyThose) {
  // What would be an injection anywhere else: as a random token can look by chance, as a
  // customer may choose a password.
  const std::string sqli = "1%27%20OR%20%271%27%3D%271";
  EXPECT_FALSE(Inspect(*waf_, Get("/account/register/confirm?token=" + sqli)).blocked);
  EXPECT_FALSE(Inspect(*waf_, Get("/oidc/authorize?client_id=shop-a&state=" + sqli +
                                  "&nonce=" + sqli + "&code_challenge=" + sqli))
                   .blocked);
  EXPECT_FALSE(Inspect(*waf_, Get("/account/callback?code=" + sqli + "&state=" + sqli)).blocked);
  EXPECT_FALSE(Inspect(*waf_, PostForm("/account/login", "email=ada%40example.org&password=" +
                                                             sqli + "&csrf=" + sqli))
                   .blocked);
  EXPECT_FALSE(Inspect(*waf_, Get("/shop/orders/A-1?key=" + sqli)).blocked);
  HttpRequest session = Get("/account/");
  session.AddHeader("Cookie", "tieup_session_shop-a=1' OR '1'='1; tieup_cart=x");
  EXPECT_FALSE(Inspect(*waf_, session).blocked);
  // The same in another parameter, on another path, or in another cookie: refused.
  EXPECT_TRUE(Inspect(*waf_, Get("/account/register/confirm?t=" + sqli)).blocked);
  EXPECT_TRUE(Inspect(*waf_, Get("/news/?token=" + sqli)).blocked);
  EXPECT_TRUE(Inspect(*waf_, PostForm("/account/login", "email=" + sqli + "&password=x")).blocked);
  HttpRequest other = Get("/account/");
  other.AddHeader("Cookie", "prefs=1' OR '1'='1");
  EXPECT_TRUE(Inspect(*waf_, other).blocked);
}

TEST(WafOptionsTest, DetectionOnlyReportsWithoutBlocking) {
  WafOptions o;
  o.detection_only = true;
  auto waf = Waf::Create(o);
  ASSERT_THAT(waf, IsOk());
  auto v = (*waf)->Inspect(Get("/?id=1%27%20OR%20%271%27%3D%271"), {});
  ASSERT_THAT(v, IsOk());
  EXPECT_FALSE(v->blocked);
  EXPECT_TRUE(v->would_block);
  EXPECT_THAT(v->rule_ids, Contains(942100));
}

TEST(WafOptionsTest, AnExcludedRuleAndAHigherThresholdLetARequestThrough) {
  const HttpRequest scanner = Get("/", "Mozilla/5.00 (Nikto/2.1.6)");
  WafOptions excluded;
  excluded.excluded_rules = {913100};
  auto waf = Waf::Create(excluded);
  ASSERT_THAT(waf, IsOk());
  auto v = (*waf)->Inspect(scanner, {});
  ASSERT_THAT(v, IsOk());
  EXPECT_FALSE(v->blocked);
  EXPECT_THAT(v->rule_ids, ::testing::Not(Contains(913100)));

  WafOptions lenient;
  lenient.inbound_threshold = 1000;
  waf = Waf::Create(lenient);
  ASSERT_THAT(waf, IsOk());
  v = (*waf)->Inspect(scanner, {});
  ASSERT_THAT(v, IsOk());
  EXPECT_FALSE(v->blocked);
  EXPECT_THAT(v->rule_ids, Contains(913100));  // matched, but below the threshold
}

TEST(WafOptionsTest, BadSettingsAndMissingOrBrokenRulesAreClearErrors) {
  WafOptions o;
  o.paranoia_level = 5;
  EXPECT_EQ(Waf::Create(o).status().code(), StatusCode::kInvalidArgument);
  o = {};
  o.inbound_threshold = 0;
  EXPECT_EQ(Waf::Create(o).status().code(), StatusCode::kInvalidArgument);
  o = {};
  o.excluded_rules = {-3};
  EXPECT_EQ(Waf::Create(o).status().code(), StatusCode::kInvalidArgument);

  o = {};
  o.crs_rules = "/nonexistent/crs";
  auto missing = Waf::Create(o);
  EXPECT_EQ(missing.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(missing.status().message(), HasSubstr("install Debian's modsecurity-crs"));

  TempDir dir;
  auto env = NewPosixEnv();
  const std::string setup = dir.path() + "/crs-setup.conf";
  ASSERT_THAT(WriteFileAtomic(*env, setup, "SecRule ARGS \"@rx a\" \"id:1,phase:2,bogus\"\n"),
              IsOk());
  o = {};
  o.crs_setup = setup;
  auto broken = Waf::Create(o);
  EXPECT_EQ(broken.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(broken.status().message(), HasSubstr("the WAF's rules do not load"));
  EXPECT_THAT(broken.status().message(), HasSubstr("crs-setup.conf"));
}

TEST_F(WafTest, ThreadsShareTheRulesAndKeepTheirOwnVerdicts) {
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        const bool attack = (i + t) % 2 == 0;
        auto v = waf_->Inspect(attack ? Get("/?id=1%27%20OR%20%271%27%3D%271")
                                      : Get("/products/sencha.html?page=" + std::to_string(i)),
                               {});
        if (!v.ok() || v->blocked != attack ||
            (attack &&
             std::find(v->rule_ids.begin(), v->rule_ids.end(), 942100) == v->rule_ids.end())) {
          ++wrong;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace tieup::guard
