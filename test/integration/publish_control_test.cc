// Integration: `tieup main publish` hands its work to the running `tieup main serve` through
// the control socket (SITE_DIR/run/control.sock), and runs in its own process when no daemon
// answers (none started, one killed) or with --in-process. Real processes on loopback; every
// check is what the site manager sees: the command's output and exit code, the pages served.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <regex>

#include "base/env.h"
#include "daemon_harness.h"
#include "sync_harness.h"
#include "test_support.h"

namespace tieup::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kThroughDaemon[] = "publishing through the running daemon (pid ";

class PublishControlTest : public MainSiteTest {
 protected:
  // Adds partnership `id` and creates its site, enrolled (main must run); not started.
  void NewPartner(const std::string& id, const std::string& name) {
    partner_dir_ = dir_.Sub(id);
    CommandResult init =
        EnrollNewPartner(main_dir_, main_sync_port_, partner_dir_, id, name, FreePort());
    ASSERT_EQ(init.exit_code, 0) << init.output;
    partner_ =
        std::make_unique<SiteProcess>(std::vector<std::string>{"partner", "serve", partner_dir_});
  }

  CommandResult Publish(const std::vector<std::string>& extra = {"--all"}) {
    std::vector<std::string> args = {"main", "publish", main_dir_};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunTieup(args);
  }

  bool PartnerServes(const std::string& text) {
    return WaitFor(
        [&] { return BodyOf(HttpGet(partner_->port(), "/")).find(text) != std::string::npos; },
        std::chrono::seconds(5));
  }

  std::string SocketPath() const { return main_dir_ + "/run/control.sock"; }

  std::string partner_dir_;
  std::unique_ptr<SiteProcess> partner_;
};

TEST_F(PublishControlTest, PublishRunsInsideTheRunningDaemon) {
  StartMain();
  NewPartner("shop-a", "Shop A");
  ASSERT_TRUE(partner_->Start()) << partner_->output();

  CommandResult pub = Publish();
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  EXPECT_THAT(pub.output, HasSubstr(kThroughDaemon));
  EXPECT_THAT(pub.output, HasSubstr("main: unchanged, release 1 (5 files)"));
  EXPECT_THAT(pub.output, HasSubstr("publishing to every partner..."));
  EXPECT_THAT(pub.output, HasRegex(R"(shop-a\s+version 1\s+activated\s+update u\d+)"));
  EXPECT_THAT(main_->output(), HasSubstr("control socket: publish to every partner"));
  ASSERT_TRUE(PartnerServes("Sakura Tea</a> &middot; Shop A"));

  // An edit: the daemon serves main's new release as soon as the command returns, and the
  // partner gets it.
  Author("pages/index.md", "---\ntitle: Welcome\n---\n# First flush\n\nNew leaves are in.\n");
  pub = Publish({"--partner", "shop-a"});
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  EXPECT_THAT(pub.output, HasSubstr(kThroughDaemon));
  EXPECT_THAT(pub.output, HasSubstr("main: activated release 2 (5 files)"));
  EXPECT_THAT(pub.output, HasSubstr("publishing to 1 partner(s)..."));
  EXPECT_THAT(pub.output, HasRegex(R"(shop-a\s+version 2\s+activated)"));
  EXPECT_THAT(BodyOf(HttpGet(main_->port(), "/")), HasSubstr("New leaves are in."));
  EXPECT_TRUE(PartnerServes("New leaves are in."));
}

