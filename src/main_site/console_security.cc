// The main console's Security page (/security; issue 17 items 5 and 6): the security alerts
// about main and every partner (filter by site and severity), and the network-wide blocklist:
// its entries, a form to add one, a button to remove one, and which partner has the newest
// list; and how main's probes of each partner's public pages are going (main_site/page_probes.h).
// The same stores as `tieup main alerts`, `tieup main blocklist` and `tieup main probes`.
#include <set>

#include "commerce/form.h"
#include "guard/alerts.h"
#include "guard/blocklist_service.h"
#include "guard/page_probe.h"
#include "main_site/blocklists.h"
#include "main_site/console_common.h"
#include "sync/partnership_terms.h"
#include "sync/schedule.h"

namespace tieup::main_console {
namespace {

struct SecurityArea {
  ConsoleState* s = nullptr;
  std::unique_ptr<guard::AlertStore> alerts;
  std::unique_ptr<guard::BlocklistIssuer> blocklist;
  std::unique_ptr<guard::ProbeRecord> probes;
};

// How main's probes of each partner with the security service are going.
json::array ProbeRows(SecurityArea& area, const std::set<std::string>& partners) {
  json::array rows;
  for (const std::string& id : partners) {
    auto p = area.probes->Get(id);
    if (!p.ok()) continue;
    json::object row{{"id", id},
                     {"href", "/partners/" + id},
                     {"probed", p->probed},
                     {"started", p->last_round != 0},
                     {"passes", p->passes},
                     {"has_passes", p->passes > 0},
                     {"pass_probed", p->pass_probed},
                     {"problems", p->problems},
                     {"has_problems", p->problems > 0},
                     {"last_problem", p->last_problem}};
    if (p->last_round != 0) row["last"] = area.s->Time(p->last_round * 1'000'000);
    if (p->passes > 0) {
      const int64_t m = p->last_pass_seconds / 60;
      row["pass_took"] =
          m == 0 ? std::to_string(p->last_pass_seconds) + " s" : std::to_string(m) + " min";
    }
    if (p->problems > 0) row["problem_at"] = area.s->Time(p->last_problem_at * 1'000'000);
    rows.push_back(std::move(row));
  }
  return rows;
}

json::array AlertRows(const ConsoleState& s, const std::vector<guard::SecurityAlert>& list) {
  json::array rows;
  for (const guard::SecurityAlert& a : list) {
    rows.push_back(json::object{{"severity", guard::AlertSeverityName(a.severity)},
                                {"critical", a.severity == guard::AlertSeverity::kCritical},
                                {"site", a.site},
                                {"kind", a.kind},
                                {"message", a.message},
                                {"count", a.count},
                                {"repeated", a.count > 1},
                                {"first", s.Time(a.first * 1'000'000)},
                                {"last", s.Time(a.last * 1'000'000)},
                                {"mailed", a.mailed}});
  }
  return rows;
}

ConsolePage Add(SecurityArea& area, const ConsoleRequest& r) {
  guard::BlockEntry e;
  auto kind = guard::ParseBlockKind(r.form.Get("kind"));
  if (!kind.ok()) return Problem(400, "Blocklist: what to block", kind.status().message() + ".");
  e.kind = *kind;
  e.value = std::string(commerce::Trim(r.form.Get("value")));
  e.reason = std::string(commerce::Trim(r.form.Get("reason")));
  e.by = r.manager.email;
  const std::string_view duration = commerce::Trim(r.form.Get("for"));
  if (!duration.empty()) {
    auto seconds = sync::ParseDuration(duration);
    if (!seconds.ok()) {
      return Problem(400, "Blocklist: how long",
                     "For how long: " + seconds.status().message() +
                         " (e.g. 30m, 12h, 7d; empty: until removed).");
    }
    e.expires = area.s->daemon->env().NowSeconds() + *seconds;
  }
  auto added = area.blocklist->Add(std::move(e));
  if (!added.ok()) {
    return Problem(400, "Blocklist: not added",
                   added.status().message() + ". Go back and correct it.");
  }
  (void)area.s->console->Audit(r, "blocklist.add", guard::DescribeBlockEntry(*added));
  return Redirect("/security", "Blocked " + guard::DescribeBlockEntry(*added) +
                                   ". Main's site applies it within 5 seconds, the partners "
                                   "with the security service within a minute.");
}

ConsolePage Remove(SecurityArea& area, const ConsoleRequest& r) {
  auto id = commerce::ParseDigits(commerce::Trim(r.form.Get("id")), 12);
  if (!id) return Problem(400, "Blocklist", "Which entry to remove is missing.");
  auto removed = area.blocklist->Remove(static_cast<uint64_t>(*id));
  if (!removed.ok()) return Problem(404, "Blocklist", removed.status().message() + ".");
  (void)area.s->console->Audit(r, "blocklist.remove", guard::DescribeBlockEntry(*removed));
  return Redirect("/security", "Unblocked " + guard::DescribeBlockEntry(*removed) + ".");
}

ConsolePage Page(SecurityArea& area, const ConsoleRequest& r) {
  if (r.http.method() == "POST") {
    const std::string_view action = r.form.Get("action");
    if (action == "block") return Add(area, r);
    if (action == "unblock") return Remove(area, r);
    return Problem(400, "Security", "Unknown action.");
  }
  auto fields = commerce::ParseForm(r.http.query());
  if (!fields.ok()) return Problem(400, "Security", fields.status().message() + ".");
  guard::AlertQuery q;
  q.site = std::string(commerce::Trim(fields->Get("site")));
  if (!q.site.empty() && !commerce::ValidateChannel(q.site).ok()) {
    return Problem(400, "Security", "'" + q.site.substr(0, 64) + "' is not a site id.");
  }
  const std::string severity(commerce::Trim(fields->Get("severity")));
  if (!severity.empty()) {
    auto parsed = guard::ParseAlertSeverity(severity);
    if (!parsed.ok()) return Problem(400, "Security", parsed.status().message() + ".");
    q.min_severity = *parsed;
  }
  q.since = area.s->daemon->env().NowSeconds() - 30 * 86400;
  q.limit = 200;
  auto alerts = area.alerts->List(q);
  if (!alerts.ok()) return Problem(500, "Security unavailable", alerts.status().message());
  auto entries = area.blocklist->Entries(false);
  if (!entries.ok()) return Problem(500, "Security unavailable", entries.status().message());
  auto latest = area.blocklist->Latest();
  if (!latest.ok()) return Problem(500, "Security unavailable", latest.status().message());
  auto deliveries = area.blocklist->Deliveries();
  auto with_security = sync::PartnersWithOption(area.s->daemon->db(), "security");
  json::array blocked;
  for (const guard::BlockEntry& e : *entries) {
    blocked.push_back(json::object{{"id", e.id},
                                   {"kind", guard::BlockKindName(e.kind)},
                                   {"value", e.value},
                                   {"until", e.expires == 0 ? std::string("until removed")
                                                            : area.s->Time(e.expires * 1'000'000)},
                                   {"reason", e.reason},
                                   {"by", e.by}});
  }
  json::array partners;
  const uint64_t seq = *latest ? (*latest)->list.seq : 0;
  if (with_security.ok() && deliveries.ok()) {
    for (const std::string& p : *with_security) {
      uint64_t has = 0;
      std::string error;
      for (const auto& d : *deliveries) {
        if (d.partner == p) {
          has = d.seq;
          error = d.last_error;
        }
      }
      partners.push_back(json::object{{"id", p},
                                      {"href", "/partners/" + p},
                                      {"current", seq > 0 && has >= seq},
                                      {"has", has},
                                      {"error", error}});
    }
  }
  ConsolePage page;
  page.title = "Security";
  page.template_name = "security";
  page.data =
      json::object{{"alerts", AlertRows(*area.s, *alerts)},
                   {"has_alerts", !alerts->empty()},
                   {"site", q.site},
                   {"severity_warning", severity == "warning"},
                   {"severity_critical", severity == "critical"},
                   {"filtered", !q.site.empty() || !severity.empty()},
                   {"blocked", std::move(blocked)},
                   {"has_blocked", !entries->empty()},
                   {"seq", seq},
                   {"signed", seq > 0},
                   {"probes", with_security.ok() ? ProbeRows(area, *with_security) : json::array()},
                   {"partners", std::move(partners)},
                   {"has_partners", with_security.ok() && !with_security->empty()}};
  return page;
}

}  // namespace

void AddSecurityPages(ConsoleState& s) {
  auto area = std::make_shared<SecurityArea>();
  area->s = &s;
  auto alerts = guard::AlertStore::Open(s.daemon->env(), s.daemon->db());
  auto issuer = OpenBlocklistIssuer(s.daemon->env(), s.daemon->site().site_dir(), s.daemon->db());
  auto probes = guard::ProbeRecord::Open(s.daemon->env(), s.daemon->db());
  if (!alerts.ok() || !issuer.ok() || !probes.ok()) {
    const std::string why = !alerts.ok()   ? alerts.status().message()
                            : !issuer.ok() ? issuer.status().message()
                                           : probes.status().message();
    s.console->AddPage("/security", [why](const ConsoleRequest&) {
      return Problem(500, "Security unavailable", why);
    });
    return;
  }
  area->alerts = std::move(*alerts);
  area->blocklist = std::move(*issuer);
  area->probes = std::move(*probes);
  s.console->AddPage("/security", [area](const ConsoleRequest& r) { return Page(*area, r); });
}

}  // namespace tieup::main_console
