#include "main_site/marketing.h"

#include <set>

#include "commerce/money.h"
#include "main_site/main_daemon.h"
#include "main_site/recommendation_feed.h"
#include "main_site/shop_service.h"
#include "main_site/users_service.h"
#include "site/public_site.h"
#include "sync/partnership_terms.h"

namespace tieup {
namespace {

constexpr int64_t kFeedEveryMicros = 60'000'000;

// The brand of `site_id`: main's own, or a partnership's as main records it (the publisher's
// table; revoked partnerships have none).
Result<CampaignBrand> CampaignBrandOf(Database& db, const SiteConfig& config,
                                      std::string_view site_id) {
  if (site_id == "main" || site_id == config.id) {
    return CampaignBrand{"main", config.name.empty() ? config.id : config.name, "",
                         IssuerOf(config), true};
  }
  ASSIGN_OR_RETURN(auto rows, db.Query("SELECT name, region, public_url FROM sync_partnerships "
                                       "WHERE id = ? AND revoked = 0",
                                       {std::string(site_id)}));
  if (rows.empty()) {
    return Status::NotFound("no partnership '" + std::string(site_id.substr(0, 64)) + "'");
  }
  CampaignBrand brand{std::string(site_id), rows[0].Text(0), rows[0].Text(1), rows[0].Text(2),
                      false};
  if (brand.name.empty()) brand.name = brand.site;
  while (brand.url.ends_with("/")) brand.url.pop_back();
  ASSIGN_OR_RETURN(brand.marketing, sync::PartnershipHasOption(db, brand.site, "marketing"));
  return brand;
}

}  // namespace

Result<std::unique_ptr<MarketingServices>> OpenMarketing(Env& env, const std::string& site_dir,
                                                         const SiteConfig& config, Database& db,
                                                         content::PageSite site) {
  auto m = std::make_unique<MarketingServices>();
  ASSIGN_OR_RETURN(m->shop, OpenMainShop(env, site_dir, config, db));
  ASSIGN_OR_RETURN(m->recommender, users::Recommender::Open(env, db));
  ASSIGN_OR_RETURN(m->segments, Segments::Open(env, db));
  m->outbox = std::make_unique<commerce::MailOutbox>(env, site_dir + "/mail");
  RETURN_IF_ERROR(m->outbox->Init());
  CampaignOptions o;
  o.main_url = IssuerOf(config);
  ASSIGN_OR_RETURN(o.from_address, AccountMailSender(config));
  o.network_name = config.name.empty() ? config.id : config.name;
  o.brand = [&db, config](std::string_view site_id) {
    return CampaignBrandOf(db, config, site_id);
  };
  commerce::Shop* shop = m->shop.shop.get();
  users::Recommender* recommender = m->recommender.get();
  o.recommend = [shop, recommender](std::string_view user_id,
                                    size_t n) -> Result<std::vector<CampaignProduct>> {
    ASSIGN_OR_RETURN(auto suggested, SuggestionsFor(*recommender, *shop, user_id, n));
    std::vector<CampaignProduct> out;
    for (users::AccountSuggestion& p : suggested) {
      out.push_back({std::move(p.title), std::move(p.price), std::move(p.href)});
    }
    return out;
  };
  if (!site.view) site.site_name = config.name.empty() ? config.id : config.name;
  o.site = std::move(site);
  ASSIGN_OR_RETURN(std::unique_ptr<Campaigns> campaigns,
                   Campaigns::Open(env, db, *m->segments, *m->outbox, std::move(o)));
  m->campaigns = std::move(campaigns);
  return m;
}

Status AttachMarketing(MainDaemon& daemon) {
  const SiteConfig& config = daemon.site().config();
  content::PageSite site;
  site.view = [content = &daemon.site().content()] { return content->view(); };
  site.area = content::Area::kOriginal;
  site.site_name = config.name.empty() ? config.id : config.name;
  site.warn = [logger = daemon.logger()](const std::string& message) {
    logger->warn("campaign pages: {}", message);
  };
  const content::PageSite pages_site = site;
  ASSIGN_OR_RETURN(
      std::shared_ptr<MarketingServices> m,
      OpenMarketing(daemon.env(), daemon.site().site_dir(), config, daemon.db(), std::move(site)));
  RETURN_IF_ERROR(daemon.site().AddPublicRoute(std::string(kCampaignLinksPrefix), "GET, HEAD, POST",
                                               MakeCampaignLinkPages(m->campaigns, pages_site)));
  // New orders and visits teach the recommender (the catalog's pages pick the result up), once a
  // minute at most: each run reads what arrived since the last one, whatever the tick.
  auto last_feed = std::make_shared<int64_t>(0);
  daemon.AddPeriodicTask("recommendations", [m, last_feed, logger = daemon.logger(), &daemon] {
    const int64_t now = daemon.env().NowMicros();
    if (*last_feed != 0 && now >= *last_feed && now - *last_feed < kFeedEveryMicros) return;
    *last_feed = now;
    auto fed = FeedRecommendations(daemon.db(), *m->recommender);
    if (!fed.ok()) {
      logger->warn("recommendations: {}", fed.status().message());
    } else if (fed->orders + fed->visits > 0) {
      logger->info("recommendations: {} order(s), {} visit(s) read; {} product(s) re-ranked",
                   fed->orders, fed->visits, fed->update.products_ranked);
    }
  });
  // Campaigns being sent go on at their rates (a campaign started from the command line too).
  daemon.AddPeriodicTask("campaigns", [m, logger = daemon.logger()] {
    auto campaigns = m->campaigns->List();
    if (!campaigns.ok()) return;
    for (const Campaign& c : *campaigns) {
      if (c.state != "sending" || c.sender != "daemon") continue;
      auto progress = m->campaigns->SendSome(c.name, 1000);
      if (!progress.ok()) {
        if (progress.status().code() != StatusCode::kUnavailable) {
          logger->warn("campaign {}: {}", c.name, progress.status().message());
        }
        continue;
      }
      if (progress->sent + progress->refused > 0 || progress->done) {
        logger->info("campaign {}: {} sent, {} refused, {} left", c.name, progress->sent,
                     progress->refused, progress->left);
      }
    }
  });
  return Status::Ok();
}

}  // namespace tieup
