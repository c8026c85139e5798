#include "content/site_view.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "content_test_util.h"
#include "crypto/hash.h"
#include "mem_env.h"
#include "test_support.h"

namespace tieup::content {
namespace {

using ::testing::HasSubstr;
using ::tieup::content::testing::Entry;
using ::tieup::content::testing::MakeRelease;
using ::tieup::content::testing::Publish;
using ::tieup::testing::IsOk;
using ::tieup::testing::MemEnv;
using ::tieup::testing::StatusIs;
using Kind = LookupResult::Kind;

class SiteViewTest : public ::testing::Test {
 protected:
  SiteViewTest() {
    auto s = ContentStore::Open(env_, "/site", {.keep_releases = 5, .site_id = "shop-b"});
    EXPECT_THAT(s, IsOk());
    store_ = std::move(*s);
  }

  std::shared_ptr<const SiteView> Load(SiteView::Options options = {}) {
    auto view = SiteView::Load(*store_, options);
    EXPECT_THAT(view, IsOk());
    return view.ok() ? *view : nullptr;
  }

  void PublishBoth() {
    ASSERT_THAT(Publish(*store_, MakeRelease(*store_, Area::kTieup, 4,
                                             {{"/index.html", "home"},
                                              {"/news/index.html", "news"},
                                              {"/news/a.html", "story a"}})),
                IsOk());
    ASSERT_THAT(Publish(*store_, MakeRelease(*store_, Area::kOriginal, 2,
                                             {{"/shop/index.html", "our shop"},
                                              {"/404.html", "not here"},
                                              {"/copy.html", "story a"}})),
                IsOk());
  }

  MemEnv env_;
  std::unique_ptr<ContentStore> store_;
};

TEST_F(SiteViewTest, EmptyStoreGivesAnEmptyView) {
  auto view = Load();
  ASSERT_NE(view, nullptr);
  EXPECT_TRUE(view->files().empty());
  EXPECT_EQ(view->not_found_page(), nullptr);
  EXPECT_EQ(view->version(Area::kTieup), 0u);
  LookupResult r = view->Lookup("/");
  EXPECT_EQ(r.kind, Kind::kNotFound);
  EXPECT_EQ(r.file, nullptr);
}

TEST_F(SiteViewTest, MergesBothAreasWithTheirMetadata) {
  PublishBoth();
  auto view = Load();
  ASSERT_NE(view, nullptr);
  EXPECT_EQ(view->files().size(), 6u);
  EXPECT_EQ(view->version(Area::kTieup), 4u);
  EXPECT_EQ(view->version(Area::kOriginal), 2u);

  const ServedFile* a = view->Find("/news/a.html");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->area, Area::kTieup);
  EXPECT_EQ(a->content_type, "text/html; charset=utf-8");
  EXPECT_EQ(a->hash, Sha256Hex("story a"));
  EXPECT_EQ(a->length, 7u);
  EXPECT_EQ(a->last_modified, 1790000000 + 4);
  EXPECT_EQ(a->method, UpdateMethod::kStaged);
  ASSERT_NE(a->body, nullptr);
  EXPECT_EQ(*a->body, "story a");

