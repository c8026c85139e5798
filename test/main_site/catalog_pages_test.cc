#include "main_site/catalog_pages.h"

#include <gtest/gtest.h>

namespace tieup {
namespace {

commerce::Product Tea(std::string sku, int64_t price, int64_t stock) {
  commerce::Product p;
  p.sku = std::move(sku);
  p.title = "Sencha <100 g>";
  p.price_minor = price;
  p.currency = "JPY";
  p.tax_class = "reduced";
  p.category = "tea";
  p.page_path = "/products/sencha.html";
  p.stock = stock;
  return p;
}

TEST(CatalogPagesTest, ProductsAsCustomersReadThem) {
  commerce::ShopConfig config;
  config.currency = "JPY";
  config.locale = "ja";
  const content::PageProducts table = CatalogPageProducts(
      {Tea("PLENTY", 27490, 100), Tea("LOW", 1800, 3), Tea("GONE", 1200, 0)}, config, 5);
  ASSERT_EQ(table.size(), 3u);
  const content::PageProduct& plenty = table.at("PLENTY");
  EXPECT_EQ(plenty.at("sku"), "PLENTY");
  EXPECT_EQ(plenty.at("title"), "Sencha <100 g>");  // text: the template escapes it
  EXPECT_EQ(plenty.at("price_minor"), "27490");
  EXPECT_NE(plenty.at("price").find("27,490"), std::string::npos) << plenty.at("price");
  EXPECT_EQ(plenty.at("currency"), "JPY");
  EXPECT_EQ(plenty.at("stock_state"), "In stock");
  EXPECT_EQ(plenty.at("in_stock"), "yes");
  EXPECT_EQ(plenty.at("sold_out"), "");
  EXPECT_EQ(plenty.at("low_stock"), "");
  EXPECT_EQ(plenty.at("left"), "");  // the exact stock is not on pages
  const content::PageProduct& low = table.at("LOW");
  EXPECT_EQ(low.at("stock_state"), "Only 3 left");
  EXPECT_EQ(low.at("low_stock"), "yes");
  EXPECT_EQ(low.at("left"), "3");
  const content::PageProduct& gone = table.at("GONE");
  EXPECT_EQ(gone.at("stock_state"), "Sold out");
  EXPECT_EQ(gone.at("in_stock"), "");
  EXPECT_EQ(gone.at("sold_out"), "yes");
}

// An order that leaves plenty in stock changes no page; one that makes a product low does.
TEST(CatalogPagesTest, TheFingerprintFollowsWhatPagesShowOnly) {
  commerce::ShopConfig config;
  config.currency = "EUR";
  auto fp = [&](int64_t price, int64_t stock) {
    return PageProductsFingerprint(CatalogPageProducts({Tea("A", price, stock)}, config, 5));
  };
  EXPECT_EQ(fp(1250, 100), fp(1250, 99));
  EXPECT_NE(fp(1250, 100), fp(1250, 5));
  EXPECT_NE(fp(1250, 5), fp(1250, 4));
  EXPECT_NE(fp(1250, 1), fp(1250, 0));
  EXPECT_NE(fp(1250, 100), fp(1300, 100));
  EXPECT_EQ(PageProductsFingerprint({}), PageProductsFingerprint({}));
  EXPECT_NE(PageProductsFingerprint({}), fp(1250, 100));
  // Threshold 0: never "only N left".
  EXPECT_EQ(CatalogPageProducts({Tea("A", 1, 1)}, config, 0).at("A").at("stock_state"), "In stock");
}

}  // namespace
}  // namespace tieup
