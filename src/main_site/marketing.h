// Main's marketing on its partners' behalf, wired together (issue 19): segments
// (main_site/segments.h), campaigns (main_site/campaigns.h) and recommendations
// (users/recommendations.h, fed by main_site/recommendation_feed.h), for the command line
// (`tieup main segments|campaigns|recommendations`) and the daemon.
//
// A campaign mail's brand is the customer's site: a partnership's name, region and public URL
// (and whether its "marketing" option is enabled), or main's own name and URL for main's
// customers. Mail goes to main's outbox (SITE_DIR/mail, delivered with the shop's mail when
// shop.smtp_host is set) from [variables] users.mail_from (else shop.mail_from).
#pragma once

#include <memory>
#include <string>

#include "base/env.h"
#include "base/status.h"
#include "commerce/shop_settings.h"
#include "main_site/campaigns.h"
#include "main_site/segments.h"
#include "site/config.h"
#include "store/database.h"
#include "users/recommendations.h"

namespace tieup {

class MainDaemon;

struct MarketingServices {
  commerce::OpenedShop shop;  // main's shop: prices and stock of suggestions, orders
  std::unique_ptr<users::Recommender> recommender;
  std::unique_ptr<Segments> segments;
  std::unique_ptr<commerce::MailOutbox> outbox;
  std::shared_ptr<Campaigns> campaigns;  // last: it points into the others
};

// Opens the services on main's database `db` (which must outlive them). `site` is the layout the
// campaign mail and pages wear (main's own site; an empty PageSite: the built-in shell).
Result<std::unique_ptr<MarketingServices>> OpenMarketing(Env& env, const std::string& site_dir,
                                                         const SiteConfig& config, Database& db,
                                                         content::PageSite site = {});

// The daemon's part: the campaign links on the public port (/marketing/), a periodic task that
// feeds the recommender and one that sends the campaigns being sent at their rates.
Status AttachMarketing(MainDaemon& daemon);

}  // namespace tieup
