// Advertisements: the catalog a site ships and the slot tag its layouts use.
//
// A layout (or a page) marks where an advertisement goes with a template tag naming whose ad it
// is: {{> ad_main}} (main's: the catalog of main's release) or {{> ad_partner}} (the partner's:
// the catalog of the partner's own original pages). The builder (content/builder.h) renders the
// tag as a same-origin frame, /tieup-ad/main or /tieup-ad/partner (template ad_slot.mustache);
// the site serves the frame with the next ad of that catalog and records the impression in its
// ledger, and a click goes through /tieup-ad/click so it is recorded too (site/ad_frames.h).
// The page's bytes never change with the ad shown: a tie-up page stays exactly what main signed.
//
// Main's catalog is the file kAdCatalogPath of main's release (in main's authoring directory,
// pages/.tieup/ads.toml); the partner's is kPartnerAdCatalogPath in its own original pages
// (`tieup partner page put DIR /.tieup/partner-ads.toml FILE`, or the console). Both read:
//
//   [[ad]]
//   id = "first-flush"                      # a-z, 0-9 and '-', unique, at most 40
//   text = "First flush Darjeeling is in"   # what the ad says (and the image's alt text)
//   image = "/assets/ads/first-flush.svg"   # optional: a path of the same site
//   link = "/products/DARJ-1.html"          # a path of the same site, or an http(s):// URL
//
// Files under /.tieup/ are never served to browsers. Without a catalog (or with no [[ad]]),
// a slot's frame is empty.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "content/site_view.h"

namespace tieup::content {

// Where main's release keeps main's catalog, and a partner's original pages the partner's.
inline constexpr std::string_view kAdCatalogPath = "/.tieup/ads.toml";
inline constexpr std::string_view kPartnerAdCatalogPath = "/.tieup/partner-ads.toml";
// The largest catalog file, and the most ads in it.
inline constexpr size_t kMaxAdCatalogBytes = 64 * 1024;
inline constexpr size_t kMaxAds = 100;

struct Ad {
  std::string id;
  std::string text;
  std::string image;  // "" for a text ad
  std::string link;

  friend bool operator==(const Ad&, const Ad&) = default;
};

struct AdCatalog {
  std::vector<Ad> ads;  // in the file's order

  // The ad with this id, or null.
  const Ad* Find(std::string_view id) const;
};

// Parses a catalog (see above). InvalidArgument naming `file`, the ad (by its number and id)
// and the field, with what to write instead, for anything else: bad TOML, an unknown key, a
// missing or malformed field, a repeated id, more than kMaxAds ads or kMaxAdCatalogBytes bytes.
Result<AdCatalog> ParseAdCatalog(std::string_view text, const std::string& file);

// The catalog at `path` of `view`'s `area` (kAdCatalogPath or kPartnerAdCatalogPath): empty
// when the area has no such file; the read's or ParseAdCatalog's error otherwise.
Result<AdCatalog> LoadAdCatalog(const SiteView& view, std::string_view path, Area area);

}  // namespace tieup::content
