// Schema steps for both backends from one description (store/database.h): the steps are written
// in SQLite's dialect; on PostgreSQL their type names are rewritten first.
#include <algorithm>
#include <cctype>

#include "store/database.h"

namespace tieup {
namespace {

bool IsWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

std::string Upper(std::string_view word) {
  std::string out(word);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// `sql` as words, quoted literals, quoted names and comments (kept whole), and the text between.
struct Piece {
  enum Kind { kWord, kQuoted, kPlain } kind;
  std::string text;
  bool word() const { return kind == kWord; }
};

std::vector<Piece> Split(std::string_view sql) {
  std::vector<Piece> out;
  for (size_t i = 0; i < sql.size();) {
    const char c = sql[i];
    size_t stop = i + 1;
    Piece::Kind kind = Piece::kPlain;
    if (c == '\'' || c == '"') {
      const size_t end = sql.find(c, i + 1);
      stop = end == std::string_view::npos ? sql.size() : end + 1;
      kind = Piece::kQuoted;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      const size_t end = sql.find('\n', i);
      stop = end == std::string_view::npos ? sql.size() : end;
      kind = Piece::kQuoted;
    } else if (IsWordChar(c)) {
      while (stop < sql.size() && IsWordChar(sql[stop])) ++stop;
      kind = Piece::kWord;
    }
    if (kind == Piece::kPlain && !out.empty() && out.back().kind == Piece::kPlain) {
      out.back().text += c;
    } else {
      out.push_back({kind, std::string(sql.substr(i, stop - i))});
    }
    i = stop;
  }
  return out;
}

}  // namespace

std::string PostgresSchemaSql(std::string_view sql) {
  std::vector<Piece> pieces = Split(sql);
  // The index of the word after piece i when only blanks stand between them, or pieces.size():
  // a literal or comment between two words (WITHOUT 'x' ROWID) keeps them apart.
  auto next_word = [&](size_t i) {
    for (++i; i < pieces.size(); ++i) {
      if (pieces[i].word()) return i;
      const std::string& t = pieces[i].text;
      const bool blank =
          pieces[i].kind == Piece::kPlain && std::all_of(t.begin(), t.end(), [](char c) {
            return std::isspace(static_cast<unsigned char>(c)) != 0;
          });
      if (!blank) break;
    }
    return pieces.size();
  };
  auto is = [&](size_t i, std::string_view upper) {
    return i < pieces.size() && pieces[i].word() && Upper(pieces[i].text) == upper;
  };
  // A CREATE TABLE being read: the depth of its parentheses and whether it has a rowid key.
  bool in_create = false;
  bool body = false;
  int depth = 0;
  bool rowid_key = false;
  std::string out;
  out.reserve(sql.size() + 64);
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (!pieces[i].word()) {
      const std::string& t = pieces[i].text;
      if (!in_create || t.starts_with('\'') || t.starts_with('"') || t.starts_with("--")) {
        out += t;
        continue;
      }
      for (char c : t) {
        if (c == '(') {
          ++depth;
          body = true;
        } else if (c == ')' && --depth == 0 && body) {
          in_create = false;
          // Every table SQLite makes has a rowid (queries order by it, LastInsertId returns
          // it): a table without a rowid key gets one, unless it is made WITHOUT ROWID.
          const size_t w = next_word(i);
          const bool without = is(w, "WITHOUT") && t.find(';') == std::string::npos;
          if (!rowid_key && !without) out += ", rowid BIGSERIAL";
        }
        out += c;
      }
      continue;
    }
    const std::string w = Upper(pieces[i].text);
    if (w == "CREATE" && (is(next_word(i), "TABLE") ||
                          (is(next_word(i), "TEMP") && is(next_word(next_word(i)), "TABLE")))) {
      in_create = true;
      body = false;
      depth = 0;
      rowid_key = false;
      out += pieces[i].text;
    } else if (w == "INTEGER") {
      const size_t p = next_word(i);
      const size_t k = next_word(p);
      // A rowid key: a sequence gives the values SQLite would (largest + 1 when none is given).
      const bool key = is(p, "PRIMARY") && is(k, "KEY");
      rowid_key = rowid_key || (in_create && key);
      out += key ? "BIGSERIAL" : "BIGINT";
    } else if (w == "REAL") {
      out += "DOUBLE PRECISION";
    } else if (w == "BLOB") {
      out += "BYTEA";
    } else if (w == "AUTOINCREMENT") {
      // Sequences never reuse a value: AUTOINCREMENT's promise holds without it.
    } else if (w == "WITHOUT" && is(next_word(i), "ROWID")) {
      i = next_word(i);  // PostgreSQL tables have no rowid
    } else {
      out += pieces[i].text;
    }
  }
  return out;
}

namespace {

Status MigrateSteps(Database& db, std::string_view component,
                    const std::vector<Migration>& migrations) {
  const bool postgres = db.Backend() == "postgres";
  RETURN_IF_ERROR(db.Exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (component TEXT NOT NULL, version INTEGER "
      "NOT NULL, PRIMARY KEY (component, version))"));
  ASSIGN_OR_RETURN(auto rows, db.Query("SELECT coalesce(max(version), 0) FROM schema_migrations "
                                       "WHERE component = ?",
                                       {std::string(component)}));
  int64_t current = rows.empty() ? 0 : rows[0].Int(0);
  int newest = 0;
  for (const Migration& m : migrations) newest = std::max(newest, m.version);
  if (current > newest) {
    return Status::FailedPrecondition(
        "the " + std::string(component) + " schema is at version " + std::to_string(current) +
        " but this tieup binary knows only up to " + std::to_string(newest) +
        ": run the newer tieup binary that wrote this data");
  }
  for (const Migration& m : migrations) {
    if (m.version <= current) continue;
    RETURN_IF_ERROR(db.Transaction([&](Database& tx) -> Status {
                        RETURN_IF_ERROR(tx.Exec(postgres ? PostgresSchemaSql(m.sql) : m.sql));
                        return tx.Exec(
                            "INSERT INTO schema_migrations (component, version) VALUES (?, ?)",
                            {std::string(component), static_cast<int64_t>(m.version)});
                      })
                        .Annotate("migrating " + std::string(component) + " to version " +
                                  std::to_string(m.version)));
  }
  return Status::Ok();
}

// Taken by every process migrating a PostgreSQL database, so that two main processes starting
// together do not both apply a step.
constexpr int64_t kMigrationLock = 0x7469657570;  // "tieup"

}  // namespace

std::string LikeContainsPattern(std::string_view text) {
  std::string out = "%";
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  out += '%';
  return out;
}

Result<std::vector<std::string>> ListTables(Database& db) {
  ASSIGN_OR_RETURN(auto rows,
                   db.Backend() == "postgres"
                       ? db.Query("SELECT table_name FROM information_schema.tables WHERE "
                                  "table_schema = current_schema() AND table_type = 'BASE TABLE' "
                                  "ORDER BY 1")
                       : db.Query("SELECT name FROM sqlite_master WHERE type = 'table' AND name "
                                  "NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY 1"));
  std::vector<std::string> out;
  out.reserve(rows.size());
  for (const SqlRow& r : rows) out.push_back(r.Text(0));
  return out;
}

Status PreparePostgresSchema(Database& db) {
  // SQLite's NOCASE (a column that compares without case, like a SKU) as an ICU collation.
  // IF NOT EXISTS does not keep two sessions from making it at once (the second fails on
  // pg_collation's unique index): processes migrating together take the migration lock for it.
  return db.Transaction([](Database& tx) -> Status {
    RETURN_IF_ERROR(tx.Exec("SELECT pg_advisory_xact_lock(?)", {kMigrationLock}));
    return tx.Exec(
        "CREATE COLLATION IF NOT EXISTS nocase (provider = icu, locale = 'und-u-ks-level2', "
        "deterministic = false)");
  });
}

Result<bool> Database::TryLockNameOnConnection(std::string_view) { return true; }

Status Database::UnlockNameOnConnection(std::string_view) { return Status::Ok(); }

Result<bool> TryLockName(Database& db, std::string_view name) {
  return db.TryLockNameOnConnection(name);
}

Status UnlockName(Database& db, std::string_view name) { return db.UnlockNameOnConnection(name); }

Result<bool> TableExists(Database& db, std::string_view name) {
  ASSIGN_OR_RETURN(auto rows,
                   db.Backend() == "postgres"
                       ? db.Query("SELECT to_regclass(?) IS NOT NULL", {std::string(name)})
                       : db.Query("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                                  "name = ?",
                                  {std::string(name)}));
  return !rows.empty() && rows[0].Int(0) > 0;
}

Status Migrate(Database& db, std::string_view component, const std::vector<Migration>& migrations) {
  if (db.Backend() != "postgres") return MigrateSteps(db, component, migrations);
  // The collation in its own transaction: making it locks pg_collation until the transaction
  // ends, which would stall every other schema's DROP SCHEMA during the steps.
  RETURN_IF_ERROR(PreparePostgresSchema(db));
  // One transaction holding the lock: the steps' own transactions nest in it.
  return db.Transaction([&](Database& tx) -> Status {
    RETURN_IF_ERROR(tx.Exec("SELECT pg_advisory_xact_lock(?)", {kMigrationLock}));
    return MigrateSteps(tx, component, migrations);
  });
}

}  // namespace tieup
