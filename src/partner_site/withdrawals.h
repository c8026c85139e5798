// A partner's side of withdrawal (sync/withdrawal_service.h WithdrawalKeeper; DESIGN.md "Pages
// on a partner", Withdrawal): main's signed withdrawal or reinstatement arrives pushed (POST
// /v1/withdrawal on this site's sync port) or, in pull mode, at each poll (GET /v1/withdrawal on
// main's; when main refuses this site's certificate because it revoked the partnership, the
// same question without a certificate, which main answers for revoked partnerships only). The
// expiry of the active tie-up release is enforced on every tick: flagged past `expires` (main is
// told), withdrawn after the grace period (main is told again).
//
// While a withdrawal is in effect every tie-up path answers a notice page in the site's layout
// (site/templates/partnership_withdrawn.mustache): 410 Gone when main ended the partnership,
// 503 with Retry-After when it is suspended or the release expired. Original pages are served
// as before; the tie-up release stays on disk and is served again on reinstatement.
#pragma once

#include <memory>
#include <string>

#include "base/env.h"
#include "base/status.h"
#include "site/config.h"
#include "store/database.h"
#include "sync/withdrawal_service.h"

namespace tieup {

class PartnerDaemon;

// The keeper of the enrolled partner site at `site_dir` (main's pinned root key and root
// metadata from keys/). Sets `board`, the site's (SiteContent::tieup_notices()), which must
// outlive the keeper.
Result<std::unique_ptr<sync::WithdrawalKeeper>> OpenWithdrawalKeeper(Env& env,
                                                                     const std::string& site_dir,
                                                                     const SiteConfig& config,
                                                                     Database& db,
                                                                     sync::TieupNotices& board);

// Serves POST /v1/withdrawal from main, polls main in pull mode and enforces expiry on every
// tick (an enrolled site only).
Status AttachPartnerWithdrawals(PartnerDaemon& daemon);

}  // namespace tieup
