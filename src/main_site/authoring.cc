#include "main_site/authoring.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "content/page_templates.h"
#include "content/release.h"

namespace tieup {
namespace {

constexpr std::string_view kPages = "pages/";
constexpr std::string_view kLayouts = "layouts/";
constexpr std::string_view kAssets = "assets/";
constexpr std::string_view kLayoutSuffix = ".mustache";
// Deeper than this is a symbolic link loop, not a site.
constexpr int kMaxDepth = 32;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The extension of the last segment, lower-case, without the dot ("" when none).
std::string ExtensionOf(std::string_view rel) {
  const size_t slash = rel.rfind('/');
  const size_t dot = rel.rfind('.');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) return {};
  return Lower(rel.substr(dot + 1));
}

// Every regular file below `root`/`rel`, appended as paths relative to `root`.
Status ListBelow(Env& env, const std::string& root, const std::string& rel, int depth,
                 std::vector<AuthoringEntry>& out) {
  if (depth > kMaxDepth) {
    return Status::InvalidArgument("'" + rel + "' is nested more than " +
                                   std::to_string(kMaxDepth) +
                                   " folders deep (a symbolic link loop?)");
  }
  ASSIGN_OR_RETURN(auto entries, env.ListDir(JoinPath(root, rel)));
  for (const FileInfo& e : entries) {
    const std::string child = rel + "/" + e.name;
    if (e.is_dir) {
      RETURN_IF_ERROR(ListBelow(env, root, child, depth + 1, out));
      continue;
    }
    AuthoringEntry a;
    a.path = child;
    a.url_path = AuthoringUrlPath(child);
    a.size = e.size;
    a.modified_micros = e.mtime_ns / 1000;
    a.editable = IsEditableAuthoringPath(child);
    out.push_back(std::move(a));
  }
  return Status::Ok();
}

// The files of an overrides directory that would make the same URL path (or layout) as `rel`.
std::vector<std::string> OverridingCandidates(std::string_view rel) {
  if (IsAuthoringPage(rel)) {
    const std::string ext = ExtensionOf(rel);
    const std::string stem(rel.substr(0, rel.size() - ext.size()));
    return {stem + "md", stem + "html"};
  }
  return {std::string(rel)};
}

}  // namespace

Status CheckAuthoringPath(std::string_view rel) {
  const std::string shown(rel.substr(0, 200));
  auto refuse = [&](const std::string& why) {
    return Status::InvalidArgument(
        "'" + shown + "' is not a file of the authoring tree: " + why +
        ". Give a path inside it, like pages/about.md, layouts/default.mustache or "
        "assets/logo.svg.");
  };
  if (rel.empty()) return refuse("the path is empty");
  if (rel.front() == '/') return refuse("it is an absolute path");
  if (Status valid = content::ValidatePath("/" + std::string(rel)); !valid.ok()) {
    return refuse(valid.message());
  }
  for (std::string_view section : {kPages, kAssets}) {
    if (rel.starts_with(section) && rel.size() > section.size()) return Status::Ok();
  }
  if (rel.starts_with(kLayouts)) {
    const std::string_view name = rel.substr(kLayouts.size());
    if (name.find('/') != std::string_view::npos || !name.ends_with(kLayoutSuffix) ||
        name.size() == kLayoutSuffix.size()) {
      return refuse("a layout is a NAME.mustache file directly in layouts/");
    }
    return Status::Ok();
  }
  return refuse("it is not under pages/, layouts/ or assets/");
}

bool IsAuthoringPage(std::string_view rel) {
  if (!rel.starts_with(kPages)) return false;
  const std::string ext = ExtensionOf(rel);
  return ext == "md" || ext == "html";
}

bool IsEditableAuthoringPath(std::string_view rel) {
  return IsAuthoringPage(rel) || (rel.starts_with(kLayouts) && rel.ends_with(kLayoutSuffix));
}

std::string AuthoringUrlPath(std::string_view rel) {
  if (rel.starts_with(kAssets)) return "/" + std::string(rel);
  if (!rel.starts_with(kPages)) return "";
  std::string page(rel.substr(kPages.size()));
  if (IsAuthoringPage(rel)) page = page.substr(0, page.size() - ExtensionOf(page).size()) + "html";
  return "/" + page;
}

Result<AuthoringTree> ListAuthoringTree(Env& env, const std::string& dir) {
  if (!env.FileExists(dir)) {
    return Status::NotFound("the authoring directory '" + dir + "' does not exist");
  }
  AuthoringTree tree;
  for (auto [section, out] : {std::pair{"pages", &tree.pages}, std::pair{"assets", &tree.assets}}) {
    if (env.FileExists(JoinPath(dir, section))) {
      RETURN_IF_ERROR(ListBelow(env, dir, section, 0, *out));
    }
  }
  const std::string layouts = JoinPath(dir, "layouts");
  if (env.FileExists(layouts)) {
    ASSIGN_OR_RETURN(auto entries, env.ListDir(layouts));
    for (const FileInfo& e : entries) {
      if (e.is_dir || !e.name.ends_with(kLayoutSuffix)) continue;
      AuthoringEntry a;
      a.path = "layouts/" + e.name;
      a.size = e.size;
      a.modified_micros = e.mtime_ns / 1000;
      a.editable = true;
      tree.layouts.push_back(std::move(a));
    }
  }
  for (auto* part : {&tree.pages, &tree.layouts, &tree.assets}) {
    std::sort(part->begin(), part->end(),
              [](const AuthoringEntry& a, const AuthoringEntry& b) { return a.path < b.path; });
  }
  return tree;
}

