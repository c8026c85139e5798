#include "main_site/enrollment_store.h"

#include <vector>

#include "crypto/hash.h"

namespace tieup {
namespace {

const std::vector<Migration>& TokenMigrations() {
  static const std::vector<Migration> steps = {
      {1,
       "CREATE TABLE main_enrollment_tokens (partner TEXT PRIMARY KEY, token_sha256 TEXT NOT "
       "NULL, issued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, used INTEGER NOT NULL "
       "DEFAULT 0, used_at INTEGER NOT NULL DEFAULT 0)"},
  };
  return steps;
}

constexpr std::string_view kColumns = "partner, token_sha256, issued_at, expires_at, used, used_at";

EnrollmentTokenRecord FromRow(const SqlRow& row) {
  EnrollmentTokenRecord r;
  r.partner_id = row.Text(0);
  r.token_sha256 = row.Text(1);
  r.issued_at = row.Int(2);
  r.expires_at = row.Int(3);
  r.used = row.Int(4) != 0;
  r.used_at = row.Int(5);
  return r;
}

std::vector<SqlValue> Params(const EnrollmentTokenRecord& r) {
  return {r.partner_id, r.token_sha256,          r.issued_at,
          r.expires_at, int64_t{r.used ? 1 : 0}, r.used_at};
}

class DatabaseTokenStore : public TokenStore {
 public:
  explicit DatabaseTokenStore(Database& db) : db_(db) {}

  Status Put(const EnrollmentTokenRecord& record) override {
    return db_.Exec(
        "INSERT INTO main_enrollment_tokens (" + std::string(kColumns) +
            ") VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (partner) DO UPDATE SET token_sha256 = "
            "excluded.token_sha256, issued_at = excluded.issued_at, expires_at = "
            "excluded.expires_at, used = excluded.used, used_at = excluded.used_at",
        Params(record));
  }

  Result<EnrollmentTokenRecord> Get(std::string_view partner_id) override {
    ASSIGN_OR_RETURN(std::vector<SqlRow> rows,
                     db_.Query("SELECT " + std::string(kColumns) +
                                   " FROM main_enrollment_tokens WHERE partner = ?",
                               {std::string(partner_id)}));
    if (rows.empty()) {
      return Status::NotFound("no enrollment token for '" + std::string(partner_id) + "'");
    }
    return FromRow(rows[0]);
  }

  Result<std::vector<EnrollmentTokenRecord>> List() override {
    ASSIGN_OR_RETURN(std::vector<SqlRow> rows,
                     db_.Query("SELECT " + std::string(kColumns) +
                               " FROM main_enrollment_tokens ORDER BY partner"));
    std::vector<EnrollmentTokenRecord> out;
    for (const SqlRow& row : rows) out.push_back(FromRow(row));
    return out;
  }

  Result<bool> MarkUsed(std::string_view partner_id, std::string_view token_sha256,
                        int64_t used_at) override {
    auto record = Get(partner_id);
    if (!record.ok()) {
      if (record.status().code() == StatusCode::kNotFound) return false;
      return record.status();
    }
    if (record->used || !ConstantTimeEquals(record->token_sha256, token_sha256)) return false;
    // Only one UPDATE finds the token unused, whichever process or thread runs it first.
    ASSIGN_OR_RETURN(std::vector<SqlRow> marked,
                     db_.Query("UPDATE main_enrollment_tokens SET used = 1, used_at = ? WHERE "
                               "partner = ? AND token_sha256 = ? AND used = 0 RETURNING partner",
                               {used_at, std::string(partner_id), record->token_sha256}));
    return !marked.empty();
  }

  Status Remove(std::string_view partner_id) override {
    return db_.Exec("DELETE FROM main_enrollment_tokens WHERE partner = ?",
                    {std::string(partner_id)});
  }

 private:
  Database& db_;
};

}  // namespace

Result<std::unique_ptr<TokenStore>> OpenDatabaseTokenStore(Env& env, Database& db,
                                                           const std::string& site_dir) {
  RETURN_IF_ERROR(Migrate(db, "main_enrollment", TokenMigrations()));
  auto store = std::make_unique<DatabaseTokenStore>(db);
  const std::string file = TokenFilePath(site_dir);
  if (env.FileExists(file)) {
    std::unique_ptr<TokenStore> old = NewFileTokenStore(env, file);
    ASSIGN_OR_RETURN(std::vector<EnrollmentTokenRecord> records, old->List());
    // Only tokens the store does not know: it may have used one since the file was copied.
    RETURN_IF_ERROR(db.Transaction([&](Database& tx) -> Status {
      for (const EnrollmentTokenRecord& r : records) {
        RETURN_IF_ERROR(tx.Exec("INSERT INTO main_enrollment_tokens (" + std::string(kColumns) +
                                    ") VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (partner) DO NOTHING",
                                Params(r)));
      }
      return Status::Ok();
    }));
    RETURN_IF_ERROR(env.Rename(file, file + ".imported"));
  }
  return std::unique_ptr<TokenStore>(std::move(store));
}

}  // namespace tieup
