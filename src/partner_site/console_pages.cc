#include "partner_site/console_pages.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <set>

#include "commerce/mail.h"
#include "console/manager_pages.h"
#include "console/site_options.h"
#include "crypto/x509.h"
#include "partner_site/console_common.h"
#include "partner_site/ledger_service.h"  // LastLedgerPush
#include "partner_site/preview.h"
#include "sync/withdrawal_service.h"

namespace tieup {

// The console's page templates (generated from src/partner_site/console_templates/ by CMake).
const std::vector<std::pair<std::string_view, std::string_view>>& EmbeddedPartnerConsoleTemplates();
// Its styles and scripts (console_assets/*.css, *.js), after the console's own.
const std::vector<std::pair<std::string_view, std::string_view>>& EmbeddedPartnerConsoleStyles();
const std::vector<std::pair<std::string_view, std::string_view>>& EmbeddedPartnerConsoleScripts();

namespace partner_console {

ConsolePage Problem(int status, std::string title, std::string message) {
  return console::ProblemPage(status, std::move(title), std::move(message));
}

ConsolePage Redirect(std::string path, std::string flash) {
  return console::RedirectPage(std::move(path), std::move(flash));
}

}  // namespace partner_console

using namespace partner_console;

namespace {

// --- home ---
// What the partner knows of its tie-up pages: the releases on disk (content/content_store.h),
// its record of updates (sync_received) and of events (sync_events), both through
// sync::Receiver, and the ledger's last push to main (ledger_service.h).

// The header of tie-up release `version` (staged or active); nullopt when it is not on disk.
std::optional<content::ReleaseManifest> TieupRelease(ConsoleState& s, uint64_t version) {
  std::optional<content::ReleaseManifest> out;
  (void)s.daemon->site().content().Read([&](content::ContentStore& store) -> Status {
    auto m = store.ReadStaged(content::Area::kTieup, version);
    if (m.ok()) {
      m->files = {};  // the header is all the home page needs
      out = std::move(*m);
    }
    return Status::Ok();
  });
  return out;
}

// The main site's name, as its partnership CA (pinned at enrollment) calls itself: "Sakura Tea"
// for "Sakura Tea partnership CA". Empty when the certificate cannot be read.
std::string MainSiteName(ConsoleState& s) {
  auto pem = s.daemon->env().ReadFile(JoinPath(s.daemon->site().site_dir(), "keys/ca.crt"));
  if (!pem.ok()) return "";
  auto ca = ParseCertificate(*pem);
  if (!ca.ok()) return "";
  std::string name = ca->common_name();
  constexpr std::string_view kSuffix = " partnership CA";
  if (name.size() > kSuffix.size() && name.ends_with(kSuffix)) {
    name.resize(name.size() - kSuffix.size());
  }
  return name;
}

// The latest event of `update_id` of kind `kind` in `events` (oldest first); null when none.
const sync::SyncEvent* LatestEvent(const std::vector<sync::SyncEvent>& events,
                                   std::string_view update_id, std::string_view kind) {
  for (auto it = events.rbegin(); it != events.rend(); ++it) {
    if (it->update_id == update_id && it->kind == kind) return &*it;
  }
  return nullptr;
}

// What is live: the version, since when, how (which update, or a rollback), from which main
// site, and until when main's signature on it holds.
json::object LiveData(ConsoleState& s, uint64_t active, const std::vector<sync::SyncEvent>& events,
                      const std::vector<sync::ReceivedUpdate>& updates) {
  json::object live{{"version", active}};
  const std::string main_name = MainSiteName(s);
  if (!main_name.empty()) live["main_name"] = main_name;
  live["main_url"] = s.config().main_sync_url;
  for (auto it = events.rbegin(); it != events.rend(); ++it) {
    if (it->version != active || (it->kind != "activated" && it->kind != "rollback")) continue;
    live["since"] = s.Time(it->time * 1'000'000);
    if (it->kind == "rollback") live["by_rollback"] = true;
    if (!it->update_id.empty()) live["update_id"] = it->update_id;
    break;
  }
  if (!live.contains("update_id")) {
    for (const sync::ReceivedUpdate& u : updates) {
      if (u.version == active && u.state == "activated") {
        live["update_id"] = u.update_id;
        break;
      }
    }
  }
  if (auto release = TieupRelease(s, active)) {
    live["built"] = s.Time(release->created * 1'000'000);
    if (release->expires != 0) {
      live["signed_until"] = s.Time(release->expires * 1'000'000);
      live["signature_expired"] = release->expires <= s.daemon->env().NowSeconds();
    }
  }
  return live;
}

// Why an update that is not pending did not become live, in words for the manager; empty for
// one still on its way (approved, main told, activation not commanded yet is said too).
std::string NotLiveWords(ConsoleState& s, const sync::ReceivedUpdate& u, uint64_t active,
                         const std::vector<sync::SyncEvent>& events) {
  const sync::SyncEvent* failed = LatestEvent(events, u.update_id, "failed");
  auto expired = [&]() -> std::string {
    auto release = TieupRelease(s, u.version);
    if (!release || release->expires == 0 || release->expires > s.daemon->env().NowSeconds()) {
      return "";
    }
    return "expired " + s.Time(release->expires * 1'000'000) +
           " before it was live (main's signature on it ran out): the main site has to send a "
           "newer one";
  };
  if (u.state == "rejected") return "you rejected it: " + u.reason;
  if (u.state == "superseded") return "replaced by a newer update before it was live";
  if (u.state == "activated") {
    return u.version > active ? "was live; you rolled it back (it is refused if offered again)"
                              : "";
  }
  if (std::string e = expired(); !e.empty()) return e;
  if (u.state == "approved" && u.response_unsent) {
    return "you approved it; the main site has not been told yet (it could not be reached): it "
           "is told as soon as it can be";
  }
  if (failed != nullptr && failed->time >= u.decided) return "failed: " + failed->message;
  if (u.state == "approved") return "you approved it; the main site makes it live";
  return "";
}

// Problems of the last day in the record (a failed contact with main, a refused offer, a file
// that could not be served), newest first; at most 5.
json::array RecentProblems(ConsoleState& s, const std::vector<sync::SyncEvent>& events) {
  json::array out;
  const int64_t since = s.daemon->env().NowSeconds() - 24 * 3600;
  for (auto it = events.rbegin(); it != events.rend() && out.size() < 5; ++it) {
    if (it->time < since) break;
    if (it->kind != "failed" && it->kind != "refused" && it->kind != "damaged") continue;
    out.push_back(json::object{
        {"when", s.Time(it->time * 1'000'000)}, {"kind", it->kind}, {"message", it->message}});
  }
  return out;
}

ConsolePage Home(ConsoleState& s, const ConsoleRequest&) {
  json::object data;
  PartnerSync* sync = s.daemon->sync();
  data["enrolled"] = sync != nullptr;
  if (sync != nullptr) {
    sync::Receiver& receiver = sync->receiver();
    auto status = receiver.GetStatus();
    const uint64_t active = status.ok() ? status->active_version : 0;
    // Enough of the record for the latest activation and failures (a pull-mode site that cannot
    // reach main records one failure per poll).
    auto events = receiver.Events(1000);
    auto updates = receiver.Updates(50);
    const std::vector<sync::SyncEvent> no_events;
    const std::vector<sync::ReceivedUpdate> no_updates;
    const auto& ev = events.ok() ? *events : no_events;
    const auto& ups = updates.ok() ? *updates : no_updates;
    data["tieup_live"] = active > 0;
    data["tieup_version"] = active;
    if (active > 0) data["live"] = LiveData(s, active, ev, ups);
    data["main_url"] = s.config().main_sync_url;
    // Main withdrew its tie-up pages, or their release expired (partner_site/withdrawals.h).
    if (auto w = sync::ReadWithdrawalStatus(s.daemon->db(), s.daemon->env().NowSeconds());
        w.ok() && !w->summary.empty()) {
      data["withdrawal"] = json::object{{"withdrawn", w->effective.has_value()},
                                        {"since", s.Time(w->since * 1'000'000)},
                                        {"summary", w->summary}};
    }

    json::array waiting, not_live;
    for (const sync::ReceivedUpdate& u : ups) {
      if (u.state == "pending") {
        json::object w = UpdateData(s, u);
        if (auto release = TieupRelease(s, u.version);
            release && release->expires != 0 && release->expires <= s.daemon->env().NowSeconds()) {
          w["expired"] = s.Time(release->expires * 1'000'000);
        }
        waiting.push_back(std::move(w));
        continue;
      }
      if (u.version <= active && u.state != "activated") continue;  // older than what is live
      if (not_live.size() == 5) continue;
      std::string words = NotLiveWords(s, u, active, ev);
      if (words.empty()) continue;
      json::object n = UpdateData(s, u);
      n["words"] = std::move(words);
      not_live.push_back(std::move(n));
    }
    std::reverse(waiting.begin(), waiting.end());  // oldest first, as the Updates page
    data["has_pending"] = !waiting.empty();
    data["pending"] = std::move(waiting);
    data["has_not_live"] = !not_live.empty();
    data["not_live"] = std::move(not_live);
    json::array problems = RecentProblems(s, ev);
    data["has_problems"] = !problems.empty();
    data["problems"] = std::move(problems);
    if (auto push = LastLedgerPush(s.daemon->db()); push.ok() && *push && !(*push)->ok) {
      data["ledger_push_failed"] =
          json::object{{"when", s.Time((*push)->time_micros)}, {"error", (*push)->error}};
    }
  }
  // Today's accesses and the ledger's open alerts (those main sent back).
  data["ledger"] = LedgerHomeData(s);

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
  // Two demo partners on one host stay apart: cookies ignore ports.
  ASSIGN_OR_RETURN(
      console::ConsoleOptions o,
      console::ConsoleOptionsFor(config, daemon.site().site_dir(),
                                 config.name + " — partner console", "tieup_console_" + config.id));
  o.logger = daemon.logger();
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
  c.AddNav("Customers", "/customers");
  c.AddNav("Ads", "/ads");
  c.AddNav("Ledger & fees", "/ledger");
  c.AddNav("Security", "/security");
  c.AddNav("Settings", "/settings");
  c.AddNav("Managers", "/managers");
  c.AddNav("Audit log", "/audit");
  ConsoleState* s = state.get();
  c.AddPage("/", [s](const ConsoleRequest& r) { return Home(*s, r); });
  AddUpdatePages(*s);
  AddShopPages(*s);
  AddOwnPages(*s);
  AddLedgerPages(*s);
  AddSettingsPages(*s);
  AddAdPages(*s);
  AddCustomerPages(*s);
  AddSecurityPages(*s);
  console::AddManagerPages(c, [s](int64_t micros) { return s->Time(micros); });
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