// Main's side of the partner copies of customer data (issue 16 item 5; users/customer_copy.h for
// the message and the partner's side; the contract: sync/partnership_terms.h CustomerCopyTerms).
//
// For each partnership main works out the copies its contract calls for: the contracted fields
// of every account registered through the partner (scope "registered"), and also of every
// account whose e-mail address placed an order at main through the partner (scope
// "customers"). It compares them with what it has delivered (table customer_copies_sent: the
// SHA-256 of each copy's canonical JSON, never the data) and signs a message with what differs:
// new and changed copies, accounts no longer in the contract (dropped: the contract changed,
// the fields shrank to none), and erased accounts (EraseAccount queues an erasure, table
// customer_copy_erasures, for every partner that holds a copy of the account, that the customer
// signed in to, or that it registered through). Every message has a new number, so a message
// whose answer was lost is simply followed by the next one (upserts and drops repeat harmlessly).
//
// The daemon does this in the background (AttachCustomerCopies): when an account, an order, an
// erasure or a partnership's terms changed since its last look, and again for a partner whose
// last delivery failed (after 10 s, doubling to 10 min). Partners without a sync URL (they pull)
// and revoked ones are not sent copies; their erasures wait in the table (CustomerCopyStanding
// counts them).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "store/database.h"
#include "sync/partnership_terms.h"
#include "users/customer_copy.h"
#include "users/user_store.h"

namespace tieup {

class MainDaemon;

// Makes main's tables (schema component "customer_copies_main").
Status MigrateCustomerCopies(Database& db);

// The next message for `partner` under `terms`, at most users::kMaxCopyEntries entries, with a
// fresh number (taken now, so that each attempt has its own); nullopt when the partner holds
// what the contract calls for. The tables must exist (MigrateCustomerCopies: the daemon does it
// once at start, not at every tick).
struct PlannedCopies {
  users::CustomerCopyMessage message;
  // (user id, digest) of each upsert, recorded once delivered.
  std::vector<std::pair<std::string, std::string>> digests;
};
Result<std::optional<PlannedCopies>> PlanCustomerCopies(Database& db, users::UserStore& store,
                                                        const std::string& partner,
                                                        const sync::CustomerCopyTerms& terms,
                                                        int64_t now_seconds);

// Records that the partner accepted `planned`.
Status RecordCustomerCopiesDelivered(Database& db, const PlannedCopies& planned);

// The partners that may hold data of `user`: those holding a copy, those the customer ever
// signed in to through main (users::OidcClients::KnownTo), the one it registered through (sorted;
// other clients of main's provider are not partners).
Result<std::vector<std::string>> PartnersOfCustomer(Database& db, const users::User& user);

// Queues the erasure of `user` for every partner that may hold data of it (see above). Call
// before the account and its sign-in records go (EraseAccount does).
Status QueueCopyErasures(Database& db, const users::User& user, int64_t now_seconds);

// How many copies main has delivered to `partner`, and how many changes wait.
struct CopyStanding {
  int64_t delivered = 0;
  int64_t erasures_waiting = 0;
};
Result<CopyStanding> CustomerCopyStanding(Database& db, const std::string& partner);

// The partners holding a copy of `user_id` (as delivered) and the fields their contracts let
// them keep: for the customer's data download.
Result<std::vector<std::pair<std::string, std::vector<std::string>>>> CopiesOf(
    Database& db, const std::string& user_id);

// The background delivery (see above), with `store` main's user store. Needs SITE_DIR/keys/
// release.key (the signing key); without it, no copies are sent and the daemon says so.
Status AttachCustomerCopies(MainDaemon& daemon, std::shared_ptr<users::UserStore> store);

}  // namespace tieup
