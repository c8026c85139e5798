// /ledger: per-partner verification and alerts; fee statements.
//
//   GET  /ledger[?partner=ID|?q=TEXT][&page=N]
//                                         each partner's ledger as main verified it (entries
//                                         covered by the last accepted checkpoint, its root, when
//                                         entries last arrived), its open alerts (what was
//                                         detected, the range left out of fees), its statements,
//                                         and the form that writes statements for a period; one
//                                         page of partners at a time, read by the database
//                                         (sync/partner_overview.h; q: id, name or region
//                                         contains), or the one asked for
//   POST /ledger  action=generate, period=YYYY-MM, partner=ID (empty: every partnership not
//                 revoked): writes the statements on this area's own thread, audited; 303 back,
//                 where "statements-progress" events (ledger.js) update each partner's row and
//                 "statements-finished" says how it ended; without JavaScript a reload shows
//                 the current state
//                                         Each row also says what customers searched for on
//                                         the partner's site in the last 30 days (its search
//                                         records, as `tieup main searches` lists them): how
//                                         many searches, how many found nothing and the words
//                                         most often searched for in vain, and which results
//                                         were opened
//   GET  /ledger/statements/ID/PERIOD      a statement: its fee lines, total and chart
//   GET  /ledger/statements/ID/PERIOD.csv  the statement's CSV, as delivered to the partner
//
// Statements are written by LedgerCollector::WriteStatement with the partnership's contract
// (SITE_DIR/contracts/ID.toml), as `tieup main fees statement` writes them. The console keeps the
// last run in memory; the statements themselves are in SITE_DIR/statements/.
#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <thread>

#include "base/money_format.h"
#include "commerce/form.h"
#include "fees/statement.h"
#include "fees/statement_chart.h"
#include "main_site/console_common.h"
#include "main_site/ledger_service.h"
#include "sync/partner_overview.h"

namespace tieup::main_console {
namespace {

constexpr size_t kPartnersPerPage = 25;
constexpr std::string_view kStatementPages = "/ledger/statements/";
// Statements listed in a partner's row, the newest first (the partner's page lists them all).
constexpr size_t kStatementsInRow = 3;
// What customers searched for: over the last kSearchDays days, the kZeroResultQueriesInRow
// words most often searched for in vain.
constexpr int64_t kSearchDays = 30;
constexpr size_t kZeroResultQueriesInRow = 5;

std::string Count(uint64_t n) { return std::to_string(n); }

std::string StatementHref(const std::string& partner, const std::string& period) {
  return std::string(kStatementPages) + partner + "/" + period;
}

// What an alert's kind means, for the main manager.
std::string AlertWords(const LedgerAlert& a) {
  static const std::map<std::string, std::string, std::less<>> kWords = {
      {"key", "Another key: the ledger was signed with a key other than the pinned one"},
      {"signature", "Signature: a checkpoint's signature did not verify"},
      {"truncation", "Truncation: the ledger is shorter than when main last saw it"},
      {"fork", "Fork: the ledger's history changed after it was signed"},
      {"rewrite", "Rewrite: entries were changed, deleted or reordered"},
      {"entries", "Entries: stored records changed after they were signed"},
      {"unrecorded", "Unrecorded requests: the partner could not record some requests"},
  };
  auto it = kWords.find(a.kind);
  return it != kWords.end() ? it->second : "Alert (" + a.kind + ")";
}

// A run of statement writing: one period, for every partnership or one.
struct Run {
  struct Row {
    Row(std::string partner, std::string name)
        : partner(std::move(partner)), name(std::move(name)) {}
    std::string partner, name;
    std::string state = "queued";  // queued, writing, written, skipped, failed
    std::string words = "Queued";  // for people
    std::string href;              // the statement, once written
  };
  std::string period;
  std::string by;                     // the manager's email
  std::string scope;                  // "every partner (2)", "shop-a"
  int64_t started = 0, finished = 0;  // micros
  bool running = true;
  std::vector<Row> rows;
  std::map<std::string, size_t, std::less<>> index;  // partner -> rows
  size_t done = 0, written = 0, skipped = 0, failed = 0;
  std::string summary;  // at the end

  std::string Summary() const {
    return "Statements for " + period + ": " + Count(written) + " written, " + Count(skipped) +
           " not written (no contract or no ledger yet), " + Count(failed) + " failed.";
  }
};

json::object RowEvent(const Run& run, const Run::Row& row) {
  return json::object{{"period", run.period},    {"partner", row.partner}, {"state", row.state},
                      {"words", row.words},      {"href", row.href},       {"done", run.done},
                      {"count", run.rows.size()}};
}

class LedgerArea {
 public:
  LedgerArea(ConsoleState& s, std::shared_ptr<LedgerCollector> collector)
      : s_(s), collector_(std::move(collector)) {}

