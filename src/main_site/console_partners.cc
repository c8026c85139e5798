// The partners at a glance (/): every partnership and its state in words.
#include "main_site/console_common.h"

namespace tieup::main_console {
namespace {

ConsolePage Partners(ConsoleState& s) {
  auto reports = s.daemon->sync().publisher().StatusReport();
  if (!reports.ok()) return Problem(500, "Partners unavailable", reports.status().message());
  json::array rows;
  for (const sync::PartnerStatusReport& r : *reports) {
    rows.push_back(json::object{{"id", r.partnership.id},
                                {"name", r.partnership.name},
                                {"region", r.partnership.region},
                                {"active", r.active_version},
                                {"latest", r.latest_version},
                                {"state", r.summary}});
  }
  ConsolePage p;
  p.title = "Partners";
  p.template_name = "partners";
  p.data = json::object{{"partners", std::move(rows)}};
  return p;
}

}  // namespace

void AddPartnersPages(ConsoleState& s) {
  s.console->AddPage("/", [&s](const ConsoleRequest&) { return Partners(s); });
}

}  // namespace tieup::main_console
