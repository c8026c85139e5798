#include "users/wire.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_support.h"

namespace tieup::users {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;

TEST(UsersWireTest, RoundTrips) {
  SsoClientGrant g{"shop-a", "s3cret \"x\"", "https://main.example",
                   "https://shop-a.example/account/callback",
                   "https://shop-a.example/account/signed-out"};
  auto back = SsoClientGrantFromJson(SsoClientGrantToJson(g));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->client_id, g.client_id);
  EXPECT_EQ(back->client_secret, g.client_secret);
  EXPECT_EQ(back->issuer, g.issuer);
  EXPECT_EQ(back->redirect_uri, g.redirect_uri);
  EXPECT_EQ(back->post_logout_redirect_uri, g.post_logout_redirect_uri);
  auto notice = LogoutNoticeFromJson(LogoutNoticeToJson({"usr_x", 1764979200123456}));
  ASSERT_THAT(notice, IsOk());
  EXPECT_EQ(notice->user_id, "usr_x");
  EXPECT_EQ(notice->signed_out_at, 1764979200123456);
  // A main that does not say when: 0, every session of the customer ends.
  notice = LogoutNoticeFromJson(R"({"user_id":"usr_y"})");
  ASSERT_THAT(notice, IsOk());
  EXPECT_EQ(notice->signed_out_at, 0);
  EXPECT_EQ(LogoutNoticeToJson({"usr_y", 0}), R"({"user_id":"usr_y"})");
}

TEST(UsersWireTest, StrictParsing) {
  EXPECT_THAT(LogoutNoticeFromJson("not json").status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("not a JSON object")));
  EXPECT_THAT(LogoutNoticeFromJson("[1]").status(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(LogoutNoticeFromJson(R"({"user_id":7})").status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("user_id")));
  EXPECT_THAT(LogoutNoticeFromJson(R"({"user_id":"u","signed_out_at":"12"})").status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("signed_out_at")));
  EXPECT_THAT(LogoutNoticeFromJson(R"({"user_id":"u","signed_out_at":-1})").status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("positive integer")));
  EXPECT_THAT(LogoutNoticeFromJson(R"({"signed_out_at":5})").status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("names no one")));
  EXPECT_THAT(LogoutNoticeFromJson(R"({"user_id":""})").status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("names no one")));
  EXPECT_THAT(LogoutNoticeFromJson(R"({"user_id":"u","password":"p"})").status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("unknown field \"password\"")));
  EXPECT_THAT(LogoutNoticeFromJson(std::string(kMaxUserJsonBytes + 1, ' ')).status(),
              StatusIs(StatusCode::kResourceExhausted));
  EXPECT_THAT(SsoClientGrantFromJson(
                  R"({"client_id":"a","client_secret":"","issuer":"i","redirect_uri":"r",)"
                  R"("post_logout_redirect_uri":""})")
                  .status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("empty field")));
  EXPECT_THAT(SsoClientGrantFromJson(R"({"client_id":"a"})").status(),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST(UsersWireTest, PartnerOrdersRoundTrip) {
  const std::string hash(64, 'a');
  EXPECT_EQ(*PartnerOrdersQueryFromJson(PartnerOrdersQueryToJson(hash)), hash);
  commerce::OrderSummary o;
  o.number = "SHOPB-000012";
  o.placed = "2 Dec 2026, 10:04";
  o.placed_micros = 1'796'000'000'000'000;
  o.status = "paid";
  o.total = "\u00a59,000 <b>";
  o.href = "/shop/orders/SHOPB-000012?key=abc";
  o.through = "not sent";
  o.at = "not sent either";
  auto back = PartnerOrdersFromJson(PartnerOrdersToJson({o, o}));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[0].number, o.number);
  EXPECT_EQ((*back)[0].placed, o.placed);
  EXPECT_EQ((*back)[0].placed_micros, o.placed_micros);
  EXPECT_EQ((*back)[0].status, o.status);
  EXPECT_EQ((*back)[0].total, o.total);
  EXPECT_EQ((*back)[0].href, o.href);
  EXPECT_EQ((*back)[0].through, "");
  EXPECT_EQ((*back)[0].at, "");
  EXPECT_TRUE(PartnerOrdersFromJson(PartnerOrdersToJson({}))->empty());
}

TEST(UsersWireTest, PartnerOrdersAreParsedStrictly) {
  for (const std::string& bad : {std::string(63, 'a'), std::string(65, 'a'), std::string(64, 'A'),
                                 std::string(63, 'a') + "g"}) {
    EXPECT_THAT(PartnerOrdersQueryFromJson(PartnerOrdersQueryToJson(bad)).status(),
                StatusIs(StatusCode::kInvalidArgument, HasSubstr("64 lower-case hexadecimal")))
        << bad;
  }
  EXPECT_THAT(PartnerOrdersQueryFromJson(R"({"email":"a@example.org"})").status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("email_sha256")));

  auto order = [](const std::string& href, const std::string& micros = "5",
                  const std::string& extra = "") {
    return R"({"orders":[{"href":")" + href + R"(","number":"N","placed":"p","placed_micros":)" +
           micros + R"(,"status":"s","total":"t")" + extra + "}]}";
  };
  EXPECT_TRUE(PartnerOrdersFromJson(order("/shop/orders/N?key=k")).ok());
  // A link is a path on the partner: nothing main would send the customer elsewhere with.
  for (const char* href : {"javascript:alert(1)", "https://evil.example/", "//evil.example/x", "",
                           "shop/orders/N", "/\\\\evil.example"}) {
    EXPECT_THAT(PartnerOrdersFromJson(order(href)).status(),
                StatusIs(StatusCode::kInvalidArgument, HasSubstr("not a path")))
        << href;
  }
  for (const std::string& bad :
       {order("/o", "-1"), order("/o", "1.5"), order("/o", "\"5\""),
        order("/o", "5", R"(,"customer":"Hiro")"), std::string(R"({"orders":[{"href":"/o"}]})"),
        std::string(R"({"orders":["x"]})"), std::string(R"({"orders":{}})"),
        std::string(R"({"orders":[],"more":1})"), std::string("[]"), std::string("nope")}) {
    EXPECT_THAT(PartnerOrdersFromJson(bad).status(), StatusIs(StatusCode::kInvalidArgument)) << bad;
  }
  std::vector<commerce::OrderSummary> many(kMaxPartnerOrders + 1);
  for (auto& o : many) o.href = "/o";
  EXPECT_THAT(PartnerOrdersFromJson(PartnerOrdersToJson(many)).status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("more than 100 orders")));
  EXPECT_THAT(PartnerOrdersFromJson(std::string(kMaxPartnerOrdersJsonBytes + 1, ' ')).status(),
              StatusIs(StatusCode::kResourceExhausted));
}

}  // namespace
}  // namespace tieup::users
