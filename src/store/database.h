// The SQL store interface. SQLite (the embedded default, WAL mode) implements it here; a
// PostgreSQL backend can implement the same interface for main's central stores.
//
// SQL text uses `?` placeholders; values are bound, never spliced into the text.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/status.h"

namespace tieup {

// NULL, an integer, a real or text/blob bytes.
using SqlValue = std::variant<std::monostate, int64_t, double, std::string>;

// One result row. Accessors return a default (0, "") for NULL or a different type.
class SqlRow {
 public:
  explicit SqlRow(std::vector<SqlValue> values) : values_(std::move(values)) {}
  size_t size() const { return values_.size(); }
  bool IsNull(size_t i) const { return std::holds_alternative<std::monostate>(values_.at(i)); }
  int64_t Int(size_t i) const;
  double Real(size_t i) const;
  std::string Text(size_t i) const;
  // The value as it came, with its type.
  const SqlValue& Value(size_t i) const { return values_.at(i); }

 private:
  std::vector<SqlValue> values_;
};

// A connection. Thread-safe: calls are serialised; a Transaction holds the connection for its
// whole callback, so other threads wait rather than interleave.
class Database {
 public:
  virtual ~Database() = default;

  // Runs one statement (or, with no params, several separated by ';').
  virtual Status Exec(std::string_view sql, const std::vector<SqlValue>& params = {}) = 0;
  // Runs a query and returns all its rows.
  virtual Result<std::vector<SqlRow>> Query(std::string_view sql,
                                            const std::vector<SqlValue>& params = {}) = 0;
  // The rowid of the last INSERT on this connection.
  virtual int64_t LastInsertId() = 0;
  // Rows changed by the last statement.
  virtual int64_t ChangedRows() = 0;
  // Runs `body` inside BEGIN IMMEDIATE ... COMMIT; any non-OK Status (or exception) from
  // `body` rolls back. Nested calls run inside the outer transaction.
  virtual Status Transaction(const std::function<Status(Database&)>& body) = 0;
  // "sqlite" or "postgres".
  virtual std::string_view Backend() const = 0;

  // The named locks of TryLockName / UnlockName below (use those). The default grants every
  // lock: one process owns such a store.
  virtual Result<bool> TryLockNameOnConnection(std::string_view name);
  virtual Status UnlockNameOnConnection(std::string_view name);
};

struct SqliteOptions {
  bool read_only = false;
  int busy_timeout_ms = 5000;
  // FULL: every commit survives power loss (orders, ledgers). NORMAL is faster in WAL mode
  // but may lose the last commits on power loss (never corrupts).
  bool synchronous_full = true;
};

// Opens (creating when missing) the SQLite database at `path` in WAL mode with foreign keys on.
Result<std::unique_ptr<Database>> OpenSqlite(const std::string& path,
                                             const SqliteOptions& options = {});

// Connects to PostgreSQL at `url` ("postgresql://user@host:5432/db", or the key=value form
// libpq takes) through libpqxx. SQL text keeps the `?` placeholders (numbered for the server);
// values go as text and NULL; result integers, reals, numerics (an integer when whole) and
// bytea come back as SqlValue. LastInsertId is the session's last sequence value (a BIGSERIAL
// or identity key; 0 when none). Error codes as for SQLite: AlreadyExists for a unique
// violation, InvalidArgument for bad SQL, Unavailable when the server cannot be reached,
// Aborted for a serialization failure or deadlock (run the transaction again). Unavailable
// with what to check when it cannot connect; the message never holds the URL (a password).
// A schema name tieup writes unquoted: 1 to 63 of a-z, 0-9 and _, not starting with a digit.
bool IsValidSchemaName(std::string_view name);

struct PostgresOptions {
  // The schema the connection's statements use (a-z, 0-9, _; made when missing), set with
  // libpqxx so that it is set again if the connection is re-established. Empty: the server's
  // default search path.
  std::string schema;
};
Result<std::unique_ptr<Database>> OpenPostgres(const std::string& url,
                                               const PostgresOptions& options = {});

// One schema step. Steps are applied in order of `version`, each in its own transaction, and
// recorded in the table `schema_migrations` with the component name. The SQL is written once,
// in SQLite's dialect, for both backends: on PostgreSQL it runs as PostgresSchemaSql rewrites it.
struct Migration {
  int version;
  std::string sql;
};

// Brings `component`'s schema (e.g. "content", "users") up to the newest version in
// `migrations`. Refuses a database whose recorded version is newer than any known step (a
// downgrade of the binary) with a message saying so.
// On PostgreSQL every step runs in one transaction holding an advisory lock, so that processes
// sharing the database migrate one after the other.
Status Migrate(Database& db, std::string_view component, const std::vector<Migration>& migrations);

// A LIKE pattern matching text that contains `text` (its %, _ and \ escaped): write
// `column LIKE ? ESCAPE '\'`. LIKE ignores ASCII case on SQLite only: compare lower() of both.
std::string LikeContainsPattern(std::string_view text);

// The tables of the database by name (on PostgreSQL: of the connection's schema); SQLite's own
// (sqlite_*) left out.
Result<std::vector<std::string>> ListTables(Database& db);

// Makes what schema steps rewritten by PostgresSchemaSql refer to (the NOCASE collation) in the
// connection's schema; Migrate does it. For PostgreSQL only.
Status PreparePostgresSchema(Database& db);

// A lock on `name` for every process using the same store, so that work (a partner's publish)
// is done by one of them at a time. PostgreSQL: a session-level advisory lock keyed by the
// connection's schema and `name`, held until UnlockName or until the connection ends (a process
// that dies hands its locks over). Taking a name this connection holds succeeds again and needs
// one more unlock: callers serialise their own threads and take a name once. SQLite: always
// granted (one process owns a SQLite store: the daemon). True when taken; false when another
// process holds it. While this connection holds a name it is not re-established behind the
// holder's back: if it breaks, its locks are gone with it, so every statement fails (Unavailable)
// until each name was unlocked (which then succeeds); only then does the next statement connect
// again. A holder thus learns that its lease ended instead of working on without it.
Result<bool> TryLockName(Database& db, std::string_view name);
Status UnlockName(Database& db, std::string_view name);

// Whether the table `name` exists (on PostgreSQL: in the connection's search path).
Result<bool> TableExists(Database& db, std::string_view name);

// A schema step in SQLite's dialect as PostgreSQL takes it: INTEGER becomes BIGINT (SQLite's
// integers have 64 bits), an INTEGER PRIMARY KEY a BIGSERIAL one (a rowid key: a value is chosen
// when none is given), REAL DOUBLE PRECISION, BLOB BYTEA; AUTOINCREMENT and WITHOUT ROWID go.
// A table without a rowid key gets a `rowid BIGSERIAL` column (SQLite gives every table a rowid;
// queries order by it and LastInsertId returns it), unless it is WITHOUT ROWID. COLLATE NOCASE
// names an ICU collation Migrate creates. Words inside quotes and comments are kept. Queries are
// written in the SQL both accept (ON CONFLICT upserts, CASE rather than two-argument MAX).
std::string PostgresSchemaSql(std::string_view sql);

}  // namespace tieup
