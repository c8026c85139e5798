#include <sqlite3.h>

#include <map>
#include <mutex>
#include <string>

#include "store/database.h"

namespace tieup {
namespace {

Status SqliteError(sqlite3* db, std::string_view what) {
  std::string m(what);
  m += ": ";
  m += db ? sqlite3_errmsg(db) : "out of memory";
  int code = db ? sqlite3_extended_errcode(db) : SQLITE_NOMEM;
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Unavailable(m + " (another process holds the database; retry)");
    case SQLITE_CONSTRAINT:
      return Status::AlreadyExists(m);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::DataLoss(m);
    case SQLITE_FULL:
      return Status::ResourceExhausted(m + " (the disk is full)");
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
      return Status::PermissionDenied(m);
    case SQLITE_ERROR:
      return Status::InvalidArgument(m);
    default:
      return Status::IOError(m);
  }
}

// Prepared statements kept per connection, by their SQL text: preparing (parsing and planning)
// cost more than running the short statements most calls are (a main publishing to thousands of
// partners spent a fifth of its CPU in sqlite3_prepare_v2). Cleared when full.
constexpr size_t kStatementCacheSize = 48;

class SqliteDatabase final : public Database {
 public:
  explicit SqliteDatabase(sqlite3* db) : db_(db) {}
  ~SqliteDatabase() override {
    for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
  }

  Status Exec(std::string_view sql, const std::vector<SqlValue>& params) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    if (params.empty()) {
      std::string text(sql);
      char* err = nullptr;
      if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
        std::string m = err ? err : "unknown error";
        sqlite3_free(err);
        return SqliteError(db_, "SQL failed").Annotate(m);
      }
      return Status::Ok();
    }
    return Run(sql, params, nullptr);
  }

  Result<std::vector<SqlRow>> Query(std::string_view sql,
                                    const std::vector<SqlValue>& params) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    std::vector<SqlRow> rows;
    RETURN_IF_ERROR(Run(sql, params, &rows));
    return rows;
  }

  int64_t LastInsertId() override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    return sqlite3_last_insert_rowid(db_);
  }
  int64_t ChangedRows() override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    return sqlite3_changes64(db_);
  }

  Status Transaction(const std::function<Status(Database&)>& body) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    if (depth_ > 0) {
      ++depth_;
      Status s = body(*this);
      --depth_;
      return s;
    }
    RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE", {}));
    ++depth_;
    Status s;
    try {
      s = body(*this);
    } catch (const std::exception& e) {
      s = Status::Internal(std::string("exception in transaction: ") + e.what());
    }
    --depth_;
    if (!s.ok()) {
      (void)Exec("ROLLBACK", {});
      return s;
    }
    Status c = Exec("COMMIT", {});
    if (!c.ok()) (void)Exec("ROLLBACK", {});
    return c;
  }

  std::string_view Backend() const override { return "sqlite"; }

 private:
  // The prepared statement for `sql`, from the cache or prepared now (and kept).
  Result<sqlite3_stmt*> Prepare(std::string_view sql) {
    auto it = statements_.find(sql);
    if (it != statements_.end()) return it->second;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) !=
        SQLITE_OK) {
      return SqliteError(db_, "preparing SQL");
    }
    if (stmt == nullptr) return Status::InvalidArgument("empty SQL");
    if (statements_.size() >= kStatementCacheSize) {
      for (auto& [text, kept] : statements_) sqlite3_finalize(kept);
      statements_.clear();
    }
    statements_.emplace(std::string(sql), stmt);
    return stmt;
  }

  Status Run(std::string_view sql, const std::vector<SqlValue>& params, std::vector<SqlRow>* out) {
    ASSIGN_OR_RETURN(sqlite3_stmt * stmt, Prepare(sql));
    // Ready for the next use however this one ends (a statement left unreset would keep its
    // read transaction open).
    struct Reset {
      sqlite3_stmt* s;
      ~Reset() {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
      }
    } reset{stmt};
    if (sqlite3_bind_parameter_count(stmt) != static_cast<int>(params.size())) {
      return Status::Internal("SQL has " + std::to_string(sqlite3_bind_parameter_count(stmt)) +
                              " placeholders but " + std::to_string(params.size()) +
                              " values were given");
    }
    for (size_t i = 0; i < params.size(); ++i) {
      int idx = static_cast<int>(i + 1);
      const SqlValue& v = params[i];
      int rc = SQLITE_OK;
      if (std::holds_alternative<std::monostate>(v)) {
        rc = sqlite3_bind_null(stmt, idx);
      } else if (auto* n = std::get_if<int64_t>(&v)) {
        rc = sqlite3_bind_int64(stmt, idx, *n);
      } else if (auto* d = std::get_if<double>(&v)) {
        rc = sqlite3_bind_double(stmt, idx, *d);
      } else {
        const std::string& s = std::get<std::string>(v);
        rc = sqlite3_bind_text64(stmt, idx, s.data(), s.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
      }
      if (rc != SQLITE_OK) return SqliteError(db_, "binding SQL value");
    }
    while (true) {
      int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) return Status::Ok();
      if (rc != SQLITE_ROW) return SqliteError(db_, "running SQL");
      if (out == nullptr) continue;
      int n = sqlite3_column_count(stmt);
      std::vector<SqlValue> row;
      row.reserve(static_cast<size_t>(n));
      for (int c = 0; c < n; ++c) {
        switch (sqlite3_column_type(stmt, c)) {
          case SQLITE_NULL:
            row.emplace_back(std::monostate{});
            break;
          case SQLITE_INTEGER:
            row.emplace_back(static_cast<int64_t>(sqlite3_column_int64(stmt, c)));
            break;
          case SQLITE_FLOAT:
            row.emplace_back(sqlite3_column_double(stmt, c));
            break;
          default: {
            const void* p = sqlite3_column_blob(stmt, c);
            int len = sqlite3_column_bytes(stmt, c);
            row.emplace_back(std::string(static_cast<const char*>(p), static_cast<size_t>(len)));
          }
        }
      }
      out->emplace_back(std::move(row));
    }
  }

  sqlite3* db_;
  std::recursive_mutex mu_;
  int depth_ = 0;
  std::map<std::string, sqlite3_stmt*, std::less<>> statements_;  // guarded by mu_
};

}  // namespace

