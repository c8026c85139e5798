// Integration (issue 18 item 2): two `tieup main serve` processes for one main site, sharing its
// PostgreSQL store ([store]), its authoring and its partners' release files
// ([content] partner_blobs_dir), each with its own site directory (ports, logs, ledger). Each
// partner is published by one process at a time; a process killed in the middle of a publish
// leaves its partners to the other, and every partner ends up with the new version activated
// exactly once. Needs the PostgreSQL cluster make test starts (skipped without it).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <thread>

#include "daemon_harness.h"
#include "site/config.h"
#include "sync_harness.h"
#include "test_database.h"
#include "test_support.h"

namespace tieup::testing {
namespace {

using ::testing::HasSubstr;

// How many lines of `tieup partner updates` say that version `v` was activated.
int Activations(const std::string& updates, int v) {
  const std::regex line("v" + std::to_string(v) + R"(\s+activated)");
  int n = 0;
  for (auto it = std::sregex_iterator(updates.begin(), updates.end(), line);
       it != std::sregex_iterator(); ++it) {
    ++n;
  }
  return n;
}

class MainProcessesTest : public MainSiteTest {
 protected:
  struct Partner {
    std::string id, dir;
    std::unique_ptr<SiteProcess> proc;
  };

  void SetUp() override {
    if (TestPostgresUrl().empty()) GTEST_SKIP() << "needs PostgreSQL (make test provides it)";
    MainSiteTest::SetUp();
    if (!TestStoreIsPostgres()) {
      CommandResult moved = RunTieup({"main", "store", "migrate", main_dir_, "--to", "postgres",
                                      TestPostgresUrl(), "--schema", TestSchemaFor(main_dir_)});
      ASSERT_EQ(moved.exit_code, 0) << moved.output;
    }
  }

  // A second process's site directory, made by `tieup main process add`: main's keys and
  // settings, its own ports and files, the first one's store, authoring, partners' release
  // files, ledgers, statements and contracts.
  void MakeSecondSite() {
    namespace fs = std::filesystem;
    second_dir_ = dir_.Sub("main-2");
    second_sync_port_ = FreePort();
    CommandResult added =
        RunTieup({"main", "process", "add", main_dir_, second_dir_, "--public", "127.0.0.1:0",
                  "--sync", "127.0.0.1:" + std::to_string(second_sync_port_), "--console",
                  "127.0.0.1:0", "--ops", ""});
    ASSERT_EQ(added.exit_code, 0) << added.output;
    EXPECT_THAT(added.output, HasSubstr("next: tieup main build " + second_dir_));
    EXPECT_EQ(fs::status(second_dir_ + "/keys/ca.key").permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write);
    EXPECT_TRUE(fs::is_symlink(second_dir_ + "/ledgers"));
    CommandResult built = RunTieup({"main", "build", second_dir_});
    ASSERT_EQ(built.exit_code, 0) << built.output;
    second_ = std::make_unique<SiteProcess>(std::vector<std::string>{"main", "serve", second_dir_});
    ASSERT_TRUE(second_->Start()) << second_->output();
  }

  // A partner enrolled with a code main_dir_ issued, at the sync port `via` (the first
  // process's unless given).
  Partner& NewPartner(const std::string& id, int via = 0) {
    auto p = std::make_unique<Partner>();
    p->id = id;
    p->dir = dir_.Sub(id);
    CommandResult init =
        EnrollNewPartner(main_dir_, via == 0 ? main_sync_port_ : via, p->dir, id, id, FreePort());
    EXPECT_EQ(init.exit_code, 0) << init.output;
    p->proc = std::make_unique<SiteProcess>(std::vector<std::string>{"partner", "serve", p->dir});
    EXPECT_TRUE(p->proc->Start()) << p->proc->output();
    partners_.push_back(std::move(p));
    return *partners_.back();
  }

  bool Serves(const Partner& p, const std::string& text) const {
    return BodyOf(HttpGet(p.proc->port(), "/")).find(text) != std::string::npos;
  }

