#include "site/link_pages.h"

#include <boost/json.hpp>
#include <utility>

namespace tieup {

// The site's built-in page templates (templates/*.mustache; cmake/TieupEmbed.cmake).
const content::EmbeddedTemplates& EmbeddedSiteTemplates();

namespace {

// "shop.example" of "https://shop.example/tea.html": how the page names main's site.
std::string HostOf(std::string_view url) {
  size_t start = url.find("://");
  start = start == std::string_view::npos ? 0 : start + 3;
  size_t end = url.find_first_of("/?#", start);
  return std::string(url.substr(start, end == std::string_view::npos ? url.npos : end - start));
}

void AddCommonHeaders(HttpResponse& r) {
  // The link may change with main's next release: browsers ask again each time (as for pages).
  r.AddHeader("Cache-Control", "no-cache");
  r.AddHeader("X-Content-Type-Options", "nosniff");
  r.area = "tieup";
}

}  // namespace

std::string LinkLocation(std::string_view link_url, std::string_view query) {
  if (query.empty()) return std::string(link_url);
  const size_t hash = link_url.find('#');
  std::string_view before = link_url.substr(0, hash);
  std::string out(before);
  out += before.find('?') == std::string_view::npos ? '?' : '&';
  out += query;
  if (hash != std::string_view::npos) out += link_url.substr(hash);
  return out;
}

LinkPages::LinkPages(content::PageSite site)
    : templates_(EmbeddedSiteTemplates(), std::move(site)) {}

std::optional<HttpResponse> LinkPages::Serve(const HttpRequest& request,
                                             const content::SiteView* view) const {
  if (view == nullptr || (request.method() != "GET" && request.method() != "HEAD")) {
    return std::nullopt;
  }
  const content::LookupResult found = view->Lookup(request.path());
  if (found.kind != content::LookupResult::Kind::kFound || found.file == nullptr) {
    return std::nullopt;
  }
  const content::ServedFile& file = *found.file;
  if (file.area != content::Area::kTieup || file.method != content::UpdateMethod::kLink ||
      file.link_url.empty()) {
    return std::nullopt;
  }
  std::string location = LinkLocation(file.link_url, request.query());
  if (file.link_mode == content::LinkMode::kPage) return Page(location);
  return Redirect(file, location);
}

HttpResponse LinkPages::Redirect(const content::ServedFile& file,
                                 const std::string& location) const {
  const int status = content::LinkRedirectStatus(file.link_mode);
  boost::json::object data{{"location", location}, {"main_host", HostOf(location)}};
  auto body = templates_.RenderBody("link_redirect", data);
  HttpResponse r = HttpResponse::Html(
      status, body.ok() ? std::move(*body) : std::string());  // the Location is what matters
  // A query the server accepted but a header cannot carry (it cannot: the server refuses
  // control characters in the target) falls back to the signed link alone.
  if (!r.AddHeader("Location", location)) r.AddHeader("Location", file.link_url);
  AddCommonHeaders(r);
  return r;
}

HttpResponse LinkPages::Page(const std::string& location) const {
  const std::string host = HostOf(location);
  boost::json::object data{{"location", location}, {"main_host", host}};
  auto page = templates_.Render("link_page", {"On " + host, std::nullopt}, data);
  HttpResponse r =
      page.ok() ? HttpResponse::Html(200, std::move(*page))
                : HttpResponse::Text(200, "This page is on the main site: " + location + "\n");
  AddCommonHeaders(r);
  return r;
}

}  // namespace tieup
