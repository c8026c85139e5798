#include "main_site/authoring.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "content/blob_store.h"
#include "content/template_vars.h"
#include "main_site/main_sync.h"
#include "main_site/own_site.h"
#include "site/public_site.h"
#include "store/database.h"
#include "test_database.h"
#include "test_support.h"

namespace tieup {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

// Main's authoring tree on a real main site (keys, SQLite, MainSync with its publisher), with
// partners of every kind, one with its own version of the home page.
class AuthoringTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.Sub("main");
    config_.role = SiteRole::kMain;
    config_.id = "main";
    config_.name = "Sakura Tea";
    config_.public_address = {"127.0.0.1", 0};
    config_.sync_address = {"127.0.0.1", 0};
    ASSERT_THAT(CreateSiteDir(*env_, dir_, config_), IsOk());
    ASSERT_THAT(InitMainTrust(*env_, dir_, config_.name), IsOk());
    authoring_ = AuthoringDir(config_, dir_);
    Write(authoring_, "layouts/default.mustache",
          "<!doctype html><html><head><title>{{title}}</title></head><body><header>{{site.name}}"
          "{{#partner.name}} at {{partner.name}}, {{partner.region}}{{/partner.name}}</header>"
          "{{{content}}}</body></html>\n");
    Write(authoring_, "pages/index.md", "---\ntitle: Home\n---\n# Fresh tea\n\n{{greeting}}\n");
    Write(authoring_, "pages/about.html", "---\ntitle: About\n---\n<p>About us</p>\n");
    Write(authoring_, "pages/robots.txt", "User-agent: *\n");
    Write(authoring_, "assets/style.css", "body{color:#222}\n");
    Write(authoring_, "README", "not part of any release\n");
    overrides_ = tmp_.Sub("overrides-c");
    Write(overrides_, "pages/index.html", "---\ntitle: Our home\n---\n<p>shop-c's own home</p>\n");
    Write(overrides_, "assets/style.css", "body{color:#060}\n");

    auto db = ::tieup::testing::OpenTestDatabase(dir_ + "/tieup.db");
    ASSERT_THAT(db, IsOk());
    db_ = std::move(*db);
    auto sync = MainSync::Open(*env_, dir_, config_, *db_, NewNullLogger());
    ASSERT_THAT(sync, IsOk());
    sync_ = std::move(*sync);
    AddPartner("shop-a", sync::PartnershipKind::kContents, "", {{"greeting", "Hello Osaka"}});
    AddPartner("shop-b", sync::PartnershipKind::kLink, "", {});
    AddPartner("shop-c", sync::PartnershipKind::kContents, overrides_, {});
    AddPartner("shop-t", sync::PartnershipKind::kTemplate, "", {});
    AddPartner("shop-r", sync::PartnershipKind::kContents, "", {});
    ASSERT_THAT(sync_->Revoke("shop-r"), IsOk());
  }

  void Write(const std::string& root, const std::string& rel, const std::string& data) {
    const std::string path = JoinPath(root, rel);
    ASSERT_THAT(CreateDirs(*env_, DirName(path)), IsOk());
    ASSERT_THAT(WriteFileAtomic(*env_, path, data), IsOk());
  }

  void AddPartner(const std::string& id, sync::PartnershipKind kind, const std::string& overrides,
                  std::map<std::string, std::string> variables) {
    sync::Partnership p;
    p.id = id;
    p.name = "Shop " + id.substr(5);
    p.region = "Region " + id.substr(5);
    p.public_url = "http://127.0.0.1:1";
    p.kind = kind;
    p.overrides_dir = overrides;
    p.variables = std::move(variables);
    p.retry = "manual";
    ASSERT_THAT(sync_->AddPartner(p, 3600), IsOk());
  }

  content::BuildOptions MainOptions() {
    content::BuildOptions o = OwnSiteBuildOptions(config_, dir_);
    auto products = sync_->catalog().Read();
    EXPECT_THAT(products, IsOk());
    if (products.ok()) o.products = *products;
    return o;
  }

  content::BuildOptions PartnerOptions(const std::string& id) {
    auto p = sync_->publisher().GetPartnership(id);
    EXPECT_THAT(p, IsOk());
    auto o = sync_->publisher().BuildOptionsFor(*p);
    EXPECT_THAT(o, IsOk());
    return o.ok() ? *o : content::BuildOptions{};
  }

  std::vector<sync::Partnership> Partners() {
    auto all = sync_->publisher().ListPartnerships();
    EXPECT_THAT(all, IsOk());
    return all.ok() ? *all : std::vector<sync::Partnership>{};
  }

  TempDir tmp_;
  std::unique_ptr<Env> env_ = NewPosixEnv();
  std::string dir_, authoring_, overrides_;
  SiteConfig config_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<MainSync> sync_;
};

