#include "main_site/publish_run.h"

#include <cstdarg>
#include <cstdio>

#include "content/builder.h"
#include "main_site/own_site.h"

namespace tieup {
namespace {

// printf formatting, so that the lines stay byte for byte what the command line always printed.
[[gnu::format(printf, 1, 2)]] std::string Format(const char* format, ...) {
  va_list args;
  va_start(args, format);
  va_list copy;
  va_copy(copy, args);
  const int n = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  std::string line(n > 0 ? static_cast<size_t>(n) : 0, '\0');
  if (n > 0) std::vsnprintf(line.data(), line.size() + 1, format, args);
  va_end(args);
  return line;
}

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
  ASSIGN_OR_RETURN(OwnSiteBuild own, BuildOwnSite(env, config, content, &sources));
  Emit(output.out,
       Format("main: %s release %llu (%zu files)", own.changed ? "activated" : "unchanged,",
              static_cast<unsigned long long>(own.version), own.pages));
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
      Emit(output.out, Format("%-14s version %-4llu %s%s%s", o.partner.c_str(),
                              static_cast<unsigned long long>(o.version), o.state.c_str(),
                              o.update_id.empty() ? "" : "  update ", o.update_id.c_str()));
    } else {
      ++failed;
      Emit(output.out, Format("%-14s FAILED: %s", o.partner.c_str(), o.status.message().c_str()));
    }
  }
  if (failed > 0) {
    Emit(output.out, Format("%d partner(s) failed; they are retried under their retry policy "
                            "while 'tieup main serve' runs.",
                            failed));
    return Status::Unavailable(std::to_string(failed) + " partner update(s) failed");
  }
  return Status::Ok();
}

}  // namespace tieup
