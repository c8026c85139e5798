// Integration: the site search (site/site_search.h) on real daemons over loopback. A partner's
// search finds main's tie-up pages and its own original pages, in English and Japanese, with the
// products' current price and stock; the index follows main's updates and the partner's own
// edits; bad queries get clear pages and nothing is reflected unescaped; searches reach main's
// ledger copy, where `tieup main searches` lists those that found nothing.
#include <gtest/gtest.h>

#include <chrono>

#include "base/env.h"
#include "daemon_harness.h"
#include "test_support.h"

namespace tieup::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kLayout[] =
    "<!doctype html><html><head><title>{{title}} | {{site.name}}</title></head><body>"
    "<header class=\"brand\">Tea House{{#partner.name}} at {{partner.name}}{{/partner.name}}"
    "<form action=\"/search\" role=\"search\"><input type=\"search\" name=\"q\"></form>"
    "</header><main>{{{content}}}</main><footer>Tea House Co.</footer></body></html>\n";

constexpr char kSencha[] =
    "---\ntitle: Sencha\nproducts: TEA-1\n---\n# {{product.title}}\n\n"
    "A bright first-flush tea from Shizuoka. 静岡の新茶です。\n\n"
    "<form method=\"post\" action=\"/shop/cart/add\"><input type=\"hidden\" name=\"sku\" "
    "value=\"TEA-1\"><button>Add</button></form>\n";

// "/search?q=..." with the words percent-encoded.
std::string Search(const std::string& words, const std::string& extra = "") {
  std::string target = "/search?q=";
  static const char* kHex = "0123456789ABCDEF";
  for (unsigned char c : words) {
    if (std::isalnum(c) != 0 || c == '-' || c == '.') {
      target += static_cast<char>(c);
    } else {
      target += '%';
      target += kHex[c >> 4];
      target += kHex[c & 15];
    }
  }
  return target + extra;
}

class SearchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    main_dir = dir.Sub("main");
    shop_dir = dir.Sub("shop-b");
    const int main_sync = FreePort(), partner_sync = FreePort();
    ASSERT_NE(main_sync, 0);
    ASSERT_NE(partner_sync, 0);
    Run({"main", "init", main_dir, "--name", "Tea House", "--public", "127.0.0.1:0", "--sync",
         "127.0.0.1:" + std::to_string(main_sync)});
    Write("authoring/layouts/default.mustache", kLayout);
    Write("authoring/pages/products/TEA-1.md", kSencha);
    Write("authoring/pages/news/harvest.md",
          "---\ntitle: The harvest\n---\n# The harvest\n\nPicking began in the hills of Uji "
          "this week.\n");
    Run({"main", "product", "add", main_dir, "--sku", "TEA-1", "--title", "Sencha", "--price",
         "12.50", "--stock", "3", "--page", "/products/TEA-1.html", "--category", "green tea"});
    Run({"main", "build", main_dir});
    ASSERT_TRUE(LiftPerClientRequestRate(main_dir));
    main_ = std::make_unique<Daemon>(std::vector<std::string>{"main", "serve", main_dir});
    ASSERT_TRUE(main_->ok()) << main_->output();

    auto r = Run({"main", "partner", "add", main_dir, "--id", "shop-b", "--name", "Shop B",
                  "--public-url", "http://shop-b.example/", "--sync-url",
                  "https://127.0.0.1:" + std::to_string(partner_sync)});
    const std::string code = FirstMatch(r.output, R"(--token (\S+))");
    ASSERT_FALSE(code.empty()) << r.output;
    Run({"partner", "init", shop_dir, "--id", "shop-b", "--name", "Shop B", "--public",
         "127.0.0.1:0", "--sync", "127.0.0.1:" + std::to_string(partner_sync), "--main",
         "https://127.0.0.1:" + std::to_string(main_sync), "--token", code});
    original = dir.Sub("original");
    ASSERT_TRUE(CreateDirs(*env_, original).ok());
    PutOriginal(
        "<html><head><title>Wagashi</title></head><body><header>Shop B</header>"
        "<h1>Wagashi of the season</h1><p>季節の和菓子を、お茶と一緒にどうぞ。 "
        "Hand-made sweets from Osaka.</p></body></html>");
    ASSERT_TRUE(LiftPerClientRequestRate(shop_dir));
    partner = std::make_unique<Daemon>(std::vector<std::string>{"partner", "serve", shop_dir});
    ASSERT_TRUE(partner->ok()) << partner->output();
    Run({"main", "publish", main_dir, "--all"});
    ASSERT_TRUE(WaitForSearch(partner->port(), "sencha", "/products/TEA-1.html"))
        << partner->output();
  }

  void Write(const std::string& rel, const std::string& text) {
    const std::string path = main_dir + "/" + rel;
    ASSERT_TRUE(CreateDirs(*env_, DirName(path)).ok());
    ASSERT_TRUE(WriteFileAtomic(*env_, path, text).ok());
  }

  void PutOriginal(const std::string& html) {
    ASSERT_TRUE(WriteFileAtomic(*env_, original + "/wagashi.html", html).ok());
    Run({"partner", "page", "put", shop_dir, "/local/", original});
  }

  CommandResult Run(const std::vector<std::string>& args) {
    CommandResult r = RunTieup(args);
    EXPECT_EQ(r.exit_code, 0) << args[0] << " " << args[1] << ": " << r.output;
    return r;
  }

  // Waits (up to 20 s) until searching `words` on `port` lists a result at `path` (a state: the
  // index caught up with an activation).
  bool WaitForSearch(int port, const std::string& words, const std::string& path) {
    return WaitFor(
        [&] {
          const std::string r = HttpGet(port, Search(words));
          return StatusOf(r) == 200 &&
                 r.find("class=\"search-path\">" + path + "<") != std::string::npos;
        },
        std::chrono::seconds(20));
  }

  std::unique_ptr<Env> env_ = NewPosixEnv();
  TempDir dir;
  std::string main_dir, shop_dir, original;
  std::unique_ptr<Daemon> main_, partner;
};

