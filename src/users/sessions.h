// Browser sessions kept in a table of a site's SQL database: a site's signed-in customers
// (CustomerSessionTable, table customer_sessions) and the console's managers
// (console/sessions.h, table console_sessions).
//
// A session is made at sign-in with a fresh random id (32 bytes from the Env, base64url in the
// cookie); only the SHA-256 of the cookie value is stored, so a copy of the database signs no
// one in. Each session has its own CSRF token for the forms of its pages. A session ends at
// sign-out, after idle_seconds without a request, after absolute_seconds in all, and when its
// subject (a customer, a manager) is disabled, removed or reset (EndAllFor).
//
// Thread-safe. The Env and Database must outlive the store.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/env.h"
#include "base/status.h"
#include "store/database.h"

namespace tieup::users {

struct SessionOptions {
  int64_t idle_seconds = 30 * 60;        // OWASP ASVS 3.3.2 (level 2): 30 minutes idle
  int64_t absolute_seconds = 12 * 3600;  // and 12 hours in all
};

struct Session {
  std::string subject;     // whose session: a customer's user id, a manager's email address
  std::string name;        // how the pages greet them ("" when not kept)
  std::string csrf_token;  // base64url; every form of the session's pages carries it
  int64_t created_micros = 0;
  int64_t last_seen_micros = 0;
};

// The SQL that makes a session table named `table` (for a component's migration), and the SQL
// of the column added since (a later step of the same migration): every session table has both.
std::string SessionTableSql(std::string_view table);
std::string SessionGenerationSql(std::string_view table);

class SessionStore {
 public:
  // Sessions in `table` (made by SessionTableSql in the caller's migration). InvalidArgument for
  // timeouts that are not positive.
  static Result<std::unique_ptr<SessionStore>> Open(Env& env, Database& db, std::string table,
                                                    SessionOptions options = {});
  ~SessionStore();

  struct Created {
    std::string cookie_value;  // the secret the browser keeps: never log it
    Session session;
  };
  // A new session for `subject`, ended with the others of `subject_key` by EndAllFor (sessions
  // past their timeouts are swept out on the way). `generation`: how far the subject's
  // sign-outs everywhere had gone when the session was made (EndAllBefore); 0 when not told.
  Result<Created> Create(std::string_view subject, std::string_view subject_key,
                         std::string_view name, int64_t generation = 0);

  // The session of `cookie_value`, with last_seen moved to now. NotFound when the value is
  // unknown or malformed, or the session has been idle or alive too long (it is deleted then).
  Result<Session> Find(std::string_view cookie_value);

  // As Find, but leaves last_seen as it is: for requests the browser makes by itself (a live
  // event stream), which must not keep an unattended page signed in.
  Result<Session> Peek(std::string_view cookie_value);

  // Ends the session of `cookie_value`; OK when there is none.
  Status End(std::string_view cookie_value);

  // Ends every session of `subject_key`; OK when there are none.
  Status EndAllFor(std::string_view subject_key);

  // Ends the sessions of `subject_key` made at a generation below `generation`: a sign-out
  // everywhere told late ends the sessions made before it, not one made since (a partner's
  // sign-in after main's sign-out carries main's generation). Returns how many ended.
  Result<int64_t> EndAllBefore(std::string_view subject_key, int64_t generation);

 private:
  class Impl;
  explicit SessionStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// True iff `token` is the session's CSRF token (compared in constant time; an empty token never
// matches).
bool CsrfMatches(const Session& session, std::string_view token);

// A site's customer sessions: SessionStore on table customer_sessions (schema component
// "customer_sessions", migrated here), keyed by user id. (UserStore::SetDisabled ends an
// account's sessions in the same database.)
Status MigrateCustomerSessions(Database& db);
Result<std::unique_ptr<SessionStore>> OpenCustomerSessions(Env& env, Database& db,
                                                           SessionOptions options = {});

// The Set-Cookie value of session cookie `name` holding `value`: Path=/, HttpOnly,
// SameSite=`same_site` ("Lax", "Strict"), Secure under HTTPS (`https`, when the name also takes
// the "__Host-" prefix); an empty `value` deletes the cookie (Max-Age=0).
std::string SessionCookieName(bool https, std::string_view base);
std::string SessionCookie(std::string_view value, bool https, std::string_view base,
                          std::string_view same_site);

}  // namespace tieup::users
