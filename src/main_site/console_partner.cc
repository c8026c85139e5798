// /partners/ID: one partnership (issue #14 item 2): its facts and settings, its state in the words
// of `tieup main status`, its timeline (attempts and events), the emergency edits in effect, its
// contract and fee statements, and what the main manager does to it. Every action calls the
// service the command line calls (sync::Publisher, MainSync, MainDaemon::Publish), is recorded in
// the audit log, and ends in a redirect with a flash (Post/Redirect/Get):
//
//   GET  /partners/ID                    the page
//   POST /partners/ID/publish            "Publish now" (and "Retry": the same run, field retry=1),
//                                        `tieup main publish DIR --partner ID` in the daemon
//   POST /partners/ID/settings           Publisher::UpdatePartnership (`tieup main partner set`);
//                                        refused values are shown next to their fields, with what
//                                        was typed (422)
//   POST /partners/ID/enrollment-code    MainSync::NewEnrollmentCode (`partner token`): the code
//                                        is shown once, on the answer itself (never in a flash)
//   GET  /partners/ID/suspend|resume|revoke   a confirmation page saying what happens
//   POST /partners/ID/suspend|resume|revoke   Publisher::Suspend/ResumePartnership,
//   MainSync::Revoke
#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "commerce/form.h"
#include "main_site/console_common.h"
#include "main_site/customer_copies.h"
#include "main_site/ledger_service.h"
#include "sync/partner_overview.h"
#include "sync/partnership_terms.h"
#include "sync/schedule.h"

