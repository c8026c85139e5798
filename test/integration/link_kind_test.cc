// Integration (issue 15 item 2): link entries and partnerships of kind link, against real
// `tieup main serve` and `tieup partner serve` processes over loopback. A browser-like client
// that follows redirects (curl -L) asking a partner for a linked page lands on main's page and
// gets main's bytes; the partnership's link mode `page` shows a page with the link in main's
// layout instead, and a change of mode with `partner set` reaches the partner with the next
// publish (it is signed release metadata); the partner's access ledger records the redirects
// like any tie-up request, with their status.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <variant>

#include "daemon_harness.h"
#include "ledger/log.h"
#include "ledger/records.h"
#include "site/config.h"
#include "sync_harness.h"
#include "test_support.h"

namespace tieup::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kCurl[] = "/usr/bin/curl";

class LinkKindTest : public MainSiteTest {
 protected:
  void SetUp() override {
    MainSiteTest::SetUp();
    if (::testing::Test::HasFatalFailure()) return;
    // Main on a known public port, with its public URL (what kind link points to).
    main_port_ = FreePort();
    main_url_ = "http://127.0.0.1:" + std::to_string(main_port_);
    ASSERT_TRUE(UpdateSiteConfig(*env_, main_dir_, [&](SiteConfig& c) {
                  c.public_address = {"127.0.0.1", static_cast<uint16_t>(main_port_)};
                  c.public_url = main_url_;
                  return Status::Ok();
                }).ok());

    Author("pages/tea.md",
           "---\ntitle: Green tea\n---\n# Green tea\n\nOur sencha from Shizuoka.\n");
    Author("pages/go-tea.md", "---\ntitle: Tea\nmethod: link\nlink_url: " + main_url_ +
                                  "/tea.html\n---\nThis text is never served by a partner.\n");
    Author("assets/unused.png", "not named by the layout");
    StartMain();
  }

  // Enrolls and starts partner `id`; main's daemon must run.
  std::unique_ptr<SiteProcess> StartPartner(const std::string& id,
                                            const std::vector<std::string>& extra) {
    CommandResult init = EnrollNewPartner(main_dir_, main_sync_port_, dir_.Sub(id), id,
                                          "Shop " + id, FreePort(), extra);
    EXPECT_EQ(init.exit_code, 0) << init.output;
    auto p =
        std::make_unique<SiteProcess>(std::vector<std::string>{"partner", "serve", dir_.Sub(id)});
    EXPECT_TRUE(p->Start()) << p->output();
    return p;
  }

  // What a browser ends on after following every redirect from `url`: "<final URL> <number
  // of redirects> <status>", and the body in *body.
  std::string Follow(const std::string& url, std::string* body) {
    const std::string out = dir_.Sub("curl-body");
    CommandResult r = RunProgram({kCurl, "-sS", "-L", "--max-redirs", "5", "-o", out, "-w",
                                  "%{url_effective} %{num_redirects} %{http_code}", url},
                                 "");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    auto bytes = env_->ReadFile(out);
    *body = bytes.ok() ? *bytes : "";
    return r.output;
  }

  std::string PartnerUrl(SiteProcess& p, const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(p.port()) + path;
  }

  int main_port_ = 0;
  std::string main_url_;
};