  const ServedFile* shop = view->Find("/shop/index.html");
  ASSERT_NE(shop, nullptr);
  EXPECT_EQ(shop->area, Area::kOriginal);
  EXPECT_EQ(shop->last_modified, 1790000000 + 2);
  // Equal bytes are held once.
  EXPECT_EQ(view->Find("/copy.html")->body, a->body);
  EXPECT_EQ(view->cached_bytes(), 4u + 4u + 7u + 8u + 8u);
  EXPECT_EQ(view->Find("/news"), nullptr);
}

TEST_F(SiteViewTest, LookupServesDirectoryIndexesAndRedirects) {
  PublishBoth();
  auto view = Load();
  ASSERT_NE(view, nullptr);

  LookupResult root = view->Lookup("/");
  EXPECT_EQ(root.kind, Kind::kFound);
  EXPECT_EQ(root.file->path, "/index.html");

  LookupResult news = view->Lookup("/news/");
  EXPECT_EQ(news.kind, Kind::kFound);
  EXPECT_EQ(news.file->path, "/news/index.html");

  LookupResult redirect = view->Lookup("/news");
  EXPECT_EQ(redirect.kind, Kind::kRedirect);
  EXPECT_EQ(redirect.location, "/news/");
  EXPECT_EQ(view->Lookup("/shop").location, "/shop/");

  LookupResult exact = view->Lookup("/news/a.html");
  EXPECT_EQ(exact.kind, Kind::kFound);
  EXPECT_EQ(exact.file->path, "/news/a.html");

  for (const char* missing : {"/nope.html", "/nope/", "/nope", "/news/a.html/", "/a/../index.html",
                              "//index.html", "index.html", ""}) {
    LookupResult r = view->Lookup(missing);
    EXPECT_EQ(r.kind, Kind::kNotFound) << missing;
    ASSERT_NE(r.file, nullptr) << missing;
    EXPECT_EQ(r.file->path, "/404.html");
  }
  EXPECT_EQ(view->not_found_page()->path, "/404.html");
}

TEST_F(SiteViewTest, BodiesOverTheCacheLimitAreReadOnDemandAndVerified) {
  std::string big(1000, 'b');
  ReleaseManifest m =
      MakeRelease(*store_, Area::kOriginal, 1, {{"/small.html", "small"}, {"/big.html", big}});
  ASSERT_THAT(Publish(*store_, m), IsOk());
  auto view = Load({.cache_bytes_limit = 100});
  ASSERT_NE(view, nullptr);
  const ServedFile* b = view->Find("/big.html");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->body, nullptr);
  EXPECT_NE(view->Find("/small.html")->body, nullptr);
  EXPECT_EQ(view->cached_bytes(), 5u);
  auto body = view->ReadBody(*b);
  ASSERT_THAT(body, IsOk());
  EXPECT_EQ(**body, big);

  // Defaced on disk after the view was loaded: the read refuses it.
  auto path = store_->blobs().Path(b->hash);
  ASSERT_THAT(WriteFileAtomic(env_, *path, std::string(1000, 'X')), IsOk());
  EXPECT_THAT(view->ReadBody(*b), StatusIs(StatusCode::kDataLoss));
  EXPECT_THAT(view->ReadGzipBody(*b), StatusIs(StatusCode::kNotFound, HasSubstr("no gzip")));
}

TEST_F(SiteViewTest, GzipVariantsAreServedToo) {
  std::string text(4000, 'a');
  ASSERT_THAT(store_->PutOriginalPage("/t.html", text, "text/html"), IsOk());
  auto view = Load();
  ASSERT_NE(view, nullptr);
  const ServedFile* f = view->Find("/t.html");
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(f->gzip.has_value());
  ASSERT_NE(f->gzip_body, nullptr);
  EXPECT_EQ(f->gzip_body->size(), f->gzip->length);
  EXPECT_EQ(Sha256Hex(*f->gzip_body), f->gzip->hash);
  auto gz = view->ReadGzipBody(*f);
  ASSERT_THAT(gz, IsOk());
  EXPECT_EQ(*gz, f->gzip_body);
}

