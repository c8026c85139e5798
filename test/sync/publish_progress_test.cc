// Publisher::PublishNow's progress reports (sync::PublishProgress): each partner's steps as they
// happen, in process with real SQLite files and content stores (sync_fixture.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <mutex>

#include "sync/publisher.h"
#include "sync/sync_fixture.h"

namespace tieup::sync {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::PartnerSite;
using ::testing::SizeIs;
using testing::SyncFixture;
using ::tieup::testing::IsOk;

class PublishProgressTest : public SyncFixture {
 protected:
  // PublishNow(ids) with every report kept (they come from several worker threads).
  std::vector<PublishOutcome> Publish(const std::vector<std::string>& ids = {}) {
    std::lock_guard<std::mutex> lock(mu_);
    steps_.clear();
    return publisher_->PublishNow(ids, nullptr, Publisher::Trigger::kManager,
                                  [this](const PublishProgress& p) {
                                    std::lock_guard<std::mutex> inner(steps_mu_);
                                    steps_.push_back(p);
                                  });
  }
  // The stages reported for `partner`, in order.
  std::vector<std::string> StagesOf(const std::string& partner) {
    std::vector<std::string> stages;
    for (const PublishProgress& p : steps_) {
      if (p.partner == partner) stages.push_back(p.stage);
    }
    return stages;
  }
  const PublishProgress& Step(const std::string& partner, const std::string& stage) {
    for (const PublishProgress& p : steps_) {
      if (p.partner == partner && p.stage == stage) return p;
    }
    ADD_FAILURE() << "no step " << stage << " for " << partner;
    static const PublishProgress none;
    return none;
  }

