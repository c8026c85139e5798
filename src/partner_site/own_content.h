// The partner's own pages written in Markdown or as HTML fragments (content/markdown_page.h),
// kept in the site's layout: the daemon renders every one of them again whenever the served
// releases change (main's update brings a new layout, a rollback takes it back, the manager
// put or removed pages from another process), so that no page keeps an old layout.
#pragma once

#include "base/status.h"
#include "content/markdown_page.h"
#include "site/config.h"

namespace tieup {

class PartnerDaemon;

// The options own pages are rendered with on the site `config` describes.
content::OwnPagesOptions OwnPagesOptionsFor(const SiteConfig& config);

// Adds the periodic task: on start, and after each change of an area's active version, renders
// every own page again (a new original release only when a page's bytes change). Failures are
// logged once each and tried again at the next change.
Status AttachOwnPages(PartnerDaemon& daemon);

}  // namespace tieup
