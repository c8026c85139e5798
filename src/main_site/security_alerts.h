// Main's security alerts (guard/alerts.h; issue 17 item 5), in main's database:
//
// - from partners: POST /v1/security-events on main's sync port, signed by the partner
//   (main_site/signed_requests.h: a forged, altered or replayed report is refused); each event
//   becomes an alert about that partner and a line of main's record ("partner reports KIND:
//   ...", `tieup main events`);
// - from main itself: what main's own WAF refused (summarised at most once a minute) and surges
//   of failed sign-ins (at least kSigninSurgeAccounts different accounts failing within 5
//   minutes, as credential stuffing looks);
// - network-wide blocking by itself: an address the WAF refused at `security.auto_block_partners`
//   (default 3; 0: never) different partners within an hour is added to the blocklist for
//   `security.auto_block_for` (default 1h), by "auto: WAF at ...", with an "auto-blocked" alert;
//   an address the list names already is left alone;
// - mail: each critical alert is mailed once to the main manager (site.toml [variables]
//   security.alert_email, else shop.manager_email) through main's outbox; a critical alert that
//   is folded into an existing one is mailed again only when it raised its severity.
//
// `tieup main alerts DIR` lists them.
#pragma once

#include <memory>

#include "base/status.h"
#include "guard/alerts.h"

namespace tieup {

class MainDaemon;

// Failed sign-ins for at least this many different accounts within 5 minutes is a surge.
inline constexpr int kSigninSurgeAccounts = 20;

Status AttachSecurityAlerts(MainDaemon& daemon);

}  // namespace tieup
