// WithdrawnPages: what a partner's public port answers on its tie-up area while main's tie-up
// pages are withdrawn (sync/withdrawal_service.h; DESIGN.md "Pages on a partner", Withdrawal).
// Every response of the tie-up area (pages, links to main, 404s and 503s counted as tie-up)
// becomes a neutral notice, template "partnership_withdrawn" (site/templates/), in the partner's
// OWN layout (its original area's page shell, or the built-in one): never main's brand.
//   - revoked: 410 Gone ("the partnership with MAIN has ended");
//   - suspended: 503 with Retry-After: 3600 ("... is suspended for now");
//   - expired (the partner withdrew a release past its grace period): 503 with Retry-After:
//     3600.
// Original pages are answered as before. Thread-safe.
#pragma once

#include <memory>
#include <string>

#include "content/page_templates.h"
#include "net/http_message.h"
#include "site/site_content.h"
#include "sync/tieup_notices.h"

namespace tieup {

class WithdrawnPages {
 public:
  // `content` must outlive the object; the board read is its tieup_notices().
  WithdrawnPages(SiteContent& content, std::string site_name);

  // Replaces `response` by the notice when it is a tie-up response and a withdrawal (or the
  // partner's own stop, TieupNotices::quarantined) is in effect; leaves it alone otherwise
  // (cheap: atomic loads).
  void Apply(HttpResponse& response) const;

 private:
  const sync::TieupNotices* notices_;
  std::string site_name_;
  content::PageTemplates templates_;
};

}  // namespace tieup
