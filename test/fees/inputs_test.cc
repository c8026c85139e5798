#include "fees/inputs.h"

#include <gtest/gtest.h>

#include "base/encoding.h"
#include "fees/statement.h"
#include "ledger/records.h"
#include "test_support.h"

namespace tieup::fees {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

int64_t MicrosAt(std::string_view rfc3339, int64_t extra_micros = 0) {
  return *ParseRfc3339(rfc3339) * 1'000'000 + extra_micros;
}

TEST(PeriodTest, MonthsAndDayRanges) {
  auto nov = ParsePeriod("2026-11");
  ASSERT_THAT(nov, IsOk());
  EXPECT_EQ(nov->from_micros, MicrosAt("2026-11-01T00:00:00Z"));
  EXPECT_EQ(nov->to_micros, MicrosAt("2026-12-01T00:00:00Z"));
  EXPECT_EQ(nov->days(), 30);
  EXPECT_EQ(nov->label, "2026-11");
  auto dec = ParsePeriod("2026-12");
  ASSERT_THAT(dec, IsOk());
  EXPECT_EQ(dec->to_micros, MicrosAt("2027-01-01T00:00:00Z"));
  EXPECT_EQ(ParsePeriod("2028-02")->days(), 29);
  EXPECT_EQ(ParsePeriod("2027-02")->days(), 28);
  auto week = ParsePeriod("2026-11-03..2026-11-10");
  ASSERT_THAT(week, IsOk());
  EXPECT_EQ(week->days(), 7);
  EXPECT_EQ(FormatDay(week->from_micros), "2026-11-03");
  EXPECT_EQ(FormatDay(MicrosAt("2026-11-30T23:59:59Z", 999999)), "2026-11-30");
}

TEST(PeriodTest, BadPeriodsAreRefused) {
  for (std::string_view bad :
       {"2026-13", "2026-00", "26-11", "2026-1", "2026/11", "", "1969-12", "2026-11-31..2026-12-02",
        "2026-11-10..2026-11-10", "2026-11-10..2026-11-03", "2026-11-01..2028-01-01",
        "2026-11-01..", "2026-11-01..2026-11-0x"}) {
    EXPECT_THAT(ParsePeriod(bad), StatusIs(StatusCode::kInvalidArgument)) << bad;
  }
  EXPECT_THAT(ParsePeriod("2026-11-10..2026-11-03"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("ends before it starts")));
  EXPECT_THAT(ParsePeriod("2026-11-01..2028-01-01"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("at most 400")));
}

ledger::AccessRecord AccessRecordAt(ledger::RecordArea area, int32_t status, int64_t time) {
  ledger::AccessRecord r;
  r.time_micros = time;
  r.area = area;
  r.method = "GET";
  r.path = area == ledger::RecordArea::kTieup ? "/shop/item" : "/about";
  r.status = status;
  r.bytes = 100;
  r.session_id = "s";
  return r;
}

ledger::OrderRecord Order(ledger::RecordArea area, int64_t amount, int64_t time,
                          std::string currency = "JPY") {
  static int n = 0;
  return {time, "o-" + std::to_string(++n), "shop-b", area, amount, std::move(currency), 1};
}

class AggregateTest : public ::testing::Test {
 protected:
  using Area = ledger::RecordArea;

  void SetUp() override {
    auto log = ledger::Log::Open(*env_, dir_.Sub("ledger"));
    ASSERT_THAT(log, IsOk());
    log_ = std::move(*log);
    options_.partner = "shop-b";
    options_.currency = "JPY";
    options_.period = *ParsePeriod("2026-11");
  }

  void Add(const ledger::LedgerRecord& r) {
    ASSERT_THAT(log_->Append(ledger::EncodeRecord(r)), IsOk());
  }

  ledger::Checkpoint Head() {
    ledger::TreeHead head = log_->Head();
    return {"example.com/shop-b/access", head.size, head.root, {}};
  }

