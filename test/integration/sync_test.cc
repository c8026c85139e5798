// Integration: remote updating between real `tieup main serve` and `tieup partner serve`
// processes on loopback, driven through the commands a site manager types. The protocol's
// refusals (forged, replayed, expired metadata, bad blobs) are unit-tested in test/sync; here
// every check is what a person sees: exit codes, command output, records and served pages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <thread>

#include "base/env.h"
#include "daemon_harness.h"
#include "sync_harness.h"
#include "test_database.h"
#include "test_support.h"

namespace tieup::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

class SyncTest : public MainSiteTest {
 protected:
  struct Partner {
    std::string id, dir;
    int sync_port = 0;
    std::unique_ptr<SiteProcess> proc;
    int port() const { return proc->port(); }
  };

  std::string MainUrl() const { return "https://127.0.0.1:" + std::to_string(main_sync_port_); }

  // `tieup main partner add` for `id`; returns its output (with the enrollment code).
  CommandResult AddPartnership(const std::string& id, int sync_port,
                               const std::vector<std::string>& extra = {}) {
    return testing::AddPartnership(main_dir_, id, NameOf(id), sync_port, extra);
  }

  // "shop-a" -> "Shop A".
  static std::string NameOf(const std::string& id) {
    std::string n = id;
    n[0] = static_cast<char>(std::toupper(n[0]));
    size_t dash = n.find('-');
    if (dash != std::string::npos) {
      n[dash] = ' ';
      n[dash + 1] = static_cast<char>(std::toupper(n[dash + 1]));
    }
    return n;
  }

  // Adds a partnership and creates the partner site enrolled with main (main's daemon must
  // run). The partner is not started.
  Partner& NewPartner(const std::string& id, const std::vector<std::string>& extra = {}) {
    auto p = std::make_unique<Partner>();
    p->id = id;
    p->dir = dir_.Sub(id);
    p->sync_port = FreePort();
    CommandResult init =
        EnrollNewPartner(main_dir_, main_sync_port_, p->dir, id, NameOf(id), p->sync_port, extra);
    EXPECT_EQ(init.exit_code, 0) << init.output;
    EXPECT_THAT(init.output, HasSubstr("Enrolled with " + MainUrl()));
    p->proc = std::make_unique<SiteProcess>(std::vector<std::string>{"partner", "serve", p->dir});
    partners_.push_back(std::move(p));
    return *partners_.back();
  }

  // A partner site that is not enrolled yet (for enrollment tests).
  std::string BarePartner(const std::string& id) {
    std::string dir = dir_.Sub(id + "-" + std::to_string(++bare_));
    CommandResult r = RunTieup({"partner", "init", dir, "--id", id, "--public", "127.0.0.1:0",
                                "--sync", "127.0.0.1:" + std::to_string(FreePort())});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return dir;
  }

  void Start(Partner& p) { ASSERT_TRUE(p.proc->Start()) << p.proc->output(); }

  // The body of `path` on the partner's public port.
  static std::string Page(const Partner& p, const std::string& path = "/") {
    return BodyOf(HttpGet(p.port(), path));
  }
  // Waits (up to `timeout`) until the partner serves `text` at `path`.
  static bool Serves(const Partner& p, const std::string& text, const std::string& path = "/",
                     std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    return WaitFor([&] { return Page(p, path).find(text) != std::string::npos; }, timeout);
  }

  CommandResult Publish(const std::vector<std::string>& partners) {
    std::vector<std::string> args = {"main", "publish", main_dir_};
    if (partners.empty()) args.push_back("--all");
    for (const std::string& id : partners) {
      args.push_back("--partner");
      args.push_back(id);
    }
    return RunTieup(args);
  }
  std::string MainStatus() { return RunTieup({"main", "status", main_dir_}).output; }
  std::string MainEvents() { return RunTieup({"main", "events", main_dir_}).output; }
  static std::string Updates(const Partner& p) {
    return RunTieup({"partner", "updates", p.dir}).output;
  }

  std::vector<std::unique_ptr<Partner>> partners_;
  int bare_ = 0;
};