TEST_F(SearchTest, APartnerFindsTieupAndOwnPagesAndProductsInEnglishAndJapanese) {
  // A product page of main's, in the partner's copy of main's layout, with price and stock.
  std::string r = HttpGet(partner->port(), Search("sencha"));
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_THAT(r, HasSubstr("<title>Search: sencha | Tea House</title>"));
  EXPECT_THAT(r, HasSubstr("Tea House at Shop B"));
  EXPECT_THAT(r, HasSubstr("1 page found"));
  EXPECT_THAT(r, HasSubstr("href=\"/search/go?to=/products/TEA-1.html&amp;q=sencha\""));
  EXPECT_THAT(r, HasSubstr("<span class=\"search-price\">"));
  EXPECT_THAT(r, HasSubstr("Only 3 left"));
  // A word of the text: highlighted in the snippet.
  r = HttpGet(partner->port(), Search("shizuoka"));
  EXPECT_THAT(r, HasSubstr("tea from <mark>Shizuoka</mark>"));
  EXPECT_EQ(HeaderOf(r, "Cache-Control"), "no-store");
  // By SKU and category, and in Japanese.
  EXPECT_TRUE(WaitForSearch(partner->port(), "tea-1", "/products/TEA-1.html"));
  EXPECT_TRUE(WaitForSearch(partner->port(), "green", "/products/TEA-1.html"));
  EXPECT_TRUE(WaitForSearch(partner->port(), "新茶", "/products/TEA-1.html"));
  // Its own original page, in Japanese and English, marked as its own.
  r = HttpGet(partner->port(), Search("和菓子"));
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_THAT(r, HasSubstr("class=\"search-path\">/local/wagashi.html<"));
  EXPECT_THAT(r, HasSubstr("this shop's own page"));
  EXPECT_TRUE(WaitForSearch(partner->port(), "sweets", "/local/wagashi.html"));
  // English stemming: "picked" finds "Picking"... by its stem "pick".
  EXPECT_TRUE(WaitForSearch(partner->port(), "picked", "/news/harvest.html"));
  // Several words as a form sends them ('+' for a space): every word must match.
  r = HttpGet(partner->port(), "/search?q=first-flush+shizuoka");
  EXPECT_THAT(r, HasSubstr("class=\"search-path\">/products/TEA-1.html<")) << r;
  r = HttpGet(partner->port(), "/search?q=shizuoka+osaka");
  EXPECT_THAT(r, HasSubstr("Nothing on this site matches <strong>shizuoka osaka</strong>"));
  // Filtered by area.
  r = HttpGet(partner->port(), Search("sweets", "&area=tieup"));
  EXPECT_THAT(r, HasSubstr("Nothing on this site matches"));
  // The layout's repeated parts are not what pages are found by.
  r = HttpGet(partner->port(), Search("footer co"));
  EXPECT_THAT(r, HasSubstr("Nothing on this site matches"));
  // A misspelling: "did you mean".
  r = HttpGet(partner->port(), Search("senchaa"));
  EXPECT_THAT(r, HasSubstr("Did you mean <a href=\"/search?q=sencha\">sencha</a>?"));
  // Main searches its own pages.
  EXPECT_TRUE(WaitForSearch(main_->port(), "sencha", "/products/TEA-1.html"));
  r = HttpGet(main_->port(), Search("和菓子"));
  EXPECT_THAT(r, HasSubstr("Nothing on this site matches"));

  // A click is recorded and leads to the page; nothing else is a redirect target.
  r = HttpGet(partner->port(), "/search/go?to=/products/TEA-1.html&q=sencha");
  EXPECT_EQ(StatusOf(r), 303) << r;
  EXPECT_EQ(HeaderOf(r, "Location"), "/products/TEA-1.html");
  for (const char* to : {"https://evil.example/", "//evil.example/x", "/nothing.html",
                         "/.tieup/routing.json", "%2F%2Fevil.example%2F"}) {
    r = HttpGet(partner->port(), std::string("/search/go?to=") + to);
    EXPECT_EQ(StatusOf(r), 404) << to << r;
    EXPECT_EQ(HeaderOf(r, "Location"), "") << to;
  }
  // What looks like an attack does not even reach the search (the WAF in front refuses it).
  r = HttpGet(partner->port(), "/search/go?to=javascript:alert(1)");
  EXPECT_EQ(StatusOf(r), 403) << r;
  EXPECT_EQ(HeaderOf(r, "Location"), "");
}

