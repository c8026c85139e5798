#include "site/page_server.h"

#include <cassert>
#include <cctype>
#include <functional>
#include <optional>
#include <set>
#include <shared_mutex>
#include <unordered_map>

#include "base/encoding.h"
#include "content/markdown_page.h"
#include "content/page_templates.h"
#include "net/static_handler.h"
#include "site/ad_frames.h"
#include "site/browser_headers.h"
#include "site/html_links.h"
#include "site/link_pages.h"
#include "site/withdrawn_pages.h"

namespace tieup {

// The site's built-in page templates (templates/*.mustache; cmake/TieupEmbed.cmake).
const content::EmbeddedTemplates& EmbeddedSiteTemplates();
namespace {

// Lets the page map be searched with a string_view: no allocation per request.
struct PathHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};

// Adapts the content module's view to what the static handler serves. A page is made on its
// first request and kept with the view (so an activation costs nothing per file of the site);
// bodies beyond the view's cache limit are read then too. A file whose blob is missing or
// damaged (unavailable in the view, or failing its read here) is not a page: Find returns null
// and UnavailableFile names it, so the handler answers 503 rather than 404, and never with
// bytes that are not the signed ones. Thread-safe.
class ServedSite final : public StaticSite {
 public:
  using FaultSink = std::function<void(content::BlobFault)>;

  ServedSite(std::shared_ptr<const content::SiteView> view, FaultSink on_read_fault)
      : view_(std::move(view)), on_read_fault_(std::move(on_read_fault)) {
    if (const content::ServedFile* nf = view_->not_found_page()) not_found_ = Find(nf->path);
  }

  // The file `path` resolves to when it cannot be served now (its blob is missing or damaged),
  // or null.
  const content::ServedFile* UnavailableFile(std::string_view path) const {
    const content::ServedFile* file = Resolve(path);
    if (file == nullptr) return nullptr;
    if (file->unavailable) return file;
    std::shared_lock<std::shared_mutex> lock(mu_);
    return failed_reads_.count(file->path) != 0 ? file : nullptr;
  }

  // The site's own "/503.html" (in its layout), when it has one that can be served.
  const StaticPage* UnavailablePage() const { return Find("/503.html"); }

  const StaticPage* Find(std::string_view path) const override {
    {
      std::shared_lock<std::shared_mutex> lock(mu_);
      auto it = pages_.find(path);
      if (it != pages_.end()) return &it->second.page;
    }
    std::string redirect;
    const content::ServedFile* file = Resolve(path, &redirect);
    if (file == nullptr && redirect.empty()) return nullptr;  // not kept: any path may be asked
    // Not kept either: a later view (after a repair) serves it.
    if (file != nullptr && file->unavailable) return nullptr;
    Entry entry;
    if (file != nullptr) {
      StaticPage& p = entry.page;
      p.area = content::AreaName(file->area);
      p.content_type = file->content_type;
      p.etag = "\"" + file->hash + "\"";
      p.last_modified = file->last_modified;
      auto body = view_->ReadBody(*file);
      if (!body.ok()) {
        // Damaged or removed on disk since the view was loaded (bodies beyond the cache limit
        // are read here): answered 503 by the handler, and reported for repair.
        {
          std::unique_lock<std::shared_mutex> lock(mu_);
          failed_reads_.insert(file->path);
        }
        if (on_read_fault_) {
          on_read_fault_(content::BlobFault{file->path, file->area, file->hash, file->length, false,
                                            body.status().message()});
        }
        return nullptr;
      }
      p.body = *body;
      if (file->gzip) {
        auto gz = view_->ReadGzipBody(*file);
        if (gz.ok()) p.gzip_body = *gz;
      }
    } else {
      const content::ServedFile* index = view_->Find(redirect + "index.html");
      entry.page.area = content::AreaName(index->area);
      entry.redirect = std::move(redirect);
    }
    std::unique_lock<std::shared_mutex> lock(mu_);
    auto [it, inserted] = pages_.try_emplace(std::string(path), std::move(entry));
    // The page's views point into the node (stable in an unordered_map) or into the view.
    if (inserted && !it->second.redirect.empty()) it->second.page.redirect_to = it->second.redirect;
    return &it->second.page;
  }

  const StaticPage* NotFoundPage() const override { return not_found_; }

