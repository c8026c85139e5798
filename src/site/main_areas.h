// Several main sites per partner (DESIGN.md "Several main sites"). The first main a partner
// enrolls with owns the site's tie-up area as before: every path that is not the partner's own.
// Each further main gets its own tie-up area, fixed at enrollment, either
//   - a path prefix ("/brand2/"): the partner serves that main's pages under it, main's "/x.html"
//     at "/brand2/x.html" (the links of its HTML pages, its redirects and cookies moved there:
//     site/page_server.h's PageMount), so main publishes the same site to every partner; neither
//     the first main nor the partner's own pages may hold a path under it; or
//   - a host name ("brand2.shop.example"): the public port serves that main's pages to requests
//     for that host, and everything else to the other hosts; paths cannot collide.
// Each further main lives in SITE_DIR/mains/NAME/, a partner site directory of its own (its
// site.toml with partner.area_prefix or partner.area_host set, its keys and pinned trust root, its
// releases and blobs, its database of received updates and approvals, its access ledger), so
// everything a partner does for one main it does for this one, apart: approvals, revocation, the
// access-record stream and the fees. The partner daemon serves them all on one public port.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "content/content_store.h"
#include "site/config.h"

namespace tieup {

// SITE_DIR/mains: where the further mains' directories are.
std::string FurtherMainsDir(const std::string& site_dir);

// One further main of a partner site.
struct FurtherMain {
  std::string name;  // the directory's name under SITE_DIR/mains
  std::string dir;   // SITE_DIR/mains/NAME
  SiteConfig config;
};

// The further mains of the partner site at `site_dir`, by name; none when SITE_DIR/mains is
// absent. A directory without a valid site.toml, or whose site.toml sets no area, is an error
// naming it (the daemon must not serve a site whose areas it cannot tell).
Result<std::vector<FurtherMain>> LoadFurtherMains(Env& env, const std::string& site_dir);

// How a main is named in messages: "main at https://HOST:PORT" plus, for a further main, its
// area ("(tie-up area /brand2/)" or "(tie-up area for host brand2.example)").
std::string DescribeMain(const SiteConfig& config);

// The rules the content store of `site_dir` enforces on paths (content::TieupAreaRules): for the
// partner site itself, the prefixes of its further mains, which neither its first main nor its
// own pages may use; for a further main's directory, none (its paths are main's).
Result<content::TieupAreaRules> LoadTieupAreaRules(Env& env, const std::string& site_dir);

// A name for a further main's directory made from its area: "/brand2/" -> "brand2",
// "Tea.Example.com" -> "tea-example-com".
std::string FurtherMainNameForArea(std::string_view area_prefix, std::string_view area_host);

// Checks that a new further main's area (exactly one of prefix and host) is free: not overlapping
// another further main's prefix or equal to its host, and, for a prefix, no page the site serves
// now (tie-up or the partner's own) lies under it. The error says which one and what to choose.
Status CheckNewTieupArea(Env& env, const std::string& site_dir, std::string_view area_prefix,
                         std::string_view area_host);

}  // namespace tieup
