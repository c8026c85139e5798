// The partner kit's starter pages: the original pages `tieup partner init` gives a new partner
// site (about us, contact, local specials), so that it has pages of its own from the first day
// and its manager has something to edit rather than a blank page. The texts are Markdown files
// with front matter (`title:`), kept in src/partner_site/starter/ and compiled in; the site's
// name and region are filled in, and every part the manager must replace is in [square
// brackets].
#pragma once

#include <string>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "site/config.h"

namespace tieup {

// The URL path the starter pages are put under (with its trailing '/'): the partner's own
// address space, away from what a main site publishes.
inline constexpr char kStarterPagesUrl[] = "/local/";

// The folder, below SITE_DIR, that keeps the manager's copy of the starter pages' Markdown, to
// edit and put again (`tieup partner page put SITE_DIR /local/ SITE_DIR/own-pages/`).
inline constexpr char kStarterPagesDir[] = "own-pages";

struct StarterPage {
  std::string file;         // "about.md"
  std::string url_path;     // "/local/about.md": where WriteStarterPages puts the source
  std::string served_path;  // "/local/about.html": where the site serves it, in its layout
                            // (content/markdown_page.h); the pages link to each other there
  std::string markdown;     // front matter and body, with the site's name and region filled in
};

// The starter pages for `config` (its name, or its id when it has none, and its region: the
// sentences that name the region are left out when it is empty), in file-name order. Pure: reads
// only the compiled-in texts. InvalidArgument if a compiled-in text is malformed (a build bug).
Result<std::vector<StarterPage>> RenderStarterPages(const SiteConfig& config);

struct StarterPagesReport {
  std::vector<std::string> paths;         // URL paths put, in order
  std::vector<std::string> served_paths;  // where the starter pages are served, in order
  std::string source_dir;                 // the manager's copy: SITE_DIR/own-pages
  uint64_t version = 0;                   // the original area's active version afterwards
};

// Writes the starter pages of the partner site at `site_dir` into SITE_DIR/own-pages/ (a file
// that is there already is left alone and put as it is) and puts that folder under /local/ as
// ONE new original release, the way `tieup partner page put` does (partner_site/page_tools.h:
// under the site lock; a running daemon serves it within a second). Refused, with nothing put,
// when the site is not a partner site or a starter path is a tie-up page; errors of PutPages
// otherwise.
Result<StarterPagesReport> WriteStarterPages(Env& env, const std::string& site_dir);

}  // namespace tieup
