// Request routing on a partner (DESIGN.md "Requests on tie-up pages"): a rule table that maps
// each order-placing request on a tie-up page to `local` (the partner processes it with its own
// inventory and payment), `delegate` (main processes it; the partner forwards it signed over the
// sync channel) or `consult` (the partner asks main for a command, then processes it itself).
//
// The table is a JSON document, set per partnership by main and shipped WITH THE RELEASE as the
// tie-up file `/.tieup/routing.json` (kRoutingTablePath). Main's authoring directory holds the
// default at `pages/.tieup/routing.json`; a partnership's overrides directory may hold its own
// `pages/.tieup/routing.json`, which replaces the default for that partner only (the ordinary
// override rule of content/builder.h). No table in the release: every request is local.
//
//   {
//     "default": "local",                      optional; "local" when absent
//     "rules": [                               first match wins; at most kMaxRules
//       {"name": "big orders need main's word",  optional, shown in logs
//        "path": "/shop/checkout",             path prefix (required, starts with '/')
//        "methods": ["POST"],                  optional; absent or empty: any method
//        "when": ["amount_minor >= 100000",    optional; every condition must hold
//                 "category == tea"],
//        "mode": "consult"}                    local | delegate | consult (required)
//     ]
//   }
//
// A condition is "FIELD OP VALUE": FIELD is [a-z0-9_.]+, OP one of == != < <= > >= ^= (starts
// with). The ordering operators need an integer VALUE (decimal, optional '-') and compare
// numerically; a field value that is not an integer fails them. == and != compare text, ^= a
// text prefix. VALUE may be quoted ("...") to hold spaces. A field can have several values (a
// cart holding two categories): a condition holds when ANY value satisfies it, except != which
// holds when NO value equals VALUE. A missing field fails every condition but !=.
//
// Requests on original pages are always local, whatever the table says (Decide enforces it).
//
// Parsing is strict: unknown keys, wrong types, unknown modes or operators, an empty path, more
// than kMaxRules rules or kMaxConditions conditions, or a document above kMaxRoutingTableBytes
// are kInvalidArgument with a message naming the rule and what to write instead.
//
// Pure values; a RoutingTable is immutable after Parse and safe to share across threads.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "commerce/shop.h"

namespace tieup::commerce {

inline constexpr std::string_view kRoutingTablePath = "/.tieup/routing.json";
inline constexpr size_t kMaxRoutingTableBytes = 64 * 1024;
inline constexpr size_t kMaxRules = 200;
inline constexpr size_t kMaxConditions = 16;

enum class RouteMode { kLocal, kDelegate, kConsult };
std::string_view RouteModeName(RouteMode mode);  // "local", "delegate", "consult"
// kInvalidArgument naming the accepted words.
Result<RouteMode> ParseRouteMode(std::string_view text);

// One parsed condition.
struct RouteCondition {
  enum class Op { kEq, kNe, kLt, kLe, kGt, kGe, kPrefix };
  std::string field;
  Op op = Op::kEq;
  std::string value;   // as written (unquoted)
  int64_t number = 0;  // the value, for the ordering operators
  std::string text;    // the condition as written, for messages
};

// Parses one condition ("amount_minor >= 100000"); kInvalidArgument saying what is wrong.
Result<RouteCondition> ParseRouteCondition(std::string_view text);

struct RouteRule {
  std::string name;
  std::string path_prefix;
  std::vector<std::string> methods;  // upper case; empty: any
  std::vector<RouteCondition> when;
  RouteMode mode = RouteMode::kLocal;
};

// What a request looks like to the router. `fields` holds the form fields and the derived
// fields the partner adds (see partner_site/shop_service.h: amount_minor, quantity, sku,
// category, lines).
struct RouteRequest {
  std::string_view method;
  std::string_view path;
  Area area = Area::kOriginal;
  std::multimap<std::string, std::string, std::less<>> fields;
};

struct RouteDecision {
  RouteMode mode = RouteMode::kLocal;
  int rule_index = -1;  // the matching rule; -1: none (default, or an original page)
  std::string why;      // "rule 2 'big orders' matched", "original page", "no rule matched"
};

class RoutingTable {
 public:
  // An empty table: everything local.
  RoutingTable() = default;
  // Parses the JSON document described above.
  static Result<RoutingTable> Parse(std::string_view json);

  // The mode for `request`: local for an original page; otherwise the first rule whose path
  // prefix, method and conditions all match; otherwise the default.
  RouteDecision Decide(const RouteRequest& request) const;

  const std::vector<RouteRule>& rules() const { return rules_; }
  RouteMode default_mode() const { return default_mode_; }

 private:
  std::vector<RouteRule> rules_;
  RouteMode default_mode_ = RouteMode::kLocal;
};

// True iff `condition` holds for `fields` (the rules above).
bool ConditionHolds(const RouteCondition& condition,
                    const std::multimap<std::string, std::string, std::less<>>& fields);

}  // namespace tieup::commerce
