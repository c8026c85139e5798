#include "store/database.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

#include "store/store_copy.h"
#include "test_support.h"

namespace tieup {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

// The PostgreSQL cluster scripts/with-postgres.sh started (make test); empty: not set.
std::string PostgresUrl() {
  const char* url = std::getenv("TIEUP_TEST_POSTGRES_URL");
  return url == nullptr ? "" : url;
}

// Every test of the store interface runs against both backends: SQLite, and PostgreSQL when
// make test provides a cluster (each test in a schema of its own, dropped afterwards).
class DatabaseTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgres") {
      if (PostgresUrl().empty()) {
        GTEST_SKIP() << "no PostgreSQL: run through scripts/with-postgres.sh (make test does)";
      }
      auto db = OpenPostgres(PostgresUrl());
      ASSERT_THAT(db, IsOk());
      db_ = std::move(db).value();
      const ::testing::TestInfo* t = ::testing::UnitTest::GetInstance()->current_test_info();
      schema_ = "t_" + std::to_string(std::hash<std::string>{}(t->name())) + "_" +
                std::to_string(::getpid());
      ASSERT_THAT(db_->Exec("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE; CREATE SCHEMA " +
                            schema_ + "; SET search_path TO " + schema_),
                  IsOk());
      return;
    }
    auto db = OpenSqlite(dir_.Sub("tieup.db"));
    ASSERT_THAT(db, IsOk());
    db_ = std::move(db).value();
  }
  void TearDown() override {
    if (!schema_.empty() && db_) (void)db_->Exec("DROP SCHEMA " + schema_ + " CASCADE");
  }
  bool postgres() const { return GetParam() == "postgres"; }
  // How many tables named `name` the database has.
  int64_t Tables(const std::string& name) {
    auto rows = postgres()
                    ? db_->Query(
                          "SELECT count(*) FROM information_schema.tables WHERE "
                          "table_schema = ? AND table_name = ?",
                          {schema_, name})
                    : db_->Query("SELECT count(*) FROM sqlite_master WHERE name = ?", {name});
    return rows.ok() && !rows->empty() ? (*rows)[0].Int(0) : -1;
  }
  TempDir dir_;
  std::unique_ptr<Database> db_;
  std::string schema_;
};

INSTANTIATE_TEST_SUITE_P(Backends, DatabaseTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

TEST_P(DatabaseTest, BindsValuesAndReadsRows) {
  ASSERT_THAT(db_->Exec(postgres() ? "CREATE TABLE t (id BIGSERIAL PRIMARY KEY, a BIGINT, b TEXT, "
                                     "c DOUBLE PRECISION)"
                                   : "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b TEXT, "
                                     "c REAL)"),
              IsOk());
  ASSERT_THAT(db_->Exec("INSERT INTO t (a, b, c) VALUES (?, ?, ?)",
                        {int64_t{7}, std::string("it's; DROP TABLE t ? '?'"), 1.5}),
              IsOk());
  EXPECT_EQ(db_->LastInsertId(), 1);
  EXPECT_EQ(db_->ChangedRows(), 1);
  auto rows = db_->Query("SELECT a, b, c, NULL FROM t WHERE a = ? AND b <> '?'", {int64_t{7}});
  ASSERT_THAT(rows, IsOk());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].Int(0), 7);
  EXPECT_EQ((*rows)[0].Text(1), "it's; DROP TABLE t ? '?'");
  EXPECT_DOUBLE_EQ((*rows)[0].Real(2), 1.5);
  EXPECT_TRUE((*rows)[0].IsNull(3));
  // NULL bound, a sum of integers read as an integer, a missing row.
  ASSERT_THAT(
      db_->Exec("INSERT INTO t (a, b, c) VALUES (?, ?, ?)", {int64_t{5}, SqlValue{}, SqlValue{}}),
      IsOk());
  EXPECT_EQ(db_->LastInsertId(), 2);
  rows = db_->Query("SELECT sum(a), count(b) FROM t");
  ASSERT_THAT(rows, IsOk());
  EXPECT_EQ((*rows)[0].Int(0), 12);
  EXPECT_EQ((*rows)[0].Int(1), 1);
  EXPECT_THAT(*db_->Query("SELECT a FROM t WHERE a = ?", {int64_t{99}}), ::testing::IsEmpty());
  EXPECT_EQ(db_->Backend(), GetParam());
}