TEST_F(SearchTest, TheIndexFollowsMainsUpdatesAndThePartnersOwnEdits) {
  // Main changes the news page: the old words go, the new ones come.
  Write("authoring/pages/news/harvest.md",
        "---\ntitle: The harvest\n---\n# The harvest\n\nGenmaicha is back in the shops.\n");
  Run({"main", "publish", main_dir, "--all"});
  ASSERT_TRUE(WaitForSearch(partner->port(), "genmaicha", "/news/harvest.html"))
      << partner->output();
  std::string r = HttpGet(partner->port(), Search("uji"));
  EXPECT_THAT(r, HasSubstr("Nothing on this site matches"));
  // The partner manager edits its own page.
  PutOriginal("<h1>Wagashi of the season</h1><p>Now with yuzu daifuku.</p>");
  ASSERT_TRUE(WaitForSearch(partner->port(), "daifuku", "/local/wagashi.html"))
      << partner->output();
  r = HttpGet(partner->port(), Search("和菓子"));
  EXPECT_THAT(r, HasSubstr("Nothing on this site matches"));
  // The daemon logs each pass: one page each time, not the whole site.
  EXPECT_THAT(partner->output(), HasSubstr("search: 1 page(s) indexed, 0 removed"));

  // A damaged index (every file overwritten) is rebuilt from the served pages at start.
  ASSERT_EQ(partner->Stop(), 0);
  std::vector<FileInfo> files = *env_->ListDir(shop_dir + "/search");
  ASSERT_FALSE(files.empty());
  for (const FileInfo& f : files) {
    ASSERT_TRUE(WriteFileAtomic(*env_, shop_dir + "/search/" + f.name, "damaged").ok());
  }
  partner = std::make_unique<Daemon>(std::vector<std::string>{"partner", "serve", shop_dir});
  ASSERT_TRUE(partner->ok()) << partner->output();
  ASSERT_TRUE(WaitForSearch(partner->port(), "daifuku", "/local/wagashi.html"))
      << partner->output();
  EXPECT_TRUE(WaitForSearch(partner->port(), "genmaicha", "/news/harvest.html"));
  EXPECT_THAT(partner->output(), HasSubstr("building it again"));
}

