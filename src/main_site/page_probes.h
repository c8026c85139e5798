// Main's probes of its partners' public pages (issue 17 item 3; guard/page_probe.h): for every
// partnership with the `security` option, main fetches a rotating sample of the pages the
// partner should serve (its active tie-up release, main's bytes) from the partner's public URL,
// as a visitor would (GET, no Accept-Encoding, so the body is the bytes main signed), and
// compares their SHA-256 with what it signed: every page over a pass, at
// `security.probe_pages_per_hour` pages per partner per hour.
//
// - What is right for a page: main's bytes in the release the partner reported active, or in
//   the newest one main built (an activation not yet reported); the partner's emergency edit
//   where it reported one (main granted it). Link entries (served as a redirect or a link page)
//   and the machine files under /.tieup/ are not probed. A partner serving main's area under a
//   path prefix ("http://shop.example/brand2/": site/main_areas.h) serves HTML pages with their
//   links moved under it: main moves them the same way (site/html_links.h) before comparing.
// - A page that is not right is fetched again, and the partner's state read again (a release
//   activated meanwhile), before it counts. Then: other bytes -> a critical "probe-mismatch"
//   alert (mailed to the main manager, guard/alerts.h); another status -> a warning
//   "probe-failed"; no answer -> a warning "probe-unreachable" and the partner's round stops.
// - Each partner's rotation (the last page probed, the passes) is kept in main's database
//   (guard_probes), so a restart goes on where it stopped; `tieup main probes DIR` shows it.
// - The probes' User-Agent is ledger::kProbeUserAgent: the partner's fee statement leaves them
//   out of its access counts.
//
// site.toml [variables]: security.probe_pages_per_hour (default 3600; 0: no probes),
// security.probe_interval (a round every this long; default 10s), security.probe_ca_file (a PEM
// bundle trusted besides the system's for https public URLs; for a private CA).
#pragma once

#include "base/status.h"

namespace tieup {

class MainDaemon;

Status AttachPageProbes(MainDaemon& daemon);

}  // namespace tieup
