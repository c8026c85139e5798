// The WAF in front of a public port (site/waf_gate.h), with the real OWASP Core Rule Set, through
// a real PageServer over loopback HTTP from a real content store: ordinary pages pass and leave
// no record; an attack in the query or a form body is refused with a 403 page in the site's
// layout whose reference is the one recorded (without the query); "detect" serves and records;
// "off" leaves everything alone; excluded rules no longer block; and on a partner, main's
// settings signed in the tie-up release replace site.toml's, follow its activations, and a bad
// file from main leaves the partner's own settings in force.
#include "site/waf_gate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>

#include "base/log.h"
#include "content/page_templates.h"
#include "net/http_client.h"
#include "site/config.h"
#include "site/page_server.h"
#include "site/site_content.h"
#include "test_support.h"

namespace tieup {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;
using ::tieup::testing::IsOk;
using ::tieup::testing::TempDir;

constexpr char kShell[] =
    "<!doctype html><title>\x01tieup:title\x01 - Tea Brand</title><header>Tea Brand</header>"
    "<main>\x01tieup:content\x01</main>";

class WafGateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_THAT(CreateDirs(*env_, dir_.Sub("logs")), IsOk());
    SiteContentOptions o;
    o.site_id = "shop-a";
    auto content = SiteContent::Open(*env_, dir_.path(), o);
    ASSERT_THAT(content, IsOk());
    content_ = std::move(*content);
    config_.role = SiteRole::kPartner;
    config_.id = "shop-a";
    config_.name = "Shop A";
    config_.public_address = {"127.0.0.1", 0};
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  // Activates tie-up release `version`: a page, the brand's shell and, when given, main's WAF
  // settings.
  void Release(uint64_t version, const std::string& waf_json = "") {
    ASSERT_THAT(content_->Mutate([&](content::ContentStore& store) -> Status {
      content::ReleaseManifest m;
      m.site = "shop-a";
      m.area = content::Area::kTieup;
      m.version = version;
      m.created = 1790000000;
      auto add = [&](std::string_view path, const std::string& body,
                     const std::string& type) -> Status {
        ASSIGN_OR_RETURN(std::string hash, store.blobs().Put(body));
        content::FileEntry e;
        e.hash = hash;
        e.length = body.size();
        e.content_type = type;
        m.files[std::string(path)] = e;
        return Status::Ok();
      };
      RETURN_IF_ERROR(add("/search", "<p>results</p>", "text/html; charset=utf-8"));
      RETURN_IF_ERROR(add(content::kPageShellPath, kShell, "text/plain; charset=utf-8"));
      if (!waf_json.empty()) {
        RETURN_IF_ERROR(add(sync::kWafTermsPath, waf_json, "application/json"));
      }
      RETURN_IF_ERROR(store.Stage(m));
      return store.Activate(content::Area::kTieup, version);
    }),
                IsOk());
    ASSERT_THAT(content_->RefreshIfChanged(), IsOk());
    // What the page server's reload loop does after each round (here at once, not in 20 ms).
    if (gate_) gate_->Follow();
  }

  void Start(WafGateOptions options = {}, std::shared_ptr<Logger> logger = NewNullLogger()) {
    auto gate = WafGate::Create(*env_, dir_.path(), config_, *content_, logger, std::move(options));
    ASSERT_THAT(gate, IsOk());
    gate_ = *gate;
    server_ = std::make_unique<PageServer>(*env_, config_, *content_, nullptr, NewNullLogger());
    ASSERT_THAT(server_->SetWaf(gate_), IsOk());
    ASSERT_THAT(server_->Start(), IsOk());
  }

  HttpResponse Send(HttpRequest request) {
    request.AddHeader("Host", "shop-a.example");
    request.AddHeader("User-Agent", "Mozilla/5.0 (X11; Linux x86_64)");
    request.AddHeader("Accept", "text/html");
    HttpClient client("127.0.0.1", server_->port());
    auto r = client.Fetch(request);
    EXPECT_THAT(r, IsOk());
    return r.ok() ? std::move(*r) : HttpResponse(0);
  }
  HttpResponse Get(const std::string& target) { return Send(HttpRequest("GET", target)); }