TEST_F(SiteViewTest, ADamagedBlobMakesItsFileUnavailableAndTheRestIsServed) {
  ReleaseManifest m =
      MakeRelease(*store_, Area::kOriginal, 1, {{"/a.html", "genuine"}, {"/b.html", "page b"}});
  ASSERT_THAT(Publish(*store_, m), IsOk());
  auto path = store_->blobs().Path(m.files["/a.html"].hash);
  ASSERT_THAT(WriteFileAtomic(env_, *path, "defaced"), IsOk());
  auto view = Load();
  ASSERT_NE(view, nullptr);
  const ServedFile* a = view->Find("/a.html");
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->unavailable);
  EXPECT_EQ(a->body, nullptr);  // never the defaced bytes
  EXPECT_FALSE(view->Find("/b.html")->unavailable);
  EXPECT_EQ(*view->Find("/b.html")->body, "page b");
  const std::vector<BlobFault> faults = view->faults();
  ASSERT_EQ(faults.size(), 1u);
  const BlobFault& f = faults[0];
  EXPECT_EQ(f.path, "/a.html");
  EXPECT_EQ(f.area, Area::kOriginal);
  EXPECT_EQ(f.hash, m.files["/a.html"].hash);
  EXPECT_EQ(f.length, 7u);
  EXPECT_FALSE(f.gzip_variant);
  EXPECT_THAT(f.reason, HasSubstr("is damaged"));
  // The file still counts in its area (it is in the release).
  EXPECT_EQ(view->totals(Area::kOriginal).pages, 2u);
  EXPECT_EQ(view->cached_bytes(), 6u);
}

TEST_F(SiteViewTest, AMissingBlobIsAFaultInsideAndBeyondTheCache) {
  std::string big(1000, 'b');
  ReleaseManifest m = MakeRelease(
      *store_, Area::kTieup, 1, {{"/small.html", "small"}, {"/big.html", big}, {"/ok.html", "ok"}});
  ASSERT_THAT(Publish(*store_, m), IsOk());
  ASSERT_THAT(store_->blobs().Remove(m.files["/small.html"].hash), IsOk());
  ASSERT_THAT(store_->blobs().Remove(m.files["/big.html"].hash), IsOk());
  auto view = Load({.cache_bytes_limit = 100});
  ASSERT_NE(view, nullptr);
  EXPECT_TRUE(view->Find("/small.html")->unavailable);
  EXPECT_TRUE(view->Find("/big.html")->unavailable);  // found by its size, not read
  EXPECT_FALSE(view->Find("/ok.html")->unavailable);
  auto faults = view->faults();
  ASSERT_EQ(faults.size(), 2u);
  EXPECT_EQ(faults[0].path, "/big.html");
  EXPECT_EQ(faults[0].area, Area::kTieup);
  EXPECT_THAT(faults[0].reason, HasSubstr("is not in"));
  EXPECT_EQ(faults[1].path, "/small.html");
}

TEST_F(SiteViewTest, ADamagedGzipVariantLeavesThePageServedWithoutIt) {
  std::string text(4000, 'a');
  ASSERT_THAT(store_->PutOriginalPage("/t.html", text, "text/html"), IsOk());
  auto active = store_->Active(Area::kOriginal);
  ASSERT_THAT(active, IsOk());
  const FileEntry& e = (*active)->files.at("/t.html");
  ASSERT_TRUE(e.gzip.has_value());
  ASSERT_THAT(WriteFileAtomic(env_, *store_->blobs().Path(e.gzip->hash), "not gzip"), IsOk());
  auto view = Load();
  ASSERT_NE(view, nullptr);
  const ServedFile* f = view->Find("/t.html");
  EXPECT_FALSE(f->unavailable);
  EXPECT_EQ(*f->body, text);
  EXPECT_EQ(f->gzip_body, nullptr);
  ASSERT_EQ(view->faults().size(), 1u);
  EXPECT_TRUE(view->faults()[0].gzip_variant);
  EXPECT_EQ(view->faults()[0].hash, e.gzip->hash);
}

