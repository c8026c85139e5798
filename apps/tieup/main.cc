// tieup: one binary for the main site and its partner sites. main() only parses the command
// line and reports errors; the work is in src/.
#include <sys/stat.h>

#include <cstdio>

#include "cli.h"
#include "cli_hint.h"

int main(int argc, char** argv) {
  // Site data is the owner's only (keys, password hashes, addresses, mail): every file and
  // directory the daemons and commands create is made without group or other bits.
  ::umask(077);
  tieup::cli::Context ctx;
  ctx.env = tieup::NewPosixEnv();
  CLI::App app{
      "tieup runs a partnership of web sites: one main site that keeps the tie-up pages of many "
      "partner sites up to date, and partner sites that serve those pages beside their own.\n"
      "Run 'tieup COMMAND --help' for each command. Start with 'tieup demo'."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "tieup 0.1.0");
  tieup::cli::AddMainCommands(app, ctx);
  tieup::cli::AddPartnerCommands(app, ctx);
  tieup::cli::AddShopCommands(app, ctx);
  tieup::cli::AddLedgerCommands(app, ctx);
  tieup::cli::AddUsersCommands(app, ctx);
  tieup::cli::AddMarketingCommands(app, ctx);
  tieup::cli::AddSsoCommands(app, ctx);
  tieup::cli::AddWafCommands(app, ctx);
  tieup::cli::AddBlocklistCommands(app, ctx);
  tieup::cli::AddAlertsCommands(app, ctx);
  tieup::cli::AddSearchesCommands(app, ctx);
  tieup::cli::AddDemoCommand(app, ctx);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() != 0) {
      const std::string hint = tieup::cli::CommandHint(app, argc, argv);
      if (!hint.empty()) {
        std::fprintf(stderr, "%s\n", hint.c_str());
        return 2;  // a usage error, as for other invalid arguments
      }
    }
    return app.exit(e);
  }
  if (!ctx.action) {
    std::fprintf(stderr, "tieup: nothing to do; see 'tieup --help'\n");
    return 2;
  }
  tieup::Status s;
  try {
    s = ctx.action();
  } catch (const std::exception& e) {
    s = tieup::Status::Internal(e.what());
  }
  if (!s.ok()) {
    std::fprintf(stderr, "tieup: error: %s\n", s.message().c_str());
    return s.code() == tieup::StatusCode::kInvalidArgument ? 2 : 1;
  }
  return 0;
}
