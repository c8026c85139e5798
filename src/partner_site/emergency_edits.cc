#include "partner_site/emergency_edits.h"

#include "partner_site/partner_daemon.h"
#include "partner_site/partner_sync.h"
#include "sync/protocol.h"
#include "sync/receiver.h"

namespace tieup {
namespace {

constexpr std::string_view kPath = "/v1/emergency-edits";

}  // namespace

Result<size_t> ReportEmergencyEdits(SiteContent& content, MainClient& main) {
  size_t sent = 0;
  while (true) {
    // One change at a time, each with what is served when it is sent (an edit made meanwhile
    // is the next change).
    std::optional<sync::EmergencyEditReport> report;
    RETURN_IF_ERROR(content.Read([&](content::ContentStore& store) -> Status {
      const std::vector<content::OverlayChange> changes = store.UnreportedOverlayChanges();
      if (changes.empty()) return Status::Ok();
      const content::OverlayChange& c = changes.front();
      sync::ServedTieup served = sync::DescribeServedTieup(store);
      report = sync::EmergencyEditReport{c.seq,
                                         c.at,
                                         c.by,
                                         c.action,
                                         c.path,
                                         c.old_hash,
                                         c.new_hash,
                                         c.reason,
                                         served.version,
                                         std::move(served.active_hash),
                                         std::move(served.overlay)};
      return Status::Ok();
    }));
    if (!report) return sent;
    RETURN_IF_ERROR(main.Call(kPath, sync::EncodeEmergencyEditReport(*report)).status());
    RETURN_IF_ERROR(content.Mutate([&](content::ContentStore& store) {
      return store.MarkOverlayChangesReported(report->seq);
    }));
    ++sent;
  }
}

Result<size_t> ReportEmergencyEditsNow(Env& env, const SiteConfig& config, SiteContent& content) {
  if (!IsEnrolled(env, content.site_dir())) return size_t{0};
  ASSIGN_OR_RETURN(std::unique_ptr<MainClient> main,
                   MainClient::Open(env, content.site_dir(), config));
  return ReportEmergencyEdits(content, *main);
}

Status AttachEmergencyEditReports(PartnerDaemon& daemon) {
  if (daemon.sync() == nullptr) return Status::Ok();  // not enrolled: nobody to tell
  ASSIGN_OR_RETURN(
      std::shared_ptr<MainClient> main,
      MainClient::Open(daemon.env(), daemon.site().site_dir(), daemon.site().config()));
  SiteContent* content = &daemon.site().content();
  auto logger = daemon.logger();
  auto last_error = std::make_shared<std::string>();
  daemon.AddPeriodicTask("emergency edit reports", [main, content, logger, last_error] {
    auto sent = ReportEmergencyEdits(*content, *main);
    if (!sent.ok()) {
      // Said once per distinct failure; sent again on the next tick.
      if (sent.status().message() != *last_error) {
        *last_error = sent.status().message();
        logger->warn("telling main about emergency edits (will retry): {}",
                     sent.status().ToString());
      }
      return;
    }
    last_error->clear();
    if (*sent > 0) logger->info("told main about {} emergency edit change(s)", *sent);
  });
  return Status::Ok();
}

}  // namespace tieup
