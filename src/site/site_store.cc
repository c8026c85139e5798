#include "site/site_store.h"

namespace tieup {

Result<std::unique_ptr<Database>> OpenSiteDatabase(const SiteConfig& config,
                                                   const std::string& site_dir) {
  if (config.store_backend != "postgres") return OpenSqlite(SitePaths(site_dir).database());
  PostgresOptions options;
  options.schema = config.store_schema;  // checked when site.toml was read
  auto db = OpenPostgres(config.store_url, options);
  if (!db.ok()) return db.status().Annotate("opening [store] (schema '" + options.schema + "')");
  return db;
}

Result<std::unique_ptr<Database>> OpenSiteDatabase(Env& env, const std::string& site_dir) {
  ASSIGN_OR_RETURN(SiteConfig config, LoadSiteConfig(env, site_dir));
  return OpenSiteDatabase(config, site_dir);
}

std::string DescribeSiteDatabase(const SiteConfig& config, const std::string& site_dir) {
  if (config.store_backend != "postgres") return "SQLite " + SitePaths(site_dir).database();
  return "PostgreSQL schema " + config.store_schema;
}

}  // namespace tieup
