// Main's side of withdrawal (sync/withdrawal_service.h; DESIGN.md "Pages on a partner",
// Withdrawal): when a partnership is revoked or suspended main signs a withdrawal of the
// partner's tie-up pages, and when a suspension ends a reinstatement, and gets it to the partner:
//
// - push-mode partners: POST /v1/withdrawal on the partner's sync port, at once from the command
//   that revoked, suspended or resumed, then from the daemon on every tick until the partner has
//   it (the issuer keeps each message and retries with a growing delay);
// - pull-mode partners: GET /v1/withdrawal on main's sync port, which the partner asks on each
//   poll. A revoked partner's certificate is refused at main's handshake, so main also answers
//   GET /v1/withdrawal?partner=ID WITHOUT a certificate, for a revoked partnership only: the
//   answer is the signed withdrawal, which only says that the partnership has ended and which the
//   partner checks against the root key it pinned. It is public in the way a certificate
//   revocation list is; every other request of a revoked partner stays refused.
#pragma once

#include <memory>
#include <string>

#include "base/env.h"
#include "base/status.h"
#include "main_site/main_sync.h"
#include "site/config.h"
#include "store/database.h"
#include "sync/withdrawal_service.h"

namespace tieup {

class MainDaemon;

// The issuer of the main site at `site_dir` (its release key signs).
Result<std::unique_ptr<sync::WithdrawalIssuer>> OpenWithdrawalIssuer(Env& env,
                                                                     const std::string& site_dir,
                                                                     const SiteConfig& config,
                                                                     Database& db);

// Signs what `partner_id`'s state now calls for and, for a push-mode partner, sends it once.
// Returns a sentence for the manager: what was signed and whether the partner has it (or that
// the daemon keeps sending it). Errors only from the store.
Result<std::string> TellPartnerNow(Env& env, MainSync& sync, sync::WithdrawalIssuer& issuer,
                                   const std::string& partner_id);

// Serves /v1/withdrawal on the sync port and signs and delivers on every tick.
Status AttachWithdrawals(MainDaemon& daemon);

}  // namespace tieup
