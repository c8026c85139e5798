#include "partner_site/page_tools.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "content/content_store.h"
#include "test_support.h"

namespace tieup {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::tieup::testing::FakeClockEnv;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

// The CLI's and the console's words for a path of the tie-up area.
constexpr char kTieupRefusal[] =
    "'/index.html' is a tie-up page managed by the main site; choose another path";

class PageToolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.id = "shop-b";
    SiteContentOptions o;
    o.site_id = "shop-b";
    o.serve = true;
    auto c = SiteContent::Open(env_, dir_.path(), o);
    ASSERT_THAT(c, IsOk());
    content_ = std::move(*c);
    // main's tie-up release: /index.html.
    ASSERT_THAT(content_->Mutate([&](content::ContentStore& s) -> Status {
      content::ReleaseManifest m;
      m.site = "shop-b";
      m.area = content::Area::kTieup;
      m.version = 1;
      m.created = env_.NowSeconds();
      m.expires = env_.NowSeconds() + 86400;
      content::FileEntry e;
      ASSIGN_OR_RETURN(e.hash, s.blobs().Put("<h1>main</h1>"));
      e.length = 13;
      e.content_type = "text/html; charset=utf-8";
      m.files["/index.html"] = e;
      RETURN_IF_ERROR(s.Stage(m));
      return s.Activate(content::Area::kTieup, 1);
    }),
                IsOk());
  }

  Status Put(const std::string& path, const std::string& bytes) {
    const std::string file = dir_.Sub("upload.tmp");
    RETURN_IF_ERROR(WriteFileAtomic(env_, file, bytes));
    return PutPages(env_, config_, *content_, path, file, "", false).status();
  }

  // path -> bytes of the original area as served.
  std::string Served(const std::string& path) {
    auto view = content_->view();
    const content::ServedFile* f = view ? view->Find(path) : nullptr;
    if (f == nullptr) return "(none)";
    auto body = view->ReadBody(*f);
    return body.ok() ? std::string(**body) : "(unreadable)";
  }

  std::vector<std::string> OwnPaths() {
    std::vector<std::string> out;
    auto pages = ListPages(*content_);
    EXPECT_THAT(pages, IsOk());
    if (!pages.ok()) return out;
    for (const PageListing& p : *pages) {
      if (p.area == content::Area::kOriginal) out.push_back(p.path);
    }
    return out;
  }

  FakeClockEnv env_;
  TempDir dir_;
  SiteConfig config_;
  std::unique_ptr<SiteContent> content_;
};

TEST_F(PageToolsTest, RenameMovesAPageInOneRelease) {
  ASSERT_THAT(Put("/local/a.html", "<p>A</p>"), IsOk());
  ASSERT_THAT(Put("/local/images/tea.png", std::string("\x89PNG\0\1", 6)), IsOk());
  auto renamed = RenamePage(env_, config_, *content_, "/local/a.html", "/local/b.html");
  ASSERT_THAT(renamed, IsOk());
  EXPECT_TRUE(renamed->changed);
  EXPECT_EQ(renamed->version, 3u);  // one release after the two puts
  EXPECT_THAT(renamed->paths, ElementsAre("/local/a.html", "/local/b.html"));
  EXPECT_THAT(OwnPaths(), ElementsAre("/local/b.html", "/local/images/tea.png"));
  EXPECT_EQ(Served("/local/b.html"), "<p>A</p>");
  EXPECT_EQ(Served("/local/a.html"), "(none)");
  // Its type stays: a PNG moved to a name without extension is still a PNG.
  ASSERT_THAT(RenamePage(env_, config_, *content_, "/local/images/tea.png", "/local/tea"), IsOk());
  auto pages = ListPages(*content_);
  ASSERT_THAT(pages, IsOk());
  bool found = false;
  for (const PageListing& p : *pages) {
    if (p.path == "/local/tea") {
      found = true;
      EXPECT_EQ(p.content_type, "image/png");
      EXPECT_EQ(p.length, 6u);
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(PageToolsTest, RenameRefusesWithWordsThatSayWhatToDo) {
  ASSERT_THAT(Put("/local/a.html", "A"), IsOk());
  ASSERT_THAT(Put("/local/b.html", "B"), IsOk());
  EXPECT_THAT(RenamePage(env_, config_, *content_, "/local/a.html", "/index.html"),
              StatusIs(StatusCode::kPermissionDenied, kTieupRefusal));
  EXPECT_THAT(RenamePage(env_, config_, *content_, "/local/a.html", "/local/b.html"),
              StatusIs(StatusCode::kAlreadyExists, HasSubstr("delete that page first")));
  EXPECT_THAT(RenamePage(env_, config_, *content_, "/local/a.html", "/local/a.html"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("give another one")));
  EXPECT_THAT(RenamePage(env_, config_, *content_, "/local/none.html", "/local/c.html"),
              StatusIs(StatusCode::kNotFound, HasSubstr("there is no page '/local/none.html'")));
  EXPECT_THAT(RenamePage(env_, config_, *content_, "/index.html", "/local/c.html"),
              StatusIs(StatusCode::kPermissionDenied, HasSubstr("only the main site")));
  EXPECT_THAT(RenamePage(env_, config_, *content_, "/local/a.html", "/local/../x.html"),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(RenamePage(env_, config_, *content_, "/local/a.html", "local/c.html"),
              StatusIs(StatusCode::kInvalidArgument));
  // Nothing was written by any of them.
  EXPECT_THAT(OwnPaths(), ElementsAre("/local/a.html", "/local/b.html"));
  EXPECT_EQ(Served("/index.html"), "<h1>main</h1>");
}

TEST_F(PageToolsTest, PutRefusesATieupPathWithTheSameWords) {
  EXPECT_THAT(Put("/index.html", "mine"), StatusIs(StatusCode::kPermissionDenied, kTieupRefusal));
  // A folder put (several uploads at once) says the same.
  ASSERT_THAT(CreateDirs(env_, dir_.Sub("folder")), IsOk());
  ASSERT_THAT(WriteFileAtomic(env_, dir_.Sub("folder/index.html"), "mine"), IsOk());
  ASSERT_THAT(WriteFileAtomic(env_, dir_.Sub("folder/other.html"), "other"), IsOk());
  EXPECT_THAT(PutPages(env_, config_, *content_, "/", dir_.Sub("folder"), "", false),
              StatusIs(StatusCode::kPermissionDenied, kTieupRefusal));
  EXPECT_THAT(OwnPaths(), ElementsAre());
}

}  // namespace
}  // namespace tieup
