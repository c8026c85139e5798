#include "commerce/shop_settings.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace tieup::commerce {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

class ShopSettingsTest : public ::testing::Test {
 protected:
  Result<OpenedShop> Open(std::map<std::string, std::string> vars) {
    vars_ = std::move(vars);
    ShopSiteSettings s;
    s.site_id = "shop-a";
    s.shop_name = "Shop A";
    s.order_prefix = "SHOPA";
    s.mail_dir = dir_.Sub("mail");
    s.variables = &vars_;
    return OpenShopFromSettings(*env_, *db_, s, nullptr);
  }
  std::unique_ptr<Env> env_ = NewPosixEnv();
  TempDir dir_;
  std::unique_ptr<Database> db_ = std::move(OpenSqlite(dir_.Sub("tieup.db")).value());
  std::map<std::string, std::string> vars_;
};

TEST_F(ShopSettingsTest, ReadsTheShopVariables) {
  auto shop =
      Open({{"shop.currency", "JPY"}, {"shop.smtp_host", "relay"}, {"shop.smtp_port", "2525"}});
  ASSERT_THAT(shop, IsOk());
  EXPECT_EQ(shop->smtp_host, "relay");
  EXPECT_EQ(shop->smtp_port, 2525);
  Product p;
  p.sku = "TEA-1";
  p.title = "Tea";
  p.price_minor = 1200;
  p.currency = "JPY";
  p.tax_class = "reduced";
  p.stock = 3;
  EXPECT_THAT(shop->shop->AddProduct(p), IsOk());  // the shop's currency is JPY
  p.sku = "TEA-2";
  p.currency = "EUR";
  EXPECT_THAT(shop->shop->AddProduct(p), StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(ShopSettingsTest, ReadsTheCartLimits) {
  auto defaults = Open({});
  ASSERT_THAT(defaults, IsOk());
  EXPECT_EQ(defaults->shop->config().max_units_per_line, 20);
  EXPECT_EQ(defaults->shop->config().cart_adds_per_10_minutes_per_client, 30);
  auto set = Open({{"shop.max_units_per_line", "5"},
                   {"shop.cart_adds_per_10_minutes_per_client", "0"},
                   {"shop.reservation_seconds", "60"}});  // ignored, and still accepted
  ASSERT_THAT(set, IsOk());
  EXPECT_EQ(set->shop->config().max_units_per_line, 5);
  EXPECT_EQ(set->shop->config().cart_adds_per_10_minutes_per_client, 0);
  EXPECT_THAT(Open({{"shop.max_units_per_line", "0"}}),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("max_units_per_line")));
  EXPECT_THAT(Open({{"shop.max_units_per_line", "lots"}}),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("shop.max_units_per_line")));
  EXPECT_THAT(
      Open({{"shop.cart_adds_per_10_minutes_per_client", "-1"}}),
      StatusIs(StatusCode::kInvalidArgument, HasSubstr("cart_adds_per_10_minutes_per_client")));
}

TEST_F(ShopSettingsTest, BadValuesNameTheKey) {
  EXPECT_THAT(Open({{"shop.shipping_fee_minor", "ten"}}),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("shop.shipping_fee_minor")));
  EXPECT_THAT(Open({{"shop.prices_include_tax", "yes"}}),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("true or false")));
  EXPECT_THAT(Open({{"shop.smtp_port", "70000"}}),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("smtp_port")));
  std::map<std::string, std::string> vars = {{"shop.flag", "false"}};
  EXPECT_FALSE(*ShopSettingBool(vars, "flag", true));
  EXPECT_TRUE(*ShopSettingBool(vars, "missing", true));
}

}  // namespace
}  // namespace tieup::commerce
