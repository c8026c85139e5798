// Integration (issue 15 item 8): advertising, with real `tieup` daemons over loopback. Main's
// layout names its ad slots ({{> ad_main}}, {{> ad_partner}}); main's release ships main's ad
// catalog and the partner puts its own. A partner's page shows each slot as a frame that the
// partner fills with the owner's next ad, records the impression in its ledger, and a click
// goes through the partner (recorded) to the ad's link from the catalog. The partner pushes its
// ledger to main, and main's fee statement charges the advertising contribution by the share
// of ads shown that were main's.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <variant>

#include "base/env.h"
#include "daemon_harness.h"
#include "ledger/log.h"
#include "ledger/records.h"
#include "test_support.h"

namespace tieup::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kLayout[] =
    "<!doctype html><html><head><title>{{title}}</title></head><body>"
    "<main>{{{content}}}</main><aside>{{> ad_main}}</aside><footer>{{> ad_partner}}</footer>"
    "</body></html>\n";

constexpr char kMainAds[] = R"([[ad]]
id = "first-flush"
text = "First flush Darjeeling is in"
image = "/assets/ads/first-flush.svg"
link = "/tea.html"

[[ad]]
id = "tea-school"
text = "Learn to brew <well>"
link = "https://tea.example/school?from=ad"
)";

constexpr char kPartnerAds[] = R"([[ad]]
id = "honey-week"
text = "Local honey week at Shop B"
link = "/local/honey.html"
)";

constexpr char kContract[] = R"(partner = "shop-b"
kind = "contents"
currency = "EUR"
base_fee = 1000
[advertising]
pool_minor = 90000
)";

CommandResult Tieup(const std::vector<std::string>& args) {
  CommandResult r = RunTieup(args);
  EXPECT_EQ(r.exit_code, 0) << args[0] << " " << args[1] << " " << args[2] << ": " << r.output;
  return r;
}

// The frame the partner answers for `owner`'s slot on the page `page`.
std::string Frame(int port, const std::string& owner, const std::string& page) {
  return HttpGet(port, "/tieup-ad/" + owner, {"Referer: http://127.0.0.1" + page});
}

