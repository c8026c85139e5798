#include "console/manager_pages.h"

#include <boost/json.hpp>
#include <utility>

#include "commerce/form.h"

namespace tieup::console {
namespace {

namespace json = boost::json;
using TimeFormat = std::function<std::string(int64_t)>;

ConsolePage Problem(int status, std::string title, std::string message) {
  return ProblemPage(status, std::move(title), std::move(message));
}
ConsolePage Redirect(std::string path, std::string flash) {
  return RedirectPage(std::move(path), std::move(flash));
}

ConsolePage ChangeManagers(Console& c, const ConsoleRequest& r) {
  const std::string_view action = r.form.Get("action");
  const std::string email(commerce::Trim(r.form.Get("email")));
  Result<std::string> token = Status::InvalidArgument("choose one of the forms' buttons");
  if (action == "add") {
    token = c.managers().Add(email, commerce::Trim(r.form.Get("name")));
  } else if (action == "reset") {
    token = c.managers().Reset(email);
    if (token.ok()) (void)c.sessions().EndAllFor(email);
  } else if (action == "remove") {
    if (email == r.manager.email) {
      token = Status::FailedPrecondition("you cannot remove yourself; another manager can");
    } else {
      Status removed = c.managers().Remove(email);
      if (removed.ok()) removed = c.sessions().EndAllFor(email);
      token = removed.ok() ? Result<std::string>(std::string()) : Result<std::string>(removed);
    }
  }
  (void)c.Audit(r, "manager." + std::string(action),
                email + (token.ok() ? "" : " refused: " + token.status().message()));
  if (!token.ok()) return Redirect("/managers", "Not done: " + token.status().message());
  if (token->empty()) return Redirect("/managers", "Removed " + email + "; their sessions ended.");
  ConsolePage p;
  p.title = "Managers";
  p.template_name = "manager_link";
  p.data = json::object{{"email", email},
                        {"link", c.url() + "set-password?token=" + *token},
                        {"reset", action == "reset"}};
  return p;
}

ConsolePage Managers(Console& c, const TimeFormat& time, const ConsoleRequest& r) {
  if (r.http.method() == "POST") return ChangeManagers(c, r);
  auto list = c.managers().List();
  if (!list.ok()) return Problem(500, "Managers unavailable", list.status().message());
  json::array managers;
  for (const Manager& m : *list) {
    managers.push_back(
        json::object{{"email", m.email},
                     {"name", m.name},
                     {"password_set", m.password_set},
                     {"last_login", m.last_login_micros == 0 ? "never" : time(m.last_login_micros)},
                     {"me", m.email == r.manager.email}});
  }
  ConsolePage p;
  p.title = "Managers";
  p.template_name = "managers";
  p.data = json::object{{"managers", std::move(managers)}};
  return p;
}

ConsolePage Audit(Console& c, const TimeFormat& time) {
  auto entries = c.audit().Recent(200);
  if (!entries.ok()) return Problem(500, "Audit log unavailable", entries.status().message());
  json::array list;
  for (const AuditEntry& e : *entries) {
    list.push_back(json::object{{"when", time(e.at_micros)},
                                {"actor", e.actor},
                                {"action", e.action},
                                {"detail", e.detail},
                                {"address", e.address}});
  }
  ConsolePage p;
  p.title = "Audit log";
  p.template_name = "audit";
  p.data = json::object{{"entries", std::move(list)}};
  return p;
}

}  // namespace

void AddManagerPages(Console& console, std::function<std::string(int64_t micros)> time) {
  auto format = std::make_shared<TimeFormat>(std::move(time));
  console.AddPage("/managers", [&console, format](const ConsoleRequest& r) {
    return Managers(console, *format, r);
  });
  console.AddPage("/audit",
                  [&console, format](const ConsoleRequest&) { return Audit(console, *format); });
}

}  // namespace tieup::console