namespace tieup::main_console {
namespace {

constexpr std::string_view kPrefix = "/partners/";
constexpr int64_t kEnrollmentCodeSeconds = 24 * 3600;
constexpr size_t kTimelineEvents = 100;
constexpr size_t kTimelineUpdates = 30;

// What the area keeps: main's ledger collector (ConsoleState::ledger), for the partner's fee
// statements.
struct PartnerArea {
  ConsoleState& s;
  std::shared_ptr<LedgerCollector> ledger;
};

std::string Href(const std::string& id, std::string_view sub = "") {
  return std::string(kPrefix) + id + (sub.empty() ? "" : "/" + std::string(sub));
}

// The settings form's values (as stored, or as typed when refused) and what was wrong.
struct SettingsForm {
  std::map<std::string, std::string> values;
  std::map<std::string, std::string> errors;  // field -> message
};

// "NAME=VALUE" per line, as the form shows the variables.
std::string VariablesText(const std::map<std::string, std::string>& vars) {
  std::string out;
  for (const auto& [k, v] : vars) out += k + "=" + v + "\n";
  return out;
}

SettingsForm FormOf(const sync::Partnership& p) {
  SettingsForm f;
  f.values = {{"name", p.name},
              {"region", p.region},
              {"public_url", p.public_url},
              {"sync_url", p.sync_url},
              {"kind", std::string(sync::PartnershipKindName(p.kind))},
              {"approval", std::string(sync::ApprovalPolicyName(p.approval))},
              {"schedule", p.schedule},
              {"retry", p.retry},
              {"variables", VariablesText(p.variables)},
              {"overrides", p.overrides_dir},
              {"emergency_edit", std::string(content::EmergencyEditPolicyName(p.emergency_edit))}};
  return f;
}

// One option of a <select>, marked when it is the value.
json::array Options(const std::vector<std::pair<std::string, std::string>>& choices,
                    const std::string& value) {
  json::array out;
  for (const auto& [v, label] : choices) {
    out.push_back(json::object{{"value", v}, {"label", label}, {"selected", v == value}});
  }
  return out;
}

json::object FormData(const SettingsForm& f) {
  json::object o;
  for (const auto& [k, v] : f.values) o[k] = v;
  json::object errors;
  for (const auto& [k, v] : f.errors) errors[k] = v;
  o["errors"] = std::move(errors);
  o["has_errors"] = !f.errors.empty();
  o["kinds"] = Options({{"contents", "contents: full copies of main's pages"},
                        {"template", "template: main's layouts, the partner's own pages"},
                        {"link", "link: links to main's pages"}},
                       f.values.at("kind"));
  o["approvals"] = Options({{"auto", "auto: each update goes live at once"},
                            {"manager", "manager: the partner's manager approves each"}},
                           f.values.at("approval"));
  o["grants"] = Options({{"none", "none: the partner may not edit tie-up pages"},
                         {"keep", "keep: it may; main's updates keep the edit"},
                         {"overwrite", "overwrite: it may; main's next version replaces it"}},
                        f.values.at("emergency_edit"));
  return o;
}

// Sets `key` only when `value` is not empty: the console's templates take every string (and
// number) as true in a section, so an absent key is how a template says "none".
void PutText(json::object& o, std::string_view key, std::string value) {
  if (!value.empty()) o[key] = std::move(value);
}
void PutCount(json::object& o, std::string_view key, uint64_t n) {
  if (n != 0) o[key] = n;
}

// An attempt's state (sync::UpdateRecord::state) in words.
std::string UpdateStateWords(const std::string& state) {
  if (state == "pending_approval") return "waiting for approval";
  if (state == "offered") return "offered";
  return state;  // approved, activated, rejected, failed, superseded
}

// The partner's row of the partners' overview (the state as `tieup main status` words it).
Result<sync::PartnerOverviewRow> OverviewRow(ConsoleState& s, const std::string& id) {
  sync::PartnerOverviewQuery q;
  q.id = id;
  q.page_size = 0;
  ASSIGN_OR_RETURN(sync::PartnerOverviewPage page, sync::QueryPartnerOverview(s.daemon->db(), q));
  if (page.rows.empty()) return Status::NotFound("no partner '" + id + "'");
  return std::move(page.rows.front());
}

ConsolePage PartnerPage(PartnerArea& a, const std::string& id, const SettingsForm* posted,
                        int status = 200) {
  ConsoleState& s = a.s;
  sync::Publisher& publisher = s.daemon->sync().publisher();
  auto row = OverviewRow(s, id);
  if (!row.ok()) {
    if (row.status().code() == StatusCode::kNotFound) {
      return Problem(404, "No such partner",
                     "There is no partnership '" + id +
                         "'. The Partners page lists them all; add one with 'tieup main partner "
                         "add'.");
    }
    return Problem(500, "Partner unavailable", row.status().message());
  }
  const sync::PartnerStatusReport& r = row->report;
  const sync::Partnership& p = r.partnership;
  auto time = [&](int64_t seconds) { return seconds > 0 ? s.Time(seconds * 1'000'000) : ""; };

  json::object data;
  data["id"] = p.id;
  data["name"] = p.name;
  PutText(data, "region", p.region);
  data["public_url"] = p.public_url;
  PutText(data, "sync_url", p.sync_url);
  data["pull"] = p.sync_url.empty();
  data["kind"] = sync::PartnershipKindName(p.kind);
  data["approval"] = sync::ApprovalPolicyName(p.approval);
  PutText(data, "schedule", p.schedule);
  data["retry"] = p.retry;
  PutText(data, "overrides", p.overrides_dir);
  data["emergency_edit"] = content::EmergencyEditPolicyName(p.emergency_edit);
  PutText(data, "created", time(p.created));
  json::array vars;
  for (const auto& [k, v] : p.variables) vars.push_back(json::object{{"name", k}, {"value", v}});
  data["variables"] = std::move(vars);
  data["revoked"] = p.revoked;
  data["suspended"] = p.suspended && !p.revoked;
  data["active"] = !p.revoked && !p.suspended;
  PutText(data, "suspended_since", time(p.suspended_since));

  json::object state;
  state["summary"] = r.summary;
  state["category"] = sync::PartnerStateCategoryName(row->category);
  state["label"] = sync::PartnerStateCategoryLabel(row->category);
  PutCount(state, "active_version", r.active_version);
  PutCount(state, "latest_version", r.latest_version);
  PutText(state, "next_attempt", time(r.next_attempt));
  PutText(state, "last_contact", time(row->last_contact));
  PutText(state, "served_hash", r.served_hash.substr(0, 12));
  data["state"] = std::move(state);
  // Retry: the last attempt failed or was rejected (the manager's publish offers it again).
  const bool retry = r.last_update && (r.last_update->state == "failed" ||
                                       r.last_update->state == "rejected" || r.failures > 0);
  data["can_retry"] = retry && !p.revoked && !p.suspended;

  json::array edits;
  for (const sync::EmergencyEditState& e : r.emergency_edits) {
    edits.push_back(json::object{{"path", e.path},
                                 {"by", e.by},
                                 {"at", time(e.at)},
                                 {"removed", e.hash.empty()},
                                 {"hash", e.hash.empty() ? "-" : e.hash.substr(0, 12)}});
  }
  data["has_edits"] = !edits.empty();
  data["emergency_edits"] = std::move(edits);

  json::array updates;
  if (auto list = publisher.Updates(id, kTimelineUpdates); list.ok()) {
    for (const sync::UpdateRecord& u : *list) {
      json::object o{{"id", u.update_id},
                     {"version", u.version},
                     {"mode", u.mode},
                     {"state", UpdateStateWords(u.state)},
                     {"offered", time(u.offered)},
                     {"fetched_blobs", u.fetched_blobs},
                     {"fetched_bytes", u.fetched_bytes}};
      PutText(o, "reason", u.reason);
      PutText(o, "finished", time(u.finished));
      updates.push_back(std::move(o));
    }
  } else {
    data["updates_error"] = list.status().message();
  }
  data["has_updates"] = !updates.empty();
  data["updates"] = std::move(updates);

  json::array events;
  if (auto list = publisher.Events(id, kTimelineEvents); list.ok()) {
    for (auto it = list->rbegin(); it != list->rend(); ++it) {  // newest first
      json::object o{{"time", time(it->time)}, {"kind", it->kind}, {"message", it->message}};
      PutText(o, "update", it->update_id);
      events.push_back(std::move(o));
    }
  } else {
    data["events_error"] = list.status().message();
  }
  data["has_events"] = !events.empty();
  data["events"] = std::move(events);

  // The contract statements are computed with, and the statements main wrote.
  const std::string contract = JoinPath(s.daemon->site().site_dir(), "contracts/" + id + ".toml");
  data["contract"] = contract;
  data["contract_present"] = s.daemon->env().FileExists(contract);
  data["ledger_href"] = "/ledger?partner=" + id;
  json::array statements;
  if (a.ledger) {
    if (auto list = a.ledger->Statements(id); list.ok()) {
      for (const StatementRecord& st : *list) {
        statements.push_back(json::object{{"period", st.period},
                                          {"written", time(st.written)},
                                          {"bytes", st.bytes},
                                          {"href", "/ledger/statements/" + id + "/" + st.period}});
      }
    }
  }
  data["has_statements"] = !statements.empty();
  data["statements"] = std::move(statements);

  // Customer data the partner may keep (main_site/customer_copies.h), and what it holds.
  if (auto terms = sync::ReadCustomerCopyTerms(s.daemon->db(), id); terms.ok()) {
    json::array fields;
    for (auto [f, label] : {std::pair<const char*, const char*>{"name", "Name"},
                            {"email", "E-mail address"},
                            {"address", "Postal address"},
                            {"marketing_consent", "Whether they want news by mail"}}) {
      const bool on =
          std::find(terms->fields.begin(), terms->fields.end(), f) != terms->fields.end();
      fields.push_back(json::object{{"value", f}, {"label", label}, {"checked", on}});
    }
    json::object copy{{"fields", std::move(fields)},
                      {"describe", sync::DescribeCustomerCopyTerms(*terms)},
                      {"registered", terms->scope == "registered"},
                      {"customers", terms->scope == "customers"}};
    if (auto standing = CustomerCopyStanding(s.daemon->db(), id); standing.ok()) {
      PutCount(copy, "delivered", static_cast<uint64_t>(standing->delivered));
      PutCount(copy, "erasures_waiting", static_cast<uint64_t>(standing->erasures_waiting));
    }
    data["copy"] = std::move(copy);
  }
  data["form"] = FormData(posted != nullptr ? *posted : FormOf(p));
  data["href"] = Href(id);

  ConsolePage page;
  page.status = status;
  page.title = p.name + " (" + p.id + ")";
  page.template_name = "partner_page";
  page.data = std::move(data);
  return page;
}

// --- actions ---

ConsolePage PublishNow(PartnerArea& a, const ConsoleRequest& r, const std::string& id) {
  ConsoleState& s = a.s;
  const bool retry = r.form.Get("retry") == "1";
  PublishRequest request;
  request.partners = {id};
  std::vector<std::string> lines;
  PublishOutput output;
  output.out = [&lines](std::string_view line) {
    std::string l(line);
    while (!l.empty() && l.back() == ' ') l.pop_back();
    if (!l.empty()) lines.push_back(std::move(l));
  };
  Status done = s.daemon->Publish(request, output);
  std::string result;
  for (const std::string& l : lines) result += (result.empty() ? "" : "; ") + l;
  if (result.empty()) result = done.ok() ? "nothing to do" : done.message();
  (void)s.console->Audit(r, retry ? "partner.retry" : "partner.publish", id + ": " + result);
  return Redirect(Href(id), std::string(retry ? "Retry" : "Publish now") +
                                (done.ok() ? ": " : " failed: ") + result);
}

// The form's variables: "NAME=VALUE" per line (blank lines ignored).
bool ParseVariables(std::string_view text, std::map<std::string, std::string>& out,
                    std::string& error) {
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = commerce::Trim(text.substr(start, end - start));
    start = end + 1;
    if (line.empty()) continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      error = "'" + std::string(line) + "' must be written NAME=VALUE (one per line)";
      return false;
    }
    out[std::string(commerce::Trim(line.substr(0, eq)))] = std::string(line.substr(eq + 1));
  }
  return true;
}

