#include "main_site/console_pages.h"

#include <memory>
#include <utility>

#include "console/manager_pages.h"
#include "console/site_options.h"
#include "main_site/console_common.h"

namespace tieup {

// The console's page templates (generated from src/main_site/console_templates/ by CMake).
const std::vector<std::pair<std::string_view, std::string_view>>& EmbeddedMainConsoleTemplates();
// Its styles and scripts (console_assets/*.css, *.js), after the console's own.
const std::vector<std::pair<std::string_view, std::string_view>>& EmbeddedMainConsoleStyles();
const std::vector<std::pair<std::string_view, std::string_view>>& EmbeddedMainConsoleScripts();

namespace main_console {

ConsolePage Problem(int status, std::string title, std::string message) {
  return console::ProblemPage(status, std::move(title), std::move(message));
}

ConsolePage Redirect(std::string path, std::string flash) {
  return console::RedirectPage(std::move(path), std::move(flash));
}

}  // namespace main_console

using namespace main_console;

Status AttachMainConsole(MainDaemon& daemon) {
  const SiteConfig& config = daemon.site().config();
  const std::string& site_dir = daemon.site().site_dir();
  auto state = std::make_shared<ConsoleState>();
  state->daemon = &daemon;
  // The cookie's name sets it apart from the partners' consoles on the same host (a demo):
  // cookies ignore ports.
  ASSIGN_OR_RETURN(console::ConsoleOptions o,
                   console::ConsoleOptionsFor(config, site_dir, config.name + " — main console",
                                              "tieup_console_main_" + config.id));
  o.logger = daemon.logger();
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
  c.AddNav("Marketing", "/marketing");
  c.AddNav("Ledger & fees", "/ledger");
  c.AddNav("Security", "/security");
  c.AddNav("Managers", "/managers");
  c.AddNav("Audit log", "/audit");
  ConsoleState* s = state.get();
  AddPartnersPages(*s);
  AddPartnerPages(*s);
  AddPublishPages(*s);
  AddContentPages(*s);
  AddShopPages(*s);
  AddUsersPages(*s);
  AddMarketingPages(*s);
  AddLedgerPages(*s);
  AddSecurityPages(*s);
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