Result<std::string> ReadAuthoringFile(Env& env, const std::string& dir, std::string_view rel) {
  RETURN_IF_ERROR(CheckAuthoringPath(rel));
  const std::string file = JoinPath(dir, rel);
  if (!env.FileExists(file)) {
    return Status::NotFound("there is no " + std::string(rel) + " in the authoring tree");
  }
  return env.ReadFile(file);
}

Status WriteAuthoringFile(Env& env, const std::string& dir, std::string_view rel,
                          std::string_view bytes, bool create_only) {
  RETURN_IF_ERROR(CheckAuthoringPath(rel));
  const std::string file = JoinPath(dir, rel);
  if (create_only && env.FileExists(file)) {
    return Status::AlreadyExists(std::string(rel) + " exists already");
  }
  RETURN_IF_ERROR(CreateDirs(env, DirName(file)));
  return WriteFileAtomic(env, file, bytes);
}

Status RemoveAuthoringFile(Env& env, const std::string& dir, std::string_view rel) {
  RETURN_IF_ERROR(CheckAuthoringPath(rel));
  const std::string file = JoinPath(dir, rel);
  if (!env.FileExists(file)) {
    return Status::NotFound("there is no " + std::string(rel) + " in the authoring tree");
  }
  RETURN_IF_ERROR(env.RemoveFile(file));
  return env.SyncDir(DirName(file));
}

Result<content::PagePreview> PreviewAuthoringFile(Env& env, const content::BuildOptions& options,
                                                  std::string_view rel,
                                                  const std::optional<std::string>& draft) {
  RETURN_IF_ERROR(CheckAuthoringPath(rel));
  std::string url;
  if (IsAuthoringPage(rel)) {
    url = AuthoringUrlPath(rel);
  } else if (rel.starts_with(kLayouts)) {
    url = "/index.html";
  } else {
    return Status::InvalidArgument(std::string(rel) +
                                   " is not a page or a layout: there is nothing to preview");
  }
  std::map<std::string, std::string> drafts;
  if (draft) drafts.emplace(std::string(rel), *draft);
  auto page = content::RenderPagePreview(env, options, url, drafts);
  if (!page.ok() && page.status().code() == StatusCode::kNotFound && !IsAuthoringPage(rel)) {
    return Status::NotFound(
        "a layout is shown with the home page, and there is no "
        "pages/index.md or pages/index.html");
  }
  return page;
}

ChangeReach ReachOfChange(Env& env, std::string_view rel,
                          const std::vector<sync::Partnership>& partnerships) {
  using sync::PartnershipKind;
  ChangeReach out;
  const bool main_page =
      rel.starts_with(kPages) && !AuthoringUrlPath(rel).starts_with(content::kPageTemplatesDir);
  const std::vector<std::string> candidates = OverridingCandidates(rel);
  const std::string what = IsAuthoringPage(rel)        ? "page"
                           : rel.starts_with(kLayouts) ? "layout"
                                                       : "file";
  for (const sync::Partnership& p : partnerships) {
    if (p.revoked) continue;
    PartnerReach r;
    r.id = p.id;
    r.name = p.name;
    r.kind = p.kind;
    std::string own;
    if (!p.overrides_dir.empty()) {
      for (const std::string& c : candidates) {
        if (env.FileExists(JoinPath(p.overrides_dir, c))) {
          own = c;
          break;
        }
      }
    }
    if (p.suspended) {
      r.why = "suspended: it gets no update until it is resumed";
      ++out.suspended;
    } else if (!own.empty()) {
      r.why = "has its own version of this " + what + " (" + JoinPath(p.overrides_dir, own) + ")";
      ++out.own_version;
    } else if (p.kind == PartnershipKind::kTemplate && main_page) {
      r.why = "kind template: its release has main's look but not main's pages";
      ++out.left_out;
    } else {
      r.reached = true;
      ++out.reached;
      switch (p.kind) {
        case PartnershipKind::kContents:
          r.why = rel.starts_with(kLayouts) ? "its pages in this layout change"
                                            : "its copy of the " + what + " changes";
          ++out.reached_contents;
          break;
        case PartnershipKind::kLink:
          r.why = main_page && what == "page" ? "its page links to main's, which changes"
                                              : "its copy of the " + what + " changes";
          ++out.reached_link;
          break;
        case PartnershipKind::kTemplate:
          r.why = rel.starts_with(kLayouts) ? "its own pages are shown in this layout"
                                            : "its copy of the " + what + " changes";
          ++out.reached_template;
          break;
      }
    }
    out.partners.push_back(std::move(r));
  }
  return out;
}

}  // namespace tieup