// 1. Two partners (auto and manager approval): per-partner pages, a pending update with its
// diff summary, approval, and a one-page change that sends one blob.
TEST_F(SyncTest, PublishesToAutoAndManagerPartnersAndSendsOnlyChangedBlobs) {
  StartMain();
  Partner& a = NewPartner("shop-a");
  Partner& b = NewPartner("shop-b", {"--approval", "manager"});
  Start(a);
  Start(b);
  EXPECT_EQ(StatusOf(HttpGet(a.port(), "/")), 503);  // no tie-up release yet: "opening soon"

  CommandResult pub = Publish({});
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  EXPECT_THAT(pub.output, HasRegex(R"(shop-a\s+version 1\s+activated)"));
  EXPECT_THAT(pub.output, HasRegex(R"(shop-b\s+version 1\s+pending_approval\s+update u\d+)"));
  std::string u = UpdateIdOf(pub.output, "shop-b");
  ASSERT_FALSE(u.empty()) << pub.output;

  // The auto partner serves main's pages with its own name in them.
  ASSERT_TRUE(Serves(a, "Sakura Tea</a> &middot; Shop A")) << Page(a);
  EXPECT_THAT(Page(a), AllOf(HasSubstr("Welcome to Sakura Tea"), Not(HasSubstr("Shop B"))));
  EXPECT_EQ(StatusOf(HttpGet(a.port(), "/assets/style.css")), 200);
  // The manager partner still serves nothing of it, and shows what the update would change.
  EXPECT_EQ(StatusOf(HttpGet(b.port(), "/")), 503);  // "opening soon"
  CommandResult pending = RunTieup({"partner", "pending", b.dir});
  ASSERT_EQ(pending.exit_code, 0) << pending.output;
  EXPECT_THAT(pending.output, HasSubstr("Update " + u + ": tie-up version 1"));
  // Index, 404, stylesheet and the page shell (content/page_templates.h).
  EXPECT_THAT(pending.output,
              HasRegex(R"(5 added \([0-9.]+ K?i?B\), 0 changed \(0 B\), 0 removed)"));
  EXPECT_THAT(pending.output, AllOf(HasSubstr("+ /index.html"), HasSubstr("+ /404.html"),
                                    HasSubstr("+ /assets/style.css")));
  // The preview link names the port the daemon really listens on (configured as 0 here) and
  // carries the site's preview key: without it, or with another version's, there is nothing.
  std::smatch link;
  const std::string prefix = "preview: http://127.0.0.1:" + std::to_string(b.port());
  ASSERT_TRUE(std::regex_search(
      pending.output, link, std::regex(prefix + R"((/\.tieup/preview/([A-Za-z0-9_-]{22})/1/))")))
      << pending.output;
  EXPECT_EQ(StatusOf(HttpGet(b.port(), link[1].str())), 200);
  EXPECT_EQ(StatusOf(HttpGet(b.port(), "/.tieup/preview/1/")), 404);
  EXPECT_EQ(StatusOf(HttpGet(b.port(), "/.tieup/preview/" + link[2].str() + "/2/")), 404);
  EXPECT_THAT(MainStatus(), HasRegex("shop-b .*version 1 waiting for the partner manager"));

  CommandResult approve = RunTieup({"partner", "approve", b.dir, u});
  ASSERT_EQ(approve.exit_code, 0) << approve.output;
  EXPECT_THAT(approve.output, HasSubstr("Approved " + u + ": main has been told"));
  ASSERT_TRUE(Serves(b, "Sakura Tea</a> &middot; Shop B")) << Page(b);
  EXPECT_THAT(RunTieup({"partner", "pending", b.dir}).output,
              HasSubstr("No update is waiting for approval."));
  std::string status = MainStatus();
  EXPECT_THAT(status, HasRegex(R"(shop-a\s+1\s+1\s+-\s+up to date at version 1)")) << status;
  EXPECT_THAT(status, HasRegex(R"(shop-b\s+1\s+1\s+-\s+up to date at version 1)")) << status;
  EXPECT_THAT(Updates(b), HasSubstr("approved"));

  // One page changes: each partner fetches that page's blob only.
  Author("pages/index.md", "---\ntitle: Welcome\n---\n# Welcome\n\nFresh sencha today.\n");
  pub = Publish({});
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  EXPECT_THAT(pub.output, HasSubstr("main: activated release 2"));
  EXPECT_THAT(pub.output, HasRegex(R"(shop-a\s+version 2\s+activated)"));
  ASSERT_TRUE(Serves(a, "Fresh sencha today.")) << Page(a);
  EXPECT_THAT(Page(a), HasSubstr("Shop A"));
  EXPECT_THAT(Updates(a), HasSubstr("fetched 1 of 5 blobs"));
  // Main serves its own new page too.
  EXPECT_TRUE(WaitFor([&] {
    return BodyOf(HttpGet(main_->port(), "/")).find("Fresh sencha today.") != std::string::npos;
  }));

  u = UpdateIdOf(pub.output, "shop-b");
  ASSERT_FALSE(u.empty()) << pub.output;
  pending = RunTieup({"partner", "pending", b.dir});
  EXPECT_THAT(pending.output, HasSubstr("Update " + u + ": tie-up version 2"));
  EXPECT_THAT(pending.output, HasRegex(R"(0 added \(0 B\), 1 changed \(\d+ B\), 0 removed)"));
  EXPECT_THAT(pending.output, HasSubstr("~ /index.html"));
  EXPECT_THAT(pending.output, Not(HasSubstr("/404.html")));
  EXPECT_THAT(Page(b), Not(HasSubstr("Fresh sencha")));  // still version 1 until approved
  ASSERT_EQ(RunTieup({"partner", "approve", b.dir, u}).exit_code, 0);
  ASSERT_TRUE(Serves(b, "Fresh sencha today.")) << Page(b);
  EXPECT_THAT(Page(b), HasSubstr("Shop B"));
  EXPECT_THAT(Updates(b), HasSubstr("fetched 1 of 5 blobs"));
  EXPECT_THAT(MainStatus(), HasRegex(R"(shop-b\s+2\s+2\s+-\s+up to date at version 2)"));
}