TEST_P(DatabaseTest, TransactionRollsBackOnError) {
  ASSERT_THAT(db_->Exec("CREATE TABLE t (a INTEGER PRIMARY KEY)"), IsOk());
  Status s = db_->Transaction([](Database& tx) -> Status {
    RETURN_IF_ERROR(tx.Exec("INSERT INTO t VALUES (1)", {}));
    return Status::Aborted("changed my mind");
  });
  EXPECT_THAT(s, StatusIs(StatusCode::kAborted));
  EXPECT_EQ((*db_->Query("SELECT count(*) FROM t"))[0].Int(0), 0);
  EXPECT_THAT(
      db_->Transaction([](Database& tx) { return tx.Exec("INSERT INTO t VALUES (1)", {}); }),
      IsOk());
  EXPECT_THAT(db_->Exec("INSERT INTO t VALUES (?)", {int64_t{1}}),
              StatusIs(StatusCode::kAlreadyExists));
  // Nested transactions run inside the outer one: its failure takes theirs back too.
  s = db_->Transaction([](Database& tx) -> Status {
    RETURN_IF_ERROR(
        tx.Transaction([](Database& in) { return in.Exec("INSERT INTO t VALUES (2)"); }));
    return tx.Exec("INSERT INTO t VALUES (1)");  // a duplicate
  });
  EXPECT_THAT(s, StatusIs(StatusCode::kAlreadyExists));
  EXPECT_EQ((*db_->Query("SELECT count(*) FROM t"))[0].Int(0), 1);
  // An exception rolls back and is reported; the connection serves afterwards.
  EXPECT_THAT(db_->Transaction([](Database& tx) -> Status {
    (void)tx.Exec("INSERT INTO t VALUES (3)");
    throw std::runtime_error("bug");
  }),
              StatusIs(StatusCode::kInternal, HasSubstr("exception in transaction: bug")));
  EXPECT_EQ((*db_->Query("SELECT count(*) FROM t"))[0].Int(0), 1);
}

TEST_P(DatabaseTest, BadSqlAndWrongParameterCountAreClearErrors) {
  EXPECT_THAT(db_->Query("SELEC 1"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("syntax")));
  EXPECT_THAT(db_->Query("SELECT ?, ?", {int64_t{1}}),
              StatusIs(StatusCode::kInternal, HasSubstr("2 placeholders")));
  EXPECT_THAT(db_->Query("SELECT * FROM no_such_table"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("no_such_table")));
  // The connection still serves.
  EXPECT_EQ((*db_->Query("SELECT 1 + ?", {int64_t{1}}))[0].Int(0), 2);
}

TEST_P(DatabaseTest, ConcurrentWritersAreSerialised) {
  ASSERT_THAT(db_->Exec("CREATE TABLE t (a INTEGER)"), IsOk());
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 50; ++j) {
        ASSERT_THAT(db_->Transaction([](Database& tx) {
          return tx.Exec("INSERT INTO t VALUES (?)", {int64_t{1}});
        }),
                    IsOk());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ((*db_->Query("SELECT count(*) FROM t"))[0].Int(0), 200);
}

TEST_P(DatabaseTest, MigrationsApplyOnceAndRefuseDowngrade) {
  std::vector<Migration> steps = {{1, "CREATE TABLE a (x INTEGER)"},
                                  {2, "ALTER TABLE a ADD COLUMN y TEXT"}};
  ASSERT_THAT(Migrate(*db_, "demo", steps), IsOk());
  ASSERT_THAT(Migrate(*db_, "demo", steps), IsOk());
  EXPECT_THAT(db_->Exec("INSERT INTO a (x, y) VALUES (1, 'z')"), IsOk());
  EXPECT_THAT(Migrate(*db_, "demo", {{1, "CREATE TABLE a (x INTEGER)"}}),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("newer tieup binary")));
  // A failing step leaves nothing half-applied.
  EXPECT_THAT(
      Migrate(*db_, "other", {{1, "CREATE TABLE b (x INTEGER); CREATE TABLE b (y INTEGER)"}}),
      StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(Tables("b"), 0);
}

