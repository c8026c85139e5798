// Pages written in Markdown through the partner manager's tools (page_tools.h), as
// `tieup partner page put|rm|ls|mv` and the console call them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "content/content_store.h"
#include "partner_site/own_content.h"
#include "partner_site/page_tools.h"
#include "test_support.h"

namespace tieup {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::tieup::testing::FakeClockEnv;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

class OwnPagesToolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.id = "shop-b";
    config_.name = "Green Leaf";
    SiteContentOptions o;
    o.site_id = "shop-b";
    o.serve = true;
    ASSERT_THAT(CreateDirs(env_, dir_.Sub("site")), IsOk());
    auto c = SiteContent::Open(env_, dir_.Sub("site"), o);
    ASSERT_THAT(c, IsOk());
    content_ = std::move(*c);
  }
  Result<PagePutReport> Put(const std::string& path, const std::string& bytes) {
    const std::string file = dir_.Sub("upload.md");
    RETURN_IF_ERROR(WriteFileAtomic(env_, file, bytes));
    return PutPages(env_, config_, *content_, path, file, "", false);
  }
  std::string Served(const std::string& path) {
    auto view = content_->view();
    const content::ServedFile* f = view ? view->Find(path) : nullptr;
    if (f == nullptr) return "(none)";
    auto body = view->ReadBody(*f);
    return body.ok() ? std::string(**body) : "(unreadable)";
  }

  FakeClockEnv env_;
  TempDir dir_;
  SiteConfig config_;
  std::unique_ptr<SiteContent> content_;
};

TEST_F(OwnPagesToolsTest, PutServesMarkdownRenderedAndListsItOnce) {
  auto put = Put("/news.md", "---\ntitle: News\n---\n**Fresh** tea\n");
  ASSERT_THAT(put, IsOk());
  EXPECT_TRUE(put->changed);
  EXPECT_THAT(put->paths, ElementsAre("/news.md"));
  EXPECT_THAT(put->rendered,
              ElementsAre(std::pair<std::string, std::string>("/news.md", "/news.html")));
  EXPECT_THAT(Served("/news.html"), AllOf(HasSubstr("<title>News · Green Leaf</title>"),
                                          HasSubstr("<p><strong>Fresh</strong> tea</p>")));
  auto pages = ListPages(*content_);
  ASSERT_THAT(pages, IsOk());
  ASSERT_EQ(pages->size(), 1u);
  EXPECT_EQ((*pages)[0].path, "/news.html");
  EXPECT_EQ((*pages)[0].markdown_source, "/news.md");
  EXPECT_THAT((*pages)[0].content_type, HasSubstr("text/html"));

  // A whole page put at the rendered address is refused: the Markdown makes it.
  const std::string file = dir_.Sub("whole.html");
  ASSERT_THAT(WriteFileAtomic(env_, file, "<p>whole</p>"), IsOk());
  EXPECT_THAT(PutPages(env_, config_, *content_, "/news.html", file, "", false),
              StatusIs(StatusCode::kAlreadyExists, HasSubstr("made from your page '/news.md'")));
}

TEST_F(OwnPagesToolsTest, AFolderWithMarkdownAndImagesIsOneRelease) {
  ASSERT_THAT(CreateDirs(env_, dir_.Sub("folder/img")), IsOk());
  ASSERT_THAT(WriteFileAtomic(env_, dir_.Sub("folder/index.md"), "# Home\n![cup](img/cup.png)\n"),
              IsOk());
  ASSERT_THAT(WriteFileAtomic(env_, dir_.Sub("folder/img/cup.png"), "PNG"), IsOk());
  auto put = PutPages(env_, config_, *content_, "/local/", dir_.Sub("folder"), "", false);
  ASSERT_THAT(put, IsOk());
  EXPECT_EQ(put->version, 1u);
  EXPECT_THAT(Served("/local/index.html"), HasSubstr("<h1>Home</h1>"));
  EXPECT_EQ(Served("/local/img/cup.png"), "PNG");
}

TEST_F(OwnPagesToolsTest, RenameAndRemoveTakeSourceAndPageTogether) {
  ASSERT_THAT(Put("/a.md", "# A\n"), IsOk());
  auto moved = RenamePage(env_, config_, *content_, "/a.html", "/b.html");
  ASSERT_THAT(moved, IsOk());
  EXPECT_EQ(Served("/a.html"), "(none)");
  EXPECT_EQ(Served("/a.md"), "(none)");
  EXPECT_THAT(Served("/b.html"), HasSubstr("<h1>A</h1>"));
  EXPECT_THAT(Served("/b.html"), HasSubstr("<title>A · Green Leaf</title>"));  // the site's name
  EXPECT_EQ(Served("/b.md"), "# A\n");

  auto removed = RemovePage(env_, config_, *content_, "/b.md", false);
  ASSERT_THAT(removed, IsOk());
  EXPECT_TRUE(removed->changed);
  EXPECT_EQ(Served("/b.html"), "(none)");
  EXPECT_EQ(Served("/b.md"), "(none)");
}

}  // namespace
}  // namespace tieup
