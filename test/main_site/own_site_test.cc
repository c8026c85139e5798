#include "main_site/own_site.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_support.h"

namespace tieup {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::IsOk;
using ::tieup::testing::TempDir;

class OwnSiteTest : public ::testing::Test {
 protected:
  OwnSiteTest() : env_(NewPosixEnv()) {
    config_.role = SiteRole::kMain;
    config_.id = "main";
    config_.name = "Main Shop";
    Write("authoring/layouts/default.mustache", "<title>{{title}}</title>{{{content}}}");
    for (int i = 0; i < 20; ++i) {
      Write("authoring/pages/p" + std::to_string(i) + ".md", "Page " + std::to_string(i) + "\n");
    }
    Write("authoring/assets/site.css", "body{}\n");
    SiteContentOptions o;
    o.site_id = "main";
    o.serve = false;
    auto c = SiteContent::Open(*env_, dir_.path(), o);
    EXPECT_THAT(c.status(), IsOk());
    content_ = std::move(*c);
  }

  void Write(const std::string& rel, const std::string& data) {
    const std::string path = dir_.Sub(rel);
    ASSERT_THAT(CreateDirs(*env_, DirName(path)), IsOk());
    ASSERT_THAT(WriteFileAtomic(*env_, path, data), IsOk());
  }

  OwnSiteBuild Build() {
    auto b = BuildOwnSite(*env_, config_, *content_, nullptr);
    EXPECT_THAT(b.status(), IsOk());
    return b.ok() ? *b : OwnSiteBuild{};
  }

  std::string Served(const std::string& path) {
    std::string out;
    EXPECT_THAT(content_->Mutate([&](content::ContentStore& store) -> Status {
      ASSIGN_OR_RETURN(auto active, store.Active(content::Area::kOriginal));
      const content::FileEntry& e = active->files.at(path);
      ASSIGN_OR_RETURN(out, store.blobs().Get(e.hash, e.length));
      return Status::Ok();
    }),
                IsOk());
    return out;
  }

  TempDir dir_;
  std::unique_ptr<Env> env_;
  SiteConfig config_;
  std::unique_ptr<SiteContent> content_;
};

TEST_F(OwnSiteTest, RebuildsRenderOnlyWhatChanged) {
  OwnSiteBuild first = Build();
  EXPECT_TRUE(first.changed);
  EXPECT_EQ(first.rendered, 21u);
  OwnSiteBuild again = Build();
  EXPECT_FALSE(again.changed);
  EXPECT_EQ(again.rendered, 0u);
  EXPECT_EQ(again.version, first.version);

  Write("authoring/pages/p3.md", "Page three, edited\n");
  OwnSiteBuild edited = Build();
  EXPECT_TRUE(edited.changed);
  EXPECT_EQ(edited.rendered, 1u);
  EXPECT_EQ(edited.changed_files, 1u);
  EXPECT_THAT(Served("/p3.html"), HasSubstr("Page three, edited"));

  config_.name = "Main Shop Renamed";  // a variable: every page again, the stylesheet not
  EXPECT_EQ(Build().rendered, 20u);
}

TEST_F(OwnSiteTest, AMissingOrDamagedInputsCacheOnlyMeansAFullRender) {
  Build();
  const std::string cache = dir_.Sub("cache/own-site.inputs");
  ASSERT_TRUE(env_->FileExists(cache));
  ASSERT_THAT(WriteFileAtomic(*env_, cache, "1\ngarbage"), IsOk());
  OwnSiteBuild damaged = Build();
  EXPECT_EQ(damaged.rendered, 21u);
  EXPECT_FALSE(damaged.changed);    // same bytes as before
  EXPECT_EQ(Build().rendered, 0u);  // and the cache is whole again

  ASSERT_THAT(env_->RemoveFile(cache), IsOk());
  Write("authoring/pages/p4.md", "Page four, edited\n");
  OwnSiteBuild removed = Build();
  EXPECT_EQ(removed.rendered, 21u);
  EXPECT_THAT(Served("/p4.html"), HasSubstr("Page four, edited"));
}

// A new main site's pages link the cart with its count, and its front page shows how a product
// page names its product (the example is shown as it is written, not rendered).
TEST(StarterAuthoringTest, ANewSiteLinksTheCartAndShowsAProductPage) {
  TempDir dir;
  auto env = NewPosixEnv();
  SiteConfig config;
  config.role = SiteRole::kMain;
  config.id = "main";
  config.name = "Sakura Tea";
  ASSERT_THAT(WriteStarterAuthoring(*env, dir.Sub("authoring")), IsOk());
  SiteContentOptions o;
  o.site_id = "main";
  o.serve = false;
  auto content = SiteContent::Open(*env, dir.path(), o);
  ASSERT_THAT(content.status(), IsOk());
  ASSERT_THAT(BuildOwnSite(*env, config, **content, nullptr).status(), IsOk());
  std::string index;
  ASSERT_THAT((*content)->Mutate([&](content::ContentStore& store) -> Status {
    ASSIGN_OR_RETURN(auto active, store.Active(content::Area::kOriginal));
    EXPECT_TRUE(active->files.contains("/assets/cart.js"));
    EXPECT_TRUE(active->files.contains("/404.html"));
    const content::FileEntry& e = active->files.at("/index.html");
    ASSIGN_OR_RETURN(index, store.blobs().Get(e.hash, e.length));
    return Status::Ok();
  }),
              IsOk());
  EXPECT_THAT(index, HasSubstr("<h1>Welcome to Sakura Tea</h1>"));
  EXPECT_THAT(index, HasSubstr("href=\"/shop/cart\">Cart <span class=\"cart-count\""));
  EXPECT_THAT(index, HasSubstr("products: TEA-1"));
  EXPECT_THAT(index, HasSubstr("# {{product.title}}"));
  // Written once: an edited file is left alone.
  ASSERT_THAT(WriteFileAtomic(*env, dir.Sub("authoring/pages/404.md"), "mine\n"), IsOk());
  ASSERT_THAT(WriteStarterAuthoring(*env, dir.Sub("authoring")), IsOk());
  EXPECT_EQ(*env->ReadFile(dir.Sub("authoring/pages/404.md")), "mine\n");
}

}  // namespace
}  // namespace tieup