 private:
  struct Entry {
    StaticPage page;
    std::string redirect;  // what page.redirect_to points to
  };

  // The file a request path names. Directory index: "/news/" serves "/news/index.html"; "/news"
  // redirects to "/news/" (then `*redirect` is set and null is returned).
  const content::ServedFile* Resolve(std::string_view path, std::string* redirect = nullptr) const {
    const content::ServedFile* file = view_->Find(path);
    if (file == nullptr && !path.empty() && path.back() == '/') {
      file = view_->Find(std::string(path) + "index.html");
    } else if (file == nullptr && redirect != nullptr && !path.empty() &&
               view_->Find(std::string(path) + "/index.html") != nullptr) {
      *redirect = std::string(path) + "/";
    }
    return file;
  }

  std::shared_ptr<const content::SiteView> view_;
  FaultSink on_read_fault_;
  mutable std::shared_mutex mu_;
  mutable std::unordered_map<std::string, Entry, PathHash, std::equal_to<>> pages_;
  mutable std::set<std::string, std::less<>> failed_reads_;  // guarded by mu_: paths
  const StaticPage* not_found_ = nullptr;
};

// Holds the adapter for the current view; rebuilt when the view changes.
class ServedSiteCache {
 public:
  explicit ServedSiteCache(SiteContent& content) : content_(content) {}
  std::shared_ptr<const ServedSite> Get() { return Get(content_.view()); }
  // The adapter for `view`, one the caller loaded from content_.view().
  std::shared_ptr<const ServedSite> Get(std::shared_ptr<const content::SiteView> view) {
    auto current = std::atomic_load(&current_);
    if (current && current->view == view) return {current, current->site.get()};
    auto entry = std::make_shared<Entry>();
    entry->view = view;
    SiteContent* content = &content_;
    if (view) {
      entry->site = std::make_unique<ServedSite>(
          view, [content](content::BlobFault f) { content->ReportReadFault(std::move(f)); });
    }
    std::atomic_store(&current_, entry);
    return {entry, entry->site.get()};
  }

 private:
  struct Entry {
    std::shared_ptr<const content::SiteView> view;
    std::unique_ptr<ServedSite> site;
  };
  SiteContent& content_;
  std::shared_ptr<Entry> current_;
};

// The site's pages (StaticPageHandler), except that
// - a page whose file cannot be served because its blob is missing or damaged is answered 503
//   ("temporarily unavailable, being restored") instead of 404: with the site's own /503.html
//   when it has one, else a short page;
// - a partner's front page before main's first tie-up release (when the partner has no "/" of
//   its own) is an "opening soon" page in the page shell (content/page_templates.h), 503 with
//   Retry-After, instead of a bare 404.
class PageHandler final : public HttpHandler {
 public:
  PageHandler(std::shared_ptr<ServedSiteCache> cache, SiteContent& content,
              const SiteConfig& config)
      : cache_(std::move(cache)),
        pages_([cache = cache_] { return cache->Get(); }),
        content_(content),
        partner_(config.role == SiteRole::kPartner),
        site_name_(config.name.empty() ? config.id : config.name),
        templates_(EmbeddedSiteTemplates(),
                   content::PageSite{[&content] { return content.view(); }, content::Area::kTieup,
                                     site_name_, nullptr}),
        links_(templates_) {}

  void Handle(const HttpRequest& request, HttpResponder responder) override {
    HttpResponse r = Serve(request);
    if (partner_) withdrawn_.Apply(r);  // main withdrew its tie-up pages: a notice instead
    responder.Respond(std::move(r));
  }
  std::string_view AllowedMethods() const override { return pages_.AllowedMethods(); }