  std::vector<guard::WafEvent> Events() {
    auto events = guard::ReadWafEvents(*env_, dir_.Sub("logs/waf.jsonl"), 100);
    return events.ok() ? std::move(*events) : std::vector<guard::WafEvent>{};
  }

  std::unique_ptr<Env> env_ = NewPosixEnv();
  TempDir dir_;
  SiteConfig config_;
  std::unique_ptr<SiteContent> content_;
  std::shared_ptr<WafGate> gate_;
  std::unique_ptr<PageServer> server_;
};

constexpr char kSqlInjection[] = "/search?q=1%27%20OR%20%271%27%3D%271%27%20UNION%20SELECT%20*";

TEST_F(WafGateTest, OrdinaryPagesPassAndAttacksGetAPageInTheLayoutWithTheirReference) {
  Release(1);
  Start();
  EXPECT_EQ(gate_->terms_source(), "site.toml");
  HttpResponse ok = Get("/search?q=green+tea");
  EXPECT_EQ(ok.status(), 200);
  EXPECT_EQ(ok.body(), "<p>results</p>");
  EXPECT_TRUE(Events().empty());

  HttpResponse refused = Get(kSqlInjection);
  EXPECT_EQ(refused.status(), 403);
  const std::string body(refused.body());
  EXPECT_THAT(body, HasSubstr("<header>Tea Brand</header>"));  // the brand's layout
  EXPECT_THAT(body, HasSubstr("This request was refused"));
  EXPECT_THAT(body, HasSubstr("Shop A"));
  EXPECT_EQ(refused.FindHeader("Cache-Control").value_or(""), "no-store");
  EXPECT_EQ(refused.FindHeader("X-Content-Type-Options").value_or(""), "nosniff");
  // A link followed from the page must not carry the attack on in its Referer.
  EXPECT_EQ(refused.FindHeader("Referrer-Policy").value_or(""), "no-referrer");
  std::vector<guard::WafEvent> events = Events();
  ASSERT_EQ(events.size(), 1u);
  const guard::WafEvent& e = events[0];
  EXPECT_EQ(e.outcome, guard::WafOutcome::kBlocked);
  EXPECT_EQ(e.reference.size(), 16u);
  EXPECT_THAT(body, HasSubstr("<code>" + e.reference + "</code>"));
  EXPECT_THAT(e.rule_ids, Contains(949110));
  EXPECT_GE(e.anomaly_score, 5);
  EXPECT_EQ(e.client_address, "127.0.0.1");
  EXPECT_EQ(e.method, "GET");
  EXPECT_EQ(e.path, "/search");
  // What the client typed is not kept.
  EXPECT_THAT(*env_->ReadFile(dir_.Sub("logs/waf.jsonl")), Not(HasSubstr("UNION")));

  // In a form body too.
  HttpRequest post("POST", "/search");
  post.AddHeader("Content-Type", "application/x-www-form-urlencoded");
  post.SetBody("comment=%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E");
  EXPECT_EQ(Send(std::move(post)).status(), 403);
  EXPECT_EQ(gate_->events().Summary().blocked, 2u);
  // The port keeps serving.
  EXPECT_EQ(Get("/search?q=sencha").status(), 200);
}

