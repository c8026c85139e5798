#include "fees/billing.h"

#include <gtest/gtest.h>

#include "base/encoding.h"
#include "fees/inputs.h"
#include "fees/statement.h"
#include "ledger/merkle.h"
#include "ledger/records.h"
#include "test_support.h"

namespace tieup::fees {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;

int64_t At(std::string_view rfc3339) { return *ParseRfc3339(rfc3339) * 1'000'000; }

PartnershipContract Contract(std::string_view kind = "template") {
  auto c = ParseContract(std::string("partner = \"shop-b\"\nkind = \"") + std::string(kind) +
                         "\"\ncurrency = \"JPY\"\nbase_fee = 30000\n"
                         "[services.security]\nprice = 5000\n"
                         "[services.user_management]\nprice = 3000\n"
                         "[services.marketing]\nprice = 4500\n"
                         "[[content_tiers]]\nmeasure = \"tieup_pages\"\nfrom = 0\nfee = 3000\n"
                         "[advertising]\npool_minor = 20000\n"
                         "[transactions]\npercent_bp = 1000\nfixed_minor = 100\n");
  EXPECT_THAT(c, IsOk());
  return *c;
}

PartnershipTerms Terms(std::string_view added, std::vector<std::string> options = {}) {
  PartnershipTerms t;
  t.partner = "shop-b";
  t.kind = "template";
  t.added_micros = At(added);
  t.options = std::move(options);
  return t;
}

const int64_t kNow = At("2027-03-15T12:00:00Z");

TEST(BillingTest, PeriodsBeforeTheStartOrAfterTheEndOrNotBegunAreRefused) {
  const PartnershipContract c = Contract();
  PartnershipTerms t = Terms("2026-11-11T15:00:00Z");
  EXPECT_THAT(BillingFor(*ParsePeriod("1999-01"), c, t, kNow),
              StatusIs(StatusCode::kFailedPrecondition,
                       HasSubstr("period 1999-01 ends before the partnership with 'shop-b' began "
                                 "(added on 2026-11-11 UTC)")));
  EXPECT_THAT(BillingFor(*ParsePeriod("2026-10"), c, t, kNow),
              StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_THAT(BillingFor(*ParsePeriod("2030-01"), c, t, kNow),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("2030-01 has not begun")));
  t.revoked_micros = At("2027-01-20T08:00:00Z");
  EXPECT_THAT(BillingFor(*ParsePeriod("2027-02"), c, t, kNow),
              StatusIs(StatusCode::kFailedPrecondition,
                       HasSubstr("starts after the partnership with 'shop-b' ended (revoked on "
                                 "2027-01-20 UTC)")));
  EXPECT_THAT(BillingFor(*ParsePeriod("2026-12"), c, t, kNow), IsOk());
}

TEST(BillingTest, PartialPeriodsAreBilledFromTheDayAddedToTheDayRevokedOrToday) {
  const PartnershipContract c = Contract();
  PartnershipTerms t = Terms("2026-11-11T15:00:00Z");
  auto start = BillingFor(*ParsePeriod("2026-11"), c, t, kNow);
  ASSERT_THAT(start, IsOk());
  EXPECT_TRUE(start->stated);
  EXPECT_EQ(FormatDay(start->from_micros), "2026-11-11");  // the day added counts
  EXPECT_EQ(start->to_micros, At("2026-12-01T00:00:00Z"));
  EXPECT_EQ(start->days(), 20);
  auto whole = BillingFor(*ParsePeriod("2026-12"), c, t, kNow);
  ASSERT_THAT(whole, IsOk());
  EXPECT_EQ(whole->days(), 31);
  t.revoked_micros = At("2027-01-20T08:00:00Z");
  auto end = BillingFor(*ParsePeriod("2027-01"), c, t, kNow);
  ASSERT_THAT(end, IsOk());
  EXPECT_EQ(end->days(), 20);  // January 1..20: the day revoked counts
  t.revoked_micros = 0;
  auto running = BillingFor(*ParsePeriod("2027-03"), c, t, kNow);
  ASSERT_THAT(running, IsOk());
  EXPECT_EQ(running->days(), 15);  // to date: March 1..15
}

TEST(BillingTest, TheContractsKindMustBeThePartnerships) {
  EXPECT_THAT(BillingFor(*ParsePeriod("2026-12"), Contract("contents"),
                         Terms("2026-11-11T15:00:00Z"), kNow),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("the contract is for a 'contents' partnership but partner "
                                 "'shop-b' is a 'template' partnership")));
}

