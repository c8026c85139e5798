// The partner console's Security page (/security; issue 17 items 4-6): the security alerts about
// this site (what its WAF refused, files found changed or damaged; main has each of them too),
// whether the tie-up pages are stopped because their files kept being changed (with the button
// that serves them again, as `tieup partner resume`), and main's network blocklist as this site
// applies it.
#include "guard/alerts.h"
#include "guard/blocklist_service.h"
#include "partner_site/console_common.h"
#include "partner_site/tieup_quarantine.h"

namespace tieup::partner_console {
namespace {

ConsolePage Page(ConsoleState& s, const ConsoleRequest& r) {
  Database& db = s.daemon->db();
  if (r.http.method() == "POST") {
    if (r.form.Get("action") != "resume") return Problem(400, "Security", "Unknown action.");
    auto resumed = ResumeTieupArea(db);
    if (!resumed.ok()) return Problem(409, "Security", resumed.status().message() + ".");
    (void)s.console->Audit(r, "tieup.resume", resumed->reason);
    return Redirect("/security",
                    "The tie-up pages are served again. If their files are changed on disk "
                    "again, they stop again.");
  }
  guard::AlertQuery q;
  q.site = s.config().id;
  q.since = s.daemon->env().NowSeconds() - 30 * 86400;
  q.limit = 100;
  auto alerts = s.daemon->security().store().List(q);
  if (!alerts.ok()) return Problem(500, "Security unavailable", alerts.status().message());
  json::array rows;
  for (const guard::SecurityAlert& a : *alerts) {
    rows.push_back(json::object{{"severity", guard::AlertSeverityName(a.severity)},
                                {"critical", a.severity == guard::AlertSeverity::kCritical},
                                {"kind", a.kind},
                                {"message", a.message},
                                {"count", a.count},
                                {"repeated", a.count > 1},
                                {"first", s.Time(a.first * 1'000'000)},
                                {"last", s.Time(a.last * 1'000'000)}});
  }
  json::object data{{"alerts", std::move(rows)}, {"has_alerts", !alerts->empty()}};
  auto stop = ReadTieupStop(db);
  if (stop.ok() && *stop) {
    data["stopped"] = true;
    data["stopped_since"] = s.Time((*stop)->since * 1'000'000);
    data["stopped_reason"] = (*stop)->reason;
  }
  auto blocklist = guard::ReadKeptBlocklist(db);
  if (blocklist.ok() && blocklist->seq > 0) {
    json::array blocked;
    for (const guard::BlockEntry& e : blocklist->entries) {
      blocked.push_back(json::object{{"kind", guard::BlockKindName(e.kind)},
                                     {"value", e.value},
                                     {"until", e.expires == 0 ? std::string("until main removes it")
                                                              : s.Time(e.expires * 1'000'000)},
                                     {"reason", e.reason}});
    }
    data["blocklist_seq"] = blocklist->seq;
    data["has_blocklist"] = true;
    data["blocked"] = std::move(blocked);
  }
  ConsolePage page;
  page.title = "Security";
  page.template_name = "security";
  page.data = std::move(data);
  return page;
}

}  // namespace

void AddSecurityPages(ConsoleState& s) {
  ConsoleState* state = &s;
  s.console->AddPage("/security", [state](const ConsoleRequest& r) { return Page(*state, r); });
}

}  // namespace tieup::partner_console
