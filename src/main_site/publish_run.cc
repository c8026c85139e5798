#include "main_site/publish_run.h"

#include <fmt/format.h>

#include "content/builder.h"
#include "main_site/own_site.h"

namespace tieup {
namespace {

void Emit(const std::function<void(std::string_view)>& sink, const std::string& line) {
  if (sink) sink(line);
}

}  // namespace

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
  auto outcomes =
      publisher.PublishNow(request.all ? std::vector<std::string>{} : request.partners, &sources);
  int failed = 0;
  for (const sync::PublishOutcome& o : outcomes) {
    if (o.status.ok()) {
      Emit(output.out, fmt::format("{:<14} version {:<4} {}{}{}", o.partner, o.version, o.state,
                                   o.update_id.empty() ? "" : "  update ", o.update_id));
    } else {
      ++failed;
      Emit(output.out, fmt::format("{:<14} FAILED: {}", o.partner, o.status.message()));
    }
  }
  if (failed > 0) {
    Emit(output.out, fmt::format("{} partner(s) failed; they are retried under their retry "
                                 "policy while 'tieup main serve' runs.",
                                 failed));
    return Status::Unavailable(std::to_string(failed) + " partner update(s) failed");
  }
  return Status::Ok();
}

}  // namespace tieup
