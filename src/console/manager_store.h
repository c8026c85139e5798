// ManagerStore: the accounts of the people who run a site from its web console (DESIGN.md
// "Consoles"), in the site's SQL database (schema component "console_managers": tables
// console_managers, console_setup_tokens, console_login_failures).
//
// A manager is added by e-mail address (normalized as users::NormalizeEmail does, unique
// ignoring case) and receives a one-time setup token: the link to choose a password. Only the
// token's SHA-256 is stored; the token itself is shown once, to whoever added the manager.
// Passwords are kept only as Argon2id hashes (libsodium crypto_pwhash_str, the users module's
// policy and cost). A password, its hash and a token are never logged or returned.
//
// Sign-in throttling: failures are counted per account (the e-mail as typed, normalized, known
// or not, so that a lock says nothing about which addresses exist) and per client address; a
// count that reaches its limit within lockout_seconds locks that account or address for
// lockout_seconds. A success clears the account's count (not the address's).
//
// Hashing is slow and memory-hard on purpose: at most max_concurrent_hashes run at once, the
// other callers wait. Thread-safe. The Env and Database must outlive the store.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "store/database.h"
#include "users/user_store.h"

namespace tieup::console {

// A manager as the store returns it (never with a password, hash or token).
struct Manager {
  std::string email;
  std::string name;  // may be empty
  int64_t created_micros = 0;
  bool password_set = false;      // false until the setup link was used, and again after Reset
  int64_t last_login_micros = 0;  // 0: never signed in
};

struct ManagerStoreOptions {
  users::PasswordHashCost cost = users::PasswordHashCost::Interactive();
  // Password hashes computed at the same time, at most (each takes cost.mem_limit bytes).
  int max_concurrent_hashes = 2;
  // A set-password link expires this long after it was made.
  int64_t setup_token_seconds = 7 * 86400;
  // Failed sign-ins within lockout_seconds that lock the account (per e-mail address typed) ...
  int max_failures_per_account = 5;
  // ... or the client address, for lockout_seconds.
  int max_failures_per_address = 20;
  int64_t lockout_seconds = 15 * 60;
  // The command that makes a new setup link, named in messages ("tieup main manager reset"
  // for main's console).
  std::string reset_command = "tieup partner manager reset";
};

class ManagerStore {
 public:
  // Migrates the schema in `db`. InvalidArgument for a hashing cost below libsodium's minimum.
  static Result<std::unique_ptr<ManagerStore>> Open(Env& env, Database& db,
                                                    ManagerStoreOptions options = {});
  ~ManagerStore();

  // Adds a manager without a password and returns a one-time setup token (32 random bytes,
  // base64url without padding) valid for setup_token_seconds. `name` may be empty.
  // InvalidArgument for a bad e-mail address or name; AlreadyExists when the address (ignoring
  // case) is a manager already.
  Result<std::string> Add(std::string_view email, std::string_view name);

  // Every manager, oldest first.
  Result<std::vector<Manager>> List();

  // The manager with this e-mail address (ignoring case); NotFound otherwise.
  Result<Manager> Get(std::string_view email);

  // Removes the manager and its setup tokens. NotFound when there is none. The caller ends
  // its sessions (SessionStore::EndAllFor).
  Status Remove(std::string_view email);

  // Clears the manager's password (the old one stops working at once), voids its earlier setup
  // tokens and returns a new one. NotFound when there is no such manager. The caller should end
  // the manager's sessions (SessionStore::EndAllFor).
  Result<std::string> Reset(std::string_view email);

  // The e-mail address a valid, unexpired setup token is for (the token is not used up).
  // InvalidArgument with the "this link has expired or was used" message otherwise.
  Result<std::string> CheckSetupToken(std::string_view setup_token);

  // Sets the password of the token's manager and uses the token up (with every other token of
  // that manager); returns the manager's e-mail address. InvalidArgument: "this link has
  // expired or was used; ask for a new one (RESET_COMMAND)" for an unknown, used or expired
  // token; the users password policy's message for a bad password (the token stays valid).
  Result<std::string> SetPassword(std::string_view setup_token, std::string_view password);

  // Checks a sign-in from `client_address` and records when it succeeded.
  // Unauthenticated("Wrong e-mail address or password.") for an unknown e-mail address, a
  // manager without a password and a wrong password alike (an unknown address is checked
  // against a dummy hash, so the time taken does not tell either);
  // ResourceExhausted("Too many failed sign-ins; try again in N minutes") while the account or
  // the address is locked, and for the failure that locks it.
  Result<Manager> CheckLogin(std::string_view email, std::string_view password,
                             std::string_view client_address);

 private:
  class Impl;
  explicit ManagerStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tieup::console
