// One-time enrollment tokens (DESIGN.md "Trust", Enrollment): the main manager adds a
// partnership and gets a token; the partner presents it once, with its partner id, when it asks
// for its certificate. A token is 32 random bytes in base64url (43 characters), bound to one
// partner id, with a short expiry, and usable once.
//
// Only the token's SHA-256 is stored (a token has 256 bits of entropy, so a fast hash is
// enough), beside the partner id, the expiry and whether it was used. Each partner has at most
// one live token: issuing a new one replaces the old.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/status.h"

namespace tieup {

// What is stored about one token.
struct EnrollmentTokenRecord {
  std::string partner_id;
  std::string token_sha256;  // lower-case hex SHA-256 of the token text
  int64_t issued_at = 0;     // seconds since the Unix epoch
  int64_t expires_at = 0;    // the token is refused from this second on
  bool used = false;
  int64_t used_at = 0;  // when used
};

// Where token records live. Implementations must be thread-safe. The integrator may move this to
// SQLite; the two here are an in-memory store (tests) and a JSON file.
class TokenStore {
 public:
  virtual ~TokenStore() = default;
  // Stores `record`, replacing any record of the same partner.
  virtual Status Put(const EnrollmentTokenRecord& record) = 0;
  // The partner's record; kNotFound when there is none.
  virtual Result<EnrollmentTokenRecord> Get(std::string_view partner_id) = 0;
  // Every record, sorted by partner id.
  virtual Result<std::vector<EnrollmentTokenRecord>> List() = 0;
  // Atomically: if the partner's record has hash `token_sha256` (compared in constant time) and
  // is unused, marks it used at `used_at` and returns true; otherwise changes nothing and
  // returns false. This is what makes a token single-use under concurrent redemptions.
  virtual Result<bool> MarkUsed(std::string_view partner_id, std::string_view token_sha256,
                                int64_t used_at) = 0;
  // Removes the partner's record; OK when there is none.
  virtual Status Remove(std::string_view partner_id) = 0;
};

// A TokenStore in memory.
std::unique_ptr<TokenStore> NewMemoryTokenStore();

// A TokenStore in a JSON file at `path` (mode 0600), rewritten atomically (WriteFileAtomic) on
// each change. Serialises access within this process; one process owns the file (the site
// directory is locked by the daemon). `env` must outlive the store.
std::unique_ptr<TokenStore> NewFileTokenStore(Env& env, std::string path);

// SITE_DIR/keys/tokens.json.
std::string TokenFilePath(std::string_view site_dir);

// Issues and redeems tokens. Thread-safe when the store is. `env` (clock, randomness) and
// `store` must outlive it.
class EnrollmentTokens {
 public:
  EnrollmentTokens(Env& env, TokenStore& store) : env_(env), store_(store) {}

  // A fresh token for `partner_id`, valid for `ttl_seconds` from now; replaces any earlier token
  // of that partner. The returned text is shown to the main manager once and never stored.
  Result<std::string> IssueToken(std::string_view partner_id, int64_t ttl_seconds);

  // Accepts `token` once, for the partner it was issued to. kUnauthenticated, with a message
  // that says what to do, when the token is unknown, was issued for another partner, has
  // expired or was already used; kInvalidArgument when it is malformed.
  Status RedeemToken(std::string_view token, std::string_view claimed_partner_id);
  // The checks of RedeemToken, with the same errors, without using the token up: for a request
  // that must prove it holds a valid token before anything else is said to it.
  Status CheckToken(std::string_view token, std::string_view claimed_partner_id);

 private:
  // CheckToken's work; the token's SHA-256 (hex) when it may be redeemed.
  Result<std::string> CheckTokenHash(std::string_view token, std::string_view claimed_partner_id);

  Env& env_;
  TokenStore& store_;
};

}  // namespace tieup