  // Records spanning October and November 2026, with the boundary exactly at midnight UTC.
  void WriteTwoMonths() {
    const int64_t nov1 = MicrosAt("2026-11-01T00:00:00Z");
    const int64_t dec1 = MicrosAt("2026-12-01T00:00:00Z");
    Add(ledger::ContentRecord{MicrosAt("2026-10-02T09:00:00Z"), Area::kTieup, 4, 120, 800000});
    Add(ledger::ContentRecord{MicrosAt("2026-10-03T09:00:00Z"), Area::kOriginal, 1, 10, 5000});
    Add(AccessRecordAt(Area::kTieup, 200, nov1 - 1));     // Oct 31, 23:59:59.999999: not November
    Add(AccessRecordAt(Area::kTieup, 200, nov1));         // exactly midnight: November 1
    Add(AccessRecordAt(Area::kOriginal, 200, nov1 + 5));  // November 1
    Add(AccessRecordAt(Area::kOriginal, 301,
                       nov1 + 3'600'000'000));            // redirects count as successful
    Add(AccessRecordAt(Area::kTieup, 404, nov1 + 7));     // counts in total only
    Add(AccessRecordAt(Area::kOriginal, 500, nov1 + 8));  // counts in total only
    Add(ledger::RegistrationRecord{nov1 + 9, "shop-b", "u-1", Area::kTieup});
    Add(Order(Area::kTieup, 10000, nov1 + 10));
    Add(Order(Area::kTieup, 2500, nov1 + 11));
    Add(Order(Area::kTieup, -1000, nov1 + 12));  // a refund
    Add(Order(Area::kOriginal, 7000, nov1 + 13));
    Add(Order(Area::kTieup, 999, nov1 + 14, "USD"));  // another currency
    Add(Order(Area::kTieup, 5000, nov1 - 2));         // October
    Add(ledger::AdRecord{nov1 + 15, ledger::AdOwner::kMain, 30, "/", 0, ""});
    Add(ledger::AdRecord{nov1 + 16, ledger::AdOwner::kPartner, 10, "/", 0, ""});
    Add(ledger::AdRecord{dec1, ledger::AdOwner::kMain, 1000, "/", 0, ""});  // December
    Add(ledger::ContentRecord{MicrosAt("2026-11-20T00:00:00Z"), Area::kOriginal, 2, 25, 9000});
    Add(ledger::ContentRecord{dec1, Area::kOriginal, 3, 999, 99999});  // after the period
    Add(AccessRecordAt(Area::kTieup, 200, dec1 - 1));  // November 30, last microsecond
    Add(AccessRecordAt(Area::kOriginal, 200, dec1));   // December 1: not November
  }

  std::unique_ptr<Env> env_ = NewPosixEnv();
  TempDir dir_;
  std::unique_ptr<ledger::Log> log_;
  AggregationOptions options_;
};

TEST_F(AggregateTest, TwoMonthsOfRecordsSplitExactlyAtMidnightUtc) {
  WriteTwoMonths();
  auto in = AggregateFromLedger(*log_, Head(), options_);
  ASSERT_THAT(in, IsOk());
  ASSERT_EQ(in->daily.size(), 30u);
  EXPECT_EQ(in->daily[0], (DailyAccesses{1, 2}));
  EXPECT_EQ(in->daily[29], (DailyAccesses{1, 0}));
  for (size_t d = 1; d < 29; ++d) EXPECT_EQ(in->daily[d], DailyAccesses{}) << d;
  EXPECT_EQ(in->tieup_accesses, 2u);
  EXPECT_EQ(in->original_accesses, 2u);
  EXPECT_EQ(in->total_accesses, 6u);
  EXPECT_EQ(in->tieup_content, (ContentAmount{true, 4, 120, 800000, 0}));
  EXPECT_EQ(in->original_content, (ContentAmount{true, 2, 25, 9000, 18}));
  EXPECT_EQ(in->tieup_orders, (OrderTotals{2, 1, 11500}));
  EXPECT_EQ(in->original_orders, (OrderTotals{1, 0, 7000}));
  EXPECT_EQ(in->other_currency_orders, 1u);
  EXPECT_EQ(in->main_ad_impressions, 30u);
  EXPECT_EQ(in->partner_ad_impressions, 10u);
  const Provenance& p = in->provenance;
  EXPECT_EQ(p.checkpoint_size, 22u);
  EXPECT_EQ(p.checkpoint_root_hex, HexEncode(ledger::HashView(log_->Head().root)));
  EXPECT_EQ(p.checkpoint_origin, "example.com/shop-b/access");
  EXPECT_TRUE(p.any_in_period);
  EXPECT_EQ(p.first_index, 3u);
  EXPECT_EQ(p.last_index, 20u);
  EXPECT_EQ(p.excluded_entries, 0u);
  EXPECT_EQ(p.unreadable_entries, 0u);

  // October holds the other side of the boundary.
  options_.period = *ParsePeriod("2026-10");
  auto oct = AggregateFromLedger(*log_, Head(), options_);
  ASSERT_THAT(oct, IsOk());
  EXPECT_EQ(oct->daily[30], (DailyAccesses{1, 0}));
  EXPECT_EQ(oct->tieup_accesses, 1u);
  EXPECT_EQ(oct->tieup_orders, (OrderTotals{1, 0, 5000}));
  EXPECT_EQ(oct->original_content, (ContentAmount{true, 1, 10, 5000, 1}));
  EXPECT_EQ(oct->main_ad_impressions, 0u);
}

TEST_F(AggregateTest, OnlyEntriesUnderTheCheckpointCount) {
  WriteTwoMonths();
  ledger::Checkpoint early = Head();
  Add(AccessRecordAt(ledger::RecordArea::kTieup, 200, MicrosAt("2026-11-05T00:00:00Z")));
  auto in = AggregateFromLedger(*log_, early, options_);
  ASSERT_THAT(in, IsOk());
  EXPECT_EQ(in->tieup_accesses, 2u);
  auto later = AggregateFromLedger(*log_, Head(), options_);
  ASSERT_THAT(later, IsOk());
  EXPECT_EQ(later->tieup_accesses, 3u);
  EXPECT_EQ(later->daily[4].tieup, 1u);
}

TEST_F(AggregateTest, ACheckpointTheLogDoesNotMatchIsDataLoss) {
  WriteTwoMonths();
  ledger::Checkpoint cp = Head();
  cp.root[0] ^= 1;
  EXPECT_THAT(AggregateFromLedger(*log_, cp, options_),
              StatusIs(StatusCode::kDataLoss, HasSubstr("not the one the checkpoint commits to")));
  cp = Head();
  cp.size += 5;
  EXPECT_THAT(AggregateFromLedger(*log_, cp, options_),
              StatusIs(StatusCode::kDataLoss, HasSubstr("truncated")));
}

TEST_F(AggregateTest, ExcludedRangesAndUnreadableEntriesAreSkippedAndReported) {
  WriteTwoMonths();
  ASSERT_THAT(log_->Append(std::string("{\"type\":\"access\",\"v\":2}")), IsOk());  // index 22
  ASSERT_THAT(log_->Append(std::string("garbage")), IsOk());                        // index 23
  options_.excluded = {{9, 11, "checkpoint 11 inconsistent with 9"}, {3, 4, "rewritten"}};
  auto in = AggregateFromLedger(*log_, Head(), options_);
  ASSERT_THAT(in, IsOk());
  const Provenance& p = in->provenance;
  EXPECT_EQ(p.excluded_entries, 3u);
  ASSERT_EQ(p.excluded.size(), 2u);
  EXPECT_EQ(p.excluded[0], (ExcludedRange{3, 4, "rewritten"}));  // sorted
  EXPECT_EQ(p.unreadable_entries, 2u);
  EXPECT_EQ(p.first_unreadable_index, 22u);
  EXPECT_EQ(in->daily[0], (DailyAccesses{0, 2}));           // index 3 excluded
  EXPECT_EQ(in->tieup_orders, (OrderTotals{0, 1, -1000}));  // 9 and 10 excluded

  options_.excluded = {{3, 9, "a"}, {8, 10, "b"}};
  EXPECT_THAT(AggregateFromLedger(*log_, Head(), options_),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("overlap")));
  options_.excluded = {{5, 5, "empty"}};
  EXPECT_THAT(AggregateFromLedger(*log_, Head(), options_),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("is empty")));
}

TEST_F(AggregateTest, InMemoryEntriesGiveTheSameInputs) {
  WriteTwoMonths();
  auto from_log = AggregateFromLedger(*log_, Head(), options_);
  ASSERT_THAT(from_log, IsOk());
  auto entries = log_->ReadRange(0, log_->size());
  ASSERT_THAT(entries, IsOk());
  auto from_memory = AggregateEntries(*entries, Head(), options_);
  ASSERT_THAT(from_memory, IsOk());
  EXPECT_EQ(*from_memory, *from_log);

  std::vector<std::string> altered = *entries;
  altered[5][10] ^= 1;
  EXPECT_THAT(AggregateEntries(altered, Head(), options_), StatusIs(StatusCode::kDataLoss));
  options_.verify_root = false;  // trusted, already verified: read as given
  EXPECT_THAT(AggregateEntries(altered, Head(), options_), IsOk());
  altered.pop_back();
  EXPECT_THAT(AggregateEntries(altered, Head(), options_),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("exactly the entries")));
}

