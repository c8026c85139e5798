// The partner's users forwarding (DESIGN.md "Management on the partners' behalf", Users; the
// "user registration unit" and "user log management unit" of the glossary).
//
// The partner keeps no account and never sees a password: its /account/login and
// /account/register (users/account_pages.h) send the customer to main's sign-in and registration
// pages (single sign-on, users/sso_client.h; its credentials asked of main over the sync
// channel: partner_site/main_client.h), and /account/callback starts this site's session from
// main's ID token. Main's POST /v1/users/logout on the sync port ends a customer's sessions here
// (signed out everywhere).
//
// When main's ID token says the account was registered through this site (its first sign-in
// here: "tieup_new_account"), the partner appends a ledger::RegistrationRecord (time, this
// partner's id, main's user id, and the area of the page the customer came from, looked up in
// the served releases as the shop does; tie-up when unknown) to its ledger. When main cannot be
// reached or this site is not enrolled, the customer sees "not available right now, try again
// in a few minutes" (503).
//
// Customer copies by contract (users/customer_copy.h): main's signed POST /v1/users/copies on the
// sync port is checked against the root pinned at enrollment and applied to the table
// customer_copies; an erasure also removes the personal fields of this site's own orders from
// that customer (found by the hash of the address). A signed-in customer whose copy holds an
// address, a name or an e-mail address finds the checkout form filled in with them.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/env.h"
#include "base/status.h"
#include "net/http_message.h"
#include "site/config.h"
#include "store/database.h"
#include "users/customer_copy.h"

namespace tieup {

namespace commerce {
struct Customer;
}
class PartnerDaemon;

// The partner's copies in `db` (which must outlive them). Checking messages needs an enrolled
// site (main's pinned root); without one the copies can still be read (the command line).
Result<std::unique_ptr<users::CustomerCopyKeeper>> OpenCustomerCopies(Env& env,
                                                                      const std::string& site_dir,
                                                                      const SiteConfig& config,
                                                                      Database& db);

// What pre-fills this site's checkout for a signed-in customer: their copy's fields (see above),
// nullopt without a session or a copy.
Result<std::function<std::optional<commerce::Customer>(const HttpRequest&)>> PartnerKnownCustomer(
    Env& env, const std::string& site_dir, const SiteConfig& config, Database& db);

// Wires the account pages into the partner daemon (/account/ on the public port).
Status AttachUsers(PartnerDaemon& daemon);

}  // namespace tieup
