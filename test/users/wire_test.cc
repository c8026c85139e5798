#include "users/wire.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_support.h"

namespace tieup::users {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::StatusIs;

TEST(UsersWireTest, RoundTrips) {
  RegistrationRequest r{"ada@example.org", "Ada \"<L>\"", "pässword 123", UserArea::kOriginal};
  auto back = RegistrationRequestFromJson(RegistrationRequestToJson(r));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->email, r.email);
  EXPECT_EQ(back->display_name, r.display_name);
  EXPECT_EQ(back->password, r.password);
  EXPECT_EQ(back->area, UserArea::kOriginal);

  auto login = LoginRequestFromJson(LoginRequestToJson({"a@b.org", "secret secret"}));
  ASSERT_TRUE(login.ok());
  EXPECT_EQ(login->email, "a@b.org");
  EXPECT_EQ(login->password, "secret secret");

  EXPECT_EQ(*RegistrationReplyFromJson(RegistrationReplyToJson("usr_x")), "usr_x");
  auto reply = LoginReplyFromJson(LoginReplyToJson({"usr_y", "Ada"}));
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->user_id, "usr_y");
  EXPECT_EQ(reply->display_name, "Ada");
}

TEST(UsersWireTest, StrictParsing) {
  const std::string good =
      R"({"area":"tieup","display_name":"A","email":"a@b.org","password":"p"})";
  ASSERT_TRUE(RegistrationRequestFromJson(good).ok());
  EXPECT_THAT(RegistrationRequestFromJson("not json").status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("not a JSON object")));
  EXPECT_THAT(RegistrationRequestFromJson("[1]").status(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(
      RegistrationRequestFromJson(R"({"area":"tieup","email":"a@b.org","password":"p"})").status(),
      StatusIs(StatusCode::kInvalidArgument, HasSubstr("display_name")));
  EXPECT_THAT(
      RegistrationRequestFromJson(
          R"({"area":"tieup","display_name":"A","email":"a@b.org","password":"p","registered_via":"main"})")
          .status(),
      StatusIs(StatusCode::kInvalidArgument, HasSubstr("unknown field \"registered_via\"")));
  EXPECT_THAT(RegistrationRequestFromJson(
                  R"({"area":"both","display_name":"A","email":"a@b.org","password":"p"})")
                  .status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("area")));
  EXPECT_THAT(LoginRequestFromJson(R"({"email":"a@b.org","password":7})").status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("password")));
  EXPECT_THAT(LoginRequestFromJson(std::string(kMaxUserJsonBytes + 1, ' ')).status(),
              StatusIs(StatusCode::kResourceExhausted));
}

TEST(UsersWireTest, Refusals) {
  const Status taken = Status::AlreadyExists("taken");
  EXPECT_EQ(RefusalFromJson(RefusalToJson(taken, Refusal::kEmailTaken)), Refusal::kEmailTaken);
  EXPECT_EQ(RefusalFromJson(RefusalToJson(taken, Refusal::kInvalidInput)), Refusal::kInvalidInput);
  EXPECT_EQ(RefusalFromJson(RefusalToJson(taken, Refusal::kWrongLogin)), Refusal::kWrongLogin);
  EXPECT_EQ(RefusalFromJson(RefusalToJson(taken, Refusal::kTooManyFailures)),
            Refusal::kTooManyFailures);
  EXPECT_EQ(RefusalFromJson(R"({"code":"already_exists","message":"replayed nonce"})"),
            Refusal::kNone);
  EXPECT_EQ(RefusalFromJson(R"({"reason":"something_else"})"), Refusal::kNone);
  EXPECT_EQ(RefusalFromJson("<html>"), Refusal::kNone);
  EXPECT_THAT(RefusalToJson(taken, Refusal::kEmailTaken), HasSubstr("\"code\":\"already_exists\""));
}

}  // namespace
}  // namespace tieup::users