TEST(BillingTest, FeeOptionsParse) {
  auto m = ParseFeeOptions("marketing,security");
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(*m, (std::vector<std::string>{"marketing", "security"}));
  auto o = ParseFeeOptions("user_management, security,security");
  ASSERT_THAT(o, IsOk());
  EXPECT_EQ(*o, (std::vector<std::string>{"security", "user_management"}));
  EXPECT_THAT(ParseFeeOptions(""), IsOk());
  EXPECT_THAT(ParseFeeOptions("security,coffee"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("'coffee' is not an optional")));
}

// A ledger of entries in memory, aggregated as main and the partner do.
class BilledStatementTest : public ::testing::Test {
 protected:
  void Add(const ledger::LedgerRecord& r) { entries_.push_back(ledger::EncodeRecord(r)); }

  Result<PeriodInputs> Aggregate(const Billing& billing) {
    ledger::Checkpoint cp{
        "example.com/shop-b/access", entries_.size(), ledger::RootFromEntries(entries_), {}};
    AggregationOptions ao;
    ao.partner = "shop-b";
    ao.currency = "JPY";
    ao.period = *ParsePeriod("2026-11");
    ao.billing = billing;
    return AggregateEntries(entries_, cp, ao);
  }

  // `csv` reads back with `billing`, and the partner's recomputation from the scope it states
  // agrees with it.
  void ExpectReadBackAndAgreed(const std::string& csv, const PartnershipContract& c,
                               const Billing& billing) {
    auto parsed = ParseStatementCsv(csv);
    ASSERT_THAT(parsed, IsOk());
    EXPECT_EQ(parsed->billing, billing);
    auto scope = ReadStatementScope(csv);
    ASSERT_THAT(scope, IsOk());
    auto own = Aggregate(scope->billing);
    ASSERT_THAT(own, IsOk());
    auto report = VerifyStatement(csv, c, *own);
    ASSERT_THAT(report, IsOk());
    EXPECT_TRUE(report->agrees) << report->ToText();
  }

  std::vector<std::string> entries_;
};

const LineItem* FindLine(const Statement& s, std::string_view code) {
  for (const LineItem& l : s.lines) {
    if (l.code == code) return &l;
  }
  return nullptr;
}

TEST_F(BilledStatementTest, ProratedDisabledOptionsNotChargedAndVerifiable) {
  const PartnershipContract c = Contract();
  auto billing = BillingFor(*ParsePeriod("2026-11"), c,
                            Terms("2026-11-11T15:00:00Z", {"user_management"}), kNow);
  ASSERT_THAT(billing, IsOk());
  auto in = Aggregate(*billing);
  ASSERT_THAT(in, IsOk());
  auto s = ComputeStatement(c, *in);
  ASSERT_THAT(s, IsOk());
  // 20 of 30 days: 30000 * 2/3 = 20000; content 3000 -> 2000; user management 3000 -> 2000.
  const LineItem* base = FindLine(*s, "base");
  ASSERT_NE(base, nullptr);
  EXPECT_EQ(base->amount_minor, 20000);
  EXPECT_THAT(base->description, HasSubstr("prorated: 20 of 30 days, 2026-11-11 to 2026-11-30"));
  EXPECT_EQ(FindLine(*s, "service.security"), nullptr);  // priced, not enabled: not charged
  EXPECT_EQ(FindLine(*s, "service.marketing"), nullptr);
  ASSERT_NE(FindLine(*s, "service.user_management"), nullptr);
  EXPECT_EQ(FindLine(*s, "service.user_management")->amount_minor, 2000);
  EXPECT_EQ(FindLine(*s, "content.tieup_pages")->amount_minor, 2000);
  const std::string csv = s->ToCsv();
  EXPECT_THAT(csv, HasSubstr("header,format,tieup-fee-statement/2,,\n"));
  EXPECT_THAT(csv, HasSubstr("header,billed_from,2026-11-11,,\nheader,billed_to,2026-12-01,,\n"
                             "header,enabled_options,user_management,,\n"));
  EXPECT_THAT(s->ToHtml(), HasSubstr("20 of 30 days, recurring fees prorated"));
  // Read back, and recomputed by the partner from the scope the statement states.
  ExpectReadBackAndAgreed(csv, c, *billing);
  // A statement claiming another billing does not agree with the recomputation.
  Billing whole = *billing;
  whole.from_micros = At("2026-11-01T00:00:00Z");
  auto other = Aggregate(whole);
  ASSERT_THAT(other, IsOk());
  auto disagree = VerifyStatement(csv, c, *other);
  ASSERT_THAT(disagree, IsOk());
  EXPECT_FALSE(disagree->agrees);
}

