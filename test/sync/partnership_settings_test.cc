// Changing a partnership after `partner add` (Publisher::UpdatePartnership) and suspending it
// (SuspendPartnership / ResumePartnership), with the real Publisher, Receiver, SQLite files and
// content stores of the sync fixture (issue 15 items 4 and 5).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sync/partnership_terms.h"
#include "sync/publisher.h"
#include "sync/receiver.h"
#include "sync/schedule.h"
#include "sync/sync_fixture.h"

namespace tieup::sync {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::PartnerSite;
using ::testing::SizeIs;
using testing::SyncFixture;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;

class PartnershipSettingsTest : public SyncFixture {
 protected:
  const PublishOutcome& Only(const std::vector<PublishOutcome>& v) {
    EXPECT_THAT(v, SizeIs(1));
    return v.at(0);
  }
  PartnerStatusReport StatusOf(const std::string& id) {
    auto reports = publisher_->StatusReport();
    EXPECT_THAT(reports, IsOk());
    for (const PartnerStatusReport& r : *reports) {
      if (r.partnership.id == id) return r;
    }
    ADD_FAILURE() << "no status for " << id;
    return {};
  }
  std::vector<std::string> Changed(const std::string& id, const PartnershipChanges& c) {
    auto changed = publisher_->UpdatePartnership(id, c, "tester@main.example");
    EXPECT_THAT(changed, IsOk());
    return changed.ok() ? *changed : std::vector<std::string>{};
  }
  // The fields UpdatePartnership refused for `c`, each with its message.
  std::map<std::string, std::string> Refused(const std::string& id, const PartnershipChanges& c,
                                             StatusCode code = StatusCode::kInvalidArgument) {
    std::vector<PartnershipFieldError> errors;
    auto changed = publisher_->UpdatePartnership(id, c, "tester", &errors);
    EXPECT_THAT(changed, StatusIs(code));
    std::map<std::string, std::string> out;
    for (const auto& e : errors) out[e.field] += e.message;
    return out;
  }
};

TEST_F(PartnershipSettingsTest, SettingsChangeAndEachChangeIsRecordedWithWhoAndWhat) {
  AddPartner("shop-a");
  PartnershipChanges c;
  c.schedule = "@every 1h";
  c.approval = "manager";
  c.retry = "backoff:10s..10m,max=5";
  c.set_variables["greeting"] = "Konnichiwa";
  c.sync_url = "";  // pull mode from now on
  EXPECT_THAT(Changed("shop-a", c),
              ElementsAre("sync URL: 'https://shop-a.example:8443' -> (pulls)",
                          "approval: auto -> manager", "schedule: (manual) -> '@every 1h'",
                          "retry: 'backoff:30s..5m' -> 'backoff:10s..10m,max=5'",
                          "variables: (none) -> greeting=Konnichiwa"));
  auto p = publisher_->GetPartnership("shop-a");
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->schedule, "@every 1h");
  EXPECT_EQ(p->approval, ApprovalPolicy::kManager);
  EXPECT_EQ(p->retry, "backoff:10s..10m,max=5");
  EXPECT_EQ(p->sync_url, "");
  EXPECT_EQ(p->variables.at("greeting"), "Konnichiwa");
  // The new schedule counts from now.
  EXPECT_EQ(StatusOf("shop-a").next_attempt,
            Schedule::Parse("@every 1h")->NextAfter(env_.NowSeconds()));
  auto events = publisher_->Events("shop-a");
  ASSERT_THAT(events, IsOk());
  EXPECT_TRUE(HasEvent(*events, "changed",
                       "settings changed by tester@main.example: sync URL: "
                       "'https://shop-a.example:8443' -> (pulls); approval: auto -> manager; "
                       "schedule: (manual) -> '@every 1h'"));
  EXPECT_TRUE(HasEvent(*events, "changed", "the next publish builds the partner's release again"));

  // The same values again: nothing changes, nothing is recorded.
  const size_t recorded = events->size();
  EXPECT_THAT(Changed("shop-a", c), IsEmpty());
  EXPECT_THAT(*publisher_->Events("shop-a"), SizeIs(recorded));

  // A variable removed; the schedule back to manual only.
  PartnershipChanges back;
  back.unset_variables = {"greeting"};
  back.schedule = "";
  EXPECT_THAT(Changed("shop-a", back), ElementsAre("schedule: '@every 1h' -> (manual)",
                                                   "variables: greeting=Konnichiwa -> (none)"));
  EXPECT_EQ(StatusOf("shop-a").next_attempt, 0);
}

