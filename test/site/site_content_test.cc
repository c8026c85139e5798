#include "site/site_content.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_support.h"

namespace tieup {
namespace {

using ::tieup::testing::FakeClockEnv;
using ::tieup::testing::IsOk;
using ::tieup::testing::TempDir;

class SiteContentTest : public ::testing::Test {
 protected:
  SiteContentTest() : env_(std::make_unique<FakeClockEnv>()) {}

  std::unique_ptr<SiteContent> Open(bool serve, size_t keep = 5) {
    SiteContentOptions o;
    o.site_id = "shop-b";
    o.serve = serve;
    o.keep_releases = keep;
    auto c = SiteContent::Open(*env_, dir_.path(), o);
    EXPECT_THAT(c.status(), IsOk());
    return c.ok() ? std::move(*c) : nullptr;
  }

  static Status Put(SiteContent& c, const std::string& path, const std::string& bytes) {
    return c.Mutate([&](content::ContentStore& s) {
      return s.PutOriginalPage(path, bytes, "text/html").status();
    });
  }

  static uint64_t ActiveVersion(SiteContent& c) {
    uint64_t v = 0;
    EXPECT_THAT(c.Read([&](content::ContentStore& s) -> Status {
      ASSIGN_OR_RETURN(auto active, s.Active(content::Area::kOriginal));
      v = active->version;
      return Status::Ok();
    }),
                IsOk());
    return v;
  }

  size_t Releases() {
    auto entries = env_->ListDir(dir_.Sub("releases/original"));
    size_t n = 0;
    if (entries.ok()) {
      for (const FileInfo& e : *entries) n += e.name.ends_with(".json") ? 1 : 0;
    }
    return n;
  }

  TempDir dir_;
  std::unique_ptr<FakeClockEnv> env_;
};

TEST_F(SiteContentTest, AnotherProcesssActivationIsSeenByTheNextChange) {
  auto daemon = Open(/*serve=*/true);
  ASSERT_THAT(Put(*daemon, "/a.html", "one"), IsOk());
  EXPECT_EQ(ActiveVersion(*daemon), 1u);
  auto cli = Open(/*serve=*/false);  // as `tieup partner page put` in another process
  ASSERT_THAT(Put(*cli, "/b.html", "two"), IsOk());
  EXPECT_EQ(ActiveVersion(*daemon), 2u);  // its open store was replaced, not reused
  ASSERT_THAT(Put(*daemon, "/c.html", "three"), IsOk());
  EXPECT_EQ(ActiveVersion(*cli), 3u);
  auto view = daemon->view();
  ASSERT_NE(view, nullptr);
  EXPECT_NE(view->Find("/a.html"), nullptr);
  EXPECT_NE(view->Find("/b.html"), nullptr);
  EXPECT_NE(view->Find("/c.html"), nullptr);
}

TEST_F(SiteContentTest, ADaemonPrunesOnItsNextRefreshNotOnTheActivatingCall) {
  auto daemon = Open(/*serve=*/true, /*keep=*/1);
  for (int i = 0; i < 4; ++i) {
    ASSERT_THAT(Put(*daemon, "/a.html", "version " + std::to_string(i)), IsOk());
  }
  EXPECT_EQ(Releases(), 4u);  // nothing pruned on the request path
  auto refreshed = daemon->RefreshIfChanged();
  ASSERT_THAT(refreshed.status(), IsOk());
  EXPECT_FALSE(*refreshed);  // the view was already current
  EXPECT_EQ(Releases(), 1u);
  EXPECT_EQ(*daemon->view()->Find("/a.html")->body, "version 3");

  // The next activation's prune waits for the interval.
  ASSERT_THAT(Put(*daemon, "/a.html", "version 4"), IsOk());
  ASSERT_THAT(daemon->RefreshIfChanged().status(), IsOk());
  EXPECT_EQ(Releases(), 2u);
  env_->AdvanceSeconds(600);
  ASSERT_THAT(daemon->RefreshIfChanged().status(), IsOk());
  EXPECT_EQ(Releases(), 1u);

  auto cli = Open(/*serve=*/false, /*keep=*/1);  // the command line prunes at once
  ASSERT_THAT(Put(*cli, "/a.html", "version 5"), IsOk());
  EXPECT_EQ(Releases(), 1u);
}

TEST_F(SiteContentTest, ADamagedBlobNeverStopsTheSiteAndARepairIsServedWithoutRestart) {
  std::string hash;
  {
    auto cli = Open(/*serve=*/false);
    ASSERT_THAT(Put(*cli, "/a.html", "genuine"), IsOk());
    ASSERT_THAT(Put(*cli, "/b.html", "page b"), IsOk());
    ASSERT_THAT(cli->Read([&](content::ContentStore& s) -> Status {
      ASSIGN_OR_RETURN(auto active, s.Active(content::Area::kOriginal));
      hash = active->files.at("/a.html").hash;
      return Status::Ok();
    }),
                IsOk());
  }
  const std::string blob = dir_.Sub("blobs/" + hash.substr(0, 2) + "/" + hash);
  ASSERT_THAT(WriteFileAtomic(*env_, blob, "defaced"), IsOk());

  // The daemon's start: the view loads, /a.html is unavailable, /b.html is served.
  auto daemon = Open(/*serve=*/true);
  ASSERT_NE(daemon, nullptr);
  auto view = daemon->view();
  EXPECT_TRUE(view->Find("/a.html")->unavailable);
  EXPECT_EQ(*view->Find("/b.html")->body, "page b");
  ASSERT_EQ(daemon->Faults().size(), 1u);
  EXPECT_EQ(daemon->Faults()[0].path, "/a.html");

  // Nothing repaired yet: no reload.
  auto reloaded = daemon->ReloadIfRepaired();
  ASSERT_THAT(reloaded.status(), IsOk());
  EXPECT_FALSE(*reloaded);
  EXPECT_EQ(daemon->view(), view);

  // The blob is stored again (as a repair from main does): the next check serves it.
  ASSERT_THAT(daemon->Mutate(
                  [&](content::ContentStore& s) { return s.blobs().PutExpected(hash, "genuine"); }),
              IsOk());
  reloaded = daemon->ReloadIfRepaired();
  ASSERT_THAT(reloaded.status(), IsOk());
  EXPECT_TRUE(*reloaded);
  EXPECT_FALSE(daemon->view()->Find("/a.html")->unavailable);
  EXPECT_EQ(*daemon->view()->Find("/a.html")->body, "genuine");
  EXPECT_TRUE(daemon->Faults().empty());
}

TEST_F(SiteContentTest, AReadFaultIsListedUntilItsBlobIsIntact) {
  auto daemon = Open(/*serve=*/true);
  ASSERT_THAT(Put(*daemon, "/a.html", "genuine"), IsOk());
  const content::ServedFile* a = daemon->view()->Find("/a.html");
  content::BlobFault fault{"/a.html", content::Area::kOriginal, a->hash, a->length, false,
                           "removed"};
  EXPECT_TRUE(daemon->Faults().empty());
  daemon->ReportReadFault(fault);
  daemon->ReportReadFault(fault);  // once only
  ASSERT_EQ(daemon->Faults().size(), 1u);
  // Its blob is intact (the read failed for a while): the next check reloads and forgets it.
  auto reloaded = daemon->ReloadIfRepaired();
  ASSERT_THAT(reloaded.status(), IsOk());
  EXPECT_TRUE(*reloaded);
  EXPECT_TRUE(daemon->Faults().empty());
}

}  // namespace
}  // namespace tieup
