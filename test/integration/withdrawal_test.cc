// Integration (issue 15 item 4): main withdraws a partner's tie-up pages between real `tieup main
// serve` and `tieup partner serve` processes. A revocation or suspension is a withdrawal signed
// with main's release key, pushed at once (or fetched by a pull-mode partner at its next poll,
// even once main refuses its certificate); the partner answers every tie-up path with a notice
// (410 when the partnership ended, 503 with Retry-After while suspended), keeps serving its
// original pages, and tells its manager; a resume reinstates the pages. Expiry past the grace
// period runs the partner's daemon in this process, on a clock the test moves.
#include "sync/withdrawal.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <regex>

#include "base/encoding.h"
#include "base/env.h"
#include "daemon_harness.h"
#include "net/http_client.h"
#include "partner_site/partner_daemon.h"
#include "site/sync_transport.h"
#include "sync/withdrawal_service.h"
#include "sync_harness.h"
#include "test_support.h"
#include "trust/signed_metadata.h"
#include "trust/tls.h"

namespace tieup::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

class WithdrawalTest : public MainSiteTest {
 protected:
  // Adds partnership shop-a, enrolls its site and starts it (pull mode: main has no sync URL for
  // it and it polls every 5 s), publishes, and puts an original page /about.html.
  void StartWithPartner(bool pull = false) {
    StartMain();
    partner_dir_ = dir_.Sub("shop-a");
    CommandResult init = EnrollNewPartner(main_dir_, main_sync_port_, partner_dir_, "shop-a",
                                          "Shop A", FreePort(), {});
    ASSERT_EQ(init.exit_code, 0) << init.output;
    if (pull) {
      CommandResult set =
          RunTieup({"main", "partner", "set", main_dir_, "shop-a", "--sync-url", ""});
      ASSERT_EQ(set.exit_code, 0) << set.output;
      auto toml = env_->ReadFile(partner_dir_ + "/site.toml");
      ASSERT_TRUE(toml.ok());
      std::string text =
          std::regex_replace(*toml, std::regex("poll_seconds = 0"), "poll_seconds = 5");
      ASSERT_NE(text, *toml) << *toml;
      ASSERT_TRUE(WriteFileAtomic(*env_, partner_dir_ + "/site.toml", text).ok());
    }
    partner_ =
        std::make_unique<SiteProcess>(std::vector<std::string>{"partner", "serve", partner_dir_});
    ASSERT_TRUE(partner_->Start()) << partner_->output();
    CommandResult pub = RunTieup({"main", "publish", main_dir_, "--all"});
    ASSERT_EQ(pub.exit_code, 0) << pub.output;
    ASSERT_TRUE(WaitFor([&] { return Front().find("Welcome to Sakura Tea") != std::string::npos; },
                        std::chrono::seconds(30)))
        << Front() << partner_->output();
    ASSERT_TRUE(WriteFileAtomic(*env_, dir_.Sub("about.html"), "<h1>About Shop A</h1>").ok());
    CommandResult put =
        RunTieup({"partner", "page", "put", partner_dir_, "/about.html", dir_.Sub("about.html")});
    ASSERT_EQ(put.exit_code, 0) << put.output;
    ASSERT_TRUE(WaitFor([&] { return StatusOf(Get("/about.html")) == 200; })) << Get("/about.html");
  }

  std::string Get(const std::string& path) { return HttpGet(partner_->port(), path); }
  std::string Front() { return Get("/"); }
  bool FrontAnswers(int status, std::chrono::seconds within = std::chrono::seconds(10)) {
    return WaitFor([&] { return StatusOf(Front()) == status; }, within);
  }
  std::string PartnerStatus() { return RunTieup({"partner", "status", partner_dir_}).output; }