TEST_P(DatabaseTest, OneSchemaDescriptionServesBothBackends) {
  // Written once in SQLite's dialect: rowid keys, 64-bit integers, reals, bytes.
  const std::vector<Migration> steps = {
      {1,
       "CREATE TABLE events(id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, "
       "score REAL NOT NULL DEFAULT 0, data BLOB, note TEXT NOT NULL DEFAULT 'INTEGER BLOB');"
       "CREATE TABLE refs(a TEXT NOT NULL, b TEXT NOT NULL, PRIMARY KEY(a, b)) WITHOUT ROWID;"
       "CREATE TABLE one(id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL)"}};
  ASSERT_THAT(Migrate(*db_, "dialect", steps), IsOk());
  std::string bytes("\0\xff\xfe binary \\x00 '", 16);
  const int64_t big = int64_t{1} << 53;
  ASSERT_THAT(db_->Exec("INSERT INTO events(at, score, data) VALUES(?, ?, ?)", {big, 2.5, bytes}),
              IsOk());
  const int64_t first = db_->LastInsertId();
  ASSERT_THAT(db_->Exec("INSERT INTO events(at, data) VALUES(?, ?)", {int64_t{7}, std::string()}),
              IsOk());
  EXPECT_EQ(db_->LastInsertId(), first + 1);
  auto rows = db_->Query("SELECT id, at, score, data, note FROM events ORDER BY id");
  ASSERT_THAT(rows, IsOk());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].Int(0), first);
  EXPECT_EQ((*rows)[0].Int(1), big);
  EXPECT_EQ((*rows)[0].Real(2), 2.5);
  EXPECT_EQ((*rows)[0].Text(3), bytes);
  EXPECT_EQ((*rows)[0].Text(4), "INTEGER BLOB");
  EXPECT_EQ((*rows)[1].Text(3), "");
  // The same bytes find the row again; text values next to them are text.
  auto found = db_->Query("SELECT count(*) FROM events WHERE data = ? AND note = ?",
                          {bytes, std::string("INTEGER BLOB")});
  ASSERT_THAT(found, IsOk());
  EXPECT_EQ((*found)[0].Int(0), 1);
  // Upserts in the SQL both accept.
  for (int i = 0; i < 2; ++i) {
    ASSERT_THAT(db_->Exec("INSERT INTO refs(a, b) VALUES(?, ?) ON CONFLICT DO NOTHING",
                          {std::string("x"), std::string("y")}),
                IsOk());
    ASSERT_THAT(db_->Exec("INSERT INTO one(id, n) VALUES(1, ?) ON CONFLICT(id) DO UPDATE SET "
                          "n = one.n + excluded.n",
                          {int64_t{5}}),
                IsOk());
  }
  EXPECT_EQ((*db_->Query("SELECT count(*) FROM refs"))[0].Int(0), 1);
  EXPECT_EQ((*db_->Query("SELECT n FROM one"))[0].Int(0), 10);
  EXPECT_THAT(db_->Exec("INSERT INTO one(id, n) VALUES(2, 0)"), ::testing::Not(IsOk()));
}

TEST_P(DatabaseTest, EveryTableHasARowidInInsertionOrder) {
  ASSERT_THAT(Migrate(*db_, "rowid", {{1, "CREATE TABLE changes(what TEXT NOT NULL, at INTEGER)"}}),
              IsOk());
  std::vector<int64_t> ids;
  for (const char* what : {"on", "off", "on"}) {
    ASSERT_THAT(db_->Exec("INSERT INTO changes(what, at) VALUES(?, 5)", {std::string(what)}),
                IsOk());
    ids.push_back(db_->LastInsertId());
  }
  EXPECT_LT(ids[0], ids[1]);
  EXPECT_LT(ids[1], ids[2]);
  auto rows = db_->Query("SELECT what, rowid FROM changes ORDER BY at, rowid");
  ASSERT_THAT(rows, IsOk());
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[1].Text(0), "off");
  EXPECT_EQ((*rows)[1].Int(1), ids[1]);
}

