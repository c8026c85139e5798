// The partner console's access records and fees (partner_site/console_pages.h): the state of the
// site's access ledger (entries held here, the last push and what main holds, open alerts), the
// fee statements main sent (each with a chart of its accesses per day and a Verify button that
// recomputes it from this site's own ledger), and what the home page shows of them.
#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <mutex>
#include <variant>

#include "base/encoding.h"
#include "base/money_format.h"
#include "crypto/hash.h"
#include "fees/statement.h"
#include "fees/statement_chart.h"
#include "ledger/records.h"
#include "partner_site/console_common.h"
#include "partner_site/ledger_service.h"

namespace tieup::partner_console {
namespace {

constexpr std::string_view kStatementPages = "/ledger/statements/";
// Statements shown as cards with their chart on the ledger page; older ones are listed below.
constexpr size_t kStatementCards = 12;

std::string Count(uint64_t n) { return std::to_string(n); }

std::string Money(const ConsoleState& s, int64_t minor, const std::string& currency) {
  return FormatMoney(minor, currency, s.config().locale);
}

// --- today, in the site's time zone ---

// The start (unix seconds) of the day that contains `now_micros` in `zone`: the earliest second
// whose date there is today's. Found by bisection over base/time_format.h's dates in the zone (a
// day lasts 23 to 25 hours, so 26 hours earlier is always another day), which follows the zone's
// daylight-saving rules as ICU knows them.
int64_t LocalDayStartSeconds(int64_t now_micros, std::string_view zone) {
  const std::string today = FormatDate(now_micros, zone, "en");
  int64_t before = now_micros / 1'000'000 - 26 * 3600;  // another day
  int64_t in_day = now_micros / 1'000'000;              // today
  while (in_day - before > 1) {
    const int64_t mid = before + (in_day - before) / 2;
    (FormatDate(mid * 1'000'000, zone, "en") == today ? in_day : before) = mid;
  }
  return in_day;
}

// When a ledger entry happened (its record's time), or nullopt for an entry this build cannot
// read.
std::optional<int64_t> EntryMicros(const ledger::LedgerRecord& record) {
  return std::visit(
      [](const auto& r) -> int64_t {
        if constexpr (std::is_same_v<std::decay_t<decltype(r)>, ledger::UnrecordedRecord>) {
          return r.last_micros;
        } else {
          return r.time_micros;
        }
      },
      record);
}

// Today's accesses counted from one site's ledger. The first count of a day reads the ledger
// backwards from its end until it reaches entries older than the day (plus a margin: the access
// recorder commits in arrival order, give or take its batching); later counts read only the
// entries appended since. One per ledger folder, shared by the console's threads.
class TodayCounter {
 public:
  struct Counts {
    uint64_t tieup = 0;
    uint64_t original = 0;
    bool partial = false;  // the ledger could not be read to the day's start
  };

  static TodayCounter& For(const ledger::Log& log) {
    static std::mutex mu;
    static std::map<std::string, std::unique_ptr<TodayCounter>> counters;
    std::lock_guard<std::mutex> guard(mu);
    auto& c = counters[log.dir()];
    if (!c) c = std::make_unique<TodayCounter>();
    return *c;
  }

  Counts Count(const ledger::Log& log, int64_t day_start_micros) {
    std::lock_guard<std::mutex> guard(mu_);
    const uint64_t size = log.size();
    if (&log != log_ || day_start_micros != day_start_ || size < next_) {
      log_ = &log;
      day_start_ = day_start_micros;
      counts_ = {};
      ScanBackFrom(log, size);
    } else if (next_ < size) {
      auto entries = log.ReadRange(next_, size);
      if (entries.ok()) {
        for (const std::string& e : *entries) Add(e);
      } else {
        counts_.partial = true;
      }
    }
    next_ = size;
    return counts_;
  }

 private:
  static constexpr uint64_t kChunk = 1024;
  static constexpr int64_t kMarginMicros = 10 * 60 * 1'000'000LL;
  // A busy day's first count stops after this many entries (and says it is partial).
  static constexpr uint64_t kMaxScan = 5'000'000;

  // Adds `entry` when it is an access of today; returns whether it is from today (or within
  // the margin before it).
  bool Add(std::string_view entry) {
    auto record = ledger::ParseRecord(entry);
    if (!record.ok()) return false;
    const std::optional<int64_t> when = EntryMicros(*record);
    if (!when) return false;
    if (const auto* a = std::get_if<ledger::AccessRecord>(&*record); a && *when >= day_start_) {
      ++(a->area == ledger::RecordArea::kTieup ? counts_.tieup : counts_.original);
    }
    return *when >= day_start_ - kMarginMicros;
  }