  // GET /v1/withdrawal?partner=`query` on main's sync port without a certificate (trusting
  // main's CA as the enrolled partner's directory has it), as a revoked partner asks.
  Result<HttpResponse> AskAnonymously(const std::string& query) {
    ASSIGN_OR_RETURN(SyncIdentity id, LoadSyncIdentity(*env_, partner_dir_));
    ASSIGN_OR_RETURN(TlsContextPtr anon,
                     MakeAnonymousClientContext(id.ca, PeerCheck::Site("main")));
    HttpClientOptions o;
    o.tls = anon;
    o.expected_peer_site_id = "main";
    HttpRequest req("GET", std::string(sync::kWithdrawalPath) + "?partner=" + query);
    req.AddHeader("Host", "127.0.0.1");
    return HttpFetch("127.0.0.1", static_cast<uint16_t>(main_sync_port_), req, o);
  }

  std::string partner_dir_;
  std::unique_ptr<SiteProcess> partner_;
};

TEST_F(WithdrawalTest, RevokedPushPartnerServesTheEndedNoticeAndItsOwnPages) {
  StartWithPartner();
  CommandResult rev = RunTieup({"main", "partner", "revoke", main_dir_, "shop-a"});
  ASSERT_EQ(rev.exit_code, 0) << rev.output;
  EXPECT_THAT(rev.output,
              HasSubstr("Signed a withdrawal of its tie-up pages (revoked): the partner has it."));

  // Pushed at once: the tie-up pages answer the notice, 410 Gone, in no brand of main's.
  ASSERT_TRUE(FrontAnswers(410)) << Front();
  const std::string notice = Front();
  EXPECT_THAT(BodyOf(notice), AllOf(HasSubstr("The partnership between Shop A and Sakura Tea has "
                                              "ended"),
                                    Not(HasSubstr("Welcome to Sakura Tea"))))
      << notice;
  // Original pages are served as before.
  EXPECT_EQ(StatusOf(Get("/about.html")), 200);
  EXPECT_THAT(BodyOf(Get("/about.html")), HasSubstr("About Shop A"));

  // The manager is told: status, the record, the console's home (checked in the browser test).
  EXPECT_THAT(PartnerStatus(), AllOf(HasSubstr("Tie-up pages: WITHDRAWN"),
                                     HasSubstr("Sakura Tea has ended its partnership with Shop A"),
                                     HasSubstr("HTTP 410")));
  EXPECT_THAT(RunTieup({"partner", "updates", partner_dir_}).output,
              AllOf(HasSubstr("TIE-UP PAGES WITHDRAWN"), HasRegex(R"(withdrawn\s+main withdrew)")));
  // Main records what it signed and that the partner has it.
  const std::string events = RunTieup({"main", "events", main_dir_}).output;
  EXPECT_THAT(events, AllOf(HasRegex(R"(shop-a\s+withdrawn\s+signed withdrawal number 1)"),
                            HasRegex(R"(shop-a\s+withdrawal-delivered)")))
      << events;

  // A restart keeps the withdrawal (it is the partner's record, not a memory).
  ASSERT_TRUE(partner_->Start()) << partner_->output();
  EXPECT_EQ(StatusOf(Front()), 410);
}

TEST_F(WithdrawalTest, SuspendWithdrawsAndResumeBringsThePagesBack) {
  StartWithPartner();
  CommandResult sus = RunTieup({"main", "partner", "suspend", main_dir_, "shop-a"});
  ASSERT_EQ(sus.exit_code, 0) << sus.output;
  EXPECT_THAT(sus.output, HasSubstr("(suspended): the partner has it."));
  ASSERT_TRUE(FrontAnswers(503)) << Front();
  EXPECT_EQ(HeaderOf(Front(), "Retry-After"), "3600");
  EXPECT_THAT(BodyOf(Front()), HasSubstr("is suspended for the time being"));
  EXPECT_EQ(StatusOf(Get("/about.html")), 200);
  EXPECT_THAT(PartnerStatus(), HasSubstr("suspended its partnership"));

  CommandResult res = RunTieup({"main", "partner", "resume", main_dir_, "shop-a"});
  ASSERT_EQ(res.exit_code, 0) << res.output;
  EXPECT_THAT(res.output,
              HasSubstr("Signed a reinstatement of its tie-up pages: the partner has it."));
  ASSERT_TRUE(FrontAnswers(200)) << Front();
  EXPECT_THAT(BodyOf(Front()), HasSubstr("Welcome to Sakura Tea"));
  EXPECT_THAT(PartnerStatus(), HasSubstr("Tie-up pages: served."));
  EXPECT_THAT(RunTieup({"partner", "updates", partner_dir_}).output,
              HasRegex(R"(reinstated\s+main reinstated the tie-up pages \(message number 2\))"));
}