  ConsolePage Ledger(const ConsoleRequest& r) {
    if (r.http.method() == "POST") {
      if (r.form.Get("action") != "generate") {
        return Problem(400, "Unknown action", "Use the page's Write statements button.");
      }
      return Generate(r);
    }
    auto query = commerce::ParseForm(r.http.query());
    const commerce::FormFields q = query.ok() ? std::move(*query) : commerce::FormFields();
    return LedgerPage(std::string(q.Get("partner")), std::string(commerce::Trim(q.Get("q"))),
                      std::string(q.Get("page")), {});
  }

  ConsolePage Statement(const ConsoleRequest& r) {
    const std::string rest(r.http.path().substr(kStatementPages.size()));
    const size_t slash = rest.find('/');
    std::string partner = rest.substr(0, slash);
    std::string period = slash == std::string::npos ? "" : rest.substr(slash + 1);
    const bool csv = period.ends_with(".csv");
    if (csv) period.resize(period.size() - 4);
    auto delivery = IsValidSiteId(partner) && !period.empty()
                        ? collector_->ReadStatement(partner, period)
                        : Result<StatementDelivery>(Status::NotFound(""));
    if (!delivery.ok()) {
      if (delivery.status().code() == StatusCode::kNotFound) {
        return Problem(404, "No such statement",
                       "Main has written no statement at " +
                           std::string(r.http.path()).substr(0, 120) +
                           ". The statements written are listed on the Ledger & fees page.");
      }
      return Problem(500, "The statement cannot be read",
                     delivery.status().message() + " Write it again from the Ledger & fees page.");
    }
    if (csv) {
      ConsolePage page;
      page.download = console::Download{"text/csv; charset=utf-8", partner + "-" + period + ".csv",
                                        std::move(delivery->csv)};
      return page;
    }
    auto st = fees::ParseStatementCsv(delivery->csv);
    if (!st.ok()) {
      return Problem(500, "The statement cannot be read",
                     st.status().message() + " Write it again from the Ledger & fees page.");
    }
    return StatementPage(*delivery, *st);
  }

  // Waits for the run in progress (the daemon stops).
  void Join() {
    std::thread t;
    {
      std::lock_guard<std::mutex> guard(mu_);
      stopping_ = true;
      t = std::move(thread_);
    }
    if (t.joinable()) t.join();
  }

 private:
  std::string Money(int64_t minor, const std::string& currency) const {
    return FormatMoney(minor, currency, s_.config().locale);
  }

  // POST action=generate: checks the form and starts the run.
  ConsolePage Generate(const ConsoleRequest& r) {
    const std::string period(commerce::Trim(r.form.Get("period")));
    const std::string partner(commerce::Trim(r.form.Get("partner")));
    const std::string filter(r.form.Get("filter"));  // the page's partner filter, kept
    static const std::regex kMonth("[0-9]{4}-[0-9]{2}");
    if (!std::regex_match(period, kMonth) || !fees::ParsePeriod(period).ok()) {
      return LedgerPage(
          filter, "", "",
          FormError{period.substr(0, 40),
                    "Type a month as YYYY-MM, for instance " +
                        fees::FormatDay(s_.daemon->env().NowMicros()).substr(0, 7) + "."});
    }
    std::vector<Run::Row> rows;
    if (!partner.empty()) {
      auto p = IsValidSiteId(partner) ? s_.daemon->sync().publisher().GetPartnership(partner)
                                      : Result<sync::Partnership>(Status::NotFound(""));
      if (!p.ok()) {
        return LedgerPage(filter, "", "",
                          FormError{period, "There is no partnership '" + partner.substr(0, 64) +
                                                "': choose one from the list."});
      }
      rows.emplace_back(p->id, p->name);
    } else {
      auto all = s_.daemon->sync().publisher().ListPartnerships();
      if (!all.ok()) throw std::runtime_error(all.status().ToString());
      for (const sync::Partnership& p : *all) {
        if (!p.revoked) rows.emplace_back(p.id, p.name);
      }
    }
    auto run = std::make_shared<Run>();
    run->period = period;
    run->by = r.manager.email;
    run->scope = partner.empty() ? "every partner (" + Count(rows.size()) + ")" : partner;
    run->started = s_.daemon->env().NowMicros();
    run->rows = std::move(rows);
    for (size_t i = 0; i < run->rows.size(); ++i) run->index[run->rows[i].partner] = i;
    {
      std::lock_guard<std::mutex> guard(mu_);
      if (run_ && run_->running) {
        return Redirect(Back(filter), "Statements for " + run_->period +
                                          " are being written: wait until they are done.");
      }
      if (stopping_) return Problem(503, "Stopping", "The site is stopping. Try again later.");
      if (thread_.joinable()) thread_.join();  // finished
      run_ = run;
      thread_ = std::thread([this, run] { Execute(*run); });
    }
    (void)s_.console->Audit(r, "fees.statements", "period " + period + " for " + run->scope);
    return Redirect(Back(filter), "Writing the statements for " + period + " for " + run->scope +
                                      "; each partner's row shows its progress.");
  }