// Issue 17 item 7: a service is charged for the billed days it was on, read from its switches
// on and off; the statement says so and the partner's recomputation agrees.
TEST_F(BilledStatementTest, AServiceIsChargedForTheDaysItWasOn) {
  const PartnershipContract c = Contract();
  PartnershipTerms t = Terms("2026-10-01T00:00:00Z", {"user_management"});
  // Security on from November 21 (10 days of 30); user management on all along (never
  // switched); nothing else.
  t.option_changes = {{"security", true, At("2026-11-21T09:00:00Z")}};
  t.options = {"security", "user_management"};
  auto billing = BillingFor(*ParsePeriod("2026-11"), c, t, kNow);
  ASSERT_THAT(billing, IsOk());
  EXPECT_EQ(billing->days(), 30);
  EXPECT_EQ(billing->options, (std::vector<std::string>{"security", "user_management"}));
  EXPECT_EQ(billing->OptionDays("security"), 10);
  EXPECT_EQ(billing->OptionDays("user_management"), 30);
  auto in = Aggregate(*billing);
  ASSERT_THAT(in, IsOk());
  auto s = ComputeStatement(c, *in);
  ASSERT_THAT(s, IsOk());
  const LineItem* security = FindLine(*s, "service.security");
  ASSERT_NE(security, nullptr);
  EXPECT_EQ(security->amount_minor, 1667);  // 5000 * 10 / 30, rounded half up
  EXPECT_THAT(security->description, HasSubstr("prorated: on 10 of 30 days"));
  EXPECT_EQ(FindLine(*s, "service.user_management")->amount_minor, 3000);
  EXPECT_EQ(FindLine(*s, "base")->amount_minor, 30000);
  const std::string csv = s->ToCsv();
  EXPECT_THAT(csv, HasSubstr("header,enabled_options,security:10;user_management,,\n"));
  EXPECT_THAT(s->ToHtml(), HasSubstr("security (on 10 of the billed days), user_management"));
  ExpectReadBackAndAgreed(csv, c, *billing);

  // Switched off on November 5 and on again on the 28th: the 1st..5th and 28th..30th (8 days;
  // the days of a switch count).
  t.option_changes = {{"security", false, At("2026-11-05T10:00:00Z")},
                      {"security", true, At("2026-11-28T10:00:00Z")}};
  EXPECT_EQ(BillingFor(*ParsePeriod("2026-11"), c, t, kNow)->OptionDays("security"), 8);
  // Off since October: not charged in November at all, though it was on once.
  t.options = {"user_management"};
  t.option_changes = {{"security", true, At("2026-10-02T00:00:00Z")},
                      {"security", false, At("2026-10-20T00:00:00Z")}};
  auto off = BillingFor(*ParsePeriod("2026-11"), c, t, kNow);
  EXPECT_EQ(off->options, std::vector<std::string>{"user_management"});
  EXPECT_EQ(off->OptionDays("security"), 0);
  // Switched off mid-November, never switched before: on from the start until then.
  t.option_changes = {{"security", false, At("2026-11-03T08:00:00Z")}};
  EXPECT_EQ(BillingFor(*ParsePeriod("2026-11"), c, t, kNow)->OptionDays("security"), 3);
}

TEST_F(BilledStatementTest, TheMarketingServiceIsALineWhenThePartnershipEnablesIt) {
  const PartnershipContract c = Contract();
  EXPECT_TRUE(c.marketing.enabled);
  EXPECT_EQ(c.marketing.price_minor, 4500);
  PartnershipTerms t = Terms("2026-10-01T00:00:00Z", {"marketing"});
  t.option_changes = {{"marketing", true, At("2026-11-16T09:00:00Z")}};
  auto billing = BillingFor(*ParsePeriod("2026-11"), c, t, kNow);
  ASSERT_THAT(billing, IsOk());
  EXPECT_EQ(billing->OptionDays("marketing"), 15);
  auto in = Aggregate(*billing);
  ASSERT_THAT(in, IsOk());
  auto s = ComputeStatement(c, *in);
  ASSERT_THAT(s, IsOk());
  const LineItem* marketing = FindLine(*s, "service.marketing");
  ASSERT_NE(marketing, nullptr);
  EXPECT_EQ(marketing->amount_minor, 2250);  // 4500 * 15 / 30
  EXPECT_THAT(marketing->description, HasSubstr("Direct marketing service"));
  ExpectReadBackAndAgreed(s->ToCsv(), c, *billing);
}

