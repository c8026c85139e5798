// Fuzzes the partner's routing rule table (commerce/routing.h), which arrives in a release:
// RoutingTable::Parse, Decide on a few typical checkouts, and single conditions.
//
// Properties: an accepted table stays within kMaxRules and kMaxConditions, every rule has a
// path starting with '/', Decide names an existing rule (or none), and an original page is
// always local.
#include <string>

#include "commerce/routing.h"
#include "fuzz_util.h"

using namespace tieup::commerce;

namespace {

void CheckDecision(const RoutingTable& table, const RouteRequest& request) {
  RouteDecision d = table.Decide(request);
  FUZZ_CHECK(d.rule_index >= -1);
  FUZZ_CHECK(d.rule_index < static_cast<int>(table.rules().size()));
  if (request.area == Area::kOriginal) FUZZ_CHECK(d.mode == RouteMode::kLocal);
  if (d.rule_index >= 0) FUZZ_CHECK(d.mode == table.rules()[d.rule_index].mode);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = tieup::fuzz::AsText(data, size);
  auto table = RoutingTable::Parse(text);
  if (table.ok()) {
    FUZZ_CHECK(table->rules().size() <= kMaxRules);
    for (const RouteRule& rule : table->rules()) {
      FUZZ_CHECK(!rule.path_prefix.empty() && rule.path_prefix.front() == '/');
      FUZZ_CHECK(rule.when.size() <= kMaxConditions);
    }
    RouteRequest r;
    r.method = "POST";
    r.path = "/shop/checkout";
    r.area = Area::kTieup;
    r.fields = {{"amount_minor", "150000"},
                {"category", "tea"},
                {"category", "partner-goods"},
                {"sku", "TEA-1"},
                {"quantity", "-3"},
                {"country", "DE"},
                {"lines", "99999999999999999999"}};
    CheckDecision(*table, r);
    r.method = "GET";
    r.path = "/";
    r.fields.clear();
    CheckDecision(*table, r);
    r.area = Area::kOriginal;
    CheckDecision(*table, r);
  }
  auto condition = ParseRouteCondition(text);
  if (condition.ok()) {
    std::multimap<std::string, std::string, std::less<>> fields = {
        {condition->field, condition->value}, {condition->field, "-9223372036854775808"}};
    (void)ConditionHolds(*condition, fields);
    if (condition->op != RouteCondition::Op::kNe) {
      FUZZ_CHECK(!ConditionHolds(*condition, {}));  // a missing field fails all but !=
    }
  }
  return 0;
}
