// Integration (issue 15 item 3): kind `template` and pages written in Markdown, against real
// `tieup main serve` and `tieup partner serve` processes. Main's signed release to a template
// partner holds its layouts and look, not its pages; the partner's manager puts a Markdown page
// with `tieup partner page put`, and the partner serves it rendered in main's layout, and again
// in main's new layout after the next update. A contents partner's Markdown original page is
// served as HTML in its site's layout too (the built-in one before main's first release).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>

#include "daemon_harness.h"
#include "sync_harness.h"
#include "test_support.h"

namespace tieup::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kLayout[] =
    "<!doctype html><html><head><title>{{title}}</title></head><body>"
    "<header>Sakura Tea for {{partner.name}}</header>{{{content}}}"
    "<footer>look {{look}}</footer></body></html>";

class TemplateKindTest : public MainSiteTest {
 protected:
  void SetUp() override {
    MainSiteTest::SetUp();
    Layout("1");
    Author("pages/about.md", "---\ntitle: About\n---\nMain's own about page\n");
    Author("assets/site.css", "body { color: #333; }\n");
  }
  void Layout(const std::string& look) {
    std::string text = kLayout;
    text.replace(text.find("{{look}}"), 8, look);
    Author("layouts/default.mustache", text);
  }
  // Enrolls and starts partner `id`; main's daemon must run.
  std::unique_ptr<SiteProcess> StartPartner(const std::string& id, const std::string& name,
                                            const std::vector<std::string>& extra) {
    CommandResult init =
        EnrollNewPartner(main_dir_, main_sync_port_, dir_.Sub(id), id, name, FreePort(), extra);
    EXPECT_EQ(init.exit_code, 0) << init.output;
    auto p =
        std::make_unique<SiteProcess>(std::vector<std::string>{"partner", "serve", dir_.Sub(id)});
    EXPECT_TRUE(p->Start()) << p->output();
    return p;
  }
  CommandResult Publish() { return RunTieup({"main", "publish", main_dir_, "--all"}); }
  // `tieup partner page put DIR PATH FILE` with `text` in FILE.
  CommandResult PagePut(const std::string& id, const std::string& path, const std::string& text) {
    const std::string file = dir_.Sub("page-" + id) + path.substr(path.rfind('/'));
    EXPECT_TRUE(CreateDirs(*env_, DirName(file)).ok());
    Status written = WriteFileAtomic(*env_, file, text);
    EXPECT_TRUE(written.ok()) << written.ToString();
    return RunTieup({"partner", "page", "put", dir_.Sub(id), path, file});
  }
  std::string Page(SiteProcess& p, const std::string& path) {
    return BodyOf(HttpGet(p.port(), path));
  }
  bool Serves(SiteProcess& p, const std::string& path, const std::string& text) {
    return WaitFor([&] { return Page(p, path).find(text) != std::string::npos; },
                   std::chrono::seconds(10));
  }
};

