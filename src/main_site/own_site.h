// Main's own pages: built from the authoring directory (SITE_DIR/authoring by default) into a
// release of main's `original` area and activated.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/env.h"
#include "base/status.h"
#include "content/builder.h"
#include "site/config.h"
#include "site/site_content.h"

namespace tieup {

struct OwnSiteBuild {
  uint64_t version = 0;  // the active version afterwards
  bool changed = false;  // false: the rendered site is identical to the active release
  size_t pages = 0;
  size_t rendered = 0;  // pages rendered by this build (the others were unchanged and reused)
  uint64_t bytes = 0;
  size_t added = 0, changed_files = 0, removed = 0;
};

// The authoring directory of a main site (absolute, or relative to SITE_DIR).
std::string AuthoringDir(const SiteConfig& config, const std::string& site_dir);
// Where main keeps its partners' release files ([content] partner_blobs_dir: absolute, or
// relative to SITE_DIR).
std::string PartnerBlobsDir(const SiteConfig& config, const std::string& site_dir);

// What a build of main's own pages is made from (all but version, created and products): the
// authoring directory, main's `original` area and variables (site.name, site.id, [variables]).
// BuildOwnSite uses it, and so does the console's preview of a page.
content::BuildOptions OwnSiteBuildOptions(const SiteConfig& config, const std::string& site_dir);

// Renders the authoring directory with main's variables (site.name, site.id and [variables])
// and activates it as a new release when anything changed. Incremental: only pages whose
// source, layouts or variables changed since the active release are rendered (what each page
// was built from is kept in SITE_DIR/cache/own-site.inputs).
// `products`: main's catalog as pages show it (main_site/catalog_pages.h; null: none, and a page
// naming products fails to build). `cache` (optional) is shared with the partners' builds that
// follow (sync::Publisher).
Result<OwnSiteBuild> BuildOwnSite(Env& env, const SiteConfig& config, SiteContent& content,
                                  std::shared_ptr<const content::PageProducts> products,
                                  content::SourceCache* cache = nullptr);

// The fingerprint (main_site/catalog_pages.h) of the catalog main's pages were last built with
// (kept by BuildOwnSite in SITE_DIR/cache/catalog-pages.built); NotFound before the first build
// with a catalog.
Result<std::string> BuiltCatalogFingerprint(Env& env, const std::string& site_dir);
Status KeepBuiltCatalogFingerprint(Env& env, const std::string& site_dir,
                                   const std::string& fingerprint);

// Writes a small starter authoring directory (a layout whose header links the cart with its
// count, a front page that shows how a product page names its product, a 404 page, a stylesheet
// and the cart-count script; src/main_site/starter/) so a new main site serves something at
// once. Existing files are left alone.
Status WriteStarterAuthoring(Env& env, const std::string& authoring_dir);

}  // namespace tieup
