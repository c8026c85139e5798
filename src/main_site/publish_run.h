// `tieup main publish` as one function: rebuild main's own pages from the authoring directory,
// then update partners now. The command line runs it in its own process when no daemon runs
// for the site; `tieup main serve` runs it for the command line through its control socket
// (main_site/control.h). Both report with the same lines, which scripts read.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "content/builder.h"
#include "site/config.h"
#include "site/site_content.h"
#include "sync/publisher.h"

namespace tieup {

// What to publish.
struct PublishRequest {
  bool all = false;                   // every active partner
  std::vector<std::string> partners;  // these partners (ignored when `all`)
};

// Where a publish run reports. Each call is one complete line without its newline; the lines
// of `out` belong on standard output (results: scripts read them), those of `err` on standard
// error (progress). `progress` hears each partner's steps as they happen (what the err lines
// "  shop-a: ..." say, as data: the console's live table). Any may be empty (dropped). Called
// never concurrently, on the thread running RunPublish or on the publisher's workers.
struct PublishOutput {
  std::function<void(std::string_view line)> out;
  std::function<void(std::string_view line)> err;
  std::function<void(const sync::PublishProgress&)> progress;
  // False: no "  ID: step" lines on `err` (a caller that shows `progress` its own way, such as
  // the command line's progress bar on a terminal).
  bool step_lines = true;
};

// A partner's step in words, as `tieup main publish` and the console show it: "building",
// "offering version 5", "fetched 3 files (1.2 KiB), staged version 5", "activated version 5",
// "version 5 waiting for the partner manager's approval", "failed: <reason>", ...
std::string DescribePublishProgress(const sync::PublishProgress& step);

// A run's outcomes counted in words: "2 partners: 1 activated, 1 waiting for approval, 0 failed"
// (then ", 3 up to date", ", 1 rejected", ... for the other states there are).
std::string SummarizePublish(const std::vector<std::string>& outcome_states);

// Builds main's own site into `content` (activating a new release when anything changed), then,
// when `request` names partners or says all, runs `publisher.PublishNow` for them with one
// content::SourceCache shared by every build of the run. Reports on `output`:
//   out: "main: activated release N (M files)" or "main: unchanged, release N (M files)"
//   out: "No partners named: add --all or --partner ID to update partners." (none named)
//   err: "publishing to every partner..." / "publishing to N partner(s)..."
//   err: as each partner's steps happen, "  ID: " + DescribePublishProgress (not "queued"),
//        unless output.step_lines is false
//   out: one line per partner, "%-14s version %-4llu %s  update uN", "%-14s FAILED: why" or,
//        for a suspended partner named in the request, "%-14s SUSPENDED: what to do"
//   err: SummarizePublish of the outcomes
//   out: "N partner(s) failed; they are retried ..." when any failed.
// Returns the own-site build's error, Unavailable("N partner update(s) failed") when any
// partner failed, or else FailedPrecondition when a partner named was suspended. Thread-safe as far
// as SiteContent and Publisher are. `sources` (optional): a cache kept across runs by a long-lived
// caller (the daemon): a source file unchanged since the previous run is not read again
// (content::SourceCache::NewRun). Runs sharing it must not overlap.
Status RunPublish(Env& env, const SiteConfig& config, SiteContent& content,
                  sync::Publisher& publisher, const PublishRequest& request, PublishOutput& output,
                  content::SourceCache* sources = nullptr);

}  // namespace tieup
