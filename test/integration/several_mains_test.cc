// Integration (issue 15 item 7): one partner trading with three main sites, against real
// `tieup main serve` and `tieup partner serve` processes over loopback. The partner enrolls with
// main A (its first main: the whole tie-up area), then with main B (a tie-up area on a host name
// of its own) and main C (a path prefix), each with its own sync port, pinned CA and root key.
// Each main's pages are served on the partner's one public port in that main's area; a path that
// two mains would both publish is refused when offered, naming both; each main's access records
// go to that main's stream; and main A revoking the partner stops A's updates while B keeps
// publishing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <regex>
#include <variant>

#include "daemon_harness.h"
#include "ledger/log.h"
#include "ledger/records.h"
#include "sync_harness.h"
#include "test_support.h"

namespace tieup::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kHostB[] = "books.shop-a.test";

// GET `target` from 127.0.0.1:port with the Host header `host`.
std::string GetFromHost(int port, const std::string& host, const std::string& target) {
  return RawExchange(
      port, "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n");
}

class SeveralMainsTest : public MainSiteTest {
 protected:
  // A further main site: made by `tieup main init`, its authoring given by `author`, started.
  struct OtherMain {
    std::string dir;
    int sync_port = 0;
    std::unique_ptr<SiteProcess> process;
  };
  OtherMain StartOtherMain(const std::string& name, const std::string& title) {
    OtherMain m;
    m.dir = dir_.Sub(name);
    std::string output;
    m.sync_port = InitMainSite(m.dir, title, &output);
    EXPECT_NE(m.sync_port, 0) << output;
    return m;
  }
  void WriteAuthoring(const std::string& main_dir, const std::string& rel,
                      const std::string& text) {
    const std::string path = main_dir + "/authoring/" + rel;
    ASSERT_TRUE(CreateDirs(*env_, DirName(path)).ok());
    ASSERT_TRUE(WriteFileAtomic(*env_, path, text).ok());
  }
  // `tieup main partner add` on `main_dir` for shop-a taking updates on `sync_port`: the code.
  std::string AddShopA(const std::string& main_dir, int sync_port) {
    CommandResult add = AddPartnership(main_dir, "shop-a", "Shop A", sync_port);
    const std::string code = EnrollmentCodeOf(add.output);
    EXPECT_FALSE(code.empty()) << add.output;
    return code;
  }
  // `tieup partner enroll` of the partner's directory with main at `main_sync_port`.
  CommandResult Enroll(const std::string& code, int main_sync_port,
                       const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"partner",
                                     "enroll",
                                     partner_dir_,
                                     "--main",
                                     "https://127.0.0.1:" + std::to_string(main_sync_port),
                                     "--token",
                                     code};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunTieup(args);
  }

  std::string partner_dir_;
};

