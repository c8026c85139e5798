// `tieup main ...`: the main site manager's commands.
#include "cli.h"
#include "main_site/main_daemon.h"
#include "main_site/main_sync.h"
#include "main_site/own_site.h"
#include "partner_site/partner_daemon.h"
#include "site/public_site.h"

namespace tieup::cli {
namespace {

struct MainInitArgs {
  std::string dir, name = "Main site", public_addr = "127.0.0.1:8080", sync_addr = "127.0.0.1:9080";
  std::string currency = "EUR", time_zone = "UTC", locale = "en";
  std::string console_addr;  // empty: DefaultConsoleAddress
  std::string manager;       // empty: manager@main.localhost; "none": no manager
  std::string store_url;     // empty: SQLite in DIR/tieup.db
  std::string store_schema = "tieup";
};

Status MainInit(Env& env, const MainInitArgs& a) {
  SiteConfig c;
  c.role = SiteRole::kMain;
  c.id = "main";
  c.name = a.name;
  ASSIGN_OR_RETURN(c.public_address, ParseHostPort(a.public_addr));
  ASSIGN_OR_RETURN(c.sync_address, ParseHostPort(a.sync_addr));
  if (a.console_addr.empty()) {
    c.console_address = DefaultConsoleAddress(c.public_address);
  } else {
    ASSIGN_OR_RETURN(c.console_address, ParseHostPort(a.console_addr));
  }
  c.ops_address = DefaultOpsAddress(c.public_address);
  RETURN_IF_ERROR(
      CheckDistinctPorts(c.public_address, c.sync_address, c.console_address, c.ops_address));
  RETURN_IF_ERROR(ApplyShopLocale(a.currency, a.time_zone, a.locale, &c));
  if (!a.store_url.empty()) {
    c.store_backend = "postgres";
    c.store_url = a.store_url;
    c.store_schema = a.store_schema;
    RETURN_IF_ERROR(CheckStoreSettings(c, "--store-url/--store-schema"));
    // A schema holding another site's store is not taken over.
    ASSIGN_OR_RETURN(std::unique_ptr<Database> db, OpenSiteDatabase(c, a.dir));
    ASSIGN_OR_RETURN(std::vector<std::string> tables, ListTables(*db));
    if (!tables.empty()) {
      return Status::FailedPrecondition(
          "the PostgreSQL schema '" + c.store_schema + "' already holds a store (" +
          std::to_string(tables.size()) +
          " tables): give another --store-schema, or drop that one after checking whose it is");
    }
  }
  RETURN_IF_ERROR(CreateSiteDir(env, a.dir, c));
  RETURN_IF_ERROR(InitMainTrust(env, a.dir, c.name));
  RETURN_IF_ERROR(WriteStarterAuthoring(env, AuthoringDir(c, a.dir)));
  SiteContentOptions o;
  o.site_id = c.id;
  o.serve = false;
  ASSIGN_OR_RETURN(auto content, SiteContent::Open(env, a.dir, o));
  ASSIGN_OR_RETURN(auto products, ReadCatalogPages(env, a.dir, c));
  ASSIGN_OR_RETURN(OwnSiteBuild b, BuildOwnSite(env, c, *content, products));
  std::printf("Created main site '%s' in %s\n", c.name.c_str(), a.dir.c_str());
  std::printf("  authoring:  %s (edit, then 'tieup main build %s')\n",
              AuthoringDir(c, a.dir).c_str(), a.dir.c_str());
  std::printf("  built:      release %llu, %zu files\n", static_cast<unsigned long long>(b.version),
              b.pages);
  std::printf("  store:      %s\n", DescribeSiteDatabase(c, a.dir).c_str());
  std::printf("  start with: tieup main serve %s   (public http://%s/, sync https://%s)\n",
              a.dir.c_str(), c.public_address.ToString().c_str(),
              c.sync_address.ToString().c_str());
  std::printf(
      "  partners:   tieup main partner add %s --id shop-a --name \"Shop A\" "
      "--public-url https://shop-a.example/ --sync-url https://shop-a.example:8443\n"
      "              (without --sync-url the partner pulls; 'tieup main partner add --help' "
      "lists the rest)\n",
      a.dir.c_str());
  if (a.manager != "none") {
    RETURN_IF_ERROR(CreateFirstManager(env, a.dir, SiteRole::kMain,
                                       a.manager.empty() ? "manager@main.localhost" : a.manager));
  }
  return Status::Ok();
}

Status MainBuild(Env& env, const std::string& dir) {
  ASSIGN_OR_RETURN(SiteConfig c, LoadSiteConfigFor(env, dir, SiteRole::kMain));
  SiteContentOptions o;
  o.site_id = c.id;
  o.serve = false;
  ASSIGN_OR_RETURN(auto content, SiteContent::Open(env, dir, o));
  ASSIGN_OR_RETURN(auto products, ReadCatalogPages(env, dir, c));
  ASSIGN_OR_RETURN(OwnSiteBuild b, BuildOwnSite(env, c, *content, products));
  if (!b.changed) {
    std::printf("No change: release %llu is already active (%zu files).\n",
                static_cast<unsigned long long>(b.version), b.pages);
  } else {
    std::printf(
        "Activated release %llu: %zu files, %llu bytes (%zu added, %zu changed, %zu removed; "
        "%zu rendered, the rest unchanged)\n",
        static_cast<unsigned long long>(b.version), b.pages,
        static_cast<unsigned long long>(b.bytes), b.added, b.changed_files, b.removed, b.rendered);
  }
  return Status::Ok();
}

Status Serve(Env& env, const std::string& dir, SiteRole want) {
  ASSIGN_OR_RETURN(SiteConfig c, LoadSiteConfigFor(env, dir, want));
  auto logger = DaemonLogger(dir, c.id, c.log_format == "json");
  TerminationSignals signals;  // before "serving" is announced (see WaitForTermination)
  if (want == SiteRole::kMain) {
    ASSIGN_OR_RETURN(auto daemon, MainDaemon::Open(env, dir, logger));
    RETURN_IF_ERROR(daemon->Start());
    logger->info("main site '{}' serving http://{}:{}/ (sync port https://{}:{})", c.id,
                 c.public_address.host, daemon->public_port(), c.sync_address.host,
                 daemon->sync_port());
    WaitForTermination(signals);
    daemon->Stop();
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(auto daemon, PartnerDaemon::Open(env, dir, logger));
  RETURN_IF_ERROR(daemon->Start());
  if (daemon->sync_port() != 0) {
    logger->info("partner site '{}' serving http://{}:{}/ (sync port https://{}:{})", c.id,
                 c.public_address.host, daemon->public_port(), c.sync_address.host,
                 daemon->sync_port());
  } else {
    logger->info("partner site '{}' serving http://{}:{}/", c.id, c.public_address.host,
                 daemon->public_port());
  }
  WaitForTermination(signals);
  daemon->Stop();
  return Status::Ok();
}

}  // namespace

Status ServeSite(Env& env, const std::string& dir, SiteRole want) { return Serve(env, dir, want); }

void AddMainCommands(CLI::App& app, Context& ctx) {
  CLI::App* main = app.add_subcommand("main", "Commands for the main site's manager");
  main->require_subcommand(1);

  auto init_args = std::make_shared<MainInitArgs>();
  CLI::App* init = main->add_subcommand(
      "init", "Create a main site in DIR: configuration, keys, a starter authoring directory");
  init->add_option("DIR", init_args->dir, "The new site's data directory")->required();
  init->add_option("--name", init_args->name, "The site's name, shown on its pages")
      ->capture_default_str();
  init->add_option("--public", init_args->public_addr, "host:port of the public HTTP port")
      ->capture_default_str();
  init->add_option("--sync", init_args->sync_addr,
                   "host:port of the sync port (mutual TLS, partners only)")
      ->capture_default_str();
  init->add_option("--console", init_args->console_addr,
                   "host:port of the manager's web console (default: 127.0.0.1, the public "
                   "port + 2000: only this machine)");
  init->add_option("--manager", init_args->manager,
                   "The first console manager's e-mail (a one-time link to set the password "
                   "is printed); default manager@main.localhost; 'none': no manager yet");
  AddShopLocaleOptions(*init, &init_args->currency, &init_args->time_zone, &init_args->locale);
  init->add_option("--store-url", init_args->store_url,
                   "Keep main's central stores in PostgreSQL at this URL "
                   "(postgresql://USER@HOST/DB; the password in ~/.pgpass) instead of "
                   "DIR/tieup.db; an existing site moves with 'tieup main store migrate'");
  init->add_option("--store-schema", init_args->store_schema,
                   "The PostgreSQL schema for --store-url (made when missing; must be empty)")
      ->capture_default_str();
  init->callback([&ctx, init_args] {
    ctx.action = [&ctx, init_args] { return MainInit(*ctx.env, *init_args); };
  });

  auto dir = std::make_shared<std::string>();
  CLI::App* build = main->add_subcommand(
      "build", "Render the authoring directory and activate it as main's own pages (if changed)");
  build->add_option("DIR", *dir, "The main site's data directory")->required();
  build->callback([&ctx, dir] { ctx.action = [&ctx, dir] { return MainBuild(*ctx.env, *dir); }; });

  AddMainSyncCommands(*main, ctx);
  AddMainStoreCommands(*main, ctx);
  AddMainProcessCommands(*main, ctx);

  CLI::App* serve = main->add_subcommand(
      "serve", "Run the main site until Ctrl-C: public pages, the sync port, scheduled updates");
  serve->add_option("DIR", *dir, "The main site's data directory")->required();
  serve->callback(
      [&ctx, dir] { ctx.action = [&ctx, dir] { return Serve(*ctx.env, *dir, SiteRole::kMain); }; });
}

}  // namespace tieup::cli
