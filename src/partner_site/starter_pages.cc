#include "partner_site/starter_pages.h"

#include <algorithm>
#include <boost/json.hpp>
#include <string_view>
#include <utility>

#include "content/markdown_page.h"
#include "content/page_templates.h"
#include "partner_site/page_tools.h"
#include "site/site_content.h"

namespace tieup {
// The starter pages' texts (generated from src/partner_site/starter/*.md by CMake), by file name
// without its extension.
const std::vector<std::pair<std::string_view, std::string_view>>& EmbeddedPartnerStarterPages();

namespace {

// Where the site serves the Markdown source `file` ("about.md" -> "/local/about.html").
std::string ServedPath(const std::string& file) {
  return content::OwnPageServedPath(std::string(kStarterPagesUrl) + file);
}

}  // namespace

Result<std::vector<StarterPage>> RenderStarterPages(const SiteConfig& config) {
  std::vector<std::pair<std::string, std::string_view>> texts;  // file name, template
  for (const auto& [name, text] : EmbeddedPartnerStarterPages()) {
    texts.emplace_back(std::string(name) + ".md", text);
  }
  std::sort(texts.begin(), texts.end());

  // What the texts may use: {{{name}}}, {{#region}}{{{region}}}{{/region}} and, to link to each
  // other, {{{pages.NAME}}} (the address starter page NAME.md is served at).
  boost::json::object pages;
  for (const auto& [file, text] : texts) {
    pages[file.substr(0, file.size() - 3)] = ServedPath(file);
  }
  boost::json::object data;
  data["name"] = config.name.empty() ? config.id : config.name;
  if (!config.region.empty()) data["region"] = config.region;  // absent: the section is left out
  data["pages"] = std::move(pages);

  std::vector<StarterPage> out;
  for (const auto& [file, text] : texts) {
    ASSIGN_OR_RETURN(std::string markdown,
                     content::RenderMustacheJson(text, data, "starter page " + file));
    out.push_back(
        {file, std::string(kStarterPagesUrl) + file, ServedPath(file), std::move(markdown)});
  }
  return out;
}

Result<StarterPagesReport> WriteStarterPages(Env& env, const std::string& site_dir) {
  ASSIGN_OR_RETURN(SiteConfig config, LoadSiteConfig(env, site_dir));
  if (config.role != SiteRole::kPartner) {
    return Status::FailedPrecondition("'" + site_dir +
                                      "' is not a partner site: starter pages are for partners");
  }
  ASSIGN_OR_RETURN(std::vector<StarterPage> pages, RenderStarterPages(config));

  StarterPagesReport report;
  report.source_dir = JoinPath(site_dir, kStarterPagesDir);
  RETURN_IF_ERROR(CreateDirs(env, report.source_dir));
  for (const StarterPage& p : pages) {
    const std::string path = JoinPath(report.source_dir, p.file);
    if (env.FileExists(path)) continue;  // the manager's own text wins
    RETURN_IF_ERROR(WriteFileAtomic(env, path, p.markdown));
  }

  SiteContentOptions o;
  o.site_id = config.id;
  o.keep_releases = static_cast<size_t>(config.keep_releases);
  o.serve = false;
  ASSIGN_OR_RETURN(std::unique_ptr<SiteContent> content, SiteContent::Open(env, site_dir, o));
  ASSIGN_OR_RETURN(PagePutReport put,
                   PutPages(env, config, *content, kStarterPagesUrl, report.source_dir, "", false));
  report.paths = std::move(put.paths);
  report.version = put.version;
  for (const StarterPage& p : pages) report.served_paths.push_back(p.served_path);
  return report;
}

}  // namespace tieup
