#include "main_site/security_alerts.h"

#include "commerce/form.h"
#include "commerce/mail.h"
#include "guard/blocklist_service.h"
#include "main_site/blocklists.h"
#include "main_site/main_daemon.h"
#include "main_site/signed_requests.h"
#include "site/config.h"
#include "site/waf_gate.h"
#include "sync/http_api.h"
#include "sync/schedule.h"

namespace tieup {
namespace {

constexpr size_t kMaxBodyBytes = 256 << 10;

guard::SecurityEvent Event(std::string kind, guard::AlertSeverity severity, std::string message,
                           int64_t at) {
  guard::SecurityEvent e;
  e.kind = std::move(kind);
  e.severity = severity;
  e.message = std::move(message);
  e.at = at;
  return e;
}

class SecurityAlerts {
 public:
  SecurityAlerts(MainDaemon& daemon, std::unique_ptr<guard::AlertStore> store,
                 std::unique_ptr<PartnerRequestVerifier> verifier,
                 std::unique_ptr<guard::BlocklistIssuer> blocklist, int auto_block_partners,
                 int64_t auto_block_seconds)
      : auto_blocker_(auto_block_partners, 3600),
        auto_block_seconds_(auto_block_seconds),
        blocklist_(std::move(blocklist)),
        env_(daemon.env()),
        db_(daemon.db()),
        sync_(daemon.sync()),
        gate_(daemon.site().waf()),
        logger_(daemon.logger()),
        config_(daemon.site().config()),
        store_(std::move(store)),
        verifier_(std::move(verifier)),
        site_dir_(daemon.site().site_dir()),
        outbox_(daemon.env(), daemon.site().site_dir() + "/mail") {}

  Status Init() { return outbox_.Init(); }

  HttpResponse Handle(const HttpRequest& request) {
    if (request.method() != "POST") {
      return sync::ErrorResponse(
          Status::InvalidArgument(std::string(guard::kSecurityEventsPath) + " takes POST"));
    }
    if (request.body().size() > kMaxBodyBytes) {
      return sync::ErrorResponse(Status::ResourceExhausted("the report is larger than 256 KiB"));
    }
    Result<SignedPartnerRequest> proof = verifier_->Verify(request);
    if (!proof.ok()) {
      logger_->warn("refused security events from '{}': {}", request.peer_site_id(),
                    proof.status().message());
      return sync::ErrorResponse(proof.status());
    }
    auto events = guard::ParseSecurityEvents(request.body());
    if (!events.ok()) return sync::ErrorResponse(events.status());
    for (const guard::SecurityEvent& e : *events) {
      auto alert = store_->Record(proof->partner, e);
      if (!alert.ok()) return sync::ErrorResponse(alert.status());
      // Main's record too, as every partner report.
      sync::EventReport report;
      report.kind = e.kind;
      report.message = e.message;
      Status recorded = sync_.publisher().HandleReport(proof->partner, report);
      if (!recorded.ok()) return sync::ErrorResponse(recorded);
      logger_->warn("security alert from partner '{}': {} ({}): {}", proof->partner, e.kind,
                    guard::AlertSeverityName(e.severity), e.message);
      if (e.kind == "waf" && !e.clients.empty()) AutoBlock(proof->partner, e.clients);
    }
    return SyncJsonReply(200, "{\"recorded\":" + std::to_string(events->size()) + "}");
  }

  // Every tick: main's WAF summary (at most once a minute), a sign-in surge (every 10 s), and
  // the mail.
  void Tick() {
    const int64_t now = env_.NowSeconds();
    if (now >= next_waf_ && gate_ != nullptr) {
      const guard::WafSummary seen = gate_->events().Summary();
      if (seen.blocked + seen.detected + seen.failed + seen.blocklisted > 0) {
        next_waf_ = now + 60;
        const std::string message =
            "WAF: " + guard::DescribeWafSummary(gate_->events().TakeSummary(env_.NowMicros()));
        Record(Event(
            "waf",
            seen.failed > 0 ? guard::AlertSeverity::kCritical : guard::AlertSeverity::kWarning,
            message, now));
      }
    }
    if (now >= next_signins_) {
      next_signins_ = now + 10;
      CheckSignins(now);
    }
    Mail();
  }

 private:
  void Record(const guard::SecurityEvent& e) {
    auto alert = store_->Record("main", e);
    if (!alert.ok()) {
      logger_->error("recording a security alert: {}", alert.status().message());
    } else {
      logger_->warn("security alert: {} ({}): {}", e.kind, guard::AlertSeverityName(e.severity),
                    e.message);
    }
  }

  // An address the WAF refused at several partners within an hour is blocked network-wide for
  // a while (unless the blocklist names it already: a manager's entry is never replaced).
  void AutoBlock(const std::string& partner, const std::vector<std::string>& clients) {
    std::lock_guard<std::mutex> lock(auto_mu_);
    const int64_t now = env_.NowSeconds();
    for (auto& [address, partners] : auto_blocker_.Observe(partner, clients, now)) {
      auto latest = blocklist_->Latest();
      if (!latest.ok()) continue;
      if (*latest &&
          guard::BlocklistMatcher((*latest)->list).Match(address, "", "/", now) != nullptr) {
        continue;
      }
      std::string where;
      for (const std::string& p : partners) where += (where.empty() ? "" : ", ") + p;
      guard::BlockEntry e;
      e.kind = guard::BlockKind::kAddress;
      e.value = address;
      e.expires = now + auto_block_seconds_;
      e.reason =
          "tripped the WAF at " + std::to_string(partners.size()) + " partners within an hour";
      e.by = ("auto: WAF at " + where).substr(0, guard::kMaxBlockReasonBytes);
      auto added = blocklist_->Add(std::move(e));
      if (!added.ok()) {
        logger_->warn("blocking {} network-wide: {}", address, added.status().message());
        continue;
      }
      Record(Event("auto-blocked", guard::AlertSeverity::kWarning,
                   "blocked " + guard::DescribeBlockEntry(*added) +
                       " network-wide by itself (WAF at " + where +
                       "); `tieup main blocklist remove` lifts it",
                   now));
    }
  }