TEST_F(SiteViewTest, ALoadFromAViewWithFaultsLooksAtTheirBlobsAgain) {
  ReleaseManifest m =
      MakeRelease(*store_, Area::kOriginal, 1, {{"/a.html", "genuine"}, {"/b.html", "page b"}});
  ASSERT_THAT(Publish(*store_, m), IsOk());
  const std::string hash = m.files["/a.html"].hash;
  ASSERT_THAT(store_->blobs().Remove(hash), IsOk());
  auto first = Load();
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(first->Find("/a.html")->unavailable);

  // Still missing: the next view (same releases) still has the fault.
  auto again = SiteView::Load(*store_, {}, first.get());
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE((*again)->Find("/a.html")->unavailable);
  EXPECT_EQ((*again)->faults().size(), 1u);

  // Repaired: the next view serves it, verified, and keeps the rest shared.
  ASSERT_THAT(store_->blobs().PutExpected(hash, "genuine"), IsOk());
  auto repaired = SiteView::Load(*store_, {}, again->get());
  ASSERT_THAT(repaired, IsOk());
  const ServedFile* a = (*repaired)->Find("/a.html");
  EXPECT_FALSE(a->unavailable);
  EXPECT_EQ(*a->body, "genuine");
  EXPECT_EQ(a->last_modified, first->Find("/a.html")->last_modified);
  EXPECT_FALSE((*repaired)->has_faults());
  EXPECT_EQ((*repaired)->Find("/b.html")->body, first->Find("/b.html")->body);
  EXPECT_EQ((*repaired)->cached_bytes(), 7u + 6u);
  EXPECT_EQ((*repaired)->totals(Area::kOriginal), first->totals(Area::kOriginal));

  // A fault on a page that an update replaces goes with it.
  ASSERT_THAT(store_->blobs().Remove(m.files["/b.html"].hash), IsOk());
  auto damaged = SiteView::Load(*store_);
  ASSERT_THAT(damaged, IsOk());
  ASSERT_EQ((*damaged)->faults().size(), 1u);
  ASSERT_THAT(store_->PutOriginalPage("/b.html", "page b, new", "text/html"), IsOk());
  auto updated = SiteView::Load(*store_, {}, damaged->get());
  ASSERT_THAT(updated, IsOk());
  EXPECT_FALSE((*updated)->has_faults());
  EXPECT_EQ(*(*updated)->Find("/b.html")->body, "page b, new");
}

TEST_F(SiteViewTest, LinkPagesCarryTheirUrl) {
  ReleaseManifest m = MakeRelease(*store_, Area::kTieup, 1, {{"/cart.html", "go to main"}});
  m.files["/cart.html"].method = UpdateMethod::kLink;
  m.files["/cart.html"].link_url = "https://main.example/cart";
  ASSERT_THAT(Publish(*store_, m), IsOk());
  auto view = Load();
  ASSERT_NE(view, nullptr);
  const ServedFile* f = view->Find("/cart.html");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->method, UpdateMethod::kLink);
  EXPECT_EQ(f->link_url, "https://main.example/cart");
}

TEST_F(SiteViewTest, AViewIsASnapshot) {
  ASSERT_THAT(store_->PutOriginalPage("/a.html", "one", "text/html"), IsOk());
  auto before = Load();
  ASSERT_THAT(store_->PutOriginalPage("/a.html", "two", "text/html"), IsOk());
  auto after = Load();
  ASSERT_NE(before, nullptr);
  ASSERT_NE(after, nullptr);
  EXPECT_EQ(*before->Find("/a.html")->body, "one");
  EXPECT_EQ(*after->Find("/a.html")->body, "two");
}

TEST_F(SiteViewTest, ALoadSharesThePreviousViewsBodiesAndReadsOnlyNewOnes) {
  ReleaseManifest m =
      MakeRelease(*store_, Area::kOriginal, 1, {{"/a.html", "page a"}, {"/b.html", "page b"}});
  ASSERT_THAT(Publish(*store_, m), IsOk());
  auto first = Load();
  ASSERT_NE(first, nullptr);
  // /a.html's blob is damaged on disk after it was verified and loaded: a load sharing the
  // previous view keeps serving the verified bytes; the changed page is read and verified.
  auto a_path = store_->blobs().Path(m.files["/a.html"].hash);
  ASSERT_THAT(WriteFileAtomic(env_, *a_path, "defaced"), IsOk());
  ASSERT_THAT(store_->PutOriginalPage("/b.html", "page b, new", "text/html"), IsOk());
  auto next = SiteView::Load(*store_, {}, first.get());
  ASSERT_THAT(next, IsOk());
  EXPECT_EQ((*next)->Find("/a.html")->body, first->Find("/a.html")->body);  // the same bytes
  EXPECT_EQ(*(*next)->Find("/b.html")->body, "page b, new");
  EXPECT_EQ((*next)->cached_bytes(), first->cached_bytes() + 5);
  // Without the previous view, the damage is found: that file is unavailable.
  auto fresh = SiteView::Load(*store_);
  ASSERT_THAT(fresh, IsOk());
  EXPECT_TRUE((*fresh)->Find("/a.html")->unavailable);
  ASSERT_EQ((*fresh)->faults().size(), 1u);
  EXPECT_EQ((*fresh)->faults()[0].path, "/a.html");
}

