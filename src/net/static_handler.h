// Serving a site's pages from memory: the StaticSite interface (implemented by the content
// module's served view) and the StaticPageHandler that answers GET and HEAD from it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "net/http_server.h"

namespace tieup {

// One servable page. The string views point into storage owned by the StaticSite that returned
// the page and stay valid as long as that site object lives.
struct StaticPage {
  std::string_view area;          // the content area for access records ("tieup", "original")
  std::string_view content_type;  // "text/html; charset=utf-8"; empty: application/octet-stream
  std::string etag;               // a quoted strong entity tag ("\"3f2a...\""); empty: none
  int64_t last_modified = 0;      // seconds since the Unix epoch; 0: unknown
  std::shared_ptr<const std::string> body;       // the identity bytes (required unless redirect)
  std::shared_ptr<const std::string> gzip_body;  // the same bytes gzip-compressed; optional
  std::string_view redirect_to;  // non-empty: answer 301 with this Location instead of a body
};

// A read-only view of the pages of the active release. Implementations must be immutable (or
// otherwise thread-safe) once published: Find runs concurrently on every server thread.
class StaticSite {
 public:
  virtual ~StaticSite() = default;

  // The page for a normalized path (net/path.h: decoded, starts with '/', no dot segments),
  // or null. Directory index resolution is the site's business: "/docs/" may return the page
  // of "/docs/index.html", and "/docs" may return a page whose redirect_to is "/docs/".
  virtual const StaticPage* Find(std::string_view normalized_path) const = 0;

  // The page served with status 404, or null for a plain-text default.
  virtual const StaticPage* NotFoundPage() const = 0;
};

struct StaticHandlerOptions {
  // The Cache-Control of every page. The default makes browsers revalidate each time (a cheap
  // 304), so an activated release is seen at once.
  std::string cache_control = "no-cache";
};

// Answers GET and HEAD from the site the provider returns (the provider is called once per
// request and is expected to load an atomically swapped pointer):
//  - 200 with Content-Type, Content-Length, ETag, Last-Modified, Cache-Control,
//    X-Content-Type-Options: nosniff; HEAD gets the same headers and no body;
//  - the precompressed variant with Content-Encoding: gzip when Accept-Encoding allows it
//    (q-values honoured, "gzip;q=0" refuses it); Vary: Accept-Encoding whenever a page has one;
//    the gzip variant has its own entity tag (the page's with "-gzip" appended inside quotes);
//  - 304 when If-None-Match matches (weak comparison, lists and "*"), or, without
//    If-None-Match, when If-Modified-Since is not older than Last-Modified;
//  - 301 for a page with redirect_to (the query is carried over);
//  - 404 with the site's not-found page (or a plain-text default);
//  - 503 while the provider returns null (no release active yet);
//  - 405 with Allow: GET, HEAD for other methods.
// Sets HttpResponse::area from the page. Thread-safe.
class StaticPageHandler : public HttpHandler {
 public:
  using SiteProvider = std::function<std::shared_ptr<const StaticSite>()>;

  explicit StaticPageHandler(SiteProvider provider, StaticHandlerOptions options = {});

  void Handle(const HttpRequest& request, HttpResponder responder) override;
  std::string_view AllowedMethods() const override { return "GET, HEAD"; }

  // The response Handle sends, for routers that call this handler synchronously.
  HttpResponse Serve(const HttpRequest& request) const;

 private:
  SiteProvider provider_;
  StaticHandlerOptions options_;
};

// Returns true iff an If-None-Match value (a list of entity tags, or "*") matches `etag` under
// the weak comparison of RFC 9110 8.8.3.2.
bool IfNoneMatchMatches(std::string_view if_none_match, std::string_view etag);

// The q-value (0 to 1) that the Accept-Encoding value `accept_encoding` gives `coding` ("gzip",
// "identity"), following RFC 9110 12.5.3: "x-gzip" counts as "gzip", "*" covers codings not
// listed, identity is acceptable unless excluded. Malformed q-values count as 0. (A request
// without Accept-Encoding accepts identity only: do not call this then.)
double AcceptEncodingQuality(std::string_view accept_encoding, std::string_view coding);

// Returns true iff the precompressed gzip variant should be served for this Accept-Encoding
// value: gzip is acceptable (q > 0) and identity is not explicitly preferred over it.
bool PrefersGzip(std::string_view accept_encoding);

}  // namespace tieup
