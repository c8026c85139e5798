#include "site/site_metrics.h"

#include <prometheus/text_serializer.h>

#include <exception>

#include "guard/alerts.h"

namespace tieup {

SiteMetrics::SiteMetrics(std::string site_id, std::string role)
    : site_labels_{{"site", std::move(site_id)}, {"role", std::move(role)}},
      registry_(std::make_shared<prometheus::Registry>()) {
  requests_ = &prometheus::BuildCounter()
                   .Name("tieup_http_requests_total")
                   .Help("Responses by port, area and status code")
                   .Labels(site_labels_)
                   .Register(*registry_);
  durations_ = &prometheus::BuildHistogram()
                    .Name("tieup_http_request_duration_seconds")
                    .Help(
                        "Time from a request's complete header to its response written, by "
                        "port and area")
                    .Labels(site_labels_)
                    .Register(*registry_);
}

SiteMetrics::~SiteMetrics() = default;

prometheus::Family<prometheus::Counter>& SiteMetrics::AddCounterFamily(const std::string& name,
                                                                       const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Labels(site_labels_).Register(*registry_);
}

prometheus::Family<prometheus::Gauge>& SiteMetrics::AddGaugeFamily(const std::string& name,
                                                                   const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Labels(site_labels_).Register(*registry_);
}

void SiteMetrics::ObserveRequest(std::string_view port, const AccessEvent& event) {
  const std::string_view area = event.area.empty() ? std::string_view("other") : event.area;
  std::string key;
  key.reserve(port.size() + area.size() + 5);
  key.append(port).append(" ").append(area).append(" ").append(std::to_string(event.status));
  RequestSeries series;
  {
    std::shared_lock<std::shared_mutex> lock(series_mu_);
    if (auto it = series_.find(key); it != series_.end()) series = it->second;
  }
  if (series.count == nullptr) {
    std::unique_lock<std::shared_mutex> lock(series_mu_);
    RequestSeries& s = series_[key];
    if (s.count == nullptr) {
      const std::string p(port), a(area);
      s.count = &requests_->Add({{"port", p}, {"area", a}, {"code", std::to_string(event.status)}});
      // Seconds: 1 ms to 10 s.
      static const prometheus::Histogram::BucketBoundaries kBuckets = {
          0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
      s.duration = &durations_->Add({{"port", p}, {"area", a}}, kBuckets);
    }
    series = s;
  }
  series.count->Increment();
  series.duration->Observe(static_cast<double>(event.duration_micros) / 1e6);
}

void SiteMetrics::AddRefresh(std::function<void()> refresh) {
  std::lock_guard<std::mutex> lock(scrape_mu_);
  refreshes_.push_back(std::move(refresh));
}

void SiteMetrics::AddReadinessCheck(std::string name, std::function<Status()> check) {
  std::lock_guard<std::mutex> lock(scrape_mu_);
  checks_.emplace_back(std::move(name), std::move(check));
}

void SiteMetrics::Beat(int64_t now_micros) { last_beat_.store(now_micros); }

std::string SiteMetrics::Scrape() {
  std::lock_guard<std::mutex> lock(scrape_mu_);
  for (const auto& refresh : refreshes_) {
    try {
      refresh();
    } catch (const std::exception&) {
      // A store that cannot be read now: its gauges keep their last values.
    }
  }
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

std::vector<SiteMetrics::Check> SiteMetrics::Readiness() {
  std::lock_guard<std::mutex> lock(scrape_mu_);
  std::vector<Check> out;
  for (const auto& [name, check] : checks_) {
    Status s;
    try {
      s = check();
    } catch (const std::exception& e) {
      s = Status::Internal(e.what());
    }
    out.push_back(Check{name, std::move(s)});
  }
  return out;
}

Status SiteMetrics::Liveness(int64_t now_micros, int64_t max_silence_micros) const {
  const int64_t last = last_beat_.load();
  if (last == 0 || now_micros - last <= max_silence_micros) return Status::Ok();
  return Status::Unavailable("the daemon's background loop last ran " +
                             std::to_string((now_micros - last) / 1'000'000) +
                             " s ago: it is stuck (a publish, delivery or ledger task that does "
                             "not return); restart the daemon and report its log");
}

Status AddSiteOpsBasics(SiteMetrics& metrics, Env& env, Database& db, const ledger::Log& ledger,
                        std::function<Result<size_t>()> mail_pending) {
  ASSIGN_OR_RETURN(std::shared_ptr<guard::AlertStore> alerts, guard::AlertStore::Open(env, db));
  metrics.AddReadinessCheck("database", [&db]() -> Status {
    auto rows = db.Query("SELECT 1", {});
    return rows.ok() ? Status::Ok() : rows.status().Annotate("the site's database");
  });
  prometheus::Gauge* entries =
      &metrics.AddGaugeFamily("tieup_ledger_entries", "Entries in this site's access ledger")
           .Add({});
  prometheus::Gauge* mail =
      &metrics
           .AddGaugeFamily("tieup_outbox_depth",
                           "Messages waiting to be delivered, by outbox (mail: to the relay)")
           .Add({{"outbox", "mail"}});
  metrics.AddRefresh([&ledger, entries, mail, mail_pending = std::move(mail_pending)] {
    entries->Set(static_cast<double>(ledger.size()));
    if (auto n = mail_pending(); n.ok()) mail->Set(static_cast<double>(*n));
  });
  auto& family = metrics.AddCounterFamily("tieup_alert_occurrences_total",
                                          "Security alert occurrences recorded, by severity");
  // Counters are only ever incremented: each scrape adds what the store counted since.
  std::array<prometheus::Counter*, 3> by_severity = {&family.Add({{"severity", "info"}}),
                                                     &family.Add({{"severity", "warning"}}),
                                                     &family.Add({{"severity", "critical"}})};
  metrics.AddRefresh([by_severity, alerts] {
    auto counts = alerts->CountOccurrences();
    if (!counts.ok()) return;
    for (size_t i = 0; i < by_severity.size(); ++i) {
      const double have = by_severity[i]->Value();
      if (static_cast<double>((*counts)[i]) > have) {
        by_severity[i]->Increment(static_cast<double>((*counts)[i]) - have);
      }
    }
  });
  return Status::Ok();
}

}  // namespace tieup
