#include "store/store_copy.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "base/encoding.h"
#include "crypto/hash.h"

namespace tieup {
namespace {

// Rows read and written per statement.
constexpr int64_t kPageRows = 500;

std::string Quoted(const std::string& name) { return "\"" + name + "\""; }

std::string ColumnList(const std::vector<std::string>& columns) {
  std::string out;
  for (const std::string& c : columns) out += (out.empty() ? "" : ", ") + Quoted(c);
  return out;
}

// One value as the digest reads it: the type of number or bytes does not depend on the backend.
void AppendValue(std::string& out, const SqlValue& v) {
  if (std::holds_alternative<std::monostate>(v)) {
    out += "n;";
  } else if (const auto* i = std::get_if<int64_t>(&v)) {
    out += "i" + std::to_string(*i) + ";";
  } else if (const auto* d = std::get_if<double>(&v)) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "r%.17g;", *d);
    out += buf;
  } else {
    const std::string& s = std::get<std::string>(v);
    out += "s" + std::to_string(s.size()) + ":" + s;
  }
}

// Calls `each` with the rows of `table` a page at a time, in the order of `keys` (columns that
// identify a row: its rowid, or its primary key), each row being `columns` and then `keys`.
Status ForEachPage(Database& db, const std::string& table, const std::vector<std::string>& columns,
                   const std::vector<std::string>& keys,
                   const std::function<Status(const std::vector<SqlRow>&)>& each) {
  std::vector<std::string> all = columns;
  all.insert(all.end(), keys.begin(), keys.end());
  const std::string select = "SELECT " + ColumnList(all) + " FROM " + Quoted(table);
  const std::string order = " ORDER BY " + ColumnList(keys) + " LIMIT ?";
  std::string after = " WHERE (" + ColumnList(keys) + ") > (";
  for (size_t k = 0; k < keys.size(); ++k) after += k == 0 ? "?" : ", ?";
  after += ")";
  std::vector<SqlValue> last;
  for (;;) {
    std::vector<SqlValue> params = last;
    params.emplace_back(kPageRows);
    ASSIGN_OR_RETURN(auto rows, db.Query(select + (last.empty() ? "" : after) + order, params));
    if (rows.empty()) return Status::Ok();
    RETURN_IF_ERROR(each(rows));
    last.clear();
    for (size_t k = 0; k < keys.size(); ++k) last.push_back(rows.back().Value(columns.size() + k));
    if (static_cast<int64_t>(rows.size()) < kPageRows) return Status::Ok();
  }
}

// The columns of `table` in SQLite, in order, and its primary key's.
Status SqliteColumns(Database& db, const std::string& table, std::vector<std::string>* columns,
                     std::vector<std::string>* primary_key) {
  ASSIGN_OR_RETURN(auto rows,
                   db.Query("SELECT name, pk FROM pragma_table_info(?) ORDER BY cid", {table}));
  std::vector<std::pair<int64_t, std::string>> key;
  for (const SqlRow& r : rows) {
    columns->push_back(r.Text(0));
    if (r.Int(1) > 0) key.emplace_back(r.Int(1), r.Text(0));
  }
  std::sort(key.begin(), key.end());
  for (auto& k : key) primary_key->push_back(std::move(k.second));
  return Status::Ok();
}

// The tables `table` references (foreign keys), in SQLite.
Result<std::set<std::string>> References(Database& db, const std::string& table) {
  ASSIGN_OR_RETURN(auto rows,
                   db.Query("SELECT DISTINCT \"table\" FROM pragma_foreign_key_list(?)", {table}));
  std::set<std::string> out;
  for (const SqlRow& r : rows) {
    if (r.Text(0) != table) out.insert(r.Text(0));
  }
  return out;
}

struct SourceTable {
  std::string name;
  std::string sql;
  std::set<std::string> references;
};

// `tables` with every table after those it references (a cycle keeps the given order).
std::vector<SourceTable> InDependencyOrder(std::vector<SourceTable> tables) {
  std::vector<SourceTable> out;
  std::set<std::string> placed;
  while (!tables.empty()) {
    bool moved = false;
    for (auto it = tables.begin(); it != tables.end();) {
      const bool ready = std::all_of(it->references.begin(), it->references.end(),
                                     [&](const std::string& r) { return placed.count(r) != 0; });
      if (ready) {
        placed.insert(it->name);
        out.push_back(std::move(*it));
        it = tables.erase(it);
        moved = true;
      } else {
        ++it;
      }
    }
    if (!moved) {
      for (SourceTable& t : tables) out.push_back(std::move(t));
      break;
    }
  }
  return out;
}

