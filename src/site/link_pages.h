// LinkPages: how a partner serves the `link` entries of its tie-up area (DESIGN.md "Remote
// updating" item 6, "Pages on a partner": kind `link`). Such an entry is a page that lives on
// main: the partner never serves its body (main ships an empty one), but answers with a link to
// `link_url`, as the entry's signed `link_mode` says (content::LinkMode, chosen by main per
// partnership):
//  - redirect (the default), redirect-301, redirect-307: that status with Location: link_url
//    and a small HTML body with the link (template "link_redirect", outside the layout);
//  - page: 200 with a small page in the tie-up release's layout that says the page is on the
//    main site and links there (template "link_page", in the page shell); only for an entry
//    whose content type is text/html: any other (an image, a font, robots.txt, a feed) is
//    redirected (302).
// Both templates are built in (src/site/templates/) and main's release may replace them like
// any page template (content/page_templates.h: /.tieup/templates/<name>.mustache).
//
// The request's query is carried over to main (LinkLocation): a link such as
// /search.html?q=tea lands on main's /search.html?q=tea. The response's area is "tieup", so the
// access ledger records the request like any tie-up request, with its status. Only GET and HEAD
// are answered here (the server drops the body of a HEAD); other methods are left to the other
// handlers. Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "content/page_templates.h"
#include "content/site_view.h"
#include "net/http_message.h"

namespace tieup {

// Where a link sends the browser: `link_url` with the request's raw (still percent-encoded)
// `query` appended, after link_url's own query ('&') and before its '#fragment', if any.
// An empty query gives link_url as it is.
std::string LinkLocation(std::string_view link_url, std::string_view query);

class LinkPages {
 public:
  // `templates`: the site's page templates, whose site is where the link page's layout comes
  // from (a partner: its tie-up area); they must outlive this.
  explicit LinkPages(const content::PageTemplates& templates);

  // The answer to `request` when its path names (directly, or as a directory's index.html) a
  // link entry of the tie-up area of `view`; nullopt otherwise (a null view, any other file,
  // a method other than GET and HEAD).
  std::optional<HttpResponse> Serve(const HttpRequest& request,
                                    const content::SiteView* view) const;

 private:
  HttpResponse Redirect(const content::ServedFile& file, const std::string& location) const;
  HttpResponse Page(const std::string& location) const;

  const content::PageTemplates& templates_;
};

}  // namespace tieup
