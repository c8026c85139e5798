// Publisher + Receiver end to end, in process, with real SQLite files and content stores.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>

#include "content/template_vars.h"
#include "sync/chunk_store.h"
#include "sync/publisher.h"
#include "sync/receiver.h"
#include "sync/schedule.h"
#include "sync/sync_fixture.h"

namespace tieup::sync {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using testing::PartnerSite;
using ::testing::SizeIs;
using testing::SyncFixture;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;

class PublisherReceiverTest : public SyncFixture {};

const PublishOutcome& Only(const std::vector<PublishOutcome>& v) {
  EXPECT_THAT(v, SizeIs(1));
  return v.at(0);
}

TEST_F(PublisherReceiverTest, FullUpdateWithAutoApproval) {
  PartnerSite& p = AddPartner("shop-a", ApprovalPolicy::kAuto, ApprovalPolicy::kAuto, "Shop A");
  const PublishOutcome o = Only(publisher_->PublishNow({"shop-a"}));
  ASSERT_THAT(o.status, IsOk());
  EXPECT_EQ(o.state, "activated");
  EXPECT_EQ(o.version, 1u);
  EXPECT_EQ(p.ActiveVersion(), 1u);
  EXPECT_THAT(p.Page("/index.html"), HasSubstr("Welcome to Shop A"));
  EXPECT_THAT(p.Page("/assets/site.css"), HasSubstr("color"));

  auto status = publisher_->StatusReport();
  ASSERT_THAT(status, IsOk());
  ASSERT_THAT(*status, SizeIs(1));
  EXPECT_EQ((*status)[0].active_version, 1u);
  EXPECT_EQ((*status)[0].latest_version, 1u);
  EXPECT_EQ((*status)[0].summary, "up to date at version 1");

  auto main_events = publisher_->Events("shop-a");
  ASSERT_THAT(main_events, IsOk());
  EXPECT_TRUE(HasEvent(*main_events, "offered", "offered version 1"));
  EXPECT_TRUE(HasEvent(*main_events, "activated", "partner activated version 1"));
  auto partner_events = p.receiver->Events();
  ASSERT_THAT(partner_events, IsOk());
  EXPECT_TRUE(HasEvent(*partner_events, "staged", "staged version 1"));
  EXPECT_TRUE(HasEvent(*partner_events, "activated", "policy auto"));

  // Publishing again with nothing changed offers nothing.
  const PublishOutcome again = Only(publisher_->PublishNow({"shop-a"}));
  EXPECT_EQ(again.state, "up_to_date");
  EXPECT_EQ(partner_link_.offers.load(), 1);
}

// Issue 15: the grant travels in the signed metadata; an emergency edit at the partner is an
// overlay, so main's next version is accepted (no replay), and main's status says what the
// partner serves.
TEST_F(PublisherReceiverTest, EmergencyEditsDoNotBlockMainsNextVersion) {
  PartnerSite& p =
      AddPartner("shop-a", ApprovalPolicy::kAuto, ApprovalPolicy::kAuto, "Shop A",
                 [](Partnership& x) { x.emergency_edit = content::EmergencyEditPolicy::kKeep; });
  ASSERT_THAT(Only(publisher_->PublishNow({"shop-a"})).status, IsOk());
  EXPECT_EQ((*p.store->Active(content::Area::kTieup))->emergency_edit,
            content::EmergencyEditPolicy::kKeep);
  auto edit =
      p.store->PutOriginalPage("/index.html", "<h1>closed today</h1>", "text/html", true, "ann");
  ASSERT_THAT(edit, IsOk());
  EXPECT_EQ(edit->version, 1u);

  auto st = p.receiver->GetStatus();
  ASSERT_THAT(st, IsOk());
  EXPECT_EQ(st->active_version, 1u);
  // Main's name for the release: the hash of main's form (pages made from templates are the
  // templates again).
  EXPECT_EQ(st->active_hash, content::MainForm(**p.store->Active(content::Area::kTieup)).Hash());
  ASSERT_THAT(st->overlay, SizeIs(1));
  EXPECT_EQ(st->overlay[0].path, "/index.html");
  EXPECT_EQ(st->overlay[0].by, "ann");

  // Main is told (the partner_site layer signs this; here it is handed over as verified).
  const content::OverlayChange c = p.store->UnreportedOverlayChanges().at(0);
  EmergencyEditReport report{c.seq,      c.at,     c.by, c.action,        c.path,     c.old_hash,
                             c.new_hash, c.reason, 1,    st->active_hash, st->overlay};
  ASSERT_THAT(publisher_->HandleEmergencyEdit("shop-a", report), IsOk());
  ASSERT_THAT(publisher_->HandleEmergencyEdit("shop-a", report), IsOk());  // sent again
  auto events = publisher_->Events("shop-a");
  ASSERT_THAT(events, IsOk());
  int recorded = 0;
  for (const SyncEvent& e : *events) recorded += e.kind == "emergency-edit" ? 1 : 0;
  EXPECT_EQ(recorded, 1);
  auto status = publisher_->StatusReport();
  ASSERT_THAT(status, IsOk());
  EXPECT_THAT((*status)[0].summary, HasSubstr("emergency-edited: /index.html ("));
  EXPECT_THAT((*status)[0].summary, Not(HasSubstr("up to date")));
  // The unsigned report channel does not take emergency edits.
  EXPECT_THAT(publisher_->HandleReport("shop-a", EventReport{"", 1, "emergency-edit", "forged"}),
              StatusIs(StatusCode::kPermissionDenied));

  Write(authoring_ + "/pages/index.md", "# Second edition\n");
  const PublishOutcome o = Only(publisher_->PublishNow({"shop-a"}));
  ASSERT_THAT(o.status, IsOk());
  EXPECT_EQ(o.state, "activated");
  EXPECT_EQ(p.ActiveVersion(), 2u);
  ASSERT_THAT(p.store->Overlay(), SizeIs(1));  // keep
}

TEST_F(PublisherReceiverTest, ManagerApprovalLeavesAPendingUpdateUntilApproved) {
  PartnerSite& p = AddPartner("shop-m", ApprovalPolicy::kAuto, ApprovalPolicy::kManager);
  const PublishOutcome o = Only(publisher_->PublishNow({"shop-m"}));
  ASSERT_THAT(o.status, IsOk());
  EXPECT_EQ(o.state, "pending_approval");
  EXPECT_EQ(p.ActiveVersion(), 0u);  // staged, not active

  auto pending = p.receiver->Pending();
  ASSERT_THAT(pending, IsOk());
  ASSERT_THAT(*pending, SizeIs(1));
  const ReceivedUpdate& u = (*pending)[0];
  EXPECT_EQ(u.update_id, o.update_id);
  EXPECT_EQ(u.version, 1u);
  EXPECT_EQ(u.added, 4u);  // with the page shell (content/page_templates.h)
  EXPECT_THAT(u.added_paths, ::testing::Contains("/index.html"));
  EXPECT_GT(u.added_bytes, 0u);
  auto staged = p.store->ReadStaged(content::Area::kTieup, 1);
  EXPECT_THAT(staged, IsOk());  // previewable

  // A second publish while pending does not re-offer.
  EXPECT_EQ(Only(publisher_->PublishNow({"shop-m"})).state, "awaiting_approval");
  auto report = publisher_->StatusReport();
  ASSERT_THAT(report, IsOk());
  EXPECT_THAT((*report)[0].summary, HasSubstr("waiting for the partner manager"));

  ASSERT_THAT(p.receiver->Approve(u.update_id), IsOk());
  EXPECT_EQ(p.ActiveVersion(), 1u);
  auto updates = publisher_->Updates("shop-m");
  ASSERT_THAT(updates, IsOk());
  EXPECT_EQ((*updates)[0].state, "activated");
  EXPECT_THAT(p.receiver->Pending(),
              ::testing::ResultOf([](const auto& r) { return r->size(); }, 0u));
  // Approving twice is refused clearly.
  EXPECT_THAT(p.receiver->Approve(u.update_id),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("not pending")));
  // The partner's copy of its approval arriving after the activation (its resend beside the
  // manager's own send) is answered as the first, and changes nothing.
  auto again = publisher_->HandleResponse("shop-m", UpdateResponse{u.update_id, true, ""});
  ASSERT_THAT(again, IsOk());
  EXPECT_FALSE(again->activate);
  EXPECT_EQ(again->version, 1u);
  updates = publisher_->Updates("shop-m");
  ASSERT_THAT(updates, IsOk());
  EXPECT_EQ((*updates)[0].state, "activated");
  // A rejection of a live update is still refused: it is not the decision main acted on.
  EXPECT_THAT(publisher_->HandleResponse("shop-m", UpdateResponse{u.update_id, false, "late"}),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("activated")));
}

TEST_F(PublisherReceiverTest, MainCanRequireApprovalEvenForAnAutoPartner) {
  PartnerSite& p = AddPartner("shop-x", ApprovalPolicy::kManager, ApprovalPolicy::kAuto);
  EXPECT_EQ(Only(publisher_->PublishNow({"shop-x"})).state, "pending_approval");
  EXPECT_EQ(p.ActiveVersion(), 0u);
}