ConsolePage SaveSettings(PartnerArea& a, const ConsoleRequest& r, const std::string& id) {
  ConsoleState& s = a.s;
  SettingsForm typed;
  for (const char* field : {"name", "region", "public_url", "sync_url", "kind", "approval",
                            "schedule", "retry", "variables", "overrides", "emergency_edit"}) {
    typed.values[field] = std::string(r.form.Get(field));
  }
  sync::PartnershipChanges c;
  c.name = typed.values["name"];
  c.region = typed.values["region"];
  c.public_url = typed.values["public_url"];
  c.sync_url = typed.values["sync_url"];
  c.kind = typed.values["kind"];
  c.approval = typed.values["approval"];
  c.schedule = typed.values["schedule"];
  c.retry = typed.values["retry"];
  c.overrides_dir = typed.values["overrides"];
  c.emergency_edit = typed.values["emergency_edit"];
  std::map<std::string, std::string> vars;
  std::string vars_error;
  if (!ParseVariables(typed.values["variables"], vars, vars_error)) {
    typed.errors["variables"] = vars_error;
  }
  c.variables = std::move(vars);
  std::vector<sync::PartnershipFieldError> errors;
  Result<std::vector<std::string>> changed = Status::InvalidArgument(vars_error);
  if (typed.errors.empty()) {
    changed = s.daemon->sync().publisher().UpdatePartnership(id, c, r.manager.email, &errors);
  }
  if (!changed.ok()) {
    if (changed.status().code() == StatusCode::kNotFound && errors.empty()) {
      return PartnerPage(a, id, nullptr);  // unknown partner: its 404 page
    }
    for (const sync::PartnershipFieldError& e : errors) {
      std::string& message = typed.errors[e.field.empty() ? "form" : e.field];
      message += (message.empty() ? "" : "; ") + e.message;
    }
    if (typed.errors.empty()) typed.errors["form"] = changed.status().message();
    (void)s.console->Audit(r, "partner.settings", id + " refused: " + changed.status().message());
    return PartnerPage(a, id, &typed,
                       changed.status().code() == StatusCode::kFailedPrecondition ? 409 : 422);
  }
  if (changed->empty()) return Redirect(Href(id), "Nothing to save: the settings are the same.");
  std::string words;
  for (const std::string& change : *changed) {
    (void)s.console->Audit(r, "partner.settings", id + ": " + change);
    words += (words.empty() ? "" : "; ") + change;
  }
  return Redirect(Href(id),
                  "Saved the settings of " + id + ": " + words + ". The next publish uses them.");
}

