// The partner console's settings (partner_site/console_pages.h; issue #13 item 8): the poll
// interval of updates, the shop's mail, the console's own address, and a link to the managers.
//
// GET /settings shows each setting as SITE_DIR/site.toml holds it, what it means, and what the
// running daemon uses now when that differs (site.toml is read when `tieup partner serve`
// starts, so a saved change takes effect at its next restart). POST /settings saves one section
// (section=poll|mail|console) through UpdateSiteConfig (site/config.h): the new file is checked
// by the same loader that reads it at start, written atomically and owner-only, and only the
// changed lines are rewritten, so the manager's own comments in site.toml stay. Settings the
// loader leaves to other modules are checked by their own code as the daemon's start checks
// them: mail addresses and the SMTP port by the shop's (commerce/), the certificate and key by
// the console's TLS set-up. Each change is recorded in the audit log, before -> after (a key that
// names a secret would be recorded without its values; none of these does).
#include <boost/json.hpp>
#include <charconv>
#include <limits>
#include <mutex>

#include "commerce/mail.h"
#include "commerce/shop_settings.h"
#include "partner_site/console_common.h"
#include "site/config.h"
// The console module's own check of a certificate and key (what Console::Open does at start);
// used here so that a setting that would stop the console from starting is refused now.
#include "console/console_tls.h"

