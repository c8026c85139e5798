#include "partner_site/starter_pages.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "content/builder.h"
#include "content/content_store.h"
#include "partner_site/page_tools.h"
#include "site/public_site.h"
#include "site/site_content.h"
#include "test_support.h"

namespace tieup {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::tieup::testing::FakeClockEnv;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

SiteConfig PartnerConfig(const std::string& name, const std::string& region) {
  SiteConfig c;
  c.role = SiteRole::kPartner;
  c.id = "shop-a";
  c.name = name;
  c.region = region;
  c.public_address = {"127.0.0.1", 0};
  c.sync_address = {"127.0.0.1", 0};
  c.console_address = {"127.0.0.1", 0};
  return c;
}

TEST(RenderStarterPagesTest, AboutContactAndSpecialsWithTheSiteNameAndRegion) {
  auto pages = RenderStarterPages(PartnerConfig("Kyoto Tea House", "Kansai"));
  ASSERT_THAT(pages, IsOk());
  std::vector<std::string> files;
  for (const StarterPage& p : *pages) files.push_back(p.file);
  EXPECT_THAT(files, ElementsAre("about.md", "contact.md", "specials.md"));

  for (const StarterPage& p : *pages) {
    SCOPED_TRACE(p.file);
    EXPECT_EQ(p.url_path, "/local/" + p.file);
    EXPECT_EQ(p.served_path, "/local/" + p.file.substr(0, p.file.size() - 3) + ".html");
    // The front matter the builder reads: a title with the shop's name, nothing only main uses.
    size_t body_start = 0;
    auto front = content::ParsePageFrontMatter(p.markdown, p.file, &body_start);
    ASSERT_THAT(front, IsOk());
    EXPECT_THAT(front->title, HasSubstr("Kyoto Tea House"));
    EXPECT_GT(body_start, 0u);
    EXPECT_FALSE(front->has_method || front->has_link_url || front->has_products);
    // Every template tag was filled in; the placeholders are marked for the manager.
    EXPECT_THAT(p.markdown, AllOf(Not(HasSubstr("{{")), Not(HasSubstr("}}"))));
    EXPECT_THAT(p.markdown, AllOf(HasSubstr("A starter page"), HasSubstr("[square brackets]")));
    auto html = content::RenderMarkdown(p.markdown.substr(body_start), p.file);
    ASSERT_THAT(html, IsOk());
    EXPECT_THAT(*html, HasSubstr("Kyoto Tea House"));
  }
  EXPECT_THAT((*pages)[0].markdown, HasSubstr("Kyoto Tea House is [a family-run shop] in Kansai."));
  EXPECT_THAT((*pages)[1].markdown, HasSubstr("[Postcode and town], Kansai"));
  EXPECT_THAT((*pages)[2].markdown, HasSubstr("# Local specials from Kansai"));
  // The pages link to each other at the addresses they are put at.
  EXPECT_THAT((*pages)[0].markdown, AllOf(HasSubstr("[our contact page](/local/contact.html)"),
                                          HasSubstr("[our local specials](/local/specials.html)")));
}

TEST(RenderStarterPagesTest, WithoutRegionOrNameTheSentencesStillRead) {
  auto pages = RenderStarterPages(PartnerConfig("", ""));
  ASSERT_THAT(pages, IsOk());
  ASSERT_EQ(pages->size(), 3u);
  // No name: the id; no region: the clauses that name it are left out.
  EXPECT_THAT((*pages)[0].markdown, HasSubstr("shop-a is [a family-run shop]. [Say"));
  EXPECT_THAT((*pages)[1].markdown, HasSubstr("[Postcode and town]\n"));
  EXPECT_THAT((*pages)[2].markdown, HasSubstr("# Local specials\n"));
  for (const StarterPage& p : *pages) EXPECT_THAT(p.markdown, Not(HasSubstr(" in .")));
}

TEST(RenderStarterPagesTest, NameIsWrittenAsTyped) {
  // Markdown, not HTML: the name is not entity-escaped in the text the manager edits.
  auto pages = RenderStarterPages(PartnerConfig("Tom & Jerry's", ""));
  ASSERT_THAT(pages, IsOk());
  EXPECT_THAT((*pages)[0].markdown, HasSubstr("# About Tom & Jerry's\n"));
}

class WriteStarterPagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    site_ = dir_.Sub("shop-a");
    ASSERT_THAT(CreateSiteDir(env_, site_, PartnerConfig("Kyoto Tea House", "Kansai")), IsOk());
  }

  std::unique_ptr<SiteContent> Open() {
    SiteContentOptions o;
    o.site_id = "shop-a";
    o.serve = false;
    auto c = SiteContent::Open(env_, site_, o);
    EXPECT_THAT(c, IsOk());
    return c.ok() ? std::move(*c) : nullptr;
  }

  // The original area's bytes at `path` ("(none)" when it has no such page).
  std::string Original(const std::string& path) {
    auto content = Open();
    if (content == nullptr) return "(no content)";
    std::string out = "(none)";
    EXPECT_THAT(content->Mutate([&](content::ContentStore& s) -> Status {
      auto active = s.Active(content::Area::kOriginal);
      if (!active.ok()) return Status::Ok();
      auto it = (*active)->files.find(path);
      if (it == (*active)->files.end()) return Status::Ok();
      ASSIGN_OR_RETURN(out, s.blobs().Get(it->second.hash));
      return Status::Ok();
    }),
                IsOk());
    return out;
  }

  FakeClockEnv env_;
  TempDir dir_;
  std::string site_;
};