// "<bytes> bytes, <pages> pages", for comparisons that print readably when they fail.
std::string Str(const AreaTotals& t) {
  return std::to_string(t.bytes) + " bytes, " + std::to_string(t.pages) + " pages";
}

// The totals of `area` counted the slow way, over every file of `view`.
AreaTotals Recount(const SiteView& view, Area area) {
  AreaTotals t;
  for (const auto& [path, f] : view.files()) {
    if (f.area != area) continue;
    t.bytes += f.length;
    if (f.content_type.starts_with("text/html")) ++t.pages;
  }
  return t;
}

// Checks that `incremental` serves what a view loaded afresh serves.
void ExpectSameAsFresh(ContentStore& store, const SiteView& incremental) {
  auto fresh = SiteView::Load(store);
  ASSERT_THAT(fresh, IsOk());
  ASSERT_EQ(incremental.files().size(), (*fresh)->files().size());
  for (const auto& [path, f] : (*fresh)->files()) {
    const ServedFile* g = incremental.Find(path);
    ASSERT_NE(g, nullptr) << path;
    EXPECT_EQ(g->area, f.area) << path;
    EXPECT_EQ(g->hash, f.hash) << path;
    EXPECT_EQ(g->content_type, f.content_type) << path;
    ASSERT_NE(g->body, nullptr) << path;
    EXPECT_EQ(*g->body, *f.body) << path;
  }
  EXPECT_EQ(incremental.cached_bytes(), (*fresh)->cached_bytes());
  EXPECT_EQ(incremental.version(Area::kTieup), (*fresh)->version(Area::kTieup));
  EXPECT_EQ(incremental.version(Area::kOriginal), (*fresh)->version(Area::kOriginal));
  EXPECT_EQ(incremental.not_found_page() == nullptr, (*fresh)->not_found_page() == nullptr);
  for (Area area : {Area::kTieup, Area::kOriginal}) {
    EXPECT_EQ(Str(incremental.totals(area)), Str((*fresh)->totals(area))) << AreaName(area);
    EXPECT_EQ(Str(incremental.totals(area)), Str(Recount(incremental, area))) << AreaName(area);
  }
}

TEST_F(SiteViewTest, AViewLoadedFromThePreviousOneServesWhatAFreshLoadServes) {
  std::map<std::string, std::string> tieup, original;
  for (int i = 0; i < 300; ++i)
    tieup["/t/" + std::to_string(i) + ".html"] = "t" + std::to_string(i);
  original["/404.html"] = "not here";
  ASSERT_THAT(Publish(*store_, MakeRelease(*store_, Area::kTieup, 1, tieup)), IsOk());
  ASSERT_THAT(Publish(*store_, MakeRelease(*store_, Area::kOriginal, 1, original)), IsOk());
  auto view = Load();
  ASSERT_NE(view, nullptr);
  for (uint64_t v = 2; v <= 6; ++v) {
    // Change some, remove some, add some; move one path from the tie-up area to the original
    // one in the same step.
    for (int i = 0; i < 300; i += 37) tieup["/t/" + std::to_string(i) + ".html"] += "!";
    tieup.erase("/t/" + std::to_string(v * 11) + ".html");
    tieup["/new/" + std::to_string(v) + ".html"] = "new " + std::to_string(v);
    const std::string moved = "/t/" + std::to_string(200 + v) + ".html";
    tieup.erase(moved);
    original[moved] = "now ours " + std::to_string(v);  // bodies unique: bytes add up
    ASSERT_THAT(Publish(*store_, MakeRelease(*store_, Area::kTieup, v, tieup)), IsOk());
    ASSERT_THAT(Publish(*store_, MakeRelease(*store_, Area::kOriginal, v, original)), IsOk());
    auto next = SiteView::Load(*store_, {}, view.get());
    ASSERT_THAT(next, IsOk());
    ExpectSameAsFresh(*store_, **next);
    EXPECT_EQ((*next)->Find(moved)->area, Area::kOriginal);
    view = *next;
  }
}

