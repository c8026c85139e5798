#include "users/wire.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_support.h"

namespace tieup::users {
namespace {

using ::testing::HasSubstr;
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
  EXPECT_EQ(*LogoutNoticeFromJson(LogoutNoticeToJson("usr_x")), "usr_x");
}

TEST(UsersWireTest, StrictParsing) {
  EXPECT_THAT(LogoutNoticeFromJson("not json").status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("not a JSON object")));
  EXPECT_THAT(LogoutNoticeFromJson("[1]").status(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(LogoutNoticeFromJson(R"({"user_id":7})").status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("user_id")));
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

}  // namespace
}  // namespace tieup::users
