// Cancelled orders reach the ledger once each, from a cursor over the shop's order events (issue
// 15 item 8): a real shop in real SQLite, a real ledger Log.
#include "partner_site/order_cancellations.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <variant>

#include "commerce/shop.h"
#include "ledger/log.h"
#include "ledger/records.h"
#include "test_support.h"

namespace tieup {
namespace {

using ::tieup::testing::FakeClockEnv;
using ::tieup::testing::IsOk;
using ::tieup::testing::TempDir;

class OrderCancellationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = OpenSqlite(dir_.Sub("tieup.db"));
    ASSERT_THAT(db, IsOk());
    db_ = std::move(db).value();
    commerce::ShopConfig config;
    config.shop_name = "Mug Shop";
    config.public_base_url = "https://shop.example";
    commerce::BankDetails bank{"Shop GmbH", "DE89370400440532013000", "COBADEFFXXX", "Commerzbank"};
    auto shop = commerce::Shop::Open(env_, *db_, config, {commerce::NewBankTransferProvider(bank)});
    ASSERT_THAT(shop, IsOk());
    shop_ = std::move(shop).value();
    commerce::Product p;
    p.sku = "MUG-1";
    p.title = "Blue mug";
    p.page_path = "/products/mug.html";
    p.price_minor = 1250;
    p.currency = "EUR";
    p.tax_class = "standard";
    p.stock = 100;
    ASSERT_THAT(shop_->AddProduct(p), IsOk());
    auto log = ledger::Log::Open(env_, dir_.Sub("ledger"));
    ASSERT_THAT(log, IsOk());
    log_ = std::move(log).value();
    ASSERT_THAT(MigrateOrderCancellations(*db_), IsOk());
  }

  // Places an order of `qty` mugs and returns its number.
  std::string Place(const std::string& key, int64_t qty) {
    commerce::OrderRequest r;
    r.channel = "shop-b";
    r.area = commerce::Area::kTieup;
    r.idempotency_key = "order-key-" + key;  // 8 to 128 characters
    r.lines = {{"MUG-1", qty, std::nullopt, std::nullopt, std::nullopt, std::nullopt}};
    r.customer = {"Ada Lovelace",    "1 Analytical Way", "", "10115", "Berlin", "Germany",
                  "ada@example.org", "+49 30 1234567"};
    r.payment_method = "bank_transfer";
    auto receipt = shop_->PlaceOrder(r);
    EXPECT_THAT(receipt, IsOk());
    return receipt.ok() ? receipt->order.number : std::string();
  }

  void Cancel(const std::string& number) {
    env_.AdvanceSeconds(60);
    ASSERT_THAT(shop_->Cancel(number, "manager", "out of stock"), IsOk());
  }

  // The cancellation records in the ledger, in order.
  std::vector<ledger::OrderCancelRecord> Recorded() {
    std::vector<ledger::OrderCancelRecord> out;
    auto entries = log_->ReadRange(0, log_->size());
    EXPECT_THAT(entries, IsOk());
    if (!entries.ok()) return out;
    for (const std::string& e : *entries) {
      auto record = ledger::ParseRecord(e);
      EXPECT_THAT(record, IsOk());
      if (!record.ok()) continue;
      if (auto* c = std::get_if<ledger::OrderCancelRecord>(&*record)) out.push_back(*c);
    }
    return out;
  }

  TempDir dir_;
  FakeClockEnv env_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<commerce::Shop> shop_;
  std::unique_ptr<ledger::Log> log_;
};

TEST_F(OrderCancellationsTest, RecordsEachCancellationOnceAndPicksUpNewOnes) {
  const std::string a = Place("a", 1);
  const std::string b = Place("b", 2);
  const std::string kept = Place("kept", 3);
  Cancel(a);
  Cancel(b);

  auto done = RecordOrderCancellations(*db_, *log_, "shop-b");
  ASSERT_THAT(done, IsOk());
  EXPECT_EQ(*done, 2u);
  auto recorded = Recorded();
  ASSERT_EQ(recorded.size(), 2u);
  EXPECT_EQ(recorded[0].order_id, a);
  EXPECT_EQ(recorded[0].amount_minor, 1250);
  EXPECT_EQ(recorded[0].currency, "EUR");
  EXPECT_EQ(recorded[0].partner, "shop-b");
  EXPECT_EQ(recorded[0].kind, "cancelled");
  EXPECT_EQ(recorded[0].area, ledger::RecordArea::kTieup);
  EXPECT_EQ(recorded[1].order_id, b);
  EXPECT_EQ(recorded[1].amount_minor, 2500);
  EXPECT_LT(recorded[0].time_micros, recorded[1].time_micros);
  EXPECT_EQ(recorded[1].time_micros, env_.NowMicros());

  // Run again: nothing new, nothing twice.
  done = RecordOrderCancellations(*db_, *log_, "shop-b");
  ASSERT_THAT(done, IsOk());
  EXPECT_EQ(*done, 0u);
  EXPECT_EQ(Recorded().size(), 2u);

  // A cancellation after the first run is picked up, alone.
  Cancel(kept);
  done = RecordOrderCancellations(*db_, *log_, "shop-b");
  ASSERT_THAT(done, IsOk());
  EXPECT_EQ(*done, 1u);
  recorded = Recorded();
  ASSERT_EQ(recorded.size(), 3u);
  EXPECT_EQ(recorded[2].order_id, kept);
  EXPECT_EQ(recorded[2].amount_minor, 3750);
}

TEST_F(OrderCancellationsTest, RecordsAtMostMaxPerRunInOrder) {
  std::vector<std::string> numbers;
  for (int i = 0; i < 5; ++i) numbers.push_back(Place("o" + std::to_string(i), 1));
  for (const std::string& n : numbers) Cancel(n);

  auto done = RecordOrderCancellations(*db_, *log_, "shop-b", 2);
  ASSERT_THAT(done, IsOk());
  EXPECT_EQ(*done, 2u);
  EXPECT_EQ(Recorded().size(), 2u);
  done = RecordOrderCancellations(*db_, *log_, "shop-b", 2);
  ASSERT_THAT(done, IsOk());
  EXPECT_EQ(*done, 2u);
  done = RecordOrderCancellations(*db_, *log_, "shop-b", 2);
  ASSERT_THAT(done, IsOk());
  EXPECT_EQ(*done, 1u);
  done = RecordOrderCancellations(*db_, *log_, "shop-b", 2);
  ASSERT_THAT(done, IsOk());
  EXPECT_EQ(*done, 0u);
  auto recorded = Recorded();
  ASSERT_EQ(recorded.size(), 5u);
  for (size_t i = 0; i < numbers.size(); ++i) EXPECT_EQ(recorded[i].order_id, numbers[i]);
}

}  // namespace
}  // namespace tieup