  void ScanBackFrom(const ledger::Log& log, uint64_t end) {
    uint64_t scanned = 0;
    while (end > 0) {
      if (scanned >= kMaxScan) {
        counts_.partial = true;
        return;
      }
      const uint64_t begin = end > kChunk ? end - kChunk : 0;
      auto entries = log.ReadRange(begin, end);
      if (!entries.ok()) {
        counts_.partial = true;
        return;
      }
      bool recent = false;
      for (const std::string& e : *entries) recent = Add(e) || recent;
      scanned += end - begin;
      end = begin;
      if (!recent) return;  // a whole chunk before the day: nothing older counts
    }
  }

  std::mutex mu_;
  const ledger::Log* log_ = nullptr;
  int64_t day_start_ = -1;
  uint64_t next_ = 0;  // entries below this are counted
  Counts counts_;
};

// --- alerts in words ---

std::string AlertTitle(const PartnerLedgerAlert& a) {
  if (a.source != "main") return "Your ledger could not be read to send it to the main site";
  static const std::map<std::string, std::string, std::less<>> kTitles = {
      {"key", "The main site refused your ledger: it was signed with another key"},
      {"signature", "The main site could not verify a signed checkpoint of your ledger"},
      {"truncation", "Your ledger is shorter than when the main site last saw it"},
      {"fork", "Your ledger's history was changed after it was signed"},
      {"rewrite", "Entries of your ledger were changed, deleted or reordered"},
      {"entries", "Stored records of your ledger changed after they were signed"},
      {"unrecorded", "Some requests to your site could not be recorded"},
  };
  auto it = kTitles.find(a.kind);
  return it != kTitles.end() ? it->second : "Alert from the main site (" + a.kind + ")";
}

json::array AlertsData(const ConsoleState& s, const std::vector<PartnerLedgerAlert>& alerts) {
  json::array out;
  for (const PartnerLedgerAlert& a : alerts) {
    json::object o{{"title", AlertTitle(a)},
                   {"message", a.message},
                   {"when", s.Time(a.time * 1'000'000)},
                   {"from_main", a.source == "main"}};
    if (a.begin < a.end) {
      o["excluded"] = "Entries " + Count(a.begin) + " to " + Count(a.end - 1) +
                      " are left out of your fees until the main site's manager resolves this.";
    }
    out.push_back(std::move(o));
  }
  return out;
}

// --- statements ---

// "Nov 1, 2026 – Nov 30, 2026": the statement's days as dates (the period's days are whole
// days of Coordinated Universal Time, so they are shown in that zone).
std::string PeriodWords(const ConsoleState& s, const fees::Period& p) {
  return FormatDate(p.from_micros, "Etc/UTC", s.config().locale) + " – " +
         FormatDate(p.to_micros - fees::kMicrosPerDay, "Etc/UTC", s.config().locale);
}

std::string OwnContractPath(const ConsoleState& s) {
  return JoinPath(s.daemon->site().site_dir(), "contracts/" + s.config().id + ".toml");
}

// A statement received from main, for the templates: what the list shows, and the chart when
// its CSV reads back (`parsed`, when given, receives the statement).
json::object StatementData(ConsoleState& s, const ReceivedStatement& r,
                           fees::Statement* parsed = nullptr) {
  Env& env = s.daemon->env();
  json::object o{{"id", r.id},
                 {"period", r.period},
                 {"total", Money(s, r.total_minor, r.currency)},
                 {"received", s.Time(r.received * 1'000'000)},
                 {"written", s.Time(r.written * 1'000'000)},
                 {"changed", r.changed},
                 {"href", std::string(kStatementPages) + r.id}};
  auto csv = env.ReadFile(r.csv_path);
  auto st = csv.ok() ? fees::ParseStatementCsv(*csv) : Result<fees::Statement>(csv.status());
  o["readable"] = st.ok();
  if (!st.ok()) {
    o["unreadable"] = st.status().message();
    return o;
  }
  o["period_words"] = PeriodWords(s, st->period);
  // Main's signature is checked before a statement is stored (signature.json beside it).
  const std::string folder = r.csv_path.substr(0, r.csv_path.rfind('/'));
  o["signed"] = env.FileExists(folder + "/signature.json");
  if (st->billing.stated && st->billing.days() < st->period.days()) {
    o["billed_words"] = std::to_string(st->billing.days()) + " of " +
                        std::to_string(st->period.days()) + " days (" +
                        fees::FormatDay(st->billing.from_micros) + " to " +
                        fees::FormatDay(st->billing.to_micros - fees::kMicrosPerDay) +
                        "): the fixed fees are prorated";
  }
  o["chart"] = fees::StatementChartData(*st, "chart-" + r.id);
  if (parsed != nullptr) *parsed = std::move(*st);
  return o;
}

// What the contract main computed the statement with is, next to this site's own copy.
json::object ContractData(ConsoleState& s, const ReceivedStatement& r) {
  Env& env = s.daemon->env();
  const std::string own = OwnContractPath(s);
  json::object o{{"own_path", own}};
  auto text = env.FileExists(own) ? env.ReadFile(own) : Result<std::string>(Status::NotFound(""));
  o["has_own"] = text.ok();
  o["same"] = text.ok() && Sha256Hex(*text) == r.contract_sha256;
  o["differs"] = text.ok() && Sha256Hex(*text) != r.contract_sha256;
  return o;
}

// A difference VerifyStatement reported, in words ("what" as fees/statement.cc names it:
// "day 2026-11-03 input tieup", "line base amount_minor", "total total amount_minor", ...).
json::object DifferenceData(const ConsoleState& s, const fees::Difference& d,
                            const std::string& currency) {
  std::string what = d.what;
  bool money = false;
  auto starts = [&](std::string_view p) { return d.what.starts_with(p); };
  auto ends = [&](std::string_view p) { return d.what.ends_with(p); };
  if (starts("day ") && ends(" input tieup")) {
    what = "Tie-up accesses on " + d.what.substr(4, 10);
  } else if (starts("day ") && ends(" input original")) {
    what = "Accesses to your own pages on " + d.what.substr(4, 10);
  } else if (starts("line ") && ends(" amount_minor")) {
    what = "Amount of the fee line " + d.what.substr(5, d.what.size() - 5 - 13);
    money = true;
  } else if (d.what == "total total amount_minor") {
    what = "Total";
    money = true;
  } else if (starts("digest ")) {
    what = "The statement's own digest (it was altered after it was made)";
  } else if (starts("header ")) {
    what = "Statement heading: " + d.what.substr(7);
  }
  auto amount = [&](const std::string& v) {
    if (!money || v.empty() || v.size() > 18) return v;
    const bool digits = std::all_of(v.begin() + (v[0] == '-' ? 1 : 0), v.end(),
                                    [](char c) { return c >= '0' && c <= '9'; });
    return digits && v != "-" ? Money(s, std::stoll(v), currency) : v;
  };
  return json::object{{"what", what},
                      {"key", d.what},
                      {"in_statement", amount(d.in_statement)},
                      {"recomputed", amount(d.recomputed)}};
}

json::object VerificationData(const ConsoleState& s, const Result<fees::VerificationReport>& r,
                              const std::string& currency) {
  json::object o{{"verified", true}};
  if (!r.ok()) {
    o["refused"] = true;
    o["reason"] = r.status().message();
    return o;
  }
  o["agrees"] = r->agrees;
  o["subject"] = r->subject;
  json::array diffs;
  for (const fees::Difference& d : r->differences) diffs.push_back(DifferenceData(s, d, currency));
  const size_t n = r->differences.size();
  o["differences_words"] = Count(n) + (n == 1 ? " difference" : " differences");
  o["differences"] = std::move(diffs);
  return o;
}

// --- the ledger's state ---

json::object LedgerStateData(ConsoleState& s) {
  json::object o;
  const bool enrolled = s.daemon->sync() != nullptr;
  o["enrolled"] = enrolled;
  o["entries"] = Count(s.daemon->site().ledger().size());
  auto push = LastLedgerPush(s.daemon->db());
  if (push.ok() && push->has_value()) {
    const LedgerPushRecord& p = **push;
    o["pushed"] = true;
    o["push_ok"] = p.ok;
    o["push_when"] = s.Time(p.time_micros);
    o["push_error"] = p.error;
    o["push_sent"] = Count(p.entries_sent);
    o["main_entries"] = Count(p.main_entries);
    o["push_size"] = Count(p.checkpoint_size);
    o["caught_up"] = p.caught_up;
  } else {
    o["pushed"] = false;
  }
  auto alerts = PartnerLedgerAlerts(s.daemon->db(), /*include_resolved=*/false);
  json::array list = alerts.ok() ? AlertsData(s, *alerts) : json::array{};
  o["has_alerts"] = !list.empty();
  o["alert_count"] = Count(list.size());
  o["alerts"] = std::move(list);
  if (!alerts.ok()) o["alerts_error"] = alerts.status().message();
  return o;
}

ConsolePage Page(std::string title, std::string template_name, json::object data,
                 int status = 200) {
  ConsolePage p;
  p.status = status;
  p.title = std::move(title);
  p.template_name = std::move(template_name);
  p.data = std::move(data);
  return p;
}

std::string WithLfLineEnds(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    out.push_back(text[i]);
  }
  return out;
}

// POST action=verify of the paste form: the pasted statement recomputed from this site's own
// ledger with the contract (SITE_DIR/contracts/ID.toml, or the pasted one), as `tieup partner
// fees verify FILE` does.
json::object VerifyPasted(ConsoleState& s, const ConsoleRequest& r) {
  Env& env = s.daemon->env();
  const std::string& dir = s.daemon->site().site_dir();
  // Browsers send a textarea's line ends as CR LF; statements and contracts are written with LF
  // (and the contract's SHA-256 is over its exact bytes).
  const std::string csv = WithLfLineEnds(r.form.Get("statement"));
  const std::string pasted = WithLfLineEnds(r.form.Get("contract"));
  std::string contract = OwnContractPath(s);
  const std::string tmp = JoinPath(dir, "run/console-contract-" + HexEncode(RandomString(env, 6)));
  Status written = Status::Ok();
  if (!pasted.empty()) {
    written = CreateDirs(env, DirName(tmp));
    if (written.ok()) written = WriteFileAtomic(env, tmp, pasted, 0600);
    contract = tmp;
  }
  const Result<fees::VerificationReport> report =
      written.ok() ? VerifyStatementWithOwnLedger(env, dir, csv, contract)
                   : Result<fees::VerificationReport>(written);
  if (!pasted.empty()) (void)env.RemoveFile(tmp);
  (void)s.console->Audit(
      r, "fees.verify",
      "pasted statement " + (report.ok()
                                 ? (report->agrees ? "agrees: " : "differs: ") + report->subject
                                 : "refused: " + report.status().message()));
  auto scope = fees::ReadStatementScope(csv);
  return VerificationData(s, report, scope.ok() ? scope->currency : "");
}

// GET: the ledger's state, the statements main sent and the paste form. POST action=push: send
// new entries to main now; action=fetch: ask main for new statements now; action=check: check
// every record and checkpoint of the ledger now; action=verify: verify a pasted statement.
ConsolePage Ledger(ConsoleState& s, const ConsoleRequest& r) {
  Env& env = s.daemon->env();
  const std::string& dir = s.daemon->site().site_dir();
  json::object data;
  if (r.http.method() == "POST") {
    const std::string_view action = r.form.Get("action");
    if (action == "push") {
      auto pushed = PushLedgerNow(env, dir);
      const std::string what =
          pushed.ok()
              ? "sent " + Count(pushed->entries_sent) + " entries; the main site holds " +
                    Count(pushed->main_entries) + (pushed->caught_up ? " (all of them)." : ".")
              : "not sent: " + pushed.status().message();
      (void)s.console->Audit(r, "ledger.push", what);
      return Redirect("/ledger", "Ledger " + what);
    }
    if (action == "fetch") {
      auto fetched = FetchStatementsNow(env, dir, *s.daemon->logger());
      std::string what;
      if (!fetched.ok()) {
        what = "Could not ask the main site: " + fetched.status().message();
      } else {
        what = "Asked the main site: " +
               (fetched->received == 0 ? std::string("no new statement")
                                       : Count(fetched->received) + " new statement" +
                                             (fetched->received == 1 ? "" : "s") + " received") +
               " (" + Count(fetched->held) + " held already).";
        for (const std::string& why : fetched->refused) {
          s.daemon->logger()->warn("FEE STATEMENT REFUSED: {} (nothing of it stored)", why);
          what += " Refused: " + why + ".";
        }
      }
      (void)s.console->Audit(r, "fees.fetch", what);
      return Redirect("/ledger", what);
    }
    if (action == "check") {
      auto own = VerifyOwnLedger(env, dir);
      data["checked"] = true;
      data["ledger_ok"] = own.ok() && own->ok;
      data["ledger_report"] = own.ok() ? own->text : own.status().message();
      (void)s.console->Audit(
          r, "ledger.check",
          own.ok() && own->ok ? "every record and checkpoint intact" : "problem found");
    } else if (action == "verify") {
      data["pasted"] = VerifyPasted(s, r);
    } else {
      return Problem(400, "Unknown action", "Use one of the page's buttons.");
    }
  }
  data["state"] = LedgerStateData(s);
  auto received = ListReceivedStatements(env, dir);
  json::array cards, older;
  if (received.ok()) {
    for (const ReceivedStatement& st : *received) {
      (cards.size() < kStatementCards ? cards : older).push_back(StatementData(s, st));
    }
  } else {
    data["statements_error"] = received.status().message();
  }
  data["has_statements"] = !cards.empty();
  data["statements"] = std::move(cards);
  data["has_older"] = !older.empty();
  data["older"] = std::move(older);
  data["has_contract"] = env.FileExists(OwnContractPath(s));
  data["contract_file"] = OwnContractPath(s);
  return Page("Access records and fees", "ledger", std::move(data));
}

// GET /ledger/statements/ID: one statement main sent, with its chart, its fee lines and the
// contract it was computed with. POST action=verify: recompute it from this site's own ledger
// with that contract and show "agrees" or what differs.
ConsolePage Statement(ConsoleState& s, const ConsoleRequest& r) {
  Env& env = s.daemon->env();
  const std::string& dir = s.daemon->site().site_dir();
  const std::string id(r.http.path().substr(kStatementPages.size()));
  auto found = FindReceivedStatement(env, dir, id);
  if (!found.ok()) {
    return Problem(404, "No such statement",
                   "The main site sent no statement '" + id.substr(0, 64) +
                       "'. The statements it sent are listed on the Ledger & fees page.");
  }
  fees::Statement st;
  json::object data = StatementData(s, *found, &st);
  data["contract"] = ContractData(s, *found);
  if (r.http.method() == "POST") {
    if (r.form.Get("action") != "verify") {
      return Problem(400, "Unknown action", "Use the page's Verify button.");
    }
    auto report = VerifyReceivedStatement(env, dir, id);
    (void)s.console->Audit(
        r, "fees.verify",
        id + " " +
            (report.ok() ? (report->agrees ? "agrees"
                                           : "differs: " + Count(report->differences.size()) +
                                                 " difference(s)")
                         : "refused: " + report.status().message()));
    data["verification"] = VerificationData(s, report, found->currency);
  }
  if (data["readable"].as_bool()) {
    json::array lines;
    for (const fees::LineItem& l : st.lines) {
      lines.push_back(json::object{{"code", l.code},
                                   {"description", l.description},
                                   {"inputs", fees::LineInputsWords(l)},
                                   {"amount", Money(s, l.amount_minor, st.currency)}});
    }
    data["lines"] = std::move(lines);
    data["checkpoint_size"] = Count(st.provenance.checkpoint_size);
    data["excluded_entries"] = Count(st.provenance.excluded_entries);
    data["has_excluded"] = st.provenance.excluded_entries > 0;
  }
  return Page("Fee statement " + found->period, "ledger_statement", std::move(data));
}

}  // namespace

