// Fuzzes the users module's parsers of what crosses sites (users/wire.h: single sign-on grant,
// sign-out notice, a partner's orders query and answer) and a partner's check of main's answer
// at its single sign-on redirect URI (users/sso_client.h SingleSignOn::Finish: the query and the
// pending-sign-in cookie), with a token endpoint that refuses.
//
// Input: up to two parts separated by a line "--": the text every JSON parser reads (and the
// callback's query), and the pending cookie.
//
// Properties: an accepted body re-encodes to JSON that parses back to the same values; an
// accepted orders answer links only to paths; Finish never signs anyone in without a code main
// accepted.
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

  if (auto r = users::PartnerOrdersQueryFromJson(text); r.ok()) {
    auto again = users::PartnerOrdersQueryFromJson(users::PartnerOrdersQueryToJson(*r));
    FUZZ_CHECK(again.ok() && *again == *r && r->size() == 64);
  }
  if (auto r = users::PartnerOrdersFromJson(text); r.ok()) {
    FUZZ_CHECK(r->size() <= users::kMaxPartnerOrders);
    for (const commerce::OrderSummary& o : *r) {
      FUZZ_CHECK(!o.href.empty() && o.href[0] == '/' && !o.href.starts_with("//") &&
                 o.placed_micros >= 0);
    }
    auto again = users::PartnerOrdersFromJson(users::PartnerOrdersToJson(*r));
    FUZZ_CHECK(again.ok() && again->size() == r->size());
    for (size_t i = 0; again.ok() && i < r->size(); ++i) {
      const commerce::OrderSummary &a = (*again)[i], &b = (*r)[i];
      FUZZ_CHECK(a.number == b.number && a.placed == b.placed &&
                 a.placed_micros == b.placed_micros && a.status == b.status && a.total == b.total &&
                 a.href == b.href);
    }
  }

  // The token endpoint refuses every code: nothing may come out signed in.
  FUZZ_CHECK(!Sso().Finish(text, cookie).ok());
  return 0;
}