TEST_F(PublisherReceiverTest, ARejectedVersionIsOfferedAgainOnlyWhenChangedOrRepublished) {
  PartnerSite& p = AddPartner("shop-r", ApprovalPolicy::kManager, ApprovalPolicy::kManager, "",
                              [](Partnership& x) { x.schedule = "@every 1h"; });
  const PublishOutcome o = Only(publisher_->PublishNow({"shop-r"}));
  ASSERT_EQ(o.state, "pending_approval");
  ASSERT_THAT(p.receiver->Reject(o.update_id, ""), StatusIs(StatusCode::kInvalidArgument));
  ASSERT_THAT(p.receiver->Reject(o.update_id, "typo on the home page"), IsOk());

  auto updates = publisher_->Updates("shop-r");
  ASSERT_THAT(updates, IsOk());
  EXPECT_EQ((*updates)[0].state, "rejected");
  EXPECT_THAT((*updates)[0].reason, HasSubstr("typo on the home page"));
  auto report = publisher_->StatusReport();
  ASSERT_THAT(report, IsOk());
  EXPECT_THAT((*report)[0].summary,
              AllOf(HasSubstr("rejected version 1: typo on the home page"),
                    HasSubstr("offered again when it changes or when you publish again")));
  auto main_events = publisher_->Events("shop-r");
  ASSERT_THAT(main_events, IsOk());
  EXPECT_TRUE(HasEvent(*main_events, "rejected", "typo on the home page; offered again when"));

  // Neither the scheduler (a day of scheduled runs) nor an automatic publish offers it again.
  for (int hour = 0; hour < 24; ++hour) {
    env_.AdvanceSeconds(3600);
    for (const PublishOutcome& due : publisher_->RunDue(env_.NowSeconds())) {
      EXPECT_EQ(due.state, "rejected") << due.status.ToString();
      EXPECT_EQ(due.update_id, o.update_id);
    }
  }
  EXPECT_EQ(Only(publisher_->PublishNow({"shop-r"}, nullptr, Publisher::Trigger::kAutomatic)).state,
            "rejected");
  auto pending = p.receiver->Pending();
  ASSERT_THAT(pending, IsOk());
  EXPECT_THAT(*pending, IsEmpty());

  // The main manager publishes again: the same version, as a new update.
  const PublishOutcome again = Only(publisher_->PublishNow({"shop-r"}));
  ASSERT_THAT(again.status, IsOk());
  EXPECT_EQ(again.state, "pending_approval");
  EXPECT_EQ(again.version, 1u);
  EXPECT_NE(again.update_id, o.update_id);
  ASSERT_THAT(p.receiver->Reject(again.update_id, "still a typo"), IsOk());

  // A change of the content is offered by the scheduler as a new version.
  Write(authoring_ + "/pages/index.md", "---\ntitle: Home\n---\n# Welcome, fixed\n");
  env_.AdvanceSeconds(3600);
  const PublishOutcome changed = Only(publisher_->RunDue(env_.NowSeconds()));
  ASSERT_THAT(changed.status, IsOk());
  EXPECT_EQ(changed.state, "pending_approval");
  EXPECT_EQ(changed.version, 2u);
  ASSERT_THAT(p.receiver->Approve(changed.update_id), IsOk());
  EXPECT_EQ(p.ActiveVersion(), 2u);
  // The rejected ones stay rejected and cannot be approved now.
  EXPECT_THAT(p.receiver->Approve(o.update_id), StatusIs(StatusCode::kFailedPrecondition));
}

TEST_F(PublisherReceiverTest, TheRetryPolicyCanOfferARejectedVersionAgainAfterADelay) {
  PartnerSite& p = AddPartner("shop-q", ApprovalPolicy::kManager, ApprovalPolicy::kManager, "",
                              [](Partnership& x) { x.retry = "manual,rejected=1d"; });
  const PublishOutcome o = Only(publisher_->PublishNow({"shop-q"}));
  ASSERT_THAT(p.receiver->Reject(o.update_id, "not now"), IsOk());
  auto events = publisher_->Events("shop-q");
  ASSERT_THAT(events, IsOk());
  EXPECT_TRUE(HasEvent(*events, "rejected", "not now; offered again at"));
  auto report = publisher_->StatusReport();
  ASSERT_THAT(report, IsOk());
  const int64_t again_at = (*report)[0].next_attempt;
  EXPECT_EQ(again_at, env_.NowSeconds() + 86400);

  EXPECT_THAT(publisher_->RunDue(again_at - 1), IsEmpty());
  env_.SetNowMicros(again_at * 1'000'000);
  const PublishOutcome retried = Only(publisher_->RunDue(again_at));
  ASSERT_THAT(retried.status, IsOk());
  EXPECT_EQ(retried.state, "pending_approval");
  EXPECT_NE(retried.update_id, o.update_id);
  ASSERT_THAT(p.receiver->Approve(retried.update_id), IsOk());
  EXPECT_EQ(p.ActiveVersion(), 1u);
}

TEST_F(PublisherReceiverTest, ForgedSignatureIsRefusedBeforeFetching) {
  PartnerSite& p = AddPartner("shop-f");
  const auto m = HandMadeRelease("shop-f", 1, "<p>forged</p>");
  const Ed25519PrivateKey attacker = Ed25519PrivateKey::Generate(env_);
  EXPECT_THAT(p.receiver->HandleOffer(SignedOffer(m, &attacker)),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("does not verify")));
  // A genuine envelope whose payload was altered.
  OfferRequest altered = SignedOffer(m);
  auto envelope = ParseEnvelope(altered.release);
  ASSERT_THAT(envelope, IsOk());
  envelope->payload[envelope->payload.find("hand")] = 'H';
  altered.release = EncodeEnvelope(*envelope);
  EXPECT_THAT(p.receiver->HandleOffer(altered), StatusIs(StatusCode::kUnauthenticated));
  // A root signed by another root key.
  OfferRequest other_root = SignedOffer(m);
  RootMetadata fake;
  fake.expires = env_.NowSeconds() + 1000;
  fake.root_key = attacker.public_key();
  fake.release_keys = {attacker.public_key()};
  other_root.root = EncodeEnvelope(*SignRootMetadata(attacker, fake));
  other_root.release = EncodeEnvelope(SignRelease(attacker, m.Encode()));
  EXPECT_THAT(p.receiver->HandleOffer(other_root), StatusIs(StatusCode::kUnauthenticated));

  EXPECT_EQ(MainLinkOf(p).fetch_calls.load(), 0);
  EXPECT_EQ(p.ActiveVersion(), 0u);
  auto staged = p.store->StagedVersions(content::Area::kTieup);
  ASSERT_THAT(staged, IsOk());
  EXPECT_THAT(*staged, IsEmpty());
  auto events = p.receiver->Events();
  ASSERT_THAT(events, IsOk());
  EXPECT_TRUE(HasEvent(*events, "refused", "does not verify"));
}

TEST_F(PublisherReceiverTest, AnotherPartnersReleaseIsRefused) {
  PartnerSite& p = AddPartner("shop-a");
  OfferRequest o = SignedOffer(HandMadeRelease("shop-b", 1, "<p>for b</p>"));
  o.partner = "shop-a";  // addressed to us, but the signed metadata names shop-b
  EXPECT_THAT(p.receiver->HandleOffer(o),
              StatusIs(StatusCode::kPermissionDenied, HasSubstr("another partner's release")));
  OfferRequest wrong_address = SignedOffer(HandMadeRelease("shop-b", 1, "<p>for b</p>"));
  EXPECT_THAT(p.receiver->HandleOffer(wrong_address),
              StatusIs(StatusCode::kPermissionDenied, HasSubstr("addressed to partner 'shop-b'")));
  EXPECT_EQ(MainLinkOf(p).fetch_calls.load(), 0);
  auto events = p.receiver->Events();
  ASSERT_THAT(events, IsOk());
  EXPECT_TRUE(HasEvent(*events, "refused", "another partner's release"));
}

TEST_F(PublisherReceiverTest, OlderVersionSameVersionAndExpiredAreRefused) {
  PartnerSite& p = AddPartner("shop-v");
  ASSERT_THAT(p.receiver->HandleOffer(SignedOffer(HandMadeRelease("shop-v", 1, "one"))), IsOk());
  ASSERT_THAT(p.receiver->HandleOffer(SignedOffer(HandMadeRelease("shop-v", 3, "three"))), IsOk());
  EXPECT_EQ(p.ActiveVersion(), 3u);
  const int fetches = MainLinkOf(p).fetch_calls.load();

  EXPECT_THAT(p.receiver->HandleOffer(SignedOffer(HandMadeRelease("shop-v", 2, "two"))),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("refusing a rollback")));
  EXPECT_THAT(p.receiver->HandleOffer(SignedOffer(HandMadeRelease("shop-v", 3, "three"))),
              StatusIs(StatusCode::kAlreadyExists, HasSubstr("refusing a replay")));
  EXPECT_THAT(p.receiver->HandleOffer(SignedOffer(HandMadeRelease("shop-v", 4, "four", -1))),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("frozen")));
  EXPECT_EQ(MainLinkOf(p).fetch_calls.load(), fetches);  // nothing fetched for any of them
  EXPECT_EQ(p.ActiveVersion(), 3u);
  auto events = p.receiver->Events();
  ASSERT_THAT(events, IsOk());
  EXPECT_TRUE(HasEvent(*events, "refused", "rollback"));
  EXPECT_TRUE(HasEvent(*events, "refused", "replay"));
  EXPECT_TRUE(HasEvent(*events, "refused", "frozen"));
}

TEST_F(PublisherReceiverTest, MainRecordsThePartnersRefusal) {
  PartnerSite& p = AddPartner("shop-v");
  ASSERT_EQ(Only(publisher_->PublishNow({"shop-v"})).state, "activated");
  // The partner somehow has a newer version active than main's next one (e.g. main's database
  // was restored from an old backup): main's offer is refused as a rollback and recorded.
  ASSERT_THAT(p.receiver->HandleOffer(SignedOffer(HandMadeRelease("shop-v", 5, "five"))), IsOk());
  Write(authoring_ + "/pages/about.md", "About, edited.\n");
  const PublishOutcome o = Only(publisher_->PublishNow({"shop-v"}));
  EXPECT_THAT(o.status, StatusIs(StatusCode::kFailedPrecondition, HasSubstr("rollback")));
  auto events = publisher_->Events("shop-v");
  ASSERT_THAT(events, IsOk());
  EXPECT_TRUE(HasEvent(*events, "failed", "refusing a rollback"));
}

TEST_F(PublisherReceiverTest, BlobWhoseHashDiffersIsRefused) {
  PartnerSite& p = AddPartner("shop-h");
  MainLinkOf(p).tamper = [](std::string& b) {
    if (!b.empty()) b[0] ^= 1;
  };
  const PublishOutcome o = Only(publisher_->PublishNow({"shop-h"}));
  EXPECT_THAT(o.status, StatusIs(StatusCode::kDataLoss, HasSubstr("does not match its hash")));
  EXPECT_EQ(p.ActiveVersion(), 0u);
  auto staged = p.store->StagedVersions(content::Area::kTieup);
  ASSERT_THAT(staged, IsOk());
  EXPECT_THAT(*staged, IsEmpty());
  auto partner_events = p.receiver->Events();
  ASSERT_THAT(partner_events, IsOk());
  EXPECT_TRUE(HasEvent(*partner_events, "refused", "does not match its hash"));
  auto main_events = publisher_->Events("shop-h");
  ASSERT_THAT(main_events, IsOk());
  EXPECT_TRUE(HasEvent(*main_events, "failed", "does not match its hash"));
  // Fixed link: the retry succeeds.
  MainLinkOf(p).tamper = nullptr;
  EXPECT_EQ(Only(publisher_->PublishNow({"shop-h"})).state, "activated");
}