// A WAF that cannot inspect a request (a fault no request produces: reached through the test
// seam WafGateOptions::waf_fault) never lets it through silently: closed (the default) answers
// 503 with a reference, open serves it; both record it and log a line saying what was done.
TEST_F(WafGateTest, AWafThatCannotInspectFailsClosedOrOpenAsTheSiteSays) {
  Release(1);
  WafGateOptions faulty;
  faulty.waf_fault = [](const HttpRequest& r) {
    return r.HeaderOr("X-Break-Waf").empty()
               ? Status::Ok()
               : Status::Internal("the rule engine ran out of memory");
  };
  LogOptions lo;
  lo.file = dir_.Sub("logs/daemon.log");
  lo.also_stderr = false;
  auto logger = NewLogger("shop-a", lo);
  Start(faulty, logger);
  EXPECT_EQ(gate_->terms().on_failure, "closed");
  HttpRequest broken("GET", "/search?q=sencha");
  broken.AddHeader("X-Break-Waf", "1");
  HttpResponse closed = Send(std::move(broken));
  EXPECT_EQ(closed.status(), 503);
  EXPECT_EQ(closed.FindHeader("Retry-After").value_or(""), "10");
  EXPECT_THAT(std::string(closed.body()), HasSubstr("<header>Tea Brand</header>"));
  EXPECT_THAT(std::string(closed.body()), Not(HasSubstr("results")));
  std::vector<guard::WafEvent> events = Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].outcome, guard::WafOutcome::kFailed);
  EXPECT_EQ(events[0].message, "the rule engine ran out of memory");
  EXPECT_THAT(std::string(closed.body()), HasSubstr(events[0].reference));
  EXPECT_EQ(gate_->events().Summary().failed, 1u);
  // The port keeps serving what the WAF can inspect.
  EXPECT_EQ(Get("/search?q=sencha").status(), 200);
  logger->flush();
  EXPECT_THAT(*env_->ReadFile(lo.file),
              HasSubstr("the WAF could not inspect GET /search from 127.0.0.1 (reference " +
                        events[0].reference +
                        "): the rule engine ran out of memory; answered 503 ([waf] on_failure = "
                        "\"closed\")"));

  // A site that says "open" is served, still recorded and logged.
  server_->Stop();
  server_.reset();
  config_.waf_on_failure = "open";
  Start(faulty, logger);
  HttpRequest again("GET", "/search?q=sencha");
  again.AddHeader("X-Break-Waf", "1");
  HttpResponse open = Send(std::move(again));
  EXPECT_EQ(open.status(), 200);
  EXPECT_EQ(open.body(), "<p>results</p>");
  events = Events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].outcome, guard::WafOutcome::kFailed);
  logger->flush();
  EXPECT_THAT(*env_->ReadFile(lo.file), HasSubstr("let through ([waf] on_failure = \"open\")"));
}

TEST_F(WafGateTest, DetectRecordsAndServesOffLeavesAloneExclusionsLetARuleGo) {
  Release(1);
  config_.waf_mode = "detect";
  Start();
  EXPECT_EQ(Get(kSqlInjection).status(), 200);
  std::vector<guard::WafEvent> events = Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].outcome, guard::WafOutcome::kDetected);
  server_->Stop();
  server_.reset();

  config_.waf_mode = "off";
  Start();
  EXPECT_EQ(Get(kSqlInjection).status(), 200);
  EXPECT_EQ(Events().size(), 1u);  // nothing more
  server_->Stop();
  server_.reset();

  // The rules that caught the attack, excluded: it passes (and what else matched is recorded).
  config_.waf_mode = "block";
  for (int id : events[0].rule_ids) {
    if (id != 949110) config_.waf_exclude_rules.push_back(id);
  }
  Start();
  EXPECT_EQ(Get(kSqlInjection).status(), 200);
}

TEST_F(WafGateTest, MainsSignedSettingsReplaceTheSitesOwnAndFollowActivations) {
  sync::WafTerms detect;
  detect.mode = "detect";
  detect.paranoia_level = 2;
  Release(1, sync::EncodeWafTerms(detect));
  Start();
  EXPECT_EQ(gate_->terms_source(), "main's partnership");
  EXPECT_EQ(gate_->terms(), detect);
  EXPECT_EQ(Get(kSqlInjection).status(), 200);  // main says: only record

  // Main's next release no longer has them (the security service was switched off): the
  // partner's own settings block again, as soon as it is active.
  Release(2);
  EXPECT_EQ(gate_->terms_source(), "site.toml");
  EXPECT_EQ(gate_->terms().mode, "block");
  EXPECT_EQ(Get(kSqlInjection).status(), 403);

  // A file main got wrong is not a way in: the partner's own settings stay.
  Release(3, "{\"mode\":\"off\"}");
  Release(4, sync::EncodeWafTerms(detect));
  EXPECT_EQ(gate_->terms_source(), "main's partnership");
  Release(5, "{\"mode\":\"off\"}");
  EXPECT_EQ(gate_->terms_source(), "site.toml");
  EXPECT_EQ(Get(kSqlInjection).status(), 403);
}

TEST_F(WafGateTest, BadSettingsAreRefusedWithWhatToWrite) {
  Release(1);
  config_.waf_paranoia_level = 7;
  auto gate = WafGate::Create(*env_, dir_.path(), config_, *content_, NewNullLogger());
  EXPECT_THAT(gate.status().message(), HasSubstr("paranoia level"));
}

}  // namespace
}  // namespace tieup