// A main site that outgrew SQLite moves its store to PostgreSQL (`tieup main store migrate`):
// refused while the daemon runs; afterwards the partners, releases and delta state are all there
// and the next one-page change reaches the partner as one fetched blob.
TEST_F(SyncTest, AStoreMovedToPostgresKeepsItsPartnersAndPublishesTheNextChange) {
  if (TestPostgresUrl().empty() || TestStoreIsPostgres()) {
    GTEST_SKIP() << "needs PostgreSQL and a main site on SQLite (make test's run of this binary)";
  }
  StartMain();
  Partner& a = NewPartner("shop-a");
  Start(a);
  CommandResult pub = Publish({});
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  ASSERT_TRUE(Serves(a, "Sakura Tea</a> &middot; Shop A")) << Page(a);

  const std::vector<std::string> migrate = {"main",
                                            "store",
                                            "migrate",
                                            main_dir_,
                                            "--to",
                                            "postgres",
                                            TestPostgresUrl(),
                                            "--schema",
                                            TestSchemaFor(main_dir_)};
  CommandResult busy = RunTieup(migrate);
  EXPECT_NE(busy.exit_code, 0);
  EXPECT_THAT(busy.output, HasSubstr("'tieup main serve' runs for this site: stop it first"));
  main_->Stop();
  CommandResult moved = RunTieup(migrate);
  ASSERT_EQ(moved.exit_code, 0) << moved.output;
  EXPECT_THAT(moved.output, HasSubstr("every table's rows and content checked equal"));
  EXPECT_THAT(moved.output, HasRegex(R"(sync_partnerships: 1 rows, checked)"));
  EXPECT_THAT(RunTieup({"main", "store", "show", main_dir_}).output,
              HasSubstr("store: PostgreSQL schema " + TestSchemaFor(main_dir_)));

  StartMain();
  EXPECT_THAT(MainStatus(), HasRegex(R"(shop-a\s+1\s+1\s+-\s+up to date at version 1)"));
  Author("pages/index.md", "---\ntitle: Welcome\n---\n# Welcome\n\nFresh sencha today.\n");
  pub = Publish({});
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  EXPECT_THAT(pub.output, HasRegex(R"(shop-a\s+version 2\s+activated)"));
  ASSERT_TRUE(Serves(a, "Fresh sencha today.")) << Page(a);
  EXPECT_THAT(Updates(a), HasSubstr("fetched 1 of 5 blobs"));
  EXPECT_THAT(MainStatus(), HasRegex(R"(shop-a\s+2\s+2\s+-\s+up to date at version 2)"));
}

// A new main site can start on PostgreSQL: `main init --store-url`; a schema that holds another
// site's store, and a URL with a password, are refused before anything is made.
TEST_F(SyncTest, ANewMainSiteStartsOnPostgresInAnEmptySchemaOnly) {
  if (TestPostgresUrl().empty()) GTEST_SKIP() << "needs PostgreSQL (make test provides it)";
  const std::string site = dir_.Sub("pg-main"), schema = TestSchemaFor(site);
  CommandResult init =
      RunTieup({"main", "init", site, "--public", "127.0.0.1:0", "--sync", "127.0.0.1:0",
                "--manager", "none", "--store-url", TestPostgresUrl(), "--store-schema", schema});
  ASSERT_EQ(init.exit_code, 0) << init.output;
  EXPECT_THAT(init.output, HasSubstr("store:      PostgreSQL schema " + schema));
  EXPECT_FALSE(env_->FileExists(site + "/tieup.db"));
  CommandResult show = RunTieup({"main", "store", "show", site});
  EXPECT_THAT(show.output, HasSubstr("store: PostgreSQL schema " + schema));
  EXPECT_THAT(show.output, HasRegex(R"(commerce_products\s+0 rows)"));

  const std::string other = dir_.Sub("pg-other");
  CommandResult taken =
      RunTieup({"main", "init", other, "--public", "127.0.0.1:0", "--sync", "127.0.0.1:0",
                "--store-url", TestPostgresUrl(), "--store-schema", schema});
  EXPECT_NE(taken.exit_code, 0);
  EXPECT_THAT(taken.output, HasSubstr("already holds a store"));
  EXPECT_FALSE(env_->FileExists(other));
  CommandResult secret =
      RunTieup({"main", "init", other, "--store-url", "postgresql://tieup:hunter2@db.example/t"});
  EXPECT_NE(secret.exit_code, 0);
  EXPECT_THAT(secret.output, HasSubstr("holds a password"));
  EXPECT_THAT(secret.output, Not(HasSubstr("hunter2")));
  EXPECT_FALSE(env_->FileExists(other));
}