  HttpResponse Serve(const HttpRequest& request) const {
    const std::shared_ptr<const content::SiteView> view = content_.view();
    // A partner serves a link entry of its tie-up area as a link to main, never its body.
    if (partner_) {
      if (auto link = links_.Serve(request, view.get())) return std::move(*link);
    }
    // A page written in Markdown is served rendered ("/news.md" at "/news.html"): a link to
    // its source lands on it, with its query (content/markdown_page.h).
    if (view && IsMarkdownSuffix(request.path())) {
      if (auto page = content::RenderedAddressOf(*view, request.path())) {
        std::string location = std::move(*page);
        if (!request.query().empty()) {
          location += '?';
          location += request.query();
        }
        HttpResponse moved = HttpResponse::Text(301, "This page is at " + location + "\n");
        moved.AddHeader("Location", location);
        moved.area.assign("original");
        return moved;
      }
    }
    HttpResponse r = pages_.Serve(request);
    // Only a page that was not found may be one that cannot be served: the common answers
    // cost nothing more.
    if (r.status() != 404) return r;
    if (partner_ && (request.path() == "/" || request.path() == "/index.html") &&
        (view == nullptr || view->version(content::Area::kTieup) == 0)) {
      return OpeningSoon();  // before main's first tie-up release
    }
    std::shared_ptr<const ServedSite> site = cache_->Get(view);
    const content::ServedFile* file = site ? site->UnavailableFile(request.path()) : nullptr;
    if (file == nullptr) return r;
    return Unavailable(*site, *file);
  }

 private:
  static HttpResponse Unavailable(const ServedSite& site, const content::ServedFile& file) {
    HttpResponse r(503);
    if (const StaticPage* page = site.UnavailablePage(); page != nullptr && page->body) {
      r.AddHeader("Content-Type",
                  page->content_type.empty() ? "text/html; charset=utf-8" : page->content_type);
      r.SetSharedBody(page->body);
    } else {
      r = HttpResponse::Html(
          503,
          "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<title>Temporarily unavailable</title></head>\n<body><h1>This page is temporarily "
          "unavailable</h1>\n<p>Its file on this server is being restored. Please try again in "
          "a minute.</p>\n<p><a href=\"/\">Front page</a></p></body></html>\n");
    }
    r.AddHeader("Retry-After", "30");
    r.AddHeader("Cache-Control", "no-store");
    r.AddHeader("X-Content-Type-Options", "nosniff");
    r.area.assign(content::AreaName(file.area));
    return r;
  }

  // Whether `path` ends in ".md", in any case (as content/markdown_page.cc reads it).
  static bool IsMarkdownSuffix(std::string_view path) {
    return path.size() >= 3 && path[path.size() - 3] == '.' &&
           (path[path.size() - 2] | 0x20) == 'm' && (path[path.size() - 1] | 0x20) == 'd';
  }

  HttpResponse OpeningSoon() const {
    boost::json::object data;
    data["site_name"] = site_name_;
    auto page = templates_.Render("opening_soon", {"Opening soon", std::nullopt}, data);
    HttpResponse r = page.ok() ? HttpResponse::Html(503, std::move(*page))
                               : HttpResponse::Text(503, site_name_ + " is opening soon.\n");
    r.AddHeader("Retry-After", "3600");
    r.AddHeader("Cache-Control", "no-store");
    return r;
  }

  std::shared_ptr<ServedSiteCache> cache_;
  StaticPageHandler pages_;
  SiteContent& content_;
  const bool partner_;
  const std::string site_name_;
  const content::PageTemplates templates_;
  const WithdrawnPages withdrawn_{content_, site_name_};
  const LinkPages links_;
};

ledger::AccessRecord ToRecord(const AccessEvent& e) {
  ledger::AccessRecord r;
  r.time_micros = e.time_micros;
  // A request that matched no page (404, refused paths) is counted with the partner's own
  // namespace; fee rules count only successful responses.
  r.area = e.area == "tieup" ? ledger::RecordArea::kTieup : ledger::RecordArea::kOriginal;
  r.method = std::string(e.method);
  r.path = std::string(e.path);
  r.status = e.status;
  r.bytes = e.bytes_sent;
  r.referer = std::string(e.referer);
  r.user_agent = std::string(e.user_agent);
  r.user_id = std::string(e.user);
  return r;
}

// The mount `host` (a Host header) or `path` belongs to; null: this server's own.
const PageMount* MatchMount(const std::vector<PageMount>& mounts, std::string_view host,
                            std::string_view path) {
  // "Brand2.Example:8080" and "brand2.example." name the host "brand2.example".
  if (!host.empty() && host.front() != '[') {
    if (size_t colon = host.rfind(':'); colon != std::string_view::npos) {
      host = host.substr(0, colon);
    }
    if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  }
  auto same_host = [&](const std::string& h) {
    if (h.size() != host.size()) return false;
    for (size_t i = 0; i < h.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(host[i])) != h[i]) return false;
    }
    return true;
  };
  for (const PageMount& m : mounts) {
    if (!m.host.empty() && same_host(m.host)) return &m;
  }
  for (const PageMount& m : mounts) {
    if (m.prefix.empty()) continue;
    if (path.starts_with(m.prefix) ||
        (path.size() + 1 == m.prefix.size() && std::string_view(m.prefix).starts_with(path))) {
      return &m;
    }
  }
  return nullptr;
}

