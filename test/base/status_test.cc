#include "base/status.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace tieup {
namespace {

using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;

Result<int> Half(int x) {
  if (x % 2 != 0) return Status::InvalidArgument(std::to_string(x) + " is odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int h, Half(x));
  ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status CheckEven(int x) {
  RETURN_IF_ERROR(Half(x).status());
  return Status::Ok();
}

TEST(StatusTest, OkIsCheapAndPrintsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
  EXPECT_EQ(s.Annotate("ctx"), Status::Ok());
}

TEST(StatusTest, ErrorCarriesCodeAndAnnotatedMessage) {
  Status s = Status::NotFound("no page 'a.html'").Annotate("partner shop-a");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.ToString(), "not_found: partner shop-a: no page 'a.html'");
}

TEST(StatusTest, ResultPropagatesThroughMacros) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_THAT(Quarter(6), StatusIs(StatusCode::kInvalidArgument, "3 is odd"));
  EXPECT_THAT(CheckEven(4), IsOk());
  EXPECT_THAT(CheckEven(5), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(Half(3).value_or(-1), -1);
}

TEST(StatusCodeNameTest, NamesReadBackToTheirCodes) {
  for (int c = 0; c <= static_cast<int>(StatusCode::kInternal); ++c) {
    const auto code = static_cast<StatusCode>(c);
    EXPECT_EQ(StatusCodeFromName(StatusCodeName(code)), code);
  }
  EXPECT_EQ(StatusCodeFromName("INVALID_ARGUMENT"), std::nullopt);
  EXPECT_EQ(StatusCodeFromName("unknown"), std::nullopt);
  EXPECT_EQ(StatusCodeFromName(""), std::nullopt);
}

}  // namespace
}  // namespace tieup