// The customer data the partner may keep: the boxes ticked and whose.
ConsolePage SaveCustomerCopy(PartnerArea& a, const ConsoleRequest& r, const std::string& id) {
  ConsoleState& s = a.s;
  std::string fields;
  for (const char* f : sync::kCustomerCopyFields) {
    if (r.form.Has(std::string("copy_") + f))
      fields += (fields.empty() ? "" : ",") + std::string(f);
  }
  auto terms =
      sync::ParseCustomerCopyTerms(fields.empty() ? "none" : fields, r.form.Get("copy_for"));
  Result<std::string> words =
      terms.ok() ? sync::SetCustomerCopyTerms(s.daemon->db(), s.daemon->env().NowSeconds(), id,
                                              *terms, r.manager.email)
                 : Result<std::string>(terms.status());
  if (!words.ok()) {
    (void)s.console->Audit(r, "partner.customer-copy",
                           id + " refused: " + words.status().message());
    return Redirect(Href(id) + "#customer-copy", "Not saved: " + words.status().message());
  }
  if (words->empty()) {
    return Redirect(Href(id) + "#customer-copy", "Nothing to save: the contract is the same.");
  }
  (void)s.console->Audit(r, "partner.customer-copy", id + ": " + *words);
  return Redirect(Href(id) + "#customer-copy",
                  "Saved: " + *words +
                      ". Main sends the partner what the contract now allows, and drops the rest, "
                      "within seconds.");
}

