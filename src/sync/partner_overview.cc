#include "sync/partner_overview.h"

#include <boost/json.hpp>
#include <unordered_map>
#include <utility>

#include "base/encoding.h"

namespace tieup::sync {
namespace json = boost::json;

namespace {

// Each partnership's facts: `{columns}` of its row and its newest built version (one index
// seek). `{where}` filters the partnerships (search, ids). The LIMIT (no limit in effect) keeps
// SQLite from copying the version's subquery into every expression that reads it: it runs once
// per partnership.
constexpr std::string_view kFactsSql = R"sql(
SELECT {columns},
  COALESCE((SELECT MAX(r.version) FROM sync_releases r WHERE r.partner = p.id), 0) AS latest
FROM sync_partnerships p WHERE {where} LIMIT 9223372036854775807)sql";

// The columns pass one needs (the state, the sort keys); the rows of the page read them all.
constexpr std::string_view kNarrowColumns =
    "p.id, p.name, p.region, p.kind, p.approval, p.schedule, p.revoked, p.suspended, "
    "p.active_version, p.failures, p.served_hash, p.served_version, p.served_overlay, "
    "p.last_update";

// What decides the sentence (see Word below), from the facts and the newest attempt (the row the
// publisher points to from sync_partnerships.last_update whenever it records one), in the
// order the sentence's rules apply. 'foreign': the partner reported serving a release of its
// active version whose hash is not main's.
constexpr std::string_view kConditionSql = R"sql(
SELECT f.*, u.id AS u_id, u.version AS u_version, u.mode AS u_mode, u.state AS u_state,
  u.reason AS u_reason, u.offered AS u_offered, u.finished AS u_finished,
  u.fetched_blobs AS u_blobs, u.fetched_bytes AS u_bytes,
  CASE
    WHEN f.revoked <> 0 THEN 'revoked'
    WHEN f.served_hash <> '' AND f.active_version > 0 AND f.served_version = f.active_version
         AND COALESCE((SELECT r.payload_hash FROM sync_releases r
                       WHERE r.partner = f.id AND r.version = f.active_version), '')
             NOT IN ('', f.served_hash) THEN 'foreign'
    WHEN f.suspended <> 0 THEN 'suspended'
    WHEN u.state = 'pending_approval' THEN 'waiting'
    WHEN u.state = 'rejected' AND u.version = f.latest THEN 'rejected'
    WHEN u.state = 'failed' OR (u.state = 'approved' AND f.failures > 0) THEN 'failed'
    WHEN f.latest = 0 THEN 'unpublished'
    WHEN f.active_version >= f.latest THEN 'up_to_date'
    ELSE 'behind'
  END AS condition
FROM ({facts}) f LEFT JOIN sync_updates u ON u.id = f.last_update)sql";

// The category of a row `c` of kConditionSql (PartnerStateCategory's value, which is also its
// rank for sorting): emergency edits show only where the sentence says nothing more pressing.
// Each branch reads the condition once (CASE x WHEN ...).
constexpr std::string_view kCategorySql = R"sql(
  CASE WHEN c.served_overlay NOT IN ('', '[]') THEN
    CASE c.condition WHEN 'revoked' THEN 7 WHEN 'suspended' THEN 6 WHEN 'waiting' THEN 1
      WHEN 'rejected' THEN 2 WHEN 'failed' THEN 3 ELSE 4 END
  ELSE
    CASE c.condition WHEN 'revoked' THEN 7 WHEN 'suspended' THEN 6 WHEN 'waiting' THEN 1
      WHEN 'rejected' THEN 2 WHEN 'failed' THEN 3 WHEN 'up_to_date' THEN 0 ELSE 5 END
  END)sql";

// The newest event the partner of row `c` took part in: every kind but those main records
// alone (its offers, failures to reach the partner, builds and changes of the partnership).
// Walks the partner's events backwards, usually one step.
constexpr std::string_view kLastContactSql =
    "COALESCE((SELECT e.time FROM sync_events e WHERE e.partner = c.id AND e.kind NOT IN "
    "('added', 'built', 'changed', 'failed', 'offered', 'resumed', 'revoked', 'suspended') "
    "ORDER BY e.id DESC LIMIT 1), 0)";

