// A site's SQL store, where site.toml's [store] says: SQLite at SITE_DIR/tieup.db, or (main only)
// the PostgreSQL database at [store] url, in the schema [store] schema.
#pragma once

#include <memory>
#include <string>

#include "base/env.h"
#include "base/status.h"
#include "site/config.h"
#include "store/database.h"

namespace tieup {

// Opens the store `config` names for the site at `site_dir`. PostgreSQL: connects, creates the
// schema when missing and makes it the connection's search path. Errors say what to check and
// never hold the URL.
Result<std::unique_ptr<Database>> OpenSiteDatabase(const SiteConfig& config,
                                                   const std::string& site_dir);

// The same after reading SITE_DIR/site.toml.
Result<std::unique_ptr<Database>> OpenSiteDatabase(Env& env, const std::string& site_dir);

// Where the store is, for messages and listings: "SQLite SITE_DIR/tieup.db" or "PostgreSQL
// schema S" (never the URL).
std::string DescribeSiteDatabase(const SiteConfig& config, const std::string& site_dir);

}  // namespace tieup
