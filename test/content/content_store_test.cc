#include "content/content_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "content_test_util.h"
#include "crypto/hash.h"
#include "mem_env.h"
#include "test_support.h"

namespace tieup::content {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::tieup::content::testing::Entry;
using ::tieup::content::testing::MakeRelease;
using ::tieup::content::testing::Publish;
using ::tieup::testing::IsOk;
using ::tieup::testing::MemEnv;
using ::tieup::testing::StatusIs;

constexpr char kSite[] = "/sites/shop-b";

class ContentStoreTest : public ::testing::Test {
 protected:
  ContentStoreTest() { Reopen(); }

  void Reopen(ContentStore::Options options = {.keep_releases = 5, .site_id = "shop-b"}) {
    store_.reset();
    auto s = ContentStore::Open(env_, kSite, options);
    ASSERT_THAT(s, IsOk());
    store_ = std::move(*s);
  }

  ReleaseManifest Release(Area area, uint64_t version,
                          const std::map<std::string, std::string>& pages) {
    return MakeRelease(*store_, area, version, pages);
  }

  uint64_t ActiveVersion(Area area) {
    auto a = store_->Active(area);
    return a.ok() ? (*a)->version : 0;
  }

  MemEnv env_;
  std::unique_ptr<ContentStore> store_;
};

TEST_F(ContentStoreTest, OpenCreatesTheLayoutAndHasNoActiveRelease) {
  EXPECT_TRUE(env_.FileExists(std::string(kSite) + "/blobs"));
  EXPECT_TRUE(env_.FileExists(std::string(kSite) + "/releases/tieup"));
  EXPECT_TRUE(env_.FileExists(std::string(kSite) + "/releases/original"));
  EXPECT_THAT(store_->Active(Area::kTieup), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store_->Active(Area::kOriginal), StatusIs(StatusCode::kNotFound));
  EXPECT_TRUE(store_->StagedVersions(Area::kTieup)->empty());
}

TEST_F(ContentStoreTest, OpenRefusesABadSiteId) {
  EXPECT_THAT(ContentStore::Open(env_, kSite, {.site_id = "../x"}),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(ContentStoreTest, StageThenActivateSwitchesThePointer) {
  ReleaseManifest v1 = Release(Area::kTieup, 1, {{"/index.html", "v1"}});
  ASSERT_THAT(store_->Stage(v1), IsOk());
  EXPECT_THAT(store_->Active(Area::kTieup), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(*store_->StagedVersions(Area::kTieup), ElementsAre(1u));
  EXPECT_EQ(*store_->ReadStaged(Area::kTieup, 1), v1);

  ASSERT_THAT(store_->Activate(Area::kTieup, 1), IsOk());
  auto active = store_->Active(Area::kTieup);
  ASSERT_THAT(active, IsOk());
  EXPECT_EQ(**active, v1);
  EXPECT_EQ(*env_.ReadFile(std::string(kSite) + "/releases/tieup/ACTIVE"), "1\n");
  EXPECT_EQ(*env_.ReadFile(std::string(kSite) + "/releases/tieup/1.json"), v1.Encode());
  // The other area is untouched.
  EXPECT_THAT(store_->Active(Area::kOriginal), StatusIs(StatusCode::kNotFound));
}

TEST_F(ContentStoreTest, ActiveReleaseSurvivesReopen) {
  ReleaseManifest v1 = Release(Area::kOriginal, 3, {{"/a.html", "a"}});
  ASSERT_THAT(Publish(*store_, v1), IsOk());
  Reopen();
  auto active = store_->Active(Area::kOriginal);
  ASSERT_THAT(active, IsOk());
  EXPECT_EQ(**active, v1);
}

TEST_F(ContentStoreTest, StageRefusesAMissingBlob) {
  ReleaseManifest m = Release(Area::kTieup, 1, {{"/index.html", "body"}});
  m.files["/gone.html"] = Entry(Sha256Hex("never put"), 9, "text/html");
  EXPECT_THAT(store_->Stage(m),
              StatusIs(StatusCode::kNotFound, HasSubstr("'/gone.html'), which is not stored")));
  EXPECT_TRUE(store_->StagedVersions(Area::kTieup)->empty());
}

TEST_F(ContentStoreTest, StageRefusesABlobOfTheWrongLength) {
  ReleaseManifest m = Release(Area::kTieup, 1, {{"/index.html", "body"}});
  m.files["/index.html"].length = 99;
  EXPECT_THAT(store_->Stage(m), StatusIs(StatusCode::kDataLoss, HasSubstr("says 99")));
}

TEST_F(ContentStoreTest, StageRefusesAMissingGzipVariant) {
  ReleaseManifest m = Release(Area::kTieup, 1, {{"/index.html", "body"}});
  m.files["/index.html"].gzip = GzipVariant{Sha256Hex("gz"), 2};
  EXPECT_THAT(store_->Stage(m),
              StatusIs(StatusCode::kNotFound, HasSubstr("gzip variant of '/index.html'")));
}

TEST_F(ContentStoreTest, StageRefusesAnInvalidManifest) {
  ReleaseManifest m = Release(Area::kTieup, 0, {{"/index.html", "body"}});
  EXPECT_THAT(store_->Stage(m), StatusIs(StatusCode::kInvalidArgument, HasSubstr("at least 1")));
}

TEST_F(ContentStoreTest, StageRefusesAnotherSitesRelease) {
  ReleaseManifest m = MakeRelease(*store_, Area::kTieup, 1, {{"/a.html", "a"}}, "shop-c");
  EXPECT_THAT(store_->Stage(m),
              StatusIs(StatusCode::kPermissionDenied, HasSubstr("for site 'shop-c'")));
}

TEST_F(ContentStoreTest, StageRefusesAVersionNotAboveTheActiveOne) {
  ASSERT_THAT(Publish(*store_, Release(Area::kTieup, 5, {{"/a.html", "five"}})), IsOk());
  Status older = store_->Stage(Release(Area::kTieup, 3, {{"/a.html", "three"}}));
  EXPECT_THAT(older, StatusIs(StatusCode::kFailedPrecondition,
                              HasSubstr("release version 3 of area 'tieup' is not above the "
                                        "active version 5")));
  EXPECT_THAT(store_->Stage(Release(Area::kTieup, 5, {{"/a.html", "replay"}})),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("version 5")));
  // Another area has its own versions.
  EXPECT_THAT(store_->Stage(Release(Area::kOriginal, 1, {{"/b.html", "b"}})), IsOk());
}

TEST_F(ContentStoreTest, ExpiredMetadataIsRefused) {
  const int64_t now = env_.NowSeconds();
  ReleaseManifest stale = Release(Area::kTieup, 1, {{"/a.html", "a"}});
  stale.created = now - 100;
  stale.expires = now;
  EXPECT_THAT(store_->Stage(stale),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("refusing stale metadata")));

  ReleaseManifest fresh = stale;
  fresh.expires = now + 60;
  ASSERT_THAT(store_->Stage(fresh), IsOk());
  env_.AdvanceSeconds(61);  // the manager approved too late
  EXPECT_THAT(store_->Activate(Area::kTieup, 1),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("expired at")));
  EXPECT_THAT(store_->Active(Area::kTieup), StatusIs(StatusCode::kNotFound));
}

TEST_F(ContentStoreTest, AnActiveReleasePastItsExpiryStaysActiveAndCanBeRolledBackTo) {
  const int64_t now = env_.NowSeconds();
  ReleaseManifest v1 = Release(Area::kTieup, 1, {{"/a.html", "a"}});
  v1.created = now - 10;
  v1.expires = now + 10;
  ASSERT_THAT(Publish(*store_, v1), IsOk());
  ASSERT_THAT(Publish(*store_, Release(Area::kTieup, 2, {{"/a.html", "b"}})), IsOk());
  env_.AdvanceSeconds(3600);
  Reopen();
  EXPECT_EQ(ActiveVersion(Area::kTieup), 2u);
  ASSERT_THAT(store_->Rollback(Area::kTieup), IsOk());
  EXPECT_EQ(ActiveVersion(Area::kTieup), 1u);
  EXPECT_THAT(store_->Activate(Area::kTieup, 1), IsOk());
}

TEST_F(ContentStoreTest, RestagingAPendingVersionReplacesIt) {
  ASSERT_THAT(store_->Stage(Release(Area::kTieup, 2, {{"/a.html", "first"}})), IsOk());
  ReleaseManifest second = Release(Area::kTieup, 2, {{"/a.html", "second"}});
  ASSERT_THAT(store_->Stage(second), IsOk());
  EXPECT_EQ(*store_->ReadStaged(Area::kTieup, 2), second);
}

// The store remembers what it staged and activates it without parsing the file again, but only
// while the file is what it wrote: another process that staged the same version meanwhile wins.
TEST_F(ContentStoreTest, AVersionRestagedByAnotherProcessIsActivatedAsThatProcessWroteIt) {
  ReleaseManifest mine = Release(Area::kTieup, 1, {{"/a.html", "mine"}});
  ASSERT_THAT(store_->Stage(mine), IsOk());
  {
    auto other = ContentStore::Open(env_, kSite, {.keep_releases = 5, .site_id = "shop-b"});
    ASSERT_THAT(other, IsOk());
    ASSERT_THAT((*other)->Stage(Release(Area::kTieup, 1, {{"/a.html", "theirs"}})), IsOk());
  }
  ASSERT_THAT(store_->Activate(Area::kTieup, 1), IsOk());
  auto active = store_->Active(Area::kTieup);
  ASSERT_THAT(active, IsOk());
  EXPECT_NE((*active)->files.at("/a.html").hash, mine.files.at("/a.html").hash);
}

TEST_F(ContentStoreTest, ActivateRefusesUnstagedAndOlderVersions) {
  EXPECT_THAT(
      store_->Activate(Area::kTieup, 4),
      StatusIs(StatusCode::kNotFound, HasSubstr("release 4 of area 'tieup' is not staged")));
  ASSERT_THAT(Publish(*store_, Release(Area::kTieup, 1, {{"/a.html", "1"}})), IsOk());
  ASSERT_THAT(Publish(*store_, Release(Area::kTieup, 2, {{"/a.html", "2"}})), IsOk());
  EXPECT_THAT(store_->Activate(Area::kTieup, 1),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("use rollback")));
  EXPECT_THAT(store_->Activate(Area::kTieup, 2), IsOk());  // again: idempotent
  EXPECT_EQ(ActiveVersion(Area::kTieup), 2u);
}

