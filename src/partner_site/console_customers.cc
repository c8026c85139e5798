// The partner console's customers (issue 16 item 5): the copies of customer data main lets this
// site keep by the partnership's contract (users/customer_copy.h), read only: main keeps them
// current, and a customer who deletes their account disappears here too.
//
// GET /customers[?q=TEXT] lists them (at most 500 shown; a search narrows them by name, e-mail
// address, city or id), with the fields the contract allows and the number of main's last
// message. Without a contract the page says so and who changes it.
#include <algorithm>

#include "commerce/form.h"
#include "partner_site/console_common.h"
#include "partner_site/users_service.h"

namespace tieup::partner_console {
namespace {

constexpr size_t kShown = 500;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

ConsolePage Customers(ConsoleState& s, const ConsoleRequest& r) {
  std::string query;
  if (auto q = commerce::ParseForm(r.http.query()); q.ok()) {
    query = std::string(commerce::Trim(q->Get("q")));
  }
  auto keeper =
      OpenCustomerCopies(s.daemon->env(), s.daemon->site().site_dir(), s.config(), *s.shop_db);
  if (!keeper.ok()) {
    return Problem(503, "Customers unavailable",
                   "The customers main sent cannot be read right now (" +
                       keeper.status().message() + "). Try again in a minute.");
  }
  auto contract = (*keeper)->Contract();
  auto list = (*keeper)->List();
  if (!contract.ok() || !list.ok()) {
    return Problem(503, "Customers unavailable",
                   "The customers main sent cannot be read right now. Try again in a minute.");
  }
  ConsolePage p;
  p.title = "Customers";
  p.template_name = "customers";
  json::object data;
  // In the order a person reads them.
  std::string fields;
  auto has = [&](std::string_view f) {
    return std::find(contract->first.begin(), contract->first.end(), f) != contract->first.end();
  };
  for (auto [f, words] : {std::pair<const char*, const char*>{"name", "name"},
                          {"email", "e-mail address"},
                          {"address", "postal address"},
                          {"marketing_consent", "whether they want news by mail"}}) {
    if (has(f)) fields += (fields.empty() ? "" : ", ") + std::string(words);
  }
  data["has_contract"] = contract->second != 0 && !contract->first.empty();
  data["fields"] = fields;
  data["message"] = static_cast<int64_t>(contract->second);
  data["query"] = query;
  data["has_query"] = !query.empty();
  const std::string needle = Lower(query);
  // By name (then id), as a person looks for one.
  std::stable_sort(list->begin(), list->end(),
                   [](const users::CustomerCopy& a, const users::CustomerCopy& b) {
                     return Lower(a.name.value_or("")) < Lower(b.name.value_or(""));
                   });
  json::array rows;
  size_t matching = 0;
  for (const users::CustomerCopy& c : *list) {
    const users::PostalAddress a = c.address.value_or(users::PostalAddress{});
    const std::string haystack = Lower(c.user_id + " " + c.name.value_or("") + " " +
                                       c.email.value_or("") + " " + a.name + " " + a.city);
    if (!needle.empty() && haystack.find(needle) == std::string::npos) continue;
    if (++matching > kShown) continue;
    json::object row{{"id", c.user_id},
                     {"name", c.name.value_or("")},
                     {"email", c.email.value_or("")},
                     {"has_address", !a.empty()}};
    if (!a.empty()) {
      row["address"] = a.name + ", " + a.line1 + (a.line2.empty() ? "" : ", " + a.line2) + ", " +
                       a.postal_code + " " + a.city + ", " + a.country +
                       (a.phone.empty() ? "" : " (" + a.phone + ")");
    }
    if (c.marketing_consent) row["news"] = *c.marketing_consent ? "yes" : "no";
    rows.push_back(std::move(row));
  }
  data["customers"] = std::move(rows);
  data["has_customers"] = matching > 0;
  data["count"] = static_cast<int64_t>(matching);
  data["total"] = static_cast<int64_t>(list->size());
  data["more"] = matching > kShown;
  data["shown"] = static_cast<int64_t>(kShown);
  data["show_name"] = has("name");
  data["show_email"] = has("email");
  data["show_address"] = has("address");
  data["show_news"] = has("marketing_consent");
  data["site_id"] = s.config().id;
  p.data = std::move(data);
  return p;
}

}  // namespace

void AddCustomerPages(ConsoleState& s) {
  ConsoleState* p = &s;
  s.console->AddPage("/customers", [p](const ConsoleRequest& r) { return Customers(*p, r); });
}

}  // namespace tieup::partner_console
