// The partner manager's tools for original pages: put (one file or a whole folder, as one
// release), remove, list; and emergency edits of tie-up pages, when main grants them. They work
// on SITE_DIR whether or not the daemon runs: each change is a new release (an emergency edit:
// an overlay entry, content/content_store.h) written under the site lock and activated
// atomically; a running daemon serves it within a second. The CLI and the console call these.
#pragma once

#include <string>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "content/content_store.h"
#include "site/config.h"
#include "site/site_content.h"

namespace tieup {

struct PagePutReport {
  std::vector<std::string> paths;  // URL paths written
  uint64_t bytes = 0;
  uint64_t version = 0;  // the area's new active version
  bool changed = false;  // false: every page already had these bytes
  // A tie-up page was edited: an overlay entry over main's release (`version` is main's tie-up
  // version, unchanged), recorded in SITE_DIR/logs/emergency-edits.log and reported to main.
  bool emergency_tieup_edit = false;
  // For an emergency edit: whether main has been told already; when not, why (main
  // unreachable: the running daemon tells main later, from the record).
  bool main_told = false;
  std::string main_error;
  // Pages written in Markdown or as HTML fragments (content/markdown_page.h), rendered on this
  // site into its layout: (the page as put, where it is served), e.g. ("/news.md",
  // "/news.html"); and what the manager should know (a layout main's release does not have).
  std::vector<std::pair<std::string, std::string>> rendered;
  std::vector<std::string> notes;
};

// Puts the file at `local_path` at URL `url_path`, or, when `local_path` is a folder, every
// file below it under `url_path` (which must then end in '/'), as ONE new original release.
// `content_type` empty: from the extension. A ".md" file, or an ".html" file that starts with a
// front matter block, is a page of the site's own written in Markdown or as an HTML fragment: it
// is kept as written and served rendered into the site's layout (content/markdown_page.h:
// "/news.md" is served at "/news.html"), and rendered again when main ships a new layout.
// `tieup_edit`: the manager asks for an emergency
// edit of ONE tie-up page; refused (PermissionDenied, saying that only the main site manager
// can grant it) unless main's active tie-up release grants the right; the site's own site.toml
// cannot. When done it is recorded with `by` (who: a manager's name, or the OS user for the
// CLI) and reported to main at once (PagePutReport::main_told).
Result<PagePutReport> PutPages(Env& env, const SiteConfig& config, SiteContent& content,
                               const std::string& url_path, const std::string& local_path,
                               const std::string& content_type, bool tieup_edit,
                               const std::string& by = "");

// Removes the original page at `url_path` (a tie-up page only with `tieup_edit`, as above: the
// tie-up page is then no longer served, until main's update ends the edit or it is reverted).
Result<PagePutReport> RemovePage(Env& env, const SiteConfig& config, SiteContent& content,
                                 const std::string& url_path, bool tieup_edit,
                                 const std::string& by = "");

// Gives main's page back at `url_path`: ends its emergency edit (recorded and reported to main
// as for PutPages). `changed` is false when the path had none.
Result<PagePutReport> RevertEmergencyEdit(Env& env, const SiteConfig& config, SiteContent& content,
                                          const std::string& url_path, const std::string& by = "");

// Moves the original page at `from` to `to` in ONE new original release: the new address
// serves the page's bytes (and type) and the old one stops, at the same moment. Refused, with
// nothing written: `from` no original page (NotFound; PermissionDenied for a tie-up page); `to`
// invalid (InvalidArgument), a tie-up page (PermissionDenied, the message of PutPages: "'/x' is
// a tie-up page managed by the main site; choose another path"), already a page of this site
// (AlreadyExists), or `from` itself (InvalidArgument).
// A page written in Markdown or as a fragment is rendered at its new address as PutPages
// renders it (the site's name from `config`).
Result<PagePutReport> RenamePage(Env& env, const SiteConfig& config, SiteContent& content,
                                 const std::string& from, const std::string& to);

struct PageListing {
  std::string path;
  content::Area area;
  uint64_t length = 0;
  std::string content_type;
  // A page written in Markdown, listed by its address ("/news.html"): its source ("/news.md").
  std::string markdown_source;
};

// Every page of both active releases, in path order. A page written in Markdown or as an HTML
// fragment is listed once, by the address it is served at (with PageListing::markdown_source
// for Markdown); its source is not listed. The tie-up area's machine files under /.tieup/
// (main's layouts and page templates, never served to browsers) are not listed.
Result<std::vector<PageListing>> ListPages(SiteContent& content);

}  // namespace tieup
