#include "content/markdown_page.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "content/builder.h"
#include "content/page_templates.h"
#include "content_test_util.h"
#include "test_support.h"

namespace tieup::content {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::tieup::content::testing::Publish;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

constexpr char kLayoutV1[] =
    "<html><title>{{title}}</title><h1>{{partner.name}}</h1>{{{content}}}<i>v1</i></html>";
constexpr char kLayoutV2[] =
    "<html><b>{{title}} at {{partner.name}}</b>{{{content}}}<i>v2</i></html>";

class OwnPagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = ContentStore::Open(*env_, dir_.Sub("site"), {.keep_releases = 5, .site_id = "shop-t"});
    ASSERT_THAT(s, IsOk());
    store_ = std::move(s).value();
    Write("author/pages/index.md", "Main's own front page\n");
    Write("author/assets/site.css", "body{}");
  }
  void Write(const std::string& rel, const std::string& text) {
    const std::string path = dir_.Sub(rel);
    ASSERT_THAT(CreateDirs(*env_, DirName(path)), IsOk());
    ASSERT_THAT(WriteFileAtomic(*env_, path, text), IsOk());
  }
  // Main's release of kind template with `layout` as its default layout, built as main builds
  // it, staged and activated on the partner.
  void ShipLayout(uint64_t version, const std::string& layout) {
    Write("author/layouts/default.mustache", layout);
    BuildOptions o;
    o.authoring_dir = dir_.Sub("author");
    o.area = Area::kTieup;
    o.site = "shop-t";
    o.version = version;
    o.created = env_->NowSeconds();
    o.expires = env_->NowSeconds() + 3600;
    o.variables = {{"partner.name", "Tea Corner"}};
    o.only_overridden_pages = true;
    o.layout_shells = true;
    auto m = BuildRelease(*env_, store_->blobs(), o);
    ASSERT_THAT(m, IsOk());
    ASSERT_THAT(Publish(*store_, *m), IsOk());
  }
  std::string Body(const std::string& path) {
    auto active = store_->Active(Area::kOriginal);
    if (!active.ok() || !(*active)->files.contains(path)) return "(none)";
    const FileEntry& e = (*active)->files.at(path);
    auto body = store_->blobs().Get(e.hash, e.length);
    return body.ok() ? *body : "(unreadable)";
  }
  Result<OwnPagesResult> Put(const std::string& path, const std::string& bytes) {
    OwnPagesChange change;
    change.put.push_back({path, bytes, ""});
    return UpdateOwnPages(*env_, *store_, change, options_);
  }

  std::unique_ptr<Env> env_ = NewPosixEnv();
  TempDir dir_;
  std::unique_ptr<ContentStore> store_;
  const OwnPagesOptions options_{"Tea Corner", "shop-t"};
};

TEST_F(OwnPagesTest, ATemplateReleaseHoldsMainsLayoutsAsShellsAndNoPageOfMains) {
  ShipLayout(1, kLayoutV1);
  auto tieup = store_->Active(Area::kTieup);
  ASSERT_THAT(tieup, IsOk());
  EXPECT_TRUE((*tieup)->files.contains("/.tieup/layouts/default.tmpl"));
  EXPECT_TRUE((*tieup)->files.contains("/assets/site.css"));
  EXPECT_FALSE((*tieup)->files.contains("/index.html"));
  const FileEntry& shell = (*tieup)->files.at("/.tieup/layouts/default.tmpl");
  EXPECT_EQ(shell.content_type, "application/octet-stream");  // not a page
  auto bytes = store_->blobs().Get(shell.hash, shell.length);
  ASSERT_THAT(bytes, IsOk());
  EXPECT_THAT(*bytes, AllOf(HasSubstr("<h1>Tea Corner</h1>"), HasSubstr(kShellContentMarker)));
}

TEST_F(OwnPagesTest, AMarkdownPageIsRenderedIntoMainsLayoutAndItsSourceKept) {
  ShipLayout(1, kLayoutV1);
  const std::string source = "---\ntitle: News & more\n---\n# Hi\n\n*new* tea\n";
  auto r = Put("/news.md", source);
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE(r->changed);
  ASSERT_EQ(r->pages.size(), 1u);
  EXPECT_EQ(r->pages[0].path, "/news.html");
  EXPECT_EQ(r->pages[0].shell, "main's layout 'default'");
  EXPECT_EQ(Body("/news.html"),
            "<html><title>News &amp; more</title><h1>Tea Corner</h1><h1>Hi</h1>\n"
            "<p><em>new</em> tea</p>\n<i>v1</i></html>");
  EXPECT_EQ(Body("/news.md"), source);
  auto active = store_->Active(Area::kOriginal);
  ASSERT_THAT(active, IsOk());
  EXPECT_EQ((*active)->files.at("/news.html").content_type, "text/html; charset=utf-8");
  EXPECT_TRUE(IsOwnPage(*store_, "/news.html"));
  EXPECT_TRUE(IsOwnPage(*store_, "/news.md"));

  // The same page again: nothing to write.
  auto again = Put("/news.md", source);
  ASSERT_THAT(again, IsOk());
  EXPECT_FALSE(again->changed);
  EXPECT_EQ(again->version, r->version);
}

