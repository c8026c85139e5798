// /users: the central user store (main_site/users_service.h): search the accounts registered at
// main and at every partner, see where each registered, disable (after a confirmation) or enable
// an account, or delete it on its owner's request (after a confirmation). Disabling is
// UserStore::SetDisabled, as `tieup main users disable|enable`; deleting is EraseAccount, as
// `tieup main users delete` and the customer's own "delete my account".
#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "commerce/form.h"
#include "main_site/console_common.h"
#include "main_site/ledger_service.h"
#include "main_site/main_daemon.h"
#include "main_site/partner_orders.h"
#include "main_site/shop_service.h"
#include "main_site/users_service.h"

namespace tieup::main_console {
namespace {

constexpr int64_t kUsersPerPage = 25;
constexpr int64_t kMaxPage = 1'000'000;
constexpr size_t kMaxQueryBytes = 200;

struct UsersPages {
  ConsoleState* s = nullptr;
  std::unique_ptr<users::UserStore> store;
};

// Where an account registered, in words. (Through a partner, main's registration page stood in
// for the partner's: the area of the page the customer came from is in the partner's ledger.)
std::string RegisteredWhere(const users::User& u) {
  if (u.registered_via == "main") return "main's own site";
  return u.registered_via;
}

json::object UserData(const UsersPages& p, const users::User& u) {
  json::object o{{"id", u.id},
                 {"email", u.email},
                 {"name", u.display_name},
                 {"where", RegisteredWhere(u)},
                 {"via", u.registered_via},
                 {"area", std::string(users::UserAreaName(u.area))},
                 {"when", p.s->Time(u.registered_at_micros)},
                 {"disabled", u.disabled_micros != 0}};
  if (u.disabled_micros != 0) o["disabled_when"] = p.s->Time(u.disabled_micros);
  return o;
}

// The list's query (?q=&partner=&page=), parsed once.
struct UsersQuery {
  std::string q;
  std::string partner;  // "" (all), "main" or a partner id
  int64_t page = 1;

