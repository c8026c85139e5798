#include "test_database.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <mutex>
#include <set>

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

// The schemas the running test used (TestSchemaFor), dropped when it ends so that the cluster
// holds only the running tests' tables. Test-only process state: gtest's listeners are global.
std::mutex schemas_mu;
std::set<std::string> schemas_used;

class DropTestSchemas : public ::testing::EmptyTestEventListener {
 public:
  void OnTestEnd(const ::testing::TestInfo&) override {
    std::set<std::string> used;
    {
      std::lock_guard<std::mutex> lock(schemas_mu);
      used.swap(schemas_used);
    }
    if (used.empty() || TestPostgresUrl().empty()) return;
    auto db = OpenPostgres(TestPostgresUrl());
    if (!db.ok()) return;
    for (const std::string& schema : used) {
      (void)(*db)->Exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
    }
  }
};

const bool kRegistered = [] {
  ::testing::AddGlobalTestEnvironment(new PostgresRunCheck);
  ::testing::UnitTest::GetInstance()->listeners().Append(new DropTestSchemas);
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
  std::string schema = "t_" + HexEncode(bytes);
  (void)kRegistered;
  std::lock_guard<std::mutex> lock(schemas_mu);
  schemas_used.insert(schema);
  return schema;
}

bool TestStoreIsPostgres() {
  (void)kRegistered;
  const char* store = std::getenv("TIEUP_TEST_STORE");
  return store != nullptr && std::string(store) == "postgres";
}

Result<std::unique_ptr<Database>> OpenTestDatabase(const std::string& path) {
  if (!TestStoreIsPostgres()) return OpenSqlite(path);
  PostgresOptions options;
  options.schema = TestSchemaFor(path);
  return OpenPostgres(TestPostgresUrl(), options);
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
