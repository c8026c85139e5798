#include "main_site/console_pages.h"

#include <memory>
#include <utility>

#include "console/manager_pages.h"
#include "main_site/console_common.h"
#include "users/user_store.h"

namespace tieup {

// The console's page templates (generated from src/main_site/console_templates/ by CMake).
const std::vector<std::pair<std::string_view, std::string_view>>& EmbeddedMainConsoleTemplates();
// Its styles and scripts (console_assets/*.css, *.js), after the console's own.
const std::vector<std::pair<std::string_view, std::string_view>>& EmbeddedMainConsoleStyles();
const std::vector<std::pair<std::string_view, std::string_view>>& EmbeddedMainConsoleScripts();

namespace main_console {

ConsolePage Problem(int status, std::string title, std::string message) {
  ConsolePage p;
  p.status = status;
  p.title = title;
  p.template_name = "problem";
  p.data = json::object{{"heading", std::move(title)}, {"message", std::move(message)}};
  return p;
}

ConsolePage Redirect(std::string path, std::string flash) {
  ConsolePage p;
  p.redirect = std::move(path);
  p.flash = std::move(flash);
  return p;
}

}  // namespace main_console

using namespace main_console;

Status AttachMainConsole(MainDaemon& daemon) {
  const SiteConfig& config = daemon.site().config();
  const std::string& site_dir = daemon.site().site_dir();
  auto state = std::make_shared<ConsoleState>();
  state->daemon = &daemon;
  console::ConsoleOptions o;
  o.title = config.name + " — main console";
  o.address = config.console_address.host;
  o.port = config.console_address.port;
  auto in_site = [&](const std::string& file) {
    return file.empty() || file[0] == '/' ? file : JoinPath(site_dir, file);
  };
  o.tls_certificate_file = in_site(config.console_tls_certificate);
  o.tls_key_file = in_site(config.console_tls_key);
  o.logger = daemon.logger();
  // Apart from the partners' consoles on the same host (a demo): cookies ignore ports.
  o.cookie_name = "tieup_console_main_" + config.id;
  auto hashing = config.variables.find("users.password_hashing");
  if (hashing != config.variables.end()) {
    ASSIGN_OR_RETURN(o.managers.cost, users::PasswordHashCost::FromName(hashing->second));
  }
  ASSIGN_OR_RETURN(state->ledger,
                   LedgerCollector::Open(daemon.env(), site_dir, daemon.db(), daemon.logger()));
  ASSIGN_OR_RETURN(auto opened, console::Console::Open(daemon.env(), daemon.db(), o));
  state->console = std::move(opened);
  console::Console& c = *state->console;
  c.AddTemplates(EmbeddedMainConsoleTemplates());
  for (const auto& [name, css] : EmbeddedMainConsoleStyles()) c.AddStyles(css);
  for (const auto& [name, js] : EmbeddedMainConsoleScripts()) c.AddScript(js);
  c.AddNav("Partners", "/");
  c.AddNav("Publish", "/publish");
  c.AddNav("Content", "/content");
  c.AddNav("Orders", "/orders");
  c.AddNav("Products", "/products");
  c.AddNav("Users", "/users");
  c.AddNav("Ledger & fees", "/ledger");
  c.AddNav("Managers", "/managers");
  c.AddNav("Audit log", "/audit");
  ConsoleState* s = state.get();
  AddPartnersPages(*s);
  AddPartnerPages(*s);
  AddPublishPages(*s);
  AddContentPages(*s);
  AddShopPages(*s);
  AddUsersPages(*s);
  AddLedgerPages(*s);
  console::AddManagerPages(c, [s](int64_t micros) { return s->Time(micros); });
  daemon.AddServer(
      [state, &daemon, site_dir]() -> Status {
        RETURN_IF_ERROR(state->console->Start());
        const std::string url = state->console->url();
        daemon.logger()->info(
            "manager console: {} (sign in; add managers with 'tieup main manager add {} "
            "--email ...')",
            url, site_dir);
        const std::string file = JoinPath(site_dir, "run/console.addr");
        Status kept = CreateDirs(daemon.env(), DirName(file));
        if (kept.ok()) kept = WriteFileAtomic(daemon.env(), file, url + "\n");
        if (!kept.ok())
          daemon.logger()->warn("recording the console's address: {}", kept.message());
        return Status::Ok();
      },
      [state, &daemon, site_dir] {
        state->console->Stop();
        (void)daemon.env().RemoveFile(JoinPath(site_dir, "run/console.addr"));
      });
  return Status::Ok();
}

}  // namespace tieup