ConsolePage EnrollmentCodePage(PartnerArea& a, const ConsoleRequest& r, const std::string& id) {
  ConsoleState& s = a.s;
  auto code = s.daemon->sync().NewEnrollmentCode(id, kEnrollmentCodeSeconds);
  if (!code.ok()) {
    (void)s.console->Audit(r, "partner.enrollment-code",
                           id + " refused: " + code.status().message());
    return Redirect(Href(id), "No new enrollment code: " + code.status().message());
  }
  // The code itself is a secret: never in the audit log.
  (void)s.console->Audit(r, "partner.enrollment-code",
                         id + ": a new code, valid until " + FormatRfc3339(code->expires));
  ConsolePage p;
  p.title = "Enrollment code for " + id;
  p.template_name = "partner_code";
  p.data = json::object{{"id", id},
                        {"href", Href(id)},
                        {"code", code->code},
                        {"expires", s.Time(code->expires * 1'000'000)},
                        {"main", "https://" + s.config().sync_address.ToString()}};
  return p;
}

// What each confirmed action says and does.
struct Confirmable {
  std::string_view action;  // suspend, resume, revoke
  std::string_view heading;
  std::vector<std::string_view> happens;
  std::string_view button;
  bool danger = false;
};

const Confirmable* FindConfirmable(std::string_view action) {
  static const std::vector<Confirmable> kActions = {
      {"suspend",
       "Suspend",
       {"It gets no updates while suspended: no scheduled runs, it is left out of \"publish to "
        "all\", and when it polls main answers that nothing is new.",
        "An update that waits for its manager's approval is withdrawn.",
        "It keeps its certificate and goes on serving the pages it has; you can resume it at any "
        "time."},
       "Suspend the partnership",
       false},
      {"resume",
       "Resume",
       {"It gets updates again: at its next scheduled run, or when you publish.",
        "Nothing is sent at once; use Publish now for that."},
       "Resume the partnership",
       false},
      {"revoke",
       "Revoke",
       {"Its certificate is refused from now on: it can no longer reach main.",
        "It gets no more updates, files or answers, and the partnership cannot be resumed.",
        "This cannot be undone: to work with this partner again, add a new partnership with "
        "another id."},
       "Revoke the partnership",
       true},
  };
  for (const Confirmable& c : kActions) {
    if (c.action == action) return &c;
  }
  return nullptr;
}

