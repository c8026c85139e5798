#include "console/manager_store.h"

#include <algorithm>

#include "base/encoding.h"
#include "crypto/hash.h"
#include "crypto/password_hash.h"

namespace tieup::console {
namespace {

constexpr std::string_view kSchemaV1 = R"(
CREATE TABLE console_managers (
  email_key TEXT PRIMARY KEY,
  email TEXT NOT NULL,
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  password_hash TEXT,
  last_login_at INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE console_setup_tokens (
  token_hash TEXT PRIMARY KEY,
  email_key TEXT NOT NULL REFERENCES console_managers(email_key) ON DELETE CASCADE,
  expires_at INTEGER NOT NULL
);
CREATE INDEX console_setup_tokens_email ON console_setup_tokens(email_key);
CREATE TABLE console_login_failures (
  scope TEXT NOT NULL CHECK (scope IN ('account', 'address')),
  key TEXT NOT NULL,
  failures INTEGER NOT NULL,
  last_failure_at INTEGER NOT NULL,
  locked_until INTEGER NOT NULL,
  PRIMARY KEY (scope, key)
);
)";

constexpr std::string_view kColumns =
    "email, name, created_at, password_hash IS NOT NULL, last_login_at";
// Longer passwords are refused before any real check (the policy allows far fewer bytes).
constexpr size_t kMaxPasswordBytes = users::kMaxPasswordChars * 4;
constexpr size_t kTokenBytes = 32;
constexpr int64_t kMicros = 1'000'000;

std::string_view TrimAscii(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || (s.front() >= '\t' && s.front() <= '\r'))) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || (s.back() >= '\t' && s.back() <= '\r'))) {
    s.remove_suffix(1);
  }
  return s;
}

// The key a manager is stored under: the normalized address, lower-cased.
Result<std::string> EmailKey(std::string_view email) {
  ASSIGN_OR_RETURN(std::string normalized, users::NormalizeEmail(email));
  return LowerAscii(normalized);
}

// The key failed sign-ins are counted under: the address as EmailKey makes it, or, for text
// that is no address at all, the text itself (bounded), so that every attempt counts.
std::string ThrottleKey(std::string_view email) {
  auto key = EmailKey(email);
  if (key.ok()) return *key;
  return SanitizeUtf8(LowerAscii(TrimAscii(email).substr(0, users::kMaxEmailBytes)));
}

// A token as the user sees it is 43 base64url characters; anything else is not one of ours.
bool LooksLikeToken(std::string_view token) {
  if (token.size() != 43) return false;
  for (char c : token) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

Manager ManagerFromRow(const SqlRow& row) {
  return Manager{row.Text(0), row.Text(1), row.Int(2), row.Int(3) != 0, row.Int(4)};
}

Status NoSuchManager(std::string_view email) {
  return Status::NotFound("there is no manager '" + std::string(email.substr(0, 80)) +
                          "' (list them with 'manager ls')");
}

}  // namespace

class ManagerStore::Impl {
 public:
  Impl(Env& env, Database& db, ManagerStoreOptions options)
      : env_(env),
        db_(db),
        options_(std::move(options)),
        hasher_(env, options_.cost, options_.max_concurrent_hashes) {}