TEST_F(ContentStoreTest, ActivateRechecksBlobs) {
  ReleaseManifest v1 = Release(Area::kTieup, 1, {{"/a.html", "only copy"}});
  ASSERT_THAT(store_->Stage(v1), IsOk());
  ASSERT_THAT(store_->blobs().Remove(v1.files["/a.html"].hash), IsOk());
  EXPECT_THAT(store_->Activate(Area::kTieup, 1), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store_->Active(Area::kTieup), StatusIs(StatusCode::kNotFound));
}

TEST_F(ContentStoreTest, RollbackReactivatesThePreviousKeptVersion) {
  for (uint64_t v = 1; v <= 3; ++v) {
    ASSERT_THAT(Publish(*store_, Release(Area::kTieup, v, {{"/a.html", std::to_string(v)}})),
                IsOk());
  }
  auto rolled_back = store_->Rollback(Area::kTieup);
  ASSERT_THAT(rolled_back, IsOk());
  EXPECT_EQ(*rolled_back, 2u);
  EXPECT_EQ(ActiveVersion(Area::kTieup), 2u);
  Reopen();
  EXPECT_EQ(ActiveVersion(Area::kTieup), 2u);
  ASSERT_THAT(store_->Rollback(Area::kTieup), IsOk());
  EXPECT_EQ(ActiveVersion(Area::kTieup), 1u);
  EXPECT_THAT(store_->Rollback(Area::kTieup),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("older than the active")));
  // Version 3 is still staged and may be activated again (forward).
  EXPECT_THAT(store_->Activate(Area::kTieup, 3), IsOk());
}