  std::string second_dir_;
  int second_sync_port_ = 0;
  std::unique_ptr<SiteProcess> second_;
  std::vector<std::unique_ptr<Partner>> partners_;
};

TEST_F(MainProcessesTest, AProcessKilledMidPublishLeavesItsPartnersToTheOtherUpdatedOnce) {
  StartMain();
  for (const char* id : {"shop-a", "shop-b", "shop-c", "shop-d", "shop-e", "shop-f"}) {
    NewPartner(id);
  }
  CommandResult first = RunTieup({"main", "publish", main_dir_, "--all"});
  ASSERT_EQ(first.exit_code, 0) << first.output;
  for (const auto& p : partners_) {
    ASSERT_TRUE(WaitFor([&] { return Serves(*p, "Welcome to Sakura Tea"); })) << p->id;
  }
  MakeSecondSite();
  // Both processes list the same partners: they read one store.
  EXPECT_THAT(RunTieup({"main", "status", second_dir_}).output, HasSubstr("shop-f"));

  // The second process publishes a change; it is killed as soon as one partner shows it.
  Author("pages/index.md", "---\ntitle: Welcome\n---\n# Welcome\n\nTwo mains, one change.\n");
  CommandResult interrupted;
  std::thread publish([&] { interrupted = RunTieup({"main", "publish", second_dir_, "--all"}); });
  const bool one_served = WaitFor([&] {
    for (const auto& p : partners_) {
      if (Serves(*p, "Two mains, one change.")) return true;
    }
    return false;
  });
  second_->Kill();
  publish.join();
  ASSERT_TRUE(one_served) << interrupted.output << second_->output();

  // The first process publishes what is left: partners the dead one held are free again (its
  // connection, and its leases, ended); the ones it finished are up to date.
  CommandResult rest;
  ASSERT_TRUE(WaitFor([&] {
    rest = RunTieup({"main", "publish", main_dir_, "--all"});
    return rest.exit_code == 0 && rest.output.find("elsewhere") == std::string::npos;
  })) << rest.output;
  for (const auto& p : partners_) {
    ASSERT_TRUE(WaitFor([&] { return Serves(*p, "Two mains, one change."); })) << p->id;
    const std::string updates = RunTieup({"partner", "updates", p->dir}).output;
    EXPECT_EQ(Activations(updates, 2), 1) << p->id << "\n" << updates;
  }
  // Main's view agrees: every partner up to date at version 2.
  const std::string status = RunTieup({"main", "status", main_dir_}).output;
  for (const auto& p : partners_) {
    EXPECT_TRUE(std::regex_search(status, std::regex(p->id + R"(\s.*up to date at version 2)")))
        << status;
  }
}

// Enrollment codes are in the shared store: a code the first process's manager printed
// enrolls a partner through the second process, which then publishes to it.
TEST_F(MainProcessesTest, ACodeIssuedForOneProcessEnrollsThroughTheOther) {
  StartMain();
  MakeSecondSite();
  Partner& p = NewPartner("shop-z", second_sync_port_);
  CommandResult published = RunTieup({"main", "publish", second_dir_, "--all"});
  ASSERT_EQ(published.exit_code, 0) << published.output;
  ASSERT_TRUE(WaitFor([&] { return Serves(p, "Welcome to Sakura Tea"); }));
  EXPECT_THAT(RunTieup({"main", "status", main_dir_}).output, HasSubstr("shop-z"));
}

TEST_F(MainProcessesTest, AddingAProcessIsRefusedWithoutPostgresOrIntoAUsedDirectory) {
  const std::string lone = dir_.Sub("lone");
  CommandResult init = RunTieup(
      {"main", "init", lone, "--name", "Lone", "--public", "127.0.0.1:0", "--sync", "127.0.0.1:0"});
  ASSERT_EQ(init.exit_code, 0) << init.output;
  CommandResult refused = RunTieup({"main", "process", "add", lone, dir_.Sub("lone-2"), "--public",
                                    "127.0.0.1:0", "--sync", "127.0.0.1:0"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.output, HasSubstr("tieup main store migrate"));
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("lone-2")));

  CommandResult used = RunTieup({"main", "process", "add", main_dir_, lone, "--public",
                                 "127.0.0.1:0", "--sync", "127.0.0.1:0"});
  EXPECT_NE(used.exit_code, 0);
  EXPECT_THAT(used.output, HasSubstr("is not empty"));
}

}  // namespace
}  // namespace tieup::testing
