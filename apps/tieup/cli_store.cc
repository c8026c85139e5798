// tieup main store: where main keeps its central stores (site.toml [store]), and moving them
// from SQLite to PostgreSQL.
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "cli.h"
#include "main_site/control.h"
#include "main_site/own_site.h"
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

struct ProcessArgs {
  std::string first;
  std::string dir;
  std::string public_addr;
  std::string sync_addr;
  std::string console_addr = "127.0.0.1:0";
  std::string ops_addr = "127.0.0.1:0";
};

// The subdirectories whose files belong to the whole site rather than to one process: the
// partners' ledger copies, the fee statements and the partnership contracts. A new process's
// directory links them to the first one's (the same files, on the same machine or on storage
// both mount).
constexpr const char* kSharedSubdirs[] = {"ledgers", "statements", "contracts"};

Status ProcessAdd(Env& env, const ProcessArgs& a) {
  namespace fs = std::filesystem;
  ASSIGN_OR_RETURN(SiteConfig config, LoadSiteConfigFor(env, a.first, SiteRole::kMain));
  if (config.store_backend != "postgres") {
    return Status::FailedPrecondition("another process shares main's store, which is " +
                                      DescribeSiteDatabase(config, a.first) +
                                      ": move it to PostgreSQL first ('tieup main store migrate " +
                                      a.first + " --to postgres URL')");
  }
  if (env.FileExists(a.dir)) {
    ASSIGN_OR_RETURN(std::vector<FileInfo> inside, env.ListDir(a.dir));
    if (!inside.empty()) {
      return Status::AlreadyExists("'" + a.dir + "' exists and is not empty: name a new directory");
    }
  }
  std::error_code ec;
  const std::string first = fs::absolute(a.first, ec).lexically_normal().string();
  if (ec) return Status::InvalidArgument("'" + a.first + "': " + ec.message());
  SiteConfig next = config;
  ASSIGN_OR_RETURN(next.public_address, ParseHostPort(a.public_addr));
  ASSIGN_OR_RETURN(next.sync_address, ParseHostPort(a.sync_addr));
  ASSIGN_OR_RETURN(next.console_address, ParseHostPort(a.console_addr));
  if (!a.ops_addr.empty()) {
    ASSIGN_OR_RETURN(next.ops_address, ParseHostPort(a.ops_addr));
  } else {
    next.ops_address = {"", 0};
  }
  if (next.public_address.port != 0 && next.public_address == config.public_address) {
    return Status::InvalidArgument("--public " + a.public_addr +
                                   " is the first process's public port: give this one its own");
  }
  if (next.sync_address.port != 0 && next.sync_address == config.sync_address) {
    return Status::InvalidArgument("--sync " + a.sync_addr +
                                   " is the first process's sync port: give this one its own");
  }
  // What both processes read and write, named by absolute paths.
  next.authoring_dir = AuthoringDir(config, first);
  next.partner_blobs_dir = PartnerBlobsDir(config, first);

  RETURN_IF_ERROR(CreateDirs(env, a.dir));
  RETURN_IF_ERROR(env.SetPermissions(a.dir, 0700));
  // The site's keys (its CA, sync identity, release and root keys), owner-only as they are.
  RETURN_IF_ERROR(CreateDirs(env, JoinPath(a.dir, "keys")));
  RETURN_IF_ERROR(env.SetPermissions(JoinPath(a.dir, "keys"), 0700));
  ASSIGN_OR_RETURN(std::vector<FileInfo> keys, env.ListDir(JoinPath(first, "keys")));
  int copied = 0;
  for (const FileInfo& f : keys) {
    // Enrollment codes live in the store; an old code file is not carried over.
    if (f.is_dir || f.name.starts_with("tokens.json") || f.name.ends_with(".tmp")) continue;
    const std::string from = JoinPath(JoinPath(first, "keys"), f.name);
    ASSIGN_OR_RETURN(std::string bytes, env.ReadFile(from));
    ASSIGN_OR_RETURN(uint32_t mode, env.GetPermissions(from));
    RETURN_IF_ERROR(WriteFileAtomic(env, JoinPath(JoinPath(a.dir, "keys"), f.name), bytes, mode));
    ++copied;
  }
  ASSIGN_OR_RETURN(std::string toml, env.ReadFile(JoinPath(first, "site.toml")));
  RETURN_IF_ERROR(WriteFileAtomic(env, JoinPath(a.dir, "site.toml"), toml, 0600));
  RETURN_IF_ERROR(UpdateSiteConfig(env, a.dir, [&](SiteConfig& c) {
                    c.public_address = next.public_address;
                    c.sync_address = next.sync_address;
                    c.console_address = next.console_address;
                    c.ops_address = next.ops_address;
                    c.authoring_dir = next.authoring_dir;
                    c.partner_blobs_dir = next.partner_blobs_dir;
                    return Status::Ok();
                  }).status());
  // std::filesystem for the links: Env has no symbolic links, and only this command makes any.
  for (const char* sub : kSharedSubdirs) {
    const std::string target = JoinPath(first, sub);
    RETURN_IF_ERROR(CreateDirs(env, target));
    fs::create_directory_symlink(target, JoinPath(a.dir, sub), ec);
    if (ec) {
      return Status::IOError("linking '" + JoinPath(a.dir, sub) + "' to '" + target +
                             "': " + ec.message());
    }
  }
  std::printf(
      "made '%s': another 'tieup main serve' process of main site '%s' (%s)\n"
      "  store:            %s (shared)\n"
      "  authoring:        %s (shared)\n"
      "  partner releases: %s (shared)\n"
      "  ledgers, statements, contracts: links to %s\n"
      "  keys:             %d files copied from %s/keys (owner-only)\n"
      "  public %s, sync %s, console %s, ops %s\n"
      "next: tieup main build %s && tieup main serve %s\n"
      "partners reach main at the sync URL they enrolled with: point it (a load balancer or DNS\n"
      "name) at every process's sync port.\n",
      a.dir.c_str(), config.name.c_str(), config.id.c_str(),
      DescribeSiteDatabase(config, first).c_str(), next.authoring_dir.c_str(),
      next.partner_blobs_dir.c_str(), first.c_str(), copied, first.c_str(),
      next.public_address.ToString().c_str(), next.sync_address.ToString().c_str(),
      next.console_address.ToString().c_str(),
      next.ops_address.host.empty() ? "off" : next.ops_address.ToString().c_str(), a.dir.c_str(),
      a.dir.c_str());
  return Status::Ok();
}

}  // namespace