TEST_F(ContentStoreTest, RollbackWithoutAnActiveReleaseFails) {
  EXPECT_THAT(store_->Rollback(Area::kOriginal),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("nothing to roll back")));
}

TEST_F(ContentStoreTest, PruneKeepsTheNewestReleasesAndTheirBlobs) {
  Reopen({.keep_releases = 2, .site_id = "shop-b"});
  std::vector<ReleaseManifest> releases;
  for (uint64_t v = 1; v <= 4; ++v) {
    releases.push_back(Release(Area::kTieup, v,
                               {{"/shared.html", "same in all"}, {"/v.html", std::to_string(v)}}));
    ASSERT_THAT(Publish(*store_, releases.back()), IsOk());
  }
  // First prune: old metadata goes, but blobs put since the last prune are spared.
  auto stats = store_->Prune();
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(stats->releases_removed, 2u);
  EXPECT_EQ(stats->blobs_removed, 0u);
  EXPECT_THAT(*store_->StagedVersions(Area::kTieup), ElementsAre(3u, 4u));
  EXPECT_TRUE(store_->blobs().Has(releases[0].files["/v.html"].hash));
  // Second prune: unreferenced blobs go, referenced ones stay.
  stats = store_->Prune();
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(stats->blobs_removed, 2u);
  EXPECT_FALSE(store_->blobs().Has(releases[0].files["/v.html"].hash));
  EXPECT_FALSE(store_->blobs().Has(releases[1].files["/v.html"].hash));
  EXPECT_TRUE(store_->blobs().Has(releases[2].files["/v.html"].hash));
  EXPECT_TRUE(store_->blobs().Has(releases[3].files["/shared.html"].hash));
}

TEST_F(ContentStoreTest, PruneNeverRemovesTheActiveRelease) {
  Reopen({.keep_releases = 1, .site_id = "shop-b"});
  ReleaseManifest v1 = Release(Area::kTieup, 1, {{"/a.html", "one"}});
  ASSERT_THAT(Publish(*store_, v1), IsOk());
  ASSERT_THAT(Publish(*store_, Release(Area::kTieup, 2, {{"/a.html", "two"}})), IsOk());
  ASSERT_THAT(store_->Rollback(Area::kTieup), IsOk());
  ASSERT_THAT(store_->Prune(), IsOk());
  ASSERT_THAT(store_->Prune(), IsOk());
  EXPECT_THAT(*store_->StagedVersions(Area::kTieup), ElementsAre(1u, 2u));
  EXPECT_TRUE(store_->blobs().Has(v1.files["/a.html"].hash));
  EXPECT_EQ(ActiveVersion(Area::kTieup), 1u);
}

TEST_F(ContentStoreTest, PruneKeepsBlobsOfEveryArea) {
  Reopen({.keep_releases = 1, .site_id = "shop-b"});
  ReleaseManifest t = Release(Area::kTieup, 1, {{"/t.html", "tie-up page"}});
  ReleaseManifest o = Release(Area::kOriginal, 1, {{"/o.html", "original page"}});
  ASSERT_THAT(Publish(*store_, t), IsOk());
  ASSERT_THAT(Publish(*store_, o), IsOk());
  auto orphan = store_->blobs().Put("orphan");
  ASSERT_THAT(orphan, IsOk());
  ASSERT_THAT(store_->Prune(), IsOk());
  EXPECT_TRUE(store_->blobs().Has(*orphan));  // just put: spared once
  auto stats = store_->Prune();
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(stats->blobs_removed, 1u);
  EXPECT_FALSE(store_->blobs().Has(*orphan));
  EXPECT_TRUE(store_->blobs().Has(t.files["/t.html"].hash));
  EXPECT_TRUE(store_->blobs().Has(o.files["/o.html"].hash));
}

TEST_F(ContentStoreTest, PruneRemovesNothingWhenAKeptReleaseIsCorrupt) {
  ReleaseManifest v1 = Release(Area::kTieup, 1, {{"/a.html", "one"}});
  ASSERT_THAT(Publish(*store_, v1), IsOk());
  auto orphan = store_->blobs().Put("orphan");
  ASSERT_THAT(WriteFileAtomic(env_, std::string(kSite) + "/releases/tieup/2.json", "{junk"),
              IsOk());
  ASSERT_THAT(store_->Prune(), StatusIs(StatusCode::kDataLoss, HasSubstr("2.json is corrupt")));
  ASSERT_THAT(store_->Prune(), StatusIs(StatusCode::kDataLoss));
  EXPECT_TRUE(store_->blobs().Has(*orphan));
}