// 2. A rejection is recorded with the manager's reason on both sites; main offers the same version
// again only as the partnership's policy says (here `rejected=2s`; without it, never by itself),
// and the partner sees the update again.
TEST_F(SyncTest, RejectedUpdateIsRecordedAndOfferedAgainPerPolicy) {
  StartMain();
  Partner& b =
      NewPartner("shop-b", {"--approval", "manager", "--retry", "backoff:1s..2s,rejected=2s"});
  Start(b);
  CommandResult pub = Publish({"shop-b"});
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  std::string u = UpdateIdOf(pub.output, "shop-b");
  ASSERT_FALSE(u.empty()) << pub.output;

  CommandResult no_reason = RunTieup({"partner", "reject", b.dir, u, "--reason", ""});
  EXPECT_NE(no_reason.exit_code, 0);
  EXPECT_THAT(no_reason.output, HasSubstr("--reason"));

  CommandResult reject =
      RunTieup({"partner", "reject", b.dir, u, "--reason", "not during the sale"});
  ASSERT_EQ(reject.exit_code, 0) << reject.output;
  EXPECT_THAT(reject.output, HasSubstr("Rejected " + u));
  // Main's scheduler is stopped so that the status below cannot race with the retry.
  main_->Stop();
  std::string status = MainStatus();
  EXPECT_THAT(status, HasRegex(R"(shop-b\s+0\s+1\s+\d{4}-\d\d-\d\dT\S+Z\s+)"
                               R"(partner manager rejected version 1: not during the sale; )"
                               R"(offered again at )"))
      << status;
  EXPECT_THAT(MainEvents(),
              HasRegex(u + R"(\s+rejected\s+partner manager rejected version 1: not during )"
                           R"(the sale; offered again at)"));
  EXPECT_THAT(Updates(b), AllOf(HasSubstr("rejected"), HasSubstr("not during the sale")));
  EXPECT_THAT(
      RunTieup({"partner", "pending", b.dir}).output,
      AllOf(HasSubstr("You rejected version 1 (update " + u + ")"),
            HasSubstr("not during the sale"), HasSubstr("No update is waiting for approval.")));

  // The daemon's scheduler offers the version again: a new update waits for the manager.
  StartMain();
  std::string again;
  ASSERT_TRUE(WaitFor(
      [&] {
        std::string out = RunTieup({"partner", "pending", b.dir}).output;
        std::smatch m;
        if (!std::regex_search(out, m, std::regex(R"(Update (u\d+): tie-up version 1)"))) {
          return false;
        }
        again = m[1];
        return again != u;
      },
      std::chrono::seconds(12)))
      << MainStatus() << main_->output();
  EXPECT_THAT(MainStatus(),
              HasSubstr("version 1 waiting for the partner manager (update " + again + ")"));
  ASSERT_EQ(RunTieup({"partner", "approve", b.dir, again}).exit_code, 0);
  EXPECT_TRUE(Serves(b, "Shop B")) << Page(b);
}

// 3 and 10. Rollback serves the previous release; main offering the rolled-back version again is
// refused, and the refusal is in both sites' records.
TEST_F(SyncTest, RollbackServesPreviousReleaseAndRefusalIsRecordedOnBothSites) {
  StartMain();
  Partner& a = NewPartner("shop-a");
  Start(a);
  ASSERT_EQ(Publish({"shop-a"}).exit_code, 0);
  ASSERT_TRUE(Serves(a, "Welcome to Sakura Tea")) << Page(a);
  Author("pages/index.md", "# Second edition\n");
  ASSERT_EQ(Publish({"shop-a"}).exit_code, 0);
  ASSERT_TRUE(Serves(a, "Second edition")) << Page(a);

  CommandResult rb = RunTieup({"partner", "rollback", a.dir});
  ASSERT_EQ(rb.exit_code, 0) << rb.output;
  EXPECT_THAT(rb.output, HasSubstr("Rolled back: tie-up release 1 is active again."));
  ASSERT_TRUE(Serves(a, "Welcome to Sakura Tea")) << Page(a);
  EXPECT_THAT(Page(a), Not(HasSubstr("Second edition")));
  EXPECT_THAT(MainStatus(), HasRegex(R"(shop-a\s+1\s+2\s)"));

  // Main offers version 2 again: the partner refuses it and says why, on both sides.
  CommandResult pub = Publish({"shop-a"});
  EXPECT_NE(pub.exit_code, 0) << pub.output;
  EXPECT_THAT(pub.output, HasRegex(R"(shop-a\s+FAILED: .*rolled back)")) << pub.output;
  EXPECT_THAT(Updates(a), HasRegex(R"(v2\s+refused\s+refused update u\d+: version 2 was )"
                                   R"(rolled back by this site's manager)"));
  EXPECT_THAT(MainEvents(), HasRegex(R"(shop-a\s+u\d+\s+failed\s+.*version 2 was rolled back)"));
  EXPECT_THAT(Page(a), HasSubstr("Welcome to Sakura Tea"));

  // A newer version is accepted.
  Author("pages/index.md", "# Third edition\n");
  pub = Publish({"shop-a"});
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  EXPECT_THAT(pub.output, HasRegex(R"(shop-a\s+version 3\s+activated)"));
  EXPECT_TRUE(Serves(a, "Third edition")) << Page(a);
}