std::string Replace(std::string_view text, std::string_view key, std::string_view value) {
  std::string out(text);
  const size_t at = out.find(key);
  if (at != std::string::npos) out.replace(at, key.size(), value);
  return out;
}

// The partnerships matching `where` with their condition, as a subquery (rows `c`).
std::string ConditionSql(std::string_view columns, std::string_view where) {
  return Replace(kConditionSql, "{facts}",
                 Replace(Replace(kFactsSql, "{columns}", columns), "{where}", where));
}

std::string OrderBy(PartnerSortColumn column, bool descending) {
  const char* dir = descending ? " DESC" : "";
  std::string key;
  switch (column) {
    case PartnerSortColumn::kId:
      return std::string("s.id") + dir;
    case PartnerSortColumn::kName:
      key = "s.name" + std::string(dir);
      break;
    case PartnerSortColumn::kRegion:
      key = "s.region" + std::string(dir);
      break;
    case PartnerSortColumn::kKind:
      key = "s.kind" + std::string(dir);
      break;
    case PartnerSortColumn::kApproval:
      key = "s.approval" + std::string(dir);
      break;
    case PartnerSortColumn::kSchedule:
      key = "s.schedule" + std::string(dir);
      break;
    case PartnerSortColumn::kVersion:
      key = "s.active_version" + std::string(dir) + ", s.latest" + dir;
      break;
    case PartnerSortColumn::kState:
      key = "s.category" + std::string(dir);
      break;
    case PartnerSortColumn::kLastContact:
      key = "s.contact" + std::string(dir);
      break;
  }
  return key + ", s.id";
}

// The sentence of `tieup main status` for one partnership (the facts of a categorized row).
std::string Word(const std::string& condition, const PartnerStatusReport& r, int64_t next_retry) {
  const std::optional<UpdateRecord>& last = r.last_update;
  std::string s;
  if (condition == "revoked") return "revoked";
  if (condition == "foreign") {
    s = "the partner serves a release of version " + std::to_string(r.active_version) +
        " that is not main's (hash " + r.served_hash.substr(0, 12) + "): publish again";
  } else if (condition == "suspended") {
    s = "suspended since " + FormatRfc3339(r.partnership.suspended_since) +
        ": no updates until resumed";
  } else if (condition == "waiting" && last) {
    s = "version " + std::to_string(last->version) + " waiting for the partner manager (update " +
        last->update_id + ")";
  } else if (condition == "rejected" && last) {
    s = last->reason;
    s += next_retry > 0 ? "; offered again at " + FormatRfc3339(next_retry)
                        : "; offered again when it changes or when you publish again";
  } else if (condition == "failed" && last) {
    s = last->state + ": " + last->reason;
    s += next_retry > 0 ? "; retry at " + FormatRfc3339(next_retry)
                        : "; no automatic retry: publish again";
  } else if (condition == "unpublished") {
    s = "nothing published yet";
  } else if (condition == "up_to_date") {
    s = r.emergency_edits.empty() ? "up to date at version " : "main's latest version ";
    s += std::to_string(r.active_version) + (r.emergency_edits.empty() ? "" : " is active");
  } else {
    s = "version " + std::to_string(r.latest_version) + " built, partner has " +
        std::to_string(r.active_version);
  }
  if (!r.emergency_edits.empty()) {
    s += "; emergency-edited:";
    for (size_t i = 0; i < r.emergency_edits.size(); ++i) {
      const EmergencyEditState& e = r.emergency_edits[i];
      s += (i == 0 ? " " : ", ") + e.path + (e.hash.empty() ? " removed" : "") + " (" +
           FormatRfc3339(e.at) + ")";
    }
  }
  return s;
}

// The columns of a full row, in the order RowFrom reads them (then the category and the last
// contact), of a row `c` of kConditionSql over every column.
constexpr std::string_view kRowColumns =
    "c.id, c.name, c.region, c.public_url, c.sync_url, c.kind, c.approval, c.schedule, c.retry, "
    "c.variables, c.overrides_dir, c.revoked, c.created, c.active_version, c.failures, "
    "c.next_retry, c.next_scheduled, c.emergency_edit, c.served_hash, c.served_overlay, "
    "c.latest, c.u_id, c.u_version, c.u_mode, c.u_state, c.u_reason, c.u_offered, c.u_finished, "
    "c.u_blobs, c.u_bytes, c.condition, c.suspended, c.suspended_since, ";