TEST_F(ContentStoreTest, TieupReleaseCollidingWithAnOriginalPageIsRefused) {
  ASSERT_THAT(Publish(*store_, Release(Area::kOriginal, 1, {{"/about.html", "ours"}})), IsOk());
  Status s =
      store_->Stage(Release(Area::kTieup, 1, {{"/index.html", "main"}, {"/about.html", "main's"}}));
  EXPECT_THAT(s, StatusIs(StatusCode::kAlreadyExists,
                          HasSubstr("'/about.html', which is an original page of this site")));
  EXPECT_TRUE(store_->StagedVersions(Area::kTieup)->empty());
}

TEST_F(ContentStoreTest, OriginalReleaseCollidingWithATieupPageIsRefused) {
  ASSERT_THAT(Publish(*store_, Release(Area::kTieup, 1, {{"/news/a.html", "main"}})), IsOk());
  EXPECT_THAT(store_->Stage(Release(Area::kOriginal, 1, {{"/news/a.html", "ours"}})),
              StatusIs(StatusCode::kAlreadyExists,
                       HasSubstr("'/news/a.html', which is a tie-up page managed by the main "
                                 "site; choose another path")));
}

TEST_F(ContentStoreTest, ActivateRechecksCollisionsMadeAfterStaging) {
  ASSERT_THAT(store_->Stage(Release(Area::kTieup, 1, {{"/x.html", "main"}})), IsOk());
  ASSERT_THAT(store_->PutOriginalPage("/x.html", "ours", "text/html"), IsOk());
  EXPECT_THAT(store_->Activate(Area::kTieup, 1), StatusIs(StatusCode::kAlreadyExists));
  EXPECT_THAT(store_->Active(Area::kTieup), StatusIs(StatusCode::kNotFound));
}

TEST_F(ContentStoreTest, PutOriginalPageWritesAndActivatesANewRelease) {
  auto edit = store_->PutOriginalPage("/hello.html", "<p>hello</p>", "text/html");
  ASSERT_THAT(edit, IsOk());
  EXPECT_EQ(edit->area, Area::kOriginal);
  EXPECT_FALSE(edit->emergency_tieup_edit);
  EXPECT_TRUE(edit->changed);
  EXPECT_EQ(edit->previous_version, 0u);
  EXPECT_EQ(edit->version, 1u);
  EXPECT_EQ(edit->old_hash, "");
  EXPECT_EQ(edit->new_hash, Sha256Hex("<p>hello</p>"));

  env_.AdvanceSeconds(60);
  auto second = store_->PutOriginalPage("/hello.html", "<p>hello again</p>", "text/html");
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(second->previous_version, 1u);
  EXPECT_EQ(second->version, 2u);
  EXPECT_EQ(second->old_hash, Sha256Hex("<p>hello</p>"));

  auto active = store_->Active(Area::kOriginal);
  ASSERT_THAT(active, IsOk());
  EXPECT_EQ((*active)->site, "shop-b");
  EXPECT_EQ((*active)->created, env_.NowSeconds());
  EXPECT_EQ((*active)->files.at("/hello.html").hash, Sha256Hex("<p>hello again</p>"));
}

TEST_F(ContentStoreTest, PutOriginalPageWithTheSameBytesMakesNoNewRelease) {
  ASSERT_THAT(store_->PutOriginalPage("/a.html", "same", "text/html"), IsOk());
  auto again = store_->PutOriginalPage("/a.html", "same", "text/html");
  ASSERT_THAT(again, IsOk());
  EXPECT_FALSE(again->changed);
  EXPECT_EQ(again->version, 1u);
  EXPECT_THAT(*store_->StagedVersions(Area::kOriginal), ElementsAre(1u));
}

TEST_F(ContentStoreTest, PutOriginalPageRefusesBadInput) {
  EXPECT_THAT(store_->PutOriginalPage("/a/../b.html", "x", "text/html"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("\"..\" segment")));
  EXPECT_THAT(store_->PutOriginalPage("/a.html", "x", "text/html\r\nSet-Cookie: a=b"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("bad content_type")));
  EXPECT_THAT(store_->Active(Area::kOriginal), StatusIs(StatusCode::kNotFound));
}

TEST_F(ContentStoreTest, PutOriginalPageNeedsASiteIdForTheFirstRelease) {
  Reopen({.keep_releases = 5, .site_id = ""});
  EXPECT_THAT(store_->PutOriginalPage("/a.html", "x", "text/html"),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("site id is unknown")));
}

TEST_F(ContentStoreTest, PutOriginalPageAddsAGzipVariantForLargeText) {
  std::string big(5000, 'x');
  ASSERT_THAT(store_->PutOriginalPage("/big.html", big, "text/html"), IsOk());
  ASSERT_THAT(store_->PutOriginalPage("/big.png", big, "image/png"), IsOk());
  auto active = store_->Active(Area::kOriginal);
  ASSERT_THAT(active, IsOk());
  const FileEntry& html = (*active)->files.at("/big.html");
  ASSERT_TRUE(html.gzip.has_value());
  EXPECT_LT(html.gzip->length, 5000u);
  EXPECT_TRUE(store_->blobs().Has(html.gzip->hash));
  EXPECT_FALSE((*active)->files.at("/big.png").gzip.has_value());
}

