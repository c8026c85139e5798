#include "partner_site/own_content.h"

#include <memory>
#include <string>

#include "partner_site/partner_daemon.h"
#include "site/site_content.h"

namespace tieup {

content::OwnPagesOptions OwnPagesOptionsFor(const SiteConfig& config) {
  return {config.name.empty() ? config.id : config.name, config.id};
}

Status AttachOwnPages(PartnerDaemon& daemon) {
  SiteContent* content = &daemon.site().content();
  Env* env = &daemon.env();
  auto logger = daemon.logger();
  const content::OwnPagesOptions options = OwnPagesOptionsFor(daemon.site().config());
  // The active versions (tie-up, original) last rendered for; {0, 0} and `first`: not yet.
  struct Seen {
    bool first = true;
    uint64_t tieup = 0;
    uint64_t original = 0;
    std::string last_error;
  };
  auto seen = std::make_shared<Seen>();
  daemon.AddPeriodicTask("own pages", [content, env, logger, options, seen] {
    std::shared_ptr<const content::SiteView> view = content->view();
    if (view == nullptr) return;
    const uint64_t tieup = view->version(content::Area::kTieup);
    const uint64_t original = view->version(content::Area::kOriginal);
    if (!seen->first && tieup == seen->tieup && original == seen->original) return;
    content::OwnPagesResult result;
    Status s = content->Mutate([&](content::ContentStore& store) -> Status {
      ASSIGN_OR_RETURN(result, content::RenderOwnPages(*env, store, options));
      return Status::Ok();
    });
    if (!s.ok()) {
      if (s.message() != seen->last_error) {
        seen->last_error = s.message();
        logger->warn(
            "rendering your own pages in the site's layout (tried again at the next "
            "update): {}",
            s.ToString());
      }
      // Tried again when a version changes (a new layout, or the manager's fix).
      seen->first = false;
      seen->tieup = tieup;
      seen->original = original;
      return;
    }
    seen->last_error.clear();
    seen->first = false;
    seen->tieup = tieup;
    // Our own release is a change of the original version: seen as such, not rendered again.
    seen->original = result.changed ? result.version : original;
    if (result.changed) {
      logger->info(
          "rendered {} page(s) of your own in the layout of tie-up release {}: original "
          "release {} is active",
          result.pages.size(), tieup, result.version);
      for (const std::string& note : result.notes) logger->warn("{}", note);
    }
  });
  return Status::Ok();
}

}  // namespace tieup
