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
#pragma once

#include "base/status.h"

namespace tieup {

class PartnerDaemon;

// Wires the account pages into the partner daemon (/account/ on the public port).
Status AttachUsers(PartnerDaemon& daemon);

}  // namespace tieup
