#include "site/page_server.h"

#include <shared_mutex>
#include <unordered_map>

#include "base/encoding.h"
#include "net/static_handler.h"

namespace tieup {
namespace {

// Lets the page map be searched with a string_view: no allocation per request.
struct PathHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};

// Adapts the content module's view to what the static handler serves. A page is made on its
// first request and kept with the view (so an activation costs nothing per file of the site);
// bodies beyond the view's cache limit are read then too. Thread-safe.
class ServedSite final : public StaticSite {
 public:
  explicit ServedSite(std::shared_ptr<const content::SiteView> view) : view_(std::move(view)) {
    if (const content::ServedFile* nf = view_->not_found_page()) not_found_ = Find(nf->path);
  }

  const StaticPage* Find(std::string_view path) const override {
    {
      std::shared_lock<std::shared_mutex> lock(mu_);
      auto it = pages_.find(path);
      if (it != pages_.end()) return &it->second.page;
    }
    // Directory index: "/news/" serves "/news/index.html"; "/news" redirects to "/news/".
    const content::ServedFile* file = view_->Find(path);
    std::string redirect;
    if (file == nullptr && !path.empty() && path.back() == '/') {
      file = view_->Find(std::string(path) + "index.html");
    } else if (file == nullptr && !path.empty() &&
               view_->Find(std::string(path) + "/index.html") != nullptr) {
      redirect = std::string(path) + "/";
    }
    if (file == nullptr && redirect.empty()) return nullptr;  // not kept: any path may be asked
    Entry entry;
    if (file != nullptr) {
      StaticPage& p = entry.page;
      p.area = content::AreaName(file->area);
      p.content_type = file->content_type;
      p.etag = "\"" + file->hash + "\"";
      p.last_modified = file->last_modified;
      auto body = view_->ReadBody(*file);
      if (!body.ok()) return nullptr;  // a missing or corrupt blob is served as absent
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
  std::shared_ptr<const content::SiteView> view_;
  mutable std::shared_mutex mu_;
  mutable std::unordered_map<std::string, Entry, PathHash, std::equal_to<>> pages_;
  const StaticPage* not_found_ = nullptr;
};

// Holds the adapter for the current view; rebuilt when the view changes.
class ServedSiteCache {
 public:
  explicit ServedSiteCache(SiteContent& content) : content_(content) {}
  std::shared_ptr<const StaticSite> Get() {
    auto view = content_.view();
    auto current = std::atomic_load(&current_);
    if (current && current->view == view) return {current, current->site.get()};
    auto entry = std::make_shared<Entry>();
    entry->view = view;
    if (view) entry->site = std::make_unique<ServedSite>(view);
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
  auto pages = std::make_shared<PageHandler>(std::make_shared<ServedSiteCache>(content_));
  router_ = std::make_shared<Router>(std::move(pages));
  http_ = std::move(http);
}

Status PageServer::AddRoute(std::string_view prefix, std::string_view methods,
                            std::shared_ptr<HttpHandler> handler) {
  if (server_) return Status::FailedPrecondition("routes are added before the server starts");
  return router_->Add(prefix, methods, std::move(handler));
}

PageServer::~PageServer() { Stop(); }

Status PageServer::Start() {
  server_ = std::make_unique<HttpServer>(env_, http_, router_);
  RETURN_IF_ERROR(server_->Start());
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
    lock.lock();
  }
}

}  // namespace tieup