TEST_F(OwnPagesTest, EveryOwnPageIsRenderedAgainWhenMainShipsANewLayout) {
  ShipLayout(1, kLayoutV1);
  ASSERT_THAT(Put("/news.md", "---\ntitle: News\n---\nFresh\n"), IsOk());
  // An HTML fragment: its source is kept aside, its page has its name.
  ASSERT_THAT(Put("/offer.html", "---\ntitle: Offer\n---\n<p>50% off</p>"), IsOk());
  ASSERT_THAT(store_->PutOriginalPage("/plain.html", "<p>as is</p>", "text/html; charset=utf-8"),
              IsOk());
  EXPECT_THAT(Body("/offer.html"), AllOf(HasSubstr("<p>50% off</p>"), HasSubstr("v1")));
  EXPECT_EQ(Body("/.tieup/own/offer.html"), "---\ntitle: Offer\n---\n<p>50% off</p>");

  ShipLayout(2, kLayoutV2);
  auto r = RenderOwnPages(*env_, *store_, options_);
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE(r->changed);
  EXPECT_EQ(Body("/news.html"), "<html><b>News at Tea Corner</b><p>Fresh</p>\n<i>v2</i></html>");
  EXPECT_EQ(Body("/offer.html"), "<html><b>Offer at Tea Corner</b><p>50% off</p><i>v2</i></html>");
  EXPECT_EQ(Body("/plain.html"), "<p>as is</p>");  // a whole page of its own: as it was put

  // Rendered already: nothing to write.
  auto again = RenderOwnPages(*env_, *store_, options_);
  ASSERT_THAT(again, IsOk());
  EXPECT_FALSE(again->changed);

  // A Markdown original put before own pages existed (or by other tools) is rendered too.
  ASSERT_THAT(store_->PutOriginalPage("/old.md", "# Old\n", "application/octet-stream"), IsOk());
  ASSERT_THAT(RenderOwnPages(*env_, *store_, options_), IsOk());
  EXPECT_EQ(Body("/old.html"), "<html><b>Old at Tea Corner</b><h1>Old</h1>\n<i>v2</i></html>");
}

TEST_F(OwnPagesTest, WithoutMainsReleaseThePlainBuiltInLayout) {
  auto r = Put("/local/about.md", "# About us\n\nWe sell tea.\n");
  ASSERT_THAT(r, IsOk());
  ASSERT_EQ(r->pages.size(), 1u);
  EXPECT_EQ(r->pages[0].shell, "the built-in layout");
  EXPECT_THAT(Body("/local/about.html"),
              AllOf(HasSubstr("<title>About us · Tea Corner</title>"),
                    HasSubstr("<h1>About us</h1>"), HasSubstr("<p>We sell tea.</p>")));
  // 'layout: none': the body is the whole page.
  ASSERT_THAT(Put("/bare.md", "---\nlayout: none\n---\nJust this\n"), IsOk());
  EXPECT_EQ(Body("/bare.html"), "<p>Just this</p>\n");
}

TEST_F(OwnPagesTest, ALayoutMainDoesNotShipIsNotedAndTheDefaultUsed) {
  ShipLayout(1, kLayoutV1);
  auto r = Put("/wide.md", "---\ntitle: Wide\nlayout: wide\n---\nText\n");
  ASSERT_THAT(r, IsOk());
  ASSERT_EQ(r->notes.size(), 1u);
  EXPECT_THAT(r->notes[0], HasSubstr("/wide.md: layout 'wide' is not in main's release"));
  EXPECT_THAT(Body("/wide.html"), HasSubstr("<i>v1</i>"));
}

TEST_F(OwnPagesTest, RefusesWhatCannotBeServedAndWritesNothing) {
  Write("author/assets/x.html", "<p>main's</p>");
  ShipLayout(1, kLayoutV1);
  // A page only main uses a key of.
  EXPECT_THAT(Put("/a.md", "---\nproducts: SENCHA\n---\nx\n"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("'title' and 'layout' only")));
  EXPECT_THAT(Put("/a.md", "---\ntitle: x\n"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("never closed")));
  // Served at a tie-up page's address.
  EXPECT_THAT(Put("/assets/x.md", "x"),
              StatusIs(StatusCode::kPermissionDenied,
                       HasSubstr("'/assets/x.md' would be served at '/assets/x.html', a tie-up "
                                 "page")));
  EXPECT_THAT(store_->Active(Area::kOriginal), StatusIs(StatusCode::kNotFound));
  // Taking the address of a whole page of the site's own: it is replaced, and that is said.
  ASSERT_THAT(store_->PutOriginalPage("/p.html", "<p>p</p>", "text/html; charset=utf-8"), IsOk());
  auto replaced = Put("/p.md", "Mine now\n");
  ASSERT_THAT(replaced, IsOk());
  EXPECT_THAT(replaced->notes, ElementsAre("/p.md: replaces the page that was at /p.html"));
  EXPECT_THAT(Body("/p.html"), HasSubstr("<p>Mine now</p>"));
  ASSERT_THAT(store_->PutOriginalPage("/q.html", "<p>q</p>", "text/html; charset=utf-8"), IsOk());
  auto before = store_->Active(Area::kOriginal);
  ASSERT_THAT(before, IsOk());
  // Removing what is no own page.
  OwnPagesChange rm;
  rm.remove = {"/q.html"};
  EXPECT_THAT(UpdateOwnPages(*env_, *store_, rm, options_), StatusIs(StatusCode::kNotFound));
  auto after = store_->Active(Area::kOriginal);
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ((*after)->version, (*before)->version);
}