  static std::string Back(const std::string& filter) {
    return filter.empty() || !IsValidSiteId(filter) ? "/ledger" : "/ledger?partner=" + filter;
  }

  // The run's thread: each partner's statement in turn, an event at each step.
  void Execute(Run& run) {
    for (size_t i = 0; i < run.rows.size(); ++i) {
      const std::string partner = run.rows[i].partner;
      {
        std::lock_guard<std::mutex> guard(mu_);
        if (stopping_) break;
        run.rows[i].state = "writing";
        run.rows[i].words = "Writing…";
      }
      Progress(run, i);
      const std::string contract = collector_->ContractPath(partner);
      std::string state, words, href;
      if (!s_.daemon->env().FileExists(contract)) {
        state = "skipped";
        words = "Not written: no contract (" + contract + ")";
      } else {
        auto f = collector_->WriteStatement(partner, run.period, "");
        if (f.ok()) {
          state = "written";
          words = "Written: " + Money(f->total_minor, f->currency);
          href = StatementHref(partner, run.period);
        } else if (f.status().code() == StatusCode::kFailedPrecondition) {
          state = "skipped";
          words = "Not written: " + f.status().message();
        } else {
          state = "failed";
          words = "Failed: " + f.status().message();
          s_.daemon->logger()->warn("statement for '{}' {}: {}", partner, run.period,
                                    f.status().ToString());
        }
      }
      {
        std::lock_guard<std::mutex> guard(mu_);
        Run::Row& row = run.rows[i];
        row.state = state;
        row.words = words;
        row.href = href;
        ++run.done;
        ++(state == "written" ? run.written : state == "skipped" ? run.skipped : run.failed);
      }
      Progress(run, i);
    }
    json::object end;
    {
      std::lock_guard<std::mutex> guard(mu_);
      run.running = false;
      run.finished = s_.daemon->env().NowMicros();
      run.summary = run.Summary();
      end = json::object{{"title", "Fee statements"}, {"message", run.summary},
                         {"href", "/ledger"},         {"period", run.period},
                         {"done", run.done},          {"count", run.rows.size()}};
    }
    s_.daemon->logger()->info("console: {}", run.summary);
    s_.console->Publish("statements-finished", std::move(end));
  }

  void Progress(const Run& run, size_t i) {
    json::object event;
    {
      std::lock_guard<std::mutex> guard(mu_);
      event = RowEvent(run, run.rows[i]);
    }
    s_.console->Publish("statements-progress", std::move(event));
  }

  struct FormError {
    std::string period;
    std::string message;
  };

  json::object RunData(const Run& run) const {
    return json::object{{"period", run.period},
                        {"scope", run.scope},
                        {"by", run.by},
                        {"started", s_.Time(run.started)},
                        {"running", run.running},
                        {"finished", run.running ? "" : s_.Time(run.finished)},
                        {"summary", run.summary},
                        {"done", Count(run.done)},
                        {"count", Count(run.rows.size())}};
  }

  json::object LedgerData(const LedgerCheckpointSummary& c) const {
    json::object o{{"shipped", c.shipped}, {"entries", Count(c.accepted_size)}};
    if (c.shipped) {
      o["root"] = c.accepted_root_hex.substr(0, 16);
      o["root_full"] = c.accepted_root_hex;
      o["when"] = c.last_received > 0 ? s_.Time(c.last_received * 1'000'000) : "";
    }
    return o;
  }

  json::array AlertsData(const std::vector<LedgerAlert>& alerts) const {
    json::array out;
    for (const LedgerAlert& a : alerts) {
      json::object o{{"id", Count(a.id)},
                     {"kind", a.kind},
                     {"words", AlertWords(a)},
                     {"message", a.message},
                     {"when", s_.Time(a.time * 1'000'000)}};
      if (a.begin < a.end) {
        o["excluded"] = "Entries " + Count(a.begin) + " to " + Count(a.end - 1) +
                        " are left out of fees until the alert is resolved.";
      }
      out.push_back(std::move(o));
    }
    return out;
  }

