// SessionStore: the signed-in browsers of a site's console (schema component
// "console_sessions", table console_sessions), kept by users/sessions.h's store by the manager's
// email address.
//
// A session is made at sign-in with a fresh random id (32 bytes from the Env, base64url in the
// cookie); only the SHA-256 of the cookie value is stored, so a copy of the database signs no
// one in. Each session has its own CSRF token for the forms of its pages. A session ends at
// sign-out, after idle_seconds without a request, after absolute_seconds in all, and when its
// manager is removed or reset (EndAllFor).
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
#include "users/sessions.h"

namespace tieup::console {

using SessionOptions = users::SessionOptions;
// A manager's session: its subject is the manager's email address, as ManagerStore keeps it.
using Session = users::Session;
using users::CsrfMatches;

class SessionStore {
 public:
  // Migrates the schema in `db`.
  static Result<std::unique_ptr<SessionStore>> Open(Env& env, Database& db,
                                                    SessionOptions options = {});
  ~SessionStore();

  using Created = users::SessionStore::Created;
  // A new session for `email` (sessions past their timeouts are swept out on the way).
  Result<Created> Create(std::string_view email);

  // The session of `cookie_value`, with last_seen moved to now. NotFound when the value is
  // unknown or malformed, or the session has been idle or alive too long (it is deleted then).
  Result<Session> Find(std::string_view cookie_value);

  // As Find, but leaves last_seen as it is: for requests the browser makes by itself (the live
  // event stream), which must not keep an unattended console signed in.
  Result<Session> Peek(std::string_view cookie_value);

  // Ends the session of `cookie_value`; OK when there is none.
  Status End(std::string_view cookie_value);

  // Ends every session of the manager `email` (ignoring case); OK when there are none.
  Status EndAllFor(std::string_view email);

 private:
  class Impl;
  explicit SessionStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tieup::console
