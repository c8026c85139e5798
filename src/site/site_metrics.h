// A daemon's metrics, liveness and readiness (issue 18, item 7), served by the operations port
// (site/ops_server.h). The registry is prometheus-cpp's (Debian's prometheus-cpp-dev); the text
// exposition is its TextSerializer. One SiteMetrics per daemon, owned by its PublicSite and
// passed to whatever records: the public port observes every response; a daemon's services add
// gauges that are brought up to date before each scrape (AddRefresh: counts read from the
// stores, so nothing has to be kept in step by hand) and readiness checks.
//
// Every metric carries the labels site (the site id) and role ("main" or "partner").
//   tieup_http_requests_total{port,area,code}          counter
//   tieup_http_request_duration_seconds{port,area}     histogram (header complete -> written)
// The daemons add the rest (main_site/ops_metrics.h, partner_site/ops_metrics.h).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "ledger/log.h"
#include "net/http_server.h"
#include "store/database.h"

namespace tieup {

class SiteMetrics {
 public:
  // `role`: "main" or "partner".
  SiteMetrics(std::string site_id, std::string role);
  ~SiteMetrics();
  SiteMetrics(const SiteMetrics&) = delete;
  SiteMetrics& operator=(const SiteMetrics&) = delete;

  prometheus::Registry& registry() { return *registry_; }
  // {site, role}: to merge into the labels of every metric a service adds.
  const prometheus::Labels& site_labels() const { return site_labels_; }
  // A family of the registry with the site labels as its constant labels.
  prometheus::Family<prometheus::Counter>& AddCounterFamily(const std::string& name,
                                                            const std::string& help);
  prometheus::Family<prometheus::Gauge>& AddGaugeFamily(const std::string& name,
                                                        const std::string& help);

  // Counts one response of `port` ("public", "sync") and observes its duration, by the area
  // that answered (HttpResponse::area; "" counts as "other"). Thread-safe, cheap: the access
  // hook of every request.
  void ObserveRequest(std::string_view port, const AccessEvent& event);

  // `refresh` brings gauges up to date; run before each scrape, on the scraping thread, one
  // scrape at a time. Add before the operations port starts.
  void AddRefresh(std::function<void()> refresh);
  // A readiness check: OK when that part of the daemon is ready; otherwise its message says what
  // is not. Add before the operations port starts.
  void AddReadinessCheck(std::string name, std::function<Status()> check);

  // The daemon's background loop calls this at each tick: /healthz fails when it stops beating
  // (a stuck loop). `now_micros` from the daemon's Env.
  void Beat(int64_t now_micros);

  // Every metric in the Prometheus text format (version 0.0.4), after the refreshes ran (a
  // refresh that throws leaves its gauges as they were; the scrape still answers).
  std::string Scrape();

  struct Check {
    std::string name;
    Status status;
  };
  // Each readiness check's result, in the order added.
  std::vector<Check> Readiness();
  // OK while the background loop beat within `max_silence_micros` of `now_micros`; before the
  // first beat, OK (the daemon is starting: readiness says whether it serves yet).
  Status Liveness(int64_t now_micros, int64_t max_silence_micros) const;

 private:
  struct RequestSeries {
    prometheus::Counter* count = nullptr;
    prometheus::Histogram* duration = nullptr;
  };

  const prometheus::Labels site_labels_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_ = nullptr;
  prometheus::Family<prometheus::Histogram>* durations_ = nullptr;
  // "port area code" -> its series; found under a shared lock, added under the unique one.
  std::shared_mutex series_mu_;
  std::unordered_map<std::string, RequestSeries> series_;
  std::mutex scrape_mu_;  // one scrape at a time; guards the hooks below once serving
  std::vector<std::function<void()>> refreshes_;
  std::vector<std::pair<std::string, std::function<Status()>>> checks_;
  std::atomic<int64_t> last_beat_{0};
};

// What every daemon reports besides its requests: readiness "database" (a query answers),
// tieup_ledger_entries (the access ledger's size), tieup_outbox_depth{outbox="mail"} (mail
// waiting for the relay: `mail_pending` counts it) and tieup_alert_occurrences_total{severity}
// (the site's security alerts, guard/alerts.h, in `db`). `env`, `db` and `ledger` must outlive
// `metrics`' operations port.
Status AddSiteOpsBasics(SiteMetrics& metrics, Env& env, Database& db, const ledger::Log& ledger,
                        std::function<Result<size_t>()> mail_pending);

}  // namespace tieup
