// The partner console's access records and fees (partner_site/console_pages.h).
#include <algorithm>
#include <boost/json.hpp>
#include <set>

#include "partner_site/console_common.h"
#include "partner_site/ledger_service.h"

namespace tieup::partner_console {
namespace {

// --- access records and fees ---
// GET: the ledger checked now (every record and checkpoint), the push to main, and a form to
// verify a fee statement from main. POST action=push: send new entries to main now;
// action=verify: recompute the pasted statement from this site's own ledger with the contract
// (SITE_DIR/contracts/ID.toml, or the pasted one), as `tieup partner fees verify` does.
ConsolePage Ledger(ConsoleState& s, const ConsoleRequest& r) {
  Env& env = s.daemon->env();
  const std::string& dir = s.daemon->site().site_dir();
  const std::string contract_file = JoinPath(dir, "contracts/" + s.config().id + ".toml");
  json::object data;
  if (r.http.method() == "POST") {
    const std::string_view action = r.form.Get("action");
    if (action == "push") {
      auto pushed = PushLedgerNow(env, dir);
      const std::string what = pushed.ok() ? "sent " + std::to_string(pushed->entries_sent) +
                                                 " entries; main holds " +
                                                 std::to_string(pushed->main_entries) +
                                                 (pushed->caught_up ? " (all of them)." : ".")
                                           : "not sent: " + pushed.status().message();
      (void)s.console->Audit(r, "ledger.push", what);
      return Redirect("/ledger", "Ledger " + what);
    }
    if (action == "verify") {
      const std::string csv(r.form.Get("statement"));
      const std::string pasted(r.form.Get("contract"));
      std::string contract = contract_file;
      const std::string tmp = JoinPath(dir, "run/console-contract.tmp");
      if (!pasted.empty()) {
        Status st = CreateDirs(env, DirName(tmp));
        if (st.ok()) st = WriteFileAtomic(env, tmp, pasted);
        if (!st.ok()) return Problem(500, "Could not read the contract", st.message());
        contract = tmp;
      }
      auto report = VerifyStatementWithOwnLedger(env, dir, csv, contract);
      if (!pasted.empty()) (void)env.RemoveFile(tmp);
      (void)s.console->Audit(r, "fees.verify",
                             report.ok()
                                 ? (report->agrees ? "agrees: " : "differs: ") + report->subject
                                 : "refused: " + report.status().message());
      data["verified"] = true;
      data["agrees"] = report.ok() && report->agrees;
      data["report"] = report.ok() ? report->ToText() : report.status().message();
    }
  }
  auto own = VerifyOwnLedger(env, dir);
  data["ledger_ok"] = own.ok() && own->ok;
  data["ledger_report"] = own.ok() ? own->text : own.status().message();
  data["enrolled"] = s.daemon->sync() != nullptr;
  data["has_contract"] = env.FileExists(contract_file);
  data["contract_file"] = contract_file;
  ConsolePage p;
  p.title = "Access records and fees";
  p.template_name = "ledger";
  p.data = std::move(data);
  return p;
}

}  // namespace

void AddLedgerPages(ConsoleState& s) {
  ConsoleState* p = &s;
  s.console->AddPage("/ledger", [p](const ConsoleRequest& r) { return Ledger(*p, r); });
}

}  // namespace tieup::partner_console