// Full rows of the partnerships matching `where`, as a subquery whose columns include those
// OrderBy sorts by.
std::string RowsSql(std::string_view where) {
  return "SELECT " + std::string(kRowColumns) + std::string(kCategorySql) + " AS category, " +
         std::string(kLastContactSql) + " AS contact FROM (" + ConditionSql("p.*", where) + ") c";
}

// The derived table (sync_overview, schema step 9): each partnership's category, newest built
// version and last contact, as kConditionSql and kCategorySql decide them. It is brought up to
// date before each page from what was recorded since its mark: the partners named by newer
// events (every change of a partner's state records one) and newer attempts. Every
// kRebuildEverySeconds it is derived again whole, so a change some path made without an event
// would show by then at the latest.
constexpr int64_t kRebuildEverySeconds = 600;

std::string DerivedSql(std::string_view where) {
  return "SELECT c.id, " + std::string(kCategorySql) + ", c.latest, " +
         std::string(kLastContactSql) + " FROM (" + ConditionSql(kNarrowColumns, where) + ") c";
}

Status RefreshOverview(Database& db, int64_t now) {
  constexpr std::string_view kNowSql =
      "SELECT (SELECT COALESCE(MAX(id), 0) FROM sync_events), "
      "(SELECT COALESCE(MAX(id), 0) FROM sync_updates), (SELECT COUNT(*) FROM sync_partnerships), "
      "CAST(? AS BIGINT), "
      "(SELECT event_id FROM sync_overview_mark WHERE id = 1), "
      "(SELECT update_id FROM sync_overview_mark WHERE id = 1), "
      "(SELECT partners FROM sync_overview_mark WHERE id = 1), "
      "(SELECT rebuilt FROM sync_overview_mark WHERE id = 1)";
  struct State {
    int64_t events, updates, partners, now;
    bool marked;
    int64_t mark_events, mark_updates, mark_partners, rebuilt;
    bool Current() const {
      return marked && mark_events == events && mark_updates == updates &&
             mark_partners == partners && !Stale();
    }
    bool Stale() const { return !marked || now - rebuilt >= kRebuildEverySeconds || now < rebuilt; }
  };
  auto read = [&](Database& d) -> Result<State> {
    ASSIGN_OR_RETURN(auto rows, d.Query(kNowSql, {now}));
    if (rows.empty()) return Status::Internal("reading the overview's mark gave no row");
    const SqlRow& r = rows[0];
    return State{r.Int(0), r.Int(1), r.Int(2), r.Int(3), !r.IsNull(4),
                 r.Int(4), r.Int(5), r.Int(6), r.Int(7)};
  };
  ASSIGN_OR_RETURN(State before, read(db));
  if (before.Current()) return Status::Ok();  // the usual case: no write, no lock
  return db.Transaction([&](Database& t) -> Status {
    ASSIGN_OR_RETURN(State st, read(t));  // another thread may have done it meanwhile
    if (st.Current()) return Status::Ok();
    const bool rebuild = st.Stale() || st.partners < st.mark_partners;
    if (rebuild) {
      RETURN_IF_ERROR(t.Exec("DELETE FROM sync_overview"));
      RETURN_IF_ERROR(t.Exec("INSERT INTO sync_overview(partner, category, latest, contact) " +
                             DerivedSql("1 = 1")));
    } else {
      RETURN_IF_ERROR(
          t.Exec("INSERT INTO sync_overview(partner, category, latest, contact) " +
                     DerivedSql("p.id IN (SELECT e.partner FROM sync_events e WHERE e.id > ? UNION "
                                "SELECT u.partner FROM sync_updates u WHERE u.id > ?)") +
                     // WHERE: SQLite's parser would read the ON as the FROM's join constraint.
                     " WHERE true ON CONFLICT(partner) DO UPDATE SET category = excluded.category, "
                     "latest = excluded.latest, contact = excluded.contact",
                 {st.mark_events, st.mark_updates}));
    }
    return t.Exec(
        "INSERT INTO sync_overview_mark(id, event_id, update_id, partners, rebuilt) "
        "VALUES(1, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET event_id = excluded.event_id, "
        "update_id = excluded.update_id, partners = excluded.partners, rebuilt = excluded.rebuilt",
        {st.events, st.updates, st.partners, rebuild ? st.now : st.rebuilt});
  });
}

