#include "commerce/shop_settings.h"

#include <gtest/gtest.h>

#include "test_database.h"
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
  std::unique_ptr<Database> db_ =
      std::move(::tieup::testing::OpenTestDatabase(dir_.Sub("tieup.db")).value());
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

// Out of the box: an order's confirmation is in the outbox without any mail setting, from a
// sender at the shop's public host (else localhost.localdomain); bank transfer and invoice are
// offered once the bank details are set.
TEST_F(ShopSettingsTest, OrderMailAndPaymentMethodsWorkOutOfTheBox) {
  auto shop = Open({});
  ASSERT_THAT(shop, IsOk());
  EXPECT_EQ(shop->shop->config().mail_from.address, "shop@localhost.localdomain");
  ASSERT_EQ(shop->shop->payment_providers().size(), 1u);
  EXPECT_EQ(shop->shop->payment_providers()[0]->id(), "cash_on_delivery");
  Product p;
  p.sku = "TEA-1";
  p.title = "Tea";
  p.price_minor = 1200;
  p.currency = "EUR";
  p.tax_class = "reduced";
  p.stock = 3;
  ASSERT_THAT(shop->shop->AddProduct(p), IsOk());
  OrderRequest r;
  r.channel = "shop-a";
  r.idempotency_key = "out-of-the-box-1";
  r.lines = {{"TEA-1", 1, {}, {}, {}, {}}};
  r.customer = {"Ada", "1 Way", "", "10115", "Berlin", "DE", "ada@example.org", ""};
  r.payment_method = "cash_on_delivery";
  ASSERT_THAT(shop->shop->PlaceOrder(r), IsOk());
  auto pending = shop->outbox->Pending();
  ASSERT_THAT(pending, IsOk());
  ASSERT_FALSE(pending->empty());
  auto mail = shop->outbox->Read("pending", pending->front());
  ASSERT_THAT(mail, IsOk());
  EXPECT_THAT(*mail, HasSubstr("shop@localhost.localdomain"));
  EXPECT_THAT(*mail, HasSubstr("ada@example.org"));

  auto hosted = Open({{"shop.public_url", "https://tea.example.org:8443/"},
                      {"shop.iban", "DE89370400440532013000"},
                      {"shop.bic", "COBADEFFXXX"}});
  ASSERT_THAT(hosted, IsOk());
  EXPECT_EQ(hosted->shop->config().mail_from.address, "shop@tea.example.org");
  std::vector<std::string> methods;
  for (const auto& m : hosted->shop->payment_providers()) methods.emplace_back(m->id());
  EXPECT_EQ(methods, (std::vector<std::string>{"bank_transfer", "cash_on_delivery", "invoice"}));
  auto numeric = Open({{"shop.public_url", "http://127.0.0.1:8080/"}});
  ASSERT_THAT(numeric, IsOk());
  EXPECT_EQ(numeric->shop->config().mail_from.address, "shop@localhost.localdomain");
  auto chosen = Open({{"shop.mail_from", "orders@tea.example.org"}});
  ASSERT_THAT(chosen, IsOk());
  EXPECT_EQ(chosen->shop->config().mail_from.address, "orders@tea.example.org");
}

}  // namespace
}  // namespace tieup::commerce
