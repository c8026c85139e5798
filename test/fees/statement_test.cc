#include "fees/statement.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace tieup::fees {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;

const std::string kRoot(64, 'a');

// Inputs for shop-b in November 2026, in JPY, with nothing in them yet.
PeriodInputs EmptyInputs() {
  PeriodInputs in;
  in.partner = "shop-b";
  in.currency = "JPY";
  in.period = *ParsePeriod("2026-11");
  in.daily.assign(30, DailyAccesses{});
  in.provenance.checkpoint_origin = "example.com/shop-b/access";
  in.provenance.checkpoint_size = 1000;
  in.provenance.checkpoint_root_hex = kRoot;
  return in;
}

// Spreads successful accesses over the first days of the period, as aggregation would.
void SetAccesses(PeriodInputs& in, uint64_t tieup, uint64_t original) {
  in.tieup_accesses = tieup;
  in.original_accesses = original;
  in.total_accesses = tieup + original;
  for (DailyAccesses& d : in.daily) d = {};
  in.daily[0] = {tieup / 2, original / 3};
  in.daily[1] = {tieup - tieup / 2, original - original / 3};
}

PartnershipContract Contract(std::string_view extra, std::string_view rounding = "half-even") {
  std::string text =
      "partner = \"shop-b\"\nkind = \"template\"\ncurrency = \"JPY\"\n"
      "base_fee = 30000\nrounding = \"" +
      std::string(rounding) + "\"\n" + std::string(extra);
  auto c = ParseContract(text);
  EXPECT_THAT(c, IsOk()) << text;
  return *c;
}

const LineItem* FindLine(const Statement& s, std::string_view code) {
  for (const LineItem& l : s.lines) {
    if (l.code == code) return &l;
  }
  return nullptr;
}

std::string InputOf(const LineItem& l, std::string_view name) {
  for (const LineInput& in : l.inputs) {
    if (in.name == name) return in.value;
  }
  return "(absent)";
}

int64_t Amount(const PartnershipContract& c, const PeriodInputs& in, std::string_view code) {
  auto s = ComputeStatement(c, in);
  EXPECT_THAT(s, IsOk());
  if (!s.ok()) return INT64_MIN;
  const LineItem* l = FindLine(*s, code);
  EXPECT_NE(l, nullptr) << code;
  return l ? l->amount_minor : INT64_MIN;
}

constexpr std::string_view kFullContract = R"(
[services.security]
price = 5000
[services.user_management]
enabled = false
price = 3000
[[content_tiers]]
measure = "original_pages"
from = 0
fee = 4000
[[content_tiers]]
measure = "original_pages"
from = 200
fee = 1000
[[content_tiers]]
measure = "tieup_bytes"
from = 1000000
fee = 2500
[access_discount]
max_percent = 30
at_original_share_percent = 50
[[volume.tiers]]
threshold_accesses = 10000
discount_percent = 5
[[volume.tiers]]
threshold_accesses = 100000
discount_percent = 10
[advertising]
pool_minor = 20000
[transactions]
percent_bp = 250
fixed_minor = 30
)";

