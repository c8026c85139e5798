#include "partner_site/console_pages.h"

#include <memory>
#include <set>

#include "commerce/mail.h"
#include "partner_site/console_common.h"
#include "partner_site/preview.h"

namespace tieup {

// The console's page templates (generated from src/partner_site/console_templates/ by CMake).
const std::vector<std::pair<std::string_view, std::string_view>>& EmbeddedPartnerConsoleTemplates();
// Its styles and scripts (console_assets/*.css, *.js), after the console's own.
const std::vector<std::pair<std::string_view, std::string_view>>& EmbeddedPartnerConsoleStyles();
const std::vector<std::pair<std::string_view, std::string_view>>& EmbeddedPartnerConsoleScripts();

namespace partner_console {

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

}  // namespace partner_console

using namespace partner_console;

namespace {

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
  for (const auto& [name, css] : EmbeddedPartnerConsoleStyles()) c.AddStyles(css);
  for (const auto& [name, js] : EmbeddedPartnerConsoleScripts()) c.AddScript(js);
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
  AddUpdatePages(*s);
  AddShopPages(*s);
  AddOwnPages(*s);
  AddLedgerPages(*s);
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