// Integration: the operations port of real daemons (site/ops_server.h): what Prometheus and a
// load balancer read from main and a partner after a publish, real traffic and a request the
// WAF refuses.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "daemon_harness.h"
#include "sync_harness.h"
#include "test_support.h"

namespace tieup::testing {
namespace {

using ::testing::HasSubstr;

// The operations port a daemon announced in its log ("operations port: http://127.0.0.1:N/...").
int OpsPortOf(SiteProcess& site) {
  std::smatch m;
  const std::string out = site.output();
  if (!std::regex_search(out, m, std::regex(R"(operations port: http://127\.0\.0\.1:(\d+)/)"))) {
    return 0;
  }
  return std::stoi(m[1].str());
}

class OpsPortTest : public MainSiteTest {};

TEST_F(OpsPortTest, MainAndPartnerReportTheirWorkHealthAndReadiness) {
  StartMain();
  const std::string shop = dir_.Sub("shop-a");
  CommandResult init =
      EnrollNewPartner(main_dir_, main_sync_port_, shop, "shop-a", "Shop A", FreePort());
  ASSERT_EQ(init.exit_code, 0) << init.output;
  // The partner logs JSON lines ([log] format, as `partner init` wrote it, changed).
  std::string toml = *env_->ReadFile(shop + "/site.toml");
  const size_t text = toml.find("format = \"text\"");
  ASSERT_NE(text, std::string::npos) << toml;
  toml.replace(text, 15, "format = \"json\"");
  ASSERT_TRUE(WriteFileAtomic(*env_, shop + "/site.toml", toml).ok());
  SiteProcess partner({"partner", "serve", shop});
  ASSERT_TRUE(partner.Start()) << partner.output();
  EXPECT_THAT(partner.output(), HasRegex(R"(\{"time":"[0-9T:.-]+Z","level":"info","site":"shop-a",)"
                                         R"("message":"operations port: http://127\.0\.0\.1:)"));
  CommandResult pub = RunTieup({"main", "publish", main_dir_, "--all"});
  ASSERT_EQ(pub.exit_code, 0) << pub.output;

  const int main_ops = OpsPortOf(*main_);
  const int partner_ops = OpsPortOf(partner);
  ASSERT_NE(main_ops, 0) << main_->output();
  ASSERT_NE(partner_ops, 0) << partner.output();

  // Main: the run through the control socket, its partner's outcome, the partners by state.
  std::string metrics = HttpGet(main_ops, "/metrics");
  EXPECT_EQ(StatusOf(metrics), 200) << metrics;
  EXPECT_THAT(
      metrics,
      HasSubstr("tieup_publish_runs_total{role=\"main\",site=\"main\",trigger=\"manager\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("tieup_publish_partner_outcomes_total{role=\"main\",site=\"main\","
                                 "state=\"activated\"} 1"));
  EXPECT_THAT(metrics,
              HasSubstr("tieup_partners{role=\"main\",site=\"main\",state=\"up-to-date\"} 1"));
  EXPECT_THAT(metrics,
              HasSubstr("tieup_outbox_depth{role=\"main\",site=\"main\",outbox=\"mail\"}"));
  EXPECT_THAT(metrics, HasSubstr("tieup_ledger_entries{role=\"main\",site=\"main\"}"));
  EXPECT_THAT(metrics, HasSubstr("tieup_alert_occurrences_total{role=\"main\",site=\"main\","
                                 "severity=\"critical\"}"));
  std::string ready = HttpGet(main_ops, "/readyz");
  EXPECT_EQ(StatusOf(ready), 200) << ready;
  EXPECT_THAT(BodyOf(ready), HasSubstr("ok database\n"));
  EXPECT_THAT(BodyOf(ready), HasSubstr("ok public-port\n"));
  // Alive once the scheduler has ticked (every 2 s): the state is waited for, not a time.
  EXPECT_TRUE(WaitFor([&] { return StatusOf(HttpGet(main_ops, "/healthz")) == 200; }));

  // The partner: pages served by area, the tie-up version, a request the WAF refused.
  ASSERT_TRUE(WaitFor([&] { return StatusOf(HttpGet(partner.port(), "/")) == 200; }));
  EXPECT_EQ(StatusOf(HttpGet(partner.port(), "/?q=%3Cscript%3Ealert(1)%3C/script%3E")), 403);
  metrics = HttpGet(partner_ops, "/metrics");
  EXPECT_EQ(StatusOf(metrics), 200) << metrics;
  EXPECT_THAT(metrics, HasSubstr("tieup_tieup_version{role=\"partner\",site=\"shop-a\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("tieup_tieup_quarantined{role=\"partner\",site=\"shop-a\"} 0"));
  EXPECT_THAT(metrics, HasRegex(R"(tieup_http_requests_total\{role="partner",site="shop-a",)"
                                R"(area="tieup",code="200",port="public"\} [1-9])"));
  EXPECT_THAT(metrics, HasSubstr("tieup_waf_blocked_total{role=\"partner\",site=\"shop-a\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("tieup_outbox_depth{role=\"partner\",site=\"shop-a\","
                                 "outbox=\"delegated-orders\"} 0"));
  EXPECT_THAT(BodyOf(HttpGet(partner_ops, "/readyz")), HasSubstr("ready\n"));
  // Only loopback listens: the port is not the public one.
  EXPECT_NE(partner_ops, partner.port());
}

}  // namespace
}  // namespace tieup::testing