PartnerOverviewRow RowFrom(const SqlRow& r) {
  PartnerOverviewRow row;
  PartnerStatusReport& out = row.report;
  Partnership& p = out.partnership;
  p.id = r.Text(0);
  p.name = r.Text(1);
  p.region = r.Text(2);
  p.public_url = r.Text(3);
  p.sync_url = r.Text(4);
  p.kind = ParsePartnershipKind(r.Text(5)).value_or(PartnershipKind::kContents);
  p.approval = ParseApprovalPolicy(r.Text(6)).value_or(ApprovalPolicy::kManager);
  p.schedule = r.Text(7);
  p.retry = r.Text(8);
  p.variables = internal::DecodeVariables(r.Text(9));
  p.overrides_dir = r.Text(10);
  p.revoked = r.Int(11) != 0;
  p.created = r.Int(12);
  out.active_version = static_cast<uint64_t>(r.Int(13));
  out.failures = static_cast<int>(r.Int(14));
  const int64_t next_retry = r.Int(15);
  const int64_t next_scheduled = r.Int(16);
  out.next_attempt = next_retry > 0 && (next_scheduled == 0 || next_retry < next_scheduled)
                         ? next_retry
                         : next_scheduled;
  p.emergency_edit =
      content::ParseEmergencyEditPolicy(r.Text(17)).value_or(content::EmergencyEditPolicy::kNone);
  out.served_hash = r.Text(18);
  if (!p.revoked) out.emergency_edits = internal::DecodeServedOverlay(r.Text(19));
  out.latest_version = static_cast<uint64_t>(r.Int(20));
  if (!r.IsNull(21)) {
    UpdateRecord u;
    u.update_id = "u" + std::to_string(r.Int(21));
    u.partner = p.id;
    u.version = static_cast<uint64_t>(r.Int(22));
    u.mode = r.Text(23);
    u.state = r.Text(24);
    u.reason = r.Text(25);
    u.offered = r.Int(26);
    u.finished = r.Int(27);
    u.fetched_blobs = static_cast<uint64_t>(r.Int(28));
    u.fetched_bytes = static_cast<uint64_t>(r.Int(29));
    out.last_update = std::move(u);
  }
  p.suspended = r.Int(31) != 0;
  p.suspended_since = r.Int(32);
  if (p.suspended && !p.revoked) out.next_attempt = 0;
  out.summary = Word(r.Text(30), out, next_retry);
  const int64_t category = r.Int(33);
  row.category = category >= 0 && category < static_cast<int64_t>(kPartnerStateCategories.size())
                     ? kPartnerStateCategories[static_cast<size_t>(category)]
                     : PartnerStateCategory::kBehind;
  row.last_contact = r.Int(34);
  return row;
}

}  // namespace

std::string_view PartnerStateCategoryName(PartnerStateCategory category) {
  switch (category) {
    case PartnerStateCategory::kUpToDate:
      return "up-to-date";
    case PartnerStateCategory::kWaiting:
      return "waiting";
    case PartnerStateCategory::kRejected:
      return "rejected";
    case PartnerStateCategory::kFailed:
      return "failed";
    case PartnerStateCategory::kEmergencyEdited:
      return "emergency-edited";
    case PartnerStateCategory::kBehind:
      return "behind";
    case PartnerStateCategory::kSuspended:
      return "suspended";
    case PartnerStateCategory::kRevoked:
      return "revoked";
  }
  return "behind";
}