ConsolePage Confirm(PartnerArea& a, const ConsoleRequest& r, const std::string& id,
                    const Confirmable& c) {
  ConsoleState& s = a.s;
  auto p = s.daemon->sync().publisher().GetPartnership(id);
  if (!p.ok()) return PartnerPage(a, id, nullptr);
  if (p->revoked) return Redirect(Href(id), id + " is revoked: nothing more can be done to it.");
  if (r.http.method() != "POST") {
    json::array happens;
    for (std::string_view h : c.happens) happens.push_back(json::string(h));
    ConsolePage page;
    page.title = std::string(c.heading) + " " + p->name + " (" + id + ")?";
    page.template_name = "partner_confirm";
    page.data = json::object{{"id", id},
                             {"name", p->name},
                             {"href", Href(id)},
                             {"action_href", Href(id, c.action)},
                             {"happens", std::move(happens)},
                             {"button", c.button},
                             {"danger", c.danger}};
    return page;
  }
  Status done;
  std::string flash;
  if (c.action == "suspend") {
    done = s.daemon->sync().publisher().SuspendPartnership(id, r.manager.email);
    flash = "Suspended " + id + ": it gets no updates until you resume it.";
  } else if (c.action == "resume") {
    done = s.daemon->sync().publisher().ResumePartnership(id, r.manager.email);
    flash = "Resumed " + id +
            ": it gets updates again at its next scheduled run or when you "
            "publish.";
  } else {
    done = s.daemon->sync().Revoke(id);
    flash = "Revoked " + id + ": its certificate is refused and it gets no more updates.";
  }
  (void)s.console->Audit(r, "partner." + std::string(c.action),
                         done.ok() ? id : id + " refused: " + done.message());
  if (!done.ok()) {
    return Redirect(Href(id), "Not done (" + std::string(c.action) + "): " + done.message());
  }
  return Redirect(Href(id), std::move(flash));
}

ConsolePage Route(PartnerArea& a, const ConsoleRequest& r) {
  std::string_view rest = r.http.path().substr(kPrefix.size());
  std::string_view action;
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    action = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  const std::string id(rest);
  if (!IsValidSiteId(id)) {
    return Problem(404, "No such partner",
                   "'" + id + "' is not a partner id. The Partners page lists them all.");
  }
  const bool post = r.http.method() == "POST";
  if (action.empty()) {
    if (post) return Problem(405, "Not here", "Use one of the page's buttons.");
    return PartnerPage(a, id, nullptr);
  }
  if (const Confirmable* c = FindConfirmable(action)) return Confirm(a, r, id, *c);
  if (!post) return Redirect(Href(id), "");
  if (action == "publish") return PublishNow(a, r, id);
  if (action == "settings") return SaveSettings(a, r, id);
  if (action == "customer-copy") return SaveCustomerCopy(a, r, id);
  if (action == "enrollment-code") return EnrollmentCodePage(a, r, id);
  return Problem(404, "No such page", "There is nothing at this address.");
}

}  // namespace

void AddPartnerPages(ConsoleState& s) {
  auto area = std::make_shared<PartnerArea>(PartnerArea{s, s.ledger});
  s.console->AddPage(std::string(kPrefix),
                     [area](const ConsoleRequest& r) { return Route(*area, r); });
}

}  // namespace tieup::main_console
