#include "main_site/catalog_pages.h"

#include "base/encoding.h"
#include "commerce/money.h"
#include "commerce/shop_settings.h"
#include "crypto/hash.h"
#include "main_site/recommendation_feed.h"
#include "main_site/shop_service.h"
#include "site/site_store.h"

namespace tieup {

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
  ASSIGN_OR_RETURN(c->also_bought_,
                   commerce::ShopSettingInt(config.variables, "also_bought", 4, 0, 20));
  ASSIGN_OR_RETURN(int64_t refresh,
                   commerce::ShopSettingInt(config.variables, "also_bought_refresh_minutes", 60, 0,
                                            7 * 24 * 60));
  c->also_bought_refresh_micros_ = refresh * 60'000'000;
  c->env_ = &env;
  ASSIGN_OR_RETURN(c->shop_, OpenMainShop(env, site_dir, config, db));
  ASSIGN_OR_RETURN(c->recommender_, users::Recommender::Open(env, db));
  return c;
}

CatalogPages::~CatalogPages() = default;

Result<std::shared_ptr<const content::PageProducts>> CatalogPages::Read() {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(std::vector<commerce::Product> products, shop_.shop->ListProducts());
  content::PageProducts pages =
      CatalogPageProducts(products, shop_.shop->config(), low_stock_threshold_);
  if (also_bought_ > 0) {
    const int64_t now = env_->NowMicros();
    if (neighbours_read_micros_ == 0 ||
        now - neighbours_read_micros_ >= also_bought_refresh_micros_ ||
        now < neighbours_read_micros_) {
      // More than shown: those sold out when the pages are made are left out then.
      ASSIGN_OR_RETURN(neighbours_, recommender_->AllAlsoBought(also_bought_ + 8, nullptr));
      neighbours_read_micros_ = now;
    }
    AddAlsoBought(neighbours_, products, also_bought_, pages);
  }
  return std::make_shared<const content::PageProducts>(std::move(pages));
}

Result<std::shared_ptr<const content::PageProducts>> ReadCatalogPages(Env& env,
                                                                      const std::string& site_dir,
                                                                      const SiteConfig& config) {
  ASSIGN_OR_RETURN(auto db, OpenSiteDatabase(config, site_dir));
  ASSIGN_OR_RETURN(auto catalog, CatalogPages::Open(env, site_dir, config, *db));
  return catalog->Read();
}

}  // namespace tieup