TEST_F(TemplateKindTest, TheManagersMarkdownPageWearsMainsLayoutAndItsNextOne) {
  StartMain();
  auto t = StartPartner("shop-t", "Tea Corner", {"--kind", "template"});
  CommandResult pub = Publish();
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  ASSERT_THAT(pub.output, HasRegex(R"(shop-t\s+version 1\s+activated)")) << pub.output;
  // Main's look is inherited, main's pages are not; the layouts are not served to browsers.
  ASSERT_TRUE(Serves(*t, "/assets/site.css", "color: #333"));
  EXPECT_EQ(StatusOf(HttpGet(t->port(), "/about.html")), 404);
  EXPECT_EQ(StatusOf(HttpGet(t->port(), "/.tieup/layouts/default.tmpl")), 404);
  CommandResult ls = RunTieup({"partner", "page", "ls", dir_.Sub("shop-t")});
  EXPECT_EQ(ls.exit_code, 0) << ls.output;
  EXPECT_THAT(ls.output, Not(HasSubstr("/.tieup/"))) << ls.output;  // machine files, no pages

  // The partner's manager writes a page of the partner's own in Markdown.
  CommandResult put = PagePut("shop-t", "/news.md",
                              "---\ntitle: Tea news\n---\n# This week\n\n"
                              "New *sencha* | price\n---|---\nasamushi | 1200\n");
  ASSERT_EQ(put.exit_code, 0) << put.output;
  EXPECT_THAT(put.output, HasSubstr("/news.md is served at /news.html, in the site's layout"));
  ASSERT_TRUE(Serves(*t, "/news.html", "look 1")) << Page(*t, "/news.html");
  const std::string news = Page(*t, "/news.html");
  EXPECT_THAT(news, AllOf(HasSubstr("<title>Tea news</title>"),
                          HasSubstr("<header>Sakura Tea for Tea Corner</header>"),
                          HasSubstr("<h1>This week</h1>"), HasSubstr("<em>sencha</em>"),
                          HasSubstr("<td>asamushi</td>")));
  // A link to the source lands on the page.
  const std::string moved = HttpGet(t->port(), "/news.md");
  EXPECT_EQ(StatusOf(moved), 301) << moved;
  EXPECT_EQ(HeaderOf(moved, "Location"), "/news.html");
  EXPECT_THAT(RunTieup({"partner", "page", "ls", dir_.Sub("shop-t")}).output,
              HasRegex(R"(original .*/news\.html \(from /news\.md\))"));

  // Main ships a new look: the partner's page is rendered again in it, by the partner.
  Layout("2");
  pub = Publish();
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  ASSERT_THAT(pub.output, HasRegex(R"(shop-t\s+version 2\s+activated)")) << pub.output;
  EXPECT_TRUE(Serves(*t, "/news.html", "look 2")) << Page(*t, "/news.html");
  EXPECT_THAT(Page(*t, "/news.html"),
              AllOf(HasSubstr("<h1>This week</h1>"), Not(HasSubstr("look 1"))));

  // A page main's release does not have the layout of: the default one, and the manager is told.
  put = PagePut("shop-t", "/wide.md", "---\ntitle: Wide\nlayout: wide\n---\nWide text\n");
  ASSERT_EQ(put.exit_code, 0) << put.output;
  EXPECT_THAT(put.output, HasSubstr("layout 'wide' is not in main's release"));
  EXPECT_TRUE(Serves(*t, "/wide.html", "Wide text"));
  // Removing the page removes its source and its rendering.
  CommandResult rm = RunTieup({"partner", "page", "rm", dir_.Sub("shop-t"), "/news.html"});
  ASSERT_EQ(rm.exit_code, 0) << rm.output;
  EXPECT_TRUE(WaitFor([&] { return StatusOf(HttpGet(t->port(), "/news.html")) == 404; },
                      std::chrono::seconds(10)));
  EXPECT_EQ(StatusOf(HttpGet(t->port(), "/news.md")), 404);
}

TEST_F(TemplateKindTest, AContentsPartnersMarkdownOriginalIsServedAsHtmlInTheSitesLayout) {
  StartMain();
  auto c = StartPartner("shop-c", "Green Leaf", {});
  // Before main's first release: the plain built-in layout, with the partner's name.
  CommandResult put = PagePut("shop-c", "/local/hello.md", "# Hello from Green Leaf\n\nWelcome.\n");
  ASSERT_EQ(put.exit_code, 0) << put.output;
  ASSERT_TRUE(Serves(*c, "/local/hello.html", "<h1>Hello from Green Leaf</h1>"));
  const std::string before = HttpGet(c->port(), "/local/hello.html");
  EXPECT_THAT(HeaderOf(before, "Content-Type"), HasSubstr("text/html"));
  EXPECT_THAT(BodyOf(before), AllOf(HasSubstr("<title>Hello from Green Leaf"),
                                    HasSubstr("Green Leaf"), Not(HasSubstr("look 1"))));

  // Main's first release: the page is rendered again in main's layout (its page shell).
  CommandResult pub = Publish();
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  ASSERT_THAT(pub.output, HasRegex(R"(shop-c\s+version 1\s+activated)")) << pub.output;
  EXPECT_TRUE(Serves(*c, "/about.html", "Main's own about page"));  // contents: inherited
  EXPECT_TRUE(Serves(*c, "/local/hello.html", "look 1")) << Page(*c, "/local/hello.html");
  EXPECT_THAT(Page(*c, "/local/hello.html"),
              AllOf(HasSubstr("<header>Sakura Tea for Green Leaf</header>"),
                    HasSubstr("<h1>Hello from Green Leaf</h1>")));
  // A Markdown page at a tie-up page's address is refused, naming it.
  put = PagePut("shop-c", "/about.md", "Mine\n");
  EXPECT_NE(put.exit_code, 0);
  EXPECT_THAT(put.output, HasSubstr("'/about.html', a tie-up page managed by the main site"));
}

}  // namespace
}  // namespace tieup::testing
