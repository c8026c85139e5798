// Main's central user store (DESIGN.md "Management on the partners' behalf", Users): every
// account registered at main or at any partner, in main's SQL database (schema component
// "users", table `users`).
//
// An account has an id main assigns ("usr_" + 16 random base32 characters), an email address
// (trimmed, its domain lower-cased, unique ignoring case), a display name, a password kept only
// as an Argon2id hash (libsodium crypto_pwhash_str: "$argon2id$v=19$m=...,t=...,p=1$salt$hash")
// in the `users` table, when and where it was registered (a partner id, or "main") and the area
// of the page it came from. A password or its hash is never logged, returned or stored anywhere
// else.
//
// Password hashing (crypto/password_hash.h) is deliberately slow and memory-hard; at most
// UserStoreOptions::max_concurrent_hashes run at once and max_waiting_hashes wait (more are
// refused at once), so a burst of logins can neither exhaust memory nor delay the others without
// end. Wrong passwords are counted per email address (table login_failures): past a few, each
// further attempt for that address must wait exponentially longer (OWASP ASVS 2.2.1).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "crypto/password_hash.h"
#include "store/database.h"

namespace tieup::users {

// The content area of the page a registration came from (a partner's tie-up or original
// pages; main's own site counts as original).
enum class UserArea { kTieup, kOriginal };

// "tieup" or "original".
std::string_view UserAreaName(UserArea area);
// The inverse of UserAreaName; InvalidArgument for anything else.
Result<UserArea> ParseUserArea(std::string_view name);

// The Argon2id cost, kept here under its old name for the users module's callers.
using PasswordHashCost = ::tieup::PasswordHashCost;

struct User;

struct UserStoreOptions {
  PasswordHashCost cost = PasswordHashCost::Interactive();
  // Password hashes computed at the same time, at most (each takes mem_limit bytes).
  int max_concurrent_hashes = 4;
  // Sign-ins and registrations that may wait for a hash slot; one more is refused at once with
  // Unavailable ("busy: try again in a few seconds"), so a flood cannot queue without end and
  // delay everyone else's sign-in.
  int max_waiting_hashes = 16;
  // Consecutive wrong passwords for one email address after which each further attempt must
  // wait after the last one: 5 seconds after one more failure, then 10, 20, 40... (at most
  // max_login_delay_seconds); refused before any hashing with ResourceExhausted saying how long.
  int free_login_failures = 5;
  int64_t max_login_delay_seconds = 15 * 60;
  // Told once when the wrong passwords of an existing account's address pass
  // free_login_failures (its sign-ins start to wait), with the account and the count: main mails
  // the owner (OWASP ASVS 2.2.3). Called on the signing-in thread; null: nobody is told.
  std::function<void(const User& user, int64_t failures)> throttled = nullptr;
  // Test hook: told of the password hasher's events (PasswordHasher::SetObserverForTest).
  std::function<void(PasswordHasher::EventForTest)> hasher_observer_for_test;
};

// How long a sign-in must wait after the last failure once `over` failures (1, 2...) are past the
// free ones: 5 s, then 10, 20, 40... seconds, at most `max_seconds`; 0 for `over` <= 0. For the
// counts per email address here and per client address (users/account_pages.h).
int64_t FailureDelaySeconds(int64_t over, int64_t max_seconds);

// Bounds of the password policy, in characters (UTF-8 code points).
inline constexpr size_t kMinPasswordChars = 10;
inline constexpr size_t kMaxPasswordChars = 128;
// Bounds of a display name, in characters.
inline constexpr size_t kMaxDisplayNameChars = 80;
// Longest email address accepted (RFC 5321 path limit).
inline constexpr size_t kMaxEmailBytes = 254;

// What a registration asks for.
struct NewUser {
  std::string email;
  std::string display_name;
  std::string password;
  std::string registered_via;  // the partner's site id, or "main"
  UserArea area = UserArea::kTieup;
  // When the address was confirmed by mail (users/registration.h); 0: not confirmed.
  int64_t email_confirmed_micros = 0;
};

// The postal address a customer keeps with the account, to pre-fill checkout (every field empty:
// none). The same fields as an order's customer (commerce/shop.h), the e-mail being the account's.
struct PostalAddress {
  std::string name;  // the recipient
  std::string line1;
  std::string line2;  // optional
  std::string postal_code;
  std::string city;
  std::string country;
  std::string phone;  // optional

  bool empty() const;
  friend bool operator==(const PostalAddress&, const PostalAddress&) = default;
};

// An account, as the store returns it (never with its password or hash).
struct User {
  std::string id;
  std::string email;
  std::string display_name;
  int64_t registered_at_micros = 0;
  std::string registered_via;
  UserArea area = UserArea::kTieup;
  // When a manager disabled the account (it cannot sign in); 0: it is active.
  int64_t disabled_micros = 0;
  // When the customer confirmed the address by mail; 0: never (accounts made before, or by a
  // manager).
  int64_t email_confirmed_micros = 0;
  PostalAddress address = {};
  // When the customer asked for news of the network's offers by mail (marketing consent); 0: not.
  int64_t marketing_consent_micros = 0;
  // When the customer let the shops record their visits under the account's id (the user logs
  // main keeps, for recommendations: main_site/ledger_service.h UserVisits); 0: not (or withdrawn).
  int64_t visits_consent_micros = 0;
  // When the name, e-mail address, postal address or consent last changed (the registration
  // counts): what partner copies follow (main_site/customer_copies.h).
  int64_t changed_micros = 0;