// 4. Enrollment codes: single use, expiring, bound to one partner id, bound to main's CA.
TEST_F(SyncTest, EnrollmentRefusesReusedExpiredForeignWrongCaAndMalformedCodes) {
  StartMain();
  CommandResult add = AddPartnership("shop-a", FreePort());
  ASSERT_EQ(add.exit_code, 0) << add.output;
  std::string code = EnrollmentCodeOf(add.output);
  ASSERT_FALSE(code.empty()) << add.output;
  CommandResult expiring = AddPartnership("shop-c", FreePort(), {"--ttl", "1s"});
  ASSERT_EQ(expiring.exit_code, 0) << expiring.output;
  std::string expiring_code = EnrollmentCodeOf(expiring.output);
  const auto expiring_issued = std::chrono::steady_clock::now();
  CommandResult other = AddPartnership("shop-d", FreePort());
  std::string other_code = EnrollmentCodeOf(other.output);

  auto enroll = [&](const std::string& dir, const std::string& c) {
    return RunTieup({"partner", "enroll", dir, "--main", MainUrl(), "--token", c});
  };

  // Malformed code.
  std::string a1 = BarePartner("shop-a");
  CommandResult r = enroll(a1, "not-a-code");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("enrollment code is malformed"));
  // Right token, wrong CA fingerprint: refused before anything is sent.
  std::string wrong_ca = code.substr(0, code.rfind('.') + 1) + std::string(64, '0');
  r = enroll(a1, wrong_ca);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, AllOf(HasSubstr("is not the one in your enrollment code"),
                              HasSubstr("nothing was sent")));
  EXPECT_FALSE(env_->FileExists(a1 + "/keys/sync.crt"));
  EXPECT_THAT(main_->output(), Not(HasSubstr("enrollment refused")));
  // Another partner's code.
  r = enroll(a1, other_code);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("token was not issued for partner 'shop-a'"));
  EXPECT_FALSE(env_->FileExists(a1 + "/keys/sync.crt"));

  // The right code works once (the refusals above did not use it up)...
  r = enroll(a1, code);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(env_->FileExists(a1 + "/keys/sync.crt"));
  // ...and only once.
  std::string a2 = BarePartner("shop-a");
  r = enroll(a2, code);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("used")) << r.output;
  EXPECT_FALSE(env_->FileExists(a2 + "/keys/sync.crt"));

  // An expired code.
  std::string c1 = BarePartner("shop-c");
  std::this_thread::sleep_until(expiring_issued + std::chrono::milliseconds(2100));
  r = enroll(c1, expiring_code);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("expired")) << r.output;
  EXPECT_FALSE(env_->FileExists(c1 + "/keys/sync.crt"));

  // Main's record says why each attempt it saw was refused.
  std::string log = main_->output();
  EXPECT_THAT(log, HasRegex("enrollment refused for 'shop-a': .*not issued for partner")) << log;
  EXPECT_THAT(log, HasRegex("enrollment refused for 'shop-a': .*used")) << log;
  EXPECT_THAT(log, HasRegex("enrollment refused for 'shop-c': .*expired")) << log;
  EXPECT_THAT(log, HasSubstr("partner 'shop-a' enrolled"));
}