TEST_F(PublisherReceiverTest, BlobLongerThanStatedIsReadOnlyToItsStatedLength) {
  PartnerSite& p = AddPartner("shop-l");
  MainLinkOf(p).tamper = [](std::string& b) { b += "<script>evil()</script>"; };
  const PublishOutcome o = Only(publisher_->PublishNow({"shop-l"}));
  ASSERT_THAT(o.status, IsOk());
  EXPECT_EQ(p.ActiveVersion(), 1u);
  auto active = p.store->Active(content::Area::kTieup);
  ASSERT_THAT(active, IsOk());
  for (const auto& [path, e] : (*active)->files) {
    auto size = p.store->blobs().Size(e.hash);
    ASSERT_THAT(size, IsOk());
    EXPECT_EQ(*size, e.length) << path;  // the extra bytes were never stored
  }
  EXPECT_THAT(p.Page("/index.html"), ::testing::Not(HasSubstr("evil")));
  auto events = p.receiver->Events();
  ASSERT_THAT(events, IsOk());
  EXPECT_TRUE(HasEvent(*events, "fetched", "only the stated"));
}

TEST_F(PublisherReceiverTest, BlobShorterThanStatedIsRefused) {
  PartnerSite& p = AddPartner("shop-s");
  MainLinkOf(p).tamper = [](std::string& b) {
    if (!b.empty()) b.pop_back();
  };
  EXPECT_THAT(Only(publisher_->PublishNow({"shop-s"})).status,
              StatusIs(StatusCode::kDataLoss, HasSubstr("the release states")));
  EXPECT_EQ(p.ActiveVersion(), 0u);
}

TEST_F(PublisherReceiverTest, PartnerDownAtTheScheduledTimeIsRetriedAndAppliedLater) {
  PartnerSite& p = AddPartner("shop-d", ApprovalPolicy::kAuto, ApprovalPolicy::kAuto, "",
                              [](Partnership& x) { x.schedule = "@every 10m"; });
  partner_link_.SetDown("shop-d", true);
  const int64_t first = Schedule::Parse("@every 10m")->NextAfter(env_.NowSeconds());
  EXPECT_THAT(publisher_->RunDue(first - 1), IsEmpty());
  env_.SetNowMicros(first * 1'000'000);
  const PublishOutcome o = Only(publisher_->RunDue(first));
  EXPECT_THAT(o.status, StatusIs(StatusCode::kUnavailable));
  EXPECT_EQ(o.state, "failed");
  auto report = publisher_->StatusReport();
  ASSERT_THAT(report, IsOk());
  EXPECT_THAT((*report)[0].summary, HasSubstr("unreachable"));
  EXPECT_THAT((*report)[0].summary, HasSubstr("retry at"));
  const int64_t retry_at = (*report)[0].next_attempt;
  EXPECT_LE(retry_at, first + 30);

  // Still down at the first retry: the backoff grows.
  env_.SetNowMicros(retry_at * 1'000'000);
  EXPECT_EQ(Only(publisher_->RunDue(retry_at)).state, "failed");
  report = publisher_->StatusReport();
  ASSERT_THAT(report, IsOk());
  EXPECT_EQ((*report)[0].failures, 2);
  const int64_t retry2 = (*report)[0].next_attempt;
  EXPECT_LE(retry2, retry_at + 60);

  partner_link_.SetDown("shop-d", false);
  env_.SetNowMicros(retry2 * 1'000'000);
  const PublishOutcome ok = Only(publisher_->RunDue(retry2));
  ASSERT_THAT(ok.status, IsOk());
  EXPECT_EQ(ok.state, "activated");
  EXPECT_EQ(p.ActiveVersion(), 1u);
  report = publisher_->StatusReport();
  ASSERT_THAT(report, IsOk());
  EXPECT_EQ((*report)[0].failures, 0);
  EXPECT_EQ((*report)[0].next_attempt, first + 600);  // back on the schedule
}

TEST_F(PublisherReceiverTest, MainDownDuringFetchLeavesTheActiveReleaseServed) {
  PartnerSite& p = AddPartner("shop-n");
  ASSERT_EQ(Only(publisher_->PublishNow({"shop-n"})).state, "activated");
  const std::string before = p.Page("/about.html");
  // Too large to come with the offer (kMaxOfferBlobBytes): the partner must fetch it.
  Write(authoring_ + "/pages/about.md",
        "About, version two.\n\n" + std::string(kMaxOfferBlobBytes, 'x') + "\n");
  MainLinkOf(p).down = true;
  EXPECT_THAT(Only(publisher_->PublishNow({"shop-n"})).status, StatusIs(StatusCode::kUnavailable));
  EXPECT_EQ(p.ActiveVersion(), 1u);
  EXPECT_EQ(p.Page("/about.html"), before);
  MainLinkOf(p).down = false;
  EXPECT_EQ(Only(publisher_->PublishNow({"shop-n"})).state, "activated");
  EXPECT_THAT(p.Page("/about.html"), HasSubstr("version two"));
}

TEST_F(PublisherReceiverTest, UnchangedContentMakesNoNewVersion) {
  AddPartner("shop-u");
  auto v1 = publisher_->BuildFor("shop-u");
  ASSERT_THAT(v1, IsOk());
  auto again = publisher_->BuildFor("shop-u");
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(*again, *v1);
  Write(authoring_ + "/pages/about.md", "About, changed.\n");
  auto v2 = publisher_->BuildFor("shop-u");
  ASSERT_THAT(v2, IsOk());
  EXPECT_EQ(*v2, *v1 + 1);
  // Past half its validity, an unchanged release is re-signed so offers never freeze.
  env_.AdvanceSeconds(4 * 86400);
  auto refreshed = publisher_->BuildFor("shop-u");
  ASSERT_THAT(refreshed, IsOk());
  EXPECT_EQ(*refreshed, *v2 + 1);
}

TEST_F(PublisherReceiverTest, PerPartnerVariablesDifferWhileIdenticalPagesShareBlobs) {
  Write(dir_.Sub("overrides-b/pages/about.md"), "About {{partner.name}} in {{region}}.\n");
  PartnerSite& a = AddPartner("shop-a", ApprovalPolicy::kAuto, ApprovalPolicy::kAuto, "Alpha");
  PartnerSite& b = AddPartner("shop-b", ApprovalPolicy::kAuto, ApprovalPolicy::kAuto, "Beta",
                              [&](Partnership& x) {
                                x.overrides_dir = dir_.Sub("overrides-b");
                                x.variables["region"] = "the hills";
                              });
  PartnerSite& c = AddPartner("shop-c", ApprovalPolicy::kAuto, ApprovalPolicy::kAuto, "Gamma");
  auto outcomes = publisher_->PublishNow();
  ASSERT_THAT(outcomes, SizeIs(3));
  for (const auto& o : outcomes) ASSERT_THAT(o.status, IsOk()) << o.partner;

  EXPECT_THAT(a.Page("/index.html"), HasSubstr("Welcome to Alpha"));
  EXPECT_THAT(b.Page("/index.html"), HasSubstr("Welcome to Beta"));
  EXPECT_THAT(b.Page("/about.html"), HasSubstr("About Beta in the hills."));
  EXPECT_EQ(a.Page("/about.html"), c.Page("/about.html"));
  auto ma = a.store->Active(content::Area::kTieup);
  auto mc = c.store->Active(content::Area::kTieup);
  ASSERT_THAT(ma, IsOk());
  ASSERT_THAT(mc, IsOk());
  EXPECT_EQ((*ma)->files.at("/about.html").hash, (*mc)->files.at("/about.html").hash);
  EXPECT_NE((*ma)->files.at("/index.html").hash, (*mc)->files.at("/index.html").hash);
  // Main stores: 1 index page (a template the partners put their names in), 2 about pages
  // (shared + b's override, a template too), 1 stylesheet, 1 page shell (the same layout for all
  // three).
  int blobs = 0;
  ASSERT_THAT(main_blobs_->ForEach([&](const std::string&) {
    ++blobs;
    return Status::Ok();
  }),
              IsOk());
  EXPECT_EQ(blobs, 5);
}

std::string PayloadTypeOf(const OfferRequest& o) {
  auto e = ParseEnvelope(o.release);
  return e.ok() ? e->payload_type : "unparseable: " + e.status().ToString();
}

TEST_F(PublisherReceiverTest, AfterTheFirstUpdateOnlyTheChangesAreSentAsASignedDelta) {
  for (int i = 0; i < 300; ++i) {
    Write(authoring_ + "/pages/p/" + std::to_string(i) + ".md", "Page " + std::to_string(i) + "\n");
  }
  PartnerSite& p = AddPartner("shop-d");
  ASSERT_EQ(Only(publisher_->PublishNow({"shop-d"})).state, "activated");
  const int fetches = MainLinkOf(p).fetch_calls.load();
  Write(authoring_ + "/pages/p/7.md", "Page seven, rewritten.\n");
  ASSERT_EQ(Only(publisher_->PublishNow({"shop-d"})).state, "activated");
  EXPECT_THAT(p.Page("/p/7.html"), HasSubstr("Page seven, rewritten."));
  EXPECT_EQ(p.ActiveVersion(), 2u);

  const std::vector<OfferRequest> offers = partner_link_.Offered();
  ASSERT_EQ(offers.size(), 2u);
  EXPECT_EQ(PayloadTypeOf(offers[0]), kReleasePayloadType);
  EXPECT_EQ(PayloadTypeOf(offers[1]), kReleaseDeltaPayloadType);
  EXPECT_GT(offers[0].release.size(), 60000u);  // grows with the site
  EXPECT_LT(offers[1].release.size(), 1500u);   // the one changed page
  // The changed page's blob came with the offer: the partner did not call back to fetch it.
  EXPECT_TRUE(offers[0].blobs.empty());  // a first release is too large to send along
  EXPECT_EQ(offers[1].blobs.size(), 1u);
  EXPECT_EQ(MainLinkOf(p).fetch_calls.load(), fetches);
  EXPECT_TRUE(HasEvent(*p.receiver->Events(), "fetched", "1 sent with the offer"));
  // What the partner built from the delta is exactly the release main signed in full.
  auto full = publisher_->LatestFor("shop-d");
  ASSERT_THAT(full, IsOk());
  auto payload =
      VerifyRelease(root_key_.public_key(), root_envelope_, full->release, env_.NowSeconds());
  ASSERT_THAT(payload, IsOk());
  auto active = p.store->Active(content::Area::kTieup);
  ASSERT_THAT(active, IsOk());
  EXPECT_EQ(content::MainForm(**active).Encode(), *payload);
  EXPECT_TRUE(HasEvent(*publisher_->Events("shop-d"), "built", "1 rendered, 302 unchanged"));
}

TEST_F(PublisherReceiverTest, APartnerWithoutTheDeltasBaseGetsTheFullMetadata) {
  PartnerSite& p = AddPartner("shop-f");
  ASSERT_EQ(Only(publisher_->PublishNow({"shop-f"})).state, "activated");
  // The partner's copy of version 1 is no longer byte for byte the one main signed.
  const std::string v1 = p.dir + "/releases/tieup/1.json";
  auto bytes = env_.ReadFile(v1);
  ASSERT_THAT(bytes, IsOk());
  auto changed = content::ReleaseManifest::Parse(*bytes);  // its content, not only its bytes
  ASSERT_THAT(changed, IsOk());
  changed->created += 1;
  Write(v1, changed->Encode());
  RestartPartner(p);  // a running partner holds the release it verified in memory
  Write(authoring_ + "/pages/about.md", "About, version two.\n");
  ASSERT_EQ(Only(publisher_->PublishNow({"shop-f"})).state, "activated");
  EXPECT_THAT(p.Page("/about.html"), HasSubstr("version two"));
  const std::vector<OfferRequest> offers = partner_link_.Offered();
  ASSERT_EQ(offers.size(), 3u);
  EXPECT_EQ(PayloadTypeOf(offers[1]), kReleaseDeltaPayloadType);
  EXPECT_EQ(PayloadTypeOf(offers[2]), kReleasePayloadType);
  EXPECT_TRUE(HasEvent(*p.receiver->Events(), "offered", "asking main for the full metadata"));
  EXPECT_FALSE(HasEvent(*p.receiver->Events(), "refused", ""));
  EXPECT_TRUE(HasEvent(*publisher_->Events("shop-f"), "offered", "sending the full metadata"));
}

// A partner that missed a release gets a delta from the release it has (two versions back),
// made from the stored releases, also after main restarted.
TEST_F(PublisherReceiverTest, APartnerTwoVersionsBehindGetsADeltaFromWhatItHas) {
  for (int i = 0; i < 200; ++i) {
    Write(authoring_ + "/pages/p/" + std::to_string(i) + ".md", "Page " + std::to_string(i) + "\n");
  }
  PartnerSite& p = AddPartner("shop-b2");
  ASSERT_EQ(Only(publisher_->PublishNow({"shop-b2"})).state, "activated");
  partner_link_.SetDown("shop-b2", true);
  Write(authoring_ + "/pages/p/7.md", "Page seven, version two.\n");
  ASSERT_EQ(Only(publisher_->PublishNow({"shop-b2"})).state, "failed");
  Write(authoring_ + "/pages/p/8.md", "Page eight, version three.\n");
  ASSERT_EQ(Only(publisher_->PublishNow({"shop-b2"})).state, "failed");
  partner_link_.SetDown("shop-b2", false);
  OpenPublisher(16);  // main restarts: the releases are read back from the database
  const PublishOutcome out = Only(publisher_->PublishNow({"shop-b2"}));
  ASSERT_EQ(out.state, "activated") << out.status.ToString();
  EXPECT_EQ(p.ActiveVersion(), 3u);
  EXPECT_THAT(p.Page("/p/7.html"), HasSubstr("version two"));
  EXPECT_THAT(p.Page("/p/8.html"), HasSubstr("version three"));
  const OfferRequest last = partner_link_.Offered().back();
  EXPECT_EQ(PayloadTypeOf(last), kReleaseDeltaPayloadType);
  EXPECT_LT(last.release.size(), 3000u);
  EXPECT_FALSE(HasEvent(*p.receiver->Events(), "refused", ""));
}

// Releases are stored as chunked records: a one-page change adds a few chunks, not a copy of
// the release; chunks of dropped releases are swept; every kept release reads back whole.
TEST_F(PublisherReceiverTest, StoredReleasesShareChunksAndDroppedOnesAreSwept) {
  for (int i = 0; i < 300; ++i) {
    Write(authoring_ + "/pages/p/" + std::to_string(i) + ".md", "Page " + std::to_string(i) + "\n");
  }
  AddPartner("shop-c1");
  AddPartner("shop-c2");
  auto count = [&](const std::string& sql) {
    auto rows = main_db_->Query(sql);
    EXPECT_THAT(rows, IsOk());
    return rows.ok() && !rows->empty() ? (*rows)[0].Int(0) : -1;
  };
  ASSERT_EQ(publisher_->PublishNow().size(), 2u);
  const int64_t first = count("SELECT COUNT(*) FROM sync_chunks");
  // Both partners' pages are the same bytes (no partner variable on them) except those that
  // name the partner: most chunks are shared.
  EXPECT_GT(first, 10);
  for (int v = 2; v <= 14; ++v) {
    Write(authoring_ + "/pages/p/" + std::to_string(v * 17) + ".md",
          "Version " + std::to_string(v) + "\n");
    for (const PublishOutcome& o : publisher_->PublishNow()) ASSERT_EQ(o.state, "activated");
  }
  EXPECT_LT(count("SELECT MAX(length(snapshot)) FROM sync_releases"), 4000);
  // Main restarts and drops one more release; its first scheduler tick sweeps.
  OpenPublisher(16);
  Write(authoring_ + "/pages/p/1.md", "Version 15\n");
  ASSERT_EQ(Only(publisher_->PublishNow({"shop-c1"})).state, "activated");
  EXPECT_THAT(publisher_->RunDue(env_.NowSeconds()), IsEmpty());  // nothing scheduled
  EXPECT_EQ(count("SELECT COUNT(*) FROM sync_releases"), 2 * 10);
  // Every chunk left is named by a kept release, and every kept release reads back.
  auto rows = main_db_->Query("SELECT snapshot, inputs FROM sync_releases");
  ASSERT_THAT(rows, IsOk());
  std::set<std::string> named;
  for (const SqlRow& row : *rows) {
    for (size_t c = 0; c < 2; ++c) {
      ASSERT_THAT(internal::ReadChunked(*main_db_, row.Text(c)).status(), IsOk());
      for (const std::string& k : internal::ChunkKeys(row.Text(c))) named.insert(k);
    }
  }
  EXPECT_EQ(count("SELECT COUNT(*) FROM sync_chunks"), static_cast<int64_t>(named.size()));
  EXPECT_LT(count("SELECT COUNT(*) FROM sync_chunks"), first + 2 * 3 * 10);
}

// Rows stored before releases were named by ReleaseManifest::Hash lose their hash and delta
// (schema step 6): the hash is computed again when the release is read, and the next offer is
// still a delta.
TEST_F(PublisherReceiverTest, ARowWithoutItsHashIsNamedAgainWhenRead) {
  PartnerSite& p = AddPartner("shop-h");
  ASSERT_EQ(Only(publisher_->PublishNow({"shop-h"})).state, "activated");
  ASSERT_THAT(main_db_->Exec("UPDATE sync_releases SET payload_hash = '', delta_envelope = ''"),
              IsOk());
  OpenPublisher(16);
  Write(authoring_ + "/pages/about.md", "About, version two.\n");
  ASSERT_EQ(Only(publisher_->PublishNow({"shop-h"})).state, "activated");
  EXPECT_THAT(p.Page("/about.html"), HasSubstr("version two"));
  EXPECT_EQ(PayloadTypeOf(partner_link_.Offered().back()), kReleaseDeltaPayloadType);
  EXPECT_FALSE(HasEvent(*p.receiver->Events(), "refused", ""));
}

TEST_F(PublisherReceiverTest, AReleaseBuiltByAnotherProcessIsReadBeforeTheNextBuild) {
  PartnerSite& p = AddPartner("shop-o");
  ASSERT_EQ(Only(publisher_->PublishNow({"shop-o"})).state, "activated");
  // Another publisher on the same database (a `tieup main publish --in-process` beside the
  // daemon) builds and offers version 2.
  std::unique_ptr<Publisher> first = std::move(publisher_owned_);
  OpenPublisher(16);
  Write(authoring_ + "/pages/about.md", "About, version two.\n");
  ASSERT_EQ(Only(publisher_->PublishNow({"shop-o"})).state, "activated");
  // The first one, which kept version 1 in memory, builds version 3 from version 2.
  publisher_owned_ = std::move(first);
  publisher_ = publisher_owned_.get();
  Write(authoring_ + "/pages/about.md", "About, version three.\n");
  PublishOutcome out = Only(publisher_->PublishNow({"shop-o"}));
  ASSERT_EQ(out.state, "activated") << out.status.ToString();
  EXPECT_EQ(out.version, 3u);
  EXPECT_THAT(p.Page("/about.html"), HasSubstr("version three"));
  EXPECT_EQ(PayloadTypeOf(partner_link_.Offered().back()), kReleaseDeltaPayloadType);
  EXPECT_FALSE(HasEvent(*p.receiver->Events(), "refused", ""));
}

TEST_F(PublisherReceiverTest, ADamagedStoredReleaseMeansAFullBuildAndFullMetadata) {
  PartnerSite& p = AddPartner("shop-s");
  ASSERT_EQ(Only(publisher_->PublishNow({"shop-s"})).state, "activated");
  ASSERT_THAT(main_db_->Exec("UPDATE sync_releases SET snapshot = 'damaged', inputs = 'x'"),
              IsOk());
  OpenPublisher(16);  // main restarts: a running publisher keeps the newest release in memory
  Write(authoring_ + "/pages/about.md", "About, version two.\n");
  ASSERT_EQ(Only(publisher_->PublishNow({"shop-s"})).state, "activated");
  EXPECT_THAT(p.Page("/about.html"), HasSubstr("version two"));
  EXPECT_THAT(p.Page("/index.html"), HasSubstr("Welcome to Shop shop-s"));
  EXPECT_EQ(PayloadTypeOf(partner_link_.Offered().back()), kReleasePayloadType);
  EXPECT_EQ(p.ActiveVersion(), 2u);
  EXPECT_TRUE(HasEvent(*publisher_->Events("shop-s"), "failed", "building the next release"));
  // And the one after is a delta again.
  Write(authoring_ + "/pages/about.md", "About, version three.\n");
  ASSERT_EQ(Only(publisher_->PublishNow({"shop-s"})).state, "activated");
  EXPECT_EQ(PayloadTypeOf(partner_link_.Offered().back()), kReleaseDeltaPayloadType);
}

