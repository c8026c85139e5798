#include "base/time_format.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace tieup {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;

// 2026-12-02T23:15:00Z: already December 3 in Tokyo.
constexpr int64_t kLateEvening = 1796253300LL * 1'000'000;

TEST(TimeFormatTest, ShowsTheTimeInTheSitesZone) {
  std::string tokyo = FormatDateTime(kLateEvening, "Asia/Tokyo");
  EXPECT_THAT(tokyo, HasSubstr("Dec 3, 2026"));
  EXPECT_THAT(tokyo, HasSubstr("8:15"));
  EXPECT_THAT(tokyo, HasSubstr("GMT+9"));
  std::string utc = FormatDateTime(kLateEvening, "UTC");
  EXPECT_THAT(utc, HasSubstr("Dec 2, 2026"));
  EXPECT_THAT(utc, HasSubstr("11:15"));
  EXPECT_EQ(FormatDate(kLateEvening, "Asia/Tokyo"), "Dec 3, 2026");
  EXPECT_EQ(FormatDate(kLateEvening, "Europe/Berlin"), "Dec 3, 2026");
  EXPECT_EQ(FormatDate(kLateEvening, "America/New_York"), "Dec 2, 2026");
}

TEST(TimeFormatTest, WritesDatesTheLocalesWay) {
  EXPECT_THAT(FormatDate(kLateEvening, "Asia/Tokyo", "ja-JP"), HasSubstr("2026年12月3日"));
  EXPECT_THAT(FormatDate(kLateEvening, "Europe/Berlin", "de-DE"), HasSubstr("3. Dez. 2026"));
}

TEST(TimeFormatTest, UnknownZoneOrLocaleFallsBackInsteadOfFailing) {
  EXPECT_THAT(FormatDateTime(kLateEvening, "Mars/Olympus"), HasSubstr("Dec 2, 2026"));
  EXPECT_THAT(FormatDate(kLateEvening, "UTC", "zz-!!"), Not(::testing::IsEmpty()));
}

TEST(TimeFormatTest, ValidatesZonesAndLocalesWithAClearMessage) {
  EXPECT_THAT(ValidateTimeZone("Asia/Tokyo"), IsOk());
  EXPECT_THAT(ValidateTimeZone("UTC"), IsOk());
  EXPECT_THAT(ValidateTimeZone("Asia/Nowhere"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("Asia/Tokyo")));
  EXPECT_THAT(ValidateTimeZone(""), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateLocale("en"), IsOk());
  EXPECT_THAT(ValidateLocale("ja-JP"), IsOk());
  EXPECT_THAT(ValidateLocale("xx-QQ"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("en-GB")));
  EXPECT_THAT(ValidateLocale(""), StatusIs(StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace tieup