// 5. A revoked partner gets no updates and its certificate is refused; others are unaffected.
TEST_F(SyncTest, RevokedPartnerIsRefusedOthersUnaffected) {
  StartMain();
  Partner& a = NewPartner("shop-a");
  Partner& b = NewPartner("shop-b", {"--approval", "manager"});
  Start(a);
  Start(b);
  CommandResult pub = Publish({});
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  std::string u = UpdateIdOf(pub.output, "shop-b");
  ASSERT_FALSE(u.empty()) << pub.output;

  CommandResult rev = RunTieup({"main", "partner", "revoke", main_dir_, "shop-b"});
  ASSERT_EQ(rev.exit_code, 0) << rev.output;
  EXPECT_THAT(rev.output, HasSubstr("Revoked partner 'shop-b'"));
  EXPECT_THAT(RunTieup({"main", "partner", "ls", main_dir_}).output,
              HasRegex(R"(shop-b\s.*REVOKED)"));

  // Publishing to it fails.
  pub = Publish({"shop-b"});
  EXPECT_NE(pub.exit_code, 0);
  EXPECT_THAT(pub.output, HasSubstr("shop-b         FAILED: partner 'shop-b' is revoked"));
  // Its TLS connection to main is refused: the approval does not reach main.
  CommandResult approve = RunTieup({"partner", "approve", b.dir, u});
  EXPECT_NE(approve.exit_code, 0);
  EXPECT_THAT(approve.output,
              AllOf(HasSubstr("main could not be told"), HasSubstr("the server refused this site")))
      << approve.output;
  EXPECT_THAT(MainEvents(), Not(HasSubstr("partner manager approved")));
  EXPECT_EQ(StatusOf(HttpGet(b.port(), "/")), 503);  // still "opening soon"
  EXPECT_TRUE(WaitFor(
      [&] {
        return main_->output().find(
                   "refused connection from 127.0.0.1: peer certificate names "
                   "site 'shop-b', which is not an enrolled partner") != std::string::npos;
      },
      std::chrono::seconds(3)))
      << main_->output();
  // A new enrollment code cannot bring it back.
  CommandResult token = RunTieup({"main", "partner", "token", main_dir_, "shop-b"});
  EXPECT_NE(token.exit_code, 0);
  EXPECT_THAT(token.output, HasSubstr("revoked"));

  // The other partner still gets updates.
  Author("pages/index.md", "# Still trading\n");
  pub = Publish({"shop-a"});
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  EXPECT_THAT(pub.output, HasRegex(R"(shop-a\s+version 2\s+activated)"));
  EXPECT_TRUE(Serves(a, "Still trading")) << Page(a);
}