TEST_F(PartnershipSettingsTest, BadValuesAreRefusedFieldByFieldAndNothingChanges) {
  AddPartner("shop-a");
  PartnershipChanges c;
  c.schedule = "0 61 * * *";
  c.retry = "often";
  c.kind = "mirror";
  c.approval = "maybe";
  c.emergency_edit = "sometimes";
  c.public_url = "ftp://x";
  c.sync_url = "shop-a.example";
  c.name = "  ";
  c.set_variables["bad name!"] = "1";
  c.unset_variables = {"missing"};
  auto refused = Refused("shop-a", c);
  EXPECT_THAT(refused["schedule"], HasSubstr("'hour' value 61"));
  EXPECT_THAT(refused["retry"], HasSubstr("often"));
  EXPECT_THAT(refused["kind"], HasSubstr("mirror"));
  EXPECT_THAT(refused["approval"], HasSubstr("maybe"));
  EXPECT_THAT(refused["emergency_edit"], HasSubstr("sometimes"));
  EXPECT_THAT(refused["public_url"], HasSubstr("must start with http:// or https://"));
  EXPECT_THAT(refused["sync_url"], HasSubstr("must start with https://"));
  EXPECT_THAT(refused["name"], HasSubstr("must not be empty"));
  EXPECT_THAT(refused["variables"], HasSubstr("'bad name!'"));
  EXPECT_THAT(refused["variables"], HasSubstr("no variable 'missing'"));
  EXPECT_THAT(refused, SizeIs(9));

  auto p = publisher_->GetPartnership("shop-a");
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->schedule, "");
  EXPECT_EQ(p->retry, "backoff:30s..5m");
  EXPECT_EQ(p->kind, PartnershipKind::kContents);
  EXPECT_EQ(p->public_url, "https://shop-a.example");
  auto events = publisher_->Events("shop-a");
  ASSERT_THAT(events, IsOk());
  EXPECT_FALSE(HasEvent(*events, "changed", ""));

  // A missing overrides directory is NotFound, as at `partner add`; the message says what to do.
  PartnershipChanges o;
  o.overrides_dir = dir_.Sub("nowhere");
  EXPECT_THAT(Refused("shop-a", o, StatusCode::kNotFound)["overrides"],
              HasSubstr("does not exist; create it or leave it empty"));
  // One bad field refuses the good ones with it.
  o.overrides_dir.reset();
  o.schedule = "@every 1h";
  o.retry = "sometimes";
  EXPECT_THAT(Refused("shop-a", o), SizeIs(1));
  EXPECT_EQ(publisher_->GetPartnership("shop-a")->schedule, "");

  EXPECT_THAT(publisher_->UpdatePartnership("nobody", o, "tester"),
              StatusIs(StatusCode::kNotFound));
  ASSERT_THAT(publisher_->RevokePartnership("shop-a"), IsOk());
  PartnershipChanges fine;
  fine.schedule = "@every 1h";
  EXPECT_THAT(publisher_->UpdatePartnership("shop-a", fine, "tester"),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("revoked")));
}

