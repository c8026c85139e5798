// Own pages: a site's original pages written as Markdown (or as HTML fragments) and rendered
// on the site itself into the layout main ships (DESIGN.md "Pages on a partner": kind
// `template`, and any partner's Markdown original pages).
//
// Where things are, in the site's ORIGINAL area (the partner's own, edited only by its manager;
// a path belongs to exactly one area):
//   /<rel>.md           a Markdown source as the manager wrote it (GitHub-flavoured Markdown,
//                       as main's authoring .md pages, content/builder.h); kept to render again.
//                       A browser asking for it is sent to its page (site/page_server.cc).
//   /.tieup/own/<rel>.html
//                       an HTML fragment's source (an .html file put with a front matter block
//                       at the top): its page has its name, so the source is kept aside, under
//                       /.tieup/, never served to browsers.
//   /<rel>.html         the rendered page: what is served ("news.md" -> "/news.html",
//                       "local/index.md" -> "/local/index.html", served at "/local/").
// Front matter as main's pages have it: `title: ...` and `layout: name | none` ("none": the
// body alone, a whole page); main's keys method, link_url and products are refused.
//
// The layout: the active tie-up release's layout shell NAME (content::kLayoutShellsDir, which
// a `template` release holds for every layout of main's); for "default", the release's page
// shell (content::kPageShellPath, which every release with a default layout holds) when there is
// no layout shell. A layout the release does not have is replaced by its default one (and
// noted). Without a tie-up release, or without a shell, the plain built-in page shell
// (content/templates/fallback_shell.mustache) with the site's name. The rendering is
// PageTemplates's (content/page_templates.h FillPageShell and InShell): the bytes a partner
// serves are main's signed shell bytes with the page's title and body put in.
//
// Both source and rendered page are in one original release: a reader (and a rollback) never
// sees one without the other. When main ships a new layout, RenderOwnPages renders every source
// again into a new original release (only when a page's bytes change).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "content/content_store.h"
#include "content/site_view.h"

namespace tieup::content {

// Where the sources of HTML fragments are kept in the original area.
inline constexpr std::string_view kOwnSourcesDir = "/.tieup/own/";

// True iff a page put at `path` with these bytes is an own page source: a ".md" path, or an
// ".html" path whose bytes start with a front matter line "---".
bool IsOwnPageSource(std::string_view path, std::string_view bytes);

// The URL path an own page source put at `path` ("/news.md" or "/news.html") is served at
// ("/news.html").
std::string OwnPageServedPath(std::string_view path);

// For a browser asking for the source of a Markdown page of `view`'s original area ("/news.md"):
// the address its rendered page is served at ("/news.html"), where the public port sends it;
// nullopt for any other path.
std::optional<std::string> RenderedAddressOf(const SiteView& view, std::string_view path);

// One own page as rendered.
struct RenderedOwnPage {
  std::string source;  // the source as the manager names it: "/news.md"
  std::string path;    // where it is served: "/news.html"
  std::string title;
  std::string layout;  // the layout asked for ("default" when the front matter names none)
  // Which shell it wears: "main's layout 'NAME'" / "main's page shell" / "the built-in layout"
  // / "none".
  std::string shell;
  std::string html;  // the page's bytes
};

struct OwnPagesOptions {
  // For the built-in layout's title and header (no tie-up release).
  std::string site_name;
  // The site's id, for the original area's first release.
  std::string site_id;
};

// Renders the source `bytes` (put at `path`: ".md" or an ".html" fragment) as the site would
// serve it now, into the layouts of the active (served) tie-up release of `store`. Nothing is
// written (the console's preview). InvalidArgument for bad front matter, naming the line.
Result<RenderedOwnPage> RenderOwnPage(ContentStore& store, std::string_view path,
                                      std::string_view bytes, const OwnPagesOptions& options);

// A change of own pages, as one original release.
struct OwnPagesChange {
  struct Put {
    std::string path;  // "/news.md" or "/news.html" (a fragment)
    std::string bytes;
    std::string content_type;  // `plain` only ("": from the extension)
  };
  std::vector<Put> put;
  // Other original pages put in the same release, byte for byte (a folder put with Markdown
  // and images).
  std::vector<Put> plain;
  // Own pages to remove, by source ("/news.md") or served path ("/news.html"): both go.
  std::vector<std::string> remove;
};

struct OwnPagesResult {
  bool changed = false;  // false: nothing to write (every rendered page already current)
  uint64_t version = 0;  // the original area's active version after
  std::vector<RenderedOwnPage> pages;  // every own page of the site, rendered (html emptied)
  // Things the manager should know ("/x.md asks for layout 'wide', which main's release does
  // not have: its default layout was used").
  std::vector<std::string> notes;
};

// Applies `change` and renders every own page again into the active tie-up release's layouts,
// as ONE new original release (staged and activated); none when nothing changes. Every ".md"
// original page is an own page, however it was put (before own pages existed, or by other
// tools). A page put where a whole page of the site's own is served replaces it (said in
// `notes`). Refused, with nothing written: bad front matter (InvalidArgument, naming the line); a
// source or served path that is a tie-up page (PermissionDenied: "'/x' is a tie-up page managed
// by the main site; choose another path"); two sources for one served path (AlreadyExists); a
// path
// given twice (InvalidArgument); a page to remove that is no own page (NotFound). The caller
// holds the site lock (SiteContent::Mutate).
Result<OwnPagesResult> UpdateOwnPages(Env& env, ContentStore& store, const OwnPagesChange& change,
                                      const OwnPagesOptions& options);

// UpdateOwnPages with no change: renders every own page again (main shipped a new layout).
inline Result<OwnPagesResult> RenderOwnPages(Env& env, ContentStore& store,
                                             const OwnPagesOptions& options) {
  return UpdateOwnPages(env, store, {}, options);
}

// True iff `path` (a source "/news.md" or a served path "/news.html") names an own page of the
// active original release.
bool IsOwnPage(ContentStore& store, std::string_view path);

// The source of the own page `path` names (source or served path): its source path as the
// manager names it ("/news.md") and bytes. NotFound when it is no own page.
struct OwnPageSource {
  std::string path;
  std::string bytes;
};
Result<OwnPageSource> ReadOwnPageSource(ContentStore& store, std::string_view path);

}  // namespace tieup::content
