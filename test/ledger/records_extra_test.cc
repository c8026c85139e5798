#include <gtest/gtest.h>

#include "ledger/records.h"
#include "test_support.h"

namespace tieup::ledger {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;

ContentRecord SampleContent() {
  ContentRecord r;
  r.time_micros = 1790000000000001;
  r.area = RecordArea::kOriginal;
  r.version = 12;
  r.pages = 340;
  r.bytes = 9876543;
  return r;
}

AdRecord SampleAd() {
  AdRecord r;
  r.time_micros = 1790000000000002;
  r.owner = AdOwner::kPartner;
  r.impressions = 3;
  r.path = "/news/\"today\"";
  return r;
}

TEST(RecordsExtraTest, ContentRecordCanonicalFormAndRoundTrip) {
  ContentRecord r = SampleContent();
  std::string e = EncodeRecord(r);
  EXPECT_EQ(e,
            "{\"area\":\"original\",\"bytes\":9876543,\"pages\":340,\"time_micros\":"
            "1790000000000001,\"type\":\"content\",\"v\":1,\"version\":12}");
  auto parsed = ParseRecord(e);
  ASSERT_THAT(parsed, IsOk());
  ASSERT_TRUE(std::holds_alternative<ContentRecord>(*parsed));
  EXPECT_EQ(std::get<ContentRecord>(*parsed), r);
  r.area = RecordArea::kTieup;
  r.bytes = UINT64_MAX;
  auto big = ParseRecord(EncodeRecord(LedgerRecord(r)));
  ASSERT_THAT(big, IsOk());
  EXPECT_EQ(std::get<ContentRecord>(*big), r);
}

TEST(RecordsExtraTest, AdRecordCanonicalFormAndRoundTrip) {
  AdRecord r = SampleAd();
  std::string e = EncodeRecord(r);
  EXPECT_EQ(e,
            "{\"impressions\":3,\"owner\":\"partner\",\"path\":\"/news/\\\"today\\\"\","
            "\"time_micros\":1790000000000002,\"type\":\"ad\",\"v\":1}");
  auto parsed = ParseRecord(e);
  ASSERT_THAT(parsed, IsOk());
  ASSERT_TRUE(std::holds_alternative<AdRecord>(*parsed));
  EXPECT_EQ(std::get<AdRecord>(*parsed), r);
  r.owner = AdOwner::kMain;
  auto main_ad = ParseRecord(EncodeRecord(LedgerRecord(r)));
  ASSERT_THAT(main_ad, IsOk());
  EXPECT_EQ(std::get<AdRecord>(*main_ad), r);
  EXPECT_EQ(AdOwnerName(AdOwner::kMain), "main");
  EXPECT_EQ(AdOwnerName(AdOwner::kPartner), "partner");
}

// Version 2 names the ad and counts clicks (issue 15 item 8); a record without them is still
// written, hashed and read as version 1.
TEST(RecordsExtraTest, AdRecordWithItsIdAndClicksIsVersion2) {
  AdRecord r = SampleAd();
  r.ad = "first-flush";
  r.clicks = 1;
  r.impressions = 0;
  std::string e = EncodeRecord(r);
  EXPECT_EQ(e,
            "{\"ad\":\"first-flush\",\"clicks\":1,\"impressions\":0,\"owner\":\"partner\","
            "\"path\":\"/news/\\\"today\\\"\",\"time_micros\":1790000000000002,\"type\":\"ad\","
            "\"v\":2}");
  auto parsed = ParseRecord(e);
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(std::get<AdRecord>(*parsed), r);
  r.clicks = 0;  // an impression of a named ad
  r.impressions = 1;
  auto shown = ParseRecord(EncodeRecord(r));
  ASSERT_THAT(shown, IsOk());
  EXPECT_EQ(std::get<AdRecord>(*shown), r);

  // Version 2 needs both fields; version 1 may have neither.
  std::string no_clicks = e;
  no_clicks.replace(no_clicks.find("\"clicks\":1,"), 11, "");
  EXPECT_THAT(ParseRecord(no_clicks),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("\"clicks\" is missing")));
  std::string v1_with_ad = e;
  v1_with_ad.replace(v1_with_ad.find("\"v\":2"), 5, "\"v\":1");
  EXPECT_THAT(ParseRecord(v1_with_ad),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("unknown field \"ad\"")));
}

TEST(RecordsExtraTest, UnknownVersionsAreRefusedClearly) {
  std::string c = EncodeRecord(SampleContent());
  c.replace(c.find("\"v\":1"), 5, "\"v\":2");
  EXPECT_THAT(ParseRecord(c),
              StatusIs(StatusCode::kUnimplemented, HasSubstr("content record version 2")));
  std::string a = EncodeRecord(SampleAd());
  a.replace(a.find("\"v\":1"), 5, "\"v\":3");
  EXPECT_THAT(ParseRecord(a),
              StatusIs(StatusCode::kUnimplemented, HasSubstr("ad record version 3")));
}

TEST(RecordsExtraTest, MalformedContentAndAdRecordsAreRefused) {
  auto replace = [](std::string s, std::string_view from, std::string_view to) {
    size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) s.replace(at, from.size(), to);
    return s;
  };
  std::string c = EncodeRecord(SampleContent());
  std::string a = EncodeRecord(SampleAd());
  struct Case {
    std::string name;
    std::string entry;
    std::string message;
  };
  std::vector<Case> cases = {
      {"content: missing pages", replace(c, "\"pages\":340,", ""), "\"pages\" is missing"},
      {"content: unknown field", replace(c, "\"v\":1", "\"v\":1,\"zz\":1"), "unknown field \"zz\""},
      {"content: negative bytes", replace(c, "9876543", "-5"), "\"bytes\""},
      {"content: string version", replace(c, "\"version\":12", "\"version\":\"12\""),
       "\"version\""},
      {"content: bad area", replace(c, "\"original\"", "\"both\""), "\"tieup\" or \"original\""},
      {"content: negative time", replace(c, "1790000000000001", "-1"), "\"time_micros\""},
      {"content: whitespace", replace(c, "\"pages\":340", "\"pages\": 340"), "canonical"},
      {"content: leading zero", replace(c, "\"pages\":340", "\"pages\":0340"), "JSON"},
      {"ad: bad owner", replace(a, "\"partner\"", "\"someone\""), "\"main\" or \"partner\""},
      {"ad: missing path", replace(a, "\"path\":\"/news/\\\"today\\\"\",", ""),
       "\"path\" is missing"},
      {"ad: negative impressions", replace(a, "\"impressions\":3", "\"impressions\":-3"),
       "\"impressions\""},
      {"ad: numeric owner", replace(a, "\"owner\":\"partner\"", "\"owner\":1"), "\"owner\""},
      {"ad: unknown field", replace(a, "\"v\":1", "\"v\":1,\"x\":\"\""), "unknown field \"x\""},
      {"ad: other escape", replace(a, "/news/", "\\/news/"), "canonical"},
  };
  for (const Case& k : cases) {
    auto r = ParseRecord(k.entry);
    EXPECT_FALSE(r.ok()) << k.name;
    if (!r.ok()) {
      EXPECT_THAT(r.status().message(), HasSubstr(k.message)) << k.name << ": " << k.entry;
    }
  }
}

}  // namespace
}  // namespace tieup::ledger