TEST(BillingTest, EnabledOptionsParseStrictly) {
  Billing b;
  b.stated = true;
  b.from_micros = At("2026-11-01T00:00:00Z");
  b.to_micros = At("2026-12-01T00:00:00Z");
  ASSERT_THAT(ParseEnabledOptions("security:10;user_management", b), IsOk());
  EXPECT_EQ(b.OptionDays("security"), 10);
  EXPECT_EQ(EncodeEnabledOptions(b), "security:10;user_management");
  ASSERT_THAT(ParseEnabledOptions("", b), IsOk());
  EXPECT_TRUE(b.options.empty());
  for (const char* bad : {"security:30", "security:0", "security:010", "security:", "security:x",
                          "user_management;security", "security;security", "coffee", "security;",
                          "security,user_management", "security :3"}) {
    EXPECT_THAT(ParseEnabledOptions(bad, b),
                StatusIs(StatusCode::kInvalidArgument, HasSubstr("enabled_options")))
        << bad;
  }
}

TEST_F(BilledStatementTest, WithoutTermsTheStatementIsAsBefore) {
  auto in = Aggregate(Billing{});
  ASSERT_THAT(in, IsOk());
  auto s = ComputeStatement(Contract(), *in);
  ASSERT_THAT(s, IsOk());
  EXPECT_THAT(s->ToCsv(), HasSubstr("header,format,tieup-fee-statement/1,,\n"));
  EXPECT_EQ(FindLine(*s, "base")->amount_minor, 30000);
  EXPECT_NE(FindLine(*s, "service.security"), nullptr);
  EXPECT_THAT(ParseStatementCsv(s->ToCsv()), IsOk());
}

TEST_F(BilledStatementTest, CancelledOrdersAreNotCharged) {
  using Area = ledger::RecordArea;
  const int64_t nov2 = At("2026-11-02T10:00:00Z");
  Add(ledger::OrderRecord{nov2, "A-1", "shop-b", Area::kTieup, 10000, "JPY", 1});
  Add(ledger::OrderRecord{nov2 + 1, "A-2", "shop-b", Area::kTieup, 5000, "JPY", 1});
  Add(ledger::OrderCancelRecord{nov2 + 2, "A-2", "shop-b", Area::kTieup, 5000, "JPY", "cancelled"});
  // The same cancellation recorded twice (the recorder stopped before noting it): counted once.
  Add(ledger::OrderCancelRecord{nov2 + 2, "A-2", "shop-b", Area::kTieup, 5000, "JPY", "cancelled"});
  // Cancelled in November, ordered in October: taken back in November.
  Add(ledger::OrderCancelRecord{nov2 + 3, "A-0", "shop-b", Area::kTieup, 2000, "JPY", "refunded"});
  // Cancelled in December: not this period's.
  Add(ledger::OrderCancelRecord{At("2026-12-02T00:00:00Z"), "A-1", "shop-b", Area::kTieup, 10000,
                                "JPY", "cancelled"});
  auto in = Aggregate(Billing{});
  ASSERT_THAT(in, IsOk());
  EXPECT_EQ(in->tieup_orders.orders, 2u);
  EXPECT_EQ(in->tieup_orders.cancellations, 2u);
  EXPECT_EQ(in->tieup_orders.cancelled_amount_minor, 7000);
  EXPECT_EQ(in->tieup_orders.net_amount_minor, 8000);
  auto s = ComputeStatement(Contract(), *in);
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(FindLine(*s, "transactions.percent")->amount_minor, 800);  // 10% of 8000
  EXPECT_EQ(FindLine(*s, "transactions.fixed")->amount_minor, 0);      // 2 orders - 2 cancelled
  EXPECT_THAT(FindLine(*s, "transactions.percent")->description,
              HasSubstr("cancelled and refunded orders subtracted"));
  EXPECT_THAT(ParseStatementCsv(s->ToCsv()), IsOk());
}

// The fuzz seed of a billed statement (fuzz/corpus/fee_statement) stays a valid statement.
TEST(BillingTest, FuzzSeedStatementReads) {
  auto env = NewPosixEnv();
  auto csv = env->ReadFile(std::string(TIEUP_SOURCE_DIR) +
                           "/fuzz/corpus/fee_statement/statement_billed.csv");
  ASSERT_THAT(csv, IsOk());
  auto s = ParseStatementCsv(*csv);
  ASSERT_THAT(s, IsOk());
  EXPECT_TRUE(s->billing.stated);
  EXPECT_EQ(s->billing.options, std::vector<std::string>{"security"});
  EXPECT_EQ(s->ToCsv(), *csv);
}

}  // namespace
}  // namespace tieup::fees
