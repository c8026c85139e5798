// Statement::ToHtml: a self-contained page with an inline SVG chart.
#include <algorithm>
#include <cstdio>

#include "base/encoding.h"
#include "base/money_format.h"
#include "fees/statement.h"

namespace tieup::fees {
namespace {

// An amount as the shop's pages write it (ICU), escaped for HTML.
std::string Money(int64_t minor, std::string_view currency) {
  return HtmlEscape(FormatMoney(minor, currency));
}

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// The largest value of the chart's y axis and its tick step: a step of 1, 2 or 5 times a power
// of ten giving at most 5 steps.
std::pair<uint64_t, uint64_t> Scale(uint64_t max) {
  if (max == 0) return {1, 1};
  uint64_t step = 1;
  while (true) {
    for (uint64_t m : {1, 2, 5}) {
      if (step * m * 5 >= max) {
        uint64_t s = step * m;
        return {(max + s - 1) / s * s, s};
      }
    }
    step *= 10;
  }
}

std::string Chart(const Statement& s) {
  constexpr double kWidth = 760, kHeight = 300;
  constexpr double kLeft = 64, kRight = 16, kTop = 36, kBottom = 48;
  const double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  const size_t n = s.daily.size();
  uint64_t max = 0, total = 0;
  for (const DailyAccesses& d : s.daily) {
    max = std::max({max, d.tieup, d.original});
    total += d.tieup + d.original;
  }
  // Plain variables, not a structured binding: clang before 16 cannot capture a binding in a
  // lambda (the clang build of make test-asan).
  const auto scale = Scale(max);
  const uint64_t top = scale.first, step = scale.second;
  auto x = [&](size_t i) { return kLeft + (n <= 1 ? plot_w / 2 : plot_w * i / (n - 1)); };
  auto y = [&](uint64_t v) {
    return kTop + plot_h - plot_h * static_cast<double>(v) / static_cast<double>(top);
  };
  std::string o;
  o += "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + Num(kWidth) + " " +
       Num(kHeight) + "\" width=\"" + Num(kWidth) + "\" height=\"" + Num(kHeight) +
       "\" role=\"img\" aria-labelledby=\"chart-title\">\n";
  o += "<title id=\"chart-title\">Successful accesses per day, tie-up and original pages, " +
       HtmlEscape(s.period.label) + "</title>\n";
  // Grid and y axis labels.
  for (uint64_t v = 0; v <= top; v += step) {
    o += "<line class=\"grid\" x1=\"" + Num(kLeft) + "\" y1=\"" + Num(y(v)) + "\" x2=\"" +
         Num(kLeft + plot_w) + "\" y2=\"" + Num(y(v)) + "\"/>";
    o += "<text class=\"ylabel\" x=\"" + Num(kLeft - 6) + "\" y=\"" + Num(y(v) + 4) + "\">" +
         std::to_string(v) + "</text>\n";
  }
  // Axes.
  o += "<line class=\"axis\" x1=\"" + Num(kLeft) + "\" y1=\"" + Num(kTop) + "\" x2=\"" +
       Num(kLeft) + "\" y2=\"" + Num(kTop + plot_h) + "\"/>";
  o += "<line class=\"axis\" x1=\"" + Num(kLeft) + "\" y1=\"" + Num(kTop + plot_h) + "\" x2=\"" +
       Num(kLeft + plot_w) + "\" y2=\"" + Num(kTop + plot_h) + "\"/>\n";
  // X labels: the day of the month, thinned out for long periods.
  size_t every = n <= 31 ? 1 : (n + 30) / 31;
  for (size_t i = 0; i < n; i += every) {
    std::string day = FormatDay(s.period.from_micros + static_cast<int64_t>(i) * kMicrosPerDay);
    o += "<text class=\"xlabel\" x=\"" + Num(x(i)) + "\" y=\"" + Num(kTop + plot_h + 16) + "\">" +
         day.substr(8, 2) + "</text>";
  }
  o += "\n<text class=\"axistitle\" x=\"" + Num(kLeft + plot_w / 2) + "\" y=\"" + Num(kHeight - 8) +
       "\">day (UTC), " + HtmlEscape(FormatDay(s.period.from_micros)) + " to " +
       HtmlEscape(FormatDay(s.period.to_micros - kMicrosPerDay)) + "</text>\n";
  o += "<text class=\"axistitle\" transform=\"translate(14 " + Num(kTop + plot_h / 2) +
       ") rotate(-90)\">successful accesses</text>\n";
  // Series.
  struct Series {
    const char* cls;
    const char* name;
    uint64_t DailyAccesses::*field;
  };
  const Series series[] = {{"tieup", "tie-up pages", &DailyAccesses::tieup},
                           {"original", "original pages", &DailyAccesses::original}};
  for (const Series& se : series) {
    o += "<polyline class=\"" + std::string(se.cls) + "\" points=\"";
    for (size_t i = 0; i < n; ++i) {
      o += (i ? " " : "") + Num(x(i)) + "," + Num(y(s.daily[i].*se.field));
    }
    o += "\"/>\n";
    if (n <= 62) {
      for (size_t i = 0; i < n; ++i) {
        o += "<circle class=\"" + std::string(se.cls) + "\" cx=\"" + Num(x(i)) + "\" cy=\"" +
             Num(y(s.daily[i].*se.field)) + "\" r=\"2.5\"><title>" +
             FormatDay(s.period.from_micros + static_cast<int64_t>(i) * kMicrosPerDay) + " " +
             se.name + ": " + std::to_string(s.daily[i].*se.field) + "</title></circle>";
      }
      o += "\n";
    }
  }
  if (total == 0) {
    o += "<text class=\"empty\" x=\"" + Num(kLeft + plot_w / 2) + "\" y=\"" +
         Num(kTop + plot_h / 2) + "\">No successful accesses in this period</text>\n";
  }
  // Legend.
  double lx = kLeft + plot_w - 250;
  o += "<rect class=\"tieup-key\" x=\"" + Num(lx) +
       "\" y=\"10\" width=\"14\" height=\"4\"/>"
       "<text class=\"legend\" x=\"" +
       Num(lx + 20) + "\" y=\"16\">tie-up pages</text>";
  o += "<rect class=\"original-key\" x=\"" + Num(lx + 125) +
       "\" y=\"10\" width=\"14\" height=\"4\"/><text class=\"legend\" x=\"" + Num(lx + 145) +
       "\" y=\"16\">original pages</text>\n";
  o += "</svg>\n";
  return o;
}

}  // namespace

std::string Statement::ToHtml() const {
  const Provenance& p = provenance;
  std::string o;
  o.reserve(16384 + daily.size() * 400);
  o += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  o +=
      "<title>Fee statement " + HtmlEscape(partner) + " " + HtmlEscape(period.label) + "</title>\n";
  o += R"(<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:60rem;color:#1b1b1b;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.25rem}
.sub{color:#555;margin-top:0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;font-size:.9rem}
dt{color:#555}dd{margin:0;overflow-wrap:anywhere}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85em}
table{border-collapse:collapse;width:100%;margin-top:1rem;font-size:.9rem}
th,td{border-bottom:1px solid #ddd;padding:.4rem .5rem;text-align:left;vertical-align:top}
td.amount,th.amount{text-align:right;white-space:nowrap}
tr.total td{font-weight:bold;border-top:2px solid #1b1b1b}
ul.inputs{margin:0;padding-left:1rem;font-size:.8rem;color:#333}
svg{max-width:100%;height:auto;margin-top:1rem}
svg .grid{stroke:#e4e4e4;stroke-width:1}
svg .axis{stroke:#333;stroke-width:1}
svg text{font-size:10px;fill:#333}
svg .ylabel{text-anchor:end}
svg .xlabel,svg .axistitle,svg .empty{text-anchor:middle}
svg .axistitle{font-size:11px}
svg .empty{font-size:14px;fill:#777}
svg polyline{fill:none;stroke-width:2}
svg polyline.tieup{stroke:#1f6fb2}svg circle.tieup,svg .tieup-key{fill:#1f6fb2}
svg polyline.original{stroke:#d9730d}svg circle.original,svg .original-key{fill:#d9730d}
.note{font-size:.8rem;color:#555}
</style>
</head>
<body>
)";
  o += "<h1>Partnership fee statement</h1>\n";
  o += "<p class=\"sub\">Partner <strong>" + HtmlEscape(partner) + "</strong>, period <strong>" +
       HtmlEscape(period.label) + "</strong> (" + FormatDay(period.from_micros) + " to " +
       FormatDay(period.to_micros - kMicrosPerDay) + ", UTC)</p>\n";
  o += "<dl>\n";
  auto item = [&](std::string_view k, const std::string& v) {
    o += "<dt>" + std::string(k) + "</dt><dd>" + v + "</dd>\n";
  };
  item("Total", "<strong>" + Money(total_minor, currency) + "</strong>");
  item("Currency",
       HtmlEscape(currency) + " (amounts in minor units: " + std::to_string(total_minor) + ")");
  item("Rounding", HtmlEscape(RoundingRuleName(rounding)) + ", once per line item");
  if (billing.stated) {
    const int64_t days = period.days();
    item("Billed days",
         FormatDay(billing.from_micros) + " to " + FormatDay(billing.to_micros - kMicrosPerDay) +
             (billing.days() < days
                  ? ": " + std::to_string(billing.days()) + " of " + std::to_string(days) +
                        " days, recurring fees prorated (the partnership did "
                        "not run the whole period, or the period has not "
                        "ended)"
                  : std::string(": the whole period")));
    std::string options;
    for (const std::string& opt : billing.options) {
      options += (options.empty() ? "" : ", ") + opt;
      if (billing.option_days.count(opt) != 0) {
        options += " (on " + std::to_string(billing.OptionDays(opt)) + " of the billed days)";
      }
    }
    item("Enabled options", options.empty() ? std::string("none") : HtmlEscape(options));
  }
  item("Contract SHA-256", "<code>" + HtmlEscape(contract_sha256) + "</code>");
  item("Ledger", HtmlEscape(p.checkpoint_origin));
  item("Checkpoint", "size " + std::to_string(p.checkpoint_size) + ", root <code>" +
                         HtmlEscape(p.checkpoint_root_hex) + "</code>");
  item("Entries in the period",
       p.any_in_period ? std::to_string(p.first_index) + " to " + std::to_string(p.last_index)
                       : std::string("none"));
  if (!p.excluded.empty() || p.excluded_entries > 0) {
    std::string ex = std::to_string(p.excluded_entries) + " entries skipped:<ul class=\"inputs\">";
    for (const ExcludedRange& r : p.excluded) {
      ex += "<li>[" + std::to_string(r.begin) + ", " + std::to_string(r.end) +
            "): " + HtmlEscape(r.reason) + "</li>";
    }
    item("Excluded ranges", ex + "</ul>");
  }
  if (p.unreadable_entries > 0) {
    item("Unreadable entries", std::to_string(p.unreadable_entries) + " skipped (first at index " +
                                   std::to_string(p.first_unreadable_index) + ")");
  }
  o += "</dl>\n";
  o += "<h2>Daily successful accesses</h2>\n";
  o += Chart(*this);
  o += "<h2>Line items</h2>\n<table>\n<thead><tr><th>Item</th><th>Inputs</th>"
       "<th class=\"amount\">Amount</th></tr></thead>\n<tbody>\n";
  for (const LineItem& l : lines) {
    o += "<tr><td>" + HtmlEscape(l.description) + "<br><code>" + HtmlEscape(l.code) +
         "</code></td><td><ul class=\"inputs\">";
    for (const LineInput& in : l.inputs) {
      o += "<li>" + HtmlEscape(in.name) + " = <code>" + HtmlEscape(in.value) + "</code></li>";
    }
    o += "</ul></td><td class=\"amount\">" + Money(l.amount_minor, currency) + "</td></tr>\n";
  }
  o += "<tr class=\"total\"><td>Total</td><td></td><td class=\"amount\">" +
       Money(total_minor, currency) + "</td></tr>\n</tbody>\n</table>\n";
  o += "<p class=\"note\">Every amount is computed from the contract above and the ledger "
       "entries committed to by the checkpoint. Check it with <code>tieup partner fees verify"
       "</code> against the CSV statement (statement_sha256 <code>" +
       HtmlEscape(statement_sha256) + "</code>).</p>\n";
  o += "</body>\n</html>\n";
  return o;
}

}  // namespace tieup::fees
