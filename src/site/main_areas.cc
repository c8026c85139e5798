#include "site/main_areas.h"

#include <algorithm>

#include "site/site_content.h"

namespace tieup {
namespace {

bool Overlaps(std::string_view a, std::string_view b) {
  return a.substr(0, std::min(a.size(), b.size())) == b.substr(0, std::min(a.size(), b.size()));
}

std::string AreaText(const SiteConfig& c) {
  if (!c.area_prefix.empty()) return "tie-up area " + c.area_prefix;
  return "tie-up area for host " + c.area_host;
}

}  // namespace

std::string FurtherMainsDir(const std::string& site_dir) { return site_dir + "/mains"; }

std::string DescribeMain(const SiteConfig& config) {
  std::string out = "main at " + (config.main_sync_url.empty() ? std::string("(not enrolled)")
                                                               : config.main_sync_url);
  if (!config.area_prefix.empty() || !config.area_host.empty()) {
    out += " (" + AreaText(config) + ")";
  }
  return out;
}

Result<std::vector<FurtherMain>> LoadFurtherMains(Env& env, const std::string& site_dir) {
  std::vector<FurtherMain> out;
  const std::string dir = FurtherMainsDir(site_dir);
  if (!env.FileExists(dir)) return out;
  ASSIGN_OR_RETURN(std::vector<FileInfo> entries, env.ListDir(dir));
  std::vector<std::string> names;
  for (const FileInfo& e : entries) {
    if (e.is_dir && !e.name.empty() && e.name[0] != '.') names.push_back(e.name);
  }
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    FurtherMain m;
    m.name = name;
    m.dir = dir + "/" + name;
    auto config = LoadSiteConfig(env, m.dir);
    if (!config.ok()) {
      return config.status().Annotate("the further main site in '" + m.dir +
                                      "' (remove the directory to leave that main)");
    }
    m.config = std::move(*config);
    if (m.config.role != SiteRole::kPartner ||
        (m.config.area_prefix.empty() && m.config.area_host.empty())) {
      return Status::FailedPrecondition(
          "'" + m.dir +
          "/site.toml' sets no tie-up area (partner.area_prefix or partner.area_host): a further "
          "main's directory is made by 'tieup partner enroll DIR --main URL --token CODE "
          "--area-prefix /PREFIX/'; remove that directory or set its area");
    }
    out.push_back(std::move(m));
  }
  return out;
}

Result<content::TieupAreaRules> LoadTieupAreaRules(Env& env, const std::string& site_dir) {
  content::TieupAreaRules rules;
  // A store opened outside a site (tests, tools) has no site.toml: no rules.
  if (!env.FileExists(SitePaths(site_dir).config())) return rules;
  ASSIGN_OR_RETURN(SiteConfig self, LoadSiteConfig(env, site_dir));
  if (self.role != SiteRole::kPartner) return rules;
  auto plain = [](const SiteConfig& c) { return "main at " + c.main_sync_url; };
  rules.owner = plain(self);
  // A further main (SITE_DIR/mains/NAME): its paths are main's, served in its area.
  if (!self.area_prefix.empty() || !self.area_host.empty()) return rules;
  ASSIGN_OR_RETURN(std::vector<FurtherMain> mains, LoadFurtherMains(env, site_dir));
  for (const FurtherMain& m : mains) {
    if (m.config.area_prefix.empty()) continue;  // a host of its own: no path is shared
    rules.reserved.push_back({m.config.area_prefix, plain(m.config)});
  }
  return rules;
}

std::string FurtherMainNameForArea(std::string_view area_prefix, std::string_view area_host) {
  std::string_view from = area_prefix.empty() ? area_host : area_prefix;
  std::string name;
  for (char ch : from) {
    char c = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (ok) {
      name += c;
    } else if (!name.empty() && name.back() != '-') {
      name += '-';
    }
  }
  while (!name.empty() && name.back() == '-') name.pop_back();
  if (name.size() > 63) name.resize(63);
  return name.empty() ? "main2" : name;
}

Status CheckNewTieupArea(Env& env, const std::string& site_dir, std::string_view area_prefix,
                         std::string_view area_host) {
  if (area_prefix.empty() == area_host.empty()) {
    return Status::InvalidArgument(
        "a further main needs exactly one tie-up area: --area-prefix /PREFIX/ (its pages under "
        "that path) or --area-host HOST (its pages on a host name of their own)");
  }
  ASSIGN_OR_RETURN(std::vector<FurtherMain> mains, LoadFurtherMains(env, site_dir));
  for (const FurtherMain& m : mains) {
    if (!area_prefix.empty() && !m.config.area_prefix.empty() &&
        Overlaps(area_prefix, m.config.area_prefix)) {
      return Status::AlreadyExists("the tie-up area " + std::string(area_prefix) +
                                   " overlaps the tie-up area " + m.config.area_prefix + " of " +
                                   DescribeMain(m.config) + " ('" + m.dir +
                                   "'): choose a prefix that neither contains nor lies in it");
    }
    if (!area_host.empty() && m.config.area_host == area_host) {
      return Status::AlreadyExists("host " + std::string(area_host) + " is already the area of " +
                                   DescribeMain(m.config) + " ('" + m.dir +
                                   "'): choose another host name");
    }
  }
  if (area_prefix.empty()) return Status::Ok();
  // Pages the site serves now under the prefix would be hidden by the new main's area.
  SiteContentOptions o;
  o.serve = false;
  ASSIGN_OR_RETURN(std::unique_ptr<SiteContent> content, SiteContent::Open(env, site_dir, o));
  std::string found;
  RETURN_IF_ERROR(content->Read([&](content::ContentStore& store) -> Status {
    for (content::Area area : {content::Area::kTieup, content::Area::kOriginal}) {
      auto served = store.Served(area);
      if (!served.ok()) continue;
      for (const auto& [path, entry] : (*served)->files) {
        if (!path.starts_with(area_prefix)) continue;
        found = path + (area == content::Area::kTieup ? " (a tie-up page of the first main)"
                                                      : " (one of your own pages)");
        return Status::Ok();
      }
    }
    return Status::Ok();
  }));
  if (!found.empty()) {
    return Status::AlreadyExists("the site already serves " + found + " under " +
                                 std::string(area_prefix) +
                                 ": choose another prefix, or remove those pages first");
  }
  return Status::Ok();
}

}  // namespace tieup
