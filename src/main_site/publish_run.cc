#include "main_site/publish_run.h"

#include <fmt/format.h>

#include <map>
#include <mutex>

#include "base/byte_count.h"
#include "content/builder.h"
#include "main_site/own_site.h"

namespace tieup {
namespace {

void Emit(const std::function<void(std::string_view)>& sink, const std::string& line) {
  if (sink) sink(line);
}

}  // namespace

std::string DescribePublishProgress(const sync::PublishProgress& step) {
  const std::string v = std::to_string(step.version);
  const std::string& s = step.stage;
  if (s == "queued" || s == "building") return s;
  if (s == "offering") return "offering version " + v;
  if (s == "fetching") {
    return fmt::format("sent {} file{} ({}) of version {} so far", step.fetched_blobs,
                       step.fetched_blobs == 1 ? "" : "s", FormatByteSize(step.fetched_bytes), v);
  }
  if (s == "staged") {
    return fmt::format("fetched {} file{} ({}), staged version {}", step.fetched_blobs,
                       step.fetched_blobs == 1 ? "" : "s", FormatByteSize(step.fetched_bytes), v);
  }
  if (s == "activated") return "activated version " + v;
  if (s == "already_active") return "version " + v + " was already active";
  if (s == "pending_approval")
    return "version " + v + " waiting for the partner manager's approval";
  if (s == "awaiting_approval") {
    return "version " + v + " still waiting for the partner manager's approval";
  }
  if (s == "up_to_date") return "up to date at version " + v;
  if (s == "pull") return "version " + v + " ready: the partner gets it at its next poll (pull)";
  if (s == "rejected") {
    return "version " + v + " was rejected by the partner manager: not offered again";
  }
  if (s == "failed") return "failed: " + (step.reason.empty() ? "unknown error" : step.reason);
  if (s == "elsewhere") {
    return "another main process is publishing it now (sharing the store); 'tieup main status' "
           "shows the outcome";
  }
  return step.reason.empty() ? s : s + ": " + step.reason;
}

std::string SummarizePublish(const std::vector<std::string>& states) {
  int activated = 0, waiting = 0, failed = 0;
  std::map<std::string, int> others;
  for (const std::string& s : states) {
    if (s == "activated" || s == "already_active") {
      ++activated;
    } else if (s == "pending_approval" || s == "awaiting_approval") {
      ++waiting;
    } else if (s == "failed") {
      ++failed;
    } else if (s == "up_to_date") {
      ++others["up to date"];
    } else if (s == "pull") {
      ++others["left for the partner's next poll"];
    } else if (s == "elsewhere") {
      ++others["published by another main process"];
    } else {
      ++others[s];
    }
  }
  std::string text =
      fmt::format("{} partner{}: {} activated, {} waiting for approval, {} failed", states.size(),
                  states.size() == 1 ? "" : "s", activated, waiting, failed);
  for (const auto& [what, n] : others) text += fmt::format(", {} {}", n, what);
  return text;
}

Status RunPublish(Env& env, const SiteConfig& config, SiteContent& content,
                  sync::Publisher& publisher, const PublishRequest& request, PublishOutput& output,
                  content::SourceCache* kept_sources) {
  // Main's own pages first: one authoring directory feeds main and every partner.
  content::SourceCache run_sources;  // main's own build and every partner's read each file once
  content::SourceCache& sources = kept_sources != nullptr ? *kept_sources : run_sources;
  if (kept_sources != nullptr) kept_sources->NewRun();
  ASSIGN_OR_RETURN(auto products, publisher.ReadProducts());
  ASSIGN_OR_RETURN(OwnSiteBuild own, BuildOwnSite(env, config, content, products, &sources));
  Emit(output.out, fmt::format("main: {} release {} ({} files)",
                               own.changed ? "activated" : "unchanged,", own.version, own.pages));
  if (!request.all && request.partners.empty()) {
    Emit(output.out, "No partners named: add --all or --partner ID to update partners.");
    return Status::Ok();
  }
  Emit(output.err, "publishing to " +
                       (request.all ? std::string("every partner")
                                    : std::to_string(request.partners.size()) + " partner(s)") +
                       "...");
  // The publisher's workers report at once; the output hears one at a time.
  std::mutex progress_mu;
  auto progress = [&](const sync::PublishProgress& step) {
    std::lock_guard<std::mutex> lock(progress_mu);
    if (output.progress) output.progress(step);
    // Each batch fetched would be a line: the progress meter shows them as a count.
    if (output.step_lines && step.stage != "queued" && step.stage != "fetching")
      Emit(output.err, "  " + step.partner + ": " + DescribePublishProgress(step));
  };
  auto outcomes = publisher.PublishNow(request.all ? std::vector<std::string>{} : request.partners,
                                       &sources, sync::Publisher::Trigger::kManager, progress);
  std::vector<std::string> states;
  int failed = 0, suspended = 0;
  for (const sync::PublishOutcome& o : outcomes) {
    states.push_back(o.state);
    if (o.status.ok()) {
      Emit(output.out, fmt::format("{:<14} version {:<4} {}{}{}", o.partner, o.version, o.state,
                                   o.update_id.empty() ? "" : "  update ", o.update_id));
    } else if (o.state == "suspended") {
      // Not a failure to retry: nothing is sent until the main manager resumes it.
      ++suspended;
      Emit(output.out, fmt::format("{:<14} SUSPENDED: {}", o.partner, o.status.message()));
    } else {
      ++failed;
      Emit(output.out, fmt::format("{:<14} FAILED: {}", o.partner, o.status.message()));
    }
  }
  Emit(output.err, SummarizePublish(states));
  if (failed > 0) {
    Emit(output.out, fmt::format("{} partner(s) failed; they are retried under their retry "
                                 "policy while 'tieup main serve' runs.",
                                 failed));
    return Status::Unavailable(std::to_string(failed) + " partner update(s) failed");
  }
  if (suspended > 0) {
    return Status::FailedPrecondition(std::to_string(suspended) +
                                      " partner(s) named are suspended: nothing was sent to them");
  }
  return Status::Ok();
}

}  // namespace tieup
