#include "store/database.h"

#include <gtest/gtest.h>

#include <thread>

#include "test_support.h"

namespace tieup {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

class SqliteDatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = OpenSqlite(dir_.Sub("tieup.db"));
    ASSERT_THAT(db, IsOk());
    db_ = std::move(db).value();
  }
  TempDir dir_;
  std::unique_ptr<Database> db_;
};

TEST_F(SqliteDatabaseTest, BindsValuesAndReadsRows) {
  ASSERT_THAT(db_->Exec("CREATE TABLE t (a INTEGER, b TEXT, c REAL)"), IsOk());
  ASSERT_THAT(db_->Exec("INSERT INTO t VALUES (?, ?, ?)",
                        {int64_t{7}, std::string("it's; DROP TABLE t"), 1.5}),
              IsOk());
  EXPECT_EQ(db_->LastInsertId(), 1);
  auto rows = db_->Query("SELECT a, b, c, NULL FROM t WHERE a = ?", {int64_t{7}});
  ASSERT_THAT(rows, IsOk());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].Int(0), 7);
  EXPECT_EQ((*rows)[0].Text(1), "it's; DROP TABLE t");
  EXPECT_DOUBLE_EQ((*rows)[0].Real(2), 1.5);
  EXPECT_TRUE((*rows)[0].IsNull(3));
}

TEST_F(SqliteDatabaseTest, TransactionRollsBackOnError) {
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
}

TEST_F(SqliteDatabaseTest, BadSqlAndWrongParameterCountAreClearErrors) {
  EXPECT_THAT(db_->Query("SELEC 1"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("syntax")));
  EXPECT_THAT(db_->Query("SELECT ?, ?", {int64_t{1}}),
              StatusIs(StatusCode::kInternal, HasSubstr("2 placeholders")));
}

TEST_F(SqliteDatabaseTest, ConcurrentWritersAreSerialised) {
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

TEST_F(SqliteDatabaseTest, MigrationsApplyOnceAndRefuseDowngrade) {
  std::vector<Migration> steps = {{1, "CREATE TABLE a (x INTEGER)"},
                                  {2, "ALTER TABLE a ADD COLUMN y TEXT"}};
  ASSERT_THAT(Migrate(*db_, "demo", steps), IsOk());
  ASSERT_THAT(Migrate(*db_, "demo", steps), IsOk());
  EXPECT_THAT(db_->Exec("INSERT INTO a (x, y) VALUES (1, 'z')"), IsOk());
  EXPECT_THAT(Migrate(*db_, "demo", {{1, "CREATE TABLE a (x INTEGER)"}}),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("newer tieup binary")));
  // A failing step leaves nothing half-applied.
  EXPECT_THAT(Migrate(*db_, "other", {{1, "CREATE TABLE b (x INTEGER); CREATE TABLE b (y)"}}),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_FALSE((*db_->Query("SELECT count(*) FROM sqlite_master WHERE name = 'b'"))[0].Int(0));
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