// Larger HTML pages of a prefix area are served without their links rewritten: no page of a
// site is that large, and parsing one would cost more than it is worth.
constexpr size_t kMaxLinkRewriteBytes = 16 << 20;

// `url` (a Location, a cookie's Path) put under `prefix` when it is an absolute path of the
// site ("/x", not "//host/x" nor "/\host/x"); nullopt when it is not one.
std::optional<std::string> UnderPrefix(std::string_view url, std::string_view prefix) {
  if (url.empty() || url[0] != '/') return std::nullopt;
  if (url.size() > 1 && (url[1] == '/' || url[1] == '\\')) return std::nullopt;
  return std::string(prefix) + std::string(url.substr(1));
}

// A Set-Cookie value with its Path attribute under `prefix` (the area's cookies are its own:
// the shop's cart of that main, not of the first); nullopt when it has no Path to move.
std::optional<std::string> CookieUnderPrefix(std::string_view cookie, std::string_view prefix) {
  size_t at = 0;
  while ((at = cookie.find(';', at)) != std::string_view::npos) {
    size_t start = at + 1;
    while (start < cookie.size() && cookie[start] == ' ') ++start;
    const size_t end = std::min(cookie.find(';', start), cookie.size());
    std::string_view attribute = cookie.substr(start, end - start);
    if (attribute.size() >= 5 && EqualsIgnoreCase(attribute.substr(0, 5), "path=")) {
      auto moved = UnderPrefix(attribute.substr(5), prefix);
      if (!moved) return std::nullopt;
      return std::string(cookie.substr(0, start + 5)) + *moved + std::string(cookie.substr(end));
    }
    at = end;
  }
  return std::nullopt;
}

// A response of a prefix area's pages (whose paths are main's, "/x.html") as the partner serves
// it under `prefix` ("/kyoto/x.html"): a redirect's Location, the Path of its cookies and the
// links of an HTML page moved under the prefix (site/html_links.h; `path` is the page's path
// without the prefix). Other responses pass unchanged, without a copy of their body.
HttpResponse MoveUnderPrefix(HttpResponse response, std::string_view prefix,
                             std::string_view path) {
  const std::vector<HttpHeaderView> headers = response.Headers();
  std::optional<std::string> body;
  std::string content_type;
  // (An encoded body is never parsed: MountDispatch asks for none.)
  if (auto type = response.FindHeader("Content-Type");
      type && IsHtmlContentType(*type) && !response.FindHeader("Content-Encoding") &&
      !response.body().empty() && response.body().size() <= kMaxLinkRewriteBytes) {
    auto rewritten = RewriteHtmlLinks(response.body(), CharsetOf(*type),
                                      HtmlLinkMap{.prefix = std::string(prefix),
                                                  .path = std::string(path),
                                                  .own_origins = {},
                                                  .body_start_html = {}});
    if (rewritten.ok()) {
      body = std::move(*rewritten);
      content_type = "text/html; charset=utf-8";
    }
  }
  std::vector<std::pair<size_t, std::string>> moved;  // header index, new value
  for (size_t i = 0; i < headers.size(); ++i) {
    std::optional<std::string> value;
    if (EqualsIgnoreCase(headers[i].name, "Location")) {
      value = UnderPrefix(headers[i].value, prefix);
    } else if (EqualsIgnoreCase(headers[i].name, "Set-Cookie")) {
      value = CookieUnderPrefix(headers[i].value, prefix);
    } else if (body && EqualsIgnoreCase(headers[i].name, "Content-Type")) {
      value = content_type;
    }
    if (value) moved.emplace_back(i, std::move(*value));
  }
  if (!body && moved.empty()) return response;
  HttpResponse out(response.status());
  out.ReserveHeaderBytes(response.header_block().size() + prefix.size() * moved.size());
  size_t next = 0;
  for (size_t i = 0; i < headers.size(); ++i) {
    const bool replaced = next < moved.size() && moved[next].first == i;
    out.AddHeader(headers[i].name,
                  replaced ? std::string_view(moved[next].second) : headers[i].value);
    if (replaced) ++next;
  }
  out.SetBody(body ? std::move(*body) : std::string(response.body()));
  out.set_close_connection(response.close_connection());
  out.area = std::move(response.area);
  out.user = std::move(response.user);
  return out;
}