TEST_F(AggregateTest, MainsProbesAreNotVisits) {
  WriteTwoMonths();
  auto before = AggregateFromLedger(*log_, Head(), options_);
  ASSERT_THAT(before, IsOk());
  // Main's probes of the partner's pages (main_site/page_probes.h) in November: none counts.
  for (int32_t status : {200, 404}) {
    ledger::AccessRecord probe =
        AccessRecordAt(Area::kTieup, status, MicrosAt("2026-11-05T00:00:00Z"));
    probe.user_agent = std::string(ledger::kProbeUserAgent);
    Add(probe);
  }
  auto after = AggregateFromLedger(*log_, Head(), options_);
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ(after->total_accesses, before->total_accesses);
  EXPECT_EQ(after->tieup_accesses, before->tieup_accesses);
  EXPECT_EQ(after->daily, before->daily);
}

TEST_F(AggregateTest, SearchesCountNowhere) {
  WriteTwoMonths();
  auto before = AggregateFromLedger(*log_, Head(), options_);
  ASSERT_THAT(before, IsOk());
  // Searches in November, one that found nothing and one click on a result: no fee uses them,
  // and they are not unreadable entries either.
  const int64_t t = MicrosAt("2026-11-05T00:00:00Z");
  Add(ledger::SearchRecord{t, "sencha", 0, "", std::nullopt});
  Add(ledger::SearchRecord{t + 1, "green tea", 4, "/tea.html", Area::kTieup});
  auto after = AggregateFromLedger(*log_, Head(), options_);
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ(after->provenance.unreadable_entries, 0u);
  EXPECT_EQ(after->provenance.checkpoint_size, before->provenance.checkpoint_size + 2);
  after->provenance.checkpoint_size = before->provenance.checkpoint_size;
  after->provenance.checkpoint_root_hex = before->provenance.checkpoint_root_hex;
  EXPECT_EQ(*after, *before);
}