TEST_F(LinkKindTest, ABrowserLandsOnMainsPageAndTheModeIsThePartnershipsChoice) {
  ASSERT_TRUE(::testing::internal::FilePath(kCurl).FileOrDirectoryExists())
      << "this test drives curl -L as the browser";
  ASSERT_EQ(main_->port(), main_port_);
  auto link = StartPartner("shop-l", {"--kind", "link"});
  auto contents = StartPartner("shop-c", {});
  CommandResult pub = RunTieup({"main", "publish", main_dir_, "--all"});
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  ASSERT_THAT(pub.output, HasRegex(R"(shop-l\s+version 1\s+activated)")) << pub.output;

  const std::string main_tea = BodyOf(HttpGet(main_port_, "/tea.html"));
  ASSERT_THAT(main_tea, HasSubstr("Our sencha from Shizuoka"));

  // Kind link: the partner answers 302 to main's page; the browser ends there with main's
  // bytes.
  ASSERT_TRUE(WaitFor([&] { return StatusOf(HttpGet(link->port(), "/tea.html")) == 302; }))
      << HttpGet(link->port(), "/tea.html");
  std::string raw = HttpGet(link->port(), "/tea.html?cup=2");
  EXPECT_EQ(StatusOf(raw), 302);
  EXPECT_EQ(HeaderOf(raw, "Location"), main_url_ + "/tea.html?cup=2");  // the query goes along
  std::string body;
  EXPECT_EQ(Follow(PartnerUrl(*link, "/tea.html"), &body), main_url_ + "/tea.html 1 200");
  EXPECT_EQ(body, main_tea);
  // HEAD: the same answer without a body.
  raw = HttpGet(link->port(), "/tea.html", {}, "HEAD");
  EXPECT_EQ(StatusOf(raw), 302);
  EXPECT_EQ(HeaderOf(raw, "Location"), main_url_ + "/tea.html");
  EXPECT_EQ(BodyOf(raw), "");
  // The assets the layout names are copies on the partner; the others are links.
  raw = HttpGet(link->port(), "/assets/style.css");
  EXPECT_EQ(StatusOf(raw), 200);
  EXPECT_EQ(BodyOf(raw), BodyOf(HttpGet(main_port_, "/assets/style.css")));
  EXPECT_EQ(StatusOf(HttpGet(link->port(), "/assets/unused.png")), 302);

  // A contents partner: its one `method: link` page is a link to main, the others copies.
  ASSERT_TRUE(WaitFor([&] { return StatusOf(HttpGet(contents->port(), "/go-tea.html")) == 302; }));
  EXPECT_EQ(Follow(PartnerUrl(*contents, "/go-tea.html"), &body), main_url_ + "/tea.html 1 200");
  EXPECT_EQ(body, main_tea);
  EXPECT_THAT(body, Not(HasSubstr("never served")));
  raw = HttpGet(contents->port(), "/tea.html");
  EXPECT_EQ(StatusOf(raw), 200);
  EXPECT_THAT(BodyOf(raw), HasSubstr("Our sencha from Shizuoka"));

  // The mode `page`, set on main, reaches the partner with the next publish.
  CommandResult set =
      RunTieup({"main", "partner", "set", main_dir_, "shop-l", "--link-mode", "page"});
  ASSERT_EQ(set.exit_code, 0) << set.output;
  EXPECT_THAT(set.output, HasSubstr("link mode: redirect -> page"));
  pub = RunTieup({"main", "publish", main_dir_, "--partner", "shop-l"});
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  EXPECT_THAT(pub.output, HasRegex(R"(shop-l\s+version 2\s+activated)")) << pub.output;
  ASSERT_TRUE(WaitFor([&] { return StatusOf(HttpGet(link->port(), "/tea.html")) == 200; }))
      << HttpGet(link->port(), "/tea.html");
  raw = HttpGet(link->port(), "/tea.html");
  const std::string page = BodyOf(raw);
  EXPECT_EQ(HeaderOf(raw, "Location"), "");
  EXPECT_THAT(page, HasSubstr("This page is on 127.0.0.1:" + std::to_string(main_port_)));
  EXPECT_THAT(page, HasSubstr("href=\"" + main_url_ + "/tea.html\""));
  EXPECT_THAT(page, HasSubstr("<link rel=\"stylesheet\" href=\"/assets/style.css\">"));
  EXPECT_THAT(page, HasSubstr("Sakura Tea"));   // main's layout, with main's name
  EXPECT_THAT(page, Not(HasSubstr("sencha")));  // no copy of the page
  EXPECT_THAT(RunTieup({"main", "events", main_dir_, "--partner", "shop-l"}).output,
              HasRegex(R"(shop-l\s+changed\s+settings changed by command line .*link mode: )"
                       R"(redirect -> page)"));

  // The partner's access ledger has the redirects as tie-up requests, with their status.
  const std::string shop_c = dir_.Sub("shop-c");
  EXPECT_EQ(contents->Stop(), 0);  // flushes the ledger
  auto log = ledger::Log::Open(*env_, shop_c + "/ledger", {.read_only = true, .tiles = {}});
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  auto entries = (*log)->ReadRange(0, (*log)->size());
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  int redirects = 0;
  for (const std::string& entry : *entries) {
    auto record = ledger::ParseRecord(entry);
    if (!record.ok() || !std::holds_alternative<ledger::AccessRecord>(*record)) continue;
    const auto& access = std::get<ledger::AccessRecord>(*record);
    if (access.path != "/go-tea.html") continue;
    EXPECT_EQ(access.area, ledger::RecordArea::kTieup);
    EXPECT_EQ(access.status, 302);
    EXPECT_EQ(access.method, "GET");
    ++redirects;
  }
  EXPECT_GE(redirects, 2);  // the waits above and curl's request
}