TEST_F(WithdrawalTest, TheExpiryGraceIsSetInThePartnershipAndSignedToThePartner) {
  StartWithPartner();
  EXPECT_THAT(PartnerStatus(), HasSubstr("withdrawn 168 hour(s) after"));
  CommandResult set =
      RunTieup({"main", "partner", "set", main_dir_, "shop-a", "--expiry-grace", "3d"});
  ASSERT_EQ(set.exit_code, 0) << set.output;
  EXPECT_THAT(set.output,
              AllOf(HasSubstr("expiry grace: 7 days -> 3 days"), HasSubstr("the partner has it")));
  EXPECT_THAT(PartnerStatus(),
              AllOf(HasSubstr("withdrawn 72 hour(s) after"), HasSubstr("main's signed terms"),
                    HasSubstr("Tie-up pages: served.")));
  EXPECT_EQ(StatusOf(Front()), 200);
  EXPECT_THAT(RunTieup({"partner", "updates", partner_dir_}).output,
              HasRegex(R"(terms\s+main's terms \(message number 1\))"));
  EXPECT_THAT(RunTieup({"main", "events", main_dir_}).output,
              HasRegex(R"(shop-a\s+changed\s+expiry grace: 7 days -> 3 days)"));
}

// Without a certificate main answers only for a revoked partnership: an active, a suspended, an
// unknown and a malformed id all get the same refusal.
TEST_F(WithdrawalTest, WithoutACertificateOnlyARevokedPartnershipIsAnswered) {
  StartWithPartner();
  auto refusal = AskAnonymously("shop-a");  // active
  ASSERT_THAT(refusal, IsOk());
  EXPECT_EQ(refusal->status(), 404) << refusal->body();
  EXPECT_THAT(refusal->body(),
              AllOf(HasSubstr("no withdrawal for that partner"), Not(HasSubstr("shop-a"))));
  auto expect_the_refusal = [&](const std::string& query) {
    auto r = AskAnonymously(query);
    ASSERT_THAT(r, IsOk()) << query;
    EXPECT_EQ(r->status(), refusal->status()) << query << ": " << r->body();
    EXPECT_EQ(r->body(), refusal->body()) << query;
  };
  expect_the_refusal("nobody");     // unknown
  expect_the_refusal("bad%2Fid!");  // malformed
  expect_the_refusal("");           // malformed (empty)
  CommandResult sus = RunTieup({"main", "partner", "suspend", main_dir_, "shop-a"});
  ASSERT_EQ(sus.exit_code, 0) << sus.output;
  ASSERT_TRUE(FrontAnswers(503)) << Front();
  expect_the_refusal("shop-a");  // suspended: main has a signed withdrawal, but not for anyone

  CommandResult rev = RunTieup({"main", "partner", "revoke", main_dir_, "shop-a"});
  ASSERT_EQ(rev.exit_code, 0) << rev.output;
  auto revoked = AskAnonymously("shop-a");
  ASSERT_THAT(revoked, IsOk());
  ASSERT_EQ(revoked->status(), 200) << revoked->body();
  // Main's signed withdrawal, verified against the root key the partner pinned.
  auto pinned_b64 = env_->ReadFile(partner_dir_ + "/keys/root.pub");
  auto root_json = env_->ReadFile(partner_dir_ + "/keys/root.json");
  ASSERT_THAT(pinned_b64, IsOk());
  ASSERT_THAT(root_json, IsOk());
  std::string b64 = *pinned_b64;
  while (!b64.empty() && (b64.back() == '\n' || b64.back() == '\r')) b64.pop_back();
  auto pinned = Ed25519PublicKey::FromBytes(*Base64Decode(b64));
  ASSERT_THAT(pinned, IsOk());
  auto w =
      sync::VerifyWithdrawal(*pinned, *root_json, revoked->body(), "shop-a", 0, env_->NowSeconds());
  ASSERT_THAT(w, IsOk());
  EXPECT_EQ(w->action, sync::WithdrawalAction::kWithdraw);
  EXPECT_EQ(w->reason, sync::WithdrawalReason::kRevoked);
  expect_the_refusal("nobody");  // still nothing for the others
}

