#include "partner_site/console_pages.h"

#include <algorithm>
#include <boost/json.hpp>
#include <memory>
#include <set>

#include "base/encoding.h"
#include "base/time_format.h"
#include "commerce/mail.h"
#include "commerce/manager_cli.h"
#include "commerce/money.h"
#include "console/console_server.h"
#include "content/builder.h"
#include "content/page_templates.h"
#include "partner_site/ledger_service.h"
#include "partner_site/page_tools.h"
#include "partner_site/partner_daemon.h"
#include "partner_site/preview.h"
#include "partner_site/shop_service.h"
#include "partner_site/update_review.h"

namespace tieup {

// The console's page templates (generated from src/partner_site/console_templates/ by CMake).
const std::vector<std::pair<std::string_view, std::string_view>>& EmbeddedPartnerConsoleTemplates();

namespace {

namespace json = boost::json;
using console::ConsolePage;
using console::ConsoleRequest;

// What the pages share: the daemon's services and the shop the console manages.
struct ConsoleState {
  PartnerDaemon* daemon = nullptr;
  std::shared_ptr<console::Console> console;
  std::unique_ptr<Database> shop_db;  // the shop's own connection (as the command line's)
  OpenedPartnerShop shop;
  std::string preview_secret;
  std::set<std::string> announced;  // pending updates already announced (scheduler thread)
  std::unique_ptr<content::PageTemplates> templates;  // the tie-up release's shell, for pages

