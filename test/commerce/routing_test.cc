#include "commerce/routing.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace tieup::commerce {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;

constexpr std::string_view kTable = R"({
  "default": "delegate",
  "rules": [
    {"name": "big orders", "path": "/shop/checkout", "methods": ["POST"],
     "when": ["amount_minor >= 100000"], "mode": "consult"},
    {"path": "/shop/checkout", "when": ["category == partner-goods"], "mode": "local"},
    {"path": "/shop/checkout", "when": ["country != DE", "sku ^= TEA-"], "mode": "local"},
    {"path": "/shop/", "methods": ["POST"], "mode": "delegate"}
  ]
})";

RouteRequest Checkout(std::initializer_list<std::pair<std::string, std::string>> fields) {
  RouteRequest r;
  r.method = "POST";
  r.path = "/shop/checkout";
  r.area = Area::kTieup;
  for (const auto& f : fields) r.fields.emplace(f.first, f.second);
  return r;
}

class RoutingTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = RoutingTable::Parse(kTable);
    ASSERT_THAT(t.status(), IsOk());
    table_ = *t;
  }
  RoutingTable table_;
};

TEST_F(RoutingTableTest, ParsesEveryPart) {
  ASSERT_EQ(table_.rules().size(), 4u);
  EXPECT_EQ(table_.default_mode(), RouteMode::kDelegate);
  EXPECT_EQ(table_.rules()[0].name, "big orders");
  EXPECT_EQ(table_.rules()[0].methods, std::vector<std::string>{"POST"});
  ASSERT_EQ(table_.rules()[0].when.size(), 1u);
  EXPECT_EQ(table_.rules()[0].when[0].field, "amount_minor");
  EXPECT_EQ(table_.rules()[0].when[0].number, 100000);
  EXPECT_EQ(table_.rules()[2].when[1].op, RouteCondition::Op::kPrefix);
}

TEST_F(RoutingTableTest, FirstMatchWins) {
  // Rules 1 and 2 both match: the first decides.
  RouteDecision d =
      table_.Decide(Checkout({{"amount_minor", "150000"}, {"category", "partner-goods"}}));
  EXPECT_EQ(d.mode, RouteMode::kConsult);
  EXPECT_EQ(d.rule_index, 0);
  EXPECT_THAT(d.why, HasSubstr("big orders"));
  d = table_.Decide(Checkout({{"amount_minor", "99999"}, {"category", "partner-goods"}}));
  EXPECT_EQ(d.mode, RouteMode::kLocal);
  EXPECT_EQ(d.rule_index, 1);
}

TEST_F(RoutingTableTest, NumericBoundaryIsInclusiveForGe) {
  EXPECT_EQ(table_.Decide(Checkout({{"amount_minor", "100000"}})).mode, RouteMode::kConsult);
  EXPECT_EQ(table_.Decide(Checkout({{"amount_minor", "99999"}})).rule_index, 3);
  // A non-integer value fails an ordering condition rather than matching by accident.
  EXPECT_EQ(table_.Decide(Checkout({{"amount_minor", "lots"}})).rule_index, 3);
}

TEST_F(RoutingTableTest, MultiValuedFieldsMatchAnyValue) {
  RouteDecision d = table_.Decide(Checkout({{"category", "tea"}, {"category", "partner-goods"}}));
  EXPECT_EQ(d.rule_index, 1);
}

TEST_F(RoutingTableTest, NotEqualHoldsWhenNoValueEqualsAndForMissingFields) {
  EXPECT_EQ(table_.Decide(Checkout({{"country", "FR"}, {"sku", "TEA-1"}})).rule_index, 2);
  EXPECT_EQ(table_.Decide(Checkout({{"sku", "TEA-1"}})).rule_index, 2);  // no country
  EXPECT_EQ(table_.Decide(Checkout({{"country", "DE"}, {"sku", "TEA-1"}})).rule_index, 3);
  EXPECT_EQ(table_.Decide(Checkout({{"country", "FR"}, {"sku", "MUG-1"}})).rule_index, 3);
}

TEST_F(RoutingTableTest, MethodAndPathMustMatchElseDefault) {
  RouteRequest r = Checkout({{"amount_minor", "500000"}});
  r.method = "GET";
  RouteDecision d = table_.Decide(r);
  EXPECT_EQ(d.rule_index, -1);
  EXPECT_EQ(d.mode, RouteMode::kDelegate);  // the table's default
  r.method = "POST";
  r.path = "/search";
  EXPECT_EQ(table_.Decide(r).rule_index, -1);
}

TEST_F(RoutingTableTest, OriginalPagesAreAlwaysLocal) {
  RouteRequest r = Checkout({{"amount_minor", "500000"}});
  r.area = Area::kOriginal;
  RouteDecision d = table_.Decide(r);
  EXPECT_EQ(d.mode, RouteMode::kLocal);
  EXPECT_EQ(d.rule_index, -1);
  EXPECT_THAT(d.why, HasSubstr("original"));
}