// 6. Certificates from another CA, clients without a certificate, and plain HTTP on a sync port.
TEST_F(SyncTest, ForeignCaNoCertificateAndPlainHttpAreRefused) {
  StartMain();
  Partner& a = NewPartner("shop-a");
  Start(a);

  // A second, unrelated main site with its own CA and a partnership of the same id that points
  // at shop-a.
  std::string other_dir = dir_.Sub("other-main");
  int other_sync = FreePort();
  ASSERT_EQ(RunTieup({"main", "init", other_dir, "--name", "Other Tea", "--public", "127.0.0.1:0",
                      "--sync", "127.0.0.1:" + std::to_string(other_sync)})
                .exit_code,
            0);
  CommandResult other_add = RunTieup({"main", "partner", "add", other_dir, "--id", "shop-a",
                                      "--public-url", "http://127.0.0.1:1", "--sync-url",
                                      "https://127.0.0.1:" + std::to_string(a.sync_port)});
  ASSERT_EQ(other_add.exit_code, 0) << other_add.output;
  std::string other_code = EnrollmentCodeOf(other_add.output);
  SiteProcess other({"main", "serve", other_dir});
  ASSERT_TRUE(other.Start()) << other.output();

  // The other main cannot update shop-a: shop-a's certificate is not from its CA (and its own
  // certificate is not from shop-a's).
  CommandResult pub = RunTieup({"main", "publish", other_dir, "--partner", "shop-a"});
  EXPECT_NE(pub.exit_code, 0);
  EXPECT_THAT(pub.output, HasSubstr("shop-a         FAILED:")) << pub.output;
  EXPECT_EQ(StatusOf(HttpGet(a.port(), "/")), 503);  // still "opening soon"
  EXPECT_THAT(Updates(a), HasSubstr("No update has been offered yet."));

  // A partner enrolling at the wrong main with the other main's code: refused, nothing sent.
  std::string stray = BarePartner("shop-a");
  CommandResult r =
      RunTieup({"partner", "enroll", stray, "--main", MainUrl(), "--token", other_code});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("is not the one in your enrollment code"));
  EXPECT_FALSE(env_->FileExists(stray + "/keys/sync.crt"));

  // shop-a's certificate gets answers from its own main, none from the other.
  const std::string status_req =
      "GET /v1/status HTTP/1.1\r\nHost: main\r\nConnection: close\r\n\r\n";
  auto with_cert = [&](int port) {
    return RunProgram(
               {"/usr/bin/openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port),
                "-quiet", "-cert", a.dir + "/keys/sync.crt", "-key", a.dir + "/keys/sync.key"},
               status_req, std::chrono::seconds(5))
        .output;
  };
  EXPECT_THAT(with_cert(main_sync_port_), HasSubstr("HTTP/1.1 "));
  std::string foreign = with_cert(other_sync);
  EXPECT_THAT(foreign, Not(HasSubstr("HTTP/1.1 "))) << foreign;

  // Without a certificate: main answers only the enrollment calls; shop-a answers nothing.
  std::string anon = TlsWithoutCertificate(main_sync_port_, status_req);
  EXPECT_THAT(anon, HasSubstr("needs the partner's certificate")) << anon;
  EXPECT_THAT(
      TlsWithoutCertificate(main_sync_port_,
                            "GET /v1/ca HTTP/1.1\r\nHost: main\r\nConnection: close\r\n\r\n"),
      HasSubstr("BEGIN CERTIFICATE"));
  std::string to_partner = TlsWithoutCertificate(a.sync_port, status_req);
  EXPECT_THAT(to_partner, Not(HasSubstr("HTTP/1.1 "))) << to_partner;

  // Plain HTTP to either sync port gets no HTTP answer.
  const std::string plain = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  EXPECT_EQ(RawExchange(main_sync_port_, plain, 2000).rfind("HTTP/", 0), std::string::npos);
  EXPECT_EQ(RawExchange(a.sync_port, plain, 2000).rfind("HTTP/", 0), std::string::npos);

  // Each refusal is in the refusing site's log, saying why.
  auto logged = [](SiteProcess& site, const std::string& text) {
    return WaitFor([&] { return site.output().find(text) != std::string::npos; },
                   std::chrono::seconds(3));
  };
  EXPECT_TRUE(
      logged(other, "peer certificate for 'shop-a' was not issued by this partnership's CA"))
      << other.output();
  EXPECT_THAT(RunTieup({"main", "events", other_dir}).output,
              HasRegex(R"(shop-a\s+u\d+\s+failed\s+.*was not issued by this partnership's CA)"));
  EXPECT_TRUE(logged(*a.proc, "it does not accept this site's certificate")) << a.proc->output();
  EXPECT_TRUE(logged(*a.proc, "the peer presented no certificate")) << a.proc->output();
  EXPECT_TRUE(logged(*a.proc, "the peer does not speak TLS")) << a.proc->output();
  EXPECT_TRUE(logged(*main_, "the peer does not speak TLS")) << main_->output();

  // After all that, shop-a and its main still work together.
  ASSERT_EQ(Publish({"shop-a"}).exit_code, 0);
  EXPECT_TRUE(Serves(a, "Shop A")) << Page(a);
}

// 7. A partner that is down at publish time gets the update from main's scheduler once it is
// up, with no command.
TEST_F(SyncTest, PartnerDownAtPublishIsRetriedAndAppliedLater) {
  StartMain();
  Partner& a = NewPartner("shop-a", {"--retry", "backoff:1s..2s"});
  CommandResult pub = Publish({"shop-a"});
  EXPECT_NE(pub.exit_code, 0);
  EXPECT_THAT(pub.output, HasSubstr("shop-a         FAILED: offer of version 1: cannot connect"));
  EXPECT_THAT(pub.output, HasSubstr("retried under their retry policy"));
  std::string status = MainStatus();
  EXPECT_THAT(status, HasRegex(R"(shop-a\s+0\s+1\s+\d{4}-\d\d-\d\dT\S+Z\s+failed: .*cannot )"
                               R"(connect.*; retry at \d{4}-)"))
      << status;

  Start(a);
  ASSERT_TRUE(Serves(a, "Sakura Tea</a> &middot; Shop A", "/", std::chrono::seconds(15)))
      << MainStatus() << main_->output();
  EXPECT_TRUE(WaitFor([&] {
    return MainStatus().find("up to date at version 1") != std::string::npos;
  })) << MainStatus();
  EXPECT_THAT(Updates(a), HasSubstr("activated"));
}

// 8. With main down, a partner keeps serving its active release.
TEST_F(SyncTest, PartnerKeepsServingWhileMainIsDown) {
  StartMain();
  Partner& a = NewPartner("shop-a");
  Start(a);
  ASSERT_EQ(Publish({"shop-a"}).exit_code, 0);
  ASSERT_TRUE(Serves(a, "Shop A"));
  main_->Kill();
  for (int i = 0; i < 3; ++i) {
    std::string r = HttpGet(a.port(), "/");
    EXPECT_EQ(StatusOf(r), 200);
    EXPECT_THAT(BodyOf(r), HasSubstr("Sakura Tea</a> &middot; Shop A"));
    EXPECT_EQ(StatusOf(HttpGet(a.port(), "/assets/style.css")), 200);
  }
  // A restarted partner serves it too, with main still down.
  Start(a);
  EXPECT_THAT(Page(a), HasSubstr("Sakura Tea</a> &middot; Shop A"));
}