json::object LedgerHomeData(ConsoleState& s) {
  Env& env = s.daemon->env();
  const int64_t now = env.NowMicros();
  const std::string& zone = s.config().time_zone;
  const int64_t day_start = LocalDayStartSeconds(now, zone) * 1'000'000;
  const ledger::Log& log = s.daemon->site().ledger();
  const TodayCounter::Counts today = TodayCounter::For(log).Count(log, day_start);
  json::object o;
  o["today"] = FormatDate(now, zone, s.config().locale);
  o["today_tieup"] = Count(today.tieup);
  o["today_original"] = Count(today.original);
  o["today_total"] = Count(today.tieup + today.original);
  o["today_partial"] = today.partial;
  auto alerts = PartnerLedgerAlerts(s.daemon->db(), /*include_resolved=*/false);
  json::array list = alerts.ok() ? AlertsData(s, *alerts) : json::array{};
  o["has_alerts"] = !list.empty();
  o["alert_count"] = Count(list.size());
  o["alerts"] = std::move(list);
  return o;
}

void AddLedgerPages(ConsoleState& s) {
  ConsoleState* p = &s;
  s.console->AddPage("/ledger", [p](const ConsoleRequest& r) { return Ledger(*p, r); });
  s.console->AddPage(std::string(kStatementPages),
                     [p](const ConsoleRequest& r) { return Statement(*p, r); });
}

}  // namespace tieup::partner_console