  const SiteConfig& config() const { return daemon->site().config(); }
  std::string Time(int64_t micros) const {
    return FormatDateTime(micros, config().time_zone, config().locale);
  }
  std::string Money(int64_t minor) const {
    const commerce::ShopConfig& c = shop.shop->config();
    return commerce::FormatMoney(minor, c.currency, c.locale);
  }
  // A link to the preview of staged version `version` on the public port.
  std::string PreviewUrl(uint64_t version) const {
    return "http://" + HostPort{config().public_address.host, daemon->public_port()}.ToString() +
           PreviewPath(preview_secret, version);
  }
};

ConsolePage Problem(int status, std::string title, std::string message) {
  ConsolePage p;
  p.status = status;
  p.title = title;
  p.template_name = "problem";
  p.data = json::object{{"heading", title}, {"message", message}};
  return p;
}

ConsolePage Redirect(std::string path, std::string flash) {
  ConsolePage p;
  p.redirect = std::move(path);
  p.flash = std::move(flash);
  return p;
}

std::string StateWords(const sync::ReceivedUpdate& u) {
  if (u.state == "pending") return "waiting for your review";
  if (u.state == "approved") return "approved; main activates it";
  if (u.state == "rejected") return "rejected: " + u.reason;
  if (u.state == "activated") return "live";
  if (u.state == "superseded") return "replaced by a newer update";
  return u.state;
}

json::object UpdateData(const ConsoleState& s, const sync::ReceivedUpdate& u) {
  return json::object{{"id", u.update_id},
                      {"version", u.version},
                      {"state", u.state},
                      {"state_words", StateWords(u)},
                      {"pending", u.state == "pending"},
                      {"received", s.Time(u.received * 1'000'000)},
                      {"added", u.added},
                      {"changed", u.changed},
                      {"removed", u.removed}};
}

// --- home ---
ConsolePage Home(ConsoleState& s, const ConsoleRequest&) {
  json::object data;
  PartnerSync* sync = s.daemon->sync();
  data["enrolled"] = sync != nullptr;
  if (sync != nullptr) {
    auto status = sync->receiver().GetStatus();
    if (status.ok()) {
      data["tieup_version"] = status->active_version;
      data["tieup_live"] = status->active_version > 0;
    }
    auto pending = sync->receiver().Pending();
    json::array waiting;
    if (pending.ok()) {
      for (const sync::ReceivedUpdate& u : *pending) waiting.push_back(UpdateData(s, u));
    }
    data["has_pending"] = !waiting.empty();
    data["pending"] = std::move(waiting);
  }
  commerce::Shop::OrderFilter filter;
  filter.limit = 5;
  auto orders = s.shop.shop->ListOrders(filter);
  json::array recent;
  if (orders.ok()) {
    for (const commerce::Order& o : *orders) {
      recent.push_back(json::object{{"number", o.number},
                                    {"status", std::string(commerce::OrderStatusName(o.status))},
                                    {"total", s.Money(o.totals.total_minor)},
                                    {"when", s.Time(o.created_micros)}});
    }
  }
  data["has_orders"] = !recent.empty();
  data["orders"] = std::move(recent);
  data["public_url"] =
      "http://" + HostPort{s.config().public_address.host, s.daemon->public_port()}.ToString() +
      "/";
  ConsolePage p;
  p.title = "Home";
  p.template_name = "home";
  p.data = std::move(data);
  return p;
}

// --- updates ---
ConsolePage Updates(ConsoleState& s, const ConsoleRequest&) {
  PartnerSync* sync = s.daemon->sync();
  if (sync == nullptr) {
    return Problem(409, "Not enrolled",
                   "This site is not enrolled with a main site yet, so no updates arrive. Ask "
                   "the main site's manager for an enrollment code.");
  }
  auto updates = sync->receiver().Updates(100);
  if (!updates.ok()) return Problem(500, "Updates unavailable", updates.status().message());
  json::array pending, history;
  for (const sync::ReceivedUpdate& u : *updates) {
    (u.state == "pending" ? pending : history).push_back(UpdateData(s, u));
  }
  json::object data{{"has_pending", !pending.empty()},
                    {"pending", std::move(pending)},
                    {"has_history", !history.empty()},
                    {"history", std::move(history)}};
  ConsolePage p;
  p.title = "Updates";
  p.template_name = "updates";
  p.data = std::move(data);
  return p;
}

ConsolePage Review(ConsoleState& s, const ConsoleRequest& r, const std::string& id) {
  PartnerSync* sync = s.daemon->sync();
  if (sync == nullptr) return Problem(404, "No such update", "This site receives no updates.");
  auto pending = sync->receiver().Pending();
  if (!pending.ok()) return Problem(500, "Updates unavailable", pending.status().message());
  auto it = std::find_if(pending->begin(), pending->end(),
                         [&](const sync::ReceivedUpdate& u) { return u.update_id == id; });
  if (it == pending->end()) {
    return Redirect("/updates", "Update " + id + " is no longer waiting for a review.");
  }
  if (r.http.method() == "POST") {
    const std::string_view decision = r.form.Get("decision");
    if (decision == "approve") {
      Status st = sync->receiver().Approve(id);
      (void)s.console->Audit(r, "update.approve",
                             id + " (version " + std::to_string(it->version) + ")");
      if (!st.ok() && st.code() != StatusCode::kUnavailable) {
        return Problem(409, "Could not approve", st.message());
      }
      return Redirect("/updates",
                      st.ok() ? "Update " + id + " approved: main has been told and activates it."
                              : "Update " + id +
                                    " approved. Main cannot be reached now; it is "
                                    "told as soon as it can be.");
    }
    if (decision == "reject") {
      const std::string reason(commerce::Trim(r.form.Get("reason")));
      if (reason.empty()) {
        return Redirect("/updates/" + id,
                        "Say why you reject the update: main's manager reads it.");
      }
      Status st = sync->receiver().Reject(id, reason);
      (void)s.console->Audit(r, "update.reject", id + ": " + reason);
      if (!st.ok() && st.code() != StatusCode::kUnavailable) {
        return Problem(409, "Could not reject", st.message());
      }
      return Redirect("/updates", "Update " + id + " rejected; main has been told why.");
    }
    return Problem(400, "Unknown decision", "Choose Approve or Reject.");
  }
  auto review = ReviewPendingUpdate(s.daemon->site().content(), *it);
  if (!review.ok()) return Problem(500, "Review unavailable", review.status().message());
  json::array files;
  for (const FileChange& f : review->files) {
    json::array rows;
    for (const DiffLine& d : f.diff) {
      const char* kind = d.kind == DiffLine::Kind::kSame      ? "same"
                         : d.kind == DiffLine::Kind::kRemoved ? "removed"
                         : d.kind == DiffLine::Kind::kAdded   ? "added"
                         : d.kind == DiffLine::Kind::kChanged ? "changed"
                                                              : "gap";
      rows.push_back(
          json::object{{"kind", kind},
                       {"gap", d.kind == DiffLine::Kind::kGap},
                       {"left_number", d.left_number ? std::to_string(d.left_number) : ""},
                       {"right_number", d.right_number ? std::to_string(d.right_number) : ""},
                       {"left", d.left},
                       {"right", d.right}});
    }
    const char* kind = f.kind == FileChange::Kind::kAdded     ? "added"
                       : f.kind == FileChange::Kind::kChanged ? "changed"
                                                              : "removed";
    // (Sections test presence: an empty text would still show one.)
    json::object file{{"path", f.path},
                      {"kind", kind},
                      {"bytes_before", f.bytes_before},
                      {"bytes_after", f.bytes_after},
                      {"has_diff", !rows.empty()},
                      {"diff", std::move(rows)},
                      {"truncated", f.diff_truncated}};
    if (!f.note.empty()) file["note"] = f.note;
    if (f.kind != FileChange::Kind::kRemoved) {
      file["preview"] = s.PreviewUrl(it->version) + f.path.substr(1);
    }
    files.push_back(std::move(file));
  }
  json::object data = UpdateData(s, *it);
  data["files"] = std::move(files);
  data["preview"] = s.PreviewUrl(it->version);
  ConsolePage p;
  p.title = "Review update " + id;
  p.template_name = "update";
  p.data = std::move(data);
  return p;
}

ConsolePage RollbackPage(ConsoleState& s, const ConsoleRequest& r) {
  PartnerSync* sync = s.daemon->sync();
  if (sync == nullptr) return Problem(409, "Not enrolled", "This site has no tie-up pages.");
  auto status = sync->receiver().GetStatus();
  if (!status.ok()) return Problem(500, "Status unavailable", status.status().message());
  if (r.http.method() == "POST") {
    auto version = sync->receiver().Rollback();
    (void)s.console->Audit(r, "update.rollback",
                           version.ok() ? "to version " + std::to_string(*version)
                                        : "refused: " + version.status().message());
    if (!version.ok()) return Problem(409, "Could not roll back", version.status().message());
    return Redirect("/updates", "Rolled back: the tie-up pages of version " +
                                    std::to_string(*version) + " are live again.");
  }
  ConsolePage p;
  p.title = "Roll back";
  p.template_name = "rollback";
  p.data = json::object{{"version", status->active_version}};
  return p;
}

// --- orders ---
ConsolePage Orders(ConsoleState& s, const ConsoleRequest& r) {
  commerce::Shop::OrderFilter filter;
  filter.limit = 200;
  std::string wanted;
  if (auto q = commerce::ParseForm(r.http.query()); q.ok()) wanted = q->Get("status");
  if (!wanted.empty()) {
    auto st = commerce::ParseOrderStatus(wanted);
    if (!st.ok()) return Problem(400, "Unknown status", st.status().message());
    filter.status = *st;
  }
  auto orders = s.shop.shop->ListOrders(filter);
  if (!orders.ok()) return Problem(500, "Orders unavailable", orders.status().message());
  json::array list;
  for (const commerce::Order& o : *orders) {
    list.push_back(json::object{{"number", o.number},
                                {"status", std::string(commerce::OrderStatusName(o.status))},
                                {"customer", o.customer.name},
                                {"total", s.Money(o.totals.total_minor)},
                                {"when", s.Time(o.created_micros)}});
  }
  json::array filters;
  for (const char* f : {"", "placed", "paid", "shipped", "delivered", "cancelled"}) {
    json::object filter{{"label", *f ? f : "all"}, {"current", wanted == f}};
    if (*f) filter["value"] = f;
    filters.push_back(std::move(filter));
  }
  ConsolePage p;
  p.title = "Orders";
  p.template_name = "orders";
  p.data = json::object{
      {"has_orders", !list.empty()}, {"orders", std::move(list)}, {"filters", std::move(filters)}};
  return p;
}

ConsolePage OrderPage(ConsoleState& s, const ConsoleRequest& r, const std::string& number) {
  commerce::Shop& shop = *s.shop.shop;
  if (r.http.method() == "POST") {
    const std::string actor = "manager:" + r.manager.email;
    const std::string_view action = r.form.Get("action");
    Status st;
    if (action == "paid") {
      st = shop.MarkPaid(number, actor, r.form.Get("note"));
    } else if (action == "ship") {
      st = shop.Ship(number, commerce::Trim(r.form.Get("carrier")),
                     commerce::Trim(r.form.Get("tracking")), actor);
    } else if (action == "deliver") {
      st = shop.MarkDelivered(number, actor);
    } else if (action == "cancel") {
      st = shop.Cancel(number, actor, commerce::Trim(r.form.Get("reason")));
    } else {
      return Problem(400, "Unknown action", "Choose one of the order's buttons.");
    }
    (void)s.console->Audit(r, "order." + std::string(action),
                           number + (st.ok() ? "" : " refused: " + st.message()));
    if (!st.ok()) return Redirect("/orders/" + number, "Not done: " + st.message());
    const char* done = action == "paid"      ? "marked paid"
                       : action == "ship"    ? "marked shipped; the customer is mailed"
                       : action == "deliver" ? "marked delivered"
                                             : "cancelled; its stock is back";
    return Redirect("/orders/" + number, "Order " + number + " " + done + ".");
  }
  auto o = shop.GetOrder(number);
  if (!o.ok()) return Problem(404, "No such order", "There is no order " + number + ".");
  json::array lines, events;
  for (const commerce::OrderLine& l : o->lines) {
    lines.push_back(json::object{{"title", l.title},
                                 {"sku", l.sku},
                                 {"quantity", l.quantity},
                                 {"total", s.Money(l.line_total_minor)}});
  }
  for (const commerce::OrderEvent& e : o->events) {
    json::object event{{"when", s.Time(e.at_micros)}, {"actor", e.actor}, {"to", e.to_status}};
    if (!e.note.empty()) event["note"] = e.note;
    events.push_back(std::move(event));
  }
  const commerce::OrderStatus st = o->status;
  json::object data{
      {"number", o->number},
      {"status", std::string(commerce::OrderStatusName(st))},
      {"customer", o->customer.name},
      {"address", o->customer.address_line1 + ", " + o->customer.postal_code + " " +
                      o->customer.city + ", " + o->customer.country},
      {"contact", o->customer.email.empty() ? o->customer.phone : o->customer.email},
      {"payment", shop.FindPaymentProvider(o->payment_method) != nullptr
                      ? shop.FindPaymentProvider(o->payment_method)->title()
                      : o->payment_method},
      {"paid", o->paid},
      {"total", s.Money(o->totals.total_minor)},
      {"lines", std::move(lines)},
      {"events", std::move(events)},
      {"can_pay", !o->paid && st != commerce::OrderStatus::kCancelled},
      {"can_ship", st == commerce::OrderStatus::kPlaced || st == commerce::OrderStatus::kPaid},
      {"can_deliver", st == commerce::OrderStatus::kShipped},
      {"can_cancel", st == commerce::OrderStatus::kPlaced || st == commerce::OrderStatus::kPaid}};
  ConsolePage p;
  p.title = "Order " + o->number;
  p.template_name = "order";
  p.data = std::move(data);
  return p;
}

// --- goods ---
// GET: the shop's products (main's mirrored goods are main's: shown, not edited). POST: add a
// product, or set a product's price or stock; the same functions as `tieup partner product`.
ConsolePage Products(ConsoleState& s, const ConsoleRequest& r) {
  commerce::Shop& shop = *s.shop.shop;
  if (r.http.method() == "POST") {
    const std::string_view action = r.form.Get("action");
    const std::string sku(commerce::Trim(r.form.Get("sku")));
    Result<std::string> done = Status::InvalidArgument("choose one of the forms' buttons");
    if (action == "add") {
      commerce::ProductArgs a;
      a.sku = sku;
      a.title = commerce::Trim(r.form.Get("title"));
      a.price = commerce::Trim(r.form.Get("price"));
      a.stock = commerce::Trim(r.form.Get("stock"));
      a.category = commerce::Trim(r.form.Get("category"));
      a.page = commerce::Trim(r.form.Get("page"));
      done = commerce::CliProductAdd(shop, a);
    } else if (action == "price") {
      done = commerce::CliProductSetPrice(shop, sku, commerce::Trim(r.form.Get("price")));
    } else if (action == "stock") {
      done = commerce::CliProductSetStock(shop, sku, commerce::Trim(r.form.Get("stock")));
    }
    (void)s.console->Audit(r, "product." + std::string(action),
                           done.ok() ? *done : sku + " refused: " + done.status().message());
    return Redirect("/products", done.ok() ? *done : "Not done: " + done.status().message());
  }
  auto products = shop.ListProducts();
  if (!products.ok()) return Problem(500, "Goods unavailable", products.status().message());
  auto mirrored = s.shop_db->Query("SELECT sku FROM shop_mirror", {});
  std::set<std::string> mains;
  if (mirrored.ok()) {
    for (const SqlRow& row : *mirrored) mains.insert(row.Text(0));
  }
  json::array own, theirs;
  for (const commerce::Product& p : *products) {
    json::object e{
        {"sku", p.sku}, {"title", p.title}, {"price", s.Money(p.price_minor)}, {"stock", p.stock}};
    (mains.contains(p.sku) ? theirs : own).push_back(std::move(e));
  }
  ConsolePage p;
  p.title = "Goods";
  p.template_name = "products";
  p.data = json::object{{"has_own", !own.empty()},
                        {"own", std::move(own)},
                        {"has_mains", !theirs.empty()},
                        {"mains", std::move(theirs)},
                        {"currency", shop.config().currency}};
  return p;
}

// --- own pages ---
ConsolePage Pages(ConsoleState& s, const ConsoleRequest&) {
  auto pages = ListPages(s.daemon->site().content());
  if (!pages.ok()) return Problem(500, "Pages unavailable", pages.status().message());
  json::array own, tieup;
  for (const PageListing& l : *pages) {
    json::object e{{"path", l.path}, {"bytes", l.length}, {"type", l.content_type}};
    (l.area == content::Area::kOriginal ? own : tieup).push_back(std::move(e));
  }
  ConsolePage p;
  p.title = "Your pages";
  p.template_name = "pages";
  p.data = json::object{
      {"has_own", !own.empty()}, {"own", std::move(own)}, {"tieup_count", tieup.size()}};
  return p;
}

// GET /pages/edit?path=P (new when empty); POST path, body, format -> put as one release.
ConsolePage EditPage(ConsoleState& s, const ConsoleRequest& r) {
  Env& env = s.daemon->env();
  SiteContent& content = s.daemon->site().content();
  if (r.http.method() == "POST") {
    std::string path(commerce::Trim(r.form.Get("path")));
    const std::string_view format = r.form.Get("format");
    const std::string body(r.form.Get("body"));
    if (path.empty() || path[0] != '/') {
      return Redirect("/pages/edit", "A page's address starts with '/', like /local/news.html.");
    }
    // Markdown becomes HTML in the site's look (main's layout, the page shell of the tie-up
    // release) at an .html address; its source is kept so that it is edited as Markdown again.
    const bool markdown = format == "markdown";
    const std::string title(commerce::Trim(r.form.Get("title")));
    std::string bytes = body;
    if (markdown) {
      if (path.ends_with(".md")) path = path.substr(0, path.size() - 3) + ".html";
      if (!path.ends_with(".html") && !path.ends_with("/")) path += ".html";
      if (path.ends_with("/")) path += "index.html";
      auto html = content::RenderMarkdown(body, path);
      if (!html.ok()) return Problem(400, "Could not render the Markdown", html.status().message());
      bytes = s.templates->InShell({title.empty() ? path : title, std::nullopt}, *html);
    }
    const std::string type;
    const std::string tmp = JoinPath(s.daemon->site().site_dir(), "run/console-page.tmp");
    Status st = CreateDirs(env, DirName(tmp));
    if (st.ok()) st = WriteFileAtomic(env, tmp, bytes);
    if (!st.ok()) return Problem(500, "Could not save", st.message());
    auto put = PutPages(env, s.config(), content, path, tmp, type, false);
    (void)env.RemoveFile(tmp);
    if (put.ok()) {
      Status kept =
          markdown ? s.shop_db->Exec(
                         "INSERT OR REPLACE INTO console_page_sources(path, title, "
                         "markdown) VALUES(?,?,?)",
                         {path, title, body})
                   : s.shop_db->Exec("DELETE FROM console_page_sources WHERE path = ?", {path});
      if (!kept.ok()) s.daemon->logger()->warn("keeping a page's Markdown: {}", kept.message());
    }
    (void)s.console->Audit(r, "page.put",
                           path + (put.ok() ? "" : " refused: " + put.status().message()));
    if (!put.ok()) {
      ConsolePage p;
      p.status = 409;
      p.title = "Edit a page";
      p.template_name = "page_edit";
      p.data = json::object{{"path", path},
                            {"title", title},
                            {"body", body},
                            {"markdown", markdown},
                            {"error", put.status().message()}};
      return p;
    }
    return Redirect("/pages", put->changed ? "Saved " + path + ": it is live now."
                                           : "No change to " + path + ".");
  }
  std::string path;
  if (auto q = commerce::ParseForm(r.http.query()); q.ok()) path = q->Get("path");
  std::string body, title;
  bool markdown = path.empty();
  if (!path.empty()) {
    auto source =
        s.shop_db->Query("SELECT title, markdown FROM console_page_sources WHERE path = ?", {path});
    if (source.ok() && !source->empty()) {
      title = (*source)[0].Text(0);
      body = (*source)[0].Text(1);
      markdown = true;
    } else if (auto view = content.view()) {
      const content::ServedFile* file = view->Find(path);
      if (file != nullptr && file->area == content::Area::kOriginal) {
        auto bytes = view->ReadBody(*file);
        if (bytes.ok()) body = **bytes;
      }
    }
  }
  ConsolePage p;
  p.title = path.empty() ? "New page" : "Edit " + path;
  p.template_name = "page_edit";
  p.data = json::object{{"path", path.empty() ? "/local/new-page.html" : path},
                        {"title", title},
                        {"body", body},
                        {"markdown", markdown}};
  return p;
}

ConsolePage DeletePage(ConsoleState& s, const ConsoleRequest& r) {
  if (r.http.method() != "POST") return Redirect("/pages", "");
  const std::string path(commerce::Trim(r.form.Get("path")));
  auto removed = RemovePage(s.daemon->env(), s.config(), s.daemon->site().content(), path, false);
  (void)s.console->Audit(r, "page.delete",
                         path + (removed.ok() ? "" : " refused: " + removed.status().message()));
  if (!removed.ok()) return Redirect("/pages", "Not deleted: " + removed.status().message());
  return Redirect("/pages", "Deleted " + path + ".");
}

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

// --- managers ---
// GET: who may sign in. POST: add a manager or reset one's password (the one-time link is shown
// once, to hand over), or remove one (their sessions end); as `tieup partner manager` does.
ConsolePage Managers(ConsoleState& s, const ConsoleRequest& r) {
  console::Console& c = *s.console;
  if (r.http.method() == "POST") {
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
    if (token->empty())
      return Redirect("/managers", "Removed " + email + "; their sessions ended.");
    ConsolePage p;
    p.title = "Managers";
    p.template_name = "manager_link";
    p.data = json::object{{"email", email},
                          {"link", c.url() + "set-password?token=" + *token},
                          {"reset", action == "reset"}};
    return p;
  }
  auto list = c.managers().List();
  if (!list.ok()) return Problem(500, "Managers unavailable", list.status().message());
  json::array managers;
  for (const console::Manager& m : *list) {
    managers.push_back(json::object{
        {"email", m.email},
        {"name", m.name},
        {"password_set", m.password_set},
        {"last_login", m.last_login_micros == 0 ? "never" : s.Time(m.last_login_micros)},
        {"me", m.email == r.manager.email}});
  }
  ConsolePage p;
  p.title = "Managers";
  p.template_name = "managers";
  p.data = json::object{{"managers", std::move(managers)}};
  return p;
}

// --- audit ---
ConsolePage Audit(ConsoleState& s, const ConsoleRequest&) {
  auto entries = s.console->audit().Recent(200);
  if (!entries.ok()) return Problem(500, "Audit log unavailable", entries.status().message());
  json::array list;
  for (const console::AuditEntry& e : *entries) {
    list.push_back(json::object{{"when", s.Time(e.at_micros)},
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

// Tells every manager with a password by mail that `u` waits (the site's mail outbox: delivered
// by SMTP when shop.smtp_host is set, kept in SITE_DIR/mail otherwise). Only updates that
// arrive while the daemon runs are mailed (the set of announced ones starts empty at start, and
// a restart mails those still pending again, once).
void MailManagers(ConsoleState& s, const sync::ReceivedUpdate& u) {
  commerce::MailOutbox* outbox = s.shop.outbox.get();
  const commerce::ShopConfig& shop = s.shop.shop->config();
  if (outbox == nullptr || shop.mail_from.address.empty()) return;
  auto managers = s.console->managers().List();
  if (!managers.ok()) return;
  commerce::MailMessage m;
  m.from = shop.mail_from;
  for (const console::Manager& manager : *managers) {
    if (manager.password_set) m.to.push_back({manager.name, manager.email});
  }
  if (m.to.empty()) return;
  m.subject = "Update " + u.update_id + " from the main site waits for your review";
  m.body = "Version " + std::to_string(u.version) + " of the tie-up pages arrived at " +
           s.config().name + ": " + std::to_string(u.added) + " added, " +
           std::to_string(u.changed) + " changed, " + std::to_string(u.removed) +
           " removed.\n\nNothing of it is live until you approve it. Review it in the console:\n" +
           s.console->url() + "updates/" + u.update_id + "\n";
  auto queued = outbox->Enqueue(std::move(m));
  if (!queued.ok()) {
    s.daemon->logger()->warn("mailing the managers about update {}: {}", u.update_id,
                             queued.status().message());
  }
}

// Announces each new pending update once, live on every open console page.
void AnnouncePending(ConsoleState& s) {
  PartnerSync* sync = s.daemon->sync();
  if (sync == nullptr) return;
  auto pending = sync->receiver().Pending();
  if (!pending.ok()) return;
  for (const sync::ReceivedUpdate& u : *pending) {
    if (!s.announced.insert(u.update_id).second) continue;
    MailManagers(s, u);
    s.console->Publish(
        "update",
        json::object{
            {"title", "New update from the main site."},
            {"message", "It waits for your review: version " + std::to_string(u.version) + ", " +
                            std::to_string(u.added) + " added, " + std::to_string(u.changed) +
                            " changed, " + std::to_string(u.removed) + " removed."},
            {"href", "/updates/" + u.update_id}});
  }
}

}  // namespace

Status AttachPartnerConsole(PartnerDaemon& daemon) {
  const SiteConfig& config = daemon.site().config();
  auto state = std::make_shared<ConsoleState>();
  state->daemon = &daemon;
  ASSIGN_OR_RETURN(state->preview_secret,
                   LoadOrCreatePreviewSecret(daemon.env(), daemon.site().site_dir()));
  ASSIGN_OR_RETURN(state->shop_db, OpenSqlite(SitePaths(daemon.site().site_dir()).database()));
  ASSIGN_OR_RETURN(state->shop, OpenPartnerShop(daemon.env(), daemon.site().site_dir(), config,
                                                *state->shop_db, daemon.logger()));
  RETURN_IF_ERROR(state->shop_db->Exec(
      "CREATE TABLE IF NOT EXISTS console_page_sources(path TEXT PRIMARY KEY, title TEXT NOT "
      "NULL, markdown TEXT NOT NULL)",
      {}));
  content::PageSite site;
  site.view = [content = &daemon.site().content()] { return content->view(); };
  site.area = content::Area::kTieup;
  site.site_name = config.name;
  state->templates =
      std::make_unique<content::PageTemplates>(content::EmbeddedTemplates{}, std::move(site));
  console::ConsoleOptions o;
  o.title = config.name + " — partner console";
  o.address = config.console_address.host;
  o.port = config.console_address.port;
  auto in_site = [&](const std::string& file) {
    return file.empty() || file[0] == '/' ? file : JoinPath(daemon.site().site_dir(), file);
  };
  o.tls_certificate_file = in_site(config.console_tls_certificate);
  o.tls_key_file = in_site(config.console_tls_key);
  o.logger = daemon.logger();
  o.cookie_name = "tieup_console_" + config.id;  // two demo partners on one host stay apart
  auto hashing = config.variables.find("users.password_hashing");
  if (hashing != config.variables.end()) {
    ASSIGN_OR_RETURN(o.managers.cost, users::PasswordHashCost::FromName(hashing->second));
  }
  ASSIGN_OR_RETURN(auto opened, console::Console::Open(daemon.env(), daemon.db(), o));
  state->console = std::move(opened);
  console::Console& c = *state->console;
  c.AddTemplates(EmbeddedPartnerConsoleTemplates());
  c.AddNav("Home", "/");
  c.AddNav("Updates", "/updates");
  c.AddNav("Orders", "/orders");
  c.AddNav("Goods", "/products");
  c.AddNav("Your pages", "/pages");
  c.AddNav("Ledger & fees", "/ledger");
  c.AddNav("Managers", "/managers");
  c.AddNav("Audit log", "/audit");
  ConsoleState* s = state.get();
  c.AddPage("/", [s](const ConsoleRequest& r) { return Home(*s, r); });
  c.AddPage("/updates", [s](const ConsoleRequest& r) { return Updates(*s, r); });
  c.AddPage("/updates/", [s](const ConsoleRequest& r) {
    return Review(*s, r, std::string(r.http.path().substr(9)));
  });
  c.AddPage("/rollback", [s](const ConsoleRequest& r) { return RollbackPage(*s, r); });
  c.AddPage("/orders", [s](const ConsoleRequest& r) { return Orders(*s, r); });
  c.AddPage("/orders/", [s](const ConsoleRequest& r) {
    return OrderPage(*s, r, std::string(r.http.path().substr(8)));
  });
  c.AddPage("/products", [s](const ConsoleRequest& r) { return Products(*s, r); });
  c.AddPage("/pages", [s](const ConsoleRequest& r) { return Pages(*s, r); });
  c.AddPage("/pages/edit", [s](const ConsoleRequest& r) { return EditPage(*s, r); });
  c.AddPage("/pages/delete", [s](const ConsoleRequest& r) { return DeletePage(*s, r); });
  c.AddPage("/ledger", [s](const ConsoleRequest& r) { return Ledger(*s, r); });
  c.AddPage("/managers", [s](const ConsoleRequest& r) { return Managers(*s, r); });
  c.AddPage("/audit", [s](const ConsoleRequest& r) { return Audit(*s, r); });
  daemon.AddPeriodicTask("console announcements", [state] { AnnouncePending(*state); });
  daemon.AddServer(
      [state, &daemon]() -> Status {
        RETURN_IF_ERROR(state->console->Start());
        const std::string url = state->console->url();
        daemon.logger()->info(
            "manager console: {} (sign in; add managers with 'tieup partner "
            "manager add {} --email ...')",
            url, daemon.site().site_dir());
        const std::string file = JoinPath(daemon.site().site_dir(), "run/console.addr");
        Status kept = CreateDirs(daemon.env(), DirName(file));
        if (kept.ok()) kept = WriteFileAtomic(daemon.env(), file, url + "\n");
        if (!kept.ok())
          daemon.logger()->warn("recording the console's address: {}", kept.message());
        return Status::Ok();
      },
      [state, &daemon] {
        state->console->Stop();
        (void)daemon.env().RemoveFile(JoinPath(daemon.site().site_dir(), "run/console.addr"));
      });
  return Status::Ok();
}

}  // namespace tieup