// What a daemon does after it starts: Prepare reads the partners' newest releases and the
// sources; the next publish is a delta as usual, and a release that does not read back is
// recorded once, not again by the build that follows.
TEST_F(PublisherReceiverTest, PrepareReadsTheNewestReleasesAheadOfTheFirstPublish) {
  PartnerSite& a = AddPartner("shop-pa");
  PartnerSite& b = AddPartner("shop-pb");
  ASSERT_EQ(publisher_->PublishNow().size(), 2u);
  ASSERT_THAT(
      main_db_->Exec("UPDATE sync_releases SET snapshot = 'damaged' WHERE partner = 'shop-pb'"),
      IsOk());
  OpenPublisher(16);
  content::SourceCache sources;
  ASSERT_THAT(publisher_->Prepare(&sources), IsOk());
  Write(authoring_ + "/pages/about.md", "About, version two.\n");
  sources.NewRun();
  for (const PublishOutcome& o : publisher_->PublishNow({}, &sources)) {
    EXPECT_EQ(o.state, "activated") << o.partner;
  }
  EXPECT_THAT(a.Page("/about.html"), HasSubstr("version two"));
  EXPECT_THAT(b.Page("/about.html"), HasSubstr("version two"));
  const std::vector<OfferRequest> offers = partner_link_.Offered();
  ASSERT_EQ(offers.size(), 4u);
  for (size_t i = 2; i < 4; ++i) {
    EXPECT_EQ(PayloadTypeOf(offers[i]),
              offers[i].partner == "shop-pa" ? kReleaseDeltaPayloadType : kReleasePayloadType);
  }
  auto events = publisher_->Events("shop-pb");
  ASSERT_THAT(events, IsOk());
  int unreadable = 0;
  for (const SyncEvent& e : *events) {
    unreadable += e.message.find("building the next release in full") != std::string::npos;
  }
  EXPECT_EQ(unreadable, 1);
  // Prepare with no partnerships or sources to read is fine too.
  EXPECT_THAT(publisher_->Prepare(nullptr), IsOk());
}

TEST_F(PublisherReceiverTest, ForgedOrTamperedDeltasAreRefusedBeforeAnyFetch) {
  PartnerSite& p = AddPartner("shop-t");
  ASSERT_EQ(Only(publisher_->PublishNow({"shop-t"})).state, "activated");
  const auto [base, next] = ActiveAndNextWithAbout(p, "<p>new</p>");
  const int fetches = MainLinkOf(p).fetch_calls.load();

  // A change the signer did not make (the result no longer hashes to result_hash).
  EXPECT_THAT(p.receiver->HandleOffer(SignedDeltaOffer(
                  base, next, [&](content::ReleaseDelta& d) { d.changes.erase("/about.html"); })),
              StatusIs(StatusCode::kDataLoss, HasSubstr("result hash")));
  // Signed by a key the root does not certify.
  Ed25519PrivateKey attacker = Ed25519PrivateKey::Generate(env_);
  OfferRequest forged = SignedDeltaOffer(base, next);
  content::ReleaseDelta d = content::MakeDelta(base, next);
  forged.release = EncodeEnvelope(SignReleaseDelta(attacker, d.Encode()));
  EXPECT_THAT(p.receiver->HandleOffer(forged), StatusIs(StatusCode::kUnauthenticated));
  // For another partner.
  content::ReleaseManifest other_base = base, other_next = next;
  other_base.site = other_next.site = "shop-x";
  OfferRequest other = SignedDeltaOffer(other_base, other_next);
  other.partner = "shop-t";
  EXPECT_THAT(p.receiver->HandleOffer(other), StatusIs(StatusCode::kPermissionDenied));
  // Expired (frozen).
  content::ReleaseManifest frozen = next;
  frozen.created = env_.NowSeconds() - 7200;
  frozen.expires = env_.NowSeconds() - 60;
  EXPECT_THAT(p.receiver->HandleOffer(SignedDeltaOffer(base, frozen)),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("expired")));
  // A base this site never had: not a refusal, main is asked for the full metadata.
  content::ReleaseManifest unknown_base = base;
  unknown_base.files.erase("/about.html");
  EXPECT_THAT(p.receiver->HandleOffer(SignedDeltaOffer(unknown_base, next)),
              StatusIs(StatusCode::kNotFound, HasSubstr("base")));
  EXPECT_EQ(MainLinkOf(p).fetch_calls.load(), fetches);  // nothing fetched for any of them
  auto staged = p.store->StagedVersions(content::Area::kTieup);
  ASSERT_THAT(staged, IsOk());
  EXPECT_EQ(*staged, std::vector<uint64_t>{1});

  // The genuine delta applies; offered again, it is a replay.
  ASSERT_THAT(p.receiver->HandleOffer(SignedDeltaOffer(base, next)), IsOk());
  EXPECT_EQ(p.Page("/about.html"), "<p>new</p>");
  EXPECT_THAT(p.receiver->HandleOffer(SignedDeltaOffer(base, next)),
              StatusIs(StatusCode::kAlreadyExists));
}

// Blobs sent with an offer are checked as fetched ones: bytes that are not the signed hash's are
// refused (nothing staged), blobs the release does not need are ignored, and a partner that
// predates the field gets the offer again without them.
TEST_F(PublisherReceiverTest, BlobsSentWithAnOfferAreCheckedLikeFetchedOnes) {
  PartnerSite& p = AddPartner("shop-t");
  ASSERT_EQ(Only(publisher_->PublishNow({"shop-t"})).state, "activated");
  const auto [base, next] = ActiveAndNextWithAbout(p, "<p>new</p>");
  const std::string hash = next.files.at("/about.html").hash;
  const int fetches = MainLinkOf(p).fetch_calls.load();

  OfferRequest wrong = SignedDeltaOffer(base, next);
  wrong.blobs[hash] = "<p>NEW</p>";  // the stated length, other bytes
  EXPECT_THAT(p.receiver->HandleOffer(wrong),
              StatusIs(StatusCode::kDataLoss, HasSubstr("does not match its hash")));
  OfferRequest short_bytes = SignedDeltaOffer(base, next);
  short_bytes.blobs[hash] = "<p>";
  EXPECT_THAT(p.receiver->HandleOffer(short_bytes),
              StatusIs(StatusCode::kDataLoss, HasSubstr("release states")));
  EXPECT_FALSE(p.store->blobs().Has(hash));
  EXPECT_EQ(p.ActiveVersion(), 1u);

  OfferRequest right = SignedDeltaOffer(base, next);
  right.blobs[hash] = "<p>new</p>";
  right.blobs[std::string(64, 'e')] = "not part of the release";
  ASSERT_THAT(p.receiver->HandleOffer(right), IsOk());
  EXPECT_EQ(p.Page("/about.html"), "<p>new</p>");
  EXPECT_FALSE(p.store->blobs().Has(std::string(64, 'e')));
  EXPECT_EQ(MainLinkOf(p).fetch_calls.load(), fetches);  // nothing fetched for any of them

  // A partner that predates the field: main offers again without the blobs; it fetches them.
  PartnerSite& old = AddPartner("shop-old");
  ASSERT_EQ(Only(publisher_->PublishNow({"shop-old"})).state, "activated");
  const int old_fetches = MainLinkOf(old).fetch_calls.load();
  partner_link_.predates_offer_blobs = true;
  Write(authoring_ + "/pages/about.md", "About, version three.\n");
  ASSERT_EQ(Only(publisher_->PublishNow({"shop-old"})).state, "activated");
  EXPECT_THAT(old.Page("/about.html"), HasSubstr("version three"));
  const std::vector<OfferRequest> offers = partner_link_.Offered();
  ASSERT_GE(offers.size(), 3u);
  EXPECT_FALSE(offers[offers.size() - 2].blobs.empty());
  EXPECT_TRUE(offers.back().blobs.empty());
  EXPECT_GT(MainLinkOf(old).fetch_calls.load(), old_fetches);
}

TEST_F(PublisherReceiverTest, PagesMadeFromTemplatesFollowTheValuesAndAreRepairedFromTheTemplate) {
  PartnerSite& p = AddPartner("shop-v", ApprovalPolicy::kAuto, ApprovalPolicy::kAuto, "Vee");
  ASSERT_EQ(Only(publisher_->PublishNow({"shop-v"})).state, "activated");
  EXPECT_THAT(p.Page("/index.html"), HasSubstr("Welcome to Vee"));
  auto first = p.store->Active(content::Area::kTieup);
  ASSERT_THAT(first, IsOk());
  const content::FileEntry made = (*first)->files.at("/index.html");
  ASSERT_TRUE(made.expanded_from);
  EXPECT_EQ((*first)->variables.at("partner.name"), "Vee");

  // Only the name changes: a new release of the same templates. The partner makes its pages
  // again from the templates it kept, fetching nothing.
  const int fetches = MainLinkOf(p).fetch_calls.load();
  PartnershipChanges rename;
  rename.name = "Vee & Co";
  ASSERT_THAT(publisher_->UpdatePartnership("shop-v", rename, "ann"), IsOk());
  ASSERT_EQ(Only(publisher_->PublishNow({"shop-v"})).state, "activated");
  EXPECT_EQ(p.ActiveVersion(), 2u);
  EXPECT_THAT(p.Page("/index.html"), HasSubstr("Welcome to Vee &amp; Co"));
  EXPECT_EQ(MainLinkOf(p).fetch_calls.load(), fetches);
  EXPECT_TRUE(HasEvent(*publisher_->Events("shop-v"), "built", "the partner's values changed"));

  // Pruning keeps the templates of the releases it keeps.
  ASSERT_THAT(p.store->Prune(), IsOk());
  auto active = p.store->Active(content::Area::kTieup);
  ASSERT_THAT(active, IsOk());
  const content::FileEntry now = (*active)->files.at("/index.html");
  ASSERT_TRUE(now.expanded_from);
  EXPECT_TRUE(p.store->blobs().Has(now.expanded_from->hash));

  // The made page is lost: made again from the template, not fetched (main has only the
  // template). Then template and page are both lost: the template is fetched, the page made.
  ASSERT_THAT(p.store->blobs().Remove(now.hash), IsOk());
  auto missing = p.receiver->FindMissingBlobs();
  ASSERT_THAT(missing, IsOk());
  ASSERT_THAT(*missing, SizeIs(1));
  auto repaired = p.receiver->RepairBlobs(*missing);
  ASSERT_THAT(repaired, IsOk());
  EXPECT_EQ(*repaired, 1u);
  EXPECT_EQ(MainLinkOf(p).fetch_calls.load(), fetches);
  EXPECT_THAT(p.Page("/index.html"), HasSubstr("Welcome to Vee &amp; Co"));
  ASSERT_THAT(p.store->blobs().Remove(now.hash), IsOk());
  ASSERT_THAT(p.store->blobs().Remove(now.expanded_from->hash), IsOk());
  auto polled = p.receiver->Poll();
  ASSERT_THAT(polled, IsOk());
  EXPECT_EQ(polled->repaired, 2u);  // the template fetched, the page made
  EXPECT_EQ(polled->unrepaired, 0u);
  EXPECT_EQ(MainLinkOf(p).fetch_calls.load(), fetches + 1);
  EXPECT_THAT(p.Page("/index.html"), HasSubstr("Welcome to Vee &amp; Co"));
}

