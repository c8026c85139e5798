// Preview of a staged (not yet active) tie-up release, so the partner manager can look at an
// update before approving it: /.tieup/preview/<key>/<version>/<path> on the public port.
//
// An update waiting for approval is not public. The address of a request says nothing about who
// sent it (a reverse proxy on the same host makes every visitor look local), so a preview is a
// capability: <key> is an HMAC of the version under a secret kept in SITE_DIR/keys/preview.key
// (0600), and only the manager's own tools (`tieup partner pending`, the console) print links.
//
// Every HTML page of a preview is rewritten (RewritePreviewHtml) so that the manager cannot
// mistake it for the live site or leave it by a click: a banner at the top says it is a preview
// of version N, not live, and links back to the update's review in the console; links to the
// site's own pages lead to the same pages of the preview. Other files (styles, images) are served
// as they are.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "net/http_server.h"
#include "site/site_content.h"

namespace tieup {

inline constexpr std::string_view kPreviewPrefix = "/.tieup/preview/";

// The site's preview secret (32 random bytes), made on first use. Owner-only.
Result<std::string> LoadOrCreatePreviewSecret(Env& env, const std::string& site_dir);

// The path of the preview of staged tie-up version `version`: "/.tieup/preview/KEY/VERSION/".
std::string PreviewPath(std::string_view secret, uint64_t version);

// What RewritePreviewHtml needs to know about the page it rewrites.
struct PreviewPage {
  std::string prefix;         // the preview's root: PreviewPath(...) ("/.tieup/preview/KEY/7/")
  std::string path;           // the page's own path in the site ("/products/sencha.html")
  uint64_t version = 0;       // the staged version previewed
  uint64_t live_version = 0;  // the tie-up version visitors see now (0: none yet)
  // Origins whose absolute links are the site's own ("http://127.0.0.1:8080": scheme, host and
  // port; the port may be left out for 80 and 443). Links to any other origin are left alone.
  std::vector<std::string> own_origins;
  // The update's review in the console (linked from the banner); empty: no link.
  std::string review_url;
};

// Rewrites the HTML page `html` (in `charset`, e.g. from its Content-Type) for its preview and
// returns it as UTF-8: a banner (console_templates/preview_banner.mustache) is the first thing in
// its <body>, and every link to the site's own pages leads into the preview (page.prefix), as
// site/html_links.h's RewriteHtmlLinks says (what is and is not rewritten). InvalidArgument when
// it holds no document at all (empty). Thread-safe.
Result<std::string> RewritePreviewHtml(std::string_view html, std::string_view charset,
                                       const PreviewPage& page);

// Serves previews. A path without the right key for its version is answered 404, like a preview
// that does not exist. HTML pages are rewritten (RewritePreviewHtml) with a banner linking to the
// update's review in the console (whose address the running console writes to
// SITE_DIR/run/console.addr), and links in the origin the request names (its Host) and the
// site's own paths kept in the preview.
class PreviewHandler final : public HttpHandler {
 public:
  // `env` and `content` must outlive the handler; `secret` from LoadOrCreatePreviewSecret.
  PreviewHandler(Env& env, SiteContent& content, std::string secret)
      : env_(env), content_(content), secret_(std::move(secret)) {}
  void Handle(const HttpRequest& request, HttpResponder responder) override;
  std::string_view AllowedMethods() const override { return "GET, HEAD"; }
  // The response for `request` (exposed for tests).
  HttpResponse Serve(const HttpRequest& request);

 private:
  Env& env_;
  SiteContent& content_;
  const std::string secret_;
};

}  // namespace tieup
