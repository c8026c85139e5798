// The partner console's ads (issue 15 item 8): the shop's own ads, which its pages show in the
// main site's {{> ad_partner}} slots (content/ad_catalog.h), edited in a form; and main's ads,
// listed as they come with main's release.
//
// GET /ads lists both. POST /ads saves the form: each ad's text, link and optional image, a
// "Remove" box per ad, and one empty row to add an ad (its id is made from its text, and kept
// afterwards). The form becomes the catalog file /.tieup/partner-ads.toml of the original
// pages, written by the same PutPages as `tieup partner page put` (partner_site/page_tools.h),
// which checks it first: a refused form changes nothing and comes back with what to correct.
// Every save is in the audit log.
#include <toml++/toml.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdlib>
#include <sstream>

#include "commerce/form.h"
#include "content/ad_catalog.h"
#include "partner_site/console_common.h"
#include "partner_site/page_tools.h"

namespace tieup::partner_console {
namespace {

// The catalog of `area` at `path` in the served view; empty when there is none. `error` says
// why one could not be read.
content::AdCatalog Catalog(ConsoleState& s, std::string_view path, content::Area area,
                           std::string* error) {
  auto view = s.daemon->site().content().view();
  if (!view) return {};
  auto catalog = content::LoadAdCatalog(*view, path, area);
  if (!catalog.ok()) *error = catalog.status().message();
  return catalog.ok() ? std::move(*catalog) : content::AdCatalog{};
}

// An id for a new ad, from its text: "Local honey week!" -> "local-honey-week", unique.
std::string IdFor(std::string_view text, const std::vector<content::Ad>& ads) {
  std::string id;
  for (char c : text) {
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    const bool keep = (lower >= 'a' && lower <= 'z') || (lower >= '0' && lower <= '9');
    if (keep) {
      id += lower;
    } else if (!id.empty() && id.back() != '-') {
      id += '-';
    }
    if (id.size() >= 32) break;
  }
  while (!id.empty() && id.back() == '-') id.pop_back();
  if (id.empty()) id = "ad";
  auto taken = [&](const std::string& candidate) {
    for (const content::Ad& a : ads) {
      if (a.id == candidate) return true;
    }
    return false;
  };
  std::string unique = id;
  for (int n = 2; taken(unique); ++n) unique = id + "-" + std::to_string(n);
  return unique;
}

// The catalog file for `ads` (toml++ writes the quoting).
std::string CatalogText(const std::vector<content::Ad>& ads) {
  toml::array list;
  for (const content::Ad& ad : ads) {
    toml::table t;
    t.insert("id", ad.id);
    t.insert("text", ad.text);
    if (!ad.image.empty()) t.insert("image", ad.image);
    t.insert("link", ad.link);
    list.push_back(std::move(t));
  }
  toml::table root;
  root.insert("ad", std::move(list));
  std::ostringstream out;
  out << "# The shop's own ads, shown in the main site's {{> ad_partner}} slots.\n"
      << "# Written by the partner console (Ads); `tieup partner page put` replaces it too.\n"
      << root << "\n";
  return out.str();
}

json::array AdsData(const std::vector<content::Ad>& ads) {
  json::array out;
  for (size_t i = 0; i < ads.size(); ++i) {
    const content::Ad& ad = ads[i];
    out.push_back(json::object{{"index", static_cast<int64_t>(i)},
                               {"number", static_cast<int64_t>(i + 1)},
                               {"id", ad.id},
                               {"text", ad.text},
                               {"link", ad.link},
                               {"image", ad.image}});
  }
  return out;
}

// The page, with `own` in the form (the saved catalog, or what was just posted) and `error`.
ConsolePage AdsPage(ConsoleState& s, const std::vector<content::Ad>* own, const std::string& error,
                    const content::Ad& added, int status) {
  ConsolePage p;
  p.status = status;
  p.title = "Ads";
  p.template_name = "ads";
  json::object data;
  std::string own_error, main_error;
  content::AdCatalog saved =
      Catalog(s, content::kPartnerAdCatalogPath, content::Area::kOriginal, &own_error);
  content::AdCatalog mains =
      Catalog(s, content::kAdCatalogPath, content::Area::kTieup, &main_error);
  const std::vector<content::Ad>& shown = own != nullptr ? *own : saved.ads;
  data["own"] = AdsData(shown);
  data["count"] = static_cast<int64_t>(shown.size());
  data["has_own"] = !shown.empty();
  data["new"] = json::object{{"text", added.text}, {"link", added.link}, {"image", added.image}};
  data["main"] = AdsData(mains.ads);
  data["has_main"] = !mains.ads.empty();
  if (!error.empty()) data["error"] = error;
  if (!own_error.empty()) data["own_error"] = own_error;
  if (!main_error.empty()) data["main_error"] = main_error;
  data["catalog_path"] = std::string(content::kPartnerAdCatalogPath);
  p.data = std::move(data);
  return p;
}

ConsolePage Ads(ConsoleState& s, const ConsoleRequest& r) {
  if (r.http.method() != "POST") return AdsPage(s, nullptr, "", {}, 200);
  auto field = [&](const std::string& name) {
    return std::string(commerce::Trim(r.form.Get(name)));
  };
  std::vector<content::Ad> ads;
  size_t removed = 0;
  const std::string count_text = field("count");
  const size_t count = count_text.size() <= 3 ? std::strtoul(count_text.c_str(), nullptr, 10) : 0;
  for (size_t i = 0; i < std::min(count, content::kMaxAds); ++i) {
    const std::string n = std::to_string(i);
    if (r.form.Has("remove_" + n)) {
      ++removed;
      continue;
    }
    ads.push_back({field("id_" + n), field("text_" + n), field("image_" + n), field("link_" + n)});
  }
  content::Ad added{"", field("new_text"), field("new_image"), field("new_link")};
  const bool adding = !added.text.empty() || !added.link.empty() || !added.image.empty();
  if (adding) {
    added.id = IdFor(added.text, ads);
    ads.push_back(added);
  }
  const std::string text = CatalogText(ads);
  // The form's own words for the catalog's complaints ("ads.toml: ad 2 ('x'): 'link' ...").
  auto refuse = [&](const std::string& why) {
    (void)s.console->Audit(r, "ads.save", "refused: " + why);
    if (adding) ads.pop_back();
    return AdsPage(s, &ads, why, adding ? added : content::Ad{}, 422);
  };
  if (auto checked = content::ParseAdCatalog(text, "your ads"); !checked.ok()) {
    return refuse(checked.status().message());
  }
  Env& env = s.daemon->env();
  const std::string tmp = TempPath(s, "ads");
  Status st = CreateDirs(env, DirName(tmp));
  if (st.ok()) st = WriteFileAtomic(env, tmp, text);
  Result<PagePutReport> put =
      st.ok() ? PutPages(env, s.config(), s.daemon->site().content(),
                         std::string(content::kPartnerAdCatalogPath), tmp, "", false, "")
              : Result<PagePutReport>(st);
  (void)env.RemoveFile(tmp);
  if (!put.ok()) return refuse(put.status().message());
  if (!put->changed) return Redirect("/ads", "Nothing to save: nothing changed.");
  std::string words = std::to_string(ads.size()) + (ads.size() == 1 ? " ad" : " ads");
  if (adding) words += ", \"" + added.text + "\" added";
  if (removed > 0) words += ", " + std::to_string(removed) + " removed";
  (void)s.console->Audit(r, "ads.save", words);
  return Redirect(
      "/ads", "Saved: " + words + ". Your pages show them from the next page a customer opens.");
}

}  // namespace

void AddAdPages(ConsoleState& s) {
  ConsoleState* p = &s;
  s.console->AddPage("/ads", [p](const ConsoleRequest& r) { return Ads(*p, r); });
}

}  // namespace tieup::partner_console