TEST_P(DatabaseTest, ProcessesMigratingTogetherApplyEachStepOnce) {
  if (!postgres()) GTEST_SKIP() << "one SQLite file is migrated by one process at a time";
  const std::vector<Migration> steps = {{1, "CREATE TABLE m(x INTEGER)"},
                                        {2, "INSERT INTO m VALUES (1)"},
                                        {3, "INSERT INTO m VALUES (2)"}};
  std::vector<std::thread> threads;
  std::vector<Status> results(4);
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      auto db = OpenPostgres(PostgresUrl());
      if (!db.ok()) {
        results[i] = db.status();
        return;
      }
      results[i] = (*db)->Exec("SET search_path TO " + schema_);
      if (results[i].ok()) results[i] = Migrate(**db, "together", steps);
    });
  }
  for (auto& t : threads) t.join();
  for (const Status& s : results) EXPECT_THAT(s, IsOk());
  EXPECT_EQ((*db_->Query("SELECT count(*) FROM m"))[0].Int(0), 2);
}

// A SQLite store moved into an empty PostgreSQL schema: every row, key and rowid, and the schema
// versions, so that the modules carry on there.
class StoreCopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (PostgresUrl().empty()) {
      GTEST_SKIP() << "no PostgreSQL: run through scripts/with-postgres.sh (make test does)";
    }
    auto from = OpenSqlite(dir_.Sub("tieup.db"));
    ASSERT_THAT(from, IsOk());
    from_ = std::move(from).value();
    auto to = OpenPostgres(PostgresUrl());
    ASSERT_THAT(to, IsOk());
    to_ = std::move(to).value();
    schema_ = "copy_" + std::to_string(::getpid()) + "_" +
              std::to_string(std::hash<std::string>{}(
                  ::testing::UnitTest::GetInstance()->current_test_info()->name()));
    ASSERT_THAT(to_->Exec("CREATE SCHEMA " + schema_ + "; SET search_path TO " + schema_), IsOk());
  }
  void TearDown() override {
    if (to_) (void)to_->Exec("DROP SCHEMA " + schema_ + " CASCADE");
  }
  const std::vector<Migration> kSteps = {
      {1,
       "CREATE TABLE products(sku TEXT PRIMARY KEY COLLATE NOCASE, title TEXT NOT NULL, "
       "price REAL NOT NULL);"
       "CREATE TABLE events(id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, "
       "data BLOB);"
       "CREATE TABLE changes(what TEXT NOT NULL, at INTEGER NOT NULL);"
       "CREATE INDEX changes_at ON changes(at);"
       "CREATE TABLE refs(a TEXT NOT NULL, b TEXT NOT NULL, PRIMARY KEY(a, b)) WITHOUT ROWID;"
       "CREATE TABLE lines(sku TEXT NOT NULL COLLATE NOCASE REFERENCES products(sku), n INTEGER "
       "NOT NULL)"},
      {2, "ALTER TABLE changes ADD COLUMN note TEXT NOT NULL DEFAULT ''"}};
  // Rows over several pages in each table; some deleted, so that rowids have gaps.
  void Fill() {
    ASSERT_THAT(Migrate(*from_, "shop", kSteps), IsOk());
    ASSERT_THAT(from_->Transaction([](Database& db) -> Status {
      for (int64_t i = 0; i < 1200; ++i) {
        const std::string sku = "SKU-" + std::to_string(i);
        RETURN_IF_ERROR(db.Exec("INSERT INTO products VALUES(?, ?, ?)",
                                {sku, "Tea \xe3\x81\x8a " + std::to_string(i), 1.5 * i}));
        RETURN_IF_ERROR(
            db.Exec("INSERT INTO events(at, data) VALUES(?, ?)",
                    {i << 40, i % 5 == 0 ? SqlValue() : SqlValue(std::string("\0\xff", 2) + sku)}));
        RETURN_IF_ERROR(db.Exec("INSERT INTO changes(what, at, note) VALUES(?, ?, ?)",
                                {sku, i % 7, i % 3 == 0 ? std::string() : sku}));
        RETURN_IF_ERROR(db.Exec("INSERT INTO refs VALUES(?, ?)", {sku, std::string("x")}));
        RETURN_IF_ERROR(db.Exec("INSERT INTO lines VALUES(?, ?)", {"sku-" + std::to_string(i), i}));
      }
      RETURN_IF_ERROR(db.Exec("DELETE FROM changes WHERE at = 3"));
      return db.Exec("DELETE FROM events WHERE id % 10 = 0");
    }),
                IsOk());
  }
  TempDir dir_;
  std::unique_ptr<Database> from_, to_;
  std::string schema_;
};