// Names the signed-in visitor (PageServer::SetVisitor) in the response, for its access record.
class NamedVisitors final : public HttpHandler {
 public:
  NamedVisitors(std::shared_ptr<HttpHandler> inner, std::string cookie,
                std::function<std::string(const HttpRequest&)> visitor)
      : inner_(std::move(inner)), cookie_(std::move(cookie) + "="), visitor_(std::move(visitor)) {}
  void Handle(const HttpRequest& request, HttpResponder responder) override {
    // Without cookies (most requests, every benchmark's) no one is signed in: straight through.
    const std::string_view cookies = request.HeaderOr("Cookie");
    if (cookies.empty()) {
      inner_->Handle(request, std::move(responder));
      return;
    }
    // The visitor decides who is named, whatever the handler said.
    std::string user;
    if (cookies.find(cookie_) != std::string_view::npos) user = visitor_(request);
    auto outer = std::make_shared<HttpResponder>(std::move(responder));
    inner_->Handle(request, HttpResponder::FromCallback(
                                [outer, user = std::move(user)](HttpResponse response) {
                                  response.user = user;
                                  outer->Respond(std::move(response));
                                }));
  }
  std::string_view AllowedMethods() const override { return inner_->AllowedMethods(); }

 private:
  const std::shared_ptr<HttpHandler> inner_;
  const std::string cookie_;
  const std::function<std::string(const HttpRequest&)> visitor_;
};

// Clears the display-name cookie of a request whose session ended (PageServer::SetSignedInCheck).
class StaleCustomerNames final : public HttpHandler {
 public:
  StaleCustomerNames(std::shared_ptr<HttpHandler> inner,
                     std::function<bool(const HttpRequest&)> signed_in, bool https)
      : inner_(std::move(inner)),
        signed_in_(std::move(signed_in)),
        clear_(std::string(content::kCustomerCookie) + "=; Path=/; SameSite=Lax; Max-Age=0" +
               (https ? "; Secure" : "")) {}
  void Handle(const HttpRequest& request, HttpResponder responder) override {
    const std::string name = std::string(content::kCustomerCookie) + "=";
    const std::string_view cookies = request.HeaderOr("Cookie");
    const size_t at = cookies.find(name);
    // Most requests carry no name: straight through.
    if (at == std::string_view::npos ||
        (at > 0 && cookies[at - 1] != ' ' && cookies[at - 1] != ';') || signed_in_(request)) {
      inner_->Handle(request, std::move(responder));
      return;
    }
    auto outer = std::make_shared<HttpResponder>(std::move(responder));
    inner_->Handle(
        request, HttpResponder::FromCallback([outer, name, clear = clear_](HttpResponse response) {
          bool sets_it = false;  // a sign-in sets it afresh
          for (const HttpHeaderView& h : response.Headers()) {
            sets_it =
                sets_it || (EqualsIgnoreCase(h.name, "Set-Cookie") && h.value.starts_with(name));
          }
          if (!sets_it) response.AddHeader("Set-Cookie", clear);
          outer->Respond(std::move(response));
        }));
  }
  std::string_view AllowedMethods() const override { return inner_->AllowedMethods(); }

 private:
  const std::shared_ptr<HttpHandler> inner_;
  const std::function<bool(const HttpRequest&)> signed_in_;
  const std::string clear_;
};

