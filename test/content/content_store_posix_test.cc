// The content store on the real (POSIX) file system: a release built from an authoring
// directory, staged, activated and served; and concurrent use from several threads.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "content/builder.h"
#include "content/content_store.h"
#include "content/site_view.h"
#include "content_test_util.h"
#include "crypto/hash.h"
#include "test_support.h"

namespace tieup::content {
namespace {

using ::testing::HasSubstr;
using ::tieup::content::testing::MakeRelease;
using ::tieup::testing::IsOk;
using ::tieup::testing::TempDir;

class ContentStorePosixTest : public ::testing::Test {
 protected:
  ContentStorePosixTest() : env_(NewPosixEnv()) {}

  void Write(const std::string& rel, const std::string& data) {
    std::string path = dir_.Sub(rel);
    ASSERT_THAT(CreateDirs(*env_, DirName(path)), IsOk());
    ASSERT_THAT(WriteFileAtomic(*env_, path, data), IsOk());
  }

  TempDir dir_;
  std::unique_ptr<Env> env_;
};

TEST_F(ContentStorePosixTest, BuildStageActivateServe) {
  Write("author/layouts/default.mustache", "<html>{{{content}}}</html>");
  Write("author/pages/index.md", "# {{partner.name}}\n");
  Write("author/pages/news/index.html", "<p>news</p>");
  auto store = ContentStore::Open(*env_, dir_.Sub("site"), {.site_id = "shop-b"});
  ASSERT_THAT(store, IsOk());

  BuildOptions o;
  o.authoring_dir = dir_.Sub("author");
  o.site = "shop-b";
  o.version = 1;
  o.created = 1790000000;
  o.variables = {{"partner.name", "Shop B"}};
  auto m = BuildRelease(*env_, (*store)->blobs(), o);
  ASSERT_THAT(m, IsOk());
  ASSERT_THAT((*store)->Stage(*m), IsOk());
  ASSERT_THAT((*store)->Activate(Area::kTieup, 1), IsOk());
  ASSERT_THAT((*store)->PutOriginalPage("/about.html", "<p>us</p>", "text/html"), IsOk());

  store->reset();
  auto reopened = ContentStore::Open(*env_, dir_.Sub("site"), {.site_id = "shop-b"});
  ASSERT_THAT(reopened, IsOk());
  auto view = SiteView::Load(**reopened);
  ASSERT_THAT(view, IsOk());
  LookupResult home = (*view)->Lookup("/");
  ASSERT_EQ(home.kind, LookupResult::Kind::kFound);
  EXPECT_EQ(*home.file->body, "<html><h1>Shop B</h1>\n</html>");
  EXPECT_EQ(home.file->area, Area::kTieup);
  EXPECT_EQ((*view)->Lookup("/news").location, "/news/");
  EXPECT_EQ((*view)->Find("/about.html")->area, Area::kOriginal);
  EXPECT_EQ(*env_->ReadFile(dir_.Sub("site/releases/tieup/ACTIVE")), "1\n");

  // Main's next release may not take the partner's page.
  BuildOptions o2 = o;
  o2.version = 2;
  Write("author/pages/about.md", "main's about");
  auto m2 = BuildRelease(*env_, (*reopened)->blobs(), o2);
  ASSERT_THAT(m2, IsOk());
  EXPECT_THAT((*reopened)->Stage(*m2),
              ::tieup::testing::StatusIs(StatusCode::kAlreadyExists, HasSubstr("/about.html")));
}

TEST_F(ContentStorePosixTest, ConcurrentEditsAndReadersAreSerialized) {
  auto opened = ContentStore::Open(*env_, dir_.Sub("site"), {.site_id = "shop-b"});
  ASSERT_THAT(opened, IsOk());
  ContentStore& store = **opened;
  constexpr int kThreads = 4;
  constexpr int kEdits = 8;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEdits; ++i) {
        std::string path = "/t" + std::to_string(t) + "/" + std::to_string(i) + ".html";
        if (!store.PutOriginalPage(path, path, "text/html").ok()) ++failures;
      }
    });
  }
  // A reader that loads views while the writers run: each view is a consistent release.
  threads.emplace_back([&] {
    for (int i = 0; i < 20; ++i) {
      auto view = SiteView::Load(store);
      if (!view.ok()) {
        ++failures;
        continue;
      }
      for (const auto& [path, file] : (*view)->files()) {
        if (*file.body != path) ++failures;
      }
    }
  });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto active = store.Active(Area::kOriginal);
  ASSERT_THAT(active, IsOk());
  EXPECT_EQ((*active)->version, static_cast<uint64_t>(kThreads * kEdits));
  EXPECT_EQ((*active)->files.size(), static_cast<size_t>(kThreads * kEdits));
}

// On a real file system the store knows its staged file by size, time and inode: activating it
// does not read it back, and a file another process staged for the same version since is seen
// (a new file, renamed into place) and parsed.
TEST_F(ContentStorePosixTest, AVersionRestagedByAnotherProcessIsActivatedAsThatProcessWroteIt) {
  auto store = ContentStore::Open(*env_, dir_.Sub("site"), {.site_id = "shop-b"});
  ASSERT_THAT(store, IsOk());
  ReleaseManifest mine = MakeRelease(**store, Area::kTieup, 1, {{"/a.html", "mine"}});
  ASSERT_THAT((*store)->Stage(mine), IsOk());
  ASSERT_THAT((*store)->Activate(Area::kTieup, 1), IsOk());  // its own file: no re-read
  EXPECT_EQ((*(*store)->Active(Area::kTieup))->files.at("/a.html").hash,
            mine.files.at("/a.html").hash);

  ReleaseManifest mine2 = MakeRelease(**store, Area::kTieup, 2, {{"/a.html", "mine, 2"}});
  ASSERT_THAT((*store)->Stage(mine2), IsOk());
  {
    auto other = ContentStore::Open(*env_, dir_.Sub("site"), {.site_id = "shop-b"});
    ASSERT_THAT(other, IsOk());
    ASSERT_THAT((*other)->Stage(MakeRelease(**other, Area::kTieup, 2, {{"/a.html", "theirs"}})),
                IsOk());
  }
  ASSERT_THAT((*store)->Activate(Area::kTieup, 2), IsOk());
  auto active = (*store)->Active(Area::kTieup);
  ASSERT_THAT(active, IsOk());
  EXPECT_EQ((*active)->files.at("/a.html").hash, Sha256Hex("theirs"));
}

}  // namespace
}  // namespace tieup::content