TEST_F(StoreCopyTest, EveryRowKeyAndVersionArrivesAndTheModulesCarryOn) {
  Fill();
  std::vector<std::string> seen;
  auto report =
      CopySqliteToPostgres(*from_, *to_, [&](const StoreCopyTable& t, size_t done, size_t total) {
        seen.push_back(t.name);
        EXPECT_EQ(t.digest_from, t.digest_to);
        EXPECT_LE(done, total);
      });
  ASSERT_THAT(report, IsOk());
  EXPECT_EQ(report->tables.size(), 6u);  // schema_migrations too; not sqlite_sequence
  // A table comes after the tables it references.
  EXPECT_LT(std::find(seen.begin(), seen.end(), "products"),
            std::find(seen.begin(), seen.end(), "lines"));
  auto count = [&](const std::string& sql) { return (*to_->Query(sql))[0].Int(0); };
  EXPECT_EQ(count("SELECT count(*) FROM products"), 1200);
  EXPECT_EQ(count("SELECT count(*) FROM events"), 1080);
  EXPECT_EQ(count("SELECT count(*) FROM refs"), 1200);
  // Keys and rowids are SQLite's: an event keeps its id, a change its rowid.
  auto from_rowid = from_->Query("SELECT rowid FROM changes WHERE what = 'SKU-700'");
  EXPECT_EQ(count("SELECT rowid FROM changes WHERE what = 'SKU-700'"), (*from_rowid)[0].Int(0));
  EXPECT_EQ(count("SELECT at FROM events WHERE id = 1199"), int64_t{1198} << 40);
  // New keys continue after the copied ones.
  ASSERT_THAT(to_->Exec("INSERT INTO events(at) VALUES(1)"), IsOk());
  EXPECT_EQ(to_->LastInsertId(), 1201);
  ASSERT_THAT(to_->Exec("INSERT INTO changes(what, at) VALUES('new', 1)"), IsOk());
  EXPECT_GT(to_->LastInsertId(), (*from_rowid)[0].Int(0));
  // SKUs still compare without case; the versions are known: the next step only is applied.
  EXPECT_EQ(count("SELECT count(*) FROM products WHERE sku = 'sku-5'"), 1);
  std::vector<Migration> next = kSteps;
  next.push_back({3, "ALTER TABLE products ADD COLUMN stock INTEGER NOT NULL DEFAULT 0"});
  ASSERT_THAT(Migrate(*to_, "shop", next), IsOk());
  EXPECT_EQ(count("SELECT count(*) FROM products WHERE stock = 0"), 1200);
  // The SQLite store is left as it was.
  EXPECT_EQ((*from_->Query("SELECT count(*) FROM products"))[0].Int(0), 1200);
}

TEST_F(StoreCopyTest, ANonEmptyTargetOrAValueItRefusesLeavesNothingThere) {
  Fill();
  ASSERT_THAT(to_->Exec("CREATE TABLE mine(x INTEGER)"), IsOk());
  EXPECT_THAT(CopySqliteToPostgres(*from_, *to_),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("already has tables (mine)")));
  ASSERT_THAT(to_->Exec("DROP TABLE mine"), IsOk());
  // SQLite keeps text in an INTEGER column; PostgreSQL refuses it: nothing is copied.
  ASSERT_THAT(from_->Exec("INSERT INTO lines VALUES('SKU-1', 'not a number')"), IsOk());
  EXPECT_THAT(CopySqliteToPostgres(*from_, *to_), Not(IsOk()));
  auto left = ListTables(*to_);
  ASSERT_THAT(left, IsOk());
  EXPECT_THAT(*left, ::testing::IsEmpty());
}