// On a terminal the partners are counted on one bar redrawn in place, with the bytes sent and
// the time left; only a failure is printed above it; the results and the summary follow.
// Through the daemon (the progress comes over the control socket) and in process alike.
TEST_F(PublishControlTest, OnATerminalABarCountsThePartnersAndPrintsOnlyFailures) {
  StartMain();
  const std::string dir_a = dir_.Sub("shop-a"), dir_b = dir_.Sub("shop-b");
  CommandResult init =
      EnrollNewPartner(main_dir_, main_sync_port_, dir_a, "shop-a", "Shop A", FreePort());
  ASSERT_EQ(init.exit_code, 0) << init.output;
  init = EnrollNewPartner(main_dir_, main_sync_port_, dir_b, "shop-b", "Shop B", FreePort());
  ASSERT_EQ(init.exit_code, 0) << init.output;
  SiteProcess a({"partner", "serve", dir_a});
  ASSERT_TRUE(a.Start()) << a.output();  // shop-b is not running: its update fails

  for (const bool in_process : {false, true}) {
    SCOPED_TRACE(in_process ? "in process" : "through the daemon");
    if (in_process) Author("pages/index.md", "---\ntitle: Welcome\n---\n# Second flush\n");
    std::vector<std::string> args = {"main", "publish", main_dir_, "--all"};
    if (in_process) args.push_back("--in-process");
    CommandResult pub = RunTieupOnTerminal(args, 100);
    EXPECT_NE(pub.exit_code, 0) << pub.output;  // a partner failed
    EXPECT_THAT(pub.output, Not(HasSubstr(": offering version"))) << pub.output;
    EXPECT_THAT(pub.output, Not(HasSubstr(": building"))) << pub.output;
    // The bar, complete, then cleared for the results.
    EXPECT_THAT(pub.output,
                HasRegex(R"(\r\[#{40}\] 2/2 partners, 1 failed, \d+(\.\d)? (B|KiB)\x1b\[K)"))
        << pub.output;
    EXPECT_THAT(pub.output, HasSubstr("\r\x1b[K  shop-b: failed: ")) << pub.output;
    EXPECT_THAT(pub.output, HasRegex(R"(shop-a\s+version \d\s+activated\s+update u\d+)"));
    EXPECT_THAT(pub.output, HasSubstr("shop-b         FAILED: "));
    EXPECT_THAT(pub.output, HasSubstr("2 partners: 1 activated, 0 waiting for approval, 1 failed"));
    EXPECT_THAT(pub.output, Not(HasSubstr("done: "))) << "the plain lines are not for a terminal";
  }
}

// Each partner's steps are printed as they happen (standard error), then a summary, through the
// daemon and in the command's own process alike; the result lines stay as scripts read them.
TEST_F(PublishControlTest, PrintsEachPartnersProgressAndASummary) {
  StartMain();
  const std::string dir_a = dir_.Sub("shop-a"), dir_b = dir_.Sub("shop-b");
  CommandResult init =
      EnrollNewPartner(main_dir_, main_sync_port_, dir_a, "shop-a", "Shop A", FreePort());
  ASSERT_EQ(init.exit_code, 0) << init.output;
  init = EnrollNewPartner(main_dir_, main_sync_port_, dir_b, "shop-b", "Shop B", FreePort(),
                          {"--approval", "manager"});
  ASSERT_EQ(init.exit_code, 0) << init.output;
  SiteProcess a({"partner", "serve", dir_a}), b({"partner", "serve", dir_b});
  ASSERT_TRUE(a.Start()) << a.output();
  ASSERT_TRUE(b.Start()) << b.output();

  CommandResult pub = Publish();
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  EXPECT_THAT(pub.output, HasSubstr(kThroughDaemon));
  for (const char* id : {"shop-a", "shop-b"}) {
    const std::string p = std::string("\\n  ") + id + ": ";
    EXPECT_THAT(pub.output, HasRegex(p + "building\\n")) << id;
    EXPECT_THAT(pub.output, HasRegex(p + "offering version 1\\n")) << id;
    EXPECT_THAT(pub.output,
                HasRegex(p + R"(fetched [1-9]\d* files \(\d+ (bytes|KiB)\), staged version 1\n)"))
        << id;
  }
  EXPECT_THAT(pub.output, HasSubstr("\n  shop-a: activated version 1\n"));
  EXPECT_THAT(pub.output,
              HasSubstr("\n  shop-b: version 1 waiting for the partner manager's approval\n"));
  EXPECT_THAT(pub.output, HasSubstr("\n2 partners: 1 activated, 1 waiting for approval, 0 failed"));
  // Not on a terminal: a plain count at the end (and every 10 s on long runs).
  EXPECT_THAT(pub.output, HasRegex(R"(\ndone: 2 of 2 partners in \d+:\d\d, \d+(\.\d)? KiB\n)"));
  // The result lines, unchanged.
  EXPECT_THAT(pub.output, HasRegex(R"(shop-a\s+version 1\s+activated\s+update u\d+)"));
  EXPECT_THAT(pub.output, HasRegex(R"(shop-b\s+version 1\s+pending_approval\s+update u\d+)"));

  // An edit, published in the command's own process: the same lines.
  Author("pages/index.md", "---\ntitle: Welcome\n---\n# First flush\n");
  pub = Publish({"--all", "--in-process"});
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  EXPECT_THAT(pub.output, Not(HasSubstr(kThroughDaemon)));
  EXPECT_THAT(pub.output, HasSubstr("\n  shop-a: offering version 2\n"));
  EXPECT_THAT(pub.output, HasSubstr("\n  shop-a: activated version 2\n"));
  EXPECT_THAT(pub.output,
              HasSubstr("\n  shop-b: version 2 waiting for the partner manager's approval\n"));
  EXPECT_THAT(pub.output, HasSubstr("\n2 partners: 1 activated, 1 waiting for approval, 0 failed"));

  // Nothing new: each partner says so.
  pub = Publish();
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  EXPECT_THAT(pub.output, HasSubstr("\n  shop-a: up to date at version 2\n"));
  EXPECT_THAT(pub.output, HasSubstr("\n  shop-b: version 2 still waiting for the partner "
                                    "manager's approval\n"));
  EXPECT_THAT(
      pub.output,
      HasSubstr("\n2 partners: 0 activated, 1 waiting for approval, 0 failed, 1 up to date"));
}