// Sends each request to its mount's handler, or to this server's router. A prefix area's
// request goes to its pages with the prefix taken off, and comes back under it
// (MoveUnderPrefix).
class MountDispatch final : public HttpHandler {
 public:
  MountDispatch(std::shared_ptr<HttpHandler> own, std::vector<PageMount> mounts)
      : own_(std::move(own)), mounts_(std::move(mounts)) {}
  void Handle(const HttpRequest& request, HttpResponder responder) override {
    const PageMount* m = MatchMount(mounts_, request.HeaderOr("Host"), request.path());
    if (m == nullptr || !m->host.empty()) {
      (m != nullptr ? m->handler : own_)->Handle(request, std::move(responder));
      return;
    }
    const std::string& prefix = m->prefix;  // mounts_ never changes: the reference lasts
    if (request.path().size() < prefix.size()) {
      // "/kyoto": the area's home is "/kyoto/", where its relative links resolve.
      HttpResponse r = HttpResponse::Text(308, "The pages are under " + prefix + "\n");
      std::string location = prefix;
      if (!request.query().empty()) location += "?" + std::string(request.query());
      r.AddHeader("Location", location);
      responder.Respond(std::move(r));
      return;
    }
    // The copy lives until the handler responds (HttpRequest's contract). Without
    // Accept-Encoding: an HTML page must come back as text to have its links moved (so the
    // area's files are sent uncompressed).
    auto inner =
        std::make_shared<HttpRequest>(request.WithPath(request.path().substr(prefix.size() - 1)));
    inner->RemoveHeader("Accept-Encoding");
    auto outer = std::make_shared<HttpResponder>(std::move(responder));
    m->handler->Handle(*inner, HttpResponder::FromCallback([inner, outer, &prefix](HttpResponse r) {
      outer->Respond(MoveUnderPrefix(std::move(r), prefix, inner->path()));
    }));
  }

 private:
  std::shared_ptr<HttpHandler> own_;
  std::vector<PageMount> mounts_;
};

}  // namespace

PageServer::PageServer(Env& env, const SiteConfig& config, SiteContent& content,
                       ledger::AccessLogWriter* access_log, std::shared_ptr<Logger> logger,
                       PageServerOptions options)
    : env_(env), content_(content), logger_(std::move(logger)), options_(options) {
  HttpServerOptions http;
  http.address = config.public_address.host;
  http.port = config.public_address.port;
  http.threads = config.http_threads;
  http.max_body_bytes = config.max_body_bytes;
  http.header_timeout = std::chrono::milliseconds(config.header_timeout_ms);
  http.idle_timeout = std::chrono::milliseconds(config.idle_timeout_ms);
  http.max_connections_per_client = config.connections_per_client;
  http.requests_per_second_per_client = config.requests_per_second_per_client;
  http.request_burst_per_client = config.request_burst_per_client;
  http.logger = logger_;
  if (access_log != nullptr) {
    http.access_hook = [access_log](const AccessEvent& e) { access_log->Record(ToRecord(e)); };
  }
  auto pages =
      std::make_shared<PageHandler>(std::make_shared<ServedSiteCache>(content_), content_, config);
  router_ = std::make_shared<Router>(std::move(pages));
  // The frames of the layouts' ad slots (content/ad_catalog.h), on every site.
  Status ads = router_->Add(kAdFramePrefix, "GET, HEAD",
                            WithBrowserSecurityHeaders(std::make_shared<AdFrames>(
                                env_, config, content_, access_log, logger_)));
  assert(ads.ok());  // a fresh router has no route yet
  (void)ads;
  http_ = std::move(http);
}

Status PageServer::AddRoute(std::string_view prefix, std::string_view methods,
                            std::shared_ptr<HttpHandler> handler) {
  if (server_) return Status::FailedPrecondition("routes are added before the server starts");
  return router_->Add(prefix, methods, std::move(handler));
}

PageServer::~PageServer() { Stop(); }

Status PageServer::Mount(PageMount mount) {
  if (server_ || reload_thread_.joinable()) {
    return Status::FailedPrecondition("mounts are added before the server starts");
  }
  if (mount.handler == nullptr || mount.prefix.empty() == mount.host.empty()) {
    return Status::InvalidArgument("a mount needs a handler and exactly one of prefix and host");
  }
  for (const PageMount& m : mounts_) {
    if ((!m.host.empty() && m.host == mount.host) ||
        (!m.prefix.empty() && !mount.prefix.empty() &&
         (m.prefix.starts_with(mount.prefix) || mount.prefix.starts_with(m.prefix)))) {
      return Status::AlreadyExists("'" + mount.prefix + mount.host + "' overlaps the mount '" +
                                   m.prefix + m.host + "'");
    }
  }
  mounts_.push_back(std::move(mount));
  return Status::Ok();
}

