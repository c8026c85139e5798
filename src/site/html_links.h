// Rewriting the links of an HTML page so that its site's own pages are reached under another
// path: a partner's preview of a staged update (partner_site/preview.h) and a further main's
// tie-up area on a path prefix (site/page_server.h's PageMount), where main's "/x.html" is the
// partner's "/kyoto/x.html".
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace tieup {

// Where a page's links lead.
struct HtmlLinkMap {
  // The path the site's own pages are served under ("/kyoto/", "/.tieup/preview/KEY/7/"), with
  // '/' at both ends.
  std::string prefix;
  // The page's own path in the site ("/products/sencha.html"), without the prefix: relative
  // links are resolved against it (or the page's <base>).
  std::string path;
  // Origins whose absolute links are the site's own ("http://127.0.0.1:8080": scheme, host and
  // port; the port may be left out for 80 and 443). Links to any other origin are left alone.
  std::vector<std::string> own_origins;
  // HTML put first in the page's <body> after the links are rewritten (its own links stay as
  // written): the preview's banner. Empty: nothing.
  std::string body_start_html;
};

// Rewrites the HTML page `html` (in `charset`, e.g. from its Content-Type; empty: UTF-8 when the
// bytes are UTF-8, else what the page declares) and returns it as UTF-8: every link to the
// site's own pages leads under map.prefix: an absolute path ("/x.html") becomes map.prefix +
// "x.html", a relative one is resolved against the page (or its <base>) and treated the same,
// and so is an absolute URL of one of map.own_origins; query and fragment are kept. Rewritten:
// href of a, area, link and base; src of img, script, iframe, frame, embed, source, track,
// audio, video and input; srcset of img and source; poster of video; action of form; formaction
// of button and input; data of object. Links to other sites, fragments ("#top"), and schemes
// other than http(s) (mailto:, data:...) are left as they are, as is a link already under
// map.prefix.
// Not rewritten: URLs inside CSS (style attributes, <style>, style sheets) and scripts, and
// <meta http-equiv="refresh">. (A style sheet's url() relative to the sheet stays right.)
// The page is parsed with libxml2's HTML parser, which recovers from malformed markup as
// browsers do (not always in the same way), and serialized again; what follows "</html>" is
// rewritten too. InvalidArgument when it holds no document at all (empty). Thread-safe.
Result<std::string> RewriteHtmlLinks(std::string_view html, std::string_view charset,
                                     const HtmlLinkMap& map);

// The charset parameter of a Content-Type ("" when none).
std::string CharsetOf(std::string_view content_type);
// True for a text/html Content-Type (any parameters, any case).
bool IsHtmlContentType(std::string_view content_type);

}  // namespace tieup
