// The partners at a glance (sync/partner_overview.h): real partners driven through the real
// Publisher and Receiver into each state, and 10,000 partnerships in the publisher's own tables,
// searched, filtered, sorted and paged by SQLite.
#include "sync/partner_overview.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <set>

#include "sync/sync_fixture.h"

namespace tieup::sync {
namespace {

using ::testing::AllOf;
using ::testing::Each;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::PartnerSite;
using ::testing::SizeIs;
using ::testing::StartsWith;
using testing::SyncFixture;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;

class PartnerOverviewTest : public SyncFixture {
 protected:
  PartnerOverviewPage Query(PartnerOverviewQuery q) {
    auto page = QueryPartnerOverview(*main_db_, q);
    EXPECT_THAT(page, IsOk());
    return page.ok() ? *page : PartnerOverviewPage{};
  }
  PartnerOverviewPage InState(PartnerStateCategory c) {
    PartnerOverviewQuery q;
    q.state = c;
    return Query(q);
  }
  static std::vector<std::string> Ids(const PartnerOverviewPage& page) {
    std::vector<std::string> out;
    for (const PartnerOverviewRow& r : page.rows) out.push_back(r.report.partnership.id);
    return out;
  }
  static size_t Count(const PartnerOverviewPage& page, PartnerStateCategory c) {
    return page.counts[static_cast<size_t>(c)];
  }