TEST_F(PublishControlTest, FailedPartnerGivesTheSameExitCodeThroughTheDaemonAndInProcess) {
  StartMain();
  NewPartner("shop-a", "Shop A");  // never started: main cannot reach it

  CommandResult through = Publish();
  EXPECT_EQ(through.exit_code, 1) << through.output;
  EXPECT_THAT(through.output, HasSubstr(kThroughDaemon));
  EXPECT_THAT(through.output, HasRegex(R"(shop-a\s+FAILED: )"));
  EXPECT_THAT(through.output, HasSubstr("1 partner(s) failed; they are retried"));
  EXPECT_THAT(through.output, HasSubstr("tieup: error: 1 partner update(s) failed"));

  CommandResult local = Publish({"--all", "--in-process"});
  EXPECT_EQ(local.exit_code, 1) << local.output;
  EXPECT_THAT(local.output, Not(HasSubstr(kThroughDaemon)));
  EXPECT_THAT(local.output, HasRegex(R"(shop-a\s+FAILED: )"));
  EXPECT_THAT(local.output, HasSubstr("tieup: error: 1 partner update(s) failed"));
}

TEST_F(PublishControlTest, InProcessFlagBypassesTheRunningDaemon) {
  StartMain();
  CommandResult pub = Publish({"--in-process"});
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  EXPECT_THAT(pub.output, Not(HasSubstr(kThroughDaemon)));
  EXPECT_THAT(pub.output, HasSubstr("main: unchanged, release 1 (5 files)"));
  EXPECT_THAT(main_->output(), Not(HasSubstr("control socket: publish")));
}

TEST_F(PublishControlTest, RunsInItsOwnProcessWhenNoDaemonRuns) {
  CommandResult pub = Publish({});
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  EXPECT_THAT(pub.output, Not(HasSubstr(kThroughDaemon)));
  EXPECT_THAT(pub.output, HasSubstr("No partners named: add --all or --partner ID"));
}

TEST_F(PublishControlTest, KilledDaemonsStaleSocketFallsBackAndARestartReplacesIt) {
  StartMain();
  main_->Kill();
  ASSERT_TRUE(env_->FileExists(SocketPath()));  // SIGKILL leaves the socket file behind

  CommandResult pub = Publish({});
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  EXPECT_THAT(pub.output, Not(HasSubstr(kThroughDaemon)));
  EXPECT_THAT(pub.output, HasSubstr("main: unchanged, release 1 (5 files)"));

  StartMain();  // replaces the stale socket
  pub = Publish({});
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  EXPECT_THAT(pub.output, HasSubstr(kThroughDaemon));

  EXPECT_EQ(main_->Stop(), 0);
  EXPECT_FALSE(env_->FileExists(SocketPath()));
}

}  // namespace
}  // namespace tieup::testing