TEST_F(LinkKindTest, APartnerManagerReviewsWhereTheLinksGoBeforeApproving) {
  auto shop = StartPartner(
      "shop-m", {"--kind", "link", "--approval", "manager", "--link-mode", "redirect-301"});
  CommandResult pub = RunTieup({"main", "publish", main_dir_, "--partner", "shop-m"});
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  CommandResult pending = RunTieup({"partner", "pending", dir_.Sub("shop-m")});
  ASSERT_EQ(pending.exit_code, 0) << pending.output;
  std::smatch update, link;
  ASSERT_TRUE(std::regex_search(pending.output, update, std::regex(R"(Update (u\d+):)")))
      << pending.output;
  ASSERT_TRUE(std::regex_search(pending.output, link,
                                std::regex(R"((/\.tieup/preview/[A-Za-z0-9_-]{22}/1/))")))
      << pending.output;
  // The preview of a link says where a visitor will land, and how.
  std::string raw = HttpGet(shop->port(), link[1].str() + "tea.html");
  EXPECT_EQ(StatusOf(raw), 200);
  EXPECT_THAT(BodyOf(raw),
              HasSubstr("serves /tea.html as a link to " + main_url_ + "/tea.html (redirect-301)"));

  CommandResult approve = RunTieup({"partner", "approve", dir_.Sub("shop-m"), update[1].str()});
  ASSERT_EQ(approve.exit_code, 0) << approve.output;
  ASSERT_TRUE(WaitFor([&] { return StatusOf(HttpGet(shop->port(), "/tea.html")) == 301; }))
      << HttpGet(shop->port(), "/tea.html");
  EXPECT_EQ(HeaderOf(HttpGet(shop->port(), "/tea.html"), "Location"), main_url_ + "/tea.html");
}

TEST_F(LinkKindTest, ALinkPartnerIsRefusedWhileMainHasNoPublicUrl) {
  // Without public_url, main cannot say where the links go: the publish fails naming it.
  main_->Stop();
  ASSERT_TRUE(UpdateSiteConfig(*env_, main_dir_, [](SiteConfig& c) {
                c.public_url.clear();
                return Status::Ok();
              }).ok());
  StartMain();
  auto link = StartPartner("shop-l", {"--kind", "link"});
  CommandResult pub = RunTieup({"main", "publish", main_dir_, "--partner", "shop-l"});
  EXPECT_NE(pub.exit_code, 0) << pub.output;
  EXPECT_THAT(pub.output, HasSubstr("set public_url in the [site] table of main's site.toml"));
}

}  // namespace
}  // namespace tieup::testing