void AddMainProcessCommands(CLI::App& main, Context& ctx) {
  CLI::App* process = main.add_subcommand(
      "process", "Several 'tieup main serve' processes on one PostgreSQL store: add");
  process->require_subcommand(1);
  auto pa = std::make_shared<ProcessArgs>();
  CLI::App* add = process->add_subcommand(
      "add",
      "Make the site directory of another main process: main's keys and settings, its own "
      "ports, logs and control socket, and the store, authoring, partner releases, ledgers, "
      "statements and contracts shared with FIRST_DIR. The store must be on PostgreSQL.");
  add->add_option("FIRST_DIR", pa->first, "The main site's data directory")->required();
  add->add_option("DIR", pa->dir, "The new process's directory (new or empty)")->required();
  add->add_option("--public", pa->public_addr, "host:port of this process's public HTTP port")
      ->required();
  add->add_option("--sync", pa->sync_addr,
                  "host:port of this process's sync port (mutual TLS, for partners)")
      ->required();
  add->add_option("--console", pa->console_addr, "host:port of this process's console")
      ->capture_default_str();
  add->add_option("--ops", pa->ops_addr,
                  "host:port of this process's /metrics and health checks (\"\": off)")
      ->capture_default_str();
  add->callback([&ctx, pa] { ctx.action = [&ctx, pa] { return ProcessAdd(*ctx.env, *pa); }; });
}

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
