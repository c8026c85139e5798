// The partner's users forwarding (DESIGN.md "Management on the partners' behalf", Users; the
// "user registration unit" and "user log management unit" of the glossary).
//
// The partner's public port serves /account/register and /account/login
// (users/account_pages.h). Neither keeps any account data here: a registration is forwarded
// to main's central user store (POST /v1/users/register, signed, over the sync channel:
// partner_site/main_client.h) and a sign-in is checked by main (POST /v1/users/login).
//
// When main has registered the account, the partner appends a ledger::RegistrationRecord (time,
// this partner's id, main's user id, and the area of the page the visitor came from: the
// registration form's "from" page or the POST's Referer, looked up in the served releases as
// the shop does; tie-up when unknown) to its ledger, and shows a welcome page. When main cannot
// be reached, is not enrolled, or refuses the signed request, the visitor sees "registration is
// not available right now, try again in a few minutes" (503) and nothing is recorded. Main's
// refusals (email taken, weak password, bad email) are shown with the form kept (not the
// password). Signing in shows "Signed in as NAME"; no session cookie is set.
#pragma once

#include "base/status.h"

namespace tieup {

class PartnerDaemon;

// Wires the account pages into the partner daemon (/account/ on the public port).
Status AttachUsers(PartnerDaemon& daemon);

}  // namespace tieup
