// Main's authoring directory (content/builder.h layout: pages/, layouts/, assets/) as the main
// console edits it: the tree listed, files read, written (atomically) and removed strictly inside
// it, a page previewed with the builder `tieup main publish` uses (as main's site or as a partner
// will show it), and which partners a change of one file reaches.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "content/builder.h"
#include "sync/publisher.h"

namespace tieup {

// Checks `rel`, a path relative to the authoring directory as a manager gives it: one of
// "pages/<path>", "assets/<path>" or "layouts/<name>.mustache", whose segments are not empty,
// "." or ".." (content::ValidatePath's rules: no backslash, control character or bad UTF-8);
// never absolute. InvalidArgument says what is wrong and what to give instead.
Status CheckAuthoringPath(std::string_view rel);

// Whether `rel` (a checked path) is a page the builder renders: pages/**.md or pages/**.html.
bool IsAuthoringPage(std::string_view rel);
// Whether the console edits `rel` as text: a page or a layout.
bool IsEditableAuthoringPath(std::string_view rel);
// The URL path `rel` makes in a release: "pages/news/a.md" -> "/news/a.html", "pages/robots.txt"
// -> "/robots.txt", "assets/x.css" -> "/assets/x.css"; "" for a layout.
std::string AuthoringUrlPath(std::string_view rel);

struct AuthoringEntry {
  std::string path;             // relative to the authoring directory: "pages/index.md"
  std::string url_path;         // AuthoringUrlPath(path)
  uint64_t size = 0;            // bytes
  int64_t modified_micros = 0;  // last modification; 0 when the file system does not say
  bool editable = false;        // IsEditableAuthoringPath
};

// The tree, each part sorted by path. Files outside the three folders (and layouts/ files that
// are not *.mustache) are not listed: the builder ignores them.
struct AuthoringTree {
  std::vector<AuthoringEntry> pages, layouts, assets;
};

// Lists the authoring directory `dir`. NotFound when it does not exist.
Result<AuthoringTree> ListAuthoringTree(Env& env, const std::string& dir);

// The bytes of `rel` under `dir` (checked first). NotFound when it does not exist.
Result<std::string> ReadAuthoringFile(Env& env, const std::string& dir, std::string_view rel);
// Writes `bytes` to `rel` under `dir` (checked first) atomically (the old bytes or the new, never
// a mix), creating its folders. `create_only`: AlreadyExists when the file exists.
Status WriteAuthoringFile(Env& env, const std::string& dir, std::string_view rel,
                          std::string_view bytes, bool create_only = false);
// Removes `rel` under `dir` (checked first). NotFound when it does not exist.
Status RemoveAuthoringFile(Env& env, const std::string& dir, std::string_view rel);

// What a build with `options` (OwnSiteBuildOptions with the catalog, for main's site;
// sync::Publisher::BuildOptionsFor, for a partner's release) makes of the page `rel`, with
// `draft` as its bytes when set (not saved): content::RenderPagePreview, the builder's own
// rendering. For a layout, the home page (/index.html) rendered in the layout's draft.
// InvalidArgument for a path that is neither a page nor a layout; errors of the build otherwise
// (a bad template or front matter, naming the file).
Result<content::PagePreview> PreviewAuthoringFile(Env& env, const content::BuildOptions& options,
                                                  std::string_view rel,
                                                  const std::optional<std::string>& draft);

// Whether a change of one file reaches one partner's next release, and why.
struct PartnerReach {
  std::string id, name;
  sync::PartnershipKind kind = sync::PartnershipKind::kContents;
  bool reached = false;
  std::string why;  // a phrase: "its copy of the page changes", "has its own version (...)"
};

// Which active partnerships a change of `rel` reaches, decided from each partnership's kind and
// overrides directory alone (the bytes are not rendered): a partner whose overrides directory
// makes the same URL path (or layout) keeps its own version; kind `template` gets main's layouts,
// assets and page templates but not main's pages; kind `link` gets main's pages as links to
// main's site; a suspended one gets nothing until it is resumed. Revoked partnerships are left
// out.
struct ChangeReach {
  std::vector<PartnerReach> partners;  // in the order given
  size_t reached = 0;                  // of which by kind:
  size_t reached_contents = 0, reached_link = 0, reached_template = 0;
  size_t own_version = 0;  // not reached: an override replaces the file
  size_t left_out = 0;     // not reached: kind template, and the file is one of main's pages
  size_t suspended = 0;    // not reached: the partnership is suspended
};
ChangeReach ReachOfChange(Env& env, std::string_view rel,
                          const std::vector<sync::Partnership>& partnerships);

}  // namespace tieup