// A change of what the partner's release holds makes the next publish build (and offer) a new
// version; a change of when or how it is offered does not.
TEST_F(PartnershipSettingsTest, ReleaseChangesMakeTheNextPublishBuildANewVersion) {
  Write(authoring_ + "/pages/greet.md",
        "---\ntitle: Greet\n---\n{{greeting}} from {{partner.region}}\n");
  PartnerSite& a = AddPartner("shop-a");
  ASSERT_EQ(Only(publisher_->PublishNow({"shop-a"})).version, 1u);
  auto publish = [&]() {
    const PublishOutcome o = Only(publisher_->PublishNow({"shop-a"}));
    EXPECT_THAT(o.status, IsOk());
    return o;
  };

  // When and how: no new release.
  PartnershipChanges when;
  when.schedule = "@every 10m";
  when.retry = "manual";
  ASSERT_THAT(Changed("shop-a", when), SizeIs(2));
  EXPECT_EQ(publish().state, "up_to_date");

  PartnershipChanges vars;
  vars.set_variables["greeting"] = "Konnichiwa";
  ASSERT_THAT(Changed("shop-a", vars), SizeIs(1));
  PublishOutcome o = publish();
  EXPECT_EQ(o.version, 2u);
  EXPECT_EQ(o.state, "activated");
  EXPECT_THAT(a.Page("/greet.html"), HasSubstr("Konnichiwa from north"));

  PartnershipChanges region;
  region.region = "south";
  ASSERT_THAT(Changed("shop-a", region), SizeIs(1));
  EXPECT_EQ(publish().version, 3u);
  EXPECT_THAT(a.Page("/greet.html"), HasSubstr("Konnichiwa from south"));

  PartnershipChanges grant;
  grant.emergency_edit = "keep";
  ASSERT_THAT(Changed("shop-a", grant), SizeIs(1));
  EXPECT_EQ(publish().version, 4u);
  auto active = a.store->Active(content::Area::kTieup);
  ASSERT_THAT(active, IsOk());
  EXPECT_EQ((*active)->emergency_edit, content::EmergencyEditPolicy::kKeep);

  Write(dir_.Sub("own/pages/about.md"), "---\ntitle: About\n---\nAbout shop-a itself.\n");
  PartnershipChanges own;
  own.overrides_dir = dir_.Sub("own");
  ASSERT_THAT(Changed("shop-a", own), SizeIs(1));
  EXPECT_EQ(publish().version, 5u);
  EXPECT_THAT(a.Page("/about.html"), HasSubstr("About shop-a itself."));

  PartnershipChanges link;
  link.kind = "link";
  ASSERT_THAT(Changed("shop-a", link), SizeIs(1));
  EXPECT_EQ(publish().version, 6u);
  active = a.store->Active(content::Area::kTieup);
  ASSERT_THAT(active, IsOk());
  EXPECT_EQ((*active)->files.at("/about.html").method, content::UpdateMethod::kLink);
  EXPECT_EQ((*active)->files.at("/about.html").link_url, "https://main.example/about.html");

  // Back to full copies: no page keeps the link of the release before.
  PartnershipChanges copies;
  copies.kind = "contents";
  copies.overrides_dir = "";
  ASSERT_THAT(Changed("shop-a", copies), SizeIs(2));
  EXPECT_EQ(publish().version, 7u);
  active = a.store->Active(content::Area::kTieup);
  ASSERT_THAT(active, IsOk());
  for (const auto& [path, e] : (*active)->files) {
    EXPECT_NE(e.method, content::UpdateMethod::kLink) << path;
  }
  EXPECT_THAT(a.Page("/about.html"), HasSubstr("About the main shop."));

  PartnershipChanges tpl;
  tpl.kind = "template";
  tpl.overrides_dir = dir_.Sub("own");
  ASSERT_THAT(Changed("shop-a", tpl), SizeIs(2));
  EXPECT_EQ(publish().version, 8u);
  active = a.store->Active(content::Area::kTieup);
  ASSERT_THAT(active, IsOk());
  EXPECT_FALSE((*active)->files.contains("/greet.html"));  // main's own page is not inherited
  EXPECT_THAT(a.Page("/about.html"), HasSubstr("About shop-a itself."));
}