TEST_F(WithdrawalTest, ARevokedPullPartnerLearnsItAtItsNextPoll) {
  StartWithPartner(/*pull=*/true);
  CommandResult rev = RunTieup({"main", "partner", "revoke", main_dir_, "shop-a"});
  ASSERT_EQ(rev.exit_code, 0) << rev.output;
  EXPECT_THAT(rev.output, HasSubstr("the partner gets it at its next poll (pull mode)"));
  // Main refuses its certificate now; it still learns why, and withdraws the pages.
  ASSERT_TRUE(FrontAnswers(410, std::chrono::seconds(30))) << Front() << partner_->output();
  EXPECT_EQ(StatusOf(Get("/about.html")), 200);
  EXPECT_THAT(PartnerStatus(), HasSubstr("Tie-up pages: WITHDRAWN"));
}

// Expiry past the grace period, with the partner's daemon in this process on a clock the test
// moves (main runs as its own process, on the real clock).
TEST_F(WithdrawalTest, AReleasePastItsExpiryAndGraceIsWithdrawnByThePartner) {
  StartMain();
  partner_dir_ = dir_.Sub("shop-a");
  CommandResult init = EnrollNewPartner(main_dir_, main_sync_port_, partner_dir_, "shop-a",
                                        "Shop A", FreePort(), {"--expiry-grace", "1h"});
  ASSERT_EQ(init.exit_code, 0) << init.output;
  FakeClockEnv clock(env_->NowMicros());
  PartnerDaemonOptions options;
  options.tick = std::chrono::milliseconds(100);
  auto daemon = PartnerDaemon::Open(clock, partner_dir_, nullptr, options);
  ASSERT_THAT(daemon, IsOk());
  ASSERT_THAT((*daemon)->Start(), IsOk());
  const int port = (*daemon)->public_port();
  CommandResult pub = RunTieup({"main", "publish", main_dir_, "--all"});
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  ASSERT_TRUE(WaitFor([&] { return StatusOf(HttpGet(port, "/")) == 200; })) << pub.output;
  // Main's terms (1 hour of grace) reach the partner from main's daemon.
  ASSERT_TRUE(WaitFor([&] { return PartnerStatus().find("1 hour(s) after") != std::string::npos; },
                      std::chrono::seconds(30)))
      << PartnerStatus();

  // A day after the release's `expires` (7 days): the partner has withdrawn it itself.
  clock.AdvanceSeconds(8 * 86400);
  ASSERT_TRUE(WaitFor([&] { return StatusOf(HttpGet(port, "/")) == 503; })) << HttpGet(port, "/");
  EXPECT_THAT(BodyOf(HttpGet(port, "/")), HasSubstr("waiting for an update of Sakura Tea's pages"));
  EXPECT_EQ(HeaderOf(HttpGet(port, "/"), "Retry-After"), "3600");
  EXPECT_THAT(PartnerStatus(), HasSubstr("Withdrawn by this site: The tie-up release expired"));
  // Main was told: its record has the partner's reports.
  EXPECT_TRUE(WaitFor([&] {
    const std::string events = RunTieup({"main", "events", main_dir_}).output;
    return events.find("partner reports expired") != std::string::npos &&
           events.find("partner reports withdrawn") != std::string::npos;
  })) << RunTieup({"main", "events", main_dir_}).output;
  (*daemon)->Stop();
}

}  // namespace
}  // namespace tieup::testing