TEST_F(AggregateTest, BadOptionsAreRefused) {
  options_.currency = "yen";
  EXPECT_THAT(AggregateFromLedger(*log_, Head(), options_),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("ISO 4217")));
  options_.currency = "JPY";
  options_.period.to_micros += 1;  // not whole days
  EXPECT_THAT(AggregateFromLedger(*log_, Head(), options_),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("whole UTC days")));
}

TEST_F(AggregateTest, AbsurdAdImpressionsAreRefusedNotWrapped) {
  const int64_t t = MicrosAt("2026-11-02T00:00:00Z");
  Add(ledger::AdRecord{t, ledger::AdOwner::kMain, UINT64_MAX, "/", 0, ""});
  Add(ledger::AdRecord{t, ledger::AdOwner::kMain, 1, "/", 0, ""});
  EXPECT_THAT(AggregateFromLedger(*log_, Head(), options_),
              StatusIs(StatusCode::kOutOfRange, HasSubstr("absurd")));
}

// Main computes a statement from its copy; the partner recomputes it from its own ledger.
TEST_F(AggregateTest, StatementFromTheLedgerIsVerifiedByThePartner) {
  WriteTwoMonths();
  auto contract = ParseContract(R"(
partner = "shop-b"
kind = "template"
base_fee = 30000
currency = "JPY"
[access_discount]
max_percent = 30
at_original_share_percent = 50
[[content_tiers]]
measure = "tieup_pages"
from = 100
fee = 2000
[advertising]
pool_minor = 20000
[transactions]
percent_bp = 250
fixed_minor = 30
)");
  ASSERT_THAT(contract, IsOk());
  auto main_inputs = AggregateFromLedger(*log_, Head(), options_);
  ASSERT_THAT(main_inputs, IsOk());
  auto statement = ComputeStatement(*contract, *main_inputs);
  ASSERT_THAT(statement, IsOk());
  std::string csv = statement->ToCsv();

  // The partner reads the scope, aggregates its own ledger for it, and verifies.
  auto scope = ReadStatementScope(csv);
  ASSERT_THAT(scope, IsOk());
  auto root = log_->Root(scope->checkpoint_size);
  ASSERT_THAT(root, IsOk());
  AggregationOptions own{scope->partner, scope->currency, scope->period, scope->excluded};
  auto own_inputs = AggregateFromLedger(
      *log_, {scope->checkpoint_origin, scope->checkpoint_size, *root, {}}, own);
  ASSERT_THAT(own_inputs, IsOk());
  auto report = VerifyStatement(csv, *contract, *own_inputs);
  ASSERT_THAT(report, IsOk());
  EXPECT_TRUE(report->agrees) << report->ToText();
  // 30000 + 2000 content; share 2/4 = 50% -> 30% off 32000 = 9600; ads 30/40 of 20000 =
  // 15000; 2.5% of 11500 = 287.5 -> 288 (half-even); 2 orders * 30.
  EXPECT_EQ(statement->total_minor, 30000 + 2000 - 9600 + 15000 + 288 + 60);
}

}  // namespace
}  // namespace tieup::fees
