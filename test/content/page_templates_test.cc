#include "content/page_templates.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "content/builder.h"
#include "content/content_store.h"
#include "content/site_view.h"
#include "mem_env.h"
#include "test_support.h"

namespace tieup::content {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using ::testing::Not;
using ::tieup::testing::IsOk;
using ::tieup::testing::MemEnv;
using ::tieup::testing::StatusIs;

const EmbeddedTemplates kDefaults = {
    {"hello", "<h1>Hello {{name}}</h1>{{> _sig}}"},
    {"_sig", "<p class=sig>{{sig}}</p>"},
    {"markup", "{{{trusted}}}"},
};

class PageTemplatesTest : public ::testing::Test {
 protected:
  PageTemplatesTest() {
    auto s = ContentStore::Open(env_, "/site", {.keep_releases = 5, .site_id = "shop-b"});
    EXPECT_THAT(s, IsOk());
    store_ = std::move(*s);
    Write("/author/layouts/default.mustache",
          "<html><title>{{title}} | {{site.name}}</title><header>{{partner.name}} "
          "<a href=\"/shop/cart\">Cart <span>{{cart_count}}</span></a></header>"
          "<main>{{{content}}}</main></html>");
    Write("/author/pages/index.md", "# Home\n");
  }

  void Write(const std::string& path, const std::string& text) {
    ASSERT_THAT(CreateDirs(env_, DirName(path)), IsOk());
    ASSERT_THAT(WriteFileAtomic(env_, path, text), IsOk());
  }

  // Builds the authoring directory into a release of `area` and activates it.
  void Publish(Area area = Area::kTieup) {
    BuildOptions o;
    o.authoring_dir = "/author";
    o.area = area;
    o.site = "shop-b";
    o.version = ++version_;
    o.created = 1790000000;
    o.variables = {{"site.name", "Sakura Tea"}, {"partner.name", "Shop <B>"}};
    auto m = BuildRelease(env_, store_->blobs(), o);
    ASSERT_THAT(m, IsOk());
    ASSERT_THAT(store_->Stage(*m), IsOk());
    ASSERT_THAT(store_->Activate(area, m->version), IsOk());
    auto view = SiteView::Load(*store_);
    ASSERT_THAT(view, IsOk());
    view_ = *view;
  }

  PageSite Site() {
    PageSite site;
    site.view = [this] { return view_; };
    site.area = Area::kTieup;
    site.site_name = "Fallback & Co";
    site.warn = [this](const std::string& m) { warnings_.push_back(m); };
    return site;
  }