TEST_F(PublisherReceiverTest, OnlyMissingBlobsAreFetched) {
  for (int i = 0; i < 40; ++i) {
    Write(authoring_ + "/pages/page" + std::to_string(i) + ".md",
          "Page " + std::to_string(i) + " " + std::string(500, 'x') + "\n");
  }
  PartnerSite& p = AddPartner("shop-o");
  ASSERT_EQ(Only(publisher_->PublishNow({"shop-o"})).state, "activated");
  const uint64_t first_bytes = MainLinkOf(p).fetched_bytes.load();
  EXPECT_GT(first_bytes, 40u * 500);

  Write(authoring_ + "/pages/page7.md", "Page seven, rewritten.\n");
  MainLinkOf(p).fetched_bytes = 0;
  MainLinkOf(p).fetched_blobs = 0;
  const PublishOutcome o = Only(publisher_->PublishNow({"shop-o"}));
  ASSERT_EQ(o.state, "activated") << o.status.ToString();
  const std::string page = p.Page("/page7.html");
  EXPECT_THAT(page, HasSubstr("Page seven, rewritten."));
  // The one blob it lacked came with the offer (small enough): nothing was fetched separately.
  EXPECT_EQ(partner_link_.Offered().back().blobs.size(), 1u);
  EXPECT_EQ(MainLinkOf(p).fetched_blobs.load(), 0u);
  auto updates = publisher_->Updates("shop-o");
  ASSERT_THAT(updates, IsOk());
  EXPECT_EQ((*updates)[0].fetched_bytes, page.size());
}

TEST_F(PublisherReceiverTest, BlobsAreFetchedInBatches) {
  for (int i = 0; i < 10; ++i) {
    Write(authoring_ + "/pages/p" + std::to_string(i) + ".md", "Page " + std::to_string(i));
  }
  PartnerSite& p = AddPartner("shop-batch");
  ASSERT_EQ(Only(publisher_->PublishNow({"shop-batch"})).state, "activated");
  // 13 files, default batch of 256: one request.
  EXPECT_EQ(MainLinkOf(p).fetch_calls.load(), 1);
}

TEST_F(PublisherReceiverTest, MainServesAPartnerOnlyItsOwnBlobs) {
  Write(dir_.Sub("overrides-b/pages/only-b.html"), "<p>Beta's own page</p>\n");
  AddPartner("shop-a", ApprovalPolicy::kAuto, ApprovalPolicy::kAuto, "Alpha");
  AddPartner("shop-b", ApprovalPolicy::kAuto, ApprovalPolicy::kAuto, "Beta",
             [&](Partnership& x) { x.overrides_dir = dir_.Sub("overrides-b"); });
  ASSERT_THAT(publisher_->BuildFor("shop-a"), IsOk());
  ASSERT_THAT(publisher_->BuildFor("shop-b"), IsOk());
  auto updates = publisher_->LatestFor("shop-b");
  ASSERT_THAT(updates, IsOk());
  auto payload = ParseEnvelope(updates->release);
  ASSERT_THAT(payload, IsOk());
  auto mb = content::ReleaseManifest::Parse(payload->payload);
  ASSERT_THAT(mb, IsOk());
  const std::string b_index = mb->files.at("/only-b.html").hash;
  EXPECT_THAT(publisher_->ServeBlobs("shop-b", {b_index}), IsOk());
  EXPECT_THAT(publisher_->ServeBlobs("shop-a", {b_index}),
              StatusIs(StatusCode::kPermissionDenied, HasSubstr("not part of any release")));
  // The index page is one template both partners put their names in: both may fetch it.
  ASSERT_TRUE(mb->files.at("/index.html").vars);
  EXPECT_THAT(publisher_->ServeBlobs("shop-a", {mb->files.at("/index.html").hash}), IsOk());
  auto stray = main_blobs_->Put("main's private draft");
  ASSERT_THAT(stray, IsOk());
  EXPECT_THAT(publisher_->ServeBlobs("shop-a", {*stray}), StatusIs(StatusCode::kPermissionDenied));
  EXPECT_THAT(publisher_->ServeBlobs("nobody", {b_index}), StatusIs(StatusCode::kNotFound));
}

TEST_F(PublisherReceiverTest, RevokedPartnerGetsNothing) {
  PartnerSite& p = AddPartner("shop-z");
  ASSERT_EQ(Only(publisher_->PublishNow({"shop-z"})).state, "activated");
  ASSERT_THAT(publisher_->RevokePartnership("shop-z"), IsOk());
  EXPECT_THAT(Only(publisher_->PublishNow({"shop-z"})).status,
              StatusIs(StatusCode::kPermissionDenied, HasSubstr("revoked")));
  EXPECT_THAT(publisher_->LatestFor("shop-z"), StatusIs(StatusCode::kPermissionDenied));
  EXPECT_THAT(MainLinkOf(p).FetchBlobs({std::string(64, 'a')}),
              StatusIs(StatusCode::kPermissionDenied));
  EXPECT_THAT(publisher_->PublishNow(), IsEmpty());  // "all" skips revoked partners
  EXPECT_THAT(publisher_->RevokePartnership("nobody"), StatusIs(StatusCode::kNotFound));
  auto list = publisher_->ListPartnerships();
  ASSERT_THAT(list, IsOk());
  ASSERT_THAT(*list, SizeIs(1));
  EXPECT_TRUE((*list)[0].revoked);
}

TEST_F(PublisherReceiverTest, PartnershipsAreValidated) {
  Partnership p = MakePartnership("ok", ApprovalPolicy::kAuto, "OK");
  ASSERT_THAT(publisher_->AddPartnership(p), IsOk());
  EXPECT_THAT(publisher_->AddPartnership(p), StatusIs(StatusCode::kAlreadyExists));
  Partnership bad = MakePartnership("../x", ApprovalPolicy::kAuto, "X");
  EXPECT_THAT(publisher_->AddPartnership(bad), StatusIs(StatusCode::kInvalidArgument));
  bad = MakePartnership("x", ApprovalPolicy::kAuto, "X");
  bad.schedule = "0 61 * * *";
  EXPECT_THAT(publisher_->AddPartnership(bad),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("'hour' value 61")));
  bad.schedule = "";
  bad.retry = "often";
  EXPECT_THAT(publisher_->AddPartnership(bad), StatusIs(StatusCode::kInvalidArgument));
  bad.retry = "manual";
  bad.public_url = "ftp://x";
  EXPECT_THAT(publisher_->AddPartnership(bad), StatusIs(StatusCode::kInvalidArgument));
  bad.public_url = "https://x.example";
  bad.overrides_dir = dir_.Sub("missing");
  EXPECT_THAT(publisher_->AddPartnership(bad), StatusIs(StatusCode::kNotFound));
  bad.overrides_dir = "";
  bad.variables["bad name!"] = "1";
  EXPECT_THAT(publisher_->AddPartnership(bad), StatusIs(StatusCode::kInvalidArgument));
}

// A crash (here: an I/O failure) at each content-store step of an update, then a retry that
// completes. The partner serves the old release whole in the meantime.
TEST_F(PublisherReceiverTest, FailureAtEachStepThenRetryCompletes) {
  // Step k of the second update fails, for every k until the update has fewer steps than k.
  int k = 0;
  for (;; ++k) {
    ASSERT_LT(k, 50);
    const std::string id = "crash-" + std::to_string(k);
    PartnerSite& p = AddPartner(id);
    ASSERT_EQ(Only(publisher_->PublishNow({id})).state, "activated");
    Write(authoring_ + "/pages/about.md", "About, round " + std::to_string(k) + "\n");
    Write(authoring_ + "/pages/new" + std::to_string(k) + ".md", "New page " + std::to_string(k));
    p.fail_at = p.mutator_calls.load() + k;
    const PublishOutcome failed = Only(publisher_->PublishNow({id}));
    if (failed.status.ok()) {
      EXPECT_EQ(p.ActiveVersion(), 2u);
      break;  // k is past the last step
    }
    EXPECT_THAT(failed.status, StatusIs(StatusCode::kIOError)) << "step " << k;
    EXPECT_EQ(p.ActiveVersion(), 1u) << "step " << k;  // the old release, whole
    EXPECT_THAT(p.Page("/about.html"), ::testing::Not(HasSubstr("round " + std::to_string(k))));
    // Re-open the store, as after a restart.
    content::ContentStore::Options so;
    so.site_id = id;
    auto reopened = content::ContentStore::Open(env_, p.dir, so);
    ASSERT_THAT(reopened, IsOk());
    p.store = std::move(*reopened);
    env_.AdvanceSeconds(3600);
    const auto retried = publisher_->RunDue(env_.NowSeconds());
    bool found = false;
    for (const auto& o : retried) {
      if (o.partner != id) continue;
      found = true;
      EXPECT_THAT(o.status, IsOk()) << "step " << k;
      EXPECT_EQ(o.state, "activated") << "step " << k;
    }
    EXPECT_TRUE(found) << "step " << k;
    EXPECT_EQ(p.ActiveVersion(), 2u) << "step " << k;
    EXPECT_THAT(p.Page("/about.html"), HasSubstr("round " + std::to_string(k)));
  }
  // read active, scan blobs, one batch of blob puts, stage, activate.
  EXPECT_GE(k, 5);
}

