// The partners at a glance (/): one page of the partnerships (sync/partner_overview.h: searched,
// filtered by state, sorted and paged by the database), the count in each state, and the state
// of each in the words of `tieup main status`. Everything is in the URL's query (q, state, sort,
// dir, page), so a view can be shared and works without JavaScript; partners.js re-reads the
// page when the daemon announces that a partner's state changed ("partners" events, below).
#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/encoding.h"
#include "commerce/form.h"
#include "main_site/console_common.h"
#include "sync/partner_overview.h"

namespace tieup::main_console {
namespace {

constexpr size_t kPageSize = 50;
// Page links shown on each side of the current page (besides the first and the last).
constexpr size_t kPageLinksAround = 2;

// The page's query, parsed once.
struct PartnersParams {
  std::string search;
  std::optional<sync::PartnerStateCategory> state;
  sync::PartnerSortColumn sort = sync::PartnerSortColumn::kId;
  bool descending = false;
  size_t page = 1;
};

// Reads q, state, sort, dir and page. A value that does not read is a 400 page saying which.
std::optional<ConsolePage> ParseParams(std::string_view query, PartnersParams& out) {
  auto form = commerce::ParseForm(query);
  if (!form.ok()) return Problem(400, "This address does not read", form.status().message());
  std::string_view q = form->Get("q");
  while (!q.empty() && q.front() == ' ') q.remove_prefix(1);
  while (!q.empty() && q.back() == ' ') q.remove_suffix(1);
  if (q.size() > sync::kMaxPartnerSearchBytes) {
    return Problem(400, "Search too long",
                   "Search for at most " + std::to_string(sync::kMaxPartnerSearchBytes) +
                       " characters of a partner's id, name or region.");
  }
  out.search = std::string(q);
  if (std::string_view state = form->Get("state"); !state.empty()) {
    out.state = sync::ParsePartnerStateCategory(state);
    if (!out.state) {
      return Problem(400, "Unknown state",
                     "There is no state '" + std::string(state) + "': pick one from the list.");
    }
  }
  if (std::string_view sort = form->Get("sort"); !sort.empty()) {
    auto column = sync::ParsePartnerSortColumn(sort);
    if (!column) return Problem(400, "Unknown column", "Partners cannot be sorted by that.");
    out.sort = *column;
  }
  out.descending = form->Get("dir") == "desc";
  if (std::string_view page = form->Get("page"); !page.empty()) {
    size_t n = 0;
    bool ok = page.size() <= 6;
    for (char c : page) {
      ok = ok && c >= '0' && c <= '9';
      if (ok) n = n * 10 + static_cast<size_t>(c - '0');
    }
    if (!ok || n == 0) return Problem(400, "No such page", "Pages are numbered from 1.");
    out.page = n;
  }
  return std::nullopt;
}

// The address of the page showing `p`: only what differs from the defaults.
std::string Href(const PartnersParams& p) {
  std::string query;
  auto add = [&](std::string_view name, std::string_view value) {
    query += query.empty() ? "?" : "&";
    query += name;
    query += '=';
    query += commerce::PercentEncode(value);
  };
  if (!p.search.empty()) add("q", p.search);
  if (p.state) add("state", sync::PartnerStateCategoryName(*p.state));
  if (p.sort != sync::PartnerSortColumn::kId) add("sort", sync::PartnerSortColumnName(p.sort));
  if (p.descending) add("dir", "desc");
  if (p.page > 1) add("page", std::to_string(p.page));
  return "/" + query;
}

// 12345 as "12,345".
std::string Count(size_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

json::array Columns(const PartnersParams& p) {
  struct Column {
    const char* label;
    sync::PartnerSortColumn sort;
  };
  // The state comes early: on a phone the table scrolls sideways, and the state is what a glance
  // is for.
  static const Column kColumns[] = {
      {"Partner", sync::PartnerSortColumn::kId},
      {"Name", sync::PartnerSortColumn::kName},
      {"State", sync::PartnerSortColumn::kState},
      {"Live / latest", sync::PartnerSortColumn::kVersion},
      {"Region", sync::PartnerSortColumn::kRegion},
      {"Kind", sync::PartnerSortColumn::kKind},
      {"Approval", sync::PartnerSortColumn::kApproval},
      {"Schedule", sync::PartnerSortColumn::kSchedule},
      {"Last contact", sync::PartnerSortColumn::kLastContact},
  };
  json::array out;
  for (const Column& c : kColumns) {
    const bool sorted = p.sort == c.sort;
    PartnersParams link = p;
    link.sort = c.sort;
    link.descending = sorted && !p.descending;  // a second click reverses
    link.page = 1;
    out.push_back(json::object{
        {"label", c.label},
        {"href", Href(link)},
        {"aria_sort", sorted ? (p.descending ? "descending" : "ascending") : "none"},
        {"indicator", sorted ? (p.descending ? "▼" : "▲") : ""},
        {"hint", sorted
                     ? (p.descending ? "sorted descending; reverse" : "sorted ascending; reverse")
                     : "sort by this column"},
    });
  }
  return out;
}

json::object Pagination(const PartnersParams& p, size_t matching) {
  const size_t pages = std::max<size_t>(1, (matching + kPageSize - 1) / kPageSize);
  json::array links;
  size_t last_shown = 0;
  for (size_t n = 1; n <= pages; ++n) {
    const bool near = n + kPageLinksAround >= p.page && n <= p.page + kPageLinksAround;
    if (n != 1 && n != pages && !near) continue;
    if (last_shown != 0 && n > last_shown + 1) links.push_back(json::object{{"gap", true}});
    PartnersParams link = p;
    link.page = n;
    links.push_back(json::object{
        {"number", n}, {"href", Href(link)}, {"current", n == p.page}, {"gap", false}});
    last_shown = n;
  }
  json::object out{{"pages", std::move(links)}, {"multiple", pages > 1}};
  if (p.page > 1) {
    PartnersParams prev = p;
    prev.page = std::min(p.page - 1, pages);
    out["prev_href"] = Href(prev);
  }
  if (p.page < pages) {
    PartnersParams next = p;
    next.page = p.page + 1;
    out["next_href"] = Href(next);
  }
  return out;
}

// A past moment `at` (unix seconds) for the table: {"ago": "12 min ago", "for": "12 min",
// "utc": RFC 3339}.
json::object Moment(int64_t at, int64_t now) {
  const int64_t d = std::max<int64_t>(0, now - at);
  std::string span;
  if (d < 60) {
    span = "under a minute";
  } else if (d < 3600) {
    span = std::to_string(d / 60) + " min";
  } else if (d < 2 * 86400) {
    span = std::to_string(d / 3600) + " h";
  } else {
    span = std::to_string(d / 86400) + " days";
  }
  return json::object{
      {"ago", d < 60 ? "just now" : span + " ago"}, {"for", span}, {"utc", FormatRfc3339(at)}};
}

json::object Row(const sync::PartnerOverviewRow& row, int64_t now) {
  const sync::PartnerStatusReport& r = row.report;
  const sync::Partnership& p = r.partnership;
  // Moments as "12 min ago" (with the exact UTC time as the element's datetime and title): what a
  // glance needs, and cheap for 50 rows.
  json::object since;
  if (r.last_update) {
    const sync::UpdateRecord& u = *r.last_update;
    if (row.category == sync::PartnerStateCategory::kWaiting) {
      since = Moment(u.offered, now);
    } else if ((row.category == sync::PartnerStateCategory::kFailed ||
                row.category == sync::PartnerStateCategory::kRejected) &&
               u.finished > 0) {
      since = Moment(u.finished, now);
    }
  }
  return json::object{
      {"id", p.id},
      {"href", "/partners/" + commerce::PercentEncode(p.id)},
      {"name", p.name},
      {"region", p.region},
      {"kind", sync::PartnershipKindName(p.kind)},
      {"approval", sync::ApprovalPolicyName(p.approval)},
      {"schedule", p.schedule.empty() ? "manual" : p.schedule},
      {"pull", p.sync_url.empty()},
      {"live", r.active_version == 0 ? "none" : std::to_string(r.active_version)},
      {"latest", r.latest_version == 0 ? "none" : std::to_string(r.latest_version)},
      {"category", sync::PartnerStateCategoryName(row.category)},
      {"category_label", sync::PartnerStateCategoryLabel(row.category)},
      {"state", r.summary},
      {"since", since.empty() ? json::value(nullptr) : json::value(std::move(since))},
      {"contact", row.last_contact == 0 ? json::value(nullptr) : Moment(row.last_contact, now)},
  };
}

// The ledger column of the page's rows: how far main verified each partner's access ledger, and
// its open alerts (what was detected), linked to the partner's Ledger & fees view.
void AddLedgerColumn(ConsoleState& s, const std::vector<sync::PartnerOverviewRow>& page,
                     json::array& rows) {
  std::vector<std::string> ids;
  for (const sync::PartnerOverviewRow& row : page) ids.push_back(row.report.partnership.id);
  auto checkpoints = s.ledger->CheckpointSummaries(ids);
  for (size_t i = 0; i < rows.size(); ++i) {
    json::object& row = rows[i].as_object();
    json::object ledger{{"href", "/ledger?partner=" + commerce::PercentEncode(ids[i])}};
    if (!checkpoints.ok()) {
      ledger["words"] = "unavailable";
    } else if (const LedgerCheckpointSummary& c = (*checkpoints)[i]; !c.shipped) {
      ledger["words"] = "not shipped yet";
    } else {
      ledger["words"] = "verified up to " + Count(c.accepted_size) +
                        (c.accepted_size == 1 ? " entry" : " entries");
    }
    auto alerts = s.ledger->Alerts(ids[i], /*include_resolved=*/false);
    if (alerts.ok() && !alerts->empty()) {
      std::set<std::string> kinds;
      for (const LedgerAlert& a : *alerts) kinds.insert(a.kind);
      std::string what;
      for (const std::string& k : kinds) what += (what.empty() ? "" : ", ") + k;
      ledger["alerts"] =
          Count(alerts->size()) + (alerts->size() == 1 ? " alert" : " alerts") + " (" + what + ")";
    }
    row["ledger"] = std::move(ledger);
  }
}

ConsolePage Partners(ConsoleState& s, const ConsoleRequest& r) {
  PartnersParams params;
  if (auto problem = ParseParams(r.http.query(), params)) return *problem;
  sync::PartnerOverviewQuery query;
  query.search = params.search;
  query.state = params.state;
  query.sort = params.sort;
  query.descending = params.descending;
  query.page = params.page;
  query.page_size = kPageSize;
  query.now = s.daemon->env().NowSeconds();
  auto page = sync::QueryPartnerOverview(s.daemon->db(), query);
  if (!page.ok()) return Problem(500, "Partners unavailable", page.status().message());

  json::array rows;
  const int64_t now = s.daemon->env().NowSeconds();
  for (const sync::PartnerOverviewRow& row : page->rows) rows.push_back(Row(row, now));
  AddLedgerColumn(s, page->rows, rows);

  // The state filter: every state with its count (within the search), as links and as the
  // form's choices.
  json::array filters, options;
  PartnersParams any = params;
  any.state.reset();
  any.page = 1;
  filters.push_back(json::object{{"label", "All"},
                                 {"count", Count(page->total)},
                                 {"href", Href(any)},
                                 {"current", !params.state},
                                 {"category", "all"}});
  for (sync::PartnerStateCategory c : sync::kPartnerStateCategories) {
    const size_t n = page->counts[static_cast<size_t>(c)];
    PartnersParams link = any;
    link.state = c;
    const bool current = params.state == c;
    options.push_back(json::object{{"value", sync::PartnerStateCategoryName(c)},
                                   {"label", sync::PartnerStateCategoryLabel(c)},
                                   {"count", Count(n)},
                                   {"selected", current}});
    if (n == 0 && !current) continue;  // the links show the states that occur
    filters.push_back(json::object{{"label", sync::PartnerStateCategoryLabel(c)},
                                   {"count", Count(n)},
                                   {"href", Href(link)},
                                   {"current", current},
                                   {"category", sync::PartnerStateCategoryName(c)}});
  }

  const size_t first = (params.page - 1) * kPageSize + 1;
  std::string showing;
  if (!page->rows.empty()) {
    showing =
        Count(first) + "–" + Count(first + page->rows.size() - 1) + " of " + Count(page->matching);
  }
  PartnersParams reset;
  ConsolePage p;
  p.title = "Partners";
  p.template_name = "partners";
  p.data = json::object{
      {"q", params.search},
      {"filtering", !params.search.empty() || params.state.has_value()},
      {"reset_href", Href(reset)},
      {"sort", sync::PartnerSortColumnName(params.sort)},
      {"sorted", params.sort != sync::PartnerSortColumn::kId},
      {"desc", params.descending},
      {"filters", std::move(filters)},
      {"options", std::move(options)},
      {"any_selected", !params.state},
      {"columns", Columns(params)},
      {"partners", std::move(rows)},
      {"has_rows", !page->rows.empty()},
      {"no_partners", page->total == 0 && params.search.empty()},
      {"showing", showing},
      {"pagination", Pagination(params, page->matching)},
      {"page_past_end", page->rows.empty() && page->matching > 0},
  };
  return p;
}

// Announces, at most once a tick, that the partners' states may have changed: open partner
// tables re-read themselves (partners.js). Runs on the daemon's background thread only.
class PartnersWatch {
 public:
  explicit PartnersWatch(ConsoleState& s) : s_(s) {}
  void Tick() {
    auto generation = sync::PartnerOverviewGeneration(s_.daemon->db());
    if (!generation.ok() || *generation == last_) return;
    const bool first = last_.empty();
    last_ = *generation;
    // No title or message: the console shows no banner, the table just changes.
    if (!first) s_.console->Publish("partners", json::object{{"generation", last_}});
  }

 private:
  ConsoleState& s_;
  std::string last_;
};

}  // namespace

void AddPartnersPages(ConsoleState& s) {
  s.console->AddPage("/", [&s](const ConsoleRequest& r) { return Partners(s, r); });
  auto watch = std::make_shared<PartnersWatch>(s);
  s.daemon->AddPeriodicTask(
      "partners table", [watch] { watch->Tick(); }, MainDaemon::TaskScope::kProcess);
}

}  // namespace tieup::main_console
