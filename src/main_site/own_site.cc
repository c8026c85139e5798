#include "main_site/own_site.h"

#include "content/builder.h"
#include "main_site/catalog_pages.h"

namespace tieup {

// The starter authoring files (generated from src/main_site/starter/ by CMake).
const std::vector<std::pair<std::string_view, std::string_view>>& EmbeddedStarterAuthoring();

namespace {

// What main's active own release was built from: "<version>\n" + content::BuildInputs.
constexpr std::string_view kOwnSiteInputsFile = "cache/own-site.inputs";
// The fingerprint of the catalog that build had: "<hex>\n".
constexpr std::string_view kBuiltCatalogFile = "cache/catalog-pages.built";

}  // namespace

std::string AuthoringDir(const SiteConfig& config, const std::string& site_dir) {
  if (!config.authoring_dir.empty() && config.authoring_dir[0] == '/') return config.authoring_dir;
  return JoinPath(site_dir, config.authoring_dir);
}

std::string PartnerBlobsDir(const SiteConfig& config, const std::string& site_dir) {
  if (!config.partner_blobs_dir.empty() && config.partner_blobs_dir[0] == '/') {
    return config.partner_blobs_dir;
  }
  return JoinPath(site_dir, config.partner_blobs_dir);
}

content::BuildOptions OwnSiteBuildOptions(const SiteConfig& config, const std::string& site_dir) {
  content::BuildOptions o;
  o.authoring_dir = AuthoringDir(config, site_dir);
  o.area = content::Area::kOriginal;
  o.site = config.id;
  o.variables = config.variables;
  o.variables["site.name"] = config.name;
  o.variables["site.id"] = config.id;
  return o;
}

Result<OwnSiteBuild> BuildOwnSite(Env& env, const SiteConfig& config, SiteContent& content,
                                  std::shared_ptr<const content::PageProducts> products,
                                  content::SourceCache* cache) {
  OwnSiteBuild report;
  const std::string authoring = AuthoringDir(config, content.site_dir());
  if (!env.FileExists(authoring)) {
    return Status::NotFound("the authoring directory '" + authoring +
                            "' does not exist: create it with layouts/, pages/ and assets/, or "
                            "set authoring_dir in site.toml");
  }
  RETURN_IF_ERROR(content.Mutate([&](content::ContentStore& store) -> Status {
    auto active = store.Active(content::Area::kOriginal);
    if (!active.ok() && active.status().code() != StatusCode::kNotFound) return active.status();
    content::BuildOptions o = OwnSiteBuildOptions(config, content.site_dir());
    o.version = active.ok() ? (*active)->version + 1 : 1;
    o.created = env.NowSeconds();
    o.products = products;
    // Incremental: what the active release was built from is kept beside it (a cache: when it
    // is missing, stale or unreadable, everything is rendered).
    const std::string inputs_path = JoinPath(content.site_dir(), kOwnSiteInputsFile);
    content::BuildInputs previous_inputs;
    if (active.ok() && env.FileExists(inputs_path)) {
      auto bytes = env.ReadFile(inputs_path);
      const std::string header = std::to_string((*active)->version) + "\n";
      if (bytes.ok() && bytes->starts_with(header)) {
        previous_inputs =
            content::BuildInputs::Parse(std::string_view(*bytes).substr(header.size()))
                .value_or(content::BuildInputs{});
      }
    }
    content::PreviousBuild previous;
    if (!previous_inputs.digests.empty()) previous = {active->get(), &previous_inputs};
    ASSIGN_OR_RETURN(content::BuildResult built,
                     content::BuildReleaseIncremental(env, store.blobs(), o, previous, cache));
    const content::ReleaseManifest& m = built.manifest;
    report.rendered = built.rendered;
    report.pages = m.files.size();
    for (const auto& [p, e] : m.files) report.bytes += e.length;
    content::ReleaseDiff diff =
        content::Diff(active.ok() ? **active : content::ReleaseManifest{}, m);
    report.added = diff.added.size();
    report.changed_files = diff.changed.size();
    report.removed = diff.removed.size();
    auto keep_inputs = [&](uint64_t version) -> Status {
      if (version == (active.ok() ? (*active)->version : 0) && previous_inputs == built.inputs) {
        return Status::Ok();
      }
      RETURN_IF_ERROR(CreateDirs(env, DirName(inputs_path)));
      return WriteFileAtomic(env, inputs_path,
                             std::to_string(version) + "\n" + built.inputs.Encode());
    };
    if (active.ok() && diff.empty()) {
      report.version = (*active)->version;
      return keep_inputs(report.version);
    }
    RETURN_IF_ERROR(store.Stage(m));
    RETURN_IF_ERROR(store.Activate(content::Area::kOriginal, m.version));
    RETURN_IF_ERROR(keep_inputs(m.version));
    report.version = m.version;
    report.changed = true;
    return Status::Ok();
  }));
  if (products) {
    RETURN_IF_ERROR(
        KeepBuiltCatalogFingerprint(env, content.site_dir(), PageProductsFingerprint(*products)));
  }
  return report;
}

Result<std::string> BuiltCatalogFingerprint(Env& env, const std::string& site_dir) {
  ASSIGN_OR_RETURN(std::string text, env.ReadFile(JoinPath(site_dir, kBuiltCatalogFile)));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

Status KeepBuiltCatalogFingerprint(Env& env, const std::string& site_dir,
                                   const std::string& fingerprint) {
  const std::string path = JoinPath(site_dir, kBuiltCatalogFile);
  RETURN_IF_ERROR(CreateDirs(env, DirName(path)));
  return WriteFileAtomic(env, path, fingerprint + "\n");
}

Status WriteStarterAuthoring(Env& env, const std::string& dir) {
  // The embedded files (src/main_site/starter/), by name without extension.
  static constexpr std::pair<std::string_view, std::string_view> kWhere[] = {
      {"default", "layouts/default.mustache"}, {"index", "pages/index.md"}, {"404", "pages/404.md"},
      {"style", "assets/style.css"},           {"cart", "assets/cart.js"},
  };
  for (const auto& [name, rel] : kWhere) {
    std::string_view bytes;
    for (const auto& [embedded, text] : EmbeddedStarterAuthoring()) {
      if (embedded == name) bytes = text;
    }
    std::string path = JoinPath(dir, std::string(rel));
    if (env.FileExists(path)) continue;
    RETURN_IF_ERROR(CreateDirs(env, DirName(path)));
    RETURN_IF_ERROR(WriteFileAtomic(env, path, std::string(bytes)));
  }
  return Status::Ok();
}

}  // namespace tieup
