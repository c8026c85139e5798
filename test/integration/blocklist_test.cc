// Integration (issue 17 item 6): main's network-wide blocklist between real `tieup main serve`
// and `tieup partner serve` processes. `tieup main blocklist add` signs a new list; main's own
// public port refuses what it names at once; a push-mode partner with the security service has
// it within seconds, a pull-mode one at its next poll, a partner without the service never;
// the refusal is the WAF's 403 page with a reference found by `tieup partner waf`; a restarted
// partner keeps the list; removing an entry lets the requests through again everywhere.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>

#include "daemon_harness.h"
#include "site/config.h"
#include "sync_harness.h"
#include "test_support.h"

namespace tieup::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

const std::vector<std::string> kScanner = {"User-Agent: Mozilla/5.0 (evil-scanner 2.1)",
                                           "Accept: text/html"};
const std::vector<std::string> kBrowser = {"User-Agent: Mozilla/5.0 (X11; Linux x86_64)",
                                           "Accept: text/html"};

class BlocklistTest : public MainSiteTest {
 protected:
  struct Partner {
    std::string dir;
    std::unique_ptr<SiteProcess> process;
  };

  // Enrolls partner `id` (push mode, or pull mode polling every 5 s) with `options` and starts
  // it.
  void AddPartner(const std::string& id, bool pull, const std::string& options) {
    Partner& p = partners_[id];
    p.dir = dir_.Sub(id);
    CommandResult init = EnrollNewPartner(main_dir_, main_sync_port_, p.dir, id, id, FreePort());
    ASSERT_EQ(init.exit_code, 0) << init.output;
    if (!options.empty()) {
      CommandResult set = RunTieup({"main", "partner", "set", main_dir_, id, "--options", options});
      ASSERT_EQ(set.exit_code, 0) << set.output;
    }
    if (pull) {
      CommandResult set = RunTieup({"main", "partner", "set", main_dir_, id, "--sync-url", ""});
      ASSERT_EQ(set.exit_code, 0) << set.output;
      ASSERT_TRUE(UpdateSiteConfig(*env_, p.dir, [](SiteConfig& c) {
                    c.poll_seconds = 5;
                    return Status::Ok();
                  }).ok());
    }
    StartPartner(id);
  }

  void StartPartner(const std::string& id) {
    Partner& p = partners_[id];
    p.process = std::make_unique<SiteProcess>(std::vector<std::string>{"partner", "serve", p.dir});
    ASSERT_TRUE(p.process->Start()) << p.process->output();
  }

  int PortOf(const std::string& id) { return partners_[id].process->port(); }

  // The status `id`'s public port answers the scanner ("main": main's) once it is `status`.
  bool Answers(const std::string& id, int status,
               const std::vector<std::string>& headers = kScanner) {
    const int port = id == "main" ? main_->port() : PortOf(id);
    return WaitFor([&] { return StatusOf(HttpGet(port, "/", headers)) == status; },
                   std::chrono::seconds(30));
  }

  std::string Output(const std::string& id) {
    return id == "main" ? main_->output() : partners_[id].process->output();
  }

  std::map<std::string, Partner> partners_;
};

