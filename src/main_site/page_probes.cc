#include "main_site/page_probes.h"

#include <algorithm>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "base/worker_pool.h"
#include "commerce/form.h"
#include "content/template_vars.h"
#include "crypto/hash.h"
#include "guard/alerts.h"
#include "guard/page_probe.h"
#include "ledger/records.h"
#include "main_site/main_daemon.h"
#include "net/http_client.h"
#include "site/config.h"
#include "site/html_links.h"
#include "sync/partnership_terms.h"
#include "sync/publisher.h"
#include "sync/schedule.h"
#include "trust/tls.h"

namespace tieup {
namespace {

constexpr int64_t kDefaultPagesPerHour = 3600;
constexpr int64_t kDefaultIntervalSeconds = 10;
// At most this many pages of one partner in one round (a round that fell behind catches up over
// several).
constexpr size_t kMaxPagesPerRound = 500;
// Partners probed at once.
constexpr size_t kParallelPartners = 4;

// Where a partner's public pages are: scheme, host, port and the path they are under.
struct PublicBase {
  bool https = false;
  std::string host;
  uint16_t port = 0;
  std::string prefix;  // "/" or "/brand2/"
};

Result<PublicBase> ParsePublicBase(const std::string& url) {
  auto u = boost::urls::parse_absolute_uri(url);
  const std::string hint = "the partnership's public URL '" + url.substr(0, 200) + "'";
  if (!u) return Status::InvalidArgument(hint + " is not a URL");
  PublicBase b;
  if (u->scheme() == "https") {
    b.https = true;
  } else if (u->scheme() != "http") {
    return Status::InvalidArgument(hint + " is neither http nor https");
  }
  b.host = std::string(u->host_address());
  if (b.host.empty()) return Status::InvalidArgument(hint + " names no host");
  b.port = u->has_port() ? u->port_number() : (b.https ? 443 : 80);
  if (b.port == 0) return Status::InvalidArgument(hint + " has a bad port");
  b.prefix = std::string(u->path());
  if (b.prefix.empty() || b.prefix.front() != '/') b.prefix.insert(0, "/");
  if (b.prefix.back() != '/') b.prefix += '/';
  return b;
}

// The request target of `path` (a release's path) under `prefix`, percent-encoded.
std::string Target(const std::string& prefix, const std::string& path) {
  boost::urls::url u;
  u.set_path(prefix + path.substr(1));
  return std::string(u.encoded_path());
}

class PageProbes {
 public:
  PageProbes(MainDaemon& daemon, std::unique_ptr<guard::ProbeRecord> record,
             std::unique_ptr<guard::AlertStore> alerts, int64_t pages_per_hour,
             int64_t interval_seconds, std::shared_ptr<boost::asio::ssl::context> web_tls)
      : env_(daemon.env()),
        db_(daemon.db()),
        publisher_(daemon.sync().publisher()),
        blobs_(daemon.sync().partner_blobs()),
        logger_(daemon.logger()),
        record_(std::move(record)),
        alerts_(std::move(alerts)),
        pages_per_hour_(pages_per_hour),
        interval_(std::chrono::seconds(interval_seconds)),
        web_tls_(std::move(web_tls)) {}

  Status Start() {
    thread_ = std::thread([this] { Loop(); });
    return Status::Ok();
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Loop() {
    WorkerPool pool(kParallelPartners);
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      lock.unlock();
      Round(pool);
      lock.lock();
      cv_.wait_for(lock, interval_, [this] { return stopping_; });
    }
  }

  bool stopping() {
    std::lock_guard<std::mutex> lock(mu_);
    return stopping_;
  }

  // One round: each partner with the security service gets the pages its share of
  // pages_per_hour says since its last round.
  void Round(WorkerPool& pool) {
    auto partners = sync::PartnersWithOption(db_, "security");
    if (!partners.ok()) {
      logger_->warn("page probes: listing the partners: {}", partners.status().message());
      return;
    }
    const int64_t now_micros = env_.NowMicros();
    std::mutex done_mu;
    std::condition_variable done_cv;
    size_t pending = 0;
    for (const std::string& id : *partners) {
      Budget& budget = budgets_[id];
      if (budget.last_micros == 0) budget.last_micros = now_micros - interval_.count() * 1'000'000;
      budget.credit += static_cast<double>(pages_per_hour_) *
                       static_cast<double>(now_micros - budget.last_micros) / 3.6e9;
      budget.last_micros = now_micros;
      budget.credit = std::min(budget.credit, static_cast<double>(kMaxPagesPerRound));
      const size_t count = static_cast<size_t>(budget.credit);
      if (count == 0) continue;
      budget.credit -= static_cast<double>(count);
      {
        std::lock_guard<std::mutex> lock(done_mu);
        ++pending;
      }
      bool queued = pool.Submit([this, id, count, &done_mu, &done_cv, &pending] {
        ProbePartner(id, count);
        std::lock_guard<std::mutex> lock(done_mu);
        if (--pending == 0) done_cv.notify_all();
      });
      if (!queued) {
        std::lock_guard<std::mutex> lock(done_mu);
        --pending;
      }
    }
    std::unique_lock<std::mutex> lock(done_mu);
    done_cv.wait(lock, [&] { return pending == 0; });
    // Partners that left the service are forgotten.
    std::erase_if(budgets_, [&](const auto& b) { return partners->count(b.first) == 0; });
  }