  void CheckSignins(int64_t now) {
    // login_failures keeps microseconds (users/user_store.cc).
    auto rows = db_.Query(
        "SELECT COUNT(*), COALESCE(SUM(failures), 0) FROM login_failures WHERE last_failure >= ?",
        {(now - 300) * 1'000'000});
    if (!rows.ok() || rows->empty()) return;  // no accounts on this site yet
    const int64_t accounts = (*rows)[0].Int(0), failures = (*rows)[0].Int(1);
    if (accounts < kSigninSurgeAccounts) return;
    Record(Event("signin-surge", guard::AlertSeverity::kCritical,
                 "failed sign-ins for " + std::to_string(accounts) + " different accounts (" +
                     std::to_string(failures) +
                     " failures) within 5 minutes: credential stuffing? `tieup main waf` shows the "
                     "addresses the WAF refused; `tieup main blocklist add` blocks a range",
                 now));
  }

  void Mail() {
    std::string to = SiteVariable(config_, "security.alert_email");
    if (to.empty()) to = SiteVariable(config_, "shop.manager_email");
    auto pending = store_->Unmailed(guard::AlertSeverity::kCritical);
    if (!pending.ok() || pending->empty()) return;
    if (to.empty()) {
      if (!told_no_address_) {
        told_no_address_ = true;
        logger_->warn(
            "critical security alerts are not mailed: set [variables] security.alert_email (or "
            "shop.manager_email) in site.toml; `tieup main alerts` lists them");
      }
      return;
    }
    std::string from = SiteVariable(config_, "shop.mail_from");
    if (from.empty()) from = "no-reply@localhost.localdomain";
    const std::string site = config_.name.empty() ? config_.id : config_.name;
    for (const guard::SecurityAlert& a : *pending) {
      commerce::MailMessage m;
      m.from = {site + " security", from};
      m.to = {{"", to}};
      m.subject = "Security alert: " + a.kind + " at " + a.site;
      m.body = "A critical security alert at " + a.site + ":\n\n" + guard::DescribeAlert(a) +
               "\n\n`tieup main alerts " + site_dir_ +
               "` lists every alert. This mail is sent once per alert; further occurrences "
               "within 10 minutes are counted in it.\n";
      auto queued = outbox_.Enqueue(std::move(m));
      if (!queued.ok()) {
        logger_->error("mailing security alert {}: {}", a.id, queued.status().message());
        return;  // the next tick tries again
      }
      (void)store_->MarkMailed(a.id);
      logger_->info("mailed security alert {} ({} at {}) to the main manager", a.id, a.kind,
                    a.site);
    }
  }

  std::mutex auto_mu_;
  guard::AutoBlocker auto_blocker_;  // guarded by auto_mu_
  const int64_t auto_block_seconds_;
  std::unique_ptr<guard::BlocklistIssuer> blocklist_;
  Env& env_;
  Database& db_;
  MainSync& sync_;
  WafGate* gate_;
  std::shared_ptr<Logger> logger_;
  const SiteConfig config_;
  std::unique_ptr<guard::AlertStore> store_;
  std::unique_ptr<PartnerRequestVerifier> verifier_;
  const std::string site_dir_;
  commerce::MailOutbox outbox_;
  int64_t next_waf_ = 0;
  int64_t next_signins_ = 0;
  bool told_no_address_ = false;
};

}  // namespace

Status AttachSecurityAlerts(MainDaemon& daemon) {
  ASSIGN_OR_RETURN(std::unique_ptr<guard::AlertStore> store,
                   guard::AlertStore::Open(daemon.env(), daemon.db()));
  ASSIGN_OR_RETURN(
      std::unique_ptr<PartnerRequestVerifier> verifier,
      PartnerRequestVerifier::Create(daemon.env(), daemon.site().site_dir(), daemon.db()));
  const SiteConfig& config = daemon.site().config();
  int64_t partners = 3, seconds = 3600;
  if (std::string v = SiteVariable(config, "security.auto_block_partners"); !v.empty()) {
    auto n = commerce::ParseDigits(v, 3);
    if (!n) {
      return Status::InvalidArgument(
          "site.toml [variables] security.auto_block_partners must be a number of partners (0: "
          "never block by itself), not '" +
          v.substr(0, 20) + "'");
    }
    partners = *n;
  }
  if (std::string v = SiteVariable(config, "security.auto_block_for"); !v.empty()) {
    auto d = sync::ParseDuration(v);
    if (!d.ok()) return d.status().Annotate("site.toml [variables] security.auto_block_for");
    seconds = *d;
  }
  ASSIGN_OR_RETURN(std::unique_ptr<guard::BlocklistIssuer> blocklist,
                   OpenBlocklistIssuer(daemon.env(), daemon.site().site_dir(), daemon.db()));
  auto alerts =
      std::make_shared<SecurityAlerts>(daemon, std::move(store), std::move(verifier),
                                       std::move(blocklist), static_cast<int>(partners), seconds);
  RETURN_IF_ERROR(alerts->Init());
  daemon.sync().AddSyncRoute(std::string(guard::kSecurityEventsPath),
                             [alerts](const HttpRequest& r) { return alerts->Handle(r); });
  daemon.AddPeriodicTask("security alerts", [alerts] { alerts->Tick(); });
  return Status::Ok();
}

}  // namespace tieup