PeriodInputs BusyInputs() {
  PeriodInputs in = EmptyInputs();
  SetAccesses(in, 9000, 3000);
  in.tieup_content = {true, 7, 500, 2'000'000, 11};
  in.original_content = {true, 3, 150, 90'000, 12};
  in.tieup_orders = {40, 2, 1'234'567};
  in.original_orders = {5, 0, 80'000};
  in.main_ad_impressions = 3;
  in.partner_ad_impressions = 1;
  in.provenance.any_in_period = true;
  in.provenance.first_index = 20;
  in.provenance.last_index = 990;
  return in;
}

TEST(StatementTest, EveryRuleHasItsLineWithInputs) {
  auto s = ComputeStatement(Contract(kFullContract), BusyInputs());
  ASSERT_THAT(s, IsOk());
  std::vector<std::string> codes;
  for (const LineItem& l : s->lines) codes.push_back(l.code);
  EXPECT_EQ(codes, (std::vector<std::string>{"base", "service.security", "content.tieup_bytes",
                                             "content.original_pages", "discount.access",
                                             "discount.volume", "advertising",
                                             "transactions.percent", "transactions.fixed"}));
  // discountable = 30000 + 2500 + 4000 = 36500; share 3000/12000 = 25% -> 15% = 5475;
  // volume 12000 >= 10000 -> 5% = 1825; ads 3/4 of 20000; 2.5% of 1234567 = 30864.175 -> 30864;
  // 40 orders * 30.
  EXPECT_EQ(FindLine(*s, "discount.access")->amount_minor, -5475);
  EXPECT_EQ(InputOf(*FindLine(*s, "discount.access"), "original_share_percent"), "25.00");
  EXPECT_EQ(InputOf(*FindLine(*s, "discount.access"), "discount_percent"), "15.00");
  EXPECT_EQ(InputOf(*FindLine(*s, "discount.access"), "checkpoint"), "1000:" + kRoot);
  EXPECT_EQ(FindLine(*s, "discount.volume")->amount_minor, -1825);
  EXPECT_EQ(InputOf(*FindLine(*s, "discount.volume"), "threshold_accesses"), "10000");
  EXPECT_EQ(FindLine(*s, "advertising")->amount_minor, 15000);
  EXPECT_EQ(FindLine(*s, "transactions.percent")->amount_minor, 30864);
  EXPECT_EQ(FindLine(*s, "transactions.fixed")->amount_minor, 1200);
  EXPECT_EQ(InputOf(*FindLine(*s, "content.tieup_bytes"), "amount"), "2000000");
  EXPECT_EQ(InputOf(*FindLine(*s, "content.tieup_bytes"), "release_version"), "7");
  EXPECT_EQ(InputOf(*FindLine(*s, "content.original_pages"), "tier_from"), "0");
  EXPECT_EQ(s->total_minor, 30000 + 5000 + 2500 + 4000 - 5475 - 1825 + 15000 + 30864 + 1200);
}

TEST(StatementTest, SameOriginalPagesButMoreOriginalAccessesPaysLess) {
  PartnershipContract c = Contract(kFullContract);
  PeriodInputs quiet = BusyInputs();
  PeriodInputs popular = BusyInputs();
  SetAccesses(quiet, 9000, 500);
  SetAccesses(popular, 9000, 4500);
  ASSERT_EQ(quiet.original_content, popular.original_content);
  auto a = ComputeStatement(c, quiet);
  auto b = ComputeStatement(c, popular);
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_LT(b->total_minor, a->total_minor);
  EXPECT_LT(FindLine(*b, "discount.access")->amount_minor,
            FindLine(*a, "discount.access")->amount_minor);
  // The discount is capped once the original share reaches 50%.
  PeriodInputs dominant = BusyInputs();
  SetAccesses(dominant, 1000, 100000);
  PeriodInputs half = BusyInputs();
  SetAccesses(half, 50500, 50500);  // same volume tier as `dominant`
  EXPECT_EQ(Amount(c, dominant, "discount.access"), -36500 * 30 / 100);
  EXPECT_EQ(Amount(c, half, "discount.access"), -36500 * 30 / 100);
  // No accesses at all: no discount, and no division by zero.
  PeriodInputs none = BusyInputs();
  SetAccesses(none, 0, 0);
  EXPECT_EQ(Amount(c, none, "discount.access"), 0);
  EXPECT_EQ(
      InputOf(*FindLine(*ComputeStatement(c, none), "discount.access"), "original_share_percent"),
      "0.00");
}

TEST(StatementTest, CrossingTheVolumeThreshold) {
  PartnershipContract c = Contract(kFullContract);
  PeriodInputs below = BusyInputs();
  PeriodInputs at = BusyInputs();
  PeriodInputs above = BusyInputs();
  SetAccesses(below, 9999, 0);
  SetAccesses(at, 10000, 0);
  SetAccesses(above, 100000, 0);
  EXPECT_EQ(Amount(c, below, "discount.volume"), 0);
  EXPECT_EQ(Amount(c, at, "discount.volume"), -1825);     // 5% of 36500
  EXPECT_EQ(Amount(c, above, "discount.volume"), -3650);  // 10%
  EXPECT_LT(ComputeStatement(c, at)->total_minor, ComputeStatement(c, below)->total_minor);
  EXPECT_EQ(
      InputOf(*FindLine(*ComputeStatement(c, below), "discount.volume"), "threshold_accesses"),
      "none");
}

TEST(StatementTest, TransactionFeesOnTieupSalesOnly) {
  PartnershipContract c = Contract(kFullContract);
  PeriodInputs original_only = BusyInputs();
  original_only.tieup_orders = {};
  original_only.original_orders = {100, 0, 10'000'000};
  EXPECT_EQ(Amount(c, original_only, "transactions.percent"), 0);
  EXPECT_EQ(Amount(c, original_only, "transactions.fixed"), 0);
  auto s = ComputeStatement(c, original_only);
  EXPECT_EQ(InputOf(*FindLine(*s, "transactions.percent"), "original_net_amount_not_charged"),
            "10000000");

  PeriodInputs tieup = original_only;
  tieup.tieup_orders = {100, 0, 10'000'000};
  EXPECT_EQ(Amount(c, tieup, "transactions.percent"), 250'000);
  EXPECT_EQ(Amount(c, tieup, "transactions.fixed"), 3000);

  // Refunds reduce the net amount and pay no fixed fee; a net refund pays nothing.
  PeriodInputs refunds = BusyInputs();
  refunds.tieup_orders = {1, 3, -5000};
  EXPECT_EQ(Amount(c, refunds, "transactions.percent"), 0);
  EXPECT_EQ(Amount(c, refunds, "transactions.fixed"), 30);
}

TEST(StatementTest, AdvertisingFollowsMainsShareOfAdsShown) {
  PartnershipContract c = Contract(kFullContract);
  PeriodInputs in = BusyInputs();
  in.main_ad_impressions = 0;
  in.partner_ad_impressions = 0;
  EXPECT_EQ(Amount(c, in, "advertising"), 0);
  in.partner_ad_impressions = 1000;
  EXPECT_EQ(Amount(c, in, "advertising"), 0);
  in.main_ad_impressions = 1000;
  EXPECT_EQ(Amount(c, in, "advertising"), 10000);
  in.main_ad_impressions = 3000;
  EXPECT_EQ(Amount(c, in, "advertising"), 15000);
  in.partner_ad_impressions = 0;
  EXPECT_EQ(Amount(c, in, "advertising"), 20000);
  // 1/3 of 20000 = 6666.67 -> 6667; main share shown to two decimals, rounded down.
  in.main_ad_impressions = 1;
  in.partner_ad_impressions = 2;
  EXPECT_EQ(Amount(c, in, "advertising"), 6667);
  EXPECT_EQ(InputOf(*FindLine(*ComputeStatement(c, in), "advertising"), "main_share_percent"),
            "33.33");
}

TEST(StatementTest, RoundingAtHalfMinorUnitsUnderEachRule) {
  // 1% of a net amount of 50, 150 and 250 is 0.5, 1.5 and 2.5 minor units.
  struct Case {
    int64_t net;
    int64_t half_even, half_up, down;
  };
  for (const Case& k : {Case{50, 0, 1, 0}, Case{150, 2, 2, 1}, Case{250, 2, 3, 2},
                        Case{149, 1, 1, 1}, Case{151, 2, 2, 1}}) {
    PeriodInputs in = EmptyInputs();
    in.tieup_orders = {1, 0, k.net};
    std::string tx = "[transactions]\npercent_bp = 100\n";
    EXPECT_EQ(Amount(Contract(tx, "half-even"), in, "transactions.percent"), k.half_even) << k.net;
    EXPECT_EQ(Amount(Contract(tx, "half-up"), in, "transactions.percent"), k.half_up) << k.net;
    EXPECT_EQ(Amount(Contract(tx, "down"), in, "transactions.percent"), k.down) << k.net;
  }
  // A discount of exactly x.5: 15% of 30000 * 1/900 ... use base 1 and 50%: 0.5.
  PeriodInputs in = EmptyInputs();
  SetAccesses(in, 0, 10);
  auto tiny = [](std::string_view rounding) {
    auto c = ParseContract(
        "partner = \"shop-b\"\nkind = \"link\"\ncurrency = \"JPY\"\n"
        "base_fee = 3\nrounding = \"" +
        std::string(rounding) +
        "\"\n[access_discount]\nmax_percent = 50\n"
        "at_original_share_percent = 100\n");
    EXPECT_THAT(c, IsOk());
    return *c;
  };
  EXPECT_EQ(Amount(tiny("half-even"), in, "discount.access"), -2);  // 1.5 -> 2
  EXPECT_EQ(Amount(tiny("half-up"), in, "discount.access"), -2);
  EXPECT_EQ(Amount(tiny("down"), in, "discount.access"), -1);
}

TEST(StatementTest, DiscountsNeverMakeTheTotalNegative) {
  // Both discounts at 50% of 1 minor unit round up to 1 each under half-up: the volume discount
  // is capped at what is left.
  auto c = ParseContract(R"(
partner = "shop-b"
kind = "link"
currency = "JPY"
base_fee = 1
rounding = "half-up"
[access_discount]
max_percent = 50
at_original_share_percent = 100
[volume]
threshold_accesses = 0
discount_percent = 50
)");
  ASSERT_THAT(c, IsOk());
  PeriodInputs in = EmptyInputs();
  SetAccesses(in, 0, 10);
  auto s = ComputeStatement(*c, in);
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(FindLine(*s, "discount.access")->amount_minor, -1);
  EXPECT_EQ(FindLine(*s, "discount.volume")->amount_minor, 0);
  EXPECT_EQ(s->total_minor, 0);
}

TEST(StatementTest, HugeInputsAreExactAndAbsurdOnesRefused) {
  auto c = ParseContract(R"(
partner = "shop-b"
kind = "link"
currency = "JPY"
base_fee = 1000000000000000
[access_discount]
max_percent = 30
at_original_share_percent = 100
[advertising]
pool_minor = 1000000000000000
[transactions]
percent_bp = 10000
fixed_minor = 1
)");
  ASSERT_THAT(c, IsOk());
  PeriodInputs in = EmptyInputs();
  in.tieup_accesses = UINT64_MAX;
  in.original_accesses = UINT64_MAX;
  in.main_ad_impressions = UINT64_MAX;
  in.partner_ad_impressions = UINT64_MAX;
  in.tieup_orders = {1, 0, 1'000'000'000'000'000};
  auto s = ComputeStatement(*c, in);
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(FindLine(*s, "discount.access")->amount_minor, -150'000'000'000'000);  // 15%
  EXPECT_EQ(FindLine(*s, "advertising")->amount_minor, 500'000'000'000'000);
  EXPECT_GT(s->total_minor, kMaxMoneyMinor);  // the sum of lines that are each within bounds
  auto parsed = ParseStatementCsv(s->ToCsv());
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(*parsed, *s);

  in.tieup_orders = {1, 0, INT64_MAX};  // 100% of an absurd amount
  EXPECT_THAT(ComputeStatement(*c, in), StatusIs(StatusCode::kOutOfRange, HasSubstr("absurd")));
  in.tieup_orders = {UINT64_MAX, 0, 0};  // fixed fee on an absurd number of orders
  EXPECT_THAT(ComputeStatement(*c, in), StatusIs(StatusCode::kOutOfRange));
}

TEST(StatementTest, InputsForAnotherPartnerOrCurrencyAreRefused) {
  PartnershipContract c = Contract("");
  PeriodInputs in = EmptyInputs();
  in.partner = "shop-c";
  EXPECT_THAT(ComputeStatement(c, in),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("\"shop-c\"")));
  in = EmptyInputs();
  in.currency = "USD";
  EXPECT_THAT(ComputeStatement(c, in), StatusIs(StatusCode::kInvalidArgument, HasSubstr("USD")));
  in = EmptyInputs();
  in.daily.pop_back();
  EXPECT_THAT(ComputeStatement(c, in), StatusIs(StatusCode::kInvalidArgument));
}

TEST(StatementTest, SameInputsGiveByteIdenticalOutput) {
  PartnershipContract c = Contract(kFullContract);
  auto a = ComputeStatement(c, BusyInputs());
  auto b = ComputeStatement(c, BusyInputs());
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(a->ToCsv(), b->ToCsv());
  EXPECT_EQ(a->ToHtml(), b->ToHtml());
}

TEST(StatementTest, CsvRoundTripAndLayout) {
  PeriodInputs in = BusyInputs();
  in.provenance.excluded = {{3, 9, "rewrite, \"detected\"\nby main"}, {40, 41, "fork"}};
  in.provenance.excluded_entries = 7;
  in.provenance.unreadable_entries = 2;
  in.provenance.first_unreadable_index = 77;
  auto s = ComputeStatement(Contract(kFullContract), in);
  ASSERT_THAT(s, IsOk());
  std::string csv = s->ToCsv();
  EXPECT_EQ(csv.rfind("section,item,value,inputs,amount_minor\nheader,format,"
                      "tieup-fee-statement/1,,\nheader,partner,shop-b,,\n",
                      0),
            0u)
      << csv;
  EXPECT_THAT(csv, HasSubstr("\nday,2026-11-01,,tieup=4500;original=1000,\n"));
  EXPECT_THAT(csv, HasSubstr("\nday,2026-11-30,,tieup=0;original=0,\n"));
  EXPECT_THAT(csv, HasSubstr("\nexcluded,3..9,\"rewrite, \"\"detected\"\"\nby main\",,\n"));
  EXPECT_THAT(csv, HasSubstr("\nline,advertising,"));
  EXPECT_THAT(csv, HasSubstr("\ntotal,total,,," + std::to_string(s->total_minor) + "\n"));
  auto parsed = ParseStatementCsv(csv);
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(*parsed, *s);
  EXPECT_EQ(parsed->ToCsv(), csv);

  // A month without a single access or entry round-trips too.
  auto empty = ComputeStatement(Contract(""), EmptyInputs());
  ASSERT_THAT(empty, IsOk());
  auto parsed_empty = ParseStatementCsv(empty->ToCsv());
  ASSERT_THAT(parsed_empty, IsOk());
  EXPECT_EQ(*parsed_empty, *empty);
}

TEST(StatementTest, MalformedCsvIsRefusedNamingTheLine) {
  std::string csv = ComputeStatement(Contract(kFullContract), BusyInputs())->ToCsv();
  auto replace = [&](std::string_view from, std::string_view to) {
    std::string s = csv;
    size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) s.replace(at, from.size(), to);
    return s;
  };
  struct Case {
    std::string name;
    std::string csv;
    std::string message;
  };
  std::vector<Case> cases = {
      {"empty", "", "empty"},
      {"columns", replace("amount_minor\n", "amount\n"), "line 1: the column header"},
      {"no final newline", csv.substr(0, csv.size() - 1), "does not end with a newline"},
      {"trailing row", csv + "extra,,,,\n", "nothing may follow the digest"},
      {"missing header row", replace("header,currency,JPY,,\n", ""), "\"currency\""},
      {"bad format", replace("tieup-fee-statement/1", "tieup-fee-statement/9"), "newer tieup"},
      {"bad period", replace("header,period,2026-11,", "header,period,2026-13,"), "period"},
      {"period mismatch", replace("header,period_to,2026-12-01", "header,period_to,2026-12-02"),
       "do not match"},
      {"six fields", replace("header,partner,shop-b,,", "header,partner,shop-b,,,"),
       "has 6 fields"},
      {"bad quoting", replace("header,partner,shop-b,,", "header,partner,sh\"op-b,,"), "quote"},
      {"unclosed quote", csv + "\"open", "not closed"},
      {"missing day", replace("day,2026-11-02,,tieup=4500;original=2000,\n", ""),
       "expected the day row for 2026-11-02"},
      {"bad day inputs", replace("tieup=4500;original=2000", "tieup=4500"), "tieup=<n>"},
      {"bad input", replace("kind=template", "kind=templ ate"), "is not name=value"},
      {"bad amount",
       replace("\nline,base,Base fee (template partnership),kind=template;"
               "base_fee=30000,30000\n",
               "\nline,base,Base fee (template partnership),kind=template;"
               "base_fee=30000,30000.0\n"),
       "integer of minor units"},
      {"wrong total", replace("\ntotal,total,,,", "\ntotal,total,,,1"), "is not the sum"},
      {"no digest", csv.substr(0, csv.find("digest,")), "expected the digest row"},
      {"short digest", replace("statement_sha256,", "statement_sha256,0"), "digest row"},
      {"ledger range reversed", replace("ledger_first_index,20,", "ledger_first_index,995,"),
       "first <= last"},
      {"leading zero", replace("checkpoint_size,1000,", "checkpoint_size,01000,"),
       "checkpoint_size is not a decimal"},
  };
  for (const Case& k : cases) {
    EXPECT_THAT(ParseStatementCsv(k.csv),
                StatusIs(StatusCode::kInvalidArgument, HasSubstr(k.message)))
        << k.name;
  }
  // Well-formed but altered after it was made: the digest says so.
  std::string altered = replace("tieup=4500;original=1000", "tieup=4501;original=1000");
  EXPECT_THAT(ParseStatementCsv(altered),
              StatusIs(StatusCode::kDataLoss, HasSubstr("altered after it was made")));
}

TEST(StatementTest, RecomputedStatementAgrees) {
  PartnershipContract c = Contract(kFullContract);
  std::string csv = ComputeStatement(c, BusyInputs())->ToCsv();
  auto report = VerifyStatement(csv, c, BusyInputs());
  ASSERT_THAT(report, IsOk());
  EXPECT_TRUE(report->agrees);
  EXPECT_TRUE(report->differences.empty());
  EXPECT_EQ(report->ToText().rfind("agrees: statement for partner shop-b, period 2026-11", 0), 0u)
      << report->ToText();
}

TEST(StatementTest, AStatementAlteredByAnyOneByteDoesNotVerify) {
  PartnershipContract c = Contract(kFullContract);
  std::string csv = ComputeStatement(c, BusyInputs())->ToCsv();
  size_t reported = 0, refused = 0;
  for (size_t i = 0; i < csv.size(); ++i) {
    std::string altered = csv;
    altered[i] = static_cast<char>(altered[i] ^ 0x01);
    auto report = VerifyStatement(altered, c, BusyInputs());
    if (report.ok()) {
      EXPECT_FALSE(report->agrees) << "byte " << i;
      ++reported;
    } else {
      ++refused;
    }
  }
  EXPECT_GT(reported, 0u);
  EXPECT_GT(refused, 0u);
  // One changed amount: the report names the line and the digest, with both values.
  std::string changed = csv;
  size_t at = changed.find("\nline,advertising,");
  at = changed.find(",15000\n", at);
  changed.replace(at, 7, ",15001\n");
  auto report = VerifyStatement(changed, c, BusyInputs());
  ASSERT_THAT(report, IsOk());
  EXPECT_FALSE(report->agrees);
  ASSERT_GE(report->differences.size(), 1u);
  EXPECT_EQ(report->differences[0],
            (Difference{"line advertising amount_minor", "15001", "15000"}));
  EXPECT_THAT(report->ToText(), HasSubstr("does not agree"));
  EXPECT_THAT(report->ToText(), HasSubstr("digest statement_sha256"));
  EXPECT_THAT(report->ToText(), HasSubstr("the statement's lines add up to"));
}

TEST(StatementTest, DifferentOwnLedgerOrContractIsReportedLineByLine) {
  PartnershipContract c = Contract(kFullContract);
  std::string csv = ComputeStatement(c, BusyInputs())->ToCsv();
  PeriodInputs mine = BusyInputs();
  SetAccesses(mine, 9000, 2990);  // the partner's ledger has 10 fewer original accesses
  mine.provenance.checkpoint_root_hex = std::string(64, 'b');
  auto report = VerifyStatement(csv, c, mine);
  ASSERT_THAT(report, IsOk());
  EXPECT_FALSE(report->agrees);
  std::string text = report->ToText();
  EXPECT_THAT(text, HasSubstr("header checkpoint_root value: statement says \"" + kRoot + "\""));
  EXPECT_THAT(text, HasSubstr("line discount.access input original_accesses: statement says "
                              "\"3000\", recomputed \"2990\""));
  EXPECT_THAT(text, HasSubstr("line discount.access amount_minor"));
  EXPECT_THAT(
      text,
      HasSubstr("day 2026-11-02 input original: statement says \"2000\", recomputed \"1994\""));
  EXPECT_THAT(text, Not(HasSubstr("digest statement_sha256")));  // the statement is intact

  PartnershipContract other = Contract(std::string(kFullContract) + "# amended\n");
  auto by_contract = VerifyStatement(csv, other, BusyInputs());
  ASSERT_THAT(by_contract, IsOk());
  ASSERT_EQ(by_contract->differences.size(), 1u);
  EXPECT_EQ(by_contract->differences[0].what, "header contract_sha256 value");

  EXPECT_THAT(VerifyStatement("not,a,statement\n", c, BusyInputs()),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST(StatementTest, HtmlHasTheChartTheLinesAndEscapesPartnerText) {
  PeriodInputs in = BusyInputs();
  in.provenance.checkpoint_origin = "shop-b/<b>log</b>";
  in.provenance.excluded = {{1, 2, "<script>alert('x')</script> & more"}};
  in.provenance.excluded_entries = 1;
  auto s = ComputeStatement(Contract(kFullContract), in);
  ASSERT_THAT(s, IsOk());
  std::string html = s->ToHtml();
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_THAT(html, HasSubstr("<style>"));
  EXPECT_THAT(html, HasSubstr("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_THAT(html, HasSubstr("<polyline class=\"tieup\""));
  EXPECT_THAT(html, HasSubstr("<polyline class=\"original\""));
  EXPECT_THAT(html, HasSubstr(">tie-up pages</text>"));
  EXPECT_THAT(html, HasSubstr(">original pages</text>"));
  EXPECT_THAT(html, HasSubstr("successful accesses</text>"));  // y axis title
  EXPECT_THAT(html, HasSubstr(">5000</text>"));                // a y tick (max 4500)
  EXPECT_THAT(html, HasSubstr("2026-11-01 tie-up pages: 4500"));
  EXPECT_THAT(html, HasSubstr("discount.access"));
  EXPECT_THAT(html, HasSubstr("original_accesses = <code>3000</code>"));
  EXPECT_THAT(html, HasSubstr("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more"));
  EXPECT_THAT(html, HasSubstr("shop-b/&lt;b&gt;log&lt;/b&gt;"));
  EXPECT_THAT(html, Not(HasSubstr("<script>")));
  EXPECT_THAT(html, Not(HasSubstr("<b>log")));
  EXPECT_THAT(html, Not(HasSubstr("No successful accesses")));
  EXPECT_THAT(html, HasSubstr(std::to_string(s->total_minor / 1000) + ","));  // grouped total
}

TEST(StatementTest, HtmlForAMonthWithoutAccesses) {
  auto s = ComputeStatement(Contract(""), EmptyInputs());
  ASSERT_THAT(s, IsOk());
  std::string html = s->ToHtml();
  EXPECT_THAT(html, HasSubstr("No successful accesses in this period"));
  EXPECT_THAT(html, HasSubstr("<polyline class=\"tieup\""));
  EXPECT_THAT(html, Not(HasSubstr("nan")));
  EXPECT_THAT(html, Not(HasSubstr("inf")));
  EXPECT_THAT(html, HasSubstr("¥30,000"));
}

}  // namespace
}  // namespace tieup::fees