TEST_F(ContentStoreTest, PutOriginalPageRefusesATieupPath) {
  ASSERT_THAT(Publish(*store_, Release(Area::kTieup, 1, {{"/news/a.html", "main"}})), IsOk());
  EXPECT_THAT(store_->PutOriginalPage("/news/a.html", "mine", "text/html"),
              StatusIs(StatusCode::kPermissionDenied,
                       HasSubstr("'/news/a.html' is a tie-up page managed by the main site; "
                                 "choose another path")));
  EXPECT_THAT(store_->RemoveOriginalPage("/news/a.html"),
              StatusIs(StatusCode::kPermissionDenied, HasSubstr("tie-up page")));
  EXPECT_THAT(store_->Active(Area::kOriginal), StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(ActiveVersion(Area::kTieup), 1u);
}

// Main's tie-up release with the emergency edit grant `policy`.
ReleaseManifest Granted(ReleaseManifest m, EmergencyEditPolicy policy) {
  m.emergency_edit = policy;
  return m;
}

std::string ServedHash(ContentStore& store, const std::string& path) {
  auto served = store.Served(Area::kTieup);
  if (!served.ok()) return "(no release)";
  auto it = (*served)->files.find(path);
  return it == (*served)->files.end() ? "(absent)" : it->second.hash;
}

TEST_F(ContentStoreTest, EmergencyEditIsRefusedUnlessMainsReleaseGrantsIt) {
  ASSERT_THAT(Publish(*store_, Release(Area::kTieup, 1, {{"/news/a.html", "main"}})), IsOk());
  EXPECT_THAT(
      store_->PutOriginalPage("/news/a.html", "fixed", "text/html", true, "manager"),
      StatusIs(StatusCode::kPermissionDenied,
               HasSubstr("does not grant this site emergency edits: only the main site manager "
                         "can grant the right")));
  EXPECT_THAT(store_->RemoveOriginalPage("/news/a.html", true),
              StatusIs(StatusCode::kPermissionDenied, HasSubstr("--emergency-edit")));
  EXPECT_TRUE(store_->Overlay().empty());
  EXPECT_TRUE(store_->UnreportedOverlayChanges().empty());
  EXPECT_EQ(ServedHash(*store_, "/news/a.html"), Sha256Hex("main"));
}

TEST_F(ContentStoreTest, EmergencyEditIsAnOverlayNotARelease) {
  ReleaseManifest v1 =
      Granted(Release(Area::kTieup, 1, {{"/news/a.html", "main"}, {"/b.html", "b"}}),
              EmergencyEditPolicy::kKeep);
  ASSERT_THAT(Publish(*store_, v1), IsOk());
  // A release main offered and the manager has not approved yet.
  ASSERT_THAT(store_->Stage(Release(Area::kTieup, 2, {{"/news/a.html", "pending"}})), IsOk());

  auto edit = store_->PutOriginalPage("/news/a.html", "fixed typo", "text/html",
                                      /*allow_tieup_edit=*/true, "ann");
  ASSERT_THAT(edit, IsOk());
  EXPECT_EQ(edit->area, Area::kTieup);
  EXPECT_TRUE(edit->emergency_tieup_edit);
  EXPECT_TRUE(edit->changed);
  EXPECT_EQ(edit->version, 1u);  // main's version: no release was written
  EXPECT_EQ(edit->old_hash, Sha256Hex("main"));
  EXPECT_EQ(edit->new_hash, Sha256Hex("fixed typo"));
  EXPECT_THAT(*store_->StagedVersions(Area::kTieup), ElementsAre(1u, 2u));
  EXPECT_EQ(**store_->Active(Area::kTieup), v1);  // main's release as signed
  EXPECT_EQ(ServedHash(*store_, "/news/a.html"), Sha256Hex("fixed typo"));
  EXPECT_EQ(ServedHash(*store_, "/b.html"), Sha256Hex("b"));
  EXPECT_EQ((*store_->Served(Area::kTieup))->version, 1u);
  EXPECT_THAT(store_->Active(Area::kOriginal), StatusIs(StatusCode::kNotFound));

  auto removed = store_->RemoveOriginalPage("/b.html", /*allow_tieup_edit=*/true, "ann");
  ASSERT_THAT(removed, IsOk());
  EXPECT_TRUE(removed->emergency_tieup_edit);
  EXPECT_EQ(removed->old_hash, Sha256Hex("b"));
  EXPECT_EQ(removed->new_hash, "");
  EXPECT_EQ(ServedHash(*store_, "/b.html"), "(absent)");
  // Removing again changes nothing; the path stays a tie-up page (no original page there).
  EXPECT_FALSE(store_->RemoveOriginalPage("/b.html", true)->changed);
  EXPECT_THAT(store_->PutOriginalPage("/b.html", "mine", "text/html"),
              StatusIs(StatusCode::kPermissionDenied));

  std::vector<OverlayEntry> overlay = store_->Overlay();
  ASSERT_EQ(overlay.size(), 2u);
  EXPECT_EQ(overlay[0].path, "/b.html");
  EXPECT_FALSE(overlay[0].entry.has_value());
  EXPECT_EQ(overlay[1].path, "/news/a.html");
  EXPECT_EQ(overlay[1].entry->hash, Sha256Hex("fixed typo"));
  EXPECT_EQ(overlay[1].main_hash, Sha256Hex("main"));
  EXPECT_EQ(overlay[1].by, "ann");
  EXPECT_EQ(overlay[1].main_version, 1u);

  std::vector<OverlayChange> changes = store_->UnreportedOverlayChanges();
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].seq, 1u);
  EXPECT_EQ(changes[0].action, "put");
  EXPECT_EQ(changes[0].path, "/news/a.html");
  EXPECT_EQ(changes[0].by, "ann");
  EXPECT_EQ(changes[0].old_hash, Sha256Hex("main"));
  EXPECT_EQ(changes[0].new_hash, Sha256Hex("fixed typo"));
  EXPECT_EQ(changes[1].action, "remove");

  // Durable: a new process serves the same.
  Reopen();
  EXPECT_EQ(store_->Overlay(), overlay);
  EXPECT_EQ(store_->UnreportedOverlayChanges(), changes);
  EXPECT_EQ(ServedHash(*store_, "/news/a.html"), Sha256Hex("fixed typo"));

  ASSERT_THAT(store_->MarkOverlayChangesReported(1), IsOk());
  ASSERT_EQ(store_->UnreportedOverlayChanges().size(), 1u);
  EXPECT_EQ(store_->UnreportedOverlayChanges()[0].seq, 2u);
  Reopen();
  EXPECT_EQ(store_->UnreportedOverlayChanges().size(), 1u);
}