  // A release of `id` as main built it, kept between rounds (releases never change).
  std::shared_ptr<const content::ReleaseManifest> Release(const std::string& id, uint64_t version) {
    if (version == 0) return nullptr;
    {
      std::lock_guard<std::mutex> lock(cache_mu_);
      auto it = releases_.find({id, version});
      if (it != releases_.end()) return it->second;
    }
    auto kept = publisher_.KeptRelease(id, version);
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (!kept.ok()) {
      if (unreadable_.insert({id, version}).second) {  // said once, not every round
        logger_->warn("page probes of '{}' skip it: {}", id, kept.status().message());
      }
      return nullptr;
    }
    releases_[{id, version}] = *kept;
    return *kept;
  }

  // Drops the releases of `id` kept for earlier rounds but `active` and `latest`.
  void KeepOnly(const std::string& id, uint64_t active, uint64_t latest) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    std::erase_if(releases_, [&](const auto& r) {
      return r.first.first == id && r.first.second != active && r.first.second != latest;
    });
  }

  // What partner `id` should be serving: the pages to probe (sorted) and what is right for each.
  struct Expectation {
    sync::PartnerServing serving;
    PublicBase base;
    std::shared_ptr<const content::ReleaseManifest> active, latest;
    std::map<std::string, std::string> edits;  // path -> the partner's page hash
    std::vector<std::string> paths;
  };

  std::optional<Expectation> Expect(const std::string& id) {
    auto serving = publisher_.ServingOf(id);
    if (!serving.ok()) return std::nullopt;
    const sync::Partnership& p = serving->partnership;
    if (p.revoked || p.suspended || p.public_url.empty() || serving->active_version == 0) {
      return std::nullopt;
    }
    Expectation e;
    auto base = ParsePublicBase(p.public_url);
    if (!base.ok()) {
      Problem(id, "probe-failed", guard::AlertSeverity::kWarning,
              "main cannot probe the partner's pages: " + base.status().message() +
                  "; correct it with `tieup main partner set " + id + " --public-url URL`");
      return std::nullopt;
    }
    e.base = std::move(*base);
    KeepOnly(id, serving->active_version, serving->latest_version);
    e.active = Release(id, serving->active_version);
    if (!e.active) return std::nullopt;
    if (serving->latest_version > serving->active_version) {
      e.latest = Release(id, serving->latest_version);
    }
    for (const sync::EmergencyEditState& edit : serving->emergency_edits) {
      e.edits[edit.path] = edit.hash;
    }
    for (const auto& [path, entry] : e.active->files) {
      if (entry.method == content::UpdateMethod::kLink || path.starts_with("/.tieup/")) continue;
      auto edit = e.edits.find(path);
      if (edit != e.edits.end() && edit->second.empty()) continue;  // the partner removed it
      e.paths.push_back(path);
    }
    e.serving = std::move(*serving);
    return e;
  }

  // The bodies that are right for `path`: main's bytes (moved under the partner's prefix for
  // an HTML page there), or the partner's emergency edit.
  guard::ProbePage Page(const Expectation& e, const std::string& path) {
    guard::ProbePage page;
    page.path = path;
    page.url =
        std::string(e.base.https ? "https://" : "http://") +
        (e.base.host.find(':') != std::string::npos ? "[" + e.base.host + "]" : e.base.host) + ":" +
        std::to_string(e.base.port) + Target(e.base.prefix, path);
    if (auto edit = e.edits.find(path); edit != e.edits.end()) {
      page.accepted.push_back(edit->second);
      return page;
    }
    for (const auto& release : {e.active, e.latest}) {
      if (!release) continue;
      const auto& files = release->files;
      auto it = files.find(path);
      if (it == files.end()) continue;
      std::string hash = it->second.hash;
      if (e.base.prefix != "/" && IsHtmlContentType(it->second.content_type)) {
        hash = MovedHash(*release, it->second, e.base.prefix, path).value_or(hash);
      } else if (it->second.vars) {
        hash = MovedHash(*release, it->second, "", path).value_or(hash);
      }
      if (std::find(page.accepted.begin(), page.accepted.end(), hash) == page.accepted.end()) {
        page.accepted.push_back(std::move(hash));
      }
    }
    return page;
  }

