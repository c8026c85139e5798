#include "fees/statement_chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>

namespace tieup::fees {
namespace {

namespace json = boost::json;

std::string Count(uint64_t n) { return std::to_string(n); }

std::string Num(double v) { return fmt::format("{:.1f}", v); }

// The smallest "nice" step (1, 2 or 5 times a power of ten) that covers `max` in at most four
// steps.
uint64_t NiceStep(uint64_t max) {
  for (uint64_t power = 1;; power *= 10) {
    for (uint64_t m : {1, 2, 5}) {
      if (m * power * 4 >= max) return m * power;
    }
  }
}

}  // namespace

std::string LineInputsWords(const LineItem& line) {
  std::string words;
  for (const LineInput& in : line.inputs) {
    if (in.name == "checkpoint") continue;
    std::string name = in.name;
    std::replace(name.begin(), name.end(), '_', ' ');
    words += (words.empty() ? "" : ", ") + name + " " + in.value;
  }
  return words;
}

json::object StatementChartData(const Statement& st, const std::string& chart_id,
                                const StatementChartWords& words) {
  constexpr double kWidth = 720, kHeight = 240, kLeft = 60, kRight = 8, kTop = 12, kBottom = 34;
  const double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  const double base_y = kTop + plot_h;
  const size_t days = std::max<size_t>(st.daily.size(), 1);
  uint64_t max = 1, tieup_total = 0, original_total = 0, busiest = 0;
  size_t busiest_day = 0;
  for (size_t i = 0; i < st.daily.size(); ++i) {
    const uint64_t total = st.daily[i].tieup + st.daily[i].original;
    max = std::max(max, total);
    tieup_total += st.daily[i].tieup;
    original_total += st.daily[i].original;
    if (total > busiest) {
      busiest = total;
      busiest_day = i;
    }
  }
  const uint64_t step = NiceStep(max);
  const uint64_t top = (max + step - 1) / step * step;
  auto y_of = [&](uint64_t v) { return base_y - plot_h * static_cast<double>(v) / top; };
  auto day_label = [&](size_t i) {
    return FormatDay(st.period.from_micros + static_cast<int64_t>(i) * kMicrosPerDay);
  };

  json::array grid;
  for (uint64_t v = 0; v <= top; v += step) {
    grid.push_back(json::object{{"y", Num(y_of(v))},
                                {"x1", Num(kLeft)},
                                {"x2", Num(kWidth - kRight)},
                                {"label", Count(v)},
                                {"label_x", Num(kLeft - 6)},
                                {"label_y", Num(y_of(v) + 4)}});
  }
  const double slot = plot_w / static_cast<double>(days);
  const double bar_w = std::max(1.0, slot * 0.72);
  json::array bars;
  for (size_t i = 0; i < st.daily.size(); ++i) {
    const DailyAccesses& d = st.daily[i];
    const double x = kLeft + slot * static_cast<double>(i) + (slot - bar_w) / 2;
    const double tieup_top = y_of(d.tieup);
    const double total_top = y_of(d.tieup + d.original);
    bars.push_back(json::object{{"x", Num(x)},
                                {"width", Num(bar_w)},
                                {"has_tieup", d.tieup > 0},
                                {"tieup_y", Num(tieup_top)},
                                {"tieup_height", Num(base_y - tieup_top)},
                                {"has_original", d.original > 0},
                                {"original_y", Num(total_top)},
                                {"original_height", Num(tieup_top - total_top)},
                                {"tip", day_label(i) + ": " + Count(d.tieup) + " tie-up, " +
                                            Count(d.original) + " original"}});
  }
  // A label under the first day and then every week (every few weeks for long periods).
  const size_t every = st.daily.size() <= 62 ? 7 : (st.daily.size() / 6 + 6) / 7 * 7;
  const bool one_month =
      st.daily.empty() || day_label(0).substr(0, 7) == day_label(st.daily.size() - 1).substr(0, 7);
  json::array xlabels;
  for (size_t i = 0; i < st.daily.size(); i += every) {
    const std::string day = day_label(i);
    xlabels.push_back(json::object{
        {"x", Num(kLeft + slot * (static_cast<double>(i) + 0.5))},
        {"y", Num(kHeight - 6)},
        {"label", one_month ? std::to_string(std::stoi(day.substr(8))) : day.substr(5)}});
  }
  std::string desc = Count(tieup_total) + " accesses to tie-up pages and " + Count(original_total) +
                     " to " + words.original_words + " over " + Count(st.daily.size()) + " days";
  if (busiest > 0)
    desc += "; the busiest day was " + day_label(busiest_day) + " with " + Count(busiest);
  json::array table;
  for (size_t i = 0; i < st.daily.size(); ++i) {
    table.push_back(json::object{{"day", day_label(i)},
                                 {"tieup", Count(st.daily[i].tieup)},
                                 {"original", Count(st.daily[i].original)}});
  }
  return json::object{{"chart_id", chart_id},
                      {"width", Num(kWidth)},
                      {"height", Num(kHeight)},
                      {"chart_title", "Accesses per day, " + st.period.label},
                      {"desc", desc + "."},
                      {"grid", std::move(grid)},
                      {"bars", std::move(bars)},
                      {"xlabels", std::move(xlabels)},
                      {"days", std::move(table)},
                      {"tieup_total", Count(tieup_total)},
                      {"original_total", Count(original_total)},
                      {"original_label", words.original_label}};
}

}  // namespace tieup::fees
