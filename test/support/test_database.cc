#include "test_database.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>

#include "base/encoding.h"
#include "site/config.h"

namespace tieup::testing {
namespace {

// Skips every test of a PostgreSQL run that has no cluster to run against.
class PostgresRunCheck : public ::testing::Environment {
 public:
  void SetUp() override {
    if (TestStoreIsPostgres() && TestPostgresUrl().empty()) {
      GTEST_SKIP() << "no PostgreSQL for TIEUP_TEST_STORE=postgres: run through "
                      "scripts/with-postgres.sh (make test does)";
    }
  }
};

const bool kRegistered = [] {
  ::testing::AddGlobalTestEnvironment(new PostgresRunCheck);
  return true;
}();

}  // namespace

std::string TestPostgresUrl() {
  const char* url = std::getenv("TIEUP_TEST_POSTGRES_URL");
  return url == nullptr ? "" : url;
}

std::string TestSchemaFor(const std::string& path) {
  const uint64_t h = std::hash<std::string>{}(path);
  std::string bytes(reinterpret_cast<const char*>(&h), sizeof h);
  return "t_" + HexEncode(bytes);
}

bool TestStoreIsPostgres() {
  (void)kRegistered;
  const char* store = std::getenv("TIEUP_TEST_STORE");
  return store != nullptr && std::string(store) == "postgres";
}

Result<std::unique_ptr<Database>> OpenTestDatabase(const std::string& path) {
  if (!TestStoreIsPostgres()) return OpenSqlite(path);
  ASSIGN_OR_RETURN(std::unique_ptr<Database> db, OpenPostgres(TestPostgresUrl()));
  const std::string schema = TestSchemaFor(path);
  RETURN_IF_ERROR(
      db->Exec("CREATE SCHEMA IF NOT EXISTS " + schema + "; SET search_path TO " + schema));
  return db;
}

Status UseTestStore(Env& env, const std::string& site_dir) {
  if (!TestStoreIsPostgres()) return Status::Ok();
  return UpdateSiteConfig(env, site_dir,
                          [&](SiteConfig& c) {
                            c.store_backend = "postgres";
                            c.store_url = TestPostgresUrl();
                            c.store_schema = TestSchemaFor(site_dir);
                            return Status::Ok();
                          })
      .status();
}

}  // namespace tieup::testing