TEST_F(PartnershipSettingsTest, ASuspendedPartnerGetsNoUpdatesUntilResumed) {
  auto every = [](Partnership& x) { x.schedule = "@every 10m"; };
  PartnerSite& a = AddPartner("shop-a", ApprovalPolicy::kAuto, ApprovalPolicy::kAuto, "", every);
  PartnerSite& b = AddPartner("shop-b", ApprovalPolicy::kAuto, ApprovalPolicy::kAuto, "", every);
  PartnerSite& c = AddPartner("pull-c", ApprovalPolicy::kAuto, ApprovalPolicy::kAuto, "",
                              [](Partnership& x) { x.sync_url = ""; });
  ASSERT_THAT(publisher_->PublishNow(), SizeIs(3));
  ASSERT_THAT(c.receiver->Poll(), IsOk());
  ASSERT_EQ(b.ActiveVersion(), 1u);
  ASSERT_EQ(c.ActiveVersion(), 1u);

  ASSERT_THAT(publisher_->SuspendPartnership("shop-b", "tester@main.example"), IsOk());
  ASSERT_THAT(publisher_->SuspendPartnership("pull-c", "tester@main.example"), IsOk());
  EXPECT_THAT(publisher_->SuspendPartnership("shop-b", "tester"),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("already suspended")));
  EXPECT_THAT(StatusOf("shop-b").summary, HasSubstr("suspended since "));
  EXPECT_EQ(StatusOf("shop-b").next_attempt, 0);
  EXPECT_TRUE(publisher_->GetPartnership("shop-b")->suspended);
  auto events = publisher_->Events("shop-b");
  ASSERT_THAT(events, IsOk());
  EXPECT_TRUE(HasEvent(*events, "suspended", "partnership suspended by tester@main.example"));

  Write(authoring_ + "/pages/about.md", "---\ntitle: About\n---\nAbout us, second edition.\n");
  // Publish all: only shop-a.
  auto all = publisher_->PublishNow();
  ASSERT_THAT(all, SizeIs(1));
  EXPECT_EQ(all[0].partner, "shop-a");
  EXPECT_EQ(a.ActiveVersion(), 2u);
  // Named: refused, saying how to resume.
  const PublishOutcome named = Only(publisher_->PublishNow({"shop-b"}));
  EXPECT_EQ(named.state, "suspended");
  EXPECT_THAT(named.status, StatusIs(StatusCode::kFailedPrecondition,
                                     HasSubstr("tieup main partner resume DIR shop-b")));
  // The schedule: only shop-a.
  const int64_t due = Schedule::Parse("@every 10m")->NextAfter(env_.NowSeconds());
  env_.SetNowMicros(due * 1'000'000);
  auto scheduled = publisher_->RunDue(due + 600);
  ASSERT_THAT(scheduled, SizeIs(1));
  EXPECT_EQ(scheduled[0].partner, "shop-a");
  // A poll: nothing new, and nothing failed at the partner.
  auto poll = c.receiver->Poll();
  ASSERT_THAT(poll, IsOk());
  EXPECT_EQ(poll->state, "up_to_date");
  EXPECT_EQ(c.ActiveVersion(), 1u);
  EXPECT_EQ(b.ActiveVersion(), 1u);
  // It keeps its certificate: it may still report.
  EXPECT_THAT(publisher_->HandleReport("shop-b", EventReport{"", 1, "note", "still here"}), IsOk());

  ASSERT_THAT(publisher_->ResumePartnership("shop-b", "tester@main.example"), IsOk());
  ASSERT_THAT(publisher_->ResumePartnership("pull-c", "tester@main.example"), IsOk());
  EXPECT_THAT(publisher_->ResumePartnership("shop-b", "tester"),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("not suspended")));
  EXPECT_EQ(StatusOf("shop-b").next_attempt,
            Schedule::Parse("@every 10m")->NextAfter(env_.NowSeconds()));
  events = publisher_->Events("shop-b");
  ASSERT_THAT(events, IsOk());
  EXPECT_TRUE(HasEvent(*events, "resumed", "partnership resumed by tester@main.example"));
  EXPECT_THAT(publisher_->PublishNow(), SizeIs(3));
  EXPECT_EQ(b.ActiveVersion(), 2u);
  EXPECT_THAT(b.Page("/about.html"), HasSubstr("second edition"));
  ASSERT_THAT(c.receiver->Poll(), IsOk());
  EXPECT_EQ(c.ActiveVersion(), 2u);

  EXPECT_THAT(publisher_->SuspendPartnership("nobody", "tester"), StatusIs(StatusCode::kNotFound));
  ASSERT_THAT(publisher_->RevokePartnership("shop-b"), IsOk());
  EXPECT_THAT(publisher_->SuspendPartnership("shop-b", "tester"),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("revoked")));
}

TEST_F(PartnershipSettingsTest, SuspendingWithdrawsTheUpdateWaitingForApproval) {
  PartnerSite& m = AddPartner("shop-m", ApprovalPolicy::kAuto, ApprovalPolicy::kManager);
  const PublishOutcome o = Only(publisher_->PublishNow({"shop-m"}));
  ASSERT_EQ(o.state, "pending_approval");
  ASSERT_THAT(publisher_->SuspendPartnership("shop-m", "tester"), IsOk());
  auto updates = publisher_->Updates("shop-m");
  ASSERT_THAT(updates, IsOk());
  ASSERT_THAT(*updates, SizeIs(1));
  EXPECT_EQ((*updates)[0].state, "superseded");
  EXPECT_EQ((*updates)[0].reason, "the partnership was suspended");
  // The partner's manager approves it anyway: main does not activate it.
  EXPECT_THAT(publisher_->HandleResponse("shop-m", UpdateResponse{o.update_id, true, ""}),
              StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_EQ(m.ActiveVersion(), 0u);
}

}  // namespace
}  // namespace tieup::sync