TEST(AdsIntegrationTest, SlotsShowEachOwnersAdsAndTheStatementChargesMainsShare) {
  auto env = NewPosixEnv();
  TempDir dir;
  const std::string main_dir = dir.Sub("main");
  const std::string shop = dir.Sub("shop-b");
  const int main_sync = FreePort();
  const int partner_sync = FreePort();
  Tieup({"main", "init", main_dir, "--name", "Tea House", "--public", "127.0.0.1:0", "--sync",
         "127.0.0.1:" + std::to_string(main_sync)});
  const std::string authoring = main_dir + "/authoring";
  for (const auto& [rel, text] : std::map<std::string, std::string>{
           {"layouts/default.mustache", kLayout},
           {"pages/index.md", "---\ntitle: Welcome\n---\n# Welcome\n"},
           {"pages/.tieup/ads.toml", kMainAds},
           {"assets/ads/first-flush.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>"}}) {
    ASSERT_TRUE(CreateDirs(*env, DirName(authoring + "/" + rel)).ok());
    ASSERT_TRUE(WriteFileAtomic(*env, authoring + "/" + rel, text).ok());
  }
  Daemon main({"main", "serve", main_dir});
  ASSERT_TRUE(main.ok()) << main.output();
  auto r = Tieup({"main", "partner", "add", main_dir, "--id", "shop-b", "--name", "Shop B",
                  "--public-url", "http://shop-b.example/", "--sync-url",
                  "https://127.0.0.1:" + std::to_string(partner_sync)});
  Tieup({"partner", "init", shop, "--id", "shop-b", "--name", "Shop B", "--public", "127.0.0.1:0",
         "--sync", "127.0.0.1:" + std::to_string(partner_sync), "--main",
         "https://127.0.0.1:" + std::to_string(main_sync), "--token",
         FirstMatch(r.output, R"(--token (\S+))")});
  ASSERT_FALSE(HasFailure());

  // The partner's own catalog: checked when put; main's catalog path is main's.
  ASSERT_TRUE(WriteFileAtomic(*env, dir.Sub("bad-ads.toml"), "[[ad]]\nid = \"Honey!\"\n").ok());
  r = RunTieup(
      {"partner", "page", "put", shop, "/.tieup/partner-ads.toml", dir.Sub("bad-ads.toml")});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("bad-ads.toml: ad 1: 'id' must be"));
  ASSERT_TRUE(WriteFileAtomic(*env, dir.Sub("ads.toml"), kPartnerAds).ok());
  r = RunTieup({"partner", "page", "put", shop, "/.tieup/ads.toml", dir.Sub("ads.toml")});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("is main's ad catalog; put your own ads at "
                                  "/.tieup/partner-ads.toml"));
  Tieup({"partner", "page", "put", shop, "/.tieup/partner-ads.toml", dir.Sub("ads.toml")});

  {
    Daemon partner({"partner", "serve", shop});
    ASSERT_TRUE(partner.ok()) << partner.output();
    const int port = partner.port();
    Tieup({"main", "publish", main_dir, "--all"});
    ASSERT_TRUE(WaitFor([&] { return StatusOf(HttpGet(port, "/index.html")) == 200; }))
        << partner.output();

    // The page has both slots as frames; its bytes are main's, whatever ad is shown.
    const std::string page = BodyOf(HttpGet(port, "/index.html"));
    EXPECT_THAT(page, HasSubstr("<aside><iframe class=\"tieup-ad tieup-ad-main\" "
                                "src=\"/tieup-ad/main\""));
    EXPECT_THAT(page, HasSubstr("<footer><iframe class=\"tieup-ad tieup-ad-partner\" "
                                "src=\"/tieup-ad/partner\""));
    // The catalogs themselves are never served.
    EXPECT_EQ(StatusOf(HttpGet(port, "/.tieup/ads.toml")), 404);
    EXPECT_EQ(StatusOf(HttpGet(port, "/.tieup/partner-ads.toml")), 404);

    // Main's ads in turn, each with its click link through the partner; framed by this site
    // only, never cached.
    std::string first = Frame(port, "main", "/index.html");
    ASSERT_EQ(StatusOf(first), 200) << first;
    EXPECT_EQ(HeaderOf(first, "Cache-Control"), "no-store");
    EXPECT_EQ(HeaderOf(first, "X-Frame-Options"), "SAMEORIGIN");
    EXPECT_THAT(HeaderOf(first, "Content-Security-Policy"), HasSubstr("frame-ancestors 'self'"));
    std::string second = Frame(port, "main", "/index.html");
    const std::string both = BodyOf(first) + BodyOf(second);
    EXPECT_THAT(both, HasSubstr("First flush Darjeeling is in"));
    EXPECT_THAT(both, HasSubstr("<img src=\"/assets/ads/first-flush.svg\""));
    EXPECT_THAT(both, HasSubstr("Learn to brew &lt;well&gt;"));
    EXPECT_THAT(both, HasSubstr("href=\"/tieup-ad/click?owner=main&amp;ad=first-flush&amp;"
                                "on=/index.html\" target=\"_top\""));
    EXPECT_EQ(StatusOf(HttpGet(port, "/assets/ads/first-flush.svg")), 200);
    // HEAD shows nothing to anyone: not counted.
    EXPECT_EQ(StatusOf(HttpGet(port, "/tieup-ad/main", {}, "HEAD")), 200);
    const std::string own = BodyOf(Frame(port, "partner", "/index.html"));
    EXPECT_THAT(own, HasSubstr("Local honey week at Shop B"));
    EXPECT_THAT(own, HasSubstr("owner=partner&amp;ad=honey-week"));

    // A click goes to the ad's link from the catalog; an ad that is not there has ended.
    std::string click = HttpGet(port, "/tieup-ad/click?owner=main&ad=first-flush&on=/index.html");
    EXPECT_EQ(StatusOf(click), 303) << click;
    EXPECT_EQ(HeaderOf(click, "Location"), "/tea.html");
    click = HttpGet(port, "/tieup-ad/click?owner=main&ad=tea-school");
    EXPECT_EQ(HeaderOf(click, "Location"), "https://tea.example/school?from=ad");
    click = HttpGet(port, "/tieup-ad/click?owner=partner&ad=first-flush");
    EXPECT_EQ(StatusOf(click), 404);
    EXPECT_THAT(BodyOf(click), HasSubstr("This advertisement has ended"));
    EXPECT_EQ(StatusOf(HttpGet(port, "/tieup-ad/click?owner=main&ad=x&to=https://evil.example")),
              404);
    EXPECT_EQ(StatusOf(HttpGet(port, "/tieup-ad/elsewhere")), 404);
    EXPECT_EQ(partner.Stop(), 0);  // flushes the ledger
  }

  // The partner's ledger: three impressions (two of main's, one of its own) on /index.html
  // and two clicks on main's ads.
  {
    auto log = ledger::Log::Open(*env, shop + "/ledger", {.read_only = true, .tiles = {}});
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    auto entries = (*log)->ReadRange(0, (*log)->size());
    ASSERT_TRUE(entries.ok());
    std::map<std::string, uint64_t> seen;  // "owner ad impressions|clicks path" -> count
    for (const std::string& entry : *entries) {
      auto record = ledger::ParseRecord(entry);
      ASSERT_TRUE(record.ok()) << entry;
      if (!std::holds_alternative<ledger::AdRecord>(*record)) continue;
      const auto& ad = std::get<ledger::AdRecord>(*record);
      seen[std::string(ledger::AdOwnerName(ad.owner)) + " " + ad.ad + " " +
           (ad.clicks > 0 ? "click" : "shown") + " " + ad.path] += ad.impressions + ad.clicks;
    }
    EXPECT_EQ(seen, (std::map<std::string, uint64_t>{{"main first-flush shown /index.html", 1},
                                                     {"main tea-school shown /index.html", 1},
                                                     {"partner honey-week shown /index.html", 1},
                                                     {"main first-flush click /index.html", 1},
                                                     {"main tea-school click ", 1}}));
  }

  // Main's statement: the contribution is the pool times main's share of the ads shown (2 of
  // 3), prorated like the rest of the month when the partnership began in it.
  Tieup({"partner", "ledger", "push", shop});
  ASSERT_TRUE(CreateDirs(*env, main_dir + "/contracts").ok());
  ASSERT_TRUE(WriteFileAtomic(*env, main_dir + "/contracts/shop-b.toml", kContract).ok());
  const std::string period = ThisMonthUtc();
  Tieup({"main", "fees", "statement", main_dir, "--partner", "shop-b", "--period", period});
  const std::string csv = *env->ReadFile(main_dir + "/statements/shop-b-" + period + ".csv");
  EXPECT_THAT(csv, HasSubstr("main_impressions=2;partner_impressions=1;main_share_percent=66.66"))
      << csv;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(csv, m, std::regex(R"(line,advertising,[^\n]*,(\d+)\n)"))) << csv;
  EXPECT_GT(std::stoll(m[1].str()), 0) << csv;
  EXPECT_LE(std::stoll(m[1].str()), 60000) << csv;  // at most 2/3 of the pool
}

}  // namespace
}  // namespace tieup::testing