// path -> (body, content type).
using TypedFiles = std::map<std::string, std::pair<std::string, std::string>>;

// A release of `area` with `files`, whose blobs are put in `store`.
ReleaseManifest MakeTypedRelease(ContentStore& store, Area area, uint64_t version,
                                 const TypedFiles& files) {
  ReleaseManifest m = MakeRelease(store, area, version, {});
  for (const auto& [path, file] : files) {
    auto hash = store.blobs().Put(file.first);
    EXPECT_THAT(hash, IsOk());
    if (hash.ok()) m.files[path] = Entry(*hash, file.first.size(), file.second);
  }
  return m;
}

TEST_F(SiteViewTest, AFreshLoadCountsTheBytesAndPagesOfEachArea) {
  auto empty = Load();
  ASSERT_NE(empty, nullptr);
  EXPECT_EQ(Str(empty->totals(Area::kTieup)), Str(AreaTotals{}));
  EXPECT_EQ(Str(empty->totals(Area::kOriginal)), Str(AreaTotals{}));

  ASSERT_THAT(
      Publish(*store_, MakeTypedRelease(*store_, Area::kTieup, 3,
                                        {{"/index.html", {"home", "text/html"}},
                                         {"/a.html", {"story a", "text/html; charset=utf-8"}},
                                         {"/style.css", {"body{}", "text/css"}},
                                         {"/logo.png", {"PNGDATA!!", "image/png"}}})),
      IsOk());
  auto tieup_only = Load();
  ASSERT_NE(tieup_only, nullptr);
  EXPECT_EQ(Str(tieup_only->totals(Area::kTieup)), Str(AreaTotals{4 + 7 + 6 + 9, 2}));
  EXPECT_EQ(Str(tieup_only->totals(Area::kOriginal)), Str(AreaTotals{}));

  ASSERT_THAT(Publish(*store_, MakeTypedRelease(*store_, Area::kOriginal, 1,
                                                {{"/shop/index.html", {"our shop", "text/html"}},
                                                 {"/404.html", {"not here", "text/html"}},
                                                 {"/data.json", {"{}", "application/json"}},
                                                 {"/notes.txt", {"<html>", "text/plain"}}})),
              IsOk());
  auto both = Load();
  ASSERT_NE(both, nullptr);
  EXPECT_EQ(Str(both->totals(Area::kTieup)), Str(AreaTotals{26, 2}));
  EXPECT_EQ(Str(both->totals(Area::kOriginal)), Str(AreaTotals{8 + 8 + 2 + 6, 2}));
  for (Area area : {Area::kTieup, Area::kOriginal}) {
    EXPECT_EQ(Str(both->totals(area)), Str(Recount(*both, area))) << AreaName(area);
  }
}

TEST_F(SiteViewTest, TotalsCountTheBodyNotItsGzipVariant) {
  ASSERT_THAT(store_->PutOriginalPage("/t.html", std::string(4000, 'a'), "text/html"), IsOk());
  auto view = Load();
  ASSERT_NE(view, nullptr);
  ASSERT_TRUE(view->Find("/t.html")->gzip.has_value());
  EXPECT_EQ(Str(view->totals(Area::kOriginal)), Str(AreaTotals{4000, 1}));
}