TEST(PostgresSchemaSqlTest, RewritesTypesAndKeepsQuotedWords) {
  EXPECT_EQ(PostgresSchemaSql("CREATE TABLE t(id integer primary key autoincrement, n INTEGER, "
                              "r REAL, b BLOB, s TEXT DEFAULT 'INTEGER' -- a REAL comment\n"
                              ", PRIMARY KEY(n)) WITHOUT ROWID"),
            "CREATE TABLE t(id BIGSERIAL primary key , n BIGINT, r DOUBLE PRECISION, b BYTEA, "
            "s TEXT DEFAULT 'INTEGER' -- a REAL comment\n, PRIMARY KEY(n)) ");
  EXPECT_EQ(PostgresSchemaSql("ALTER TABLE integers ADD COLUMN realm INTEGER NOT NULL DEFAULT 0"),
            "ALTER TABLE integers ADD COLUMN realm BIGINT NOT NULL DEFAULT 0");
  // A table without a rowid key gets the rowid SQLite gives every table.
  EXPECT_EQ(PostgresSchemaSql("CREATE TABLE IF NOT EXISTS y(n INTEGER NOT NULL CHECK (n > 0), "
                              "s TEXT DEFAULT ')');\nCREATE INDEX y_n ON y(n)"),
            "CREATE TABLE IF NOT EXISTS y(n BIGINT NOT NULL CHECK (n > 0), s TEXT DEFAULT ')', "
            "rowid BIGSERIAL);\nCREATE INDEX y_n ON y(n)");
  // Words apart only by blanks are read together; a literal between them is kept (found by the
  // fuzzer: WITHOUT 'x' ROWID lost its literal).
  EXPECT_EQ(PostgresSchemaSql("SELECT 1 WITHOUT 'x' ROWID"), "SELECT 1 WITHOUT 'x' ROWID");
  EXPECT_EQ(PostgresSchemaSql("CREATE TABLE z(id INTEGER\n PRIMARY KEY)"),
            "CREATE TABLE z(id BIGSERIAL\n PRIMARY KEY)");
}

TEST(PostgresOpenTest, TheSchemaOptionMakesTheSchemaAndKeepsStatementsInIt) {
  if (PostgresUrl().empty()) GTEST_SKIP() << "no PostgreSQL (make test provides it)";
  PostgresOptions o;
  o.schema = "opt_" + std::to_string(::getpid());
  for (int i = 0; i < 2; ++i) {  // made once, found the second time
    auto db = OpenPostgres(PostgresUrl(), o);
    ASSERT_THAT(db, IsOk());
    ASSERT_THAT((*db)->Exec("CREATE TABLE IF NOT EXISTS t (x INTEGER)"), IsOk());
    auto rows = (*db)->Query(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND "
        "table_name = 't'",
        {o.schema});
    ASSERT_THAT(rows, IsOk());
    EXPECT_EQ((*rows)[0].Int(0), 1);
  }
  auto db = OpenPostgres(PostgresUrl(), o);
  ASSERT_THAT(db, IsOk());
  EXPECT_THAT((*db)->Exec("DROP SCHEMA " + o.schema + " CASCADE"), IsOk());
  o.schema = "bad; DROP TABLE x";
  EXPECT_THAT(OpenPostgres(PostgresUrl(), o),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("is not 1 to 63 of a-z")));
}

// What TryLockName answered, in words.
std::string Lease(const Result<bool>& r) {
  if (!r.ok()) return r.status().ToString();
  return *r ? "taken" : "held elsewhere";
}