namespace tieup::sync {
namespace {

// Issue 17 item 7: each switch of an optional service is kept with its time, for the fee
// statement's days; a change that switches nothing records nothing.
TEST_F(PartnershipSettingsTest, EachServiceSwitchIsKeptWithItsTime) {
  AddPartner("shop-a");
  const int64_t t0 = env_.NowSeconds();
  ASSERT_THAT(SetPartnershipOptions(*main_db_, t0, "shop-a", {"security"}, "tester"), IsOk());
  ASSERT_THAT(SetPartnershipOptions(*main_db_, t0 + 60, "shop-a", {"security", "user_management"},
                                    "tester"),
              IsOk());
  ASSERT_THAT(SetPartnershipOptions(*main_db_, t0 + 120, "shop-a", {"user_management"}, "tester"),
              IsOk());
  ASSERT_THAT(SetPartnershipOptions(*main_db_, t0 + 180, "shop-a", {"user_management"}, "tester"),
              IsOk());
  auto life = ReadPartnershipLife(*main_db_, "shop-a");
  ASSERT_THAT(life, IsOk());
  ASSERT_TRUE(life->has_value());
  EXPECT_EQ((*life)->options, std::vector<std::string>{"user_management"});
  const auto& c = (*life)->option_changes;
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].option, "security");
  EXPECT_TRUE(c[0].enabled);
  EXPECT_EQ(c[0].at, t0);
  EXPECT_EQ(c[1].option, "user_management");
  EXPECT_TRUE(c[1].enabled);
  EXPECT_EQ(c[1].at, t0 + 60);
  EXPECT_EQ(c[2].option, "security");
  EXPECT_FALSE(c[2].enabled);
  EXPECT_EQ(c[2].at, t0 + 120);
}

// Who has a service, and who main pushes it to (pull-mode and revoked partnerships not); what a
// partner should be serving (main's probes of its pages, main_site/page_probes.h).
TEST_F(PartnershipSettingsTest, WhoHasAServiceAndWhatEachPartnerServes) {
  AddPartner("shop-a");
  AddPartner("shop-b");
  AddPartner("shop-c");
  const int64_t now = env_.NowSeconds();
  for (const char* id : {"shop-a", "shop-b", "shop-c"}) {
    ASSERT_THAT(SetPartnershipOptions(*main_db_, now, id, {"security"}, "tester"), IsOk());
  }
  PartnershipChanges pull;
  pull.sync_url = "";
  Changed("shop-b", pull);
  ASSERT_THAT(publisher_->RevokePartnership("shop-c"), IsOk());
  EXPECT_EQ(*PartnersWithOption(*main_db_, "security"),
            (std::set<std::string>{"shop-a", "shop-b"}));
  EXPECT_EQ(*PushPartnersWithOption(*main_db_, "security"), std::set<std::string>{"shop-a"});
  EXPECT_TRUE(PushPartnersWithOption(*main_db_, "user_management")->empty());

  // Before any release: nothing served, nothing kept.
  auto serving = publisher_->ServingOf("shop-a");
  ASSERT_THAT(serving, IsOk());
  EXPECT_EQ(serving->partnership.public_url, "https://shop-a.example");
  EXPECT_EQ(serving->active_version, 0u);
  EXPECT_EQ(serving->latest_version, 0u);
  ASSERT_EQ(Only(publisher_->PublishNow({"shop-a"})).state, "activated");
  serving = publisher_->ServingOf("shop-a");
  ASSERT_THAT(serving, IsOk());
  EXPECT_EQ(serving->active_version, 1u);
  EXPECT_EQ(serving->latest_version, 1u);
  EXPECT_TRUE(serving->emergency_edits.empty());
  auto kept = publisher_->KeptRelease("shop-a", 1);
  ASSERT_THAT(kept, IsOk());
  EXPECT_EQ((*kept)->version, 1u);
  EXPECT_TRUE((*kept)->files.find("/index.html") != (*kept)->files.end());
  EXPECT_THAT(publisher_->KeptRelease("shop-a", 7), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(publisher_->ServingOf("shop-z"), StatusIs(StatusCode::kNotFound));
}

}  // namespace
}  // namespace tieup::sync