TEST(RoutingTableDefaults, EmptyTableAndMissingDefaultAreLocal) {
  RoutingTable empty;
  EXPECT_EQ(empty.Decide(Checkout({})).mode, RouteMode::kLocal);
  auto t = RoutingTable::Parse(R"({"rules": []})");
  ASSERT_THAT(t.status(), IsOk());
  EXPECT_EQ(t->Decide(Checkout({})).mode, RouteMode::kLocal);
  auto q = RoutingTable::Parse(R"({"rules":[{"path":"/","when":["note == \"two words\""],
      "mode":"delegate"}]})");
  ASSERT_THAT(q.status(), IsOk());
  EXPECT_EQ(q->Decide(Checkout({{"note", "two words"}})).mode, RouteMode::kDelegate);
}

struct BadTable {
  const char* json;
  const char* message;
};

class RoutingTableBadInput : public ::testing::TestWithParam<BadTable> {};

TEST_P(RoutingTableBadInput, IsRefusedWithAClearMessage) {
  auto t = RoutingTable::Parse(GetParam().json);
  EXPECT_THAT(t.status(), StatusIs(StatusCode::kInvalidArgument, HasSubstr(GetParam().message)))
      << GetParam().json;
}

INSTANTIATE_TEST_SUITE_P(
    All, RoutingTableBadInput,
    ::testing::Values(
        BadTable{"not json", "not valid JSON"}, BadTable{"[]", "must be a JSON object"},
        BadTable{R"({"rulez":[]})", "unknown key \"rulez\""},
        BadTable{R"({"default":"maybe"})", "unknown mode 'maybe'"},
        BadTable{R"({"rules":{}})", "\"rules\" must be an array"},
        BadTable{R"({"rules":[1]})", "rule 1 must be an object"},
        BadTable{R"({"rules":[{"mode":"local"}]})", "rule 1 lacks \"path\""},
        BadTable{R"({"rules":[{"path":"/shop/"}]})", "lacks \"mode\""},
        BadTable{R"({"rules":[{"path":"shop","mode":"local"}]})", "starting with '/'"},
        BadTable{R"({"rules":[{"path":"/","mode":"teleport"}]})", "unknown mode 'teleport'"},
        BadTable{R"({"rules":[{"path":"/","mode":"local","methods":["post"]}]})",
                 "upper-case method"},
        BadTable{R"({"rules":[{"path":"/","mode":"local","when":["amount_minor >= lots"]}]})",
                 "not an integer"},
        BadTable{R"({"rules":[{"path":"/","mode":"local","when":["amount_minor ~ 5"]}]})",
                 "no operator"},
        BadTable{R"({"rules":[{"path":"/","mode":"local","when":["Amount == 5"]}]})", "field name"},
        BadTable{R"({"rules":[{"path":"/","mode":"local","when":["a == two words"]}]})",
                 "quote the whole value"},
        BadTable{R"({"rules":[{"path":"/","mode":"local","when":[5]}]})", "must hold strings"},
        BadTable{R"({"rules":[{"path":"/","mode":"local","extra":1}]})", "unknown key \"extra\""}));

TEST(RoutingTableLimits, RefusesTooManyRulesAndOversizedDocuments) {
  std::string many = R"({"rules":[)";
  for (size_t i = 0; i <= kMaxRules; ++i) {
    many += std::string(i ? "," : "") + R"({"path":"/","mode":"local"})";
  }
  many += "]}";
  EXPECT_THAT(RoutingTable::Parse(many).status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("at most")));
  std::string huge = R"({"rules":[{"name":")" + std::string(kMaxRoutingTableBytes, 'x') +
                     R"(","path":"/","mode":"local"}]})";
  EXPECT_THAT(RoutingTable::Parse(huge).status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("bytes")));
  std::string conds = R"({"rules":[{"path":"/","mode":"local","when":[)";
  for (size_t i = 0; i <= kMaxConditions; ++i) conds += std::string(i ? "," : "") + "\"a == 1\"";
  conds += "]}]}";
  EXPECT_THAT(RoutingTable::Parse(conds).status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("conditions")));
}

TEST(RouteConditionTest, ParsesOperatorsAndRefusesBadOnes) {
  auto c = ParseRouteCondition("  amount_minor<=5 ");
  ASSERT_THAT(c.status(), IsOk());
  EXPECT_EQ(c->op, RouteCondition::Op::kLe);
  EXPECT_EQ(c->number, 5);
  c = ParseRouteCondition("sku ^= ");
  EXPECT_THAT(c.status(), StatusIs(StatusCode::kInvalidArgument, HasSubstr("empty prefix")));
  c = ParseRouteCondition("n > -3");
  ASSERT_THAT(c.status(), IsOk());
  EXPECT_TRUE(ConditionHolds(*c, {{"n", "0"}}));
  EXPECT_FALSE(ConditionHolds(*c, {{"n", "-3"}}));
  EXPECT_FALSE(ConditionHolds(*c, {}));
}

}  // namespace
}  // namespace tieup::commerce