std::string_view PartnerStateCategoryLabel(PartnerStateCategory category) {
  switch (category) {
    case PartnerStateCategory::kUpToDate:
      return "Up to date";
    case PartnerStateCategory::kWaiting:
      return "Waiting for approval";
    case PartnerStateCategory::kRejected:
      return "Rejected";
    case PartnerStateCategory::kFailed:
      return "Failed";
    case PartnerStateCategory::kEmergencyEdited:
      return "Emergency-edited";
    case PartnerStateCategory::kBehind:
      return "Not yet published or behind";
    case PartnerStateCategory::kSuspended:
      return "Suspended";
    case PartnerStateCategory::kRevoked:
      return "Revoked";
  }
  return "";
}

std::optional<PartnerStateCategory> ParsePartnerStateCategory(std::string_view name) {
  for (PartnerStateCategory c : kPartnerStateCategories) {
    if (PartnerStateCategoryName(c) == name) return c;
  }
  return std::nullopt;
}

namespace {
constexpr std::array<std::pair<PartnerSortColumn, std::string_view>, 9> kSortNames = {{
    {PartnerSortColumn::kId, "id"},
    {PartnerSortColumn::kName, "name"},
    {PartnerSortColumn::kRegion, "region"},
    {PartnerSortColumn::kKind, "kind"},
    {PartnerSortColumn::kApproval, "approval"},
    {PartnerSortColumn::kSchedule, "schedule"},
    {PartnerSortColumn::kVersion, "version"},
    {PartnerSortColumn::kState, "state"},
    {PartnerSortColumn::kLastContact, "contact"},
}};
}  // namespace

std::string_view PartnerSortColumnName(PartnerSortColumn column) {
  for (const auto& [c, name] : kSortNames) {
    if (c == column) return name;
  }
  return "id";
}

std::optional<PartnerSortColumn> ParsePartnerSortColumn(std::string_view name) {
  for (const auto& [c, n] : kSortNames) {
    if (n == name) return c;
  }
  return std::nullopt;
}

Result<PartnerOverviewPage> QueryPartnerOverview(Database& db, const PartnerOverviewQuery& query) {
  if (query.search.size() > kMaxPartnerSearchBytes) {
    return Status::InvalidArgument("the search text is longer than " +
                                   std::to_string(kMaxPartnerSearchBytes) + " bytes: shorten it");
  }
  if (query.page == 0) return Status::InvalidArgument("pages are numbered from 1");
  PartnerOverviewPage page;

  // The partnerships the search matches.
  std::string where = "1 = 1";
  std::vector<SqlValue> search_params;
  if (!query.search.empty()) {
    // lower() on both sides: SQLite's LIKE ignores ASCII case, PostgreSQL's does not.
    where =
        "(lower(p.id) LIKE ? ESCAPE '\\' OR lower(p.name) LIKE ? ESCAPE '\\' OR lower(p.region) "
        "LIKE ? ESCAPE '\\')";
    const std::string pattern = LikeContainsPattern(LowerAscii(query.search));
    search_params = {pattern, pattern, pattern};
  }
  if (query.id) {
    where = "(" + where + ") AND p.id = ?";
    search_params.emplace_back(*query.id);
  }
  const std::string order = " ORDER BY " + OrderBy(query.sort, query.descending);
  auto count = [&page](int64_t category, size_t n) {
    if (category < 0 || category >= static_cast<int64_t>(page.counts.size())) return;
    page.counts[static_cast<size_t>(category)] += n;
    page.total += n;
  };

  if (query.page_size == 0) {
    // Every row at once (the command line): one pass, counted here.
    ASSIGN_OR_RETURN(auto rows,
                     db.Query("SELECT * FROM (" + RowsSql(where) + ") s" + order, search_params));
    for (const SqlRow& r : rows) {
      PartnerOverviewRow row = RowFrom(r);
      count(static_cast<int64_t>(row.category), 1);
      if (!query.state || row.category == *query.state) page.rows.push_back(std::move(row));
    }
    page.matching = page.rows.size();
    return page;
  }

  // Pass one, on the derived table (brought up to date first): the count in each state, and the
  // page's ids by the filter and the sort.
  RETURN_IF_ERROR(RefreshOverview(db, query.now));
  const bool filtered = !query.search.empty() || query.id.has_value();
  // With a search (or an id), the partnerships are scanned first (CROSS JOIN keeps that order in
  // SQLite) and only those that match are looked up; without one, the state's index leads.
  const std::string keys =
      "SELECT p.id, p.name, p.region, p.kind, p.approval, p.schedule, p.active_version, "
      "o.latest, o.category, o.contact FROM sync_partnerships p " +
      (filtered ? "CROSS JOIN sync_overview o WHERE o.partner = p.id AND (" + where + ")"
                : "JOIN sync_overview o ON o.partner = p.id WHERE " + where);
  ASSIGN_OR_RETURN(auto counts,
                   !filtered
                       ? db.Query("SELECT category, COUNT(*) FROM sync_overview GROUP BY 1")
                       : db.Query("SELECT s.category, COUNT(*) FROM (" + keys + ") s GROUP BY 1",
                                  search_params));
  for (const SqlRow& r : counts) count(r.Int(0), static_cast<size_t>(r.Int(1)));
  page.matching = query.state ? page.counts[static_cast<size_t>(*query.state)] : page.total;
  std::string ids_sql = "SELECT s.id FROM (" + keys + ") s";
  std::vector<SqlValue> params = search_params;
  if (query.state) {
    ids_sql += " WHERE s.category = ?";
    params.emplace_back(static_cast<int64_t>(*query.state));
  }
  ids_sql += order + " LIMIT ? OFFSET ?";
  params.emplace_back(static_cast<int64_t>(query.page_size));
  params.emplace_back(static_cast<int64_t>((query.page - 1) * query.page_size));
  ASSIGN_OR_RETURN(auto pass_one, db.Query(ids_sql, params));

  // Pass two: the full rows of the page's ids (the sentence's facts, the last contact).
  std::string in;
  std::vector<SqlValue> id_params;
  std::unordered_map<std::string, size_t> position;
  for (const SqlRow& r : pass_one) {
    in += in.empty() ? "?" : ",?";
    position.emplace(r.Text(0), id_params.size());
    id_params.emplace_back(r.Text(0));
  }
  if (id_params.empty()) return page;
  ASSIGN_OR_RETURN(auto rows, db.Query(RowsSql("p.id IN (" + in + ")"), id_params));
  page.rows.resize(rows.size());
  for (const SqlRow& r : rows) {
    auto it = position.find(r.Text(0));
    if (it == position.end() || it->second >= page.rows.size()) continue;
    page.rows[it->second] = RowFrom(r);
  }
  return page;
}