TEST_F(BlocklistTest, AnEntryReachesMainAndEveryPartnerWithTheSecurityService) {
  StartMain();
  AddPartner("shop-a", /*pull=*/false, "security");
  AddPartner("shop-b", /*pull=*/true, "security");
  AddPartner("shop-c", /*pull=*/false, "");
  CommandResult pub = RunTieup({"main", "publish", main_dir_, "--all"});
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  for (const std::string id : {"shop-a", "shop-b", "shop-c"}) {
    ASSERT_TRUE(Answers(id, 200)) << id << ": " << Output(id);
  }

  CommandResult add = RunTieup({"main", "blocklist", "add", main_dir_, "--agent", "evil-scanner",
                                "--for", "7d", "--reason", "probing for admin pages"});
  ASSERT_EQ(add.exit_code, 0) << add.output;
  EXPECT_THAT(add.output, AllOf(HasSubstr("Added entry 1: agent evil-scanner (probing for admin "
                                          "pages; until "),
                                HasSubstr("Signed blocklist number 1 (1 entries)"),
                                HasSubstr("the 2 partner(s) with the security service")));

  // Main's own port, the push-mode partner and the pull-mode partner refuse the scanner...
  for (const std::string id : {"main", "shop-a", "shop-b"}) {
    ASSERT_TRUE(Answers(id, 403)) << id << ": " << Output(id);
    EXPECT_EQ(StatusOf(HttpGet(id == "main" ? main_->port() : PortOf(id), "/", kBrowser)), 200)
        << id;
  }
  // ... with the WAF's page and a reference the partner's manager can look up.
  const std::string refused = HttpGet(PortOf("shop-a"), "/", kScanner);
  EXPECT_THAT(BodyOf(refused), HasSubstr("This request was refused"));
  std::smatch m;
  const std::string body = BodyOf(refused);
  ASSERT_TRUE(std::regex_search(body, m, std::regex("[0-9a-f]{16}"))) << body;
  CommandResult found =
      RunTieup({"partner", "waf", partners_["shop-a"].dir, "--reference", m[0].str()});
  ASSERT_EQ(found.exit_code, 0) << found.output;
  EXPECT_THAT(found.output, AllOf(HasSubstr("blocklisted"),
                                  HasSubstr("network blocklist entry 1: agent evil-scanner")));
  EXPECT_THAT(RunTieup({"partner", "blocklist", partners_["shop-a"].dir}).output,
              AllOf(HasSubstr("Main's network blocklist number 1"), HasSubstr("evil-scanner"),
                    HasSubstr("probing for admin pages")));

  // The partner without the service is not sent it.
  EXPECT_EQ(StatusOf(HttpGet(PortOf("shop-c"), "/", kScanner)), 200);
  EXPECT_THAT(RunTieup({"partner", "blocklist", partners_["shop-c"].dir}).output,
              HasSubstr("has no blocklist from main"));
  // Main's list says who has it (shop-b once its fetch is recorded).
  ASSERT_TRUE(WaitFor([&] {
    const std::string out = RunTieup({"main", "blocklist", "list", main_dir_}).output;
    return std::regex_search(out, std::regex(R"(shop-a\s+has the newest \(number 1\))")) &&
           std::regex_search(out, std::regex(R"(shop-b\s+has the newest \(number 1\))"));
  })) << RunTieup({"main", "blocklist", "list", main_dir_}).output;
  EXPECT_THAT(RunTieup({"main", "blocklist", "list", main_dir_}).output, Not(HasSubstr("shop-c")));

  // A restarted partner refuses the scanner from its first request.
  ASSERT_EQ(partners_["shop-a"].process->Stop(), 0);
  StartPartner("shop-a");
  EXPECT_EQ(StatusOf(HttpGet(PortOf("shop-a"), "/", kScanner)), 403);

  // An address: this test's own, as the daemons see it.
  add = RunTieup({"main", "blocklist", "add", main_dir_, "--address", "127.0.0.1"});
  ASSERT_EQ(add.exit_code, 0) << add.output;
  ASSERT_TRUE(Answers("shop-a", 403, kBrowser)) << Output("shop-a");
  ASSERT_TRUE(Answers("main", 403, kBrowser)) << Output("main");

  // Removing both entries lets everyone in again, everywhere.
  for (const char* id : {"2", "1"}) {
    CommandResult rm = RunTieup({"main", "blocklist", "remove", main_dir_, id});
    ASSERT_EQ(rm.exit_code, 0) << rm.output;
  }
  for (const std::string id : {"main", "shop-a", "shop-b"}) {
    ASSERT_TRUE(Answers(id, 200)) << id << ": " << Output(id);
  }
  EXPECT_THAT(RunTieup({"main", "blocklist", "list", main_dir_}).output,
              HasSubstr("Newest signed list: number 4"));
}

// An address the WAF refuses at two partners (security.auto_block_partners = 2) is blocked
// network-wide by itself for a while: main's list names it, by "auto: WAF at ...", with an
// alert; the partners then refuse everything from it.
TEST_F(BlocklistTest, AnAddressTrippingTheWafAtSeveralPartnersIsBlockedByItself) {
  ASSERT_TRUE(UpdateSiteConfig(*env_, main_dir_, [](SiteConfig& c) {
                c.variables["security.auto_block_partners"] = "2";
                c.variables["security.auto_block_for"] = "2h";
                return Status::Ok();
              }).ok());
  StartMain();
  AddPartner("shop-a", /*pull=*/false, "security");
  AddPartner("shop-b", /*pull=*/false, "security");
  const std::string attack = "/?q=%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E";
  for (const std::string id : {"shop-a", "shop-b"}) {
    ASSERT_EQ(StatusOf(HttpGet(PortOf(id), attack, kBrowser)), 403) << id;
  }
  ASSERT_TRUE(WaitFor(
      [&] {
        return RunTieup({"main", "blocklist", "list", main_dir_})
                   .output.find("auto: WAF at shop-a, shop-b") != std::string::npos;
      },
      std::chrono::seconds(30)))
      << RunTieup({"main", "blocklist", "list", main_dir_}).output << Output("main");
  const std::string list = RunTieup({"main", "blocklist", "list", main_dir_}).output;
  EXPECT_THAT(list, AllOf(HasSubstr("127.0.0.1"),
                          HasSubstr("tripped the WAF at 2 partners within an hour")));
  EXPECT_THAT(RunTieup({"main", "alerts", main_dir_}).output,
              HasSubstr("main  auto-blocked: blocked address 127.0.0.1"));
  // Everything from it is refused now, a harmless page too.
  for (const std::string id : {"shop-a", "shop-b"}) {
    ASSERT_TRUE(Answers(id, 403, kBrowser)) << id << ": " << Output(id);
  }
}

TEST_F(BlocklistTest, BadCommandsSayWhatToWrite) {
  CommandResult r = RunTieup({"main", "blocklist", "add", main_dir_, "--address", "example.com"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("write 203.0.113.9, 203.0.113.0/24"));
  r = RunTieup({"main", "blocklist", "add", main_dir_});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("exactly one of --address"));
  r = RunTieup({"main", "blocklist", "add", main_dir_, "--path", "/wp-admin", "--for", "soon"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("--for"));
  r = RunTieup({"main", "blocklist", "remove", main_dir_, "9"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("no entry 9"));
  r = RunTieup({"main", "blocklist", "list", main_dir_});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, AllOf(HasSubstr("(no entries)"), HasSubstr("Nothing signed yet")));
}

}  // namespace
}  // namespace tieup::testing
