// tieup main store: where main keeps its central stores (site.toml [store]), and moving them
// from SQLite to PostgreSQL.
#include <cstdio>

#include "cli.h"
#include "main_site/control.h"
#include "site/site_store.h"
#include "store/store_copy.h"

namespace tieup::cli {
namespace {

struct MigrateArgs {
  std::string dir;
  std::vector<std::string> to;  // BACKEND URL
  std::string schema = "tieup";
};

Status StoreMigrate(Env& env, const MigrateArgs& a) {
  ASSIGN_OR_RETURN(SiteConfig config, LoadSiteConfigFor(env, a.dir, SiteRole::kMain));
  if (a.to.size() != 2 || a.to[0] != "postgres") {
    return Status::InvalidArgument(
        "--to takes the backend and its URL: --to postgres postgresql://USER@HOST/DB");
  }
  if (config.store_backend == "postgres") {
    return Status::FailedPrecondition("the store is already on " +
                                      DescribeSiteDatabase(config, a.dir) +
                                      " ([store] in site.toml): nothing to move");
  }
  SiteConfig target = config;
  target.store_backend = "postgres";
  target.store_url = a.to[1];
  target.store_schema = a.schema;
  // The same checks as site.toml's (no password in the URL, a valid schema name).
  RETURN_IF_ERROR(CheckStoreSettings(target, "--to/--schema"));
  ASSIGN_OR_RETURN(bool serving, DaemonServes(a.dir));
  if (serving) {
    return Status::FailedPrecondition(
        "'tieup main serve' runs for this site: stop it first, so that nothing changes the store "
        "while it moves (and start it again afterwards)");
  }
  ASSIGN_OR_RETURN(SiteLock lock, SiteLock::Acquire(a.dir));
  ASSIGN_OR_RETURN(std::unique_ptr<Database> from, OpenSiteDatabase(config, a.dir));
  ASSIGN_OR_RETURN(std::unique_ptr<Database> to, OpenSiteDatabase(target, a.dir));
  std::printf("moving %s to %s\n", DescribeSiteDatabase(config, a.dir).c_str(),
              DescribeSiteDatabase(target, a.dir).c_str());
  std::fflush(stdout);
  ProgressMeter meter(env, StderrMeterOptions("tables"));
  auto report =
      CopySqliteToPostgres(*from, *to, [&](const StoreCopyTable& t, size_t done, size_t total) {
        if (done == 1) meter.SetTotal(total);
        meter.AddDone(1);
        meter.Note("  " + t.name + ": " + std::to_string(t.rows_to) + " rows, checked");
      });
  meter.Finish();
  if (!report.ok()) {
    return report.status().Annotate("nothing was moved; the site still uses " +
                                    DescribeSiteDatabase(config, a.dir));
  }
  RETURN_IF_ERROR(UpdateSiteConfig(env, a.dir,
                                   [&](SiteConfig& c) {
                                     c.store_backend = target.store_backend;
                                     c.store_url = target.store_url;
                                     c.store_schema = target.store_schema;
                                     return Status::Ok();
                                   })
                      .status()
                      .Annotate("the rows are in PostgreSQL but site.toml could not be changed: "
                                "set [store] backend = \"postgres\" by hand"));
  std::printf(
      "moved %zu tables, %lld rows; every table's rows and content checked equal.\n"
      "site.toml now says [store] backend = \"postgres\". %s is kept as it was, as a backup: "
      "the site no longer reads or writes it.\n",
      report->tables.size(), static_cast<long long>(report->rows),
      SitePaths(a.dir).database().c_str());
  return Status::Ok();
}

Status StoreShow(Env& env, const std::string& dir) {
  ASSIGN_OR_RETURN(SiteConfig config, LoadSiteConfigFor(env, dir, SiteRole::kMain));
  ASSIGN_OR_RETURN(std::unique_ptr<Database> db, OpenSiteDatabase(config, dir));
  std::printf("store: %s\n", DescribeSiteDatabase(config, dir).c_str());
  ASSIGN_OR_RETURN(std::vector<std::string> tables, ListTables(*db));
  for (const std::string& t : tables) {
    ASSIGN_OR_RETURN(auto rows, db->Query("SELECT count(*) FROM \"" + t + "\""));
    std::printf("  %-32s %lld rows\n", t.c_str(),
                static_cast<long long>(rows.empty() ? 0 : rows[0].Int(0)));
  }
  return Status::Ok();
}

}  // namespace

void AddMainStoreCommands(CLI::App& main, Context& ctx) {
  CLI::App* store = main.add_subcommand(
      "store", "Where main keeps its central stores ([store] in site.toml): show, migrate");
  store->require_subcommand(1);

  auto dir = std::make_shared<std::string>();
  CLI::App* show = store->add_subcommand("show", "Print the store in use and its tables' rows");
  show->add_option("DIR", *dir, "The main site's data directory")->required();
  show->callback([&ctx, dir] { ctx.action = [&ctx, dir] { return StoreShow(*ctx.env, *dir); }; });

  auto ma = std::make_shared<MigrateArgs>();
  CLI::App* migrate = store->add_subcommand(
      "migrate",
      "Move the store from SITE_DIR/tieup.db to PostgreSQL: every table is copied in one "
      "transaction and compared (rows and content) before site.toml is switched; tieup.db is "
      "kept. Stop 'tieup main serve' first.");
  migrate->add_option("DIR", ma->dir, "The main site's data directory")->required();
  migrate
      ->add_option("--to", ma->to,
                   "postgres URL: the database to move to, like "
                   "postgresql://tieup@db.example/tieup (the password in ~/.pgpass, not here)")
      ->expected(2)
      ->required();
  migrate
      ->add_option("--schema", ma->schema,
                   "The schema to move into (made when missing; must hold no table)")
      ->capture_default_str();
  migrate->callback(
      [&ctx, ma] { ctx.action = [&ctx, ma] { return StoreMigrate(*ctx.env, *ma); }; });
}

}  // namespace tieup::cli