TEST_F(OwnPagesTest, RemovingAPageByEitherNameRemovesSourceAndPage) {
  ASSERT_THAT(Put("/news.md", "News\n"), IsOk());
  ASSERT_THAT(Put("/offer.html", "---\n---\n<p>o</p>"), IsOk());
  OwnPagesChange rm;
  rm.remove = {"/news.html", "/offer.html"};
  ASSERT_THAT(UpdateOwnPages(*env_, *store_, rm, options_), IsOk());
  for (const char* path : {"/news.md", "/news.html", "/offer.html", "/.tieup/own/offer.html"}) {
    EXPECT_EQ(Body(path), "(none)") << path;
  }
}

TEST_F(OwnPagesTest, AnIncrementalBuildKeepsTheLayoutShellsCurrent) {
  Write("author/layouts/default.mustache", kLayoutV1);
  Write("author/layouts/wide.mustache", "<div class=wide>{{{content}}}</div>");
  BuildOptions o;
  o.authoring_dir = dir_.Sub("author");
  o.site = "shop-t";
  o.variables = {{"partner.name", "Tea Corner"}};
  o.only_overridden_pages = true;
  o.layout_shells = true;
  BlobStore& blobs = store_->blobs();
  auto first = BuildReleaseIncremental(*env_, blobs, o, {}, nullptr);
  ASSERT_THAT(first, IsOk());
  EXPECT_TRUE(first->manifest.files.contains("/.tieup/layouts/wide.tmpl"));
  EXPECT_TRUE(first->manifest.files.contains("/.tieup/layouts/default.tmpl"));
  EXPECT_TRUE(first->manifest.files.contains(std::string(kPageShellPath)));

  // Nothing changed: every source reused, the same release.
  o.version = 2;
  auto same = BuildReleaseIncremental(*env_, blobs, o, {&first->manifest, &first->inputs}, nullptr);
  ASSERT_THAT(same, IsOk());
  EXPECT_EQ(same->rendered, 0u);
  EXPECT_EQ(same->manifest.files, first->manifest.files);

  // A layout removed: its shell goes, as a full build leaves it out.
  ASSERT_THAT(env_->RemoveFile(dir_.Sub("author/layouts/wide.mustache")), IsOk());
  o.version = 3;
  auto fewer = BuildReleaseIncremental(*env_, blobs, o, {&same->manifest, &same->inputs}, nullptr);
  ASSERT_THAT(fewer, IsOk());
  auto full = BuildReleaseIncremental(*env_, blobs, o, {}, nullptr);
  ASSERT_THAT(full, IsOk());
  EXPECT_FALSE(fewer->manifest.files.contains("/.tieup/layouts/wide.tmpl"));
  EXPECT_EQ(fewer->manifest.Encode(), full->manifest.Encode());

  // Without the option (kind contents): no layout shells.
  o.layout_shells = false;
  auto contents = BuildReleaseIncremental(*env_, blobs, o, {}, nullptr);
  ASSERT_THAT(contents, IsOk());
  EXPECT_FALSE(contents->manifest.files.contains("/.tieup/layouts/default.tmpl"));
}

TEST(ParsePageFrontMatterTest, ReadsTitleAndLayoutAndTellsMainsKeys) {
  size_t body_start = 0;
  auto fm = ParsePageFrontMatter("---\ntitle: T\nlayout: wide\nproducts: *\n---\nBody", "p.md",
                                 &body_start);
  ASSERT_THAT(fm, IsOk());
  EXPECT_EQ(fm->title, "T");
  EXPECT_EQ(fm->layout, "wide");
  EXPECT_TRUE(fm->has_products);
  EXPECT_FALSE(fm->has_method);
  EXPECT_EQ(std::string("---\ntitle: T\nlayout: wide\nproducts: *\n---\nBody").substr(body_start),
            "Body");
}

TEST(OwnPageNamesTest, MarkdownAndFragmentsAreSources) {
  EXPECT_TRUE(IsOwnPageSource("/a.md", "x"));
  EXPECT_TRUE(IsOwnPageSource("/a.html", "---\ntitle: a\n---\n<p>"));
  EXPECT_FALSE(IsOwnPageSource("/a.html", "<!doctype html>"));
  EXPECT_FALSE(IsOwnPageSource("/a.png", "---\n"));
  EXPECT_EQ(OwnPageServedPath("/local/index.md"), "/local/index.html");
  EXPECT_EQ(OwnPageServedPath("/a.html"), "/a.html");
}

}  // namespace
}  // namespace tieup::content
