#include "site/page_server.h"

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
using PageMap = std::unordered_map<std::string, StaticPage, PathHash, std::equal_to<>>;

// Adapts the content module's view to what the static handler serves. Built once per
// activation; immutable afterwards except for lazily loaded bodies of files beyond the cache
// limit.
class ServedSite final : public StaticSite {
 public:
  explicit ServedSite(std::shared_ptr<const content::SiteView> view) : view_(std::move(view)) {
    for (const auto& [path, file] : view_->files()) {
      const StaticPage& page = Add(path, file);
      // Directory index: "/news/" serves "/news/index.html"; "/news" redirects to "/news/".
      constexpr std::string_view kIndex = "index.html";
      if (path.size() >= kIndex.size() &&
          std::string_view(path).substr(path.size() - kIndex.size()) == kIndex &&
          path[path.size() - kIndex.size() - 1] == '/') {
        std::string dir = path.substr(0, path.size() - kIndex.size());
        if (!view_->files().count(dir)) pages_.emplace(dir, page);
        if (dir != "/") {
          std::string bare = dir.substr(0, dir.size() - 1);
          if (!view_->files().count(bare)) {
            auto& redirect = redirects_.emplace_back(std::make_unique<std::string>(dir));
            StaticPage r;
            r.area = page.area;
            r.redirect_to = *redirect;
            pages_.emplace(bare, std::move(r));
          }
        }
      }
    }
    if (const content::ServedFile* nf = view_->not_found_page()) not_found_ = Find(nf->path);
  }

  const StaticPage* Find(std::string_view path) const override {
    auto it = pages_.find(path);
    if (it == pages_.end()) return nullptr;
    if (!it->second.body && it->second.redirect_to.empty()) return LoadLazily(it->first);
    return &it->second;
  }

  const StaticPage* NotFoundPage() const override { return not_found_; }

 private:
  const StaticPage& Add(const std::string& path, const content::ServedFile& file) {
    StaticPage p;
    p.area = content::AreaName(file.area);
    p.content_type = file.content_type;
    p.etag = "\"" + file.hash + "\"";
    p.last_modified = file.last_modified;
    p.body = file.body;
    p.gzip_body = file.gzip_body;
    return pages_.emplace(path, std::move(p)).first->second;
  }

  // Files beyond the cache limit: read once on first request, then kept with the view.
  const StaticPage* LoadLazily(const std::string& path) const {
    std::lock_guard<std::mutex> lock(lazy_mu_);
    auto it = lazy_.find(path);
    if (it != lazy_.end()) return &it->second;
    const content::ServedFile* file = view_->Find(path);
    if (file == nullptr) return nullptr;
    auto body = view_->ReadBody(*file);
    if (!body.ok()) return nullptr;  // a missing or corrupt blob is served as absent
    StaticPage p = pages_.at(path);
    p.body = *body;
    if (file->gzip) {
      auto gz = view_->ReadGzipBody(*file);
      if (gz.ok()) p.gzip_body = *gz;
    }
    return &lazy_.emplace(path, std::move(p)).first->second;
  }

  std::shared_ptr<const content::SiteView> view_;
  PageMap pages_;
  std::vector<std::unique_ptr<std::string>> redirects_;
  const StaticPage* not_found_ = nullptr;
  mutable std::mutex lazy_mu_;
  mutable std::unordered_map<std::string, StaticPage> lazy_;
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
  http.logger = logger_;
  if (access_log != nullptr) {
    http.access_hook = [access_log](const AccessEvent& e) { access_log->Record(ToRecord(e)); };
  }
  auto cache = std::make_shared<ServedSiteCache>(content_);
  auto pages = std::make_shared<StaticPageHandler>([cache] { return cache->Get(); });
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
