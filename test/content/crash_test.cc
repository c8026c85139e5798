// Crash tests: an operation on the content store is interrupted after each of its mutating file
// system operations in turn (MemEnv simulates a power loss: what was not synced is gone). After
// recovery the store must open, and the site must serve exactly the state before or exactly the
// state after the operation, never a mix and never an error; a retry must then succeed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>

#include "content/content_store.h"
#include "content/site_view.h"
#include "content_test_util.h"
#include "crypto/hash.h"
#include "mem_env.h"
#include "test_support.h"

namespace tieup::content {
namespace {

using ::tieup::content::testing::Entry;

using ::tieup::content::testing::Served;
using ::tieup::content::testing::Snapshot;
using ::tieup::testing::IsOk;
using ::tieup::testing::MemEnv;

constexpr char kSite[] = "/srv/shop-b";

// Puts the pages' blobs and returns the release, or the first error (no test assertions: this
// runs while the simulated crash makes every call fail).
Result<ReleaseManifest> PutRelease(ContentStore& store, Area area, uint64_t version,
                                   const std::map<std::string, std::string>& pages) {
  ReleaseManifest m;
  m.site = "shop-b";
  m.area = area;
  m.version = version;
  m.created = 1790000000 + static_cast<int64_t>(version);
  for (const auto& [path, body] : pages) {
    ASSIGN_OR_RETURN(std::string hash, store.blobs().Put(body));
    m.files[path] = Entry(hash, body.size(), "text/html; charset=utf-8");
  }
  return m;
}

Status PublishPages(ContentStore& store, Area area, uint64_t version,
                    const std::map<std::string, std::string>& pages) {
  ASSIGN_OR_RETURN(ReleaseManifest m, PutRelease(store, area, version, pages));
  RETURN_IF_ERROR(store.Stage(m));
  return store.Activate(area, version);
}

uint64_t ActiveVersion(ContentStore& store, Area area) {
  auto a = store.Active(area);
  return a.ok() ? (*a)->version : 0;
}

const std::map<std::string, std::string> kTieupV1 = {
    {"/index.html", "home, version 1"},
    {"/old.html", "removed in version 2"},
    {"/same.html", "unchanged page"},
    {"/news/index.html", std::string(3000, 'n')},
};
const std::map<std::string, std::string> kTieupV2 = {
    {"/index.html", "home, version 2"},
    {"/new.html", "added in version 2"},
    {"/same.html", "unchanged page"},
    {"/news/index.html", std::string(3000, 'N')},
};

struct CrashScenario {
  ContentStore::Options options{.keep_releases = 5, .site_id = "shop-b"};
  std::function<Status(ContentStore&)> setup;
  std::function<Status(ContentStore&)> op;
  // Run after recovery, whatever was interrupted; must succeed and lead to the "after" state.
  std::function<Status(ContentStore&)> retry;
};

class CrashTest : public ::testing::Test {
 protected:
  // Brings a fresh MemEnv to the scenario's starting state, then simulates a power loss with
  // nothing pending (so the start state must itself be durable).
  static void Setup(const CrashScenario& sc, MemEnv& env) {
    auto store = ContentStore::Open(env, kSite, sc.options);
    ASSERT_THAT(store, IsOk());
    ASSERT_THAT(sc.setup(**store), IsOk());
    store->reset();
    env.Recover();
  }

  static Result<std::unique_ptr<ContentStore>> Reopen(const CrashScenario& sc, MemEnv& env) {
    return ContentStore::Open(env, kSite, sc.options);
  }

  static Result<Served> ServedBy(ContentStore& store) {
    ASSIGN_OR_RETURN(auto view, SiteView::Load(store));
    return Snapshot(*view);
  }