int64_t SqlRow::Int(size_t i) const {
  const SqlValue& v = values_.at(i);
  if (auto* n = std::get_if<int64_t>(&v)) return *n;
  if (auto* d = std::get_if<double>(&v)) return static_cast<int64_t>(*d);
  return 0;
}

double SqlRow::Real(size_t i) const {
  const SqlValue& v = values_.at(i);
  if (auto* d = std::get_if<double>(&v)) return *d;
  if (auto* n = std::get_if<int64_t>(&v)) return static_cast<double>(*n);
  return 0;
}

std::string SqlRow::Text(size_t i) const {
  const SqlValue& v = values_.at(i);
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  if (auto* n = std::get_if<int64_t>(&v)) return std::to_string(*n);
  return "";
}

Result<std::unique_ptr<Database>> OpenSqlite(const std::string& path,
                                             const SqliteOptions& options) {
  sqlite3* db = nullptr;
  int flags =
      SQLITE_OPEN_FULLMUTEX |
      (options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    Status s = SqliteError(db, "opening database '" + path + "'");
    sqlite3_close_v2(db);
    return s;
  }
  auto database = std::make_unique<SqliteDatabase>(db);
  sqlite3_busy_timeout(db, options.busy_timeout_ms);
  std::string pragmas = "PRAGMA foreign_keys=ON;";
  if (!options.read_only) {
    pragmas += "PRAGMA journal_mode=WAL;";
    pragmas += options.synchronous_full ? "PRAGMA synchronous=FULL;" : "PRAGMA synchronous=NORMAL;";
  }
  Database& base = *database;  // default arguments live on the interface
  Status s = base.Exec(pragmas);
  if (!s.ok()) return s.Annotate("opening database '" + path + "'");
  // A file that is not SQLite only shows itself on the first read.
  auto check = base.Query("SELECT count(*) FROM sqlite_master");
  if (!check.ok()) return check.status().Annotate("opening database '" + path + "'");
  return std::unique_ptr<Database>(std::move(database));
}

}  // namespace tieup
