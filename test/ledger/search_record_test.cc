#include <gtest/gtest.h>

#include "ledger/records.h"
#include "test_support.h"

namespace tieup::ledger {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;

SearchRecord SampleSearch() { return {1'795'000'000'000'000, "Green tea", 0, "", std::nullopt}; }

SearchRecord SampleClick() {
  return {1'795'000'000'000'001, "green tea", 12, "/tea/sencha.html", RecordArea::kOriginal};
}

TEST(SearchRecordTest, SearchRoundTripsInCanonicalForm) {
  const std::string text = EncodeRecord(SampleSearch());
  EXPECT_EQ(text,
            "{\"query\":\"Green tea\",\"results\":0,\"time_micros\":1795000000000000,\"type\":"
            "\"search\",\"v\":1}");
  auto parsed = ParseRecord(text);
  ASSERT_THAT(parsed, IsOk());
  ASSERT_TRUE(std::holds_alternative<SearchRecord>(*parsed));
  EXPECT_EQ(std::get<SearchRecord>(*parsed), SampleSearch());
  // Through the variant too, with escapes, non-ASCII and the largest counts.
  SearchRecord odd = SampleSearch();
  odd.query = "\"th\\e\"\t caf\xC3\xA9 \xE3\x81\x8A\xE8\x8C\xB6";
  odd.results = UINT64_MAX;
  odd.time_micros = INT64_MAX;
  auto r = ParseRecord(EncodeRecord(LedgerRecord(odd)));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(std::get<SearchRecord>(*r), odd);
  SearchRecord empty = SampleSearch();  // an empty search box still counts as a search
  empty.query.clear();
  r = ParseRecord(EncodeRecord(empty));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(std::get<SearchRecord>(*r), empty);
}

TEST(SearchRecordTest, ClickRoundTripsInCanonicalForm) {
  const std::string text = EncodeRecord(SampleClick());
  EXPECT_EQ(text,
            "{\"clicked_area\":\"original\",\"clicked_path\":\"/tea/sencha.html\",\"query\":"
            "\"green tea\",\"results\":12,\"time_micros\":1795000000000001,\"type\":\"search\","
            "\"v\":1}");
  auto parsed = ParseRecord(text);
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(std::get<SearchRecord>(*parsed), SampleClick());
  SearchRecord tieup = SampleClick();
  tieup.clicked_area = RecordArea::kTieup;
  auto r = ParseRecord(EncodeRecord(LedgerRecord(tieup)));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(std::get<SearchRecord>(*r), tieup);
}

TEST(SearchRecordTest, InvalidUtf8IsRepairedWhenEncoded) {
  SearchRecord r = SampleSearch();
  r.query = "caf\xE9";  // Latin-1, as a misconfigured form might send it
  auto parsed = ParseRecord(EncodeRecord(r));
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(std::get<SearchRecord>(*parsed).query, "caf\xEF\xBF\xBD");
}

TEST(SearchRecordTest, QueryOfAtMost400BytesIsRead) {
  SearchRecord r = SampleSearch();
  r.query = std::string(kMaxSearchQueryBytes, 'q');
  EXPECT_THAT(ParseRecord(EncodeRecord(r)), IsOk());
  r.query.push_back('q');
  EXPECT_THAT(ParseRecord(EncodeRecord(r)),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("\"query\" is 401 bytes long; at most 400")));
}

TEST(SearchRecordTest, HalfAClickIsRefused) {
  SearchRecord r = SampleClick();
  r.clicked_area.reset();
  EXPECT_THAT(ParseRecord(EncodeRecord(r)),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("\"clicked_path\" without \"clicked_area\"")));
  r = SampleClick();
  r.clicked_path.clear();
  EXPECT_THAT(ParseRecord(EncodeRecord(r)),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("\"clicked_area\" without \"clicked_path\"")));
}

TEST(SearchRecordTest, ClickedPathMustBeAPath) {
  for (const char* path : {"tea.html", "https://example.com/tea.html", " /tea.html"}) {
    SearchRecord r = SampleClick();
    r.clicked_path = path;
    EXPECT_THAT(ParseRecord(EncodeRecord(r)),
                StatusIs(StatusCode::kInvalidArgument, HasSubstr("starting with '/'")))
        << path;
  }
  // Present but empty: not a path either (an encoder never writes it).
  std::string text = EncodeRecord(SampleClick());
  text.replace(text.find("/tea/sencha.html"), 16, "");
  EXPECT_THAT(ParseRecord(text),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("starting with '/'")));
}

TEST(SearchRecordTest, MalformedSearchRecordsAreRefused) {
  auto replace = [](std::string s, std::string_view from, std::string_view to) {
    size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) s.replace(at, from.size(), to);
    return s;
  };
  const std::string s = EncodeRecord(SampleSearch());
  const std::string c = EncodeRecord(SampleClick());
  struct Case {
    std::string name;
    std::string entry;
    StatusCode code;
    std::string message;
  };
  const StatusCode kBad = StatusCode::kInvalidArgument;
  std::vector<Case> cases = {
      {"missing query", replace(s, "\"query\":\"Green tea\",", ""), kBad, "\"query\" is missing"},
      {"missing results", replace(s, "\"results\":0,", ""), kBad, "\"results\" is missing"},
      {"missing time", replace(s, "\"time_micros\":1795000000000000,", ""), kBad,
       "\"time_micros\" is missing"},
      {"unknown field", replace(s, "\"v\":1", "\"v\":1,\"zz\":1"), kBad, "unknown field \"zz\""},
      {"numeric query", replace(s, "\"Green tea\"", "7"), kBad, "\"query\" must be a string"},
      {"negative results", replace(s, "\"results\":0", "\"results\":-1"), kBad, "\"results\""},
      {"string results", replace(s, "\"results\":0", "\"results\":\"0\""), kBad, "\"results\""},
      {"negative time", replace(s, "1795000000000000", "-1"), kBad, "\"time_micros\""},
      {"bad area", replace(c, "\"original\"", "\"both\""), kBad, "\"tieup\" or \"original\""},
      {"null area", replace(c, "\"original\"", "null"), kBad, "\"clicked_area\""},
      {"keys out of order",
       "{\"results\":0,\"query\":\"Green tea\",\"time_micros\":"
       "1795000000000000,\"type\":\"search\",\"v\":1}",
       kBad, "canonical"},
      {"whitespace", replace(s, "\"results\":0", "\"results\": 0"), kBad, "canonical"},
      {"other escape", replace(c, "/tea/", "\\/tea/"), kBad, "canonical"},
      {"version 2", replace(s, "\"v\":1", "\"v\":2"), StatusCode::kUnimplemented,
       "search record version 2"},
  };
  for (const Case& k : cases) {
    auto r = ParseRecord(k.entry);
    EXPECT_THAT(r, StatusIs(k.code, HasSubstr(k.message))) << k.name << ": " << k.entry;
  }
}

}  // namespace
}  // namespace tieup::ledger
