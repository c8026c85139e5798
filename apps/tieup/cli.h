// The command line: each file adds one group of subcommands to the CLI11 app.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

#include "base/env.h"
#include "base/log.h"
#include "base/progress_meter.h"
#include "base/status.h"
#include "net/http_server.h"
#include "site/config.h"
#include "site/site_store.h"
#include "store/database.h"

namespace tieup::cli {

// What every command gets: the Env, and the slot the chosen command's action goes in.
struct Context {
  std::unique_ptr<Env> env;
  std::function<Status()> action;
};

void AddMainCommands(CLI::App& app, Context& ctx);
void AddPartnerCommands(CLI::App& app, Context& ctx);
void AddDemoCommand(CLI::App& app, Context& ctx);
// Under `tieup main`: partner add/token/revoke/ls, publish, status, events.
void AddMainSyncCommands(CLI::App& main, Context& ctx);
void AddMainStoreCommands(CLI::App& main, Context& ctx);
void AddMainProcessCommands(CLI::App& main, Context& ctx);
// Under `tieup partner`: enroll, pending, approve, reject, rollback, updates.
void AddPartnerSyncCommands(CLI::App& partner, Context& ctx);
// `tieup main ledger|fees ...` and `tieup partner ledger|fees ...`; after the two above.
void AddLedgerCommands(CLI::App& app, Context& ctx);
// `tieup main product|order ...` and `tieup partner product|order ...`; after the two above.
void AddShopCommands(CLI::App& app, Context& ctx);
// `tieup main users ls|show`; after AddMainCommands.
void AddUsersCommands(CLI::App& app, Context& ctx);
// `tieup main segments|campaigns|recommendations` (cli_marketing.cc).
void AddMarketingCommands(CLI::App& app, Context& ctx);
void AddSsoCommands(CLI::App& app, Context& ctx);
// `tieup main waf DIR` and `tieup partner waf DIR`; after AddMainCommands and AddPartnerCommands.
void AddWafCommands(CLI::App& app, Context& ctx);
// tieup main blocklist ..., tieup partner blocklist DIR.
void AddBlocklistCommands(CLI::App& app, Context& ctx);
// tieup main alerts DIR, tieup partner alerts DIR.
void AddAlertsCommands(CLI::App& app, Context& ctx);
// `tieup main searches DIR` (cli_searches.cc); after AddMainCommands.
void AddSearchesCommands(CLI::App& app, Context& ctx);

// The database of the site at `dir` after checking it is a site of role `want` (a clear error
// otherwise), and main's.
Result<std::unique_ptr<Database>> OpenSiteDb(Env& env, const std::string& dir, SiteRole want);
Result<std::unique_ptr<Database>> OpenMainDb(Env& env, const std::string& dir);

// Who acts from the command line, for the site's records: "command line (USER)".
std::string CommandLineUser();

// `tieup main|partner manager add|ls|rm|reset`: the web console's managers; under `site`.
void AddManagerCommands(CLI::App& site, Context& ctx, SiteRole role);
// Adds the site's first console manager and prints their one-time set-password link (init).
Status CreateFirstManager(Env& env, const std::string& dir, SiteRole role,
                          const std::string& email);
// The console's default address for a new site: loopback, the public port + 2000 (port 0, any
// free one, when the public port is 0 or the sum is out of range). Not + 1000: that is where
// the sync port's default sits (8080 -> 9080).
HostPort DefaultConsoleAddress(const HostPort& public_address);

// A progress meter on standard error counting `unit` ("partners", "files"): a bar redrawn in
// place when standard error is a terminal (TERM not "dumb"; its width), plain periodic lines
// otherwise (base/progress_meter.h).
ProgressMeterOptions StderrMeterOptions(const std::string& unit);
// InvalidArgument, naming the flags, when two of a new site's three listeners would bind the same
// port on the same address (or one of them on every address); port 0, any free port, never
// collides.
Status CheckDistinctPorts(const HostPort& public_address, const HostPort& sync_address,
                          const HostPort& console_address, const HostPort& ops_address = {});

// A logger for a daemon: standard error and SITE_DIR/logs/tieup.log; `json`: one JSON object
// per line ([log] format = "json").
std::shared_ptr<Logger> DaemonLogger(const std::string& site_dir, const std::string& name,
                                     bool json = false);

// `tieup main serve` / `tieup partner serve`: runs the site at `dir` until Ctrl-C; refuses a
// site of the other role.
Status ServeSite(Env& env, const std::string& dir, SiteRole want);

// Enrolls the partner site at `dir` with main (see EnrollWithMain) and says so.
Status EnrollCommand(Env& env, const std::string& dir, const std::string& main_url,
                     const std::string& code);

// Loads DIR/site.toml for a command of `want`'s family (`tieup main ...` or `tieup partner ...`);
// FailedPrecondition saying which family the directory belongs to otherwise.
Result<SiteConfig> LoadSiteConfigFor(Env& env, const std::string& dir, SiteRole want);

// `init`'s --currency, --time-zone and --locale (how the site's shop prices and shows amounts
// and times).
void AddShopLocaleOptions(CLI::App& init, std::string* currency, std::string* time_zone,
                          std::string* locale);
// Checks them (ISO 4217, IANA zone, BCP 47 tag, with a message saying what to write) and puts
// them in the new site's configuration: [site] time_zone and locale, [variables] shop.currency.
Status ApplyShopLocale(const std::string& currency, const std::string& time_zone,
                       const std::string& locale, SiteConfig* config);

// Runs until SIGINT or SIGTERM arrives on `signals`; prints how to stop. Construct `signals`
// before starting anything that announces itself, so a signal sent as soon as a daemon says it
// is serving stops it gracefully instead of killing it.
void WaitForTermination(TerminationSignals& signals);

}  // namespace tieup::cli
