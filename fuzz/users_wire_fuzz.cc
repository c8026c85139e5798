// Fuzzes the users module's parsers of what crosses sites (users/wire.h: single sign-on grant,
// sign-out notice) and a partner's check of main's answer
// at its single sign-on redirect URI (users/sso_client.h SingleSignOn::Finish: the query and the
// pending-sign-in cookie), with a token endpoint that refuses.
//
// Input: up to two parts separated by a line "--": the text every JSON parser reads (and the
// callback's query), and the pending cookie.
//
// Properties: an accepted body re-encodes to JSON that parses back to the same values; Finish
// never signs anyone in without a code main accepted.
#include <string>

#include "fuzz_util.h"
#include "test_support.h"
#include "users/sso_client.h"
#include "users/wire.h"

namespace {

using namespace tieup;

users::SingleSignOn& Sso() {
  // A fixed clock (the pending cookie's age), real files and randomness.
  static tieup::testing::FakeClockEnv env;
  static users::SingleSignOn sso(env, [] {
    users::SsoTransport t;
    t.register_client = []() -> Result<users::SsoClientGrant> {
      return users::SsoClientGrant{"shop-a", "secret", "https://main.example",
                                   "https://shop-a.example/account/callback", ""};
    };
    t.send_token_request = [](const HttpRequest&) -> Result<HttpResponse> {
      HttpResponse r(400);
      r.SetBody(R"({"error":"invalid_grant","error_description":"no"})");
      return r;
    };
    t.fetch_jwks = []() -> Result<std::string> { return std::string(R"({"keys":[]})"); };
    return t;
  }());
  return sso;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Parts parts(data, size, "\n--\n");
  std::string_view text = parts.Next();
  std::string_view cookie = parts.Next();

  if (auto r = users::SsoClientGrantFromJson(text); r.ok()) {
    auto again = users::SsoClientGrantFromJson(users::SsoClientGrantToJson(*r));
    FUZZ_CHECK(again.ok() && again->client_id == r->client_id &&
               again->client_secret == r->client_secret && again->issuer == r->issuer &&
               again->redirect_uri == r->redirect_uri &&
               again->post_logout_redirect_uri == r->post_logout_redirect_uri);
  }
  if (auto r = users::LogoutNoticeFromJson(text); r.ok()) {
    auto again = users::LogoutNoticeFromJson(users::LogoutNoticeToJson(*r));
    FUZZ_CHECK(again.ok() && *again == *r);
  }

  // The token endpoint refuses every code: nothing may come out signed in.
  FUZZ_CHECK(!Sso().Finish(text, cookie).ok());
  return 0;
}