  MemEnv env_;
  std::unique_ptr<ContentStore> store_;
  std::shared_ptr<const SiteView> view_;
  uint64_t version_ = 0;
  std::vector<std::string> warnings_;
};

TEST_F(PageTemplatesTest, WithoutAReleaseUsesTheBuiltInShell) {
  PageTemplates t(kDefaults, Site());
  auto page = t.Render("hello", {"Hi <there>", 3}, json::object{{"name", "Ada"}, {"sig", "x"}});
  ASSERT_THAT(page, IsOk());
  EXPECT_THAT(*page, HasSubstr("<!doctype html>"));
  EXPECT_THAT(*page, HasSubstr("<title>Hi &lt;there&gt; · Fallback &amp; Co</title>"));
  EXPECT_THAT(*page, HasSubstr("<h1>Hello Ada</h1><p class=sig>x</p>"));
  EXPECT_THAT(*page, HasSubstr("data-cart-count>3</span>"));
  auto no_count = t.Render("hello", {"Hi", std::nullopt}, json::object{});
  ASSERT_THAT(no_count, IsOk());
  EXPECT_THAT(*no_count, HasSubstr("data-cart-count></span>"));
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(PageTemplatesTest, RendersIntoTheShellOfTheActiveRelease) {
  Publish();
  PageTemplates t(kDefaults, Site());
  // The body is inserted as it is, even when it holds text that looks like a marker.
  auto page = t.Render("markup", {"Cart & <co>", 2},
                       json::object{{"trusted", "<p>" + std::string(kShellTitleMarker) + "</p>"}});
  ASSERT_THAT(page, IsOk());
  EXPECT_EQ(*page,
            "<html><title>Cart &amp; &lt;co&gt; | Sakura Tea</title><header>Shop &lt;B&gt; <a "
            "href=\"/shop/cart\">Cart <span>2</span></a></header><main><p>" +
                std::string(kShellTitleMarker) + "</p></main></html>");
  // The static page of the same release leaves the count to the layout's script.
  auto index = view_->ReadBody(*view_->Find("/index.html"));
  ASSERT_THAT(index, IsOk());
  EXPECT_THAT(**index, HasSubstr("Cart <span></span>"));
}

TEST_F(PageTemplatesTest, EscapesDataAsHtmlEscapeDoes) {
  PageTemplates t(kDefaults, Site());
  auto body = t.RenderBody(
      "hello", json::object{{"name", "<script>'x'&\"y\"</script>"}, {"sig", json::array{}}});
  ASSERT_THAT(body, IsOk());
  EXPECT_THAT(*body, HasSubstr("Hello &lt;script&gt;&#39;x&#39;&amp;&quot;y&quot;&lt;/script&gt;"));
  EXPECT_THAT(*body, Not(HasSubstr("<script>")));
  // Numbers and booleans are values; a missing name renders nothing.
  auto values = RenderMustacheJson("{{n}} {{#b}}yes{{/b}}{{^c}}no{{/c}} [{{missing}}]",
                                   json::object{{"n", 42}, {"b", true}, {"c", false}}, "t");
  ASSERT_THAT(values, IsOk());
  EXPECT_EQ(*values, "42 yesno []");
  EXPECT_THAT(RenderMustacheJson("{{#open}}", json::object{}, "t"),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(PageTemplatesTest, TheReleaseMayReplaceTemplatesAndPartials) {
  Write("/author/pages/.tieup/templates/hello.mustache", "<h2>Hi {{name}}</h2>{{> _sig}}");
  Write("/author/pages/.tieup/templates/_sig.mustache", "<footer>{{sig}}</footer>");
  Publish();
  PageTemplates t(kDefaults, Site());
  auto body = t.RenderBody("hello", json::object{{"name", "<Ada>"}, {"sig", "S"}});
  ASSERT_THAT(body, IsOk());
  EXPECT_EQ(*body, "<h2>Hi &lt;Ada&gt;</h2><footer>S</footer>");
  // Only names the handler knows are rendered.
  EXPECT_THAT(t.RenderBody("nope", json::object{}), StatusIs(StatusCode::kNotFound));
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(PageTemplatesTest, ABrokenReplacementFallsBackToTheBuiltInTemplate) {
  Write("/author/pages/.tieup/templates/hello.mustache", "<h2>{{#name}}</h2>");
  Publish();
  PageTemplates t(kDefaults, Site());
  auto body = t.RenderBody("hello", json::object{{"name", "Ada"}, {"sig", "S"}});
  ASSERT_THAT(body, IsOk());
  EXPECT_EQ(*body, "<h1>Hello Ada</h1><p class=sig>S</p>");
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_THAT(warnings_[0], HasSubstr("/.tieup/templates/hello.mustache"));
}

TEST_F(PageTemplatesTest, FilesOfTheOtherAreaAreNotUsed) {
  // A partner's own (original) release cannot restyle main's pages.
  Write("/author/pages/.tieup/templates/hello.mustache", "mine");
  Publish(Area::kOriginal);
  PageTemplates t(kDefaults, Site());
  auto page = t.Render("hello", {"T", 1}, json::object{{"name", "Ada"}, {"sig", "S"}});
  ASSERT_THAT(page, IsOk());
  EXPECT_THAT(*page, HasSubstr("<h1>Hello Ada</h1>"));
  EXPECT_THAT(*page, HasSubstr("Fallback &amp; Co"));  // the built-in shell
  EXPECT_THAT(*page, Not(HasSubstr("Sakura Tea")));
}

TEST_F(PageTemplatesTest, AShellWithoutTheContentMarkerIsNotUsed) {
  Write("/author/layouts/default.mustache", "<html>{{title}} only</html>");
  Publish();
  PageTemplates t(kDefaults, Site());
  std::string page = t.InShell({"T", std::nullopt}, "<p>body</p>");
  EXPECT_THAT(page, HasSubstr("<p>body</p>"));
  EXPECT_THAT(page, HasSubstr("Fallback &amp; Co"));
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_THAT(warnings_[0], HasSubstr("no content marker"));
}

}  // namespace
}  // namespace tieup::content