TEST_F(SearchTest, BadQueriesGetClearPagesAndNothingIsReflectedUnescaped) {
  // Markup in the words is shown as text (a script is refused before, by the WAF).
  std::string r = HttpGet(partner->port(), Search("<i>tea</i> & \"cake\" 'x'"));
  ASSERT_EQ(StatusOf(r), 200) << r;
  EXPECT_THAT(r, Not(HasSubstr("<i>tea")));
  EXPECT_THAT(r, HasSubstr("&lt;i&gt;tea&lt;/i&gt; &amp; &quot;cake&quot; &#39;x&#39;"));
  r = HttpGet(partner->port(), Search("<script>alert(1)</script>"));
  EXPECT_EQ(StatusOf(r), 403);
  EXPECT_THAT(r, Not(HasSubstr("<script>alert(1)")));
  r = HttpGet(partner->port(), "/search");
  EXPECT_EQ(StatusOf(r), 200);
  EXPECT_THAT(r, HasSubstr("Type a word or two above"));
  r = HttpGet(partner->port(), Search(std::string(300, 'a')));
  EXPECT_EQ(StatusOf(r), 400);
  EXPECT_THAT(r, HasSubstr("Your search is too long: use at most 200 characters"));
  r = HttpGet(partner->port(), "/search?q=gyok%FF%FE");
  EXPECT_EQ(StatusOf(r), 400);
  EXPECT_THAT(r, HasSubstr("characters that could not be read"));
  // A broken percent-escape: the WAF refuses it before the search reads it (the search's own
  // 400 for a query it cannot read is behind it).
  r = HttpGet(partner->port(), "/search?q=gy%zzok");
  EXPECT_EQ(StatusOf(r), 403);
  EXPECT_THAT(r, Not(HasSubstr("search-results")));
  // A plus the visitor typed arrives as %2B and stays a plus ('+' alone is a space).
  r = HttpGet(partner->port(), "/search?q=c%2B%2B+tea");
  EXPECT_EQ(StatusOf(r), 200);
  EXPECT_THAT(r, HasSubstr("matches <strong>c++ tea</strong>"));
  for (const char* page : {"0", "abc", "101", "-1", "99999999999999999999"}) {
    r = HttpGet(partner->port(), Search("sencha", std::string("&page=") + page));
    EXPECT_EQ(StatusOf(r), 400) << page;
    EXPECT_THAT(r, HasSubstr("There is no such page of results")) << page;
  }
  r = HttpGet(partner->port(), Search("sencha", "&page=5"));
  EXPECT_EQ(StatusOf(r), 200);
  EXPECT_THAT(r, HasSubstr("There are no more results."));
  r = HttpGet(partner->port(), Search("sencha", "&area=elsewhere"));
  EXPECT_EQ(StatusOf(r), 400);
  // Operators and stray quotes are words like others.
  for (const char* q : {"\"sencha", "sencha AND", "(", "-", "* *", "NOT"}) {
    EXPECT_EQ(StatusOf(HttpGet(partner->port(), Search(q))), 200) << q;
  }
  EXPECT_NE(StatusOf(HttpGet(partner->port(), "/search", {}, "POST")), 200);
  // The daemon still serves.
  EXPECT_TRUE(WaitForSearch(partner->port(), "sencha", "/products/TEA-1.html"));
}

TEST_F(SearchTest, ZeroResultSearchesReachMainPerPartner) {
  ASSERT_EQ(StatusOf(HttpGet(partner->port(), Search("kukicha"))), 200);
  ASSERT_EQ(StatusOf(HttpGet(partner->port(), Search("Kukicha"))), 200);
  ASSERT_EQ(StatusOf(HttpGet(partner->port(), Search("sencha"))), 200);
  // The partner ships its ledger to main (pushed here on demand; the daemon pushes at its
  // interval): wait for main's copy to list the searches.
  std::string out;
  ASSERT_TRUE(WaitFor(
      [&] {
        RunTieup({"partner", "ledger", "push", shop_dir});
        out = RunTieup({"main", "searches", main_dir}).output;
        return out.find("ukicha") != std::string::npos;
      },
      std::chrono::seconds(30)))
      << out;
  EXPECT_THAT(out, HasSubstr("shop-b"));
  // Both spellings counted as one query: "2" searches, the latest spelling shown.
  EXPECT_THAT(out, ::testing::ContainsRegex(R"( 2 +[^ ]+ +"Kukicha")")) << out;
  EXPECT_THAT(out, Not(HasSubstr("sencha")));  // it found something
}

}  // namespace
}  // namespace tieup::testing
