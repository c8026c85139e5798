#include "site/link_pages.h"

#include <algorithm>
#include <boost/json.hpp>
#include <boost/url.hpp>
#include <utility>

namespace tieup {
namespace {

// "shop.example" of "https://shop.example/tea.html": how the page names main's site.
std::string HostOf(std::string_view url) {
  auto u = boost::urls::parse_absolute_uri(url);
  return u ? std::string(u->encoded_host_and_port()) : std::string(url);
}

bool IsHtml(std::string_view content_type) {
  constexpr std::string_view kHtml = "text/html";
  return content_type.size() >= kHtml.size() &&
         std::equal(kHtml.begin(), kHtml.end(), content_type.begin(),
                    [](char a, char b) { return a == (b | 0x20); });
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

LinkPages::LinkPages(const content::PageTemplates& templates) : templates_(templates) {}

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
  // (A link entry always has its link_url: content/release.cc ValidateEntry.)
  if (file.area != content::Area::kTieup || file.method != content::UpdateMethod::kLink) {
    return std::nullopt;
  }
  std::string location = LinkLocation(file.link_url, request.query());
  // Only a page can be shown as a page: an image, a font, a feed or robots.txt in mode `page`
  // is redirected (302), as a browser or a crawler asking for it can follow.
  if (file.link_mode == content::LinkMode::kPage && IsHtml(file.content_type)) {
    return Page(location);
  }
  return Redirect(file, location);
}

HttpResponse LinkPages::Redirect(const content::ServedFile& file,
                                 const std::string& location) const {
  const int status = file.link_mode == content::LinkMode::kPage
                         ? content::LinkRedirectStatus(content::LinkMode::kRedirect)
                         : content::LinkRedirectStatus(file.link_mode);
  boost::json::object data{{"location", location}, {"main_host", HostOf(location)}};
  auto body = templates_.RenderBody("link_redirect", data);
  HttpResponse r = HttpResponse::Html(
      status, body.ok() ? std::move(*body) : std::string());  // the Location is what matters
  // The server refuses control characters in the target, so the location is a valid header.
  r.AddHeader("Location", location);
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