  friend bool operator==(const User&, const User&) = default;
};

// The email address as stored: surrounding whitespace removed, the domain lower-cased (the
// local part keeps its case). InvalidArgument, saying what is wrong, for an address that is not
// local@domain with a dotted domain of letters, digits and hyphens, for spaces, quotes or
// control characters, or for one longer than kMaxEmailBytes.
Result<std::string> NormalizeEmail(std::string_view email);

// The password policy: kMinPasswordChars to kMaxPasswordChars characters of valid UTF-8.
// InvalidArgument with what to do otherwise.
Status CheckPasswordPolicy(std::string_view password);

// The display name as stored (trimmed); InvalidArgument when blank, longer than
// kMaxDisplayNameChars, not UTF-8 or holding control characters.
Result<std::string> NormalizeDisplayName(std::string_view name);

// Which accounts List returns.
struct UserFilter {
  std::optional<std::string> registered_via;  // only those registered there
  // Only those whose email address, display name or id holds this text (ignoring ASCII case).
  std::string query;
  int64_t limit = 1000;  // newest first
  int64_t offset = 0;    // skip this many of the newest (pages of a list)
};

// Thread-safe. The Database and Env must outlive the store.
class UserStore {
 public:
  // Migrates the "users" schema in `db`.
  static Result<std::unique_ptr<UserStore>> Open(Env& env, Database& db,
                                                 UserStoreOptions options = {});
  ~UserStore();

  // Creates an account. InvalidArgument for a bad email, display name, password or
  // registered_via (the message says which and what to do); AlreadyExists when an account with
  // that email (ignoring case) exists.
  Result<User> Register(const NewUser& request);

  // The Argon2id hash of `password` after the policy check (InvalidArgument saying what to do),
  // through the bounded hashing queue (Unavailable when it is full): for a registration that
  // completes later (users/registration.h), and to spend the same time where none does.
  Result<std::string> HashNewPassword(std::string_view password);
  // Register with a hash from HashNewPassword instead of a password (request.password is not
  // used). Errors as Register's.
  Result<User> RegisterHashed(const NewUser& request, std::string_view password_hash);

  // The account whose email and password these are. A wrong password and an unknown email give
  // the same Unauthenticated error and take about the same time (an unknown email is checked
  // against a dummy hash), and both count as a failure for that address. A disabled account is
  // refused with Unauthenticated too, once its password is checked. ResourceExhausted (saying
  // when to try again) while the address must wait after too many failures; Unavailable when
  // too many sign-ins wait for hashing already.
  Result<User> CheckLogin(std::string_view email, std::string_view password);

  // The account with this id; NotFound otherwise.
  Result<User> Get(std::string_view user_id);
  // The account with this email address (ignoring case); InvalidArgument for a malformed
  // address, NotFound when there is none.
  Result<User> FindByEmail(std::string_view email);
  // Accounts, newest first.
  Result<std::vector<User>> List(const UserFilter& filter = {});
  // How many accounts (registered at `registered_via`, when given).
  Result<int64_t> Count(std::optional<std::string_view> registered_via = std::nullopt);
  // How many accounts `filter` matches (its limit and offset ignored).
  Result<int64_t> CountMatching(const UserFilter& filter);

  // Disables the account (it can no longer sign in, at main or at any partner; nothing else of
  // it changes) or enables it again, and returns it as it is now. Disabling a disabled account
  // keeps its first time. NotFound for an unknown id. For `tieup main users disable|enable` and
  // the main console.
  Result<User> SetDisabled(std::string_view user_id, bool disabled);

  // Changes the account's display name: InvalidArgument as NormalizeDisplayName says, NotFound
  // for an unknown id. Returns the account as it is now.
  Result<User> SetDisplayName(std::string_view user_id, std::string_view name);

  // Changes the account's address to `email`, confirmed at `confirmed_micros` (users/
  // email_change.h): InvalidArgument for a malformed address, AlreadyExists when another account
  // has it (ignoring case), NotFound for an unknown id. Returns the account as it is now.
  Result<User> SetEmail(std::string_view user_id, std::string_view email, int64_t confirmed_micros);

  // Keeps `address` with the account (all fields empty: forgets it). InvalidArgument naming the
  // field and what to write (the checks of an order's customer: commerce::ValidateCustomer),
  // NotFound for an unknown id. Returns the account as it is now.
  Result<User> SetAddress(std::string_view user_id, const PostalAddress& address);

  // Records the customer's marketing consent (given now, or withdrawn). NotFound for an unknown
  // id. Returns the account as it is now.
  Result<User> SetMarketingConsent(std::string_view user_id, bool consent);
  // Records the consent to having visits recorded under the account's id, the same way.
  Result<User> SetVisitsConsent(std::string_view user_id, bool consent);

  // Deletes the account (its row, its failed sign-ins and its sessions on this site) and returns
  // it as it was. NotFound for an unknown id. (The rest of the erasure is the caller's:
  // main_site/users_service.h.)
  Result<User> Erase(std::string_view user_id);

  // Replaces the account's password (users/password_reset.h): InvalidArgument when the policy
  // refuses it (the message says what to do), NotFound for an unknown id, Unavailable when too
  // many hashes wait. The address's failed sign-ins are forgotten and every session of the
  // account on this site ends.
  Result<User> SetPassword(std::string_view user_id, std::string_view password);

 private:
  class Impl;
  explicit UserStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tieup::users