  std::mutex mu_, steps_mu_;
  std::vector<PublishProgress> steps_;
};

TEST_F(PublishProgressTest, EachPartnersStepsAreReportedAsTheyHappen) {
  PartnerSite& a = AddPartner("shop-a", ApprovalPolicy::kAuto, ApprovalPolicy::kAuto, "Shop A");
  AddPartner("shop-b", ApprovalPolicy::kAuto, ApprovalPolicy::kManager, "Shop B");
  AddPartner("shop-c", ApprovalPolicy::kAuto, ApprovalPolicy::kAuto, "Shop C");
  partner_link_.SetDown("shop-c", true);

  const std::vector<PublishOutcome> outcomes = Publish();
  ASSERT_THAT(outcomes, SizeIs(3));

  EXPECT_THAT(StagesOf("shop-a"),
              ElementsAre("queued", "building", "offering", "fetching", "staged", "activated"));
  EXPECT_THAT(StagesOf("shop-b"), ElementsAre("queued", "building", "offering", "fetching",
                                              "staged", "pending_approval"));
  EXPECT_THAT(StagesOf("shop-c"), ElementsAre("queued", "building", "offering", "failed"));

  // Every partner is queued before any starts.
  ASSERT_THAT(steps_, SizeIs(16));
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(steps_[i].stage, "queued") << i;

  // What the partner fetched is what it answered with, and what it really fetched.
  const PublishProgress& staged = Step("shop-a", "staged");
  EXPECT_EQ(staged.version, 1u);
  EXPECT_EQ(staged.update_id, outcomes[0].update_id);
  EXPECT_GT(staged.fetched_blobs, 0u);
  EXPECT_EQ(staged.fetched_blobs, MainLinkOf(a).fetched_blobs.load());
  EXPECT_EQ(staged.fetched_bytes, MainLinkOf(a).fetched_bytes.load());
  EXPECT_FALSE(staged.done);
  // What main sent while the partner fetched (one batch here) is what it fetched.
  const PublishProgress& fetching = Step("shop-a", "fetching");
  EXPECT_EQ(fetching.fetched_blobs, staged.fetched_blobs);
  EXPECT_EQ(fetching.fetched_bytes, staged.fetched_bytes);
  EXPECT_EQ(fetching.update_id, staged.update_id);
  EXPECT_FALSE(fetching.done);

  // The last step is the outcome, marked done.
  for (const PublishOutcome& o : outcomes) {
    const PublishProgress& last = Step(o.partner, o.state);
    EXPECT_TRUE(last.done) << o.partner;
    EXPECT_EQ(last.version, o.version) << o.partner;
    EXPECT_EQ(last.update_id, o.update_id) << o.partner;
  }
  const PublishProgress& failed = Step("shop-c", "failed");
  EXPECT_THAT(failed.reason, HasSubstr("unreachable"));
  EXPECT_EQ(Step("shop-c", "offering").version, 1u);
}

// An initial sync's progress: each batch main sends while the partner fetches is reported, the
// counts growing, until the partner staged what it fetched. Blobs the partner asks for outside
// a publish (a repair) are not reported to any run.
TEST_F(PublishProgressTest, EachBatchSentWhileThePartnerFetchesIsCounted) {
  ASSERT_THAT(publisher_->AddPartnership(MakePartnership("shop-i", ApprovalPolicy::kAuto, "I")),
              IsOk());
  // One file per request: one report per file.
  PartnerSite& p = CreatePartnerSite("shop-i", ApprovalPolicy::kAuto, nullptr,
                                     [](ReceiverOptions& ro) { ro.fetch_batch_count = 1; });

  ASSERT_THAT(Publish(), SizeIs(1));
  std::vector<PublishProgress> fetching;
  for (const PublishProgress& step : steps_) {
    if (step.stage == "fetching") fetching.push_back(step);
  }
  const PublishProgress& staged = Step("shop-i", "staged");
  ASSERT_GT(staged.fetched_blobs, 1u);
  ASSERT_THAT(fetching, SizeIs(staged.fetched_blobs));
  for (size_t i = 0; i < fetching.size(); ++i) {
    EXPECT_EQ(fetching[i].fetched_blobs, i + 1);
    if (i > 0) {
      EXPECT_GT(fetching[i].fetched_bytes, fetching[i - 1].fetched_bytes);
    }
    EXPECT_EQ(fetching[i].version, 1u);
  }
  EXPECT_EQ(fetching.back().fetched_bytes, staged.fetched_bytes);
  EXPECT_EQ(StagesOf("shop-i").back(), "activated");

  // Outside a run: served, not reported.
  const size_t reports = steps_.size();
  auto active = p.store->Active(content::Area::kTieup);
  ASSERT_THAT(active, IsOk());
  ASSERT_FALSE((*active)->files.empty());
  ASSERT_THAT(publisher_->ServeBlobs("shop-i", {(*active)->files.begin()->second.hash}), IsOk());
  EXPECT_THAT(steps_, SizeIs(reports));
}

TEST_F(PublishProgressTest, NothingNewIsReportedUpToDateOrStillWaiting) {
  AddPartner("shop-a", ApprovalPolicy::kAuto, ApprovalPolicy::kAuto, "Shop A");
  AddPartner("shop-b", ApprovalPolicy::kAuto, ApprovalPolicy::kManager, "Shop B");
  ASSERT_THAT(Publish(), SizeIs(2));

  ASSERT_THAT(Publish(), SizeIs(2));
  EXPECT_THAT(StagesOf("shop-a"), ElementsAre("queued", "building", "up_to_date"));
  EXPECT_THAT(StagesOf("shop-b"), ElementsAre("queued", "building", "awaiting_approval"));
  EXPECT_EQ(Step("shop-a", "up_to_date").version, 1u);

  // Only the partners named are reported.
  ASSERT_THAT(Publish({"shop-b"}), SizeIs(1));
  EXPECT_THAT(StagesOf("shop-a"), ::testing::IsEmpty());
}

TEST_F(PublishProgressTest, APullModePartnerIsReportedReadyForItsPoll) {
  AddPartner("shop-p", ApprovalPolicy::kAuto, ApprovalPolicy::kAuto, "Shop P",
             [](Partnership& p) { p.sync_url = ""; });
  ASSERT_THAT(Publish(), SizeIs(1));
  EXPECT_THAT(StagesOf("shop-p"), ElementsAre("queued", "building", "pull"));
  EXPECT_TRUE(Step("shop-p", "pull").done);
}

}  // namespace
}  // namespace tieup::sync