namespace tieup::partner_console {
namespace {

// One writer of site.toml at a time in this process (two managers saving at once).
std::mutex settings_mu;

// The [variables] keys of the mail settings (commerce/shop_settings.h).
constexpr std::string_view kMailFrom = "shop.mail_from";
constexpr std::string_view kManagerEmail = "shop.manager_email";
constexpr std::string_view kSmtpHost = "shop.smtp_host";
constexpr std::string_view kSmtpPort = "shop.smtp_port";

// Sets [variables] `key`, or removes it when `value` is empty (an empty value would not mean
// "unset" to the shop: an empty sender turns the managers' notices off).
void SetVariable(SiteConfig& c, std::string_view key, std::string_view value) {
  if (value.empty()) {
    c.variables.erase(std::string(key));
  } else {
    c.variables[std::string(key)] = std::string(value);
  }
}

// A key whose value must never reach the audit log (a password, a token).
bool IsSecretKey(std::string_view key) {
  for (std::string_view word : {"password", "secret", "token", "credential"}) {
    if (key.find(word) != std::string_view::npos) return true;
  }
  return false;
}

// "partner.poll_seconds: 0 -> 60"; an absent value reads "(not set)".
std::string ChangeWords(const SiteConfigChange& c) {
  if (IsSecretKey(c.key)) return c.key + ": changed (the value is not recorded)";
  auto shown = [](const std::string& v) { return v.empty() ? std::string("(not set)") : v; };
  return c.key + ": " + shown(c.before) + " -> " + shown(c.after);
}

std::string InSite(const ConsoleState& s, const std::string& file) {
  return file.empty() || file[0] == '/' ? file : JoinPath(s.daemon->site().site_dir(), file);
}

// The values a section's form posted (kept on the page when they are refused).
struct Posted {
  std::string section;
  std::string error;
  commerce::FormFields form;
};

// What one setting shows: the value in site.toml (or what was just posted), and what the
// running daemon uses when that differs.
json::object Setting(std::string saved, std::string running, const Posted* posted,
                     std::string_view field) {
  json::object o;
  const bool pending = saved != running;
  o["value"] = posted != nullptr ? std::string(posted->form.Get(field)) : saved;
  o["running"] = running.empty() ? "(not set)" : running;
  o["pending"] = pending;
  return o;
}

ConsolePage SettingsPage(ConsoleState& s, const Posted* posted, int status = 200) {
  ConsolePage p;
  p.status = status;
  p.title = "Settings";
  p.template_name = "settings";
  const std::string& dir = s.daemon->site().site_dir();
  json::object data;
  data["file"] = SitePaths(dir).config();
  data["site_dir"] = dir;
  auto file = ReadSiteConfigFile(s.daemon->env(), dir);
  if (!file.ok()) {
    data["unreadable"] = file.status().message();
    p.data = std::move(data);
    return p;
  }
  const SiteConfig& saved = file->config;
  const SiteConfig& running = s.config();
  data["revision"] = file->sha256;
  auto for_section = [&](std::string_view name) -> const Posted* {
    return posted != nullptr && posted->section == name ? posted : nullptr;
  };
  auto section = [&](std::string_view name) {
    json::object o;
    if (const Posted* q = for_section(name)) o["error"] = q->error;
    return o;
  };

  json::object poll = section("poll");
  poll["poll_seconds"] =
      Setting(std::to_string(saved.poll_seconds), std::to_string(running.poll_seconds),
              for_section("poll"), "poll_seconds");
  poll["enrolled"] = s.daemon->sync() != nullptr;
  data["poll"] = std::move(poll);

  json::object mail = section("mail");
  const Posted* m = for_section("mail");
  mail["mail_from"] =
      Setting(SiteVariable(saved, kMailFrom), SiteVariable(running, kMailFrom), m, "mail_from");
  mail["manager_email"] = Setting(SiteVariable(saved, kManagerEmail),
                                  SiteVariable(running, kManagerEmail), m, "manager_email");
  mail["smtp_host"] =
      Setting(SiteVariable(saved, kSmtpHost), SiteVariable(running, kSmtpHost), m, "smtp_host");
  mail["smtp_port"] =
      Setting(SiteVariable(saved, kSmtpPort), SiteVariable(running, kSmtpPort), m, "smtp_port");
  // What the shop uses when no sender is set (its default, at the public address's host), as
  // long as none is set in what runs.
  if (SiteVariable(running, kMailFrom).empty()) {
    mail["default_sender"] = s.shop.shop->config().mail_from.address;
  }
  mail["outbox"] = JoinPath(dir, "mail");
  data["mail"] = std::move(mail);

  json::object console = section("console");
  const Posted* c = for_section("console");
  console["listen"] =
      Setting(saved.console_address.ToString(), running.console_address.ToString(), c, "listen");
  console["tls_certificate"] =
      Setting(saved.console_tls_certificate, running.console_tls_certificate, c, "tls_certificate");
  console["tls_key"] = Setting(saved.console_tls_key, running.console_tls_key, c, "tls_key");
  console["url"] = s.console->url();
  data["console"] = std::move(console);

  auto managers = s.console->managers().List();
  data["managers"] = managers.ok() ? static_cast<int64_t>(managers->size()) : 0;
  p.data = std::move(data);
  return p;
}

// The edit of one section, from its form. Errors name the field as the page labels it.
Status EditPoll(const commerce::FormFields& form, SiteConfig& c) {
  const std::string text(commerce::Trim(form.Get("poll_seconds")));
  int64_t seconds = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
      seconds < std::numeric_limits<int>::min() || seconds > std::numeric_limits<int>::max()) {
    return Status::InvalidArgument(
        "the poll interval must be a whole number of seconds: 0, or 5 "
        "and more (you wrote '" +
        text + "')");
  }
  c.poll_seconds = static_cast<int>(seconds);  // the loader says what it accepts
  return Status::Ok();
}

Status EditMail(const commerce::FormFields& form, SiteConfig& c) {
  const std::string from(commerce::Trim(form.Get("mail_from")));
  const std::string copy(commerce::Trim(form.Get("manager_email")));
  const std::string host(commerce::Trim(form.Get("smtp_host")));
  const std::string port(commerce::Trim(form.Get("smtp_port")));
  // As the shop checks them when the daemon starts (commerce::Shop::Open).
  if (!from.empty()) {
    RETURN_IF_ERROR(commerce::ValidateEmailAddress(from).Annotate("the sender address"));
  }
  if (!copy.empty()) {
    RETURN_IF_ERROR(
        commerce::ValidateEmailAddress(copy).Annotate("the address for copies of orders"));
  }
  if (!host.empty()) {
    // The loader's check of a host (a name or an address, nothing a resolver cannot take).
    RETURN_IF_ERROR(ParseHostPort(host + ":25").status().Annotate("the mail relay"));
  }
  SetVariable(c, kMailFrom, from);
  SetVariable(c, kManagerEmail, copy);
  SetVariable(c, kSmtpHost, host);
  SetVariable(c, kSmtpPort, port);
  // As commerce::OpenShopFromSettings reads the port.
  return commerce::ShopSettingInt(c.variables, "smtp_port", 25, 1, 65535).status();
}

Status EditConsole(const ConsoleState& s, const commerce::FormFields& form, SiteConfig& c) {
  const std::string listen(commerce::Trim(form.Get("listen")));
  ASSIGN_OR_RETURN(c.console_address, ParseHostPort(listen));
  c.console_tls_certificate = std::string(commerce::Trim(form.Get("tls_certificate")));
  c.console_tls_key = std::string(commerce::Trim(form.Get("tls_key")));
  // Both or neither is the loader's rule (it says so); with both, the files must be a matching
  // certificate and key now, or the console (and so the daemon) would not start at the restart.
  if (!c.console_tls_certificate.empty() && !c.console_tls_key.empty()) {
    auto tls = console::MakeConsoleTlsContext(s.daemon->env(), InSite(s, c.console_tls_certificate),
                                              InSite(s, c.console_tls_key));
    if (!tls.ok()) return tls.status();
  }
  return Status::Ok();
}

ConsolePage Settings(ConsoleState& s, const ConsoleRequest& r) {
  if (r.http.method() != "POST") return SettingsPage(s, nullptr);
  Posted posted{std::string(r.form.Get("section")), "", r.form};
  std::function<Status(SiteConfig&)> edit;
  if (posted.section == "poll") {
    edit = [&](SiteConfig& c) { return EditPoll(r.form, c); };
  } else if (posted.section == "mail") {
    edit = [&](SiteConfig& c) { return EditMail(r.form, c); };
  } else if (posted.section == "console") {
    edit = [&](SiteConfig& c) { return EditConsole(s, r.form, c); };
  } else {
    return Problem(400, "Unknown settings", "Use the Save button of one of the settings' forms.");
  }
  Result<SiteConfigUpdate> update = Status::Internal("not run");
  {
    std::lock_guard<std::mutex> lock(settings_mu);
    update = UpdateSiteConfig(s.daemon->env(), s.daemon->site().site_dir(), edit,
                              r.form.Get("revision"));
  }
  if (!update.ok()) {
    (void)s.console->Audit(r, "settings.change",
                           posted.section + " refused: " + update.status().message());
    posted.error = update.status().message();
    return SettingsPage(s, &posted, 422);
  }
  if (update->changes.empty()) return Redirect("/settings", "Nothing to save: nothing changed.");
  std::string words;
  for (const SiteConfigChange& c : update->changes) {
    const std::string change = ChangeWords(c);
    (void)s.console->Audit(r, "settings.change", change);
    words += (words.empty() ? "" : "; ") + change;
  }
  std::string flash =
      "Saved in site.toml: " + words + ". It takes effect when 'tieup partner serve' is restarted.";
  if (!update->comments_kept) {
    flash +=
        " site.toml was written anew in its standard layout (a setting stood in an inline "
        "table): comments added to it by hand are not kept.";
  }
  return Redirect("/settings", std::move(flash));
}

}  // namespace

void AddSettingsPages(ConsoleState& s) {
  ConsoleState* p = &s;
  s.console->AddPage("/settings", [p](const ConsoleRequest& r) { return Settings(*p, r); });
}

}  // namespace tieup::partner_console