  ConsolePage LedgerPage(const std::string& filter, const std::string& search,
                         const std::string& page_text, const std::optional<FormError>& error) {
    auto& publisher = s_.daemon->sync().publisher();
    json::object data;
    std::vector<sync::Partnership> shown;
    size_t page = 1, pages = 1, total = 0;
    if (!filter.empty()) {
      auto p = IsValidSiteId(filter) ? publisher.GetPartnership(filter)
                                     : Result<sync::Partnership>(Status::NotFound(""));
      if (!p.ok()) {
        return Problem(404, "No such partner",
                       "There is no partnership '" + filter.substr(0, 64) +
                           "'. Every partner is listed on the Ledger & fees page.");
      }
      shown.push_back(std::move(*p));
      total = 1;
      data["filter"] = filter;
      data["filter_name"] = shown[0].name;
    } else {
      // One page of partnerships, read by the database (as the Partners page reads them).
      sync::PartnerOverviewQuery query;
      query.search = search.substr(0, sync::kMaxPartnerSearchBytes);
      auto n = commerce::ParseDigits(page_text, 6);
      query.page = n && *n > 0 ? static_cast<size_t>(*n) : 1;
      query.page_size = kPartnersPerPage;
      query.now = s_.daemon->env().NowSeconds();
      auto found = sync::QueryPartnerOverview(s_.daemon->db(), query);
      if (!found.ok()) throw std::runtime_error(found.status().ToString());
      total = found->matching;
      pages = std::max<size_t>(1, (total + kPartnersPerPage - 1) / kPartnersPerPage);
      page = std::min(query.page, pages);
      for (sync::PartnerOverviewRow& row : found->rows) {
        shown.push_back(std::move(row.report.partnership));
      }
      data["q"] = query.search;
      data["searching"] = !query.search.empty();
    }
    std::vector<std::string> ids;
    for (const sync::Partnership& p : shown) ids.push_back(p.id);
    auto checkpoints = collector_->CheckpointSummaries(ids);
    if (!checkpoints.ok()) throw std::runtime_error(checkpoints.status().ToString());

    std::shared_ptr<Run> run;
    json::object run_data;
    {
      std::lock_guard<std::mutex> guard(mu_);
      run = run_;
      if (run) run_data = RunData(*run);
    }
    json::array rows;
    for (size_t i = 0; i < shown.size(); ++i) {
      const sync::Partnership& p = shown[i];
      json::object row{{"id", p.id},
                       {"name", p.name},
                       {"revoked", p.revoked},
                       {"href", "/partners/" + p.id},
                       {"ledger", LedgerData((*checkpoints)[i])}};
      auto alerts = collector_->Alerts(p.id, /*include_resolved=*/false);
      json::array list = alerts.ok() ? AlertsData(*alerts) : json::array{};
      row["has_alerts"] = !list.empty();
      row["alert_count"] = Count(list.size());
      row["alerts"] = std::move(list);
      if (!alerts.ok()) row["alerts_error"] = alerts.status().message();
      if (run) {
        std::lock_guard<std::mutex> guard(mu_);
        auto at = run->index.find(p.id);
        if (at != run->index.end()) {
          const Run::Row& r = run->rows[at->second];
          row["run"] = json::object{{"state", r.state}, {"words", r.words}, {"href", r.href}};
        }
      }
      auto statements = collector_->Statements(p.id);
      json::array links;
      if (statements.ok()) {
        for (auto it = statements->rbegin();
             it != statements->rend() && links.size() < kStatementsInRow; ++it) {
          links.push_back(
              json::object{{"period", it->period}, {"href", StatementHref(p.id, it->period)}});
        }
      }
      row["has_statements"] = !links.empty();
      row["statements"] = std::move(links);
      row["search_use"] = SearchesData(p.id);
      rows.push_back(std::move(row));
    }
    data["rows"] = std::move(rows);
    data["has_rows"] = !shown.empty();
    data["total"] = Count(total) + (total == 1 ? " partner" : " partners");
    if (run) data["run"] = std::move(run_data);
    data["period"] =
        error ? error->period : fees::FormatDay(s_.daemon->env().NowMicros()).substr(0, 7);
    if (error) data["error"] = error->message;
    data["paged"] = pages > 1;
    data["page"] = Count(page);
    data["pages"] = Count(pages);
    const std::string more =
        search.empty() ? "" : "&q=" + commerce::PercentEncode(search.substr(0, 200));
    if (page > 1) data["prev_href"] = "/ledger?page=" + Count(page - 1) + more;
    if (page < pages) data["next_href"] = "/ledger?page=" + Count(page + 1) + more;
    ConsolePage out;
    out.status = error ? 400 : 200;
    out.title = filter.empty() ? "Ledger & fees" : "Ledger & fees: " + shown[0].name;
    out.template_name = "ledger";
    out.data = std::move(data);
    return out;
  }

  // What customers searched for on `partner`'s site lately (its ledger's search records).
  json::object SearchesData(const std::string& partner) {
    const int64_t since = s_.daemon->env().NowMicros() - kSearchDays * fees::kMicrosPerDay;
    auto summaries = collector_->SearchSummaries(partner, since);
    auto zero = collector_->ZeroResultQueries(partner, since, kZeroResultQueriesInRow);
    if (!summaries.ok() || !zero.ok()) {
      return json::object{
          {"error", (summaries.ok() ? zero.status() : summaries.status()).message()}};
    }
    if (summaries->empty()) return json::object{{"none", true}};
    const SearchSummary& sum = summaries->front();
    json::array words;
    for (const ZeroResultQuery& q : *zero) {
      words.push_back(
          json::object{{"query", q.query},
                       {"times", q.searches == 1 ? "once" : std::to_string(q.searches) + " times"},
                       {"when", s_.Time(q.last_micros)}});
    }
    return json::object{
        {"count", std::to_string(sum.searches) + (sum.searches == 1 ? " search" : " searches")},
        {"zero", sum.zero_result == 0 ? std::string("every one found pages")
                                      : std::to_string(sum.zero_result) + " found nothing"},
        {"has_words", !words.empty()},
        {"words", std::move(words)},
        {"tieup_clicks", std::to_string(sum.tieup_clicks)},
        {"original_clicks", std::to_string(sum.original_clicks)}};
  }

  ConsolePage StatementPage(const StatementDelivery& d, const fees::Statement& st) {
    const std::string& partner = d.record.partner;
    auto p = s_.daemon->sync().publisher().GetPartnership(partner);
    const std::string name = p.ok() ? p->name : partner;
    json::array lines;
    for (const fees::LineItem& l : st.lines) {
      lines.push_back(json::object{{"description", l.description},
                                   {"inputs", fees::LineInputsWords(l)},
                                   {"amount", Money(l.amount_minor, st.currency)}});
    }
    fees::StatementChartWords words;
    words.original_label = name + "'s own pages";
    words.original_words = name + "'s own pages";
    const std::string href = StatementHref(partner, st.period.label);
    json::object data{
        {"partner", partner},
        {"partner_name", name},
        {"partner_href", "/ledger?partner=" + partner},
        {"period", st.period.label},
        {"days",
         FormatDate(st.period.from_micros, "Etc/UTC", s_.config().locale) + " – " +
             FormatDate(st.period.to_micros - fees::kMicrosPerDay, "Etc/UTC", s_.config().locale)},
        {"total", Money(st.total_minor, st.currency)},
        {"written", s_.Time(d.record.written * 1'000'000)},
        {"checkpoint_size", Count(st.provenance.checkpoint_size)},
        {"checkpoint_root", st.provenance.checkpoint_root_hex},
        {"has_excluded", st.provenance.excluded_entries > 0},
        {"excluded_entries", Count(st.provenance.excluded_entries)},
        {"sha256", d.record.sha256},
        {"lines", std::move(lines)},
        {"chart", fees::StatementChartData(st, "chart-" + partner + "-" + st.period.label, words)},
        {"csv_href", href + ".csv"},
        {"csv_name", partner + "-" + st.period.label + ".csv"}};
    ConsolePage out;
    out.title = "Fee statement " + st.period.label + " for " + name;
    out.template_name = "ledger_statement";
    out.data = std::move(data);
    return out;
  }

  ConsoleState& s_;
  std::shared_ptr<LedgerCollector> collector_;
  std::mutex mu_;
  std::shared_ptr<Run> run_;  // the current or last run; guarded by mu_ (as are its rows)
  std::thread thread_;        // the current or last run's; guarded by mu_
  bool stopping_ = false;
};

}  // namespace

void AddLedgerPages(ConsoleState& s) {
  // The console's collector (ConsoleState::ledger): calls on a partner's mirror are serialised
  // by the mirror's file lock.
  auto area = std::make_shared<LedgerArea>(s, s.ledger);
  s.console->AddPage("/ledger", [area](const ConsoleRequest& r) { return area->Ledger(r); });
  s.console->AddPage(std::string(kStatementPages),
                     [area](const ConsoleRequest& r) { return area->Statement(r); });
  s.daemon->AddServer([] { return Status::Ok(); }, [area] { area->Join(); });
}

}  // namespace tieup::main_console