TEST_F(SiteViewTest, AViewLoadedFromThePreviousOneKeepsTheTotalsOfAFreshLoad) {
  TypedFiles tieup = {{"/index.html", {"home", "text/html"}},
                      {"/style.css", {"body{}", "text/css"}},
                      {"/news/a.html", {"story a", "text/html; charset=utf-8"}}};
  TypedFiles original = {{"/shop/index.html", {"our shop", "text/html"}},
                         {"/data.json", {"{}", "application/json"}}};
  // Enough files for several chunks, so that most of the map is shared between the views.
  for (int i = 0; i < 200; ++i) {
    tieup["/t/" + std::to_string(i) + ".html"] = {std::string(i + 1, 't'), "text/html"};
    original["/o/" + std::to_string(i) + ".bin"] = {std::string(i + 2, 'o'), "image/gif"};
  }
  uint64_t tieup_version = 1, original_version = 1;
  ASSERT_THAT(Publish(*store_, MakeTypedRelease(*store_, Area::kTieup, tieup_version, tieup)),
              IsOk());
  ASSERT_THAT(
      Publish(*store_, MakeTypedRelease(*store_, Area::kOriginal, original_version, original)),
      IsOk());
  auto view = Load();
  ASSERT_NE(view, nullptr);
  ExpectSameAsFresh(*store_, *view);

  // Publishes the areas in `order` (those whose files changed), loads from the previous view and
  // checks the totals against a recount and a fresh load.
  auto step = [&](const std::string& what, std::vector<Area> order) {
    SCOPED_TRACE(what);
    for (Area area : order) {
      const bool t = area == Area::kTieup;
      ReleaseManifest m = MakeTypedRelease(*store_, area, t ? ++tieup_version : ++original_version,
                                           t ? tieup : original);
      ASSERT_THAT(Publish(*store_, m), IsOk());
    }
    auto next = SiteView::Load(*store_, {}, view.get());
    ASSERT_THAT(next, IsOk());
    ExpectSameAsFresh(*store_, **next);
    view = *next;
  };

  tieup["/new.html"] = {"a new page", "text/html"};
  tieup["/new.css"] = {"p{}", "text/css"};
  original["/o/new.html"] = {"ours, new", "text/html; charset=utf-8"};
  original["/o/new.png"] = {"png", "image/png"};
  step("added in both areas", {Area::kTieup, Area::kOriginal});

  tieup["/news/a.html"].first = "story a, longer now";         // length changes, still a page
  tieup["/style.css"] = {"<p>styled</p>", "text/html"};        // becomes a page
  tieup["/index.html"].second = "text/plain";                  // same body, no longer a page
  tieup["/t/5.html"] = {"short", "application/octet-stream"};  // both change
  original["/data.json"] = {"<b>json no more</b>", "text/html"};
  original["/shop/index.html"] = {"shop", "image/svg+xml"};
  original["/o/7.bin"].first = "a different length";
  step("changed in both areas", {Area::kTieup, Area::kOriginal});

  tieup.erase("/new.html");
  tieup.erase("/new.css");
  tieup.erase("/t/100.html");
  original.erase("/o/new.html");
  original.erase("/o/new.png");
  original.erase("/o/150.bin");
  step("removed from both areas", {Area::kTieup, Area::kOriginal});

  // A path moves from one area to the other: the area losing it is published first.
  original["/t/3.html"] = tieup["/t/3.html"];
  original["/t/3.html"].first += " (ours)";
  tieup.erase("/t/3.html");
  step("moved from the tie-up area to the original one", {Area::kTieup, Area::kOriginal});
  tieup["/o/9.bin"] = {"a page now", "text/html"};
  original.erase("/o/9.bin");
  step("moved from the original area to the tie-up one", {Area::kOriginal, Area::kTieup});

  original["/o/12.bin"] = {"<i>x</i>", "text/html"};
  original.erase("/o/13.bin");
  original["/o/more.html"] = {"more", "text/html"};
  step("only the original area changed", {Area::kOriginal});

  tieup["/t/20.html"].second = "text/css";
  tieup.erase("/t/21.html");
  step("only the tie-up area changed", {Area::kTieup});

  // Back to the tie-up release before: the differences applied in reverse.
  ASSERT_THAT(store_->Rollback(Area::kTieup), IsOk());
  auto rolled = SiteView::Load(*store_, {}, view.get());
  ASSERT_THAT(rolled, IsOk());
  ExpectSameAsFresh(*store_, **rolled);
  EXPECT_EQ((*rolled)->Find("/t/20.html")->content_type, "text/html");

  // A different cache limit loads afresh: the totals are counted again, the same.
  auto other_limit = SiteView::Load(*store_, {.cache_bytes_limit = 1 << 20}, rolled->get());
  ASSERT_THAT(other_limit, IsOk());
  for (Area area : {Area::kTieup, Area::kOriginal}) {
    EXPECT_EQ(Str((*other_limit)->totals(area)), Str((*rolled)->totals(area))) << AreaName(area);
  }
}

