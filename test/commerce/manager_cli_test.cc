#include "commerce/manager_cli.h"

#include <gtest/gtest.h>

#include "test_database.h"
#include "test_support.h"

namespace tieup::commerce {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::FakeClockEnv;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

class ManagerCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = ::tieup::testing::OpenTestDatabase(dir_.Sub("tieup.db"));
    ASSERT_THAT(db, IsOk());
    db_ = std::move(db).value();
    auto shop = Shop::Open(env_, *db_, {}, {NewCashOnDeliveryProvider()});
    ASSERT_THAT(shop, IsOk());
    shop_ = std::move(shop).value();
  }
  TempDir dir_;
  FakeClockEnv env_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<Shop> shop_;
};

TEST_F(ManagerCliTest, ProductCommands) {
  EXPECT_EQ(*CliProductList(*shop_), "no products yet: add one with `product add`\n");
  ProductArgs a{"MUG-1",
                "Blue mug",
                "12.50",
                "",
                "3",
                "kitchen",
                "",
                "/img/a.jpg, /img/b.jpg",
                "/products/mug.html"};
  auto added = CliProductAdd(*shop_, a);
  ASSERT_THAT(added, IsOk());
  EXPECT_EQ(*added, "added MUG-1 'Blue mug' at €12.50, stock 3\n");
  EXPECT_EQ(shop_->GetProduct("MUG-1")->images.size(), 2u);
  auto list = CliProductList(*shop_);
  ASSERT_THAT(list, IsOk());
  EXPECT_EQ(*list,
            "SKU    TITLE     PRICE   TAX       STOCK  CATEGORY\n"
            "MUG-1  Blue mug  €12.50  standard  3      kitchen\n");
  EXPECT_THAT(*CliProductShow(*shop_, "MUG-1"), HasSubstr("stock:       3 available\n"));
  EXPECT_EQ(*CliProductSetStock(*shop_, "MUG-1", "+4"), "MUG-1: stock 7\n");
  EXPECT_EQ(*CliProductSetStock(*shop_, "MUG-1", "-2"), "MUG-1: stock 5\n");
  EXPECT_EQ(*CliProductSetStock(*shop_, "MUG-1", "9"), "MUG-1: stock 9\n");
  EXPECT_THAT(CliProductSetStock(*shop_, "MUG-1", "-20"),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("has 9 in stock")));
  EXPECT_THAT(CliProductSetStock(*shop_, "MUG-1", "many"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("whole number")));
  EXPECT_EQ(*CliProductSetPrice(*shop_, "MUG-1", "9.90"), "MUG-1: price €9.90\n");
  EXPECT_THAT(CliProductSetPrice(*shop_, "MUG-1", "9,90"), StatusIs(StatusCode::kInvalidArgument));
  a.price = "-1";
  a.sku = "X";
  EXPECT_THAT(CliProductAdd(*shop_, a), StatusIs(StatusCode::kInvalidArgument));
  a.price = "1";
  a.sku = "MUG-1";
  EXPECT_THAT(CliProductAdd(*shop_, a), StatusIs(StatusCode::kAlreadyExists));
  EXPECT_THAT(CliProductShow(*shop_, "NOPE"), StatusIs(StatusCode::kNotFound, HasSubstr("NOPE")));
  EXPECT_EQ(*CliProductRemove(*shop_, "MUG-1"), "removed MUG-1 (orders keep their copy)\n");
}

TEST_F(ManagerCliTest, OrderCommands) {
  ASSERT_THAT(CliProductAdd(*shop_, {"MUG-1", "Blue mug", "12.50", "", "3", "", "", "", ""}),
              IsOk());
  EXPECT_EQ(*CliOrderList(*shop_), "no orders\n");
  OrderRequest r;
  r.channel = "shop-b";
  r.area = Area::kTieup;
  r.idempotency_key = "cli-test-0001";
  r.lines = {{"MUG-1", 2, {}, {}, {}, {}}};
  r.customer = {"Ada", "1 Way", "", "10115", "Berlin", "DE", "ada@example.org", ""};
  r.payment_method = "cash_on_delivery";
  ASSERT_THAT(shop_->PlaceOrder(r), IsOk());
  auto list = CliOrderList(*shop_);
  ASSERT_THAT(list, IsOk());
  EXPECT_THAT(
      *list,
      HasSubstr("M-000001  Sep 21, 2026, 2:13\u202fPM UTC  placed  no    shop-b   tieup  €25.00"));
  EXPECT_THAT(CliOrderList(*shop_, "lost"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(*CliOrderShip(*shop_, "M-000001", "DHL", "123", "manager:alice"),
            "order M-000001 is now shipped\n");
  EXPECT_EQ(*CliOrderShipment(*shop_, "M-000001", "in_transit", "manager:alice"),
            "order M-000001 is now shipped\n");
  EXPECT_EQ(*CliOrderDeliver(*shop_, "M-000001", "manager:alice"),
            "order M-000001 is now delivered\n");
  EXPECT_EQ(*CliOrderMarkPaid(*shop_, "M-000001", "manager:alice", "cash"),
            "order M-000001 is now delivered (paid)\n");
  EXPECT_THAT(CliOrderCancel(*shop_, "M-000001", "manager:alice", "late"),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("only placed or paid")));
  auto show = CliOrderShow(*shop_, "M-000001");
  ASSERT_THAT(show, IsOk());
  EXPECT_THAT(*show, HasSubstr("placed -> shipped  by manager:alice: shipped with DHL"));
  EXPECT_THAT(*show, HasSubstr("shipment: DHL 123, delivered"));
  EXPECT_THAT(CliOrderShow(*shop_, "M-9"), StatusIs(StatusCode::kNotFound));
}

}  // namespace
}  // namespace tieup::commerce
