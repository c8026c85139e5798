#include "content/ad_catalog.h"

#include <toml++/toml.h>

#include <algorithm>
#include <set>

#include "base/toml_text.h"

namespace tieup::content {
namespace {

constexpr size_t kMaxIdLength = 40;
constexpr size_t kMaxTextLength = 200;
constexpr size_t kMaxPathLength = 300;
constexpr size_t kMaxLinkLength = 2000;

bool IsIdChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

// No control characters, spaces or characters that end an attribute or a header.
bool IsUrlText(std::string_view s) {
  for (unsigned char c : s) {
    if (c <= 0x20 || c == 0x7f || c == '"' || c == '\'' || c == '<' || c == '>' || c == '\\') {
      return false;
    }
  }
  return true;
}

// A path of the same site: "/x/y", no "//" start, no "..", no query or fragment.
bool IsSitePath(std::string_view p) {
  if (p.empty() || p[0] != '/' || (p.size() > 1 && p[1] == '/')) return false;
  if (!IsUrlText(p) || p.find("/../") != std::string_view::npos || p.ends_with("/..")) {
    return false;
  }
  return p.find_first_of("?#") == std::string_view::npos;
}

// A site path (a query and fragment allowed) or an absolute http(s) URL with a host.
bool IsLink(std::string_view l) {
  if (l.empty() || !IsUrlText(l)) return false;
  if (l[0] == '/') return l.size() == 1 || l[1] != '/';
  for (std::string_view scheme : {"https://", "http://"}) {
    if (l.starts_with(scheme)) {
      std::string_view host = l.substr(scheme.size());
      return !host.empty() && host[0] != '/' && host[0] != '?' && host[0] != '#';
    }
  }
  return false;
}

bool HasControl(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

}  // namespace

const Ad* AdCatalog::Find(std::string_view id) const {
  for (const Ad& ad : ads) {
    if (ad.id == id) return &ad;
  }
  return nullptr;
}

Result<AdCatalog> ParseAdCatalog(std::string_view text, const std::string& file) {
  if (text.size() > kMaxAdCatalogBytes) {
    return Status::InvalidArgument(file + " is " + std::to_string(text.size()) +
                                   " bytes; an ad catalog holds at most " +
                                   std::to_string(kMaxAdCatalogBytes) + " (split it, or shorten)");
  }
  ASSIGN_OR_RETURN(toml::table root, ParseTomlText(text, file));
  for (const auto& [k, v] : root) {
    if (k.str() != "ad") {
      return Status::InvalidArgument(file + ": unknown key '" + std::string(k.str()) +
                                     "' at the top level; each ad is an [[ad]] table");
    }
  }
  AdCatalog catalog;
  const toml::node* list = root.get("ad");
  if (list == nullptr) return catalog;  // no ads: the slots stay empty
  const toml::array* ads = list->as_array();
  if (ads == nullptr) {
    return Status::InvalidArgument(file + ": 'ad' must be a list of [[ad]] tables");
  }
  if (ads->size() > kMaxAds) {
    return Status::InvalidArgument(file + " has " + std::to_string(ads->size()) +
                                   " ads; a catalog holds at most " + std::to_string(kMaxAds));
  }
  std::set<std::string, std::less<>> ids;
  for (size_t i = 0; i < ads->size(); ++i) {
    const toml::table* t = (*ads)[i].as_table();
    std::string which = file + ": ad " + std::to_string(i + 1);
    if (t == nullptr) return Status::InvalidArgument(which + " is not an [[ad]] table");
    Ad ad;
    for (const auto& [k, v] : *t) {
      std::string key(k.str());
      std::string* field = key == "id"      ? &ad.id
                           : key == "text"  ? &ad.text
                           : key == "image" ? &ad.image
                           : key == "link"  ? &ad.link
                                            : nullptr;
      if (field == nullptr) {
        return Status::InvalidArgument(which + ": unknown key '" + key +
                                       "' (known keys: id, text, image, link)");
      }
      if (!v.is_string()) {
        return Status::InvalidArgument(which + ": '" + key + "' must be a string in quotes");
      }
      *field = v.as_string()->get();
    }
    if (ad.id.empty() || ad.id.size() > kMaxIdLength || ad.id[0] == '-' ||
        !std::all_of(ad.id.begin(), ad.id.end(), IsIdChar)) {
      return Status::InvalidArgument(which + ": 'id' must be 1 to " + std::to_string(kMaxIdLength) +
                                     " of a-z, 0-9 and '-' (not first), like \"spring-sale\"");
    }
    which += " ('" + ad.id + "')";
    if (!ids.insert(ad.id).second) {
      return Status::InvalidArgument(which + ": another ad has the same id; ids are unique");
    }
    if (ad.text.empty() || ad.text.size() > kMaxTextLength || HasControl(ad.text)) {
      return Status::InvalidArgument(which + ": 'text' must be 1 to " +
                                     std::to_string(kMaxTextLength) +
                                     " bytes on one line: what the ad says");
    }
    if (!ad.image.empty() && (ad.image.size() > kMaxPathLength || !IsSitePath(ad.image))) {
      return Status::InvalidArgument(which + ": 'image' must be a path of this site, like " +
                                     "\"/assets/ads/spring.svg\" (no spaces, '..' or query)");
    }
    if (ad.link.size() > kMaxLinkLength || !IsLink(ad.link)) {
      return Status::InvalidArgument(
          which + ": 'link' must be a path of this site (\"/sale.html\")" +
          " or an http:// or https:// address, without spaces or " + "quotes");
    }
    catalog.ads.push_back(std::move(ad));
  }
  return catalog;
}

Result<AdCatalog> LoadAdCatalog(const SiteView& view, std::string_view path, Area area) {
  const ServedFile* file = view.Find(path);
  if (file == nullptr || file->area != area) return AdCatalog{};
  ASSIGN_OR_RETURN(auto body, view.ReadBody(*file));
  return ParseAdCatalog(*body, std::string(path));
}

}  // namespace tieup::content