TEST_F(ContentStoreTest, PuttingMainsPageBackOrRevertingEndsTheEdit) {
  ASSERT_THAT(Publish(*store_, Granted(Release(Area::kTieup, 1, {{"/a.html", "main"}}),
                                       EmergencyEditPolicy::kKeep)),
              IsOk());
  ASSERT_THAT(store_->PutOriginalPage("/a.html", "edit", "text/html", true), IsOk());
  auto back = store_->PutOriginalPage("/a.html", "main", "text/html; charset=utf-8", true);
  ASSERT_THAT(back, IsOk());
  EXPECT_TRUE(back->changed);
  EXPECT_TRUE(store_->Overlay().empty());
  EXPECT_EQ(store_->UnreportedOverlayChanges().back().action, "revert");

  ASSERT_THAT(store_->PutOriginalPage("/a.html", "edit 2", "text/html", true), IsOk());
  EXPECT_EQ(store_->RevertEmergencyEdit("/a.html", "ann").value_or(false), true);
  EXPECT_EQ(store_->RevertEmergencyEdit("/a.html", "ann").value_or(true), false);
  EXPECT_EQ(ServedHash(*store_, "/a.html"), Sha256Hex("main"));
  EXPECT_EQ(store_->UnreportedOverlayChanges().back().new_hash, Sha256Hex("main"));
}

// The bug of issue 15: main's next version must stage and activate after an emergency edit.
TEST_F(ContentStoreTest, MainsNextVersionActivatesAfterAnEmergencyEdit) {
  ASSERT_THAT(Publish(*store_, Granted(Release(Area::kTieup, 1, {{"/a.html", "main 1"}}),
                                       EmergencyEditPolicy::kKeep)),
              IsOk());
  ASSERT_THAT(store_->PutOriginalPage("/a.html", "edit", "text/html", true), IsOk());
  ASSERT_THAT(Publish(*store_, Granted(Release(Area::kTieup, 2, {{"/a.html", "main 2"}}),
                                       EmergencyEditPolicy::kKeep)),
              IsOk());
  EXPECT_EQ(ActiveVersion(Area::kTieup), 2u);
}

TEST_F(ContentStoreTest, KeepPolicyKeepsTheEditOverMainsNewVersion) {
  ASSERT_THAT(Publish(*store_, Granted(Release(Area::kTieup, 1,
                                               {{"/a.html", "main a1"}, {"/gone.html", "g"}}),
                                       EmergencyEditPolicy::kKeep)),
              IsOk());
  ASSERT_THAT(store_->PutOriginalPage("/a.html", "edit a", "text/html", true), IsOk());
  ASSERT_THAT(store_->PutOriginalPage("/gone.html", "edit g", "text/html", true), IsOk());
  ASSERT_THAT(store_->MarkOverlayChangesReported(2), IsOk());
  ASSERT_THAT(Publish(*store_, Granted(Release(Area::kTieup, 2, {{"/a.html", "main a2"}}),
                                       EmergencyEditPolicy::kKeep)),
              IsOk());
  EXPECT_EQ(ServedHash(*store_, "/a.html"), Sha256Hex("edit a"));
  // A page main removed takes its edit with it.
  EXPECT_EQ(ServedHash(*store_, "/gone.html"), "(absent)");
  ASSERT_EQ(store_->Overlay().size(), 1u);
  auto changes = store_->UnreportedOverlayChanges();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].action, "dropped");
  EXPECT_EQ(changes[0].path, "/gone.html");
  EXPECT_EQ(changes[0].by, "main's tie-up version 2");
  EXPECT_THAT(changes[0].reason, HasSubstr("no longer has this page"));
}