// A connection that breaks while it holds a lease (its server process ended, as when the network
// drops or the server restarts) does not quietly come back without it: every statement fails
// until the holder gives the lease up, while another connection can take it; then the first
// connects again.
TEST(PostgresLeaseTest, ALeaseLostWithItsConnectionIsNeverHeldUnknowingly) {
  if (PostgresUrl().empty()) GTEST_SKIP() << "no PostgreSQL (make test provides it)";
  PostgresOptions o;
  o.schema = "lease_" + std::to_string(::getpid());
  auto holder = OpenPostgres(PostgresUrl(), o);
  auto other = OpenPostgres(PostgresUrl(), o);
  ASSERT_THAT(holder, IsOk());
  ASSERT_THAT(other, IsOk());
  auto taken = TryLockName(**holder, "publish:shop-a");
  ASSERT_THAT(taken, IsOk());
  ASSERT_TRUE(*taken);
  EXPECT_EQ(Lease(TryLockName(**other, "publish:shop-a")), "held elsewhere");
  auto pid = (*holder)->Query("SELECT pg_backend_pid()");
  ASSERT_THAT(pid, IsOk());
  ASSERT_THAT((*other)->Exec("SELECT pg_terminate_backend(?)", {(*pid)[0].Int(0)}), IsOk());

  // Whatever the holder runs now fails: it must not go on as if it held the lease.
  EXPECT_THAT((*holder)->Query("SELECT 1"), StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT((*holder)->Query("SELECT 1"), StatusIs(StatusCode::kUnavailable, HasSubstr("lease")));
  EXPECT_THAT((*holder)->Transaction([](Database&) { return Status::Ok(); }),
              StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(TryLockName(**holder, "publish:shop-b"), StatusIs(StatusCode::kUnavailable));
  // The lease ended with the connection: another process takes it.
  EXPECT_EQ(Lease(TryLockName(**other, "publish:shop-a")), "taken");

  // Given up, the holder's connection is made again (with its schema) and works. libpqxx 6
  // reconnects on the second statement after a break (the first reports the broken one).
  EXPECT_THAT(UnlockName(**holder, "publish:shop-a"), IsOk());
  auto schema = (*holder)->Query("SELECT current_schema()");
  for (int attempt = 0; attempt < 3 && !schema.ok(); ++attempt) {
    schema = (*holder)->Query("SELECT current_schema()");
  }
  ASSERT_THAT(schema, IsOk()) << schema.status().ToString();
  EXPECT_EQ((*schema)[0].Text(0), o.schema);
  EXPECT_EQ(Lease(TryLockName(**holder, "publish:shop-a")), "held elsewhere");
  EXPECT_THAT(UnlockName(**other, "publish:shop-a"), IsOk());
  EXPECT_EQ(Lease(TryLockName(**holder, "publish:shop-a")), "taken");
  EXPECT_THAT(UnlockName(**holder, "publish:shop-a"), IsOk());
  EXPECT_THAT((*other)->Exec("DROP SCHEMA " + o.schema + " CASCADE"), IsOk());
}

TEST(PostgresOpenTest, AnUnreachableServerSaysWhatToCheckWithoutTheUrl) {
  auto db = OpenPostgres("postgresql://tieup:s3cret-pw@127.0.0.1:1/nothing?connect_timeout=2");
  EXPECT_THAT(db, StatusIs(StatusCode::kUnavailable, HasSubstr("[store] url")));
  EXPECT_THAT(db.status().message(), ::testing::Not(HasSubstr("s3cret-pw")));
  EXPECT_THAT(OpenPostgres("postgresql://[bad"), ::testing::Not(IsOk()));
}

TEST(SqliteOpenTest, NotADatabaseIsDataLoss) {
  TempDir dir;
  auto env = NewPosixEnv();
  ASSERT_THAT(WriteFileAtomic(*env, dir.Sub("x.db"), std::string(4096, 'g')), IsOk());
  EXPECT_THAT(OpenSqlite(dir.Sub("x.db")), StatusIs(StatusCode::kDataLoss));
  EXPECT_THAT(OpenSqlite(dir.Sub("missing/dir/x.db")), StatusIs(StatusCode::kPermissionDenied));
}

}  // namespace
}  // namespace tieup
