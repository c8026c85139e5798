#include "partner_site/ops_metrics.h"

#include "commerce/mail.h"
#include "partner_site/partner_daemon.h"
#include "site/site_metrics.h"

namespace tieup {

Status AttachPartnerOpsMetrics(PartnerDaemon& daemon) {
  if (daemon.further_main()) return Status::Ok();
  SiteMetrics& metrics = daemon.site().metrics();
  auto mail =
      std::make_shared<commerce::MailOutbox>(daemon.env(), daemon.site().site_dir() + "/mail");
  RETURN_IF_ERROR(AddSiteOpsBasics(metrics, daemon.env(), daemon.db(), daemon.site().ledger(),
                                   [mail]() -> Result<size_t> {
                                     ASSIGN_OR_RETURN(auto pending, mail->Pending());
                                     return pending.size();
                                   }));

  prometheus::Gauge* version =
      &metrics
           .AddGaugeFamily("tieup_tieup_version", "The version of main's release served (0: none)")
           .Add({});
  prometheus::Gauge* quarantined =
      &metrics
           .AddGaugeFamily("tieup_tieup_quarantined",
                           "1 while the tie-up pages are stopped after a fault (tieup partner "
                           "status says why)")
           .Add({});
  SiteContent& content = daemon.site().content();
  metrics.AddRefresh([&content, version, quarantined] {
    auto view = content.view();
    version->Set(view ? static_cast<double>(view->version(content::Area::kTieup)) : 0);
    quarantined->Set(content.tieup_notices().quarantined() ? 1 : 0);
  });
  Env& env = daemon.env();
  daemon.AddPeriodicTask("ops-liveness", [&metrics, &env] { metrics.Beat(env.NowMicros()); });
  return Status::Ok();
}

}  // namespace tieup
