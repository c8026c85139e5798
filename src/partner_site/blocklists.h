// A partner's side of main's network-wide blocklist (guard/blocklist_service.h
// BlocklistKeeper; issue 17 item 6): main's signed list arrives pushed (POST /v1/blocklist on
// this site's sync port) or, in pull mode, at each poll (GET /v1/blocklist?have=N on main's);
// a push-mode site also asks once when it starts, to catch up with what main signed while it was
// down. The list is checked against main's pinned root key, kept in the site's database (it
// survives a restart) and applied to the public port before the WAF (site/waf_gate.h): a request
// it names gets the 403 page and a "blocklisted" line in logs/waf.jsonl.
#pragma once

#include "base/status.h"

namespace tieup {

class PartnerDaemon;

// Serves POST /v1/blocklist, asks main in pull mode and applies the list (an enrolled site
// only).
Status AttachPartnerBlocklist(PartnerDaemon& daemon);

}  // namespace tieup