// Copies the rows of `table` (`columns`), read in the order of `keys`.
Status CopyRows(Database& from, Database& to, const std::string& table,
                const std::vector<std::string>& columns, const std::vector<std::string>& keys) {
  std::map<size_t, std::string> statements;  // by number of rows
  auto insert_sql = [&](size_t rows) -> const std::string& {
    std::string& sql = statements[rows];
    if (sql.empty()) {
      std::string one = "(";
      for (size_t c = 0; c < columns.size(); ++c) one += c == 0 ? "?" : ", ?";
      one += ")";
      sql = "INSERT INTO " + Quoted(table) + " (" + ColumnList(columns) + ") VALUES ";
      for (size_t r = 0; r < rows; ++r) sql += (r == 0 ? "" : ", ") + one;
    }
    return sql;
  };
  return ForEachPage(from, table, columns, keys, [&](const std::vector<SqlRow>& rows) {
    // Several rows per statement, within PostgreSQL's 65,535 values.
    const size_t per = std::max<size_t>(1, std::min<size_t>(100, 60000 / columns.size()));
    for (size_t start = 0; start < rows.size(); start += per) {
      const size_t n = std::min(per, rows.size() - start);
      std::vector<SqlValue> values;
      values.reserve(n * columns.size());
      for (size_t r = start; r < start + n; ++r) {
        for (size_t c = 0; c < columns.size(); ++c) values.push_back(rows[r].Value(c));
      }
      RETURN_IF_ERROR(to.Exec(insert_sql(n), values).Annotate("copying table " + table));
    }
    return Status::Ok();
  });
}

}  // namespace

Status DigestTable(Database& db, const std::string& table, const std::vector<std::string>& columns,
                   const std::vector<std::string>& keys, int64_t* rows, std::string* digest_hex) {
  std::vector<std::string> digests;
  RETURN_IF_ERROR(ForEachPage(db, table, columns, keys, [&](const std::vector<SqlRow>& page) {
    for (const SqlRow& r : page) {
      std::string encoded;
      for (size_t c = 0; c < columns.size(); ++c) AppendValue(encoded, r.Value(c));
      digests.push_back(Sha256(encoded));
    }
    return Status::Ok();
  }));
  std::sort(digests.begin(), digests.end());
  Sha256Hasher all;
  for (const std::string& d : digests) all.Update(d);
  *rows = static_cast<int64_t>(digests.size());
  *digest_hex = HexEncode(all.Finish());
  return Status::Ok();
}

