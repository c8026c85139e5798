#include "net/static_handler.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "base/encoding.h"

namespace tieup {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "W/\"x\"" -> "\"x\""
std::string_view OpaqueTag(std::string_view tag) {
  if (tag.size() >= 2 && tag[0] == 'W' && tag[1] == '/') tag.remove_prefix(2);
  return tag;
}

// Parses a qvalue ("1", "0.5", "1.000"); -1 when malformed.
double ParseQValue(std::string_view v) {
  if (v.empty() || v.size() > 5) return -1;
  if (v[0] != '0' && v[0] != '1') return -1;
  double q = v[0] - '0';
  if (v.size() == 1) return q;
  if (v[1] != '.') return -1;
  double scale = 0.1;
  for (size_t i = 2; i < v.size(); ++i) {
    if (v[i] < '0' || v[i] > '9') return -1;
    q += (v[i] - '0') * scale;
    scale /= 10;
  }
  return q > 1.0 ? -1 : q;
}

// Last-Modified values are usually the same for every page of a release: one entry per thread
// avoids formatting the date on each request.
std::string_view CachedLastModified(int64_t t) {
  thread_local int64_t cached_time = INT64_MIN;
  thread_local std::string cached;
  if (t != cached_time) {
    cached = FormatHttpDate(t);
    cached_time = t;
  }
  return cached;
}

HttpResponse PlainError(int status, std::string_view text) {
  HttpResponse r = HttpResponse::Text(status, text);
  r.AddHeader("X-Content-Type-Options", "nosniff");
  r.AddHeader("Cache-Control", "no-store");
  return r;
}

}  // namespace

bool IfNoneMatchMatches(std::string_view if_none_match, std::string_view etag) {
  if (etag.empty()) return Trim(if_none_match) == "*";
  std::string_view want = OpaqueTag(etag);
  std::string_view rest = if_none_match;
  while (!rest.empty()) {
    // Entity tags cannot contain commas or quotes inside, so splitting on ',' is exact.
    size_t comma = rest.find(',');
    std::string_view item = Trim(rest.substr(0, comma));
    rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma + 1);
    if (item == "*") return true;
    if (!item.empty() && OpaqueTag(item) == want) return true;
  }
  return false;
}

namespace {

// The q-value the header gives `coding` itself (exact) and "*" (star); -1 when not listed.
void ListedQualities(std::string_view accept_encoding, std::string_view coding, double* exact,
                     double* star) {
  const bool want_gzip = EqualsIgnoreCase(coding, "gzip") || EqualsIgnoreCase(coding, "x-gzip");
  *exact = -1;
  *star = -1;
  std::string_view rest = accept_encoding;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma + 1);
    size_t semi = item.find(';');
    std::string_view name = Trim(item.substr(0, semi));
    double q = 1.0;
    while (semi != std::string_view::npos) {
      item.remove_prefix(semi + 1);
      semi = item.find(';');
      std::string_view param = Trim(item.substr(0, semi));
      if (param.size() >= 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
        q = ParseQValue(Trim(param.substr(2)));
        if (q < 0) q = 0;
      }
    }
    if (name.empty()) continue;
    bool is_gzip = EqualsIgnoreCase(name, "gzip") || EqualsIgnoreCase(name, "x-gzip");
    if (name == "*") {
      *star = std::max(*star, q);
    } else if ((want_gzip && is_gzip) || EqualsIgnoreCase(name, coding)) {
      *exact = std::max(*exact, q);
    }
  }
}

}  // namespace

double AcceptEncodingQuality(std::string_view accept_encoding, std::string_view coding) {
  double exact, star;
  ListedQualities(accept_encoding, coding, &exact, &star);
  if (exact >= 0) return exact;
  if (star >= 0) return star;
  return EqualsIgnoreCase(coding, "identity") ? 1.0 : 0.0;
}

bool PrefersGzip(std::string_view accept_encoding) {
  double gzip = AcceptEncodingQuality(accept_encoding, "gzip");
  if (gzip <= 0) return false;
  // Identity wins only when the client states a higher preference for it (explicitly or via
  // "*"); its implicit acceptability is no preference.
  double identity, star;
  ListedQualities(accept_encoding, "identity", &identity, &star);
  if (identity < 0) identity = star;
  return gzip >= identity;
}

StaticPageHandler::StaticPageHandler(SiteProvider provider, StaticHandlerOptions options)
    : provider_(std::move(provider)), options_(std::move(options)) {}