TEST_F(PublisherReceiverTest, FetchInterruptedMidwayResumesWithTheMissingBlobsOnly) {
  for (int i = 0; i < 6; ++i) {
    Write(authoring_ + "/pages/p" + std::to_string(i) + ".md", "Page " + std::to_string(i));
  }
  // A receiver fetching one blob per request.
  Partnership pp = MakePartnership("shop-i", ApprovalPolicy::kAuto, "I");
  ASSERT_THAT(publisher_->AddPartnership(pp), IsOk());
  PartnerSite& p = CreatePartnerSite("shop-i", ApprovalPolicy::kAuto, nullptr,
                                     [](ReceiverOptions& ro) { ro.fetch_batch_count = 1; });
  testing::InProcessMainLink& main = MainLinkOf(p);
  main.fail_fetch_call = 4;
  EXPECT_THAT(Only(publisher_->PublishNow({"shop-i"})).status, StatusIs(StatusCode::kUnavailable));
  EXPECT_EQ(main.fetched_blobs.load(), 3u);
  EXPECT_EQ(p.ActiveVersion(), 0u);
  main.fail_fetch_call = -1;
  main.fetch_calls = 0;
  EXPECT_EQ(Only(publisher_->PublishNow({"shop-i"})).state, "activated");
  // 10 files in all (3 main pages... 6 + index + about + css + the page shell); 3 were already
  // stored.
  EXPECT_EQ(main.fetched_blobs.load(), 10u);
  EXPECT_EQ(main.fetch_calls.load(), 7);
}

TEST_F(PublisherReceiverTest, StagedButNotActiveVersionIsCompletedOnReoffer) {
  PartnerSite& p = AddPartner("shop-c");
  // Fail the activation step (the last mutator call of the update).
  PartnerSite& probe = AddPartner("probe");
  ASSERT_EQ(Only(publisher_->PublishNow({"probe"})).state, "activated");
  p.fail_at = probe.mutator_calls.load() - 1;
  EXPECT_FALSE(Only(publisher_->PublishNow({"shop-c"})).status.ok());
  auto staged = p.store->StagedVersions(content::Area::kTieup);
  ASSERT_THAT(staged, IsOk());
  EXPECT_THAT(*staged, ::testing::ElementsAre(1u));
  EXPECT_EQ(p.ActiveVersion(), 0u);
  // The same version again is not a replay: it is staged, not active.
  const PublishOutcome o = Only(publisher_->PublishNow({"shop-c"}));
  ASSERT_THAT(o.status, IsOk());
  EXPECT_EQ(o.state, "activated");
  EXPECT_EQ(p.ActiveVersion(), 1u);
}

TEST_F(PublisherReceiverTest, ActivationCommandFailureIsRetried) {
  PartnerSite& p = AddPartner("shop-ac", ApprovalPolicy::kManager, ApprovalPolicy::kManager);
  const PublishOutcome o = Only(publisher_->PublishNow({"shop-ac"}));
  partner_link_.fail_activate = true;
  ASSERT_THAT(p.receiver->Approve(o.update_id), IsOk());  // main got the approval
  EXPECT_EQ(p.ActiveVersion(), 0u);
  auto report = publisher_->StatusReport();
  ASSERT_THAT(report, IsOk());
  EXPECT_THAT((*report)[0].summary, HasSubstr("activation"));
  partner_link_.fail_activate = false;
  env_.AdvanceSeconds(3600);
  const PublishOutcome retried = Only(publisher_->RunDue(env_.NowSeconds()));
  EXPECT_EQ(retried.state, "activated");
  EXPECT_EQ(p.ActiveVersion(), 1u);
}

TEST_F(PublisherReceiverTest, ActivationCommandNeedsApproval) {
  PartnerSite& p = AddPartner("shop-ap", ApprovalPolicy::kManager, ApprovalPolicy::kManager);
  const PublishOutcome o = Only(publisher_->PublishNow({"shop-ap"}));
  EXPECT_THAT(p.receiver->HandleActivate({o.update_id, 1}),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("approved")));
  EXPECT_THAT(p.receiver->HandleActivate({"u999", 1}), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(p.receiver->HandleActivate({o.update_id, 2}), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(p.ActiveVersion(), 0u);
}

TEST_F(PublisherReceiverTest, ApprovalWhileMainIsDownIsSentLater) {
  PartnerSite& p = AddPartner("shop-w", ApprovalPolicy::kManager, ApprovalPolicy::kManager);
  const PublishOutcome o = Only(publisher_->PublishNow({"shop-w"}));
  MainLinkOf(p).down = true;
  EXPECT_THAT(p.receiver->Approve(o.update_id),
              StatusIs(StatusCode::kUnavailable, HasSubstr("sent again")));
  EXPECT_EQ(p.ActiveVersion(), 0u);
  MainLinkOf(p).down = false;
  ASSERT_THAT(p.receiver->ResendResponses(), IsOk());
  EXPECT_EQ(p.ActiveVersion(), 1u);
}

TEST_F(PublisherReceiverTest, NewerVersionSupersedesAPendingOne) {
  PartnerSite& p = AddPartner("shop-p", ApprovalPolicy::kManager, ApprovalPolicy::kManager);
  const PublishOutcome first = Only(publisher_->PublishNow({"shop-p"}));
  Write(authoring_ + "/pages/about.md", "About, newer.\n");
  const PublishOutcome second = Only(publisher_->PublishNow({"shop-p"}));
  EXPECT_EQ(second.version, 2u);
  EXPECT_EQ(second.state, "pending_approval");
  auto pending = p.receiver->Pending();
  ASSERT_THAT(pending, IsOk());
  ASSERT_THAT(*pending, SizeIs(1));
  EXPECT_EQ((*pending)[0].update_id, second.update_id);
  EXPECT_THAT(p.receiver->Approve(first.update_id), StatusIs(StatusCode::kFailedPrecondition));
  ASSERT_THAT(p.receiver->Approve(second.update_id), IsOk());
  EXPECT_EQ(p.ActiveVersion(), 2u);
}

TEST_F(PublisherReceiverTest, RollbackRestoresThePreviousReleaseAndRefusesItsReoffer) {
  PartnerSite& p = AddPartner("shop-rb");
  ASSERT_EQ(Only(publisher_->PublishNow({"shop-rb"})).state, "activated");
  const std::string v1_about = p.Page("/about.html");
  Write(authoring_ + "/pages/about.md", "About, bad edit.\n");
  ASSERT_EQ(Only(publisher_->PublishNow({"shop-rb"})).state, "activated");
  auto back = p.receiver->Rollback();
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(*back, 1u);
  EXPECT_EQ(p.Page("/about.html"), v1_about);
  auto report = publisher_->StatusReport();
  ASSERT_THAT(report, IsOk());
  EXPECT_EQ((*report)[0].active_version, 1u);  // main was told
  // Main offers version 2 again: refused, recorded on both sides.
  const PublishOutcome o = Only(publisher_->PublishNow({"shop-rb"}));
  EXPECT_THAT(o.status, StatusIs(StatusCode::kFailedPrecondition, HasSubstr("rolled back")));
  EXPECT_EQ(p.ActiveVersion(), 1u);
  // A newer version is accepted.
  Write(authoring_ + "/pages/about.md", "About, fixed.\n");
  EXPECT_EQ(Only(publisher_->PublishNow({"shop-rb"})).state, "activated");
  EXPECT_EQ(p.ActiveVersion(), 3u);
  EXPECT_THAT(p.receiver->Rollback(), IsOk());
}

// A release the manager rejected is kept on disk but was never live: a rollback skips it and
// brings back the last version that was (found by the partner console's browser test).
TEST_F(PublisherReceiverTest, RollbackNeverMakesARejectedReleaseLive) {
  PartnerSite& p = AddPartner("shop-rr", ApprovalPolicy::kManager, ApprovalPolicy::kManager);
  const PublishOutcome first = Only(publisher_->PublishNow({"shop-rr"}));
  ASSERT_THAT(p.receiver->Approve(first.update_id), IsOk());
  ASSERT_EQ(p.ActiveVersion(), 1u);
  const std::string v1_about = p.Page("/about.html");
  Write(authoring_ + "/pages/about.md", "About, wrong prices.\n");
  const PublishOutcome second = Only(publisher_->PublishNow({"shop-rr"}));
  ASSERT_EQ(second.version, 2u);
  ASSERT_THAT(p.receiver->Reject(second.update_id, "wrong prices"), IsOk());
  Write(authoring_ + "/pages/about.md", "About, right prices.\n");
  const PublishOutcome third = Only(publisher_->PublishNow({"shop-rr"}));
  ASSERT_GE(third.version, 3u);
  ASSERT_THAT(p.receiver->Approve(third.update_id), IsOk());
  ASSERT_EQ(p.ActiveVersion(), third.version);
  auto back = p.receiver->Rollback();
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(*back, 1u);
  EXPECT_EQ(p.Page("/about.html"), v1_about);
  // Nothing older was live: a second rollback is refused, and the live version stays.
  EXPECT_THAT(p.receiver->Rollback(),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("was live before")));
  EXPECT_EQ(p.ActiveVersion(), 1u);
}

TEST_F(PublisherReceiverTest, PullModeAutoAndManager) {
  auto pull = [](Partnership& x) { x.sync_url = ""; };
  PartnerSite& a = AddPartner("pull-a", ApprovalPolicy::kAuto, ApprovalPolicy::kAuto, "", pull);
  PartnerSite& m = AddPartner("pull-m", ApprovalPolicy::kAuto, ApprovalPolicy::kManager, "", pull);
  auto outcomes = publisher_->PublishNow();
  ASSERT_THAT(outcomes, SizeIs(2));
  EXPECT_EQ(outcomes[0].state, "pull");
  EXPECT_EQ(partner_link_.offers.load(), 0);

  auto ra = a.receiver->Poll();
  ASSERT_THAT(ra, IsOk());
  EXPECT_EQ(ra->state, "activated");
  EXPECT_EQ(a.ActiveVersion(), 1u);
  auto again = a.receiver->Poll();
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->state, "up_to_date");

  auto rm = m.receiver->Poll();
  ASSERT_THAT(rm, IsOk());
  EXPECT_EQ(rm->state, "pending");
  auto rm2 = m.receiver->Poll();  // polling again does not duplicate the pending update
  ASSERT_THAT(rm2, IsOk());
  EXPECT_EQ(rm2->update_id, rm->update_id);
  ASSERT_THAT(m.receiver->Approve(rm->update_id), IsOk());
  EXPECT_EQ(m.ActiveVersion(), 1u);  // main answered "activate" in pull mode

  auto report = publisher_->StatusReport();
  ASSERT_THAT(report, IsOk());
  EXPECT_EQ((*report)[0].active_version, 1u);
  EXPECT_EQ((*report)[1].active_version, 1u);

  // Main unreachable: polling fails, the active release stays.
  MainLinkOf(a).down = true;
  EXPECT_THAT(a.receiver->Poll(), StatusIs(StatusCode::kUnavailable));
  EXPECT_EQ(a.ActiveVersion(), 1u);
}

