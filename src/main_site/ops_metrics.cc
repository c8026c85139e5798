#include "main_site/ops_metrics.h"

#include <array>

#include "commerce/mail.h"
#include "main_site/main_daemon.h"
#include "site/site_metrics.h"
#include "sync/partner_overview.h"

namespace tieup {

Status AttachMainOpsMetrics(MainDaemon& daemon) {
  SiteMetrics& metrics = daemon.site().metrics();
  auto mail =
      std::make_shared<commerce::MailOutbox>(daemon.env(), daemon.site().site_dir() + "/mail");
  RETURN_IF_ERROR(AddSiteOpsBasics(metrics, daemon.env(), daemon.db(), daemon.site().ledger(),
                                   [mail]() -> Result<size_t> {
                                     ASSIGN_OR_RETURN(auto pending, mail->Pending());
                                     return pending.size();
                                   }));

  auto& partners = metrics.AddGaugeFamily(
      "tieup_partners", "Partnerships by state, as the console's partner overview counts them");
  std::array<prometheus::Gauge*, sync::kPartnerStateCategories.size()> by_state{};
  for (size_t i = 0; i < by_state.size(); ++i) {
    by_state[i] = &partners.Add(
        {{"state", std::string(sync::PartnerStateCategoryName(sync::kPartnerStateCategories[i]))}});
  }
  Database& db = daemon.db();
  Env& env = daemon.env();
  metrics.AddRefresh([&db, &env, by_state] {
    sync::PartnerOverviewQuery query;  // one row: only the counts are wanted
    query.page_size = 1;
    query.now = env.NowSeconds();
    auto page = sync::QueryPartnerOverview(db, query);
    if (!page.ok()) return;
    for (size_t i = 0; i < by_state.size(); ++i) {
      const auto category = static_cast<size_t>(sync::kPartnerStateCategories[i]);
      by_state[i]->Set(static_cast<double>(page->counts[category]));
    }
  });
  return Status::Ok();
}

}  // namespace tieup