// 9. A partner killed (SIGKILL) in the middle of an update serves one whole release after a
// restart, and a later publish completes. The kills are placed by watching the partner's blob
// store: in the middle of the fetch, right after it (staging, activation), and at the offer.
TEST_F(SyncTest, PartnerKilledDuringUpdateServesOneWholeRelease) {
  // Every page is a blob of its own (small: no gzip variant); the layout carries the edition
  // marker, so a new edition changes every page: a fetch of 300 blobs gives the kills room.
  constexpr int kPages = 300;
  for (int i = 0; i < kPages; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "pages/p%03d.md", i);
    Author(name, "# Page " + std::to_string(i) + "\n");
  }
  auto edition = [&](int n) {
    Author("layouts/default.mustache", "<!doctype html><title>{{title}}</title><p>EDITION-" +
                                           std::to_string(n) + "-END</p>\n{{{content}}}\n");
  };
  edition(0);
  StartMain();
  Partner& a = NewPartner("shop-a", {"--retry", "manual"});
  ASSERT_TRUE(LiftPerClientRequestRate(a.dir));  // 300 pages read again and again
  Start(a);
  ASSERT_EQ(Publish({"shop-a"}).exit_code, 0);

  // The edition every page states; -1 when they differ or one is missing.
  auto served_edition = [&]() {
    std::set<int> seen;
    static const std::regex kMarker("EDITION-(\\d+)-END");
    for (int i = 0; i < kPages; ++i) {
      char path[32];
      std::snprintf(path, sizeof(path), "/p%03d.html", i);
      std::smatch m;
      std::string body = Page(a, path);
      if (!std::regex_search(body, m, kMarker)) return -1;
      seen.insert(std::stoi(m[1]));
    }
    return seen.size() == 1 ? *seen.begin() : -1;
  };
  ASSERT_EQ(served_edition(), 0);
  auto blob_files = [&] {
    size_t n = 0;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(a.dir + "/blobs", ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_regular_file(ec)) ++n;
    }
    return n;
  };

  // Blobs a new edition adds: every page (these, index and 404) changes with the layout.
  const size_t kNewBlobs = kPages + 2;
  enum class KillAt { kMidFetch, kAfterFetch, kAtOffer };
  std::vector<KillAt> plan = {KillAt::kMidFetch, KillAt::kAfterFetch, KillAt::kAtOffer};
  int active = 0;
  int k = 0;
  int mid_fetch_kills = 0, mid_fetch_tries = 0;
  for (size_t step = 0; step < plan.size(); ++step) {
    const KillAt when = plan[step];
    edition(++k);
    const size_t before = blob_files();
    CommandResult pub;
    std::thread publisher([&] { pub = Publish({"shop-a"}); });
    if (when == KillAt::kAtOffer) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    } else {
      const size_t want = before + (when == KillAt::kMidFetch ? 2 : kNewBlobs);
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (blob_files() < want && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      EXPECT_GE(blob_files(), want) << "edition " << k << ": the fetch never got there";
    }
    a.proc->Kill();
    const bool incomplete = blob_files() < before + kNewBlobs;
    publisher.join();
    Start(a);
    const int now = served_edition();
    EXPECT_TRUE(now == active || now == k)
        << "edition " << now << " served (expected " << active << " or " << k << ")\n"
        << pub.output;
    if (incomplete) {
      // Killed before it had every blob: the update failed and the old release is served.
      EXPECT_NE(pub.exit_code, 0) << pub.output;
      EXPECT_EQ(now, active) << pub.output;
      if (when == KillAt::kMidFetch) ++mid_fetch_kills;
    } else if (when == KillAt::kMidFetch && ++mid_fetch_tries < 3) {
      // The disk was faster than the watcher: aim again.
      plan.insert(plan.begin() + static_cast<std::ptrdiff_t>(step) + 1, KillAt::kMidFetch);
    }
    if (now == k) active = k;
    // Its records are readable after the crash.
    CommandResult updates = RunTieup({"partner", "updates", a.dir});
    EXPECT_EQ(updates.exit_code, 0) << updates.output;
  }
  EXPECT_GE(mid_fetch_kills, 1) << "no kill landed in the middle of a fetch";
  // A later publish completes: the newest edition, whole.
  CommandResult pub = Publish({"shop-a"});
  ASSERT_EQ(pub.exit_code, 0) << pub.output << Updates(a);
  EXPECT_EQ(served_edition(), k) << Updates(a);
  EXPECT_THAT(MainStatus(), HasRegex("shop-a\\s.*up to date at version"));
}

}  // namespace
}  // namespace tieup::testing
