// The partners at a glance: one page of main's partnerships with the state of each, searched,
// filtered by state and sorted by the database (never the whole list in memory), with the count
// of partnerships in each state. It is also the one place where a partner's state is decided and
// put in words: Publisher::StatusReport (`tieup main status`) is this query over every
// partnership, so the console's table and the command line never disagree.
//
// The state is decided in SQL (so that a filter or a sort by state runs in the database) from the
// partnership's row, its newest attempt (sync_updates), its newest built release (sync_releases)
// and what the partner last reported it serves; the sentence is worded in C++ from the same
// facts, only for the rows of the page. A page is cut from a derived table (sync_overview: each
// partnership's state, newest version and last contact) that the query first brings up to date
// from the events and attempts recorded since its last look (every change of a partner's state
// records an event), and derives again whole every ten minutes; the rows shown are read fresh.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "store/database.h"
#include "sync/publisher.h"

namespace tieup::sync {

// What a partner's state comes to, for filters and counts.
enum class PartnerStateCategory {
  kUpToDate,         // main's latest release is active at the partner
  kWaiting,          // an update waits for the partner manager's approval
  kRejected,         // the partner manager rejected main's latest version
  kFailed,           // the last attempt failed (a retry may be due)
  kEmergencyEdited,  // the partner serves emergency edits over main's release (and is not
                     // waiting, rejected or failed, which say more)
  kBehind,           // nothing published yet, or the partner has an older (or not main's) release
  kSuspended,        // the partnership is suspended (no updates until resumed)
  kRevoked,          // the partnership is revoked
};
// Every category, in the enum's order (also the order of a sort by state).
inline constexpr std::array<PartnerStateCategory, 8> kPartnerStateCategories = {
    PartnerStateCategory::kUpToDate,        PartnerStateCategory::kWaiting,
    PartnerStateCategory::kRejected,        PartnerStateCategory::kFailed,
    PartnerStateCategory::kEmergencyEdited, PartnerStateCategory::kBehind,
    PartnerStateCategory::kSuspended,       PartnerStateCategory::kRevoked};
// "up-to-date", "waiting", "rejected", "failed", "emergency-edited", "behind", "suspended",
// "revoked": for URLs and class names.
std::string_view PartnerStateCategoryName(PartnerStateCategory category);
// "Up to date", "Waiting for approval", ..., "Not yet published or behind": for people.
std::string_view PartnerStateCategoryLabel(PartnerStateCategory category);
// The category named by PartnerStateCategoryName; nullopt for anything else.
std::optional<PartnerStateCategory> ParsePartnerStateCategory(std::string_view name);

// The columns a page can be sorted by (each then by id).
enum class PartnerSortColumn {
  kId,
  kName,
  kRegion,
  kKind,
  kApproval,
  kSchedule,
  kVersion,      // the version live at the partner, then the latest built
  kState,        // in the order of kPartnerStateCategories
  kLastContact,  // partners never heard from first (ascending)
};
// "id", "name", "region", "kind", "approval", "schedule", "version", "state", "contact".
std::string_view PartnerSortColumnName(PartnerSortColumn column);
std::optional<PartnerSortColumn> ParsePartnerSortColumn(std::string_view name);

// Which page of which partnerships.
struct PartnerOverviewQuery {
  // Partnerships whose id, name or region contains this text (ASCII letters in any case); empty:
  // all. At most kMaxPartnerSearchBytes.
  std::string search;
  std::optional<PartnerStateCategory> state;  // only partnerships in this state; nullopt: all
  PartnerSortColumn sort = PartnerSortColumn::kId;
  bool descending = false;
  size_t page = 1;        // 1-based; a page past the last gives no rows (total still counted)
  size_t page_size = 50;  // 0: every matching row on one page (the command line)
  // Set: only the partnership with exactly this id (with the search, if any).
  std::optional<std::string> id;
  // Unix seconds, from the caller's clock (Env): how old the derived table is (see the top).
  int64_t now = 0;
};
inline constexpr size_t kMaxPartnerSearchBytes = 200;

// One partnership on the page.
struct PartnerOverviewRow {
  // As `tieup main status` reports it (summary: the state in words).
  PartnerStatusReport report;
  PartnerStateCategory category = PartnerStateCategory::kBehind;
  // Unix seconds of the newest event the partner took part in (it polled, fetched, answered,
  // reported, activated; not main's failed attempts to reach it); 0: never.
  int64_t last_contact = 0;
};

struct PartnerOverviewPage {
  std::vector<PartnerOverviewRow> rows;
  // Partnerships matching the search (whatever their state), per category (indexed by the
  // enum's value) and in all.
  std::array<size_t, kPartnerStateCategories.size()> counts{};
  size_t total = 0;
  // Partnerships matching the search and the state filter (what the pages cover).
  size_t matching = 0;
};

// Runs `query` over the publisher's tables in `db` (schema already migrated by Publisher::Open
// or MigrateSyncSchema). InvalidArgument for a search longer than kMaxPartnerSearchBytes or a
// page of 0. A paged query may write (the derived table, in a transaction of its own); page_size
// 0 reads every row directly and writes nothing. Thread-safe as `db` is.
Result<PartnerOverviewPage> QueryPartnerOverview(Database& db, const PartnerOverviewQuery& query);

// A value that changes whenever a row of the overview may have changed (an attempt, an event, a
// partnership added): two index look-ups and a count of the partnerships, for polling (the
// console's live table). A change recorded without an event does not change it.
Result<std::string> PartnerOverviewGeneration(Database& db);

namespace internal {
// The stored forms of a partnership's variables and of what it serves (publisher.cc writes
// them); what does not read is left out.
std::map<std::string, std::string> DecodeVariables(const std::string& text);
std::vector<EmergencyEditState> DecodeServedOverlay(const std::string& text);
}  // namespace internal

}  // namespace tieup::sync
