// Main processes sharing one PostgreSQL store: each partner is published by one of them at a
// time, and a process that dies hands its partners over (its connection, and with it its lease,
// ends).
#include <gtest/gtest.h>

#include <thread>

#include "store/database.h"
#include "sync/publisher.h"
#include "sync_fixture.h"
#include "test_database.h"
#include "test_support.h"

namespace tieup::sync {
namespace {

using testing::PartnerSite;
using testing::SyncFixture;
using ::tieup::testing::IsOk;

class PublishLeaseTest : public SyncFixture {
 protected:
  void SetUp() override {
    if (!::tieup::testing::TestStoreIsPostgres()) {
      GTEST_SKIP() << "one process owns a SQLite store: leases are for PostgreSQL (pg.* run)";
    }
    SyncFixture::SetUp();
  }

  // Another main process: its own connection to the same store, and its own publisher.
  std::unique_ptr<Database> OtherConnection() {
    auto db = ::tieup::testing::OpenTestDatabase(dir_.Sub("main-tieup.db"));
    EXPECT_THAT(db, IsOk());
    return db.ok() ? std::move(db).value() : nullptr;
  }

  // Waits until a new session can take lease `name`: PostgreSQL blocks the transaction-scoped
  // lock until the dead session's server process has let the lease go (at most 30 s), and
  // releases it at commit.
  bool LeaseFree(const std::string& name) {
    std::unique_ptr<Database> probe = OtherConnection();
    if (probe == nullptr) return false;
    Status s = probe->Transaction([&](Database& tx) -> Status {
      RETURN_IF_ERROR(tx.Exec("SET LOCAL lock_timeout = '30s'"));
      return tx.Exec(
          "SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || ':' || CAST(? AS "
          "TEXT), 0))",
          {name});
    });
    EXPECT_THAT(s, IsOk());
    return s.ok();
  }

  // How many times the partner activated `version`.
  static int Activations(PartnerSite& p, uint64_t version) {
    auto events = p.receiver->Events();
    EXPECT_THAT(events, IsOk());
    int n = 0;
    for (const SyncEvent& e : *events) n += e.kind == "activated" && e.version == version;
    return n;
  }

  static const PublishOutcome& Of(const std::vector<PublishOutcome>& outcomes,
                                  const std::string& partner) {
    for (const PublishOutcome& o : outcomes) {
      if (o.partner == partner) return o;
    }
    static const PublishOutcome kNone;
    return kNone;
  }
};

TEST_F(PublishLeaseTest, APartnerAnotherProcessPublishesIsLeftToItUntilThatProcessDies) {
  PartnerSite& a = AddPartner("shop-a");
  PartnerSite& b = AddPartner("shop-b");
  for (const PublishOutcome& o : publisher_->PublishNow({})) EXPECT_EQ(o.state, "activated");

  std::unique_ptr<Database> other = OtherConnection();
  ASSERT_NE(other, nullptr);
  auto taken = TryLockName(*other, "publish:shop-a");  // the other process publishes shop-a
  ASSERT_THAT(taken, IsOk());
  ASSERT_TRUE(*taken);
  Write(authoring_ + "/pages/about.md", "About, edited.\n");
  std::vector<PublishOutcome> outcomes = publisher_->PublishNow({});
  EXPECT_EQ(Of(outcomes, "shop-a").state, "elsewhere");
  EXPECT_THAT(Of(outcomes, "shop-a").status, IsOk());
  EXPECT_EQ(Of(outcomes, "shop-b").state, "activated");
  EXPECT_EQ(a.ActiveVersion(), 1u);
  EXPECT_EQ(b.ActiveVersion(), 2u);
  // Scheduled work leaves it out too (nothing to report: the other process reports it).
  ASSERT_THAT(main_db_->Exec("UPDATE sync_partnerships SET next_retry = 1 WHERE id = 'shop-a'"),
              IsOk());
  EXPECT_TRUE(publisher_->RunDue(env_.NowSeconds(), nullptr).empty());
  EXPECT_EQ(a.ActiveVersion(), 1u);

  other.reset();  // the other process dies: its connection ends, and its lease
  // PostgreSQL releases the lease when the session's server process has ended, a moment after
  // the client closed the connection: wait until another session can take it.
  ASSERT_TRUE(LeaseFree("publish:shop-a"));
  outcomes = publisher_->PublishNow({"shop-a"});
  EXPECT_EQ(Of(outcomes, "shop-a").state, "activated");
  EXPECT_EQ(a.ActiveVersion(), 2u);
  EXPECT_EQ(Activations(a, 2), 1);
}

TEST_F(PublishLeaseTest, TwoProcessesPublishingTogetherActivateEachVersionOnceAtEachPartner) {
  std::vector<PartnerSite*> partners;
  for (const char* id : {"shop-a", "shop-b", "shop-c", "shop-d", "shop-e", "shop-f"}) {
    partners.push_back(&AddPartner(id));
  }
  for (const PublishOutcome& o : publisher_->PublishNow({})) EXPECT_EQ(o.state, "activated");
  std::unique_ptr<Database> other_db = OtherConnection();
  ASSERT_NE(other_db, nullptr);
  PublisherOptions o;
  o.authoring_dir = authoring_;
  o.public_url = "https://main.example";
  o.root_envelope = root_envelope_;
  o.max_concurrency = 3;
  auto other = Publisher::Open(env_, *other_db, *main_blobs_, partner_link_, release_key_, o);
  ASSERT_THAT(other, IsOk());

  Write(authoring_ + "/pages/about.md", "About, edited by two mains.\n");
  std::vector<PublishOutcome> first, second;
  std::thread t([&] { second = (*other)->PublishNow({}); });
  first = publisher_->PublishNow({});
  t.join();
  for (PartnerSite* p : partners) {
    const PublishOutcome& x = Of(first, p->id);
    const PublishOutcome& y = Of(second, p->id);
    EXPECT_THAT(x.status, IsOk()) << p->id;
    EXPECT_THAT(y.status, IsOk()) << p->id;
    // One of the two activated version 2; the other found it busy or already done.
    EXPECT_EQ((x.state == "activated") + (y.state == "activated"), 1)
        << p->id << ": " << x.state << " / " << y.state;
    EXPECT_EQ(p->ActiveVersion(), 2u) << p->id;
    EXPECT_EQ(Activations(*p, 2), 1) << p->id;
  }
}

}  // namespace
}  // namespace tieup::sync
