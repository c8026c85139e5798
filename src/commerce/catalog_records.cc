#include "commerce/catalog_records.h"

#include "commerce/money.h"

namespace tieup::commerce {

content::PageProducts CatalogPageProducts(const std::vector<Product>& products,
                                          const ShopConfig& config, int64_t low_stock_threshold) {
  content::PageProducts out;
  for (const Product& p : products) {
    const bool in_stock = p.stock > 0;
    const bool low = in_stock && p.stock <= low_stock_threshold;
    content::PageProduct& f = out[p.sku];
    f["sku"] = p.sku;
    f["title"] = p.title;
    f["description"] = p.description;
    f["category"] = p.category;
    f["page_path"] = p.page_path;
    f["price"] = FormatMoney(p.price_minor, config.currency, config.locale);
    f["price_minor"] = std::to_string(p.price_minor);
    f["currency"] = config.currency;
    f["stock_state"] = !in_stock ? "Sold out"
                       : low     ? "Only " + std::to_string(p.stock) + " left"
                                 : "In stock";
    f["in_stock"] = in_stock ? "yes" : "";
    f["sold_out"] = in_stock ? "" : "yes";
    f["low_stock"] = low ? "yes" : "";
    f["left"] = low ? std::to_string(p.stock) : "";
  }
  return out;
}

Result<std::shared_ptr<const content::PageProducts>> ReadCatalogRecords(
    Shop& shop, int64_t low_stock_threshold) {
  ASSIGN_OR_RETURN(std::vector<Product> products, shop.ListProducts());
  return std::make_shared<const content::PageProducts>(
      CatalogPageProducts(products, shop.config(), low_stock_threshold));
}

}  // namespace tieup::commerce