TEST_F(SiteViewTest, UnchangedFilesKeepTheirTimeAndChangedOnesGetTheNewReleasesTime) {
  ReleaseManifest m1 =
      MakeRelease(*store_, Area::kTieup, 1, {{"/a.html", "page a"}, {"/b.html", "page b"}});
  ASSERT_THAT(Publish(*store_, m1), IsOk());
  auto first = Load();
  ReleaseManifest m2 =
      MakeRelease(*store_, Area::kTieup, 2, {{"/a.html", "page a"}, {"/b.html", "page b2"}});
  ASSERT_THAT(Publish(*store_, m2), IsOk());
  auto next = SiteView::Load(*store_, {}, first.get());
  ASSERT_THAT(next, IsOk());
  EXPECT_EQ((*next)->Find("/a.html")->last_modified, m1.created);
  EXPECT_EQ((*next)->Find("/b.html")->last_modified, m2.created);
}

TEST_F(SiteViewTest, AViewMadeFromOneStoreInstancesViewThroughAnotherIsComplete) {
  // The daemon's view was made from its store; another process (a `page put`) activated an
  // original release, and the daemon opens the store again to see it.
  ASSERT_THAT(Publish(*store_, MakeRelease(*store_, Area::kTieup, 1, {{"/a.html", "a"}})), IsOk());
  auto first = Load();
  auto other = ContentStore::Open(env_, "/site", {.keep_releases = 5, .site_id = "shop-b"});
  ASSERT_THAT(other, IsOk());
  ASSERT_THAT((*other)->PutOriginalPage("/b.html", "b", "text/html"), IsOk());
  auto next = SiteView::Load(**other, {}, first.get());
  ASSERT_THAT(next, IsOk());
  ExpectSameAsFresh(**other, **next);
  EXPECT_EQ((*next)->Find("/b.html")->area, Area::kOriginal);
}

TEST_F(SiteViewTest, ALoadFromThePreviousViewRefusesAPathInBothAreas) {
  // A store instance opened before the tie-up release was activated does not know it, so it
  // lets an original page take the same path; a third instance sees both on disk.
  auto stale = ContentStore::Open(env_, "/site", {.keep_releases = 5, .site_id = "shop-b"});
  ASSERT_THAT(stale, IsOk());
  ASSERT_THAT(Publish(*store_, MakeRelease(*store_, Area::kTieup, 1, {{"/a.html", "a"}})), IsOk());
  auto first = Load();
  ASSERT_THAT((*stale)->PutOriginalPage("/a.html", "mine", "text/html"), IsOk());
  auto fresh = ContentStore::Open(env_, "/site", {.keep_releases = 5, .site_id = "shop-b"});
  ASSERT_THAT(fresh, IsOk());
  EXPECT_THAT(SiteView::Load(**fresh, {}, first.get()),
              StatusIs(StatusCode::kDataLoss, HasSubstr("'/a.html' is active in both areas")));
  EXPECT_THAT(SiteView::Load(**fresh),
              StatusIs(StatusCode::kDataLoss, HasSubstr("'/a.html' is active in both areas")));
}

}  // namespace
}  // namespace tieup::content