Status PageServer::AddAccessObserver(std::function<void(const AccessEvent&)> observer) {
  if (server_) return Status::FailedPrecondition("observers are added before the server starts");
  if (!observer) return Status::InvalidArgument("a null access observer");
  observers_.push_back(std::move(observer));
  return Status::Ok();
}

Status PageServer::SetVisitor(std::string cookie_name,
                              std::function<std::string(const HttpRequest&)> visitor) {
  if (server_) return Status::FailedPrecondition("the visitor is set before the server starts");
  if (cookie_name.empty() || !visitor) {
    return Status::InvalidArgument("a visitor needs a cookie name and a function");
  }
  visitor_cookie_ = std::move(cookie_name);
  visitor_ = std::move(visitor);
  return Status::Ok();
}

Status PageServer::SetSignedInCheck(std::function<bool(const HttpRequest&)> signed_in, bool https) {
  if (server_) return Status::FailedPrecondition("the check is set before the server starts");
  if (!signed_in) return Status::InvalidArgument("a signed-in check needs a function");
  signed_in_ = std::move(signed_in);
  signed_in_https_ = https;
  return Status::Ok();
}

Status PageServer::SetWaf(std::shared_ptr<WafGate> gate) {
  if (server_) return Status::FailedPrecondition("the WAF is set before the server starts");
  waf_ = std::move(gate);
  return Status::Ok();
}

Status PageServer::Start() {
  std::shared_ptr<HttpHandler> top = router_;
  if (!mounts_.empty()) {
    top = std::make_shared<MountDispatch>(router_, mounts_);
    // Each request's access record goes to the stream of the main whose area served it.
    auto own = std::move(http_.access_hook);
    http_.access_hook = [own, mounts = mounts_](const AccessEvent& e) {
      if (const PageMount* m = MatchMount(mounts, e.host, e.path)) {
        if (m->access_log != nullptr) m->access_log->Record(ToRecord(e));
      } else if (own) {
        own(e);
      }
    };
  }
  if (!observers_.empty()) {
    auto records = std::move(http_.access_hook);
    http_.access_hook = [records, observers = observers_](const AccessEvent& e) {
      for (const auto& observe : observers) observe(e);
      if (records) records(e);
    };
  }
  if (visitor_) top = std::make_shared<NamedVisitors>(std::move(top), visitor_cookie_, visitor_);
  if (signed_in_) {
    top = std::make_shared<StaleCustomerNames>(std::move(top), signed_in_, signed_in_https_);
  }
  if (waf_) top = waf_->Wrap(std::move(top));  // before any handler
  server_ = std::make_unique<HttpServer>(env_, http_, std::move(top));
  RETURN_IF_ERROR(server_->Start());
  reload_thread_ = std::thread([this] { ReloadLoop(); });
  return Status::Ok();
}

Status PageServer::StartWithoutListening() {
  if (server_ || reload_thread_.joinable()) return Status::FailedPrecondition("already started");
  reload_thread_ = std::thread([this] { ReloadLoop(); });
  return Status::Ok();
}

void PageServer::Stop() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    if (stopping_.exchange(true)) return;
  }
  stop_cv_.notify_all();
  if (reload_thread_.joinable()) reload_thread_.join();
  if (server_) server_->Stop();
}

void PageServer::ReloadLoop() {
  std::unique_lock<std::mutex> lock(stop_mu_);
  while (!stopping_) {
    stop_cv_.wait_for(lock, options_.reload_interval, [this] { return stopping_.load(); });
    if (stopping_) break;
    lock.unlock();
    auto reloaded = content_.RefreshIfChanged();
    if (!reloaded.ok()) {
      logger_->warn(
          "could not load the newly activated release: {} (still serving the previous one)",
          reloaded.status().ToString());
    } else if (*reloaded) {
      auto view = content_.view();
      logger_->info("serving tie-up release {} and original release {}",
                    view->version(content::Area::kTieup), view->version(content::Area::kOriginal));
    }
    // Main's WAF settings come with its tie-up releases, which this process may have activated
    // itself (the receiver): checked every round, cheap when they have not changed.
    if (waf_) waf_->Follow();
    lock.lock();
  }
}

}  // namespace tieup
