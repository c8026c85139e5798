// Partner copies of customer data by contract (issue 16 item 5; DESIGN.md "Management on the
// partners' behalf", Users). The partnership names the fields a partner may keep (sync/
// partnership_terms.h: name, email, address, marketing_consent) and for which customers; main
// sends each partner its copies (main_site/customer_copies.h) and keeps them current: a change
// of a copied field is sent again, an account that leaves the contract is dropped, an erased
// account is erased. Fields outside the contract never leave main: every copy in a message holds
// exactly the message's fields.
//
// The message is signed like a withdrawal (sync/withdrawal.h): a DSSE envelope of payload type
// kCustomerCopyPayloadType by a release key that main's root certifies, so the partner checks it
// against the root it pinned at enrollment, not only the channel. Its number grows with every
// message main signs for that partner; the partner accepts only a number above the last it
// accepted (a replay changes nothing).
//
// Payload (canonical JSON, keys sorted):
//   {"_type":"customer_copy","drop":["usr_..."],
//    "erase":[{"email_sha256":"<hex>","user_id":"usr_..."}],
//    "fields":["email","name"],"issued":<unix s>,"partner":"shop-b","seq":N,
//    "upsert":[{"email":"...","name":"...","user_id":"usr_..."}]}
// A copy's "address" is an object (line1, line2, postal_code, city, country, phone, name) or null
// when the account keeps none; "marketing_consent" a boolean. An erasure names the account and
// the SHA-256 of its lower-cased e-mail address (EmailSha256), with which the partner finds its
// own orders from that customer and removes their personal fields, without main sending the
// address to a partner whose contract does not include it.
//
// The partner's side, CustomerCopyKeeper, keeps the copies in its database (table
// customer_copies) and applies a message in one transaction. Thread-safe; pure functions too.
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
#include "crypto/ed25519.h"
#include "store/database.h"
#include "users/user_store.h"

namespace tieup::users {

inline constexpr std::string_view kCustomerCopyPayloadType =
    "application/vnd.tieup.customer-copy+json";
// The partner's sync endpoint that takes a signed message (POST, the envelope as the body).
inline constexpr std::string_view kCustomerCopyPath = "/v1/users/copies";
// At most this many entries (upserts, drops and erasures together) in one message.
inline constexpr size_t kMaxCopyEntries = 500;
// A message's envelope is at most this long.
inline constexpr size_t kMaxCopyMessageBytes = 2 * 1024 * 1024;

// One customer's copy: the id, and each contracted field (unset: not in the contract).
struct CustomerCopy {
  std::string user_id;
  std::optional<std::string> name;
  std::optional<std::string> email;
  std::optional<PostalAddress> address;  // set and empty(): the account keeps none
  std::optional<bool> marketing_consent;

  friend bool operator==(const CustomerCopy&, const CustomerCopy&) = default;
};

// The copy of `user` that `fields` (kCustomerCopyFields names) allow.
CustomerCopy CopyOf(const User& user, const std::vector<std::string>& fields);

// An erased account.
struct CopyErasure {
  std::string user_id;
  std::string email_sha256;  // EmailSha256 of its address

  friend bool operator==(const CopyErasure&, const CopyErasure&) = default;
};

struct CustomerCopyMessage {
  std::string partner;
  uint64_t seq = 0;                 // from 1, grows with every message for the partner
  int64_t issued = 0;               // unix seconds, main's clock
  std::vector<std::string> fields;  // the contract's fields (sorted); every upsert holds these
  std::vector<CustomerCopy> upsert;
  std::vector<std::string> drop;  // no longer in the contract: the copy goes, nothing else
  std::vector<CopyErasure> erase;

  friend bool operator==(const CustomerCopyMessage&, const CustomerCopyMessage&) = default;
};

// Lower-case hex SHA-256 of `email` with ASCII letters lower-cased.
std::string EmailSha256(std::string_view email);

// The canonical payload; one copy's canonical JSON (what main's record of a sent copy hashes).
std::string EncodeCustomerCopyMessage(const CustomerCopyMessage& message);
std::string EncodeCustomerCopy(const CustomerCopy& copy);
// Parses a payload strictly: unknown, missing or mistyped keys, a field name outside the
// contract's list, a copy holding another set of fields than `fields`, seq 0, an empty partner,
// more than kMaxCopyEntries entries, a malformed user id or hash: InvalidArgument naming it.
Result<CustomerCopyMessage> ParseCustomerCopyMessage(std::string_view payload);

// The envelope JSON of `message` signed by `release_key`.
std::string SignCustomerCopyMessage(const Ed25519PrivateKey& release_key,
                                    const CustomerCopyMessage& message);

// Checks an envelope as sync::VerifyWithdrawal does (pinned root, a certified release key,
// kUnauthenticated otherwise), then the payload: for `expected_partner` (PermissionDenied),
// seq above `last_seq` (FailedPrecondition: a replay), issued at most a day after `now`.
Result<CustomerCopyMessage> VerifyCustomerCopyMessage(const Ed25519PublicKey& pinned_root,
                                                      std::string_view root_envelope_json,
                                                      std::string_view envelope_json,
                                                      std::string_view expected_partner,
                                                      uint64_t last_seq, int64_t now);

// The partner's copies.
class CustomerCopyKeeper {
 public:
  struct Options {
    std::string site_id;  // this partner's id
    Ed25519PublicKey pinned_root;
    std::string root_envelope;  // main's root metadata (keys/root.json)
    // Removes the personal fields of this site's own orders from the customer with this
    // EmailSha256 (commerce::Shop::EraseCustomerWithEmailSha256); returns how many. Null: none.
    std::function<Result<int64_t>(const std::string& email_sha256)> erase_orders;
  };
  // Migrates the schema component "customer_copies" in `db` (which must outlive the keeper).
  static Result<std::unique_ptr<CustomerCopyKeeper>> Open(Env& env, Database& db, Options options);
  ~CustomerCopyKeeper();

  struct Applied {
    uint64_t seq = 0;
    size_t upserted = 0, dropped = 0, erased = 0;
    int64_t orders_erased = 0;
  };
  // Verifies `envelope` (VerifyCustomerCopyMessage against the last accepted number) and applies
  // it: the erasures' orders first (repeating them is harmless), then, in one transaction, the
  // copies and the message's number. Nothing changes when it is refused.
  Result<Applied> Accept(std::string_view envelope);

  // The copies, by user id; one copy (nullopt when none).
  Result<std::vector<CustomerCopy>> List();
  Result<std::optional<CustomerCopy>> Get(std::string_view user_id);
  // The fields of the last message (the contract as main last sent it) and its number.
  Result<std::pair<std::vector<std::string>, uint64_t>> Contract();

 private:
  class Impl;
  explicit CustomerCopyKeeper(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tieup::users
