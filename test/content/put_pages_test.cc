#include <gtest/gtest.h>

#include "content/content_store.h"
#include "content/site_view.h"
#include "test_support.h"

namespace tieup::content {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

class PutOriginalPagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = ContentStore::Open(*env_, dir_.path(), {.keep_releases = 5, .site_id = "shop-a"});
    ASSERT_THAT(s, IsOk());
    store_ = std::move(s).value();
  }
  std::unique_ptr<Env> env_ = NewPosixEnv();
  TempDir dir_;
  std::unique_ptr<ContentStore> store_;
};

TEST_F(PutOriginalPagesTest, WritesAllPagesAsOneReleaseWithGzipVariants) {
  std::string big(4000, 'a');
  auto edit = store_->PutOriginalPages({{"/a.html", "<p>a</p>", "text/html; charset=utf-8"},
                                        {"/b/big.html", big, "text/html; charset=utf-8"}});
  ASSERT_THAT(edit, IsOk());
  EXPECT_TRUE(edit->changed);
  EXPECT_EQ(edit->version, 1u);
  auto active = store_->Active(Area::kOriginal);
  ASSERT_THAT(active, IsOk());
  EXPECT_EQ((*active)->files.size(), 2u);
  EXPECT_TRUE((*active)->files.at("/b/big.html").gzip.has_value());
  EXPECT_FALSE((*active)->files.at("/a.html").gzip.has_value());  // too small to compress

  // The same bytes again: no new release.
  auto again = store_->PutOriginalPages({{"/a.html", "<p>a</p>", "text/html; charset=utf-8"}});
  ASSERT_THAT(again, IsOk());
  EXPECT_FALSE(again->changed);
  EXPECT_EQ(again->version, 1u);
}

TEST_F(PutOriginalPagesTest, RefusesBadBatchesWithoutWritingAnything) {
  EXPECT_THAT(store_->PutOriginalPages({}), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(
      store_->PutOriginalPages({{"/a.html", "1", "text/plain"}, {"/a.html", "2", "text/plain"}}),
      StatusIs(StatusCode::kInvalidArgument, HasSubstr("twice")));
  EXPECT_THAT(
      store_->PutOriginalPages({{"/ok.html", "1", "text/plain"}, {"/../x", "2", "text/plain"}}),
      StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->Active(Area::kOriginal), StatusIs(StatusCode::kNotFound));

  // A tie-up page's path is refused for the whole batch.
  auto hash = store_->blobs().Put("tie");
  ASSERT_THAT(hash, IsOk());
  ReleaseManifest tieup;
  tieup.site = "shop-a";
  tieup.area = Area::kTieup;
  tieup.version = 1;
  tieup.created = env_->NowSeconds();
  FileEntry news;  // staged, as every entry is unless it says otherwise
  news.hash = *hash;
  news.length = 3;
  news.content_type = "text/html";
  tieup.files["/news.html"] = news;
  ASSERT_THAT(store_->Stage(tieup), IsOk());
  ASSERT_THAT(store_->Activate(Area::kTieup, 1), IsOk());
  EXPECT_THAT(store_->PutOriginalPages(
                  {{"/mine.html", "1", "text/plain"}, {"/news.html", "2", "text/plain"}}),
              StatusIs(StatusCode::kPermissionDenied, HasSubstr("tie-up page")));
  EXPECT_THAT(store_->Active(Area::kOriginal), StatusIs(StatusCode::kNotFound));
}

}  // namespace
}  // namespace tieup::content