TEST_F(AuthoringTest, PathsInsideTheTreeAreAccepted) {
  for (const char* ok : {"pages/index.md", "pages/news/a.html", "pages/.tieup/routing.json",
                         "assets/img/logo.svg", "layouts/default.mustache"}) {
    EXPECT_THAT(CheckAuthoringPath(ok), IsOk()) << ok;
  }
}

TEST_F(AuthoringTest, PathsOutsideTheTreeAreRefusedWithWhatToGive) {
  for (const char* bad :
       {"", "../site.toml", "/etc/passwd", "pages/../../site.toml", "pages/./a.md", "pages//a.md",
        "pages/", "pages", "site.toml", "keys/release.key", "pages/a\\b.md", "layouts/a/b.mustache",
        "layouts/x.md", "layouts/.mustache", "assets/a/../../../x", "pages/a.md/"}) {
    EXPECT_THAT(CheckAuthoringPath(bad),
                StatusIs(StatusCode::kInvalidArgument, HasSubstr("Give a path inside it")))
        << bad;
  }
  EXPECT_THAT(CheckAuthoringPath("/etc/passwd"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("absolute")));
  // Nothing is read, written or removed outside.
  EXPECT_THAT(ReadAuthoringFile(*env_, authoring_, "../site.toml"),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(WriteAuthoringFile(*env_, authoring_, "../escaped.md", "x"),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_FALSE(env_->FileExists(JoinPath(dir_, "escaped.md")));
  EXPECT_THAT(RemoveAuthoringFile(*env_, authoring_, "../site.toml"),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_TRUE(env_->FileExists(JoinPath(dir_, "site.toml")));
}

TEST_F(AuthoringTest, UrlPathsAreTheBuildersOnes) {
  EXPECT_EQ(AuthoringUrlPath("pages/index.md"), "/index.html");
  EXPECT_EQ(AuthoringUrlPath("pages/news/a.HTML"), "/news/a.html");
  EXPECT_EQ(AuthoringUrlPath("pages/robots.txt"), "/robots.txt");
  EXPECT_EQ(AuthoringUrlPath("assets/style.css"), "/assets/style.css");
  EXPECT_EQ(AuthoringUrlPath("layouts/default.mustache"), "");
  EXPECT_TRUE(IsEditableAuthoringPath("pages/index.md"));
  EXPECT_TRUE(IsEditableAuthoringPath("layouts/default.mustache"));
  EXPECT_FALSE(IsEditableAuthoringPath("pages/robots.txt"));
  EXPECT_FALSE(IsEditableAuthoringPath("assets/style.css"));
}

TEST_F(AuthoringTest, ListsTheTreeWithSizesAndTimes) {
  auto tree = ListAuthoringTree(*env_, authoring_);
  ASSERT_THAT(tree, IsOk());
  std::vector<std::string> pages, layouts, assets;
  for (const auto& e : tree->pages) pages.push_back(e.path);
  for (const auto& e : tree->layouts) layouts.push_back(e.path);
  for (const auto& e : tree->assets) assets.push_back(e.path);
  EXPECT_THAT(pages, ElementsAre("pages/about.html", "pages/index.md", "pages/robots.txt"));
  EXPECT_THAT(layouts, ElementsAre("layouts/default.mustache"));
  EXPECT_THAT(assets, ElementsAre("assets/style.css"));
  const AuthoringEntry& css = tree->assets[0];
  EXPECT_EQ(css.size, 17u);  // "body{color:#222}\n"
  EXPECT_EQ(css.url_path, "/assets/style.css");
  EXPECT_FALSE(css.editable);
  EXPECT_GT(css.modified_micros, env_->NowMicros() - 3'600'000'000);
  EXPECT_TRUE(tree->pages[1].editable);
  EXPECT_THAT(ListAuthoringTree(*env_, tmp_.Sub("none")), StatusIs(StatusCode::kNotFound));
}

TEST_F(AuthoringTest, WritesReplaceAtomicallyCreateOnlyRefusesAnExistingFile) {
  ASSERT_THAT(WriteAuthoringFile(*env_, authoring_, "pages/news/new.md", "# New\n", true), IsOk());
  EXPECT_THAT(ReadAuthoringFile(*env_, authoring_, "pages/news/new.md"), IsOk());
  EXPECT_THAT(WriteAuthoringFile(*env_, authoring_, "pages/news/new.md", "# Again\n", true),
              StatusIs(StatusCode::kAlreadyExists));
  ASSERT_THAT(WriteAuthoringFile(*env_, authoring_, "pages/news/new.md", "# Again\n"), IsOk());
  auto bytes = ReadAuthoringFile(*env_, authoring_, "pages/news/new.md");
  ASSERT_THAT(bytes, IsOk());
  EXPECT_EQ(*bytes, "# Again\n");
  EXPECT_FALSE(env_->FileExists(JoinPath(authoring_, "pages/news/new.md.tmp")));
  ASSERT_THAT(RemoveAuthoringFile(*env_, authoring_, "pages/news/new.md"), IsOk());
  EXPECT_THAT(RemoveAuthoringFile(*env_, authoring_, "pages/news/new.md"),
              StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(ReadAuthoringFile(*env_, authoring_, "pages/news/new.md"),
              StatusIs(StatusCode::kNotFound));
}

TEST_F(AuthoringTest, PreviewsMainsPageAndADraftInTheLayout) {
  auto saved = PreviewAuthoringFile(*env_, MainOptions(), "pages/index.md", std::nullopt);
  ASSERT_THAT(saved, IsOk());
  EXPECT_EQ(saved->url_path, "/index.html");
  EXPECT_THAT(saved->html, HasSubstr("<title>Home</title>"));
  EXPECT_THAT(saved->html, HasSubstr("<header>Sakura Tea</header>"));
  EXPECT_THAT(saved->html, HasSubstr("<h1>Fresh tea</h1>"));
  auto draft = PreviewAuthoringFile(*env_, MainOptions(), "pages/index.md",
                                    std::string("---\ntitle: Home\n---\n# Spring tea\n"));
  ASSERT_THAT(draft, IsOk());
  EXPECT_THAT(draft->html, HasSubstr("<h1>Spring tea</h1>"));
  // Not saved.
  EXPECT_THAT(*ReadAuthoringFile(*env_, authoring_, "pages/index.md"), HasSubstr("Fresh tea"));
  // A page that is not saved yet, and a layout's draft (shown with the home page).
  auto fresh = PreviewAuthoringFile(*env_, MainOptions(), "pages/new/x.md", std::string("# X\n"));
  ASSERT_THAT(fresh, IsOk());
  EXPECT_EQ(fresh->url_path, "/new/x.html");
  auto layout = PreviewAuthoringFile(*env_, MainOptions(), "layouts/default.mustache",
                                     std::string("<main class=\"new\">{{{content}}}</main>"));
  ASSERT_THAT(layout, IsOk());
  EXPECT_THAT(layout->html, HasSubstr("<main class=\"new\"><h1>Fresh tea</h1>"));
}

TEST_F(AuthoringTest, PreviewIsWhatTheBuildMakes) {
  // The preview of a saved page is byte for byte the page of a release built with the same
  // options (the partner's, as its next release is built).
  content::BlobStore blobs(*env_, tmp_.Sub("blobs"));
  for (const std::string id : {"shop-a", "shop-c"}) {
    content::BuildOptions o = PartnerOptions(id);
    auto built = content::BuildRelease(*env_, blobs, o);
    ASSERT_THAT(built, IsOk()) << id;
    const content::FileEntry& e = built->files.at("/index.html");
    auto bytes = blobs.Get(e.hash, e.length);
    ASSERT_THAT(bytes, IsOk());
    // The page shows the partner's values: main's release names one template for every partner,
    // and the partner puts its values in (content/template_vars.h).
    ASSERT_TRUE(e.vars) << id;
    bytes = content::SubstituteVariables(*bytes, built->variables);
    ASSERT_THAT(bytes, IsOk());
    auto preview = PreviewAuthoringFile(*env_, o, "pages/index.md", std::nullopt);
    ASSERT_THAT(preview, IsOk()) << id;
    EXPECT_EQ(preview->html, *bytes) << id;
  }
}

TEST_F(AuthoringTest, PreviewsAsAPartnerWithItsVariablesAndOverrides) {
  const std::string draft = "---\ntitle: Home\n---\n# Spring tea\n\n{{greeting}}\n";
  auto a = PreviewAuthoringFile(*env_, PartnerOptions("shop-a"), "pages/index.md", draft);
  ASSERT_THAT(a, IsOk());
  EXPECT_THAT(a->html, HasSubstr("<header>Sakura Tea at Shop a, Region a</header>"));
  EXPECT_THAT(a->html, HasSubstr("<h1>Spring tea</h1>"));
  EXPECT_THAT(a->html, HasSubstr("Hello Osaka"));
  EXPECT_FALSE(a->from_overrides);
  EXPECT_TRUE(a->in_release);
  // shop-c has its own home page: the draft does not reach it, and the preview says so.
  auto c = PreviewAuthoringFile(*env_, PartnerOptions("shop-c"), "pages/index.md", draft);
  ASSERT_THAT(c, IsOk());
  EXPECT_TRUE(c->from_overrides);
  EXPECT_THAT(c->html, HasSubstr("shop-c's own home"));
  EXPECT_THAT(c->html, Not(HasSubstr("Spring tea")));
  EXPECT_THAT(c->label, HasSubstr("overrides"));
  // A layout draft reaches shop-c's own page too.
  auto cl = PreviewAuthoringFile(*env_, PartnerOptions("shop-c"), "layouts/default.mustache",
                                 std::string("<div id=\"new-look\">{{{content}}}</div>"));
  ASSERT_THAT(cl, IsOk());
  EXPECT_THAT(cl->html, HasSubstr("<div id=\"new-look\"><p>shop-c's own home</p>"));
  // Kind template: main's pages are not in its release.
  auto t = PreviewAuthoringFile(*env_, PartnerOptions("shop-t"), "pages/index.md", draft);
  ASSERT_THAT(t, IsOk());
  EXPECT_FALSE(t->in_release);
}

TEST_F(AuthoringTest, PreviewOfABrokenDraftNamesTheFile) {
  auto bad = PreviewAuthoringFile(*env_, MainOptions(), "pages/index.md",
                                  std::string("# Tea {{#open}} never closed\n"));
  EXPECT_THAT(bad, StatusIs(StatusCode::kInvalidArgument, HasSubstr("pages/index.md")));
  auto unknown = PreviewAuthoringFile(*env_, MainOptions(), "pages/index.md",
                                      std::string("---\nlayout: nowhere\n---\nx\n"));
  EXPECT_THAT(unknown, StatusIs(StatusCode::kNotFound, HasSubstr("nowhere")));
  EXPECT_THAT(PreviewAuthoringFile(*env_, MainOptions(), "assets/style.css", std::nullopt),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("nothing to preview")));
  EXPECT_THAT(PreviewAuthoringFile(*env_, MainOptions(), "../site.toml", std::nullopt),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(AuthoringTest, ReachOfAPageChangeFollowsKindsAndOverrides) {
  const ChangeReach r = ReachOfChange(*env_, "pages/index.md", Partners());
  ASSERT_EQ(r.partners.size(), 4u);  // shop-r is revoked
  EXPECT_EQ(r.reached, 2u);
  EXPECT_EQ(r.reached_contents, 1u);
  EXPECT_EQ(r.reached_link, 1u);
  EXPECT_EQ(r.reached_template, 0u);
  EXPECT_EQ(r.own_version, 1u);
  EXPECT_EQ(r.left_out, 1u);
  std::map<std::string, PartnerReach> by_id;
  for (const PartnerReach& p : r.partners) by_id[p.id] = p;
  EXPECT_TRUE(by_id["shop-a"].reached);
  EXPECT_TRUE(by_id["shop-b"].reached);
  EXPECT_THAT(by_id["shop-b"].why, HasSubstr("links to main's"));
  EXPECT_FALSE(by_id["shop-c"].reached);
  EXPECT_THAT(by_id["shop-c"].why, HasSubstr("pages/index.html"));
  EXPECT_FALSE(by_id["shop-t"].reached);
  EXPECT_THAT(by_id["shop-t"].why, HasSubstr("template"));
}

TEST_F(AuthoringTest, ASuspendedPartnerIsNotReached) {
  ASSERT_THAT(sync_->publisher().SuspendPartnership("shop-a", "test"), IsOk());
  const ChangeReach r = ReachOfChange(*env_, "pages/index.md", Partners());
  EXPECT_EQ(r.reached, 1u);  // shop-b
  EXPECT_EQ(r.suspended, 1u);
  for (const PartnerReach& p : r.partners) {
    if (p.id == "shop-a") {
      EXPECT_FALSE(p.reached);
      EXPECT_THAT(p.why, HasSubstr("suspended"));
    }
  }
}

TEST_F(AuthoringTest, ReachOfLayoutsAndAssetsIncludesTemplatePartners) {
  const ChangeReach layout = ReachOfChange(*env_, "layouts/default.mustache", Partners());
  EXPECT_EQ(layout.reached, 4u);
  EXPECT_EQ(layout.reached_template, 1u);
  const ChangeReach css = ReachOfChange(*env_, "assets/style.css", Partners());
  EXPECT_EQ(css.reached, 3u);  // shop-c has its own style.css
  EXPECT_EQ(css.own_version, 1u);
  EXPECT_EQ(css.left_out, 0u);
}

}  // namespace
}  // namespace tieup
