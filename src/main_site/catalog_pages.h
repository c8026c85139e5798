// Main's catalog as its pages show it: the product data the builder renders into every page
// that names products in its front matter ("products: SENCHA-100", content/builder.h), on
// main's own site and in every partner's release. The catalog is the one source of a product's
// title, price and stock state on pages; a change of them is a content change that publishes
// like any other and re-renders only the pages that show that product.
//
// The fields of each product (all text; an empty field is false in a template section):
//   sku, title, description, category, page_path
//   price        the unit price as customers read it ("¥1,800", "€12.50": ICU, in the shop's
//                currency and the site's locale)
//   price_minor  the same in minor units ("1800"), for scripts and structured data
//   currency     ISO 4217 ("JPY")
//   stock_state  "In stock", "Only 3 left" or "Sold out"
//   in_stock     "yes" or ""         sold_out   "yes" or ""
//   low_stock    "yes" when in stock but at most shop.low_stock_threshold units are left
//   left         the units left when low_stock ("3"), else ""
//   also_bought  the products most often bought (and viewed) with it across the network, in stock
//                (users/recommendations.h; at most shop.also_bought, default 4): in templates the
//                list of their records (content::kAlsoBoughtField); absent when there are none.
//                The lists are read again at most every shop.also_bought_refresh_minutes (60;
//                0: at every read), so that new orders do not publish every product page to
//                every partner each time; stock is applied at every read (a product that sells
//                out leaves the lists at once).
// The exact stock of a product that is not low is deliberately absent: a page changes (and is
// published) when the product's state changes, not with every order.
//
// Settings (site.toml [variables]): shop.low_stock_threshold (5; 0: never "only N left"),
// shop.also_bought (4; 0: none), shop.also_bought_refresh_minutes (60).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "commerce/catalog_records.h"
#include "commerce/shop.h"
#include "commerce/shop_settings.h"
#include "content/builder.h"
#include "site/config.h"
#include "store/database.h"
#include "users/recommendations.h"

namespace tieup {

// The display records of products (see above; commerce/catalog_records.h).
using commerce::CatalogPageProducts;

// A SHA-256 (hex) of `products`: equal tables, equal fingerprints (what the daemon compares to
// know that pages must be published again).
std::string PageProductsFingerprint(const content::PageProducts& products);

// Reads main's catalog for the builder, from main's database (the shop's tables). Thread-safe.
class CatalogPages {
 public:
  // `db` must outlive the object. InvalidArgument for bad shop settings (naming the key).
  static Result<std::shared_ptr<CatalogPages>> Open(Env& env, const std::string& site_dir,
                                                    const SiteConfig& config, Database& db);
  ~CatalogPages();

  // The catalog as pages show it now.
  Result<std::shared_ptr<const content::PageProducts>> Read();

 private:
  CatalogPages() = default;
  std::mutex mu_;
  commerce::OpenedShop shop_;  // guarded by mu_ (reads only)
  Env* env_ = nullptr;
  std::unique_ptr<users::Recommender> recommender_;  // guarded by mu_
  int64_t low_stock_threshold_ = 5;
  int64_t also_bought_ = 4;
  int64_t also_bought_refresh_micros_ = 0;
  // The recommender's lists as last read (guarded by mu_), and when; 0: never.
  std::map<std::string, std::vector<users::ScoredProduct>> neighbours_;
  int64_t neighbours_read_micros_ = 0;
};

// The catalog of the main site at `site_dir` as pages show it, read through its own connection
// to the site's database (the command line: `tieup main build`, `main init`, the demo).
Result<std::shared_ptr<const content::PageProducts>> ReadCatalogPages(Env& env,
                                                                      const std::string& site_dir,
                                                                      const SiteConfig& config);

}  // namespace tieup