Result<std::string> PartnerOverviewGeneration(Database& db) {
  ASSIGN_OR_RETURN(auto rows, db.Query("SELECT (SELECT COALESCE(MAX(id), 0) FROM sync_events), "
                                       "(SELECT COALESCE(MAX(id), 0) FROM sync_updates), "
                                       "(SELECT COUNT(*) FROM sync_partnerships)"));
  if (rows.empty()) return std::string("0");
  return std::to_string(rows[0].Int(0)) + "." + std::to_string(rows[0].Int(1)) + "." +
         std::to_string(rows[0].Int(2));
}

namespace internal {

std::map<std::string, std::string> DecodeVariables(const std::string& text) {
  std::map<std::string, std::string> out;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return out;
  for (const auto& kv : v.get_object()) {
    if (kv.value().is_string()) out[std::string(kv.key())] = std::string(kv.value().get_string());
  }
  return out;
}

std::vector<EmergencyEditState> DecodeServedOverlay(const std::string& text) {
  std::vector<EmergencyEditState> out;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_array()) return out;
  for (const json::value& item : v.get_array()) {
    const json::object* o = item.if_object();
    if (o == nullptr) continue;
    EmergencyEditState e;
    if (const auto* p = o->if_contains("path"); p && p->is_string()) e.path = p->get_string();
    if (const auto* h = o->if_contains("hash"); h && h->is_string()) e.hash = h->get_string();
    if (const auto* b = o->if_contains("by"); b && b->is_string()) e.by = b->get_string();
    if (const auto* a = o->if_contains("at"); a && a->is_int64()) e.at = a->get_int64();
    if (const auto* a = o->if_contains("at"); a && a->is_uint64()) e.at = a->get_uint64();
    if (!e.path.empty()) out.push_back(std::move(e));
  }
  return out;
}

}  // namespace internal
}  // namespace tieup::sync
