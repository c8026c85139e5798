// The partner manager's tools for original pages: put (one file or a whole folder, as one
// release), remove, list. They work on SITE_DIR whether or not the daemon runs: each change is
// a new release written under the site lock and activated atomically; a running daemon
// serves it within a second.
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
  uint64_t version = 0;               // the area's new active version
  bool changed = false;               // false: every page already had these bytes
  bool emergency_tieup_edit = false;  // a tie-up page was edited (recorded in logs/)
};

// Puts the file at `local_path` at URL `url_path`, or, when `local_path` is a folder, every
// file below it under `url_path` (which must then end in '/'), as ONE new original release.
// `content_type` empty: from the extension. `tieup_edit`: the manager asks for an emergency
// edit of a tie-up page; refused unless the site's configuration grants it; recorded when
// done.
Result<PagePutReport> PutPages(Env& env, const SiteConfig& config, SiteContent& content,
                               const std::string& url_path, const std::string& local_path,
                               const std::string& content_type, bool tieup_edit);

// Removes the original page at `url_path` (a tie-up page only with `tieup_edit`, as above).
Result<PagePutReport> RemovePage(Env& env, const SiteConfig& config, SiteContent& content,
                                 const std::string& url_path, bool tieup_edit);

// Moves the original page at `from` to `to` in ONE new original release: the new address
// serves the page's bytes (and type) and the old one stops, at the same moment. Refused, with
// nothing written: `from` no original page (NotFound; PermissionDenied for a tie-up page); `to`
// invalid (InvalidArgument), a tie-up page (PermissionDenied, the message of PutPages: "'/x' is
// a tie-up page managed by the main site; choose another path"), already a page of this site
// (AlreadyExists), or `from` itself (InvalidArgument).
Result<PagePutReport> RenamePage(Env& env, SiteContent& content, const std::string& from,
                                 const std::string& to);

struct PageListing {
  std::string path;
  content::Area area;
  uint64_t length = 0;
  std::string content_type;
};

// Every page of both active releases, in path order.
Result<std::vector<PageListing>> ListPages(SiteContent& content);

}  // namespace tieup
