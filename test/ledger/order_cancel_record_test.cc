#include <gtest/gtest.h>

#include "ledger/records.h"
#include "test_support.h"

namespace tieup::ledger {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;

OrderCancelRecord Cancel() {
  return {1'795'000'000'000'000, "B-1001", "shop-b", RecordArea::kTieup, 12500, "JPY", "cancelled"};
}

TEST(OrderCancelRecordTest, RoundTripsInCanonicalForm) {
  const std::string text = EncodeRecord(Cancel());
  EXPECT_EQ(text,
            "{\"amount_minor\":12500,\"area\":\"tieup\",\"currency\":\"JPY\",\"kind\":"
            "\"cancelled\",\"order_id\":\"B-1001\",\"partner\":\"shop-b\",\"time_micros\":"
            "1795000000000000,\"type\":\"order_cancel\",\"v\":1}");
  auto parsed = ParseRecord(text);
  ASSERT_THAT(parsed, IsOk());
  ASSERT_TRUE(std::holds_alternative<OrderCancelRecord>(*parsed));
  EXPECT_EQ(std::get<OrderCancelRecord>(*parsed), Cancel());
  OrderCancelRecord refund = Cancel();
  refund.kind = "refunded";
  refund.area = RecordArea::kOriginal;
  auto r = ParseRecord(EncodeRecord(LedgerRecord(refund)));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(std::get<OrderCancelRecord>(*r), refund);
}

TEST(OrderCancelRecordTest, BadFieldsAreRefused) {
  OrderCancelRecord r = Cancel();
  r.kind = "lost";
  EXPECT_THAT(ParseRecord(EncodeRecord(r)),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("\"kind\" must be")));
  r = Cancel();
  r.amount_minor = -1;
  EXPECT_THAT(ParseRecord(EncodeRecord(r)), StatusIs(StatusCode::kInvalidArgument));
  r = Cancel();
  r.order_id.clear();
  EXPECT_THAT(ParseRecord(EncodeRecord(r)),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("order_id")));
  r = Cancel();
  r.currency = "yen";
  EXPECT_THAT(ParseRecord(EncodeRecord(r)), StatusIs(StatusCode::kInvalidArgument));
  std::string extra = EncodeRecord(Cancel());
  extra.insert(1, "\"x\":1,");
  EXPECT_THAT(ParseRecord(extra), StatusIs(StatusCode::kInvalidArgument, HasSubstr("\"x\"")));
}

}  // namespace
}  // namespace tieup::ledger
