// The store the tests of a binary run on. Binaries registered with tieup_test(... POSTGRES) run
// every test twice under ctest: as they are (SQLite), and as "pg.*" with TIEUP_TEST_STORE=postgres
// against the throwaway cluster of scripts/with-postgres.sh (make test starts it). Run by hand
// without the cluster, the pg.* copies are skipped.
#pragma once

#include <memory>
#include <string>

#include "base/env.h"
#include "base/status.h"
#include "store/database.h"

namespace tieup::testing {

// True when this run's tests use PostgreSQL (TIEUP_TEST_STORE=postgres).
bool TestStoreIsPostgres();

// The cluster's URL (TIEUP_TEST_POSTGRES_URL; "" when there is none), and the schema of the test
// cluster a path's store lives in.
std::string TestPostgresUrl();
std::string TestSchemaFor(const std::string& path);

// The database a test opens at the SQLite file `path`. On PostgreSQL: a schema of the test
// cluster named after `path`, so that opening the same path again finds the same data, and two
// paths (main's and a partner's) are two stores.
Result<std::unique_ptr<Database>> OpenTestDatabase(const std::string& path);

// For fixtures that make a main site: on PostgreSQL, writes [store] into SITE_DIR/site.toml so
// that the site (daemon, command line) uses a schema of the test cluster named after the
// directory; on SQLite nothing.
Status UseTestStore(Env& env, const std::string& site_dir);

}  // namespace tieup::testing
