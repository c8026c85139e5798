#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "content/content_store.h"
#include "content_test_util.h"
#include "crypto/hash.h"
#include "full_disk_env.h"
#include "test_support.h"

namespace tieup::content {
namespace {

using ::testing::HasSubstr;
using ::tieup::content::testing::Entry;
using ::tieup::content::testing::MakeRelease;
using ::tieup::content::testing::Publish;
using ::tieup::testing::FullDiskEnv;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

// Every file under `dir`, as paths relative to it.
std::set<std::string> FilesUnder(Env& env, const std::string& dir, const std::string& prefix = "") {
  std::set<std::string> out;
  auto entries = env.ListDir(dir);
  if (!entries.ok()) return out;
  for (const FileInfo& e : *entries) {
    if (e.is_dir) {
      for (const std::string& f : FilesUnder(env, JoinPath(dir, e.name), prefix + e.name + "/")) {
        out.insert(f);
      }
    } else {
      out.insert(prefix + e.name);
    }
  }
  return out;
}

// A partner's content store on a disk that runs full while an update is staged (the receiver's
// steps: put the blobs it lacks, stage, and on failure remove what it stored).
class StagingFullDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = ContentStore::Open(disk_, site_, {.keep_releases = 5, .site_id = "shop-b"});
    ASSERT_THAT(s, IsOk());
    store_ = std::move(*s);
    // Active tie-up release 1, a release 2 staged for approval, and an original page: their
    // blobs are shared with the update below and must survive its cleanup.
    ASSERT_THAT(Publish(*store_, MakeRelease(*store_, Area::kTieup, 1,
                                             {{"/index.html", "home"}, {"/shared.html", "s"}})),
                IsOk());
    ASSERT_THAT(store_->Stage(MakeRelease(*store_, Area::kTieup, 2,
                                          {{"/index.html", "home"}, {"/pending.html", "p"}})),
                IsOk());
    ASSERT_THAT(Publish(*store_, MakeRelease(*store_, Area::kOriginal, 1, {{"/mine.html", "m"}})),
                IsOk());
    before_ = FilesUnder(*posix_, site_);
  }

  // Release 3: shares blobs with the active, the staged and the original releases, and brings
  // two large new pages.
  ReleaseManifest Update() {
    ReleaseManifest m;
    m.site = "shop-b";
    m.area = Area::kTieup;
    m.version = 3;
    m.created = 1790000003;
    for (const auto& [path, body] : pages_) {
      m.files[path] = Entry(Sha256Hex(body), body.size(), "text/html; charset=utf-8");
    }
    return m;
  }

  // What the receiver does: stores the blobs the store lacks (recording each one stored), then
  // stages. The first error is returned.
  Status FetchAndStage(std::vector<std::string>& stored) {
    for (const auto& [path, body] : pages_) {
      const std::string hash = Sha256Hex(body);
      if (store_->blobs().Has(hash)) continue;
      RETURN_IF_ERROR(store_->blobs().PutExpected(hash, body));
      stored.push_back(hash);
    }
    return store_->Stage(Update());
  }

  // The release the site serves: tie-up 1, and every page of it reads back intact.
  void ExpectOldReleaseServed() {
    auto active = store_->Active(Area::kTieup);
    ASSERT_THAT(active, IsOk());
    EXPECT_EQ((*active)->version, 1u);
    for (const auto& [path, e] : (*active)->files) {
      EXPECT_THAT(store_->blobs().Get(e.hash, e.length), IsOk()) << path;
    }
  }

  TempDir tmp_;
  std::unique_ptr<Env> posix_ = NewPosixEnv();
  FullDiskEnv disk_{*posix_};
  std::string site_ = tmp_.Sub("shop-b");
  std::unique_ptr<ContentStore> store_;
  std::set<std::string> before_;
  const std::map<std::string, std::string> pages_ = {
      {"/index.html", "home"},
      {"/pending.html", "p"},
      {"/mine-too.html", "m"},
      {"/big-1.html", std::string(40000, 'x')},
      {"/big-2.html", std::string(50000, 'y')},
  };
};

TEST_F(StagingFullDiskTest, BlobsThatDoNotFitLeaveNothingBehind) {
  disk_.SetFreeBytes(45000);  // big-1 fits, big-2 does not
  std::vector<std::string> stored;
  Status s = FetchAndStage(stored);
  EXPECT_THAT(s, StatusIs(StatusCode::kResourceExhausted, HasSubstr("No space left on device")));
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_NE(FilesUnder(*posix_, site_), before_);  // big-1 is there

  // Cleaning up: even handed every blob of the update, only the one no release uses goes.
  std::vector<std::string> all;
  for (const auto& [path, e] : Update().files) all.push_back(e.hash);
  auto removed = store_->RemoveUnreferencedBlobs(all);
  ASSERT_THAT(removed, IsOk());
  EXPECT_EQ(*removed, 1u);
  EXPECT_EQ(FilesUnder(*posix_, site_), before_);
  ExpectOldReleaseServed();
  EXPECT_THAT(store_->ReadStaged(Area::kTieup, 2), IsOk());
  EXPECT_THAT(store_->ReadStaged(Area::kTieup, 3), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store_->blobs().Get(Sha256Hex("m")), IsOk());

  // Space returns: the same update stages and activates.
  disk_.LiftLimit();
  stored.clear();
  ASSERT_THAT(FetchAndStage(stored), IsOk());
  ASSERT_THAT(store_->Activate(Area::kTieup, 3), IsOk());
  EXPECT_EQ((*store_->Active(Area::kTieup))->version, 3u);
}

TEST_F(StagingFullDiskTest, MetadataThatDoesNotFitLeavesNoStagedFile) {
  // Every blob fits; the metadata file does not.
  disk_.SetFreeBytes(90000 + 10);
  std::vector<std::string> stored;
  Status s = FetchAndStage(stored);
  EXPECT_THAT(s, StatusIs(StatusCode::kResourceExhausted));
  EXPECT_EQ(stored.size(), 2u);
  EXPECT_THAT(store_->ReadStaged(Area::kTieup, 3), StatusIs(StatusCode::kNotFound));
  auto removed = store_->RemoveUnreferencedBlobs(stored);
  ASSERT_THAT(removed, IsOk());
  EXPECT_EQ(*removed, 2u);
  // No blob, no "3.json" and no "3.json.tmp" of the failed attempt.
  EXPECT_EQ(FilesUnder(*posix_, site_), before_);
  ExpectOldReleaseServed();
}

TEST_F(StagingFullDiskTest, AnUnreadableReleaseRemovesNothing) {
  std::vector<std::string> stored;
  ASSERT_THAT(
      store_->blobs().PutExpected(Sha256Hex(pages_.at("/big-1.html")), pages_.at("/big-1.html")),
      IsOk());
  stored.push_back(Sha256Hex(pages_.at("/big-1.html")));
  // The staged release 2 is damaged: which blobs it uses is unknown, so none goes.
  ASSERT_THAT(WriteFileAtomic(*posix_, JoinPath(site_, "releases/tieup/2.json"), "{garbage"),
              IsOk());
  EXPECT_FALSE(store_->RemoveUnreferencedBlobs(stored).ok());
  EXPECT_TRUE(store_->blobs().Has(stored[0]));
}

}  // namespace
}  // namespace tieup::content