TEST_F(SeveralMainsTest, EachMainPublishesInItsOwnAreaAndOneRevokingLeavesTheOthers) {
  Author("pages/tea.md", "---\ntitle: Green tea\n---\n# Green tea\n\nSencha from Shizuoka.\n");
  StartMain();
  partner_dir_ = dir_.Sub("shop-a");
  CommandResult init =
      EnrollNewPartner(main_dir_, main_sync_port_, partner_dir_, "shop-a", "Shop A", FreePort());
  ASSERT_EQ(init.exit_code, 0) << init.output;

  // Main B: a bookshop; main C: Kyoto guides, served by the partner under /kyoto/.
  OtherMain b = StartOtherMain("main-b", "Kyoto Books");
  WriteAuthoring(b.dir, "pages/tea.md", "---\ntitle: Tea books\n---\n# Tea books\n\nOkakura.\n");
  b.process = std::make_unique<SiteProcess>(std::vector<std::string>{"main", "serve", b.dir});
  ASSERT_TRUE(b.process->Start()) << b.process->output();
  OtherMain c = StartOtherMain("main-c", "Kyoto Guide");
  WriteAuthoring(c.dir, "pages/index.md",
                 "---\ntitle: Kyoto\n---\n# Kyoto\n\nTemples and tea houses.\n");
  // Long enough (over 1 KiB) to be published with a gzip variant.
  WriteAuthoring(c.dir, "pages/tea.md",
                 "---\ntitle: Uji tea\n---\n# Uji tea\n\nMatcha. [Home](/)\n\n" +
                     std::string(1500, 'x') + "\n");
  c.process = std::make_unique<SiteProcess>(std::vector<std::string>{"main", "serve", c.dir});
  ASSERT_TRUE(c.process->Start()) << c.process->output();

  // A further main needs an area and a sync port of its own; the first main's port is refused.
  const int port_b = FreePort();
  const std::string sync_b = "127.0.0.1:" + std::to_string(port_b);
  const std::string code_b = AddShopA(b.dir, port_b);
  CommandResult refused = Enroll(code_b, b.sync_port, {});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.output, HasSubstr("to trade with a further main too, give it a tie-up area"));
  refused = Enroll(code_b, b.sync_port, {"--sync-address", sync_b});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.output, HasSubstr("a further main needs exactly one tie-up area"));
  refused = Enroll(code_b, b.sync_port, {"--area-host", kHostB});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.output, HasSubstr("--sync-address HOST:PORT"));
  CommandResult enrolled =
      Enroll(code_b, b.sync_port, {"--area-host", kHostB, "--sync-address", sync_b});
  ASSERT_EQ(enrolled.exit_code, 0) << enrolled.output;
  EXPECT_THAT(enrolled.output, HasSubstr("its tie-up area is the host books.shop-a.test"));
  const std::string dir_b = partner_dir_ + "/mains/books-shop-a-test";
  EXPECT_TRUE(env_->FileExists(dir_b + "/keys/sync.key"));
  EXPECT_TRUE(env_->FileExists(dir_b + "/keys/root.pub"));
  // Main C takes a path prefix.
  const int port_c = FreePort();
  enrolled = Enroll(AddShopA(c.dir, port_c), c.sync_port,
                    {"--area-prefix", "/kyoto/", "--sync-address",
                     "127.0.0.1:" + std::to_string(port_c), "--approval", "manager"});
  ASSERT_EQ(enrolled.exit_code, 0) << enrolled.output;
  const std::string dir_c = partner_dir_ + "/mains/kyoto";
  // An area overlapping a further main's, or a page the site serves, is refused before the
  // code is used (this one is not even valid).
  const std::string no_code = "x." + std::string(64, 'a');
  auto enroll_area = [&](const std::vector<std::string>& area) {
    std::vector<std::string> args = {
        "partner", "enroll", partner_dir_,     "--main",     "https://127.0.0.1:1",
        "--token", no_code,  "--sync-address", "127.0.0.1:1"};
    args.insert(args.end(), area.begin(), area.end());
    return RunTieup(args);
  };
  refused = enroll_area({"--area-prefix", "/kyoto/temples/"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.output, HasSubstr("overlaps the tie-up area /kyoto/ of main at"));
  refused = enroll_area({"--area-host", kHostB});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.output, HasSubstr("host books.shop-a.test is already the area of"));
  refused = enroll_area({"--area-prefix", "/Kyoto/"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.output, HasSubstr("may hold only lower-case letters"));
  CommandResult status = RunTieup({"partner", "status", partner_dir_});
  EXPECT_THAT(status.output, HasSubstr("Further mains"));
  EXPECT_THAT(status.output, HasSubstr("tie-up area for host books.shop-a.test"));
  EXPECT_THAT(status.output, HasSubstr("tie-up area /kyoto/"));

  auto partner =
      std::make_unique<SiteProcess>(std::vector<std::string>{"partner", "serve", partner_dir_});
  ASSERT_TRUE(partner->Start()) << partner->output();

  // Each main publishes; each main's page is served in its own area of the one public port.
  CommandResult pub = RunTieup({"main", "publish", main_dir_, "--all"});
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  EXPECT_THAT(pub.output, HasRegex(R"(shop-a\s+version 1\s+activated)")) << pub.output;
  pub = RunTieup({"main", "publish", b.dir, "--all"});
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  EXPECT_THAT(pub.output, HasRegex(R"(shop-a\s+version 1\s+activated)")) << pub.output;
  pub = RunTieup({"main", "publish", c.dir, "--all"});
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  EXPECT_THAT(pub.output, HasRegex(R"(shop-a\s+version 1\s+pending_approval)")) << pub.output;
  const int port = partner->port();

  // Main C's update waits for the partner manager, who previews it under /kyoto/: the link
  // names the partner's port and the prefix, and the preview's links stay in it.
  CommandResult pending = RunTieup({"partner", "pending", dir_c});
  ASSERT_EQ(pending.exit_code, 0) << pending.output;
  std::smatch link;
  ASSERT_TRUE(
      std::regex_search(pending.output, link,
                        std::regex("preview: http://127\\.0\\.0\\.1:" + std::to_string(port) +
                                   R"((/kyoto/\.tieup/preview/[A-Za-z0-9_-]{22}/1/))")))
      << pending.output;
  const std::string preview = BodyOf(HttpGet(port, link[1].str()));
  EXPECT_THAT(preview, HasSubstr("Preview of version 1: not live."));
  EXPECT_THAT(preview, HasSubstr("Temples and tea houses"));
  EXPECT_THAT(preview, HasSubstr("href=\"" + link[1].str() + "assets/style.css\""));
  EXPECT_EQ(StatusOf(HttpGet(port, link[1].str() + "assets/style.css")), 200);
  EXPECT_EQ(StatusOf(HttpGet(port, "/kyoto/index.html")), 503);  // "opening soon": not live
  const std::string u = UpdateIdOf(pub.output, "shop-a");
  ASSERT_FALSE(u.empty()) << pub.output;
  CommandResult approve = RunTieup({"partner", "approve", dir_c, u});
  ASSERT_EQ(approve.exit_code, 0) << approve.output;

  ASSERT_TRUE(WaitFor([&] {
    return BodyOf(HttpGet(port, "/tea.html")).find("Sencha") != std::string::npos &&
           BodyOf(GetFromHost(port, kHostB, "/tea.html")).find("Okakura") != std::string::npos &&
           StatusOf(HttpGet(port, "/kyoto/index.html")) == 200;
  })) << HttpGet(port, "/tea.html")
      << GetFromHost(port, kHostB, "/tea.html");
  EXPECT_THAT(BodyOf(HttpGet(port, "/tea.html")), HasSubstr("Sakura Tea"));
  EXPECT_THAT(BodyOf(GetFromHost(port, "Books.Shop-A.test:8080", "/tea.html")),
              HasSubstr("Kyoto Books"));  // the host in any case, with a port
  // Main C published its site as it publishes it to every partner ("/index.html", its layout's
  // "/assets/style.css"); the partner serves it under /kyoto/, its links moved there.
  const std::string kyoto = BodyOf(HttpGet(port, "/kyoto/index.html"));
  EXPECT_THAT(kyoto, HasSubstr("Temples and tea houses"));
  EXPECT_THAT(kyoto, HasSubstr("href=\"/kyoto/assets/style.css\""));
  EXPECT_THAT(kyoto, HasSubstr("href=\"/kyoto/shop/cart\""));
  EXPECT_THAT(kyoto, Not(HasSubstr("\"/assets/style.css\"")));
  EXPECT_EQ(StatusOf(HttpGet(port, "/kyoto/assets/style.css")), 200);
  EXPECT_THAT(BodyOf(HttpGet(port, "/kyoto/tea.html")), HasSubstr("Matcha"));
  // A browser asks for gzip: the page comes as text with its links moved, not as main's gzip
  // variant with its links as they were.
  const std::string tea = HttpGet(port, "/kyoto/tea.html", {"Accept-Encoding: gzip"});
  EXPECT_THAT(tea, Not(HasSubstr("Content-Encoding")));
  EXPECT_THAT(tea, HasSubstr("href=\"/kyoto/\">Home</a>"));
  EXPECT_THAT(tea, HasSubstr("href=\"/kyoto/assets/style.css\""));
  EXPECT_THAT(BodyOf(HttpGet(port, "/tea.html")), HasSubstr("Sencha"));  // main A's
  EXPECT_THAT(HttpGet(port, "/kyoto"), HasSubstr("Location: /kyoto/"));

  // Main A may not publish in main C's area: refused when offered, naming both mains.
  Author("pages/kyoto/tea.md", "---\ntitle: Kyoto tea\n---\n# Kyoto tea\n");
  pub = RunTieup({"main", "publish", main_dir_, "--all"});
  EXPECT_THAT(pub.output, HasSubstr("'/kyoto/tea.html', which lies in the tie-up area /kyoto/ of "
                                    "main at https://127.0.0.1:" +
                                    std::to_string(c.sync_port)))
      << pub.output;
  EXPECT_THAT(pub.output,
              HasSubstr("main at https://127.0.0.1:" + std::to_string(main_sync_port_)));
  EXPECT_THAT(BodyOf(HttpGet(port, "/kyoto/tea.html")), HasSubstr("Matcha"));  // still C's
  ASSERT_TRUE(RemoveTree(*env_, main_dir_ + "/authoring/pages/kyoto").ok());
  // Main A revokes the partner: its updates stop; main B keeps publishing.
  CommandResult revoke = RunTieup({"main", "partner", "revoke", main_dir_, "shop-a"});
  ASSERT_EQ(revoke.exit_code, 0) << revoke.output;
  Author("pages/tea.md", "---\ntitle: Green tea\n---\n# Green tea\n\nNew harvest.\n");
  pub = RunTieup({"main", "publish", main_dir_, "--all"});
  EXPECT_THAT(pub.output, Not(HasRegex(R"(shop-a\s+version 2\s+activated)"))) << pub.output;
  WriteAuthoring(b.dir, "pages/tea.md",
                 "---\ntitle: Tea books\n---\n# Tea books\n\nThe Book of Tea, new edition.\n");
  pub = RunTieup({"main", "publish", b.dir, "--all"});
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  EXPECT_THAT(pub.output, HasRegex(R"(shop-a\s+version 2\s+activated)")) << pub.output;
  ASSERT_TRUE(WaitFor([&] {
    return BodyOf(GetFromHost(port, kHostB, "/tea.html")).find("new edition") != std::string::npos;
  })) << GetFromHost(port, kHostB, "/tea.html");
  EXPECT_THAT(BodyOf(HttpGet(port, "/tea.html")), Not(HasSubstr("New harvest")));
  status = RunTieup({"partner", "status", dir_b});
  EXPECT_THAT(status.output, HasSubstr("version 2")) << status.output;

  // The access records of each main's area, in that main's stream (read while the daemon
  // writes: -1 when the ledger cannot be read).
  auto count = [&](const std::string& dir, const std::string& path) {
    auto log = ledger::Log::Open(*env_, dir + "/ledger", {.read_only = true, .tiles = {}});
    if (!log.ok()) return -1;
    auto entries = (*log)->ReadRange(0, (*log)->size());
    if (!entries.ok()) return -1;
    int n = 0;
    for (const std::string& entry : *entries) {
      auto record = ledger::ParseRecord(entry);
      if (!record.ok() || !std::holds_alternative<ledger::AccessRecord>(*record)) continue;
      if (std::get<ledger::AccessRecord>(*record).path == path) ++n;
    }
    return n;
  };

  // Main B receives the records of its area over its own channel and bills them.
  ASSERT_TRUE(WaitFor([&] { return count(dir_b, "/tea.html") >= 2; }));
  CommandResult push = RunTieup({"partner", "ledger", "push", dir_b});
  ASSERT_EQ(push.exit_code, 0) << push.output;
  EXPECT_THAT(push.output, HasRegex(R"(main holds [1-9]\d* verified entries)")) << push.output;
  ASSERT_TRUE(CreateDirs(*env_, b.dir + "/contracts").ok());
  ASSERT_TRUE(WriteFileAtomic(*env_, b.dir + "/contracts/shop-a.toml",
                              "partner = \"shop-a\"\nkind = \"contents\"\ncurrency = \"JPY\"\n"
                              "base_fee = 1000\n")
                  .ok());
  const std::string period = ThisMonthUtc();
  CommandResult statement =
      RunTieup({"main", "fees", "statement", b.dir, "--partner", "shop-a", "--period", period});
  ASSERT_EQ(statement.exit_code, 0) << statement.output;
  const std::string csv = *env_->ReadFile(b.dir + "/statements/shop-a-" + period + ".csv");
  EXPECT_THAT(csv, HasRegex(R"(\nday,\d{4}-\d{2}-\d{2},,tieup=[1-9]\d*;original=0,)")) << csv;

  // Each main's access records went to its own stream.
  ASSERT_EQ(partner->Stop(), 0);  // flushes the ledgers
  const int a_tea = count(partner_dir_, "/tea.html");
  const int b_tea = count(dir_b, "/tea.html");
  EXPECT_GE(a_tea, 2);
  EXPECT_GE(b_tea, 2);
  EXPECT_EQ(count(partner_dir_, "/kyoto/index.html"), 0);
  EXPECT_GE(count(dir_c, "/kyoto/index.html"), 2);
  EXPECT_GE(count(dir_c, "/kyoto/tea.html"), 2);
  EXPECT_EQ(count(dir_c, "/tea.html"), 0);
}

}  // namespace
}  // namespace tieup::testing