TEST_F(WriteStarterPagesTest, PutsThePagesAsOneOriginalReleaseAndKeepsACopyToEdit) {
  auto report = WriteStarterPages(env_, site_);
  ASSERT_THAT(report, IsOk());
  EXPECT_THAT(report->paths,
              ElementsAre("/local/about.md", "/local/contact.md", "/local/specials.md"));
  EXPECT_THAT(report->served_paths,
              ElementsAre("/local/about.html", "/local/contact.html", "/local/specials.html"));
  EXPECT_EQ(report->version, 1u);
  EXPECT_EQ(report->source_dir, site_ + "/own-pages");

  auto rendered = RenderStarterPages(PartnerConfig("Kyoto Tea House", "Kansai"));
  ASSERT_THAT(rendered, IsOk());
  for (const StarterPage& p : *rendered) {
    SCOPED_TRACE(p.file);
    EXPECT_EQ(Original(p.url_path), p.markdown);
    auto copy = env_.ReadFile(site_ + "/own-pages/" + p.file);
    ASSERT_THAT(copy, IsOk());
    EXPECT_EQ(*copy, p.markdown);
  }
  // `page ls` lists them as the site's own pages.
  auto content = Open();
  ASSERT_NE(content, nullptr);
  auto listing = ListPages(*content);
  ASSERT_THAT(listing, IsOk());
  ASSERT_EQ(listing->size(), 3u);
  for (const PageListing& l : *listing) EXPECT_EQ(l.area, content::Area::kOriginal);
}

TEST_F(WriteStarterPagesTest, TheManagersOwnCopyWins) {
  ASSERT_THAT(CreateDirs(env_, site_ + "/own-pages"), IsOk());
  ASSERT_THAT(WriteFileAtomic(env_, site_ + "/own-pages/about.md", "---\ntitle: Ours\n---\nOurs"),
              IsOk());
  auto report = WriteStarterPages(env_, site_);
  ASSERT_THAT(report, IsOk());
  EXPECT_EQ(Original("/local/about.md"), "---\ntitle: Ours\n---\nOurs");
  EXPECT_THAT(Original("/local/contact.md"), HasSubstr("# Contact Kyoto Tea House"));
}

TEST_F(WriteStarterPagesTest, RefusedForAMainSite) {
  const std::string main_dir = dir_.Sub("main");
  SiteConfig c = PartnerConfig("Sakura Tea", "");
  c.role = SiteRole::kMain;
  c.id = "main";
  ASSERT_THAT(CreateSiteDir(env_, main_dir, c), IsOk());
  EXPECT_THAT(WriteStarterPages(env_, main_dir),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("is not a partner site")));
  EXPECT_FALSE(env_.FileExists(main_dir + "/own-pages"));
}

TEST_F(WriteStarterPagesTest, ATieupPageAtAStarterAddressRefusesThemAll) {
  // Main already publishes /local/contact.md to this site: the starter pages do not take it,
  // and none of them is put (one release: all or none).
  auto content = Open();
  ASSERT_NE(content, nullptr);
  ASSERT_THAT(content->Mutate([&](content::ContentStore& s) -> Status {
    content::ReleaseManifest m;
    m.site = "shop-a";
    m.area = content::Area::kTieup;
    m.version = 1;
    m.created = env_.NowSeconds();
    m.expires = env_.NowSeconds() + 86400;
    content::FileEntry e;
    ASSIGN_OR_RETURN(e.hash, s.blobs().Put("main's contact page"));
    e.length = 19;
    e.content_type = "text/plain";
    m.files["/local/contact.md"] = e;
    RETURN_IF_ERROR(s.Stage(m));
    return s.Activate(content::Area::kTieup, 1);
  }),
              IsOk());
  content.reset();
  EXPECT_THAT(WriteStarterPages(env_, site_),
              StatusIs(StatusCode::kPermissionDenied, HasSubstr("'/local/contact.md'")));
  EXPECT_EQ(Original("/local/about.md"), "(none)");
}

}  // namespace
}  // namespace tieup