void StaticPageHandler::Handle(const HttpRequest& request, HttpResponder responder) {
  responder.Respond(Serve(request));
}

HttpResponse StaticPageHandler::Serve(const HttpRequest& request) const {
  std::string_view method = request.method();
  if (method != "GET" && method != "HEAD") {
    HttpResponse r = PlainError(405, "405 Method Not Allowed: " + std::string(method) +
                                         " is not allowed here; use GET or HEAD\n");
    r.AddHeader("Allow", "GET, HEAD");
    return r;
  }
  std::shared_ptr<const StaticSite> site = provider_ ? provider_() : nullptr;
  if (!site) {
    return PlainError(503, "503 Service Unavailable: this site has no active release yet\n");
  }
  const StaticPage* page = site->Find(request.path());
  if (page == nullptr) {
    const StaticPage* not_found = site->NotFoundPage();
    if (not_found == nullptr || !not_found->body) {
      HttpResponse r = PlainError(
          404, "404 Not Found: there is no page at " + std::string(request.path()) + "\n");
      if (not_found != nullptr) r.area.assign(not_found->area);
      return r;
    }
    HttpResponse r(404);
    r.AddHeader("Content-Type", not_found->content_type.empty() ? "application/octet-stream"
                                                                : not_found->content_type);
    r.AddHeader("Cache-Control", "no-cache");
    r.AddHeader("X-Content-Type-Options", "nosniff");
    r.SetSharedBody(not_found->body);
    r.area.assign(not_found->area);
    return r;
  }
  if (!page->redirect_to.empty()) {
    std::string location(page->redirect_to);
    if (!request.query().empty()) {
      location += '?';
      location += request.query();
    }
    HttpResponse r = HttpResponse::Html(
        301, "<!doctype html><title>Moved</title><p>Moved to <a href=\"" + HtmlEscape(location) +
                 "\">" + HtmlEscape(location) + "</a>.</p>\n");
    if (!r.AddHeader("Location", location)) {
      return PlainError(500, "500 Internal Server Error: the page's redirect target is invalid\n");
    }
    r.AddHeader("Cache-Control", options_.cache_control);
    r.AddHeader("X-Content-Type-Options", "nosniff");
    r.area.assign(page->area);
    return r;
  }
  if (!page->body) {
    return PlainError(500, "500 Internal Server Error: the page at " + std::string(request.path()) +
                               " has no content\n");
  }

  // Content negotiation.
  bool gzip = false;
  if (page->gzip_body) {
    std::optional<std::string_view> ae = request.FindHeader("Accept-Encoding");
    gzip = ae && PrefersGzip(*ae);
  }
  // The gzip variant's entity tag: the page's with "-gzip" before the closing quote.
  char etag_buf[160];
  std::string_view etag = page->etag;
  if (gzip && etag.size() >= 2 && etag.back() == '"' && etag.size() + 5 <= sizeof(etag_buf)) {
    std::memcpy(etag_buf, etag.data(), etag.size() - 1);
    std::memcpy(etag_buf + etag.size() - 1, "-gzip\"", 6);
    etag = std::string_view(etag_buf, etag.size() + 5);
  }

  bool not_modified = false;
  if (std::optional<std::string_view> inm = request.FindHeader("If-None-Match")) {
    not_modified = IfNoneMatchMatches(*inm, etag);
  } else if (page->last_modified > 0) {
    if (std::optional<std::string_view> ims = request.FindHeader("If-Modified-Since")) {
      Result<int64_t> since = ParseHttpDate(Trim(*ims));
      not_modified = since.ok() && page->last_modified <= *since;
    }
  }

  HttpResponse r(not_modified ? 304 : 200);
  r.ReserveHeaderBytes(200 + page->content_type.size() + etag.size() +
                       options_.cache_control.size());
  if (!not_modified) {
    r.AddHeader("Content-Type",
                page->content_type.empty() ? "application/octet-stream" : page->content_type);
  }
  if (!etag.empty()) r.AddHeader("ETag", etag);
  if (page->last_modified > 0)
    r.AddHeader("Last-Modified", CachedLastModified(page->last_modified));
  r.AddHeader("Cache-Control", options_.cache_control);
  if (page->gzip_body) r.AddHeader("Vary", "Accept-Encoding");
  if (gzip && !not_modified) r.AddHeader("Content-Encoding", "gzip");
  r.AddHeader("X-Content-Type-Options", "nosniff");
  if (!not_modified) r.SetSharedBody(gzip ? page->gzip_body : page->body);
  r.area.assign(page->area);
  return r;
}

}  // namespace tieup
