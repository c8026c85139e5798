#include "console/sessions.h"

#include "base/encoding.h"
#include "crypto/hash.h"
#include "users/user_store.h"

namespace tieup::console {
namespace {

constexpr std::string_view kSchemaV1 = R"(
CREATE TABLE console_sessions (
  id_hash TEXT PRIMARY KEY,
  email TEXT NOT NULL,
  email_key TEXT NOT NULL,
  csrf_token TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_seen INTEGER NOT NULL
);
CREATE INDEX console_sessions_email ON console_sessions(email_key);
)";

constexpr size_t kIdBytes = 32;
constexpr int64_t kMicros = 1'000'000;

std::string LowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// The key sessions are ended by: the normalized address, lower-cased (as ManagerStore keys).
std::string EmailKey(std::string_view email) {
  auto normalized = users::NormalizeEmail(email);
  return LowerAscii(normalized.ok() ? std::string_view(*normalized) : email);
}

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
  return Status::NotFound("no such console session (it ended, or timed out): sign in again");
}

}  // namespace

class SessionStore::Impl {
 public:
  Impl(Env& env, Database& db, SessionOptions options) : env_(env), db_(db), options_(options) {}

  Result<Created> Create(std::string_view email) {
    const int64_t now = env_.NowMicros();
    Created created;
    created.cookie_value = Base64UrlEncode(RandomString(env_, kIdBytes));
    created.session.email = std::string(email);
    created.session.csrf_token = Base64UrlEncode(RandomString(env_, kIdBytes));
    created.session.created_micros = now;
    created.session.last_seen_micros = now;
    RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
      RETURN_IF_ERROR(db.Exec(
          "DELETE FROM console_sessions WHERE last_seen <= ? OR created_at <= ?",
          {now - options_.idle_seconds * kMicros, now - options_.absolute_seconds * kMicros}));
      return db.Exec(
          "INSERT INTO console_sessions(id_hash, email, email_key, csrf_token, created_at, "
          "last_seen) VALUES(?, ?, ?, ?, ?, ?)",
          {Sha256Hex(created.cookie_value), created.session.email, EmailKey(email),
           created.session.csrf_token, now, now});
    }));
    return created;
  }

  Result<Session> Find(std::string_view cookie_value, bool touch) {
    if (!LooksLikeId(cookie_value)) return NoSession();
    const std::string id_hash = Sha256Hex(cookie_value);
    ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT email, csrf_token, created_at, last_seen FROM "
                                          "console_sessions WHERE id_hash = ?",
                                          {id_hash}));
    if (rows.empty()) return NoSession();
    Session s{rows[0].Text(0), rows[0].Text(1), rows[0].Int(2), rows[0].Int(3)};
    const int64_t now = env_.NowMicros();
    if (now - s.last_seen_micros >= options_.idle_seconds * kMicros ||
        now - s.created_micros >= options_.absolute_seconds * kMicros) {
      RETURN_IF_ERROR(db_.Exec("DELETE FROM console_sessions WHERE id_hash = ?", {id_hash}));
      return NoSession();
    }
    if (touch && now > s.last_seen_micros) {
      RETURN_IF_ERROR(
          db_.Exec("UPDATE console_sessions SET last_seen = ? WHERE id_hash = ?", {now, id_hash}));
      s.last_seen_micros = now;
    }
    return s;
  }

  Status End(std::string_view cookie_value) {
    if (!LooksLikeId(cookie_value)) return Status::Ok();
    return db_.Exec("DELETE FROM console_sessions WHERE id_hash = ?", {Sha256Hex(cookie_value)});
  }

  Status EndAllFor(std::string_view email) {
    return db_.Exec("DELETE FROM console_sessions WHERE email_key = ?", {EmailKey(email)});
  }

 private:
  Env& env_;
  Database& db_;
  const SessionOptions options_;
};

SessionStore::SessionStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SessionStore::~SessionStore() = default;

Result<std::unique_ptr<SessionStore>> SessionStore::Open(Env& env, Database& db,
                                                         SessionOptions options) {
  if (options.idle_seconds <= 0 || options.absolute_seconds <= 0) {
    return Status::InvalidArgument("the console session timeouts must be positive");
  }
  RETURN_IF_ERROR(Migrate(db, "console_sessions", {{1, std::string(kSchemaV1)}}));
  return std::unique_ptr<SessionStore>(new SessionStore(std::make_unique<Impl>(env, db, options)));
}

Result<SessionStore::Created> SessionStore::Create(std::string_view email) {
  return impl_->Create(email);
}
Result<Session> SessionStore::Find(std::string_view cookie_value) {
  return impl_->Find(cookie_value, /*touch=*/true);
}
Result<Session> SessionStore::Peek(std::string_view cookie_value) {
  return impl_->Find(cookie_value, /*touch=*/false);
}
Status SessionStore::End(std::string_view cookie_value) { return impl_->End(cookie_value); }
Status SessionStore::EndAllFor(std::string_view email) { return impl_->EndAllFor(email); }

bool CsrfMatches(const Session& session, std::string_view token) {
  if (token.empty() || session.csrf_token.empty()) return false;
  return ConstantTimeEquals(session.csrf_token, token);
}

}  // namespace tieup::console