  std::string Link(int64_t page_number) const {
    std::string out;
    auto add = [&out](std::string_view name, std::string_view value) {
      if (value.empty()) return;
      out += out.empty() ? "?" : "&";
      out += std::string(name) + "=" + commerce::PercentEncode(value);
    };
    add("q", q);
    add("partner", partner);
    if (page_number > 1) add("page", std::to_string(page_number));
    return "/users" + out;
  }
};

Result<UsersQuery> ParseUsersQuery(const ConsoleRequest& r) {
  UsersQuery u;
  ASSIGN_OR_RETURN(commerce::FormFields fields, commerce::ParseForm(r.http.query()));
  u.q = std::string(commerce::Trim(fields.Get("q")));
  u.partner = std::string(commerce::Trim(fields.Get("partner")));
  if (u.q.size() > kMaxQueryBytes) {
    return Status::InvalidArgument("the search is longer than " + std::to_string(kMaxQueryBytes) +
                                   " characters: search for a part of the address or name");
  }
  if (!u.partner.empty() && !commerce::ValidateChannel(u.partner).ok()) {
    return Status::InvalidArgument("'" + u.partner.substr(0, 64) +
                                   "' is not a partner id (letters a-z, digits and hyphens) nor "
                                   "\"main\"");
  }
  const std::string_view page = commerce::Trim(fields.Get("page"));
  if (!page.empty()) {
    auto n = commerce::ParseDigits(page, 7);
    if (!n || *n < 1 || *n > kMaxPage) {
      return Status::InvalidArgument("the page must be a number from 1");
    }
    u.page = *n;
  }
  return u;
}

ConsolePage List(UsersPages& p, const ConsoleRequest& r) {
  auto query = ParseUsersQuery(r);
  if (!query.ok()) return Problem(400, "Users: bad search", query.status().message() + ".");
  users::UserFilter filter;
  filter.query = query->q;
  if (!query->partner.empty()) filter.registered_via = query->partner;
  auto total = p.store->CountMatching(filter);
  if (!total.ok()) return Problem(500, "Users unavailable", total.status().message());
  const int64_t pages = std::max<int64_t>(1, (*total + kUsersPerPage - 1) / kUsersPerPage);
  const int64_t page = std::min(query->page, pages);
  filter.limit = kUsersPerPage;
  filter.offset = (page - 1) * kUsersPerPage;
  auto list = p.store->List(filter);
  if (!list.ok()) return Problem(500, "Users unavailable", list.status().message());
  json::array rows;
  for (const users::User& u : *list) rows.push_back(UserData(p, u));
  json::array known;
  auto via = p.s->daemon->db().Query(
      "SELECT DISTINCT registered_via FROM users ORDER BY registered_via LIMIT 500", {});
  if (via.ok()) {
    for (const SqlRow& row : *via) known.push_back(json::string(row.Text(0)));
  }
  json::object data{{"has_users", !rows.empty()},
                    {"users", std::move(rows)},
                    {"q", query->q},
                    {"partner", query->partner},
                    {"known_partners", std::move(known)},
                    {"filtered", !query->q.empty() || !query->partner.empty()},
                    {"total", *total},
                    {"page", page},
                    {"pages", pages},
                    {"back", query->Link(page)}};
  if (page > 1) data["previous"] = query->Link(page - 1);
  if (page < pages) data["next"] = query->Link(page + 1);
  ConsolePage out;
  out.title = "Users";
  out.template_name = "users";
  out.data = std::move(data);
  return out;
}

// A local "/users..." path to come back to after an action; "/users" for anything else.
std::string BackTo(std::string_view back) {
  if (back.starts_with("/users") && back.find("//") == std::string_view::npos &&
      back.find('\\') == std::string_view::npos && back.size() < 600) {
    return std::string(back);
  }
  return "/users";
}

// /users/ID, /users/ID/disable (GET: confirm; POST: disable), /users/ID/enable (POST),
// /users/ID/delete (GET: confirm; POST: erase), /users/ID/reset (POST: the reset mail),
// /users/ID/export (GET: the account's data, a JSON download).
ConsolePage Account(UsersPages& p, const ConsoleRequest& r) {
  std::string_view rest = r.http.path().substr(std::string_view("/users/").size());
  std::string_view action;
  if (const size_t slash = rest.find('/'); slash != std::string_view::npos) {
    action = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  if (rest.empty()) return Redirect("/users", "");
  if (!action.empty() && action != "disable" && action != "enable" && action != "delete" &&
      action != "reset" && action != "export") {
    return Problem(404, "Not found", "There is no such page: find the account in Users.");
  }
  auto user = p.store->Get(rest);
  if (!user.ok()) {
    if (user.status().code() != StatusCode::kNotFound) {
      return Problem(500, "Users unavailable", user.status().message());
    }
    return Problem(
        404, "No such account",
        "There is no account " + std::string(rest.substr(0, 40)) + ": search for it in Users.");
  }
  const std::string back = BackTo(r.http.method() == "POST" ? r.form.Get("back") : "");
  if (action == "export" && r.http.method() != "POST") {
    // What the customer's own "download my data" gives (main's shop opened for it only).
    Result<std::string> json = [&]() -> Result<std::string> {
      ASSIGN_OR_RETURN(OpenedShop shop,
                       OpenMainShop(p.s->daemon->env(), p.s->daemon->site().site_dir(),
                                    p.s->config(), p.s->daemon->db(), p.s->daemon->logger()));
      ASSIGN_OR_RETURN(
          PartnerOrders at_partners,
          FetchPartnerOrders(p.s->daemon->sync(), p.s->daemon->db(), *user, kPartnerOrdersTimeout));
      return ExportAccountJson(p.s->daemon->env(), p.s->daemon->db(), *shop.shop, *user,
                               &at_partners);
    }();
    (void)p.s->console->Audit(r, "user.export",
                              user->id + (json.ok() ? "" : " refused: " + json.status().message()));
    if (!json.ok()) return Problem(503, "Not exported", json.status().message());
    ConsolePage out;
    out.download =
        console::Download{"application/json; charset=utf-8", user->id + ".json", std::move(*json)};
    return out;
  }
  if (r.http.method() == "POST") {
    if (action.empty() || action == "export") {
      return Problem(400, "Choose an action", "Use the account's buttons.");
    }
    if (action == "reset") {
      Status sent =
          MailPasswordReset(p.s->daemon->env(), p.s->daemon->site().site_dir(), p.s->config(),
                            p.s->daemon->db(), *p.store, *user, *p.s->daemon->logger());
      (void)p.s->console->Audit(r, "user.reset",
                                user->id + (sent.ok() ? "" : " refused: " + sent.message()));
      if (!sent.ok()) return Redirect(back, "Not sent: " + sent.message() + ".");
      return Redirect(back, "Sent " + user->email +
                                " a link to choose a new password (valid 30 minutes, works once).");
    }
    if (action == "delete") {
      // Main's shop, for the erasure of the account's orders: opened for this rare action only,
      // not at every start.
      Result<int64_t> orders = [&]() -> Result<int64_t> {
        ASSIGN_OR_RETURN(OpenedShop shop,
                         OpenMainShop(p.s->daemon->env(), p.s->daemon->site().site_dir(),
                                      p.s->config(), p.s->daemon->db(), p.s->daemon->logger()));
        return EraseAccount(p.s->daemon->env(), p.s->daemon->db(), *p.store, *shop.shop, *user);
      }();
      (void)p.s->console->Audit(
          r, "user.delete",
          user->id + (orders.ok() ? "" : " refused: " + orders.status().message()));
      if (!orders.ok()) return Redirect(back, "Not done: " + orders.status().message() + ".");
      return Redirect("/users", "Deleted " + user->email + ": signed out everywhere, " +
                                    std::to_string(*orders) +
                                    " order(s) at main kept without the personal fields.");
    }
    const bool disable = action == "disable";
    auto done = p.store->SetDisabled(user->id, disable);
    // Signed out at every partner too (the notices go at the daemon's next tick).
    if (done.ok() && disable) {
      if (Status s = SignOutEverywhere(p.s->daemon->env(), p.s->daemon->db(), user->id); !s.ok()) {
        done = s;
      }
    }
    (void)p.s->console->Audit(
        r, disable ? "user.disable" : "user.enable",
        user->id + " " + user->email + (done.ok() ? "" : " refused: " + done.status().message()));
    if (!done.ok()) return Redirect(back, "Not done: " + done.status().message() + ".");
    return Redirect(back, disable ? "Disabled " + done->email +
                                        ": the account can no longer sign in, at main or at any "
                                        "partner."
                                  : "Enabled " + done->email + ": the account can sign in again.");
  }
  json::object data = UserData(p, *user);
  ConsolePage out;
  if (action == "disable") {
    if (user->disabled_micros != 0) {
      return Redirect("/users/" + user->id, user->email + " is already disabled.");
    }
    out.title = "Disable " + user->email + "?";
    out.template_name = "users_disable";
  } else if (action == "delete") {
    out.title = "Delete " + user->email + "?";
    out.template_name = "users_delete";
  } else if (action == "enable") {
    return Redirect("/users/" + user->id, "Use the Enable button to enable an account.");
  } else {
    out.title = user->email;
    out.template_name = "users_account";
    // The user logs: the customer's recent visits across the network, where recorded.
    json::array visits;
    if (auto list = UserVisits(p.s->daemon->db(), user->id, 50); list.ok()) {
      for (const LedgerVisit& v : *list) {
        visits.push_back(json::object{{"partner", v.partner},
                                      {"when", p.s->Time(v.time_micros)},
                                      {"area", v.area == "tieup" ? "tie-up" : "original"},
                                      {"request", v.method + " " + v.path},
                                      {"status", v.status}});
      }
    }
    data["has_visits"] = !visits.empty();
    data["visits"] = std::move(visits);
    data["news"] = user->marketing_consent_micros != 0;
    data["visits_consent"] = user->visits_consent_micros != 0;
  }
  data["back"] = "/users/" + user->id;
  out.data = std::move(data);
  return out;
}

}  // namespace

void AddUsersPages(ConsoleState& s) {
  auto pages = std::make_shared<UsersPages>();
  pages->s = &s;
  auto store = OpenMainUserStore(s.daemon->env(), s.config(), s.daemon->db());
  if (!store.ok()) {
    // The daemon's own users service (AttachUsers) opened the same store before: not expected.
    s.daemon->logger()->warn("console: main's user store cannot be opened: {}",
                             store.status().message());
    const std::string why = store.status().message();
    for (const char* path : {"/users", "/users/"}) {
      s.console->AddPage(
          path, [why](const ConsoleRequest&) { return Problem(500, "Users unavailable", why); });
    }
    return;
  }
  pages->store = std::move(*store);
  s.console->AddPage("/users", [pages](const ConsoleRequest& r) { return List(*pages, r); });
  s.console->AddPage("/users/", [pages](const ConsoleRequest& r) { return Account(*pages, r); });
}

}  // namespace tieup::main_console
