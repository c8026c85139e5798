#include "users/sessions.h"

#include <limits>

#include "base/encoding.h"
#include "crypto/hash.h"

namespace tieup::users {
namespace {

constexpr size_t kIdBytes = 32;
constexpr int64_t kMicros = 1'000'000;

// A cookie value we made is 43 base64url characters; anything else is refused unread.
bool LooksLikeId(std::string_view value) {
  if (value.size() != 43) return false;
  for (char c : value) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

Status NoSession() {
  return Status::NotFound("no such session (it ended, or timed out): sign in again");
}

// A table name we make the SQL for: letters, digits and '_' (never spliced from input).
bool IsTableName(std::string_view table) {
  bool ok = !table.empty() && table.size() <= 63;
  for (char c : table) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
  return ok;
}

}  // namespace

std::string SessionTableSql(std::string_view table) {
  const std::string t(table);
  return "CREATE TABLE " + t +
         " (\n"
         "  id_hash TEXT PRIMARY KEY,\n"
         "  subject TEXT NOT NULL,\n"
         "  subject_key TEXT NOT NULL,\n"
         "  name TEXT NOT NULL DEFAULT '',\n"
         "  csrf_token TEXT NOT NULL,\n"
         "  created_at INTEGER NOT NULL,\n"
         "  last_seen INTEGER NOT NULL\n"
         ");\n"
         "CREATE INDEX " +
         t + "_subject ON " + t + "(subject_key);\n";
}

std::string SessionGenerationSql(std::string_view table) {
  return "ALTER TABLE " + std::string(table) +
         " ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;\n";
}

class SessionStore::Impl {
 public:
  Impl(Env& env, Database& db, std::string table, SessionOptions options)
      : env_(env), db_(db), table_(std::move(table)), options_(options) {}

  Result<Created> Create(std::string_view subject, std::string_view subject_key,
                         std::string_view name, int64_t generation) {
    const int64_t now = env_.NowMicros();
    Created created;
    created.cookie_value = Base64UrlEncode(RandomString(env_, kIdBytes));
    created.session.subject = std::string(subject);
    created.session.name = std::string(name);
    created.session.csrf_token = Base64UrlEncode(RandomString(env_, kIdBytes));
    created.session.created_micros = now;
    created.session.last_seen_micros = now;
    RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
      RETURN_IF_ERROR(db.Exec(
          "DELETE FROM " + table_ + " WHERE last_seen <= ? OR created_at <= ?",
          {now - options_.idle_seconds * kMicros, now - options_.absolute_seconds * kMicros}));
      return db.Exec(
          "INSERT INTO " + table_ +
              "(id_hash, subject, subject_key, name, csrf_token, created_at, "
              "last_seen, generation) VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
          {Sha256Hex(created.cookie_value), created.session.subject, std::string(subject_key),
           created.session.name, created.session.csrf_token, now, now, generation});
    }));
    return created;
  }

  Result<Session> Find(std::string_view cookie_value, bool touch) {
    if (!LooksLikeId(cookie_value)) return NoSession();
    const std::string id_hash = Sha256Hex(cookie_value);
    ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT subject, name, csrf_token, created_at, last_seen "
                                          "FROM " +
                                              table_ + " WHERE id_hash = ?",
                                          {id_hash}));
    if (rows.empty()) return NoSession();
    Session s{rows[0].Text(0), rows[0].Text(1), rows[0].Text(2), rows[0].Int(3), rows[0].Int(4)};
    const int64_t now = env_.NowMicros();
    if (now - s.last_seen_micros >= options_.idle_seconds * kMicros ||
        now - s.created_micros >= options_.absolute_seconds * kMicros) {
      RETURN_IF_ERROR(db_.Exec("DELETE FROM " + table_ + " WHERE id_hash = ?", {id_hash}));
      return NoSession();
    }
    if (touch && now > s.last_seen_micros) {
      RETURN_IF_ERROR(
          db_.Exec("UPDATE " + table_ + " SET last_seen = ? WHERE id_hash = ?", {now, id_hash}));
      s.last_seen_micros = now;
    }
    return s;
  }

  Status End(std::string_view cookie_value) {
    if (!LooksLikeId(cookie_value)) return Status::Ok();
    return db_.Exec("DELETE FROM " + table_ + " WHERE id_hash = ?", {Sha256Hex(cookie_value)});
  }

  Result<int64_t> EndAllBefore(std::string_view subject_key, int64_t generation) {
    int64_t ended = 0;
    // One transaction holds the connection: the count is this DELETE's.
    RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
      RETURN_IF_ERROR(db.Exec("DELETE FROM " + table_ + " WHERE subject_key = ? AND generation < ?",
                              {std::string(subject_key), generation}));
      ended = db.ChangedRows();
      return Status::Ok();
    }));
    return ended;
  }

 private:
  Env& env_;
  Database& db_;
  const std::string table_;
  const SessionOptions options_;
};

SessionStore::SessionStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SessionStore::~SessionStore() = default;

Result<std::unique_ptr<SessionStore>> SessionStore::Open(Env& env, Database& db, std::string table,
                                                         SessionOptions options) {
  if (options.idle_seconds <= 0 || options.absolute_seconds <= 0) {
    return Status::InvalidArgument("the session timeouts must be positive");
  }
  if (!IsTableName(table)) return Status::InvalidArgument("bad session table name");
  return std::unique_ptr<SessionStore>(
      new SessionStore(std::make_unique<Impl>(env, db, std::move(table), options)));
}

Result<SessionStore::Created> SessionStore::Create(std::string_view subject,
                                                   std::string_view subject_key,
                                                   std::string_view name, int64_t generation) {
  return impl_->Create(subject, subject_key, name, generation);
}
Result<Session> SessionStore::Find(std::string_view cookie_value) {
  return impl_->Find(cookie_value, /*touch=*/true);
}
Result<Session> SessionStore::Peek(std::string_view cookie_value) {
  return impl_->Find(cookie_value, /*touch=*/false);
}
Status SessionStore::End(std::string_view cookie_value) { return impl_->End(cookie_value); }
Status SessionStore::EndAllFor(std::string_view subject_key) {
  return impl_->EndAllBefore(subject_key, std::numeric_limits<int64_t>::max()).status();
}
Result<int64_t> SessionStore::EndAllBefore(std::string_view subject_key, int64_t generation) {
  return impl_->EndAllBefore(subject_key, generation);
}

bool CsrfMatches(const Session& session, std::string_view token) {
  if (token.empty() || session.csrf_token.empty()) return false;
  return ConstantTimeEquals(session.csrf_token, token);
}

Status MigrateCustomerSessions(Database& db) {
  return Migrate(
      db, "customer_sessions",
      {{1, SessionTableSql("customer_sessions")}, {2, SessionGenerationSql("customer_sessions")}});
}

Result<std::unique_ptr<SessionStore>> OpenCustomerSessions(Env& env, Database& db,
                                                           SessionOptions options) {
  RETURN_IF_ERROR(MigrateCustomerSessions(db));
  return SessionStore::Open(env, db, "customer_sessions", options);
}

std::string SessionCookieName(bool https, std::string_view base) {
  return (https ? "__Host-" : "") + std::string(base);
}

std::string SessionCookie(std::string_view value, bool https, std::string_view base,
                          std::string_view same_site) {
  std::string cookie = SessionCookieName(https, base) + "=" + std::string(value) +
                       "; Path=/; HttpOnly; SameSite=" + std::string(same_site);
  if (https) cookie += "; Secure";
  if (value.empty()) cookie += "; Max-Age=0";
  return cookie;
}

}  // namespace tieup::users