  Result<std::string> Add(std::string_view email, std::string_view name) {
    ASSIGN_OR_RETURN(std::string normalized, users::NormalizeEmail(email));
    std::string clean_name;
    if (!TrimAscii(name).empty()) {
      ASSIGN_OR_RETURN(clean_name, users::NormalizeDisplayName(name));
    }
    const std::string key = LowerAscii(normalized);
    const std::string token = NewToken();
    const int64_t now = env_.NowMicros();
    bool taken = false;
    RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
      ASSIGN_OR_RETURN(auto rows,
                       db.Query("SELECT 1 FROM console_managers WHERE email_key = ?", {key}));
      if (!rows.empty()) {
        taken = true;
        return Status::Ok();
      }
      RETURN_IF_ERROR(db.Exec(
          "INSERT INTO console_managers(email_key, email, name, created_at) VALUES(?, ?, ?, ?)",
          {key, normalized, clean_name, now}));
      return InsertToken(db, key, token, now);
    }));
    if (taken) {
      return Status::AlreadyExists("'" + normalized +
                                   "' is a manager already: to send a new set-password link, "
                                   "run '" +
                                   options_.reset_command + "'");
    }
    return token;
  }

  Result<std::vector<Manager>> List() {
    ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT " + std::string(kColumns) +
                                          " FROM console_managers ORDER BY created_at, email"));
    std::vector<Manager> out;
    out.reserve(rows.size());
    for (const SqlRow& row : rows) out.push_back(ManagerFromRow(row));
    return out;
  }

  Result<Manager> Get(std::string_view email) {
    auto key = EmailKey(email);
    if (!key.ok()) return NoSuchManager(email);
    ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT " + std::string(kColumns) +
                                              " FROM console_managers WHERE email_key = ?",
                                          {*key}));
    if (rows.empty()) return NoSuchManager(email);
    return ManagerFromRow(rows[0]);
  }

  Status Remove(std::string_view email) {
    auto key = EmailKey(email);
    if (!key.ok()) return NoSuchManager(email);
    bool found = false;
    RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
      RETURN_IF_ERROR(db.Exec("DELETE FROM console_setup_tokens WHERE email_key = ?", {*key}));
      RETURN_IF_ERROR(db.Exec("DELETE FROM console_managers WHERE email_key = ?", {*key}));
      found = db.ChangedRows() > 0;
      return Status::Ok();
    }));
    return found ? Status::Ok() : NoSuchManager(email);
  }

  Result<std::string> Reset(std::string_view email) {
    auto key = EmailKey(email);
    if (!key.ok()) return NoSuchManager(email);
    const std::string token = NewToken();
    const int64_t now = env_.NowMicros();
    bool found = false;
    RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
      RETURN_IF_ERROR(
          db.Exec("UPDATE console_managers SET password_hash = NULL WHERE email_key = ?", {*key}));
      found = db.ChangedRows() > 0;
      if (!found) return Status::Ok();
      RETURN_IF_ERROR(db.Exec("DELETE FROM console_setup_tokens WHERE email_key = ?", {*key}));
      return InsertToken(db, *key, token, now);
    }));
    if (!found) return NoSuchManager(email);
    return token;
  }

  Result<std::string> CheckSetupToken(std::string_view token) {
    ASSIGN_OR_RETURN(std::string key, ValidTokenKey(db_, token));
    ASSIGN_OR_RETURN(auto rows,
                     db_.Query("SELECT email FROM console_managers WHERE email_key = ?", {key}));
    if (rows.empty()) return ExpiredLink();
    return rows[0].Text(0);
  }

  Result<std::string> SetPassword(std::string_view token, std::string_view password) {
    // The link is checked before the password, so that a stale link is reported as such.
    RETURN_IF_ERROR(ValidTokenKey(db_, token).status());
    RETURN_IF_ERROR(users::CheckPasswordPolicy(password));
    ASSIGN_OR_RETURN(std::string hash, hasher_.Hash(password));
    std::string email;
    RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
      // Checked again inside the transaction: two uses of one link, one wins.
      ASSIGN_OR_RETURN(std::string key, ValidTokenKey(db, token));
      RETURN_IF_ERROR(db.Exec("DELETE FROM console_setup_tokens WHERE email_key = ?", {key}));
      RETURN_IF_ERROR(db.Exec("UPDATE console_managers SET password_hash = ? WHERE email_key = ?",
                              {hash, key}));
      if (db.ChangedRows() == 0) return ExpiredLink();
      ASSIGN_OR_RETURN(auto rows,
                       db.Query("SELECT email FROM console_managers WHERE email_key = ?", {key}));
      if (rows.empty()) return ExpiredLink();
      email = rows[0].Text(0);
      return Status::Ok();
    }));
    return email;
  }

  Result<Manager> CheckLogin(std::string_view email, std::string_view password,
                             std::string_view client_address) {
    const int64_t now = env_.NowMicros();
    const std::string account = ThrottleKey(email);
    const std::string address = client_address.empty() ? std::string("unknown")
                                                       : std::string(client_address.substr(0, 100));
    RETURN_IF_ERROR(CheckNotLocked(account, address, now));

    std::vector<SqlRow> rows;
    auto key = EmailKey(email);
    if (key.ok()) {
      ASSIGN_OR_RETURN(rows, db_.Query("SELECT " + std::string(kColumns) +
                                           ", password_hash FROM console_managers "
                                           "WHERE email_key = ?",
                                       {*key}));
    }
    const bool known = !rows.empty() && !rows[0].IsNull(5);
    const std::string hash = known ? rows[0].Text(5) : hasher_.DummyHash();
    // An over-long password still costs one verification, against the dummy hash.
    const bool too_long = password.size() > kMaxPasswordBytes;
    const bool match =
        hasher_.Verify(too_long ? hasher_.DummyHash() : hash,
                       too_long ? password.substr(0, kMaxPasswordBytes) : password) &&
        known && !too_long;
    if (!match) {
      ASSIGN_OR_RETURN(bool locked_now, RecordFailure(account, address, now));
      if (locked_now) return Locked(options_.lockout_seconds * kMicros);
      return Status::Unauthenticated("Wrong e-mail address or password.");
    }
    Manager manager = ManagerFromRow(rows[0]);
    manager.last_login_micros = now;
    RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
      RETURN_IF_ERROR(db.Exec("UPDATE console_managers SET last_login_at = ? WHERE email_key = ?",
                              {now, *key}));
      return db.Exec("DELETE FROM console_login_failures WHERE scope = 'account' AND key = ?",
                     {account});
    }));
    return manager;
  }

 private:
  std::string NewToken() { return Base64UrlEncode(RandomString(env_, kTokenBytes)); }

  Status InsertToken(Database& db, const std::string& key, const std::string& token, int64_t now) {
    // Expired tokens of anyone are swept out here; they are useless.
    RETURN_IF_ERROR(db.Exec("DELETE FROM console_setup_tokens WHERE expires_at <= ?", {now}));
    return db.Exec(
        "INSERT INTO console_setup_tokens(token_hash, email_key, expires_at) VALUES(?, ?, ?)",
        {Sha256Hex(token), key, now + options_.setup_token_seconds * kMicros});
  }

  Status ExpiredLink() const {
    return Status::InvalidArgument("this link has expired or was used; ask for a new one (" +
                                   options_.reset_command + ")");
  }

  // The manager key of a valid, unexpired token.
  Result<std::string> ValidTokenKey(Database& db, std::string_view token) {
    if (!LooksLikeToken(token)) return ExpiredLink();
    ASSIGN_OR_RETURN(auto rows, db.Query("SELECT email_key, expires_at FROM console_setup_tokens "
                                         "WHERE token_hash = ?",
                                         {Sha256Hex(token)}));
    if (rows.empty() || rows[0].Int(1) <= env_.NowMicros()) return ExpiredLink();
    return rows[0].Text(0);
  }

  static Status Locked(int64_t remaining_micros) {
    const int64_t minutes =
        std::max<int64_t>(1, (remaining_micros + 60 * kMicros - 1) / (60 * kMicros));
    return Status::ResourceExhausted("Too many failed sign-ins; try again in " +
                                     std::to_string(minutes) +
                                     (minutes == 1 ? " minute" : " minutes"));
  }

  Status CheckNotLocked(const std::string& account, const std::string& address, int64_t now) {
    ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT MAX(locked_until) FROM console_login_failures "
                                          "WHERE (scope = 'account' AND key = ?) OR "
                                          "(scope = 'address' AND key = ?)",
                                          {account, address}));
    const int64_t until = rows.empty() ? 0 : rows[0].Int(0);
    if (until > now) return Locked(until - now);
    return Status::Ok();
  }

  // Counts a failed sign-in against the account and the address; returns whether either is
  // locked by it.
  Result<bool> RecordFailure(const std::string& account, const std::string& address, int64_t now) {
    const int64_t window = options_.lockout_seconds * kMicros;
    bool locked = false;
    auto count = [&](Database& db, const char* scope, const std::string& key, int max) -> Status {
      ASSIGN_OR_RETURN(auto rows, db.Query("SELECT failures, last_failure_at, locked_until FROM "
                                           "console_login_failures WHERE scope = ? AND key = ?",
                                           {std::string(scope), key}));
      int64_t failures = 1;
      int64_t locked_until = 0;
      if (!rows.empty()) {
        locked_until = rows[0].Int(2);
        if (rows[0].Int(1) > now - window) failures = rows[0].Int(0) + 1;
      }
      if (failures >= std::max(1, max)) {
        locked_until = now + window;
        failures = 0;
        locked = true;
      }
      return db.Exec(
          "INSERT INTO console_login_failures(scope, key, failures, last_failure_at, "
          "locked_until) VALUES(?, ?, ?, ?, ?) ON CONFLICT(scope, key) DO UPDATE SET "
          "failures = excluded.failures, last_failure_at = excluded.last_failure_at, "
          "locked_until = excluded.locked_until",
          {std::string(scope), key, failures, now, locked_until});
    };
    RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
      // Counts and locks that have run out are swept, so the table stays small.
      RETURN_IF_ERROR(db.Exec(
          "DELETE FROM console_login_failures WHERE last_failure_at <= ? AND locked_until <= ?",
          {now - window, now}));
      RETURN_IF_ERROR(count(db, "account", account, options_.max_failures_per_account));
      return count(db, "address", address, options_.max_failures_per_address);
    }));
    return locked;
  }

  Env& env_;
  Database& db_;
  const ManagerStoreOptions options_;
  PasswordHasher hasher_;
};