  // `n` partnerships written straight into the publisher's tables (one transaction), in states
  // by i % 5: up to date (v2 active), waiting (v2 pending, v1 active), rejected (v2 rejected),
  // failed (the last attempt failed), behind (v3 built, v2 active); every 1000th is revoked.
  // Ids "p00000".., names "Shop 00000".., regions north/south/east/west by i % 4.
  void InsertMany(int n) {
    static const char* kRegions[] = {"north", "south", "east", "west"};
    Status s = main_db_->Transaction([&](Database& db) -> Status {
      for (int i = 0; i < n; ++i) {
        char num[16];
        std::snprintf(num, sizeof num, "%05d", i);
        const std::string id = std::string("p") + num;
        const int kind = i % 5;
        const bool revoked = i % 1000 == 999;
        const int64_t active = kind == 1 || kind == 2 || kind == 3 ? 1 : 2;
        RETURN_IF_ERROR(db.Exec(
            "INSERT INTO sync_partnerships(id, name, region, public_url, sync_url, kind, approval, "
            "schedule, retry, variables, overrides_dir, revoked, created, active_version) "
            "VALUES(?,?,?,?,?,'contents',?,?,'backoff:30s..1h','{}','',?,?,?)",
            {id, std::string("Shop ") + num, std::string(kRegions[i % 4]),
             "https://" + id + ".example", "https://" + id + ".example:8443",
             std::string(i % 2 ? "manager" : "auto"), std::string(i % 3 ? "every 1h" : ""),
             int64_t{revoked ? 1 : 0}, int64_t{1'000'000}, active}));
        const int latest = kind == 4 ? 3 : 2;
        for (int v = 1; v <= latest; ++v) {
          RETURN_IF_ERROR(db.Exec(
              "INSERT INTO sync_releases(partner, version, payload, envelope, created, expires) "
              "VALUES(?,?,'','',0,0)",
              {id, int64_t{v}}));
        }
        static const char* kStates[] = {"activated", "pending_approval", "rejected", "failed",
                                        "activated"};
        static const char* kReasons[] = {"", "", "wrong prices", "cannot connect", ""};
        RETURN_IF_ERROR(
            db.Exec("INSERT INTO sync_updates(partner, version, mode, state, reason, offered, "
                    "finished) VALUES(?,2,'push',?,?,?,?)",
                    {id, std::string(kStates[kind]), std::string(kReasons[kind]),
                     int64_t{2'000'000 + i}, int64_t{kind == 1 ? 0 : 2'000'100 + i}}));
        // As the publisher does with every attempt it records.
        RETURN_IF_ERROR(db.Exec("UPDATE sync_partnerships SET last_update = ? WHERE id = ?",
                                {db.LastInsertId(), id}));
        RETURN_IF_ERROR(
            db.Exec("INSERT INTO sync_events(time, partner, update_id, version, kind, message) "
                    "VALUES(?,?,'',2,?,'')",
                    {int64_t{3'000'000 + i}, id, std::string(kind == 3 ? "failed" : "activated")}));
      }
      return Status::Ok();
    });
    ASSERT_THAT(s, IsOk());
  }
};

TEST_F(PartnerOverviewTest, RealPartnersInEachStateAreWordedAsStatusReportWordsThem) {
  AddPartner("up", ApprovalPolicy::kAuto, ApprovalPolicy::kAuto, "Up Shop");
  PartnerSite& waiting = AddPartner("waiting", ApprovalPolicy::kManager, ApprovalPolicy::kManager);
  PartnerSite& rejected =
      AddPartner("rejected", ApprovalPolicy::kManager, ApprovalPolicy::kManager);
  AddPartner("down");
  AddPartner("gone");
  AddPartner("fresh");
  PartnerSite& edited =
      AddPartner("edited", ApprovalPolicy::kAuto, ApprovalPolicy::kAuto, "Edited",
                 [](Partnership& x) { x.emergency_edit = content::EmergencyEditPolicy::kKeep; });
  partner_link_.SetDown("down", true);
  for (const PublishOutcome& o :
       publisher_->PublishNow({"up", "waiting", "rejected", "down", "edited"})) {
    EXPECT_EQ(o.state, o.partner == "up" || o.partner == "edited" ? "activated"
                       : o.partner == "down"                      ? "failed"
                                                                  : "pending_approval")
        << o.partner;
  }
  auto pending = rejected.receiver->Pending();
  ASSERT_THAT(pending, IsOk());
  ASSERT_THAT(*pending, SizeIs(1));
  ASSERT_THAT(rejected.receiver->Reject((*pending)[0].update_id, "wrong prices"), IsOk());
  ASSERT_THAT(publisher_->RevokePartnership("gone"), IsOk());
  auto edit =
      edited.store->PutOriginalPage("/index.html", "<h1>closed</h1>", "text/html", true, "ann");
  ASSERT_THAT(edit, IsOk());
  auto st = edited.receiver->GetStatus();
  ASSERT_THAT(st, IsOk());
  const content::OverlayChange c = edited.store->UnreportedOverlayChanges().at(0);
  EmergencyEditReport report{c.seq,      c.at,     c.by, c.action,        c.path,     c.old_hash,
                             c.new_hash, c.reason, 1,    st->active_hash, st->overlay};
  ASSERT_THAT(publisher_->HandleEmergencyEdit("edited", report), IsOk());

  using C = PartnerStateCategory;
  EXPECT_THAT(Ids(InState(C::kUpToDate)), ::testing::ElementsAre("up"));
  EXPECT_THAT(Ids(InState(C::kWaiting)), ::testing::ElementsAre("waiting"));
  EXPECT_THAT(Ids(InState(C::kRejected)), ::testing::ElementsAre("rejected"));
  EXPECT_THAT(Ids(InState(C::kFailed)), ::testing::ElementsAre("down"));
  EXPECT_THAT(Ids(InState(C::kEmergencyEdited)), ::testing::ElementsAre("edited"));
  EXPECT_THAT(Ids(InState(C::kBehind)), ::testing::ElementsAre("fresh"));
  EXPECT_THAT(Ids(InState(C::kRevoked)), ::testing::ElementsAre("gone"));

  PartnerOverviewPage all = Query({});
  EXPECT_EQ(all.total, 7u);
  EXPECT_EQ(all.matching, 7u);
  for (C c : kPartnerStateCategories) {
    EXPECT_EQ(Count(all, c), c == C::kSuspended ? 0u : 1u) << PartnerStateCategoryName(c);
  }
  // The command line's report is the same query: same rows, same words.
  auto report_rows = publisher_->StatusReport();
  ASSERT_THAT(report_rows, IsOk());
  ASSERT_THAT(*report_rows, SizeIs(7));
  std::map<std::string, std::string> words;
  for (const PartnerOverviewRow& r : all.rows) words[r.report.partnership.id] = r.report.summary;
  for (const PartnerStatusReport& r : *report_rows) {
    EXPECT_EQ(words[r.partnership.id], r.summary);
  }
  EXPECT_EQ(words["up"], "up to date at version 1");
  EXPECT_THAT(words["waiting"], StartsWith("version 1 waiting for the partner manager (update u"));
  EXPECT_THAT(words["rejected"], HasSubstr("wrong prices; offered again"));
  EXPECT_THAT(words["down"], StartsWith("failed: "));
  EXPECT_THAT(words["down"], HasSubstr("retry at"));
  EXPECT_EQ(words["gone"], "revoked");
  EXPECT_EQ(words["fresh"], "nothing published yet");
  EXPECT_THAT(words["edited"], AllOf(StartsWith("main's latest version 1 is active"),
                                     HasSubstr("emergency-edited: /index.html (")));

  // Rows carry what the table shows.
  for (const PartnerOverviewRow& r : all.rows) {
    if (r.report.partnership.id == "up") {
      EXPECT_EQ(r.report.partnership.name, "Up Shop");
      EXPECT_EQ(r.report.active_version, 1u);
      EXPECT_EQ(r.report.latest_version, 1u);
      EXPECT_GT(r.last_contact, 0);  // it activated
    }
    if (r.report.partnership.id == "fresh" || r.report.partnership.id == "down") {
      EXPECT_EQ(r.last_contact, 0) << r.report.partnership.id;  // never heard from
    }
  }

  // The approval turns "waiting" into "up to date".
  auto waiting_update = waiting.receiver->Pending();
  ASSERT_THAT(waiting_update, IsOk());
  ASSERT_THAT(*waiting_update, SizeIs(1));
  ASSERT_THAT(waiting.receiver->Approve((*waiting_update)[0].update_id), IsOk());
  EXPECT_THAT(Ids(InState(C::kWaiting)), IsEmpty());
  EXPECT_THAT(Ids(InState(C::kUpToDate)), ::testing::ElementsAre("up", "waiting"));
}

TEST_F(PartnerOverviewTest, TheGenerationChangesWithEveryAttemptAndEvent) {
  auto before = PartnerOverviewGeneration(*main_db_);
  ASSERT_THAT(before, IsOk());
  PartnerSite& p = AddPartner("shop-b", ApprovalPolicy::kManager, ApprovalPolicy::kManager);
  auto added = PartnerOverviewGeneration(*main_db_);
  ASSERT_THAT(added, IsOk());
  EXPECT_NE(*added, *before);
  ASSERT_EQ(publisher_->PublishNow({"shop-b"}).at(0).state, "pending_approval");
  auto offered = PartnerOverviewGeneration(*main_db_);
  ASSERT_THAT(offered, IsOk());
  EXPECT_NE(*offered, *added);
  EXPECT_EQ(*PartnerOverviewGeneration(*main_db_), *offered);  // nothing happened
  auto pending = p.receiver->Pending();
  ASSERT_THAT(pending, IsOk());
  ASSERT_THAT(*pending, SizeIs(1));
  ASSERT_THAT(p.receiver->Approve((*pending)[0].update_id), IsOk());
  EXPECT_NE(*PartnerOverviewGeneration(*main_db_), *offered);
}

TEST_F(PartnerOverviewTest, TenThousandPartnershipsAreFilteredSortedSearchedAndPagedBySql) {
  InsertMany(10'000);
  using C = PartnerStateCategory;

  const auto start = std::chrono::steady_clock::now();
  PartnerOverviewPage first = Query({});
  const auto took = std::chrono::steady_clock::now() - start;
  std::printf("first page of 10,000: %.1f ms\n",
              std::chrono::duration<double, std::milli>(took).count());
  EXPECT_EQ(first.total, 10'000u);
  EXPECT_EQ(first.matching, 10'000u);
  // 10 revoked (i % 1000 == 999: i % 5 == 4, behind) and the rest 2,000 in each state.
  EXPECT_EQ(Count(first, C::kRevoked), 10u);
  EXPECT_EQ(Count(first, C::kUpToDate), 2'000u);
  EXPECT_EQ(Count(first, C::kWaiting), 2'000u);
  EXPECT_EQ(Count(first, C::kRejected), 2'000u);
  EXPECT_EQ(Count(first, C::kFailed), 2'000u);
  EXPECT_EQ(Count(first, C::kBehind), 1'990u);
  EXPECT_EQ(Count(first, C::kEmergencyEdited), 0u);
  ASSERT_THAT(first.rows, SizeIs(50));
  EXPECT_EQ(first.rows.front().report.partnership.id, "p00000");
  EXPECT_EQ(first.rows.back().report.partnership.id, "p00049");
  EXPECT_EQ(first.rows[1].report.summary, "version 2 waiting for the partner manager (update u2)");
  EXPECT_EQ(first.rows[2].report.summary,
            "wrong prices; offered again when it changes or when you publish again");
  EXPECT_EQ(first.rows[3].report.summary,
            "failed: cannot connect; no automatic retry: publish "
            "again");
  EXPECT_EQ(first.rows[4].report.summary, "version 3 built, partner has 2");
  EXPECT_EQ(first.rows[1].report.partnership.approval, ApprovalPolicy::kManager);
  EXPECT_EQ(first.rows[1].report.partnership.schedule, "every 1h");
  EXPECT_EQ(first.rows[0].report.partnership.schedule, "");
  EXPECT_EQ(first.rows[0].last_contact, 3'000'000);
  EXPECT_EQ(first.rows[3].last_contact, 0);  // only failures

  // Paging: the last page, and a page past it (counted, no rows).
  PartnerOverviewQuery q;
  q.page = 200;
  PartnerOverviewPage last = Query(q);
  ASSERT_THAT(last.rows, SizeIs(50));
  EXPECT_EQ(last.rows.back().report.partnership.id, "p09999");
  q.page = 201;
  PartnerOverviewPage past = Query(q);
  EXPECT_THAT(past.rows, IsEmpty());
  EXPECT_EQ(past.total, 10'000u);

  // A state filter: only that state, in pages of the filtered set.
  q = {};
  q.state = C::kWaiting;
  q.page = 40;
  PartnerOverviewPage waiting = Query(q);
  EXPECT_EQ(waiting.matching, 2'000u);
  EXPECT_EQ(waiting.total, 10'000u);  // the counts cover every state
  ASSERT_THAT(waiting.rows, SizeIs(50));
  EXPECT_THAT(waiting.rows, Each(Field(&PartnerOverviewRow::category, C::kWaiting)));
  EXPECT_EQ(waiting.rows.back().report.partnership.id, "p09996");  // the 2,000th waiting

  // Search: id, name or region, any case; LIKE's own characters are literal.
  q = {};
  q.search = "SOUTH";
  PartnerOverviewPage south = Query(q);
  EXPECT_EQ(south.total, 2'500u);
  EXPECT_EQ(south.rows.front().report.partnership.id, "p00001");
  q.search = "shop 0012";
  PartnerOverviewPage named = Query(q);
  EXPECT_EQ(named.total, 10u);
  EXPECT_EQ(Count(named, C::kUpToDate), 2u);
  q.search = "p0999";
  q.state = C::kRevoked;
  PartnerOverviewPage revoked = Query(q);
  EXPECT_EQ(revoked.total, 10u);
  EXPECT_EQ(revoked.matching, 1u);
  EXPECT_THAT(Ids(revoked), ::testing::ElementsAre("p09999"));
  EXPECT_EQ(revoked.rows[0].report.summary, "revoked");
  q = {};
  q.search = "%";
  EXPECT_EQ(Query(q).total, 0u);
  q.search = "_0001";
  EXPECT_EQ(Query(q).total, 0u);

  // Sorting: by name descending, by state (then id), by version, by last contact.
  q = {};
  q.sort = PartnerSortColumn::kName;
  q.descending = true;
  EXPECT_EQ(Query(q).rows.front().report.partnership.name, "Shop 09999");
  q = {};
  q.sort = PartnerSortColumn::kState;
  q.descending = true;
  PartnerOverviewPage by_state = Query(q);
  EXPECT_THAT(by_state.rows, SizeIs(50));
  EXPECT_EQ(by_state.rows.front().category, C::kRevoked);
  EXPECT_EQ(by_state.rows.front().report.partnership.id, "p00999");
  EXPECT_EQ(by_state.rows[10].category, C::kBehind);
  q.descending = false;
  EXPECT_THAT(Query(q).rows, Each(Field(&PartnerOverviewRow::category, C::kUpToDate)));
  q = {};
  q.sort = PartnerSortColumn::kVersion;
  q.descending = true;
  EXPECT_EQ(Query(q).rows.front().report.partnership.id, "p00004");  // 2 live, 3 built
  q = {};
  q.sort = PartnerSortColumn::kLastContact;
  q.descending = true;
  PartnerOverviewPage recent = Query(q);
  EXPECT_EQ(recent.rows.front().report.partnership.id, "p09999");
  EXPECT_EQ(recent.rows.front().last_contact, 3'009'999);

  // A partner's state changes as the publisher records it (an attempt, its event): the next page
  // shows it in its new state.
  ASSERT_THAT(main_db_->Exec("INSERT INTO sync_updates(partner, version, mode, state, offered, "
                             "finished) VALUES('p00001', 2, 'push', 'activated', 5, 6)"),
              IsOk());
  ASSERT_THAT(main_db_->Exec("UPDATE sync_partnerships SET active_version = 2, last_update = ? "
                             "WHERE id = 'p00001'",
                             {main_db_->LastInsertId()}),
              IsOk());
  ASSERT_THAT(main_db_->Exec("INSERT INTO sync_events(time, partner, update_id, version, kind, "
                             "message) VALUES(4000000, 'p00001', '', 2, 'activated', '')"),
              IsOk());
  PartnerOverviewPage after = Query({});
  EXPECT_EQ(Count(after, C::kWaiting), 1'999u);
  EXPECT_EQ(Count(after, C::kUpToDate), 2'001u);
  q = {};
  q.sort = PartnerSortColumn::kLastContact;
  q.descending = true;
  EXPECT_EQ(Query(q).rows.front().report.partnership.id, "p00001");

  // One partnership by its id, whether paged or whole: not the others its id is a part of.
  for (size_t page_size : {size_t{0}, size_t{50}}) {
    q = {};
    q.id = "p00001";
    q.page_size = page_size;
    PartnerOverviewPage one = Query(q);
    ASSERT_EQ(one.rows.size(), 1u) << page_size;
    EXPECT_EQ(one.rows[0].report.partnership.id, "p00001");
    EXPECT_EQ(one.rows[0].category, C::kUpToDate);
    EXPECT_EQ(one.total, 1u) << page_size;
  }

  // Bad queries.
  q = {};
  q.page = 0;
  EXPECT_THAT(QueryPartnerOverview(*main_db_, q), StatusIs(StatusCode::kInvalidArgument));
  q.page = 1;
  q.search = std::string(kMaxPartnerSearchBytes + 1, 'a');
  EXPECT_THAT(QueryPartnerOverview(*main_db_, q), StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(PartnerOverviewTest, NamesOfStatesAndColumnsReadBack) {
  std::set<std::string_view> names;
  for (PartnerStateCategory c : kPartnerStateCategories) {
    names.insert(PartnerStateCategoryName(c));
    EXPECT_EQ(ParsePartnerStateCategory(PartnerStateCategoryName(c)), c);
    EXPECT_FALSE(PartnerStateCategoryLabel(c).empty());
  }
  EXPECT_EQ(names.size(), kPartnerStateCategories.size());
  EXPECT_EQ(ParsePartnerStateCategory("up to date"), std::nullopt);
  for (auto c :
       {PartnerSortColumn::kId, PartnerSortColumn::kName, PartnerSortColumn::kRegion,
        PartnerSortColumn::kKind, PartnerSortColumn::kApproval, PartnerSortColumn::kSchedule,
        PartnerSortColumn::kVersion, PartnerSortColumn::kState, PartnerSortColumn::kLastContact}) {
    EXPECT_EQ(ParsePartnerSortColumn(PartnerSortColumnName(c)), c);
  }
  EXPECT_EQ(ParsePartnerSortColumn("payload"), std::nullopt);
}

}  // namespace
}  // namespace tieup::sync
