// The chart of a statement's successful accesses per day, as the consoles draw it: the numbers
// (in SVG viewBox units) for the template partial `_ledger_chart` (console/templates/), which
// draws a stacked bar per day (tie-up pages below, the partner's own pages above), gridlines
// with their counts and a label under some days, with a text description and the numbers per
// day for readers who do not see the chart. Server-rendered: no script draws it.
#pragma once

#include <boost/json/object.hpp>
#include <string>

#include "fees/statement.h"

namespace tieup::fees {

// How the chart names the partner's own pages, for whoever reads it.
struct StatementChartWords {
  std::string original_label = "Your own pages";  // the key: "Your own pages (12)"
  std::string original_words = "your own pages";  // the description: "... and 5 to your own pages"
};

// The partial's data for `st`: chart_id (the SVG's title and description ids, unique in the
// page), width, height, chart_title, desc, grid [{y, x1, x2, label, label_x, label_y}], bars
// [{x, width, has_tieup, tieup_y, tieup_height, has_original, original_y, original_height,
// tip}], xlabels [{x, y, label}], days [{day, tieup, original}] (the table of the numbers),
// tieup_total, original_total and original_label. Deterministic.
boost::json::object StatementChartData(const Statement& st, const std::string& chart_id,
                                       const StatementChartWords& words = {});

// A line's inputs for people, as the consoles list them beside the line: "original accesses 3,
// max percent 30" (names with spaces for underscores; the checkpoint, the same on every line,
// left out).
std::string LineInputsWords(const LineItem& line);

}  // namespace tieup::fees
