#include "commerce/wire.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace tieup::commerce {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::FakeClockEnv;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

OrderRequest Sample() {
  OrderRequest r;
  r.channel = "shop-b";
  r.area = Area::kTieup;
  r.idempotency_key = "partner-key-0001";
  r.payment_method = "bank_transfer";
  r.lines = {{"MUG-1", 2, std::nullopt, std::nullopt, std::nullopt, 1250},
             {"EXT-9", 1, 990, "Tea \"towel\"", "reduced", std::nullopt}};
  r.customer = {"Ada", "1 Way", "", "10115", "Berlin", "DE", "ada@example.org", ""};
  return r;
}

TEST(WireTest, OrderRequestRoundTrips) {
  OrderRequest r = Sample();
  auto back = OrderRequestFromJson(OrderRequestToJson(r));
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(back->channel, "shop-b");
  EXPECT_EQ(back->area, Area::kTieup);
  EXPECT_EQ(back->idempotency_key, r.idempotency_key);
  ASSERT_EQ(back->lines.size(), 2u);
  EXPECT_FALSE(back->lines[0].unit_price_minor.has_value());
  EXPECT_EQ(back->lines[1].unit_price_minor, 990);
  EXPECT_EQ(back->lines[0].expected_unit_price_minor, 1250);
  EXPECT_FALSE(back->lines[1].expected_unit_price_minor.has_value());
  EXPECT_EQ(back->lines[1].title, "Tea \"towel\"");
  EXPECT_EQ(back->customer.postal_code, "10115");
}

TEST(WireTest, RefusesMalformedJson) {
  EXPECT_THAT(OrderRequestFromJson("{"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("JSON")));
  EXPECT_THAT(OrderRequestFromJson("[]"), StatusIs(StatusCode::kInvalidArgument));
  std::string good = OrderRequestToJson(Sample());
  std::string extra = good.substr(0, good.size() - 1) + ",\"admin\":true}";
  EXPECT_THAT(OrderRequestFromJson(extra),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("unknown field 'admin'")));
  std::string missing = good;
  missing.replace(missing.find("\"idempotency_key\""), 17, "\"idem\"");
  EXPECT_THAT(OrderRequestFromJson(missing),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("idempotency_key")));
  std::string wrong_type = good;
  wrong_type.replace(wrong_type.find("\"quantity\":2"), 12, "\"quantity\":\"2\"");
  EXPECT_THAT(OrderRequestFromJson(wrong_type),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("lines[0].quantity")));
  std::string huge = good;
  huge.replace(huge.find("\"quantity\":2"), 12, "\"quantity\":99999999999999999999");
  EXPECT_FALSE(OrderRequestFromJson(huge).ok());
  EXPECT_THAT(OrderRequestFromJson(std::string(kMaxWireBytes + 1, ' ')),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("larger")));
  EXPECT_THAT(ConsultCommandFromJson("{\"accept\":1}"), StatusIs(StatusCode::kInvalidArgument));
}

TEST(WireTest, DelegatedOrderThroughJsonIsAppliedOnce) {
  TempDir dir;
  FakeClockEnv env;
  auto db = OpenSqlite(dir.Sub("main.db"));
  ASSERT_THAT(db, IsOk());
  auto main_shop = Shop::Open(env, **db, {}, {NewBankTransferProvider({"M", "DE00", "", ""})});
  ASSERT_THAT(main_shop, IsOk());
  Shop& shop = **main_shop;
  Product p;
  p.sku = "MUG-1";
  p.title = "Blue mug";
  p.price_minor = 1250;
  p.currency = "EUR";
  p.tax_class = "standard";
  p.stock = 5;
  ASSERT_THAT(shop.AddProduct(p), IsOk());

  OrderRequest r = Sample();
  r.lines.pop_back();
  std::string wire = OrderRequestToJson(r);
  std::string first_answer;
  for (int attempt = 0; attempt < 3; ++attempt) {  // the partner's outbox retries
    auto request = OrderRequestFromJson(wire);
    ASSERT_THAT(request, IsOk());
    request->channel = "shop-b";  // from the verified signature
    auto receipt = shop.PlaceOrder(*request);
    ASSERT_THAT(receipt, IsOk());
    auto answer = OrderReceiptFromJson(OrderReceiptToJson(*receipt));
    ASSERT_THAT(answer, IsOk());
    EXPECT_EQ(answer->order.number, "M-000001");
    EXPECT_EQ(answer->replayed, attempt > 0);
    EXPECT_EQ(answer->order.totals.total_minor, 2500);
    EXPECT_EQ(answer->order.access_key, receipt->order.access_key);
    EXPECT_THAT(answer->order.payment_instructions, HasSubstr("DE00"));
  }
  EXPECT_EQ(shop.GetProduct("MUG-1")->stock, 3);
  EXPECT_EQ(shop.ListOrders({})->size(), 1u);

  // Consult: the quote request and main's command cross the wire too.
  auto quote_lines = QuoteRequestFromJson(QuoteRequestToJson({{"MUG-1", 1}}));
  ASSERT_THAT(quote_lines, IsOk());
  auto quote = shop.Quote(*quote_lines);
  ASSERT_THAT(quote, IsOk());
  auto command =
      ConsultCommandFromJson(ConsultCommandToJson(CommandFromQuote(*quote, true, false)));
  ASSERT_THAT(command, IsOk());
  EXPECT_TRUE(command->accept);
  EXPECT_FALSE(command->check_inventory);
  ASSERT_EQ(command->prices.size(), 1u);
  EXPECT_EQ(command->prices[0].unit_price_minor, 1250);
}

}  // namespace
}  // namespace tieup::commerce