ManagerStore::ManagerStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ManagerStore::~ManagerStore() = default;

Result<std::unique_ptr<ManagerStore>> ManagerStore::Open(Env& env, Database& db,
                                                         ManagerStoreOptions options) {
  RETURN_IF_ERROR(PasswordHasher::CheckCost(options.cost));
  if (options.setup_token_seconds <= 0 || options.lockout_seconds <= 0) {
    return Status::InvalidArgument(
        "the set-password link lifetime and the sign-in lockout must be positive");
  }
  RETURN_IF_ERROR(Migrate(db, "console_managers", {{1, std::string(kSchemaV1)}}));
  return std::unique_ptr<ManagerStore>(
      new ManagerStore(std::make_unique<Impl>(env, db, std::move(options))));
}

Result<std::string> ManagerStore::Add(std::string_view email, std::string_view name) {
  return impl_->Add(email, name);
}
Result<std::vector<Manager>> ManagerStore::List() { return impl_->List(); }
Result<Manager> ManagerStore::Get(std::string_view email) { return impl_->Get(email); }
Status ManagerStore::Remove(std::string_view email) { return impl_->Remove(email); }
Result<std::string> ManagerStore::Reset(std::string_view email) { return impl_->Reset(email); }
Result<std::string> ManagerStore::CheckSetupToken(std::string_view setup_token) {
  return impl_->CheckSetupToken(setup_token);
}
Result<std::string> ManagerStore::SetPassword(std::string_view setup_token,
                                              std::string_view password) {
  return impl_->SetPassword(setup_token, password);
}
Result<Manager> ManagerStore::CheckLogin(std::string_view email, std::string_view password,
                                         std::string_view client_address) {
  return impl_->CheckLogin(email, password, client_address);
}

}  // namespace tieup::console
