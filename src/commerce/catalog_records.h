// The catalog as pages show it: one display record per product (content::PageProducts), the
// same on main's product pages (main_site/catalog_pages.h, where the fields are listed), in the
// search results of every site (site/site_search.h) and anywhere else a page names a product.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "base/status.h"
#include "commerce/shop.h"
#include "content/builder.h"

namespace tieup::commerce {

// The display records of `products`, priced in `config`'s currency and locale; "Only N left"
// at or below `low_stock_threshold` units (0: never).
content::PageProducts CatalogPageProducts(const std::vector<Product>& products,
                                          const ShopConfig& config, int64_t low_stock_threshold);

// The records of every product of `shop` now. Thread-safe as Shop is.
Result<std::shared_ptr<const content::PageProducts>> ReadCatalogRecords(
    Shop& shop, int64_t low_stock_threshold);

}  // namespace tieup::commerce
