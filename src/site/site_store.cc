#include "site/site_store.h"

namespace tieup {

Result<std::unique_ptr<Database>> OpenSiteDatabase(const SiteConfig& config,
                                                   const std::string& site_dir) {
  if (config.store_backend != "postgres") return OpenSqlite(SitePaths(site_dir).database());
  ASSIGN_OR_RETURN(std::unique_ptr<Database> db, OpenPostgres(config.store_url));
  // The schema name was checked when site.toml was read (a-z, 0-9, _), so it can be spliced.
  const std::string& schema = config.store_schema;
  Status s = db->Exec("CREATE SCHEMA IF NOT EXISTS " + schema + "; SET search_path TO " + schema);
  if (!s.ok()) {
    return s.Annotate("using the schema '" + schema +
                      "' of [store] (the user needs CREATE on the database, or create the "
                      "schema and grant it)");
  }
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
