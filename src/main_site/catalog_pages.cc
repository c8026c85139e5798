#include "main_site/catalog_pages.h"

#include "base/encoding.h"
#include "commerce/money.h"
#include "commerce/shop_settings.h"
#include "crypto/hash.h"
#include "main_site/shop_service.h"
#include "site/site_store.h"

namespace tieup {

content::PageProducts CatalogPageProducts(const std::vector<commerce::Product>& products,
                                          const commerce::ShopConfig& config,
                                          int64_t low_stock_threshold) {
  content::PageProducts out;
  for (const commerce::Product& p : products) {
    const bool in_stock = p.stock > 0;
    const bool low = in_stock && p.stock <= low_stock_threshold;
    content::PageProduct& f = out[p.sku];
    f["sku"] = p.sku;
    f["title"] = p.title;
    f["description"] = p.description;
    f["category"] = p.category;
    f["page_path"] = p.page_path;
    f["price"] = commerce::FormatMoney(p.price_minor, config.currency, config.locale);
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

std::string PageProductsFingerprint(const content::PageProducts& products) {
  Sha256Hasher h;
  // Length-prefixed, so that no two different tables serialize alike.
  auto add = [&h](std::string_view text) {
    h.Update(std::to_string(text.size()));
    h.Update(":");
    h.Update(text);
  };
  for (const auto& [sku, fields] : products) {
    add(sku);
    h.Update(std::to_string(fields.size()));
    for (const auto& [name, value] : fields) {
      add(name);
      add(value);
    }
  }
  return HexEncode(h.Finish());
}

Result<std::shared_ptr<CatalogPages>> CatalogPages::Open(Env& env, const std::string& site_dir,
                                                         const SiteConfig& config, Database& db) {
  std::shared_ptr<CatalogPages> c(new CatalogPages());
  ASSIGN_OR_RETURN(
      c->low_stock_threshold_,
      commerce::ShopSettingInt(config.variables, "low_stock_threshold", 5, 0, commerce::kMaxStock));
  ASSIGN_OR_RETURN(c->shop_, OpenMainShop(env, site_dir, config, db));
  return c;
}

CatalogPages::~CatalogPages() = default;

Result<std::shared_ptr<const content::PageProducts>> CatalogPages::Read() {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(std::vector<commerce::Product> products, shop_.shop->ListProducts());
  return std::make_shared<const content::PageProducts>(
      CatalogPageProducts(products, shop_.shop->config(), low_stock_threshold_));
}

Result<std::shared_ptr<const content::PageProducts>> ReadCatalogPages(Env& env,
                                                                      const std::string& site_dir,
                                                                      const SiteConfig& config) {
  ASSIGN_OR_RETURN(auto db, OpenSiteDatabase(config, site_dir));
  ASSIGN_OR_RETURN(auto catalog, CatalogPages::Open(env, site_dir, config, *db));
  return catalog->Read();
}

}  // namespace tieup
