#include "fees/statement_chart.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace tieup::fees {
namespace {

namespace json = boost::json;

// A statement of three days of November 2026: 3 + 1, nothing, 12 + 5 accesses.
Statement ThreeDays() {
  Statement st;
  st.partner = "shop-a";
  auto period = ParsePeriod("2026-11-01..2026-11-04");
  EXPECT_TRUE(period.ok());
  st.period = *period;
  st.daily = {{3, 1}, {0, 0}, {12, 5}};
  return st;
}

std::string Text(const json::value& v) { return std::string(v.as_string()); }

TEST(StatementChartTest, ABarPerDayOnAGridThatCoversTheBusiestDay) {
  StatementChartWords words;
  words.original_label = "Tea House Asahi's own pages";
  words.original_words = "Tea House Asahi's own pages";
  const json::object chart = StatementChartData(ThreeDays(), "chart-1", words);
  EXPECT_EQ(Text(chart.at("chart_title")), "Accesses per day, 2026-11-01..2026-11-04");
  EXPECT_EQ(Text(chart.at("tieup_total")), "15");
  EXPECT_EQ(Text(chart.at("original_total")), "6");
  EXPECT_EQ(Text(chart.at("original_label")), "Tea House Asahi's own pages");
  EXPECT_EQ(Text(chart.at("desc")),
            "15 accesses to tie-up pages and 6 to Tea House Asahi's own pages over 3 days; the "
            "busiest day was 2026-11-03 with 17.");
  const json::array& bars = chart.at("bars").as_array();
  ASSERT_EQ(bars.size(), 3u);
  EXPECT_EQ(Text(bars[0].at("tip")), "2026-11-01: 3 tie-up, 1 original");
  EXPECT_FALSE(bars[1].at("has_tieup").as_bool());
  EXPECT_FALSE(bars[1].at("has_original").as_bool());
  // 17 at most: steps of 5 up to 20, the top gridline at the plot's top (y 12).
  const json::array& grid = chart.at("grid").as_array();
  ASSERT_EQ(grid.size(), 5u);
  EXPECT_EQ(Text(grid.back().at("label")), "20");
  EXPECT_EQ(Text(grid.back().at("y")), "12.0");
  const json::array& days = chart.at("days").as_array();
  ASSERT_EQ(days.size(), 3u);
  EXPECT_EQ(Text(days[2].at("day")), "2026-11-03");
  EXPECT_EQ(Text(days[2].at("tieup")), "12");
}

TEST(StatementChartTest, LineInputsInWordsWithoutTheCheckpoint) {
  LineItem line;
  line.inputs = {{"original_accesses", "3"}, {"checkpoint", "16:abcd"}, {"max_percent", "30"}};
  EXPECT_EQ(LineInputsWords(line), "original accesses 3, max percent 30");
  EXPECT_EQ(LineInputsWords(LineItem{}), "");
}

}  // namespace
}  // namespace tieup::fees