TEST_F(PublisherReceiverTest, PullModeARejectedVersionIsNotPulledAgainUntilRepublished) {
  auto pull = [](Partnership& x) { x.sync_url = ""; };
  PartnerSite& m =
      AddPartner("pull-r", ApprovalPolicy::kManager, ApprovalPolicy::kManager, "", pull);
  auto first = m.receiver->Poll();
  ASSERT_THAT(first, IsOk());
  ASSERT_EQ(first->state, "pending");
  ASSERT_THAT(m.receiver->Reject(first->update_id, "wrong prices"), IsOk());
  // Polling again brings nothing: the manager's rejection stands.
  for (int i = 0; i < 3; ++i) {
    auto again = m.receiver->Poll();
    ASSERT_THAT(again, IsOk());
    EXPECT_EQ(again->state, "up_to_date");
  }
  auto pending = m.receiver->Pending();
  ASSERT_THAT(pending, IsOk());
  EXPECT_THAT(*pending, IsEmpty());
  // An automatic publish changes nothing; the main manager's does: the next poll gets it.
  EXPECT_EQ(Only(publisher_->PublishNow({"pull-r"}, nullptr, Publisher::Trigger::kAutomatic)).state,
            "rejected");
  EXPECT_EQ(m.receiver->Poll()->state, "up_to_date");
  EXPECT_EQ(Only(publisher_->PublishNow({"pull-r"})).state, "pull");
  auto offered = m.receiver->Poll();
  ASSERT_THAT(offered, IsOk());
  EXPECT_EQ(offered->state, "pending");
  EXPECT_NE(offered->update_id, first->update_id);
  ASSERT_THAT(m.receiver->Approve(offered->update_id), IsOk());
  EXPECT_EQ(m.ActiveVersion(), 1u);
}

TEST_F(PublisherReceiverTest, PullModeGetsDeltasAndNothingWhenUpToDate) {
  auto pull = [](Partnership& x) { x.sync_url = ""; };
  PartnerSite& a = AddPartner("pull-d", ApprovalPolicy::kAuto, ApprovalPolicy::kAuto, "", pull);
  ASSERT_EQ(a.receiver->Poll()->state, "activated");
  auto updates_before = publisher_->Updates("pull-d");
  ASSERT_THAT(updates_before, IsOk());

  // Up to date: main signs, sends and records nothing.
  auto none = publisher_->LatestFor("pull-d", 1);
  ASSERT_THAT(none, IsOk());
  EXPECT_TRUE(none->release.empty());
  EXPECT_EQ(none->update_id, (*updates_before)[0].update_id);
  ASSERT_EQ(a.receiver->Poll()->state, "up_to_date");
  EXPECT_EQ(publisher_->Updates("pull-d")->size(), updates_before->size());

  // A change: the poll carries a delta from the version the partner has.
  Write(authoring_ + "/pages/about.md", "About, version two.\n");
  ASSERT_EQ(Only(publisher_->PublishNow({"pull-d"})).state, "pull");
  auto delta = publisher_->LatestFor("pull-d", 1);
  ASSERT_THAT(delta, IsOk());
  EXPECT_EQ(PayloadTypeOf(*delta), kReleaseDeltaPayloadType);
  EXPECT_EQ(PayloadTypeOf(*publisher_->LatestFor("pull-d", 0)), kReleasePayloadType);
  ASSERT_EQ(a.receiver->Poll()->state, "activated");
  EXPECT_THAT(a.Page("/about.html"), HasSubstr("version two"));

  // A partner whose copy of its base differs gets the full metadata on the same poll.
  auto bytes = env_.ReadFile(a.dir + "/releases/tieup/2.json");
  ASSERT_THAT(bytes, IsOk());
  auto changed = content::ReleaseManifest::Parse(*bytes);  // its content, not only its bytes
  ASSERT_THAT(changed, IsOk());
  changed->created += 1;
  Write(a.dir + "/releases/tieup/2.json", changed->Encode());
  RestartPartner(a);  // a running partner holds the release it verified in memory
  Write(authoring_ + "/pages/about.md", "About, version three.\n");
  ASSERT_EQ(Only(publisher_->PublishNow({"pull-d"})).state, "pull");
  auto polled = a.receiver->Poll();
  ASSERT_THAT(polled, IsOk());
  EXPECT_EQ(polled->state, "activated");
  EXPECT_THAT(a.Page("/about.html"), HasSubstr("version three"));
  EXPECT_TRUE(HasEvent(*a.receiver->Events(), "offered", "asking main for the full metadata"));
}

TEST_F(PublisherReceiverTest, TemplateAndLinkKinds) {
  Write(dir_.Sub("tpl/pages/index.md"), "# {{partner.name}}'s own home\n");
  Write(dir_.Sub("tpl/pages/menu.md"), "Our menu\n");
  PartnerSite& t = AddPartner("tpl", ApprovalPolicy::kAuto, ApprovalPolicy::kAuto, "Tea House",
                              [&](Partnership& x) {
                                x.kind = PartnershipKind::kTemplate;
                                x.overrides_dir = dir_.Sub("tpl");
                              });
  PartnerSite& l = AddPartner("lnk", ApprovalPolicy::kAuto, ApprovalPolicy::kAuto, "",
                              [](Partnership& x) { x.kind = PartnershipKind::kLink; });
  for (const auto& o : publisher_->PublishNow()) ASSERT_THAT(o.status, IsOk()) << o.partner;

  auto mt = t.store->Active(content::Area::kTieup);
  ASSERT_THAT(mt, IsOk());
  EXPECT_TRUE((*mt)->files.contains("/assets/site.css"));
  EXPECT_TRUE((*mt)->files.contains("/menu.html"));
  EXPECT_FALSE((*mt)->files.contains("/about.html"));  // main's own page is not inherited
  EXPECT_THAT(t.Page("/index.html"), HasSubstr("Tea House's own home"));
  EXPECT_THAT(t.Page("/index.html"), HasSubstr("<html><title>"));  // main's layout

  auto ml = l.store->Active(content::Area::kTieup);
  ASSERT_THAT(ml, IsOk());
  const auto& about = (*ml)->files.at("/about.html");
  EXPECT_EQ(about.method, content::UpdateMethod::kLink);
  EXPECT_EQ(about.link_url, "https://main.example/about.html");
  // An asset the layout does not name is a link too (sync/link_release.h).
  EXPECT_EQ((*ml)->files.at("/assets/site.css").method, content::UpdateMethod::kLink);

  // A layout change flows to the template partner.
  Write(authoring_ + "/layouts/default.mustache", "<html><b>new layout</b>{{{content}}}</html>");
  for (const auto& o : publisher_->PublishNow({"tpl"})) ASSERT_THAT(o.status, IsOk());
  EXPECT_THAT(t.Page("/menu.html"), HasSubstr("new layout"));
}

// A link that holds every offer until `limit` are in flight (or all have started), recording
// the most ever in flight.
class GatedLink : public PartnerLink {
 public:
  GatedLink(int limit, int total) : limit_(limit), total_(total) {}
  Result<OfferReply> Offer(const std::string&, const OfferRequest& offer) override {
    std::unique_lock<std::mutex> lock(mu_);
    ++in_flight_;
    ++started_;
    max_in_flight_ = std::max(max_in_flight_, in_flight_);
    cv_.notify_all();
    cv_.wait(lock, [&] { return in_flight_ >= limit_ || started_ == total_; });
    --in_flight_;
    OfferReply r;
    r.update_id = offer.update_id;
    r.version = offer.version;
    r.active_version = offer.version;
    return r;
  }
  Result<uint64_t> Activate(const std::string&, const ActivateRequest&) override {
    return Status::Unimplemented("test");
  }
  Result<PartnerSyncStatus> GetStatus(const std::string&) override {
    return Status::Unimplemented("test");
  }
  int max_in_flight() {
    std::lock_guard<std::mutex> lock(mu_);
    return max_in_flight_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  const int limit_;
  const int total_;
  int in_flight_ = 0;
  int started_ = 0;
  int max_in_flight_ = 0;
};

TEST_F(PublisherReceiverTest, ConcurrencyIsBoundedAcross50Partners) {
  GatedLink gated(16, 50);
  OpenPublisher(16, &gated);
  for (int i = 0; i < 50; ++i) {
    ASSERT_THAT(publisher_->AddPartnership(MakePartnership(
                    "p" + std::to_string(i), ApprovalPolicy::kAuto, "P" + std::to_string(i))),
                IsOk());
  }
  auto outcomes = publisher_->PublishNow();
  ASSERT_THAT(outcomes, SizeIs(50));
  for (const auto& o : outcomes) {
    EXPECT_THAT(o.status, IsOk()) << o.partner;
    EXPECT_EQ(o.state, "activated") << o.partner;
  }
  EXPECT_EQ(gated.max_in_flight(), 16);
  auto report = publisher_->StatusReport();
  ASSERT_THAT(report, IsOk());
  for (const auto& r : *report) EXPECT_EQ(r.active_version, 1u) << r.partnership.id;
}

TEST_F(PublisherReceiverTest, ReceiverRefusesBadSetup) {
  testing::InProcessMainLink link(publisher_, "x");
  ReceiverOptions ro;
  ro.site_id = "x";
  auto mutator = [](const std::function<Status(content::ContentStore&)>&) { return Status(); };
  EXPECT_THAT(Receiver::Open(env_, *main_db_, mutator, link, ro),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("not pinned")));
  ro.pinned_root = release_key_.public_key();  // not the key that signed the root
  ro.root_envelope = root_envelope_;
  EXPECT_THAT(Receiver::Open(env_, *main_db_, mutator, link, ro),
              StatusIs(StatusCode::kUnauthenticated));
}

}  // namespace
}  // namespace tieup::sync
