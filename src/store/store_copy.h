// Moving a site's store from SQLite to PostgreSQL (`tieup main store migrate`), with a check that
// nothing was lost.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "store/database.h"

namespace tieup {

// What was copied: each table's rows on both sides and a digest of its content (SHA-256 over the
// sorted SHA-256 of each row's values, so that the order rows come in does not matter).
struct StoreCopyTable {
  std::string name;
  int64_t rows_from = 0;
  int64_t rows_to = 0;
  std::string digest_from;  // hex
  std::string digest_to;    // hex
};

struct StoreCopyReport {
  std::vector<StoreCopyTable> tables;
  int64_t rows = 0;
};

// Called after each table is copied and checked: the table, and how many of `total` are done.
using StoreCopyProgress = std::function<void(const StoreCopyTable&, size_t done, size_t total)>;

// Copies every table of the SQLite database `from` into `to`, a PostgreSQL schema that has no
// table yet (FailedPrecondition naming the first table found otherwise). The tables are made from
// SQLite's own schema text through PostgresSchemaSql (so they are what Migrate would have made,
// schema_migrations included), rows keep their keys and rowids, sequences continue after the
// largest copied key, indexes are made after the rows. Tables that reference others come after
// them. Everything happens in one PostgreSQL transaction: on any error nothing is left in `to`.
// Then every table is read back from both sides and compared (row count and content digest);
// DataLoss naming the table when they differ (and the transaction is rolled back).
Result<StoreCopyReport> CopySqliteToPostgres(Database& from, Database& to,
                                             const StoreCopyProgress& progress = nullptr);

// The row count and content digest of `columns` of `table` in `db`, as CopySqliteToPostgres
// compares them; `keys` identify a row (its rowid, or its primary key): the table is read in
// their order, a page at a time.
Status DigestTable(Database& db, const std::string& table, const std::vector<std::string>& columns,
                   const std::vector<std::string>& keys, int64_t* rows, std::string* digest_hex);

}  // namespace tieup