  // The SHA-256 of a page of `release` as the partner serves it: made from main's template with
  // the partner's values (content/template_vars.h), and for an HTML page under `prefix` (not
  // "" or "/") with its links moved there (site/page_server.h).
  std::optional<std::string> MovedHash(const content::ReleaseManifest& release,
                                       const content::FileEntry& entry, const std::string& prefix,
                                       const std::string& path) {
    // A template's page differs by partner (and by the partner's values).
    const std::string key =
        entry.hash + prefix + path +
        (entry.vars ? "\n" + release.site + "\n" + std::to_string(release.version) : std::string());
    {
      std::lock_guard<std::mutex> lock(cache_mu_);
      auto it = moved_.find(key);
      if (it != moved_.end()) return it->second;
    }
    auto body = blobs_.Get(entry.hash, entry.length);
    if (!body.ok()) return std::nullopt;
    if (entry.vars) {
      body = content::SubstituteVariables(*body, release.variables);
      if (!body.ok()) return std::nullopt;
    }
    std::string hash;
    if (prefix.empty() || prefix == "/") {
      hash = Sha256Hex(*body);
    } else {
      auto moved = RewriteHtmlLinks(
          *body, CharsetOf(entry.content_type),
          HtmlLinkMap{.prefix = prefix, .path = path, .own_origins = {}, .body_start_html = {}});
      if (!moved.ok()) return std::nullopt;
      hash = Sha256Hex(*moved);
    }
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (moved_.size() > 100'000) moved_.clear();
    moved_[key] = hash;
    return hash;
  }

  void ProbePartner(const std::string& id, size_t count) {
    std::optional<Expectation> e = Expect(id);
    if (!e || e->paths.empty()) return;
    auto progress = record_->Get(id);
    if (!progress.ok()) return;
    HttpClientOptions options;
    options.connect_timeout = std::chrono::seconds(5);
    options.request_timeout = std::chrono::seconds(20);
    options.user_agent = std::string(ledger::kProbeUserAgent);
    if (e->base.https) {
      options.tls = web_tls_;
      options.verify_host_name = true;
    }
    HttpClient client(e->base.host, e->base.port, options);
    std::vector<guard::ProbeResult> results;
    for (const std::string& path : guard::NextProbePaths(e->paths, progress->cursor, count)) {
      if (stopping()) break;
      guard::ProbePage page = Page(*e, path);
      guard::ProbeResult r = guard::JudgeProbe(page, Fetch(client, page, *e));
      if (r.verdict == guard::ProbeVerdict::kMismatch ||
          r.verdict == guard::ProbeVerdict::kWrongStatus) {
        // A second look, with what the partner serves read again: an activation may have come
        // between (the partner reports it after it switched).
        std::optional<Expectation> again = Expect(id);
        if (!again) break;
        if (again->serving.active_version != e->serving.active_version ||
            again->serving.emergency_edits != e->serving.emergency_edits) {
          e = std::move(again);
        }
        page = Page(*e, path);
        r = guard::JudgeProbe(page, Fetch(client, page, *e));
      }
      results.push_back(r);
      if (r.verdict == guard::ProbeVerdict::kUnreachable) break;  // the rest would fail alike
    }
    if (results.empty()) return;
    auto recorded = record_->RecordRound(id, results, e->paths.size());
    if (!recorded.ok()) {
      logger_->warn("page probes of '{}': recording the round: {}", id,
                    recorded.status().message());
    }
    for (const guard::ProbeResult& r : results) {
      switch (r.verdict) {
        case guard::ProbeVerdict::kMatch:
          break;
        case guard::ProbeVerdict::kMismatch:
          Problem(id, "probe-mismatch", guard::AlertSeverity::kCritical,
                  r.detail + "; `tieup main partner suspend DIR " + id +
                      "` withdraws main's pages from it");
          break;
        case guard::ProbeVerdict::kWrongStatus:
          Problem(id, "probe-failed", guard::AlertSeverity::kWarning, r.detail);
          break;
        case guard::ProbeVerdict::kUnreachable:
          Problem(id, "probe-unreachable", guard::AlertSeverity::kWarning,
                  r.detail + " (the partner's public URL is " + e->serving.partnership.public_url +
                      ")");
          break;
      }
    }
  }

  Result<guard::ProbeResponse> Fetch(HttpClient& client, const guard::ProbePage& page,
                                     const Expectation& e) {
    HttpRequest request("GET", Target(e.base.prefix, page.path));
    request.AddHeader("Accept", "text/html,application/xhtml+xml,*/*;q=0.8");
    // Main's bytes, and a page moved under a prefix can grow: room for it, not for any size.
    uint64_t largest = 0;
    for (const auto& release : {e.active, e.latest}) {
      if (!release) continue;
      const auto& files = release->files;
      if (auto it = files.find(page.path); it != files.end()) {
        largest = std::max(largest, it->second.length);
      }
    }
    ASSIGN_OR_RETURN(HttpResponse response,
                     client.Fetch(request, std::max<uint64_t>(largest * 2, 64 << 10)));
    guard::ProbeResponse out;
    out.status = response.status();
    out.body = std::string(response.body());
    if (auto enc = response.FindHeader("Content-Encoding")) out.content_encoding = *enc;
    return out;
  }

  void Problem(const std::string& id, std::string kind, guard::AlertSeverity severity,
               std::string message) {
    guard::SecurityEvent event;
    event.kind = std::move(kind);
    event.severity = severity;
    event.message = message.substr(0, 1900);
    event.at = env_.NowSeconds();
    auto alert = alerts_->Record(id, event);
    if (!alert.ok()) {
      logger_->error("recording a probe alert for '{}': {}", id, alert.status().message());
      return;
    }
    logger_->warn("page probes of '{}': {}: {}", id, event.kind, event.message);
  }

  struct Budget {
    int64_t last_micros = 0;
    double credit = 0;
  };

  Env& env_;
  Database& db_;
  sync::Publisher& publisher_;
  content::BlobStore& blobs_;
  std::shared_ptr<Logger> logger_;
  std::unique_ptr<guard::ProbeRecord> record_;
  std::unique_ptr<guard::AlertStore> alerts_;
  const int64_t pages_per_hour_;
  const std::chrono::seconds interval_;
  const std::shared_ptr<boost::asio::ssl::context> web_tls_;
  std::map<std::string, Budget> budgets_;  // the loop's thread only
  std::mutex cache_mu_;
  std::map<std::pair<std::string, uint64_t>, std::shared_ptr<const content::ReleaseManifest>>
      releases_;                                           // guarded by cache_mu_
  std::map<std::string, std::string> moved_;               // guarded by cache_mu_
  std::set<std::pair<std::string, uint64_t>> unreadable_;  // guarded by cache_mu_: warned once
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

Result<int64_t> NumberSetting(const SiteConfig& config, const std::string& key, int64_t fallback,
                              std::string_view what) {
  std::string v = SiteVariable(config, key);
  if (v.empty()) return fallback;
  auto n = commerce::ParseDigits(v, 9);
  if (!n) {
    return Status::InvalidArgument("site.toml [variables] " + key + " must be " +
                                   std::string(what) + ", not '" + v.substr(0, 20) + "'");
  }
  return *n;
}

}  // namespace

Status AttachPageProbes(MainDaemon& daemon) {
  const SiteConfig& config = daemon.site().config();
  ASSIGN_OR_RETURN(int64_t pages_per_hour,
                   NumberSetting(config, "security.probe_pages_per_hour", kDefaultPagesPerHour,
                                 "a number of pages per partner per hour (0: no probes)"));
  int64_t interval = kDefaultIntervalSeconds;
  if (std::string v = SiteVariable(config, "security.probe_interval"); !v.empty()) {
    auto d = sync::ParseDuration(v);
    if (!d.ok()) return d.status().Annotate("site.toml [variables] security.probe_interval");
    interval = *d;
  }
  std::string ca_file = SiteVariable(config, "security.probe_ca_file");
  if (!ca_file.empty() && ca_file.front() != '/') {
    ca_file = daemon.site().site_dir() + "/" + ca_file;
  }
  auto web_tls = MakeWebClientContext(ca_file);
  if (!web_tls.ok())
    return web_tls.status().Annotate("site.toml [variables] security.probe_ca_file");
  ASSIGN_OR_RETURN(std::unique_ptr<guard::ProbeRecord> record,
                   guard::ProbeRecord::Open(daemon.env(), daemon.db()));
  ASSIGN_OR_RETURN(std::unique_ptr<guard::AlertStore> alerts,
                   guard::AlertStore::Open(daemon.env(), daemon.db()));
  if (pages_per_hour == 0) return Status::Ok();
  auto probes = std::make_shared<PageProbes>(daemon, std::move(record), std::move(alerts),
                                             pages_per_hour, interval, std::move(*web_tls));
  daemon.AddServer([probes] { return probes->Start(); }, [probes] { probes->Stop(); });
  return Status::Ok();
}

}  // namespace tieup