TEST_F(ContentStoreTest, OverwritePolicyDropsTheEditsOfThePagesMainChanges) {
  ASSERT_THAT(Publish(*store_, Granted(Release(Area::kTieup, 1,
                                               {{"/a.html", "main a1"}, {"/b.html", "main b"}}),
                                       EmergencyEditPolicy::kOverwrite)),
              IsOk());
  ASSERT_THAT(store_->PutOriginalPage("/a.html", "edit a", "text/html", true), IsOk());
  ASSERT_THAT(store_->RemoveOriginalPage("/b.html", true), IsOk());
  // Version 2 changes /a.html only: its edit goes, the removal of /b.html stays.
  ASSERT_THAT(Publish(*store_, Granted(Release(Area::kTieup, 2,
                                               {{"/a.html", "main a2"}, {"/b.html", "main b"}}),
                                       EmergencyEditPolicy::kOverwrite)),
              IsOk());
  EXPECT_EQ(ServedHash(*store_, "/a.html"), Sha256Hex("main a2"));
  EXPECT_EQ(ServedHash(*store_, "/b.html"), "(absent)");
  auto changes = store_->UnreportedOverlayChanges();
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[2].action, "dropped");
  EXPECT_EQ(changes[2].path, "/a.html");
  EXPECT_EQ(changes[2].old_hash, Sha256Hex("edit a"));
  EXPECT_EQ(changes[2].new_hash, Sha256Hex("main a2"));
  EXPECT_EQ(changes[2].version, 2u);
  EXPECT_THAT(changes[2].reason, HasSubstr("policy is overwrite"));
}

TEST_F(ContentStoreTest, AVersionWithoutTheGrantEndsEveryEdit) {
  ASSERT_THAT(Publish(*store_, Granted(Release(Area::kTieup, 1, {{"/a.html", "main"}}),
                                       EmergencyEditPolicy::kKeep)),
              IsOk());
  ASSERT_THAT(store_->PutOriginalPage("/a.html", "edit", "text/html", true), IsOk());
  ASSERT_THAT(Publish(*store_, Release(Area::kTieup, 2, {{"/a.html", "main"}})), IsOk());
  EXPECT_EQ(ServedHash(*store_, "/a.html"), Sha256Hex("main"));
  EXPECT_TRUE(store_->Overlay().empty());
  EXPECT_THAT(store_->PutOriginalPage("/a.html", "edit", "text/html", true),
              StatusIs(StatusCode::kPermissionDenied));
}

// Rollback of main's releases and the overlay are independent: a rollback re-activates main's
// older release as signed, and the edits in effect under it stay; those that were dropped by an
// update do not come back.
TEST_F(ContentStoreTest, RollbackAndTheOverlay) {
  ASSERT_THAT(Publish(*store_, Granted(Release(Area::kTieup, 1,
                                               {{"/a.html", "main a"}, {"/b.html", "main b1"}}),
                                       EmergencyEditPolicy::kOverwrite)),
              IsOk());
  ASSERT_THAT(store_->PutOriginalPage("/a.html", "edit a", "text/html", true), IsOk());
  ASSERT_THAT(store_->PutOriginalPage("/b.html", "edit b", "text/html", true), IsOk());
  ASSERT_THAT(Publish(*store_, Granted(Release(Area::kTieup, 2,
                                               {{"/a.html", "main a"}, {"/b.html", "main b2"}}),
                                       EmergencyEditPolicy::kOverwrite)),
              IsOk());
  EXPECT_EQ(ServedHash(*store_, "/b.html"), Sha256Hex("main b2"));
  EXPECT_EQ(store_->Rollback(Area::kTieup).value_or(0), 1u);
  EXPECT_EQ(ServedHash(*store_, "/a.html"), Sha256Hex("edit a"));
  EXPECT_EQ(ServedHash(*store_, "/b.html"), Sha256Hex("main b1"));  // its edit ended at v2
  EXPECT_EQ(**store_->Active(Area::kTieup),
            *store_->ReadStaged(Area::kTieup, 1));  // main's bytes, untouched by the overlay
  // And an edit made after the rollback stays over main's next version (overwrite: unchanged).
  ASSERT_THAT(store_->PutOriginalPage("/b.html", "edit b again", "text/html", true), IsOk());
  ASSERT_THAT(Publish(*store_, Granted(Release(Area::kTieup, 3,
                                               {{"/a.html", "main a"}, {"/b.html", "main b1"}}),
                                       EmergencyEditPolicy::kOverwrite)),
              IsOk());
  EXPECT_EQ(ServedHash(*store_, "/b.html"), Sha256Hex("edit b again"));
}

TEST_F(ContentStoreTest, PruneKeepsTheBlobsOfEmergencyEdits) {
  ASSERT_THAT(Publish(*store_, Granted(Release(Area::kTieup, 1, {{"/a.html", "main"}}),
                                       EmergencyEditPolicy::kKeep)),
              IsOk());
  ASSERT_THAT(store_->PutOriginalPage("/a.html", "edit", "text/html", true), IsOk());
  (void)store_->blobs().TakeRecentlyPut();  // not spared as "just put"
  ASSERT_THAT(store_->Prune(), IsOk());
  EXPECT_TRUE(store_->blobs().Has(Sha256Hex("edit")));
  EXPECT_EQ(store_->RemoveUnreferencedBlobs({Sha256Hex("edit")}).value_or(9), 0u);
  EXPECT_TRUE(store_->blobs().Has(Sha256Hex("edit")));
}

TEST_F(ContentStoreTest, ADamagedOverlayRecordIsReportedOnOpen) {
  ASSERT_THAT(Publish(*store_, Granted(Release(Area::kTieup, 1, {{"/a.html", "main"}}),
                                       EmergencyEditPolicy::kKeep)),
              IsOk());
  ASSERT_THAT(store_->PutOriginalPage("/a.html", "edit", "text/html", true), IsOk());
  store_.reset();
  ASSERT_THAT(WriteFileAtomic(env_, std::string(kSite) + "/releases/tieup/OVERLAY",
                              "{\"format\":1,\"next_seq\":2,\"entries\":[{\"path\":\"../x\"}]}"),
              IsOk());
  EXPECT_THAT(ContentStore::Open(env_, kSite, {.site_id = "shop-b"}),
              StatusIs(StatusCode::kDataLoss, HasSubstr("remove it to serve main's tie-up pages")));
}

