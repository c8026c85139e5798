// SiteMetrics and the operations port (site/site_metrics.h, site/ops_server.h): real HTTP on
// loopback, the Prometheus text as prometheus-cpp writes it.
#include "site/ops_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "base/log.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "site/site_metrics.h"
#include "test_support.h"

namespace tieup {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::tieup::testing::FakeClockEnv;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;

AccessEvent Event(std::string_view area, int status, int64_t micros) {
  AccessEvent e;
  e.area = area;
  e.status = status;
  e.duration_micros = micros;
  return e;
}

TEST(SiteMetricsTest, RequestsAreCountedByPortAreaAndCodeWithTheSiteLabels) {
  SiteMetrics m("shop-a", "partner");
  m.ObserveRequest("public", Event("tieup", 200, 2'000));
  m.ObserveRequest("public", Event("tieup", 200, 40'000));
  m.ObserveRequest("public", Event("", 404, 1'000));
  const std::string text = m.Scrape();
  EXPECT_THAT(text, HasSubstr("# TYPE tieup_http_requests_total counter"));
  EXPECT_THAT(text,
              HasSubstr("tieup_http_requests_total{role=\"partner\",site=\"shop-a\",area=\"tieup\","
                        "code=\"200\",port=\"public\"} 2"));
  EXPECT_THAT(text,
              HasSubstr("tieup_http_requests_total{role=\"partner\",site=\"shop-a\",area=\"other\","
                        "code=\"404\",port=\"public\"} 1"));
  // The durations: 2 ms and 40 ms, one each side of 25 ms.
  EXPECT_THAT(
      text, HasSubstr("tieup_http_request_duration_seconds_bucket{role=\"partner\",site=\"shop-a\","
                      "area=\"tieup\",port=\"public\",le=\"0.025\"} 1"));
  EXPECT_THAT(
      text, HasSubstr("tieup_http_request_duration_seconds_count{role=\"partner\",site=\"shop-a\","
                      "area=\"tieup\",port=\"public\"} 2"));
}

TEST(SiteMetricsTest, RefreshesRunBeforeEachScrapeAndAFailingOneKeepsItsValue) {
  SiteMetrics m("main", "main");
  prometheus::Gauge* g = &m.AddGaugeFamily("tieup_test_gauge", "test").Add({{"k", "v"}});
  int calls = 0;
  m.AddRefresh([&] {
    ++calls;
    if (calls == 2) throw std::runtime_error("store unreadable");
    g->Set(calls * 10);
  });
  EXPECT_THAT(m.Scrape(), HasSubstr("tieup_test_gauge{role=\"main\",site=\"main\",k=\"v\"} 10"));
  EXPECT_THAT(m.Scrape(), HasSubstr("tieup_test_gauge{role=\"main\",site=\"main\",k=\"v\"} 10"));
  EXPECT_THAT(m.Scrape(), HasSubstr("tieup_test_gauge{role=\"main\",site=\"main\",k=\"v\"} 30"));
}

TEST(SiteMetricsTest, LivenessFollowsTheBeat) {
  SiteMetrics m("main", "main");
  EXPECT_THAT(m.Liveness(5'000'000, 1'000'000), IsOk());  // starting: no beat yet
  m.Beat(10'000'000);
  EXPECT_THAT(m.Liveness(10'500'000, 1'000'000), IsOk());
  EXPECT_THAT(m.Liveness(13'000'000, 1'000'000),
              StatusIs(StatusCode::kUnavailable, HasSubstr("last ran 3 s ago: it is stuck")));
}

class OpsServerTest : public ::testing::Test {
 protected:
  void Start() {
    OpsServerOptions o;
    o.address = {"127.0.0.1", 0};
    o.max_silence_micros = 60'000'000;
    auto s = OpsServer::Start(env_, metrics_, o, NewNullLogger());
    ASSERT_THAT(s.status(), IsOk());
    server_ = std::move(*s);
  }
  HttpResponse Get(std::string_view path, std::string_view method = "GET") {
    auto r = HttpFetch("127.0.0.1", server_->port(), HttpRequest(method, path));
    EXPECT_THAT(r.status(), IsOk());
    return r.ok() ? std::move(*r) : HttpResponse(0);
  }

  FakeClockEnv env_;
  SiteMetrics metrics_{"shop-a", "partner"};
  std::unique_ptr<OpsServer> server_;
};

TEST_F(OpsServerTest, ServesMetricsHealthAndReadiness) {
  std::atomic<bool> db_ok{false};
  metrics_.AddReadinessCheck("database", [&]() -> Status {
    return db_ok ? Status::Ok() : Status::Unavailable("the site's database is locked");
  });
  metrics_.AddReadinessCheck("public-port", [] { return Status::Ok(); });
  metrics_.ObserveRequest("public", Event("original", 200, 1000));
  Start();

  HttpResponse m = Get("/metrics");
  EXPECT_EQ(m.status(), 200);
  EXPECT_THAT(std::string(m.FindHeader("Content-Type").value_or("")),
              HasSubstr("text/plain; version=0.0.4"));
  EXPECT_EQ(m.FindHeader("Cache-Control").value_or(""), "no-store");
  EXPECT_THAT(std::string(m.body()), HasSubstr("site=\"shop-a\",area=\"original\",code=\"200\""));

  // Not ready: each check on its line, the failing one saying why.
  HttpResponse ready = Get("/readyz");
  EXPECT_EQ(ready.status(), 503);
  EXPECT_EQ(ready.body(), "not ready database: the site's database is locked\nok public-port\n");
  db_ok = true;
  ready = Get("/readyz");
  EXPECT_EQ(ready.status(), 200);
  EXPECT_EQ(ready.body(), "ready\nok database\nok public-port\n");

  // Alive while the loop beats; a loop silent past the limit is reported stuck.
  metrics_.Beat(env_.NowMicros());
  EXPECT_EQ(Get("/healthz").status(), 200);
  EXPECT_EQ(Get("/healthz").body(), "ok\n");
  env_.AdvanceSeconds(61);
  HttpResponse stuck = Get("/healthz");
  EXPECT_EQ(stuck.status(), 503);
  EXPECT_THAT(std::string(stuck.body()), HasSubstr("it is stuck"));

  // Nothing else is served, and nothing but GET and HEAD.
  HttpResponse other = Get("/admin");
  EXPECT_EQ(other.status(), 404);
  EXPECT_THAT(std::string(other.body()), HasSubstr("/metrics, /healthz and /readyz"));
  EXPECT_EQ(Get("/metrics", "POST").status(), 405);
  EXPECT_EQ(Get("/metrics", "HEAD").status(), 200);
}

TEST_F(OpsServerTest, RefusesANonLoopbackAddressAndATakenPort) {
  OpsServerOptions o;
  o.address = {"0.0.0.0", 0};
  EXPECT_THAT(OpsServer::Start(env_, metrics_, o, NewNullLogger()).status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("loopback")));
  Start();
  o.address = {"127.0.0.1", server_->port()};
  EXPECT_THAT(OpsServer::Start(env_, metrics_, o, NewNullLogger()).status(),
              StatusIs(StatusCode::kUnavailable, HasSubstr("[ops] listen")));
  // The first one still serves.
  EXPECT_EQ(Get("/metrics").status(), 200);
}

}  // namespace
}  // namespace tieup