Result<StoreCopyReport> CopySqliteToPostgres(Database& from, Database& to,
                                             const StoreCopyProgress& progress) {
  if (from.Backend() != "sqlite" || to.Backend() != "postgres") {
    return Status::InvalidArgument("a store is copied from SQLite to PostgreSQL");
  }
  ASSIGN_OR_RETURN(std::vector<std::string> existing, ListTables(to));
  if (!existing.empty()) {
    return Status::FailedPrecondition(
        "the PostgreSQL schema already has tables (" + existing.front() +
        (existing.size() > 1 ? " and " + std::to_string(existing.size() - 1) + " more" : "") +
        "): move the store into an empty schema (another [store] schema, or drop this one "
        "after checking what it holds)");
  }
  ASSIGN_OR_RETURN(auto table_rows,
                   from.Query("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name "
                              "NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"));
  std::vector<SourceTable> tables;
  for (const SqlRow& r : table_rows) {
    SourceTable t{r.Text(0), r.Text(1), {}};
    ASSIGN_OR_RETURN(t.references, References(from, t.name));
    tables.push_back(std::move(t));
  }
  tables = InDependencyOrder(std::move(tables));
  ASSIGN_OR_RETURN(auto index_rows, from.Query("SELECT sql FROM sqlite_master WHERE type = "
                                               "'index' AND sql IS NOT NULL ORDER BY name"));
  StoreCopyReport report;
  auto copy = [&](Database& tx) -> Status {
    report = StoreCopyReport{};
    for (size_t i = 0; i < tables.size(); ++i) {
      const SourceTable& t = tables[i];
      RETURN_IF_ERROR(tx.Exec(PostgresSchemaSql(t.sql)).Annotate("making table " + t.name));
      std::vector<std::string> columns, primary_key;
      RETURN_IF_ERROR(SqliteColumns(from, t.name, &columns, &primary_key));
      // The catalog of this table only: information_schema.columns reads every schema's
      // column defaults, locking other sessions' tables (a deadlock with a DROP SCHEMA).
      ASSIGN_OR_RETURN(auto made, tx.Query("SELECT 1 FROM pg_attribute WHERE attrelid = "
                                           "to_regclass(?) AND attname = 'rowid' AND NOT "
                                           "attisdropped",
                                           {Quoted(t.name)}));
      // The rowid PostgresSchemaSql added: the rows keep SQLite's. Rows are read in the order
      // of the rowid (SQLite has one unless the table is WITHOUT ROWID) or the primary key.
      const bool with_rowid =
          !made.empty() && std::find(columns.begin(), columns.end(), "rowid") == columns.end();
      if (with_rowid) columns.insert(columns.begin(), "rowid");
      const bool has_rowid = from.Query("SELECT rowid FROM " + Quoted(t.name) + " LIMIT 0").ok();
      const std::vector<std::string> from_keys =
          has_rowid ? std::vector<std::string>{"rowid"} : primary_key;
      const std::vector<std::string> to_keys =
          with_rowid ? std::vector<std::string>{"rowid"} : primary_key;
      if (to_keys.empty()) {
        return Status::Internal("table " + t.name + " has neither a rowid nor a primary key");
      }
      RETURN_IF_ERROR(CopyRows(from, tx, t.name, columns, from_keys));
      StoreCopyTable checked;
      checked.name = t.name;
      RETURN_IF_ERROR(
          DigestTable(from, t.name, columns, from_keys, &checked.rows_from, &checked.digest_from));
      RETURN_IF_ERROR(
          DigestTable(tx, t.name, columns, to_keys, &checked.rows_to, &checked.digest_to));
      if (checked.rows_from != checked.rows_to || checked.digest_from != checked.digest_to) {
        return Status::DataLoss("table " + t.name + " differs after the copy (" +
                                std::to_string(checked.rows_from) + " rows in SQLite, " +
                                std::to_string(checked.rows_to) +
                                " in PostgreSQL, or other values): nothing was moved");
      }
      report.rows += checked.rows_to;
      report.tables.push_back(checked);
      if (progress) progress(report.tables.back(), i + 1, tables.size());
    }
    for (const SqlRow& r : index_rows) {
      RETURN_IF_ERROR(tx.Exec(PostgresSchemaSql(r.Text(0))).Annotate("making an index"));
    }
    // Keys given from now on continue after the copied ones.
    // Columns taking their values from a sequence, in this schema's tables only.
    ASSIGN_OR_RETURN(auto serials,
                     tx.Query("SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c "
                              "ON c.oid = a.attrelid WHERE c.relnamespace = (SELECT oid FROM "
                              "pg_namespace WHERE nspname = current_schema()) AND c.relkind = "
                              "'r' AND "
                              "a.attnum > 0 AND NOT a.attisdropped AND "
                              "pg_get_serial_sequence(quote_ident(c.relname), a.attname) IS NOT "
                              "NULL"));
    // AUTOINCREMENT keys never come back, even those of deleted rows: SQLite remembers the
    // largest it gave in sqlite_sequence.
    std::map<std::string, int64_t> given;
    ASSIGN_OR_RETURN(bool has_sequences, TableExists(from, "sqlite_sequence"));
    if (has_sequences) {
      ASSIGN_OR_RETURN(auto seqs, from.Query("SELECT name, seq FROM sqlite_sequence"));
      for (const SqlRow& r : seqs) given[r.Text(0)] = r.Int(1);
    }
    for (const SqlRow& r : serials) {
      const std::string table = r.Text(0), column = r.Text(1);
      const int64_t floor = given.count(table) != 0 && column != "rowid" ? given[table] : 0;
      RETURN_IF_ERROR(tx.Exec(
          "SELECT setval(pg_get_serial_sequence(?, ?), GREATEST(COALESCE((SELECT "
          "MAX(" +
              Quoted(column) + ") FROM " + Quoted(table) + "), 0), CAST(? AS BIGINT)) + 1, false)",
          {Quoted(table), column, floor}));
    }
    return Status::Ok();
  };
  // The collation first, in its own transaction: making one locks pg_collation until the
  // transaction ends, and a copy holding it would stall every other schema's DROP or Migrate.
  RETURN_IF_ERROR(PreparePostgresSchema(to));
  // PostgreSQL may still abort the transaction to end a deadlock with another session (40P01,
  // Aborted): nothing was kept, so it is made again.
  Status s;
  for (int attempt = 0; attempt < 5; ++attempt) {
    s = to.Transaction(copy);
    if (s.code() != StatusCode::kAborted) break;
  }
  if (!s.ok()) return s;
  return report;
}

}  // namespace tieup