TEST_F(ContentStoreTest, AllowTieupEditOnAnOriginalPathEditsTheOriginalArea) {
  auto edit = store_->PutOriginalPage("/mine.html", "x", "text/html", true);
  ASSERT_THAT(edit, IsOk());
  EXPECT_EQ(edit->area, Area::kOriginal);
  EXPECT_FALSE(edit->emergency_tieup_edit);
}

TEST_F(ContentStoreTest, RemoveOriginalPage) {
  ASSERT_THAT(store_->PutOriginalPage("/a.html", "a", "text/html"), IsOk());
  ASSERT_THAT(store_->PutOriginalPage("/b.html", "b", "text/html"), IsOk());
  auto edit = store_->RemoveOriginalPage("/a.html");
  ASSERT_THAT(edit, IsOk());
  EXPECT_EQ(edit->version, 3u);
  EXPECT_EQ(edit->old_hash, Sha256Hex("a"));
  auto active = store_->Active(Area::kOriginal);
  EXPECT_EQ((*active)->files.count("/a.html"), 0u);
  EXPECT_EQ((*active)->files.count("/b.html"), 1u);
  EXPECT_THAT(store_->RemoveOriginalPage("/a.html"),
              StatusIs(StatusCode::kNotFound, HasSubstr("no page '/a.html'")));
}

TEST_F(ContentStoreTest, OpenRemovesLeftoverTemporaryFiles) {
  ASSERT_THAT(Publish(*store_, Release(Area::kOriginal, 1, {{"/a.html", "a"}})), IsOk());
  const std::string dir = std::string(kSite) + "/releases/original";
  ASSERT_THAT(WriteFileAtomic(env_, dir + "/ACTIVE.tmp", "2"), IsOk());
  ASSERT_THAT(WriteFileAtomic(env_, dir + "/2.json.tmp", "{\"half"), IsOk());
  Reopen();
  EXPECT_FALSE(env_.FileExists(dir + "/ACTIVE.tmp"));
  EXPECT_FALSE(env_.FileExists(dir + "/2.json.tmp"));
  EXPECT_EQ(ActiveVersion(Area::kOriginal), 1u);
}

TEST_F(ContentStoreTest, StagedJunkDoesNotBreakOpen) {
  ASSERT_THAT(Publish(*store_, Release(Area::kTieup, 1, {{"/a.html", "a"}})), IsOk());
  const std::string dir = std::string(kSite) + "/releases/tieup";
  ASSERT_THAT(WriteFileAtomic(env_, dir + "/7.json", "not json at all"), IsOk());
  ASSERT_THAT(WriteFileAtomic(env_, dir + "/notes.txt", "manager notes"), IsOk());
  Reopen();
  EXPECT_EQ(ActiveVersion(Area::kTieup), 1u);
  EXPECT_THAT(*store_->StagedVersions(Area::kTieup), ElementsAre(1u, 7u));
  EXPECT_THAT(store_->Activate(Area::kTieup, 7),
              StatusIs(StatusCode::kDataLoss, HasSubstr("7.json is corrupt")));
  EXPECT_EQ(ActiveVersion(Area::kTieup), 1u);
}

TEST_F(ContentStoreTest, PointerToMissingMetadataIsDataLoss) {
  ASSERT_THAT(Publish(*store_, Release(Area::kTieup, 1, {{"/a.html", "a"}})), IsOk());
  ASSERT_THAT(env_.RemoveFile(std::string(kSite) + "/releases/tieup/1.json"), IsOk());
  store_.reset();
  auto reopened = ContentStore::Open(env_, kSite);
  EXPECT_THAT(reopened, StatusIs(StatusCode::kDataLoss,
                                 HasSubstr("names release 1 of area 'tieup', but its metadata")));
  EXPECT_THAT(reopened.status().message(), HasSubstr("is missing"));
}

TEST_F(ContentStoreTest, CorruptPointerIsDataLoss) {
  ASSERT_THAT(Publish(*store_, Release(Area::kTieup, 1, {{"/a.html", "a"}})), IsOk());
  for (std::string bad : {"", "x\n", "01\n", "-1\n", "1 2\n", "99999999999999999999999\n"}) {
    ASSERT_THAT(WriteFileAtomic(env_, std::string(kSite) + "/releases/tieup/ACTIVE", bad), IsOk());
    EXPECT_THAT(ContentStore::Open(env_, kSite),
                StatusIs(StatusCode::kDataLoss, HasSubstr("pointer")))
        << bad;
  }
}

TEST_F(ContentStoreTest, PointerToMetadataOfAnotherVersionIsDataLoss) {
  ReleaseManifest v1 = Release(Area::kTieup, 1, {{"/a.html", "a"}});
  ASSERT_THAT(Publish(*store_, v1), IsOk());
  ReleaseManifest v2 = v1;
  v2.version = 2;
  ASSERT_THAT(WriteFileAtomic(env_, std::string(kSite) + "/releases/tieup/1.json", v2.Encode()),
              IsOk());
  EXPECT_THAT(ContentStore::Open(env_, kSite),
              StatusIs(StatusCode::kDataLoss, HasSubstr("describes version 2")));
}

}  // namespace
}  // namespace tieup::content
