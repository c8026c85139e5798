// A partner's emergency edits reported to main (DESIGN.md "Pages on a partner"; issue 15).
//
// The content store records every change of the emergency edits (content::ContentStore, its
// overlay log: edits, reverts, and edits main's update ended) until it is marked reported: that
// record is the durable queue. Each change is sent to main as a signed
// sync::EmergencyEditReport (POST /v1/emergency-edits, main_site/emergency_edits.h) carrying
// what the site serves when it is sent; once main has answered 200 the change is marked
// reported. `tieup partner page put/rm --tieup` reports at once; the daemon sends whatever is
// left on every tick (main was unreachable, or an update ended an edit).
#pragma once

#include <cstddef>
#include <string>

#include "base/status.h"
#include "partner_site/main_client.h"
#include "site/site_content.h"

namespace tieup {

class PartnerDaemon;

// Sends the unreported changes of `content`'s emergency edits to main through `main`, oldest
// first, and marks each reported as main acknowledges it. Returns how many were sent. Stops at
// the first failure and returns it (kUnavailable when main cannot be reached; main's refusal
// otherwise, e.g. kUnauthenticated): the unsent changes stay recorded for the next call.
Result<size_t> ReportEmergencyEdits(SiteContent& content, MainClient& main);

// As above, for a site that may not be enrolled: opens a client for `site_dir` when it is
// (nothing to do otherwise: returns 0).
Result<size_t> ReportEmergencyEditsNow(Env& env, const SiteConfig& config, SiteContent& content);

// Sends the daemon's unreported emergency edits on each tick (an enrolled site only).
Status AttachEmergencyEditReports(PartnerDaemon& daemon);

}  // namespace tieup