  // Every "*.tmp" file under `dir`.
  static void FindTmp(MemEnv& env, const std::string& dir, std::vector<std::string>& out) {
    auto entries = env.ListDir(dir);
    ASSERT_THAT(entries, IsOk());
    for (const FileInfo& e : *entries) {
      std::string path = dir + "/" + e.name;
      if (e.is_dir) {
        FindTmp(env, path, out);
      } else if (e.name.ends_with(".tmp")) {
        out.push_back(path);
      }
    }
  }

  static void Run(const CrashScenario& sc) {
    // Reference run without a crash: the states before and after, and the number of mutating
    // operations the interrupted step performs (opening the store included).
    Served before, after;
    uint64_t total = 0;
    {
      MemEnv env;
      Setup(sc, env);
      if (::testing::Test::HasFatalFailure()) return;
      {
        auto store = Reopen(sc, env);
        ASSERT_THAT(store, IsOk());
        auto s = ServedBy(**store);
        ASSERT_THAT(s, IsOk());
        before = *s;
      }
      const uint64_t start = env.mutating_ops();
      {
        auto store = Reopen(sc, env);
        ASSERT_THAT(store, IsOk());
        ASSERT_THAT(sc.op(**store), IsOk());
      }
      total = env.mutating_ops() - start;
      env.Recover();  // a successful operation is durable
      auto store = Reopen(sc, env);
      ASSERT_THAT(store, IsOk());
      auto s = ServedBy(**store);
      ASSERT_THAT(s, IsOk());
      after = *s;
    }
    ASSERT_NE(before, after) << "the scenario must change what is served";
    ASSERT_GT(total, 5u);

    int saw_before = 0, saw_after = 0;
    for (uint64_t n = 0; n <= total; ++n) {
      SCOPED_TRACE("crash after mutating operation " + std::to_string(n) + " of " +
                   std::to_string(total));
      MemEnv env;
      Setup(sc, env);
      if (::testing::Test::HasFatalFailure()) return;
      env.CrashAfter(n);
      {
        auto store = Reopen(sc, env);
        if (store.ok()) (void)sc.op(**store);  // fails once the power is lost
      }
      env.Recover();

      auto store = Reopen(sc, env);
      ASSERT_THAT(store, IsOk());
      std::vector<std::string> tmp;
      FindTmp(env, kSite, tmp);
      EXPECT_THAT(tmp, ::testing::IsEmpty());
      auto served = ServedBy(**store);
      ASSERT_THAT(served, IsOk());
      if (*served == before) {
        ++saw_before;
      } else if (*served == after) {
        ++saw_after;
      } else {
        ADD_FAILURE() << "served a mix:\n"
                      << ::testing::PrintToString(*served) << "\nbefore:\n"
                      << ::testing::PrintToString(before) << "\nafter:\n"
                      << ::testing::PrintToString(after);
      }

      ASSERT_THAT(sc.retry(**store), IsOk());
      auto retried = ServedBy(**store);
      ASSERT_THAT(retried, IsOk());
      EXPECT_EQ(*retried, after);
      // And that survives a crash right after.
      store->reset();
      env.Recover();
      auto final_store = Reopen(sc, env);
      ASSERT_THAT(final_store, IsOk());
      auto final_served = ServedBy(**final_store);
      ASSERT_THAT(final_served, IsOk());
      EXPECT_EQ(*final_served, after);
    }
    EXPECT_GT(saw_before, 0);
    EXPECT_GT(saw_after, 0);
  }
};

TEST_F(CrashTest, StageAndActivateOfATieupRelease) {
  CrashScenario sc;
  sc.setup = [](ContentStore& store) {
    RETURN_IF_ERROR(PublishPages(store, Area::kTieup, 1, kTieupV1));
    return PublishPages(store, Area::kOriginal, 1, {{"/ours.html", "partner page"}});
  };
  auto stage_and_activate = [](ContentStore& store) {
    ASSIGN_OR_RETURN(ReleaseManifest v2, PutRelease(store, Area::kTieup, 2, kTieupV2));
    // A gzip variant, so that a second blob per file is part of the release.
    ASSIGN_OR_RETURN(std::string gz, store.blobs().Put("pretend gzip of the news index"));
    v2.files["/news/index.html"].gzip = GzipVariant{gz, 30};
    RETURN_IF_ERROR(store.Stage(v2));
    return store.Activate(Area::kTieup, 2);
  };
  sc.op = stage_and_activate;
  sc.retry = [stage_and_activate](ContentStore& store) -> Status {
    // As a receiver does: nothing to do when the release is already active.
    if (ActiveVersion(store, Area::kTieup) == 2) return Status::Ok();
    return stage_and_activate(store);
  };
  Run(sc);
}

TEST_F(CrashTest, FirstReleaseOfAnEmptySite) {
  CrashScenario sc;
  sc.setup = [](ContentStore&) { return Status::Ok(); };
  sc.op = [](ContentStore& store) { return PublishPages(store, Area::kTieup, 1, kTieupV1); };
  sc.retry = [](ContentStore& store) -> Status {
    if (ActiveVersion(store, Area::kTieup) == 1) return Status::Ok();
    return PublishPages(store, Area::kTieup, 1, kTieupV1);
  };
  Run(sc);
}

TEST_F(CrashTest, PutOriginalPage) {
  const std::string big_page = "<p>" + std::string(2000, 'z') + "</p>";  // gets a gzip variant
  CrashScenario sc;
  sc.setup = [](ContentStore& store) -> Status {
    RETURN_IF_ERROR(PublishPages(store, Area::kTieup, 1, kTieupV1));
    RETURN_IF_ERROR(store.PutOriginalPage("/about.html", "about us, first", "text/html").status());
    return store.PutOriginalPage("/contact.html", "call us", "text/html").status();
  };
  sc.op = [big_page](ContentStore& store) {
    return store.PutOriginalPage("/about.html", big_page, "text/html").status();
  };
  sc.retry = sc.op;
  Run(sc);
}

TEST_F(CrashTest, PutOriginalPageOfANewPath) {
  CrashScenario sc;
  sc.setup = [](ContentStore& store) {
    return store.PutOriginalPage("/about.html", "about us", "text/html").status();
  };
  sc.op = [](ContentStore& store) {
    return store.PutOriginalPage("/new/page.html", "brand new", "text/html").status();
  };
  sc.retry = sc.op;
  Run(sc);
}

TEST_F(CrashTest, RemoveOriginalPage) {
  CrashScenario sc;
  sc.setup = [](ContentStore& store) -> Status {
    RETURN_IF_ERROR(store.PutOriginalPage("/a.html", "page a", "text/html").status());
    return store.PutOriginalPage("/b.html", "page b", "text/html").status();
  };
  sc.op = [](ContentStore& store) { return store.RemoveOriginalPage("/b.html").status(); };
  sc.retry = [](ContentStore& store) -> Status {
    auto active = store.Active(Area::kOriginal);
    if (active.ok() && (*active)->files.count("/b.html") == 0) return Status::Ok();
    return store.RemoveOriginalPage("/b.html").status();
  };
  Run(sc);
}

// Main's release `version` of `pages`, granting emergency edits under `policy`.
Status PublishGranted(ContentStore& store, uint64_t version,
                      const std::map<std::string, std::string>& pages, EmergencyEditPolicy policy) {
  ASSIGN_OR_RETURN(ReleaseManifest m, PutRelease(store, Area::kTieup, version, pages));
  m.emergency_edit = policy;
  RETURN_IF_ERROR(store.Stage(m));
  return store.Activate(Area::kTieup, version);
}

TEST_F(CrashTest, EmergencyEditOfATieupPage) {
  CrashScenario sc;
  sc.setup = [](ContentStore& store) {
    return PublishGranted(store, 1, kTieupV1, EmergencyEditPolicy::kKeep);
  };
  sc.op = [](ContentStore& store) {
    return store.PutOriginalPage("/index.html", "emergency fix", "text/html", true).status();
  };
  sc.retry = sc.op;
  Run(sc);
}

TEST_F(CrashTest, EmergencyRemovalOfATieupPage) {
  CrashScenario sc;
  sc.setup = [](ContentStore& store) {
    return PublishGranted(store, 1, kTieupV1, EmergencyEditPolicy::kKeep);
  };
  sc.op = [](ContentStore& store) { return store.RemoveOriginalPage("/same.html", true).status(); };
  sc.retry = sc.op;
  Run(sc);
}

// Main's update over an emergency edit under `overwrite`: the crash may fall between the pointer
// switch and the overlay's write; either way the site serves the edit over version 1, or main's
// version 2 without it.
TEST_F(CrashTest, UpdateOverAnEmergencyEditWithOverwrite) {
  CrashScenario sc;
  sc.setup = [](ContentStore& store) -> Status {
    RETURN_IF_ERROR(PublishGranted(store, 1, kTieupV1, EmergencyEditPolicy::kOverwrite));
    return store.PutOriginalPage("/index.html", "emergency fix", "text/html", true).status();
  };
  sc.op = [](ContentStore& store) {
    return PublishGranted(store, 2, kTieupV2, EmergencyEditPolicy::kOverwrite);
  };
  sc.retry = [](ContentStore& store) -> Status {
    if (ActiveVersion(store, Area::kTieup) == 2) return Status::Ok();
    return PublishGranted(store, 2, kTieupV2, EmergencyEditPolicy::kOverwrite);
  };
  Run(sc);
}

TEST_F(CrashTest, Rollback) {
  CrashScenario sc;
  sc.setup = [](ContentStore& store) -> Status {
    RETURN_IF_ERROR(PublishPages(store, Area::kTieup, 1, kTieupV1));
    return PublishPages(store, Area::kTieup, 2, kTieupV2);
  };
  sc.op = [](ContentStore& store) { return store.Rollback(Area::kTieup).status(); };
  sc.retry = [](ContentStore& store) -> Status {
    if (ActiveVersion(store, Area::kTieup) == 1) return Status::Ok();
    return store.Rollback(Area::kTieup).status();
  };
  Run(sc);
}

// Prune must never damage what is served: the state before and after are the same view, so this
// checks "never an error, never a mix" at every step (and that blobs really went).
TEST_F(CrashTest, PruneNeverDamagesTheActiveRelease) {
  CrashScenario sc;
  sc.options.keep_releases = 1;
  sc.setup = [](ContentStore& store) -> Status {
    RETURN_IF_ERROR(PublishPages(store, Area::kTieup, 1, kTieupV1));
    return PublishPages(store, Area::kTieup, 2, kTieupV2);
  };
  sc.op = [](ContentStore& store) { return store.Prune().status(); };
  sc.retry = sc.op;

  for (uint64_t n = 0; n < 40; ++n) {
    SCOPED_TRACE("crash after mutating operation " + std::to_string(n));
    MemEnv env;
    Setup(sc, env);
    if (HasFatalFailure()) return;
    Served expected;
    {
      auto store = Reopen(sc, env);
      ASSERT_THAT(store, IsOk());
      auto s = ServedBy(**store);
      ASSERT_THAT(s, IsOk());
      expected = *s;
    }
    env.CrashAfter(n);
    {
      auto store = Reopen(sc, env);
      if (store.ok()) (void)sc.op(**store);
    }
    env.Recover();
    auto store = Reopen(sc, env);
    ASSERT_THAT(store, IsOk());
    auto served = ServedBy(**store);
    ASSERT_THAT(served, IsOk());
    EXPECT_EQ(*served, expected);
    ASSERT_THAT(sc.retry(**store), IsOk());
    EXPECT_THAT(*(*store)->StagedVersions(Area::kTieup), ::testing::ElementsAre(2u));
    EXPECT_FALSE((*store)->blobs().Has(Sha256Hex("removed in version 2")));
  }
}

}  // namespace
}  // namespace tieup::content
