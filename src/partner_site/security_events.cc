#include "partner_site/security_events.h"

#include "partner_site/main_client.h"

namespace tieup {
namespace {

constexpr size_t kMaxUnsent = 500;

}  // namespace

Result<std::unique_ptr<PartnerSecurityEvents>> PartnerSecurityEvents::Open(
    Env& env, const std::string& site_dir, const SiteConfig& config, Database& db, bool enrolled,
    std::shared_ptr<Logger> logger) {
  std::unique_ptr<PartnerSecurityEvents> s(new PartnerSecurityEvents());
  s->env_ = &env;
  s->site_id_ = config.id;
  s->logger_ = std::move(logger);
  ASSIGN_OR_RETURN(s->store_, guard::AlertStore::Open(env, db));
  if (enrolled) {
    ASSIGN_OR_RETURN(s->main_, MainClient::Open(env, site_dir, config));
  }
  return s;
}

PartnerSecurityEvents::~PartnerSecurityEvents() = default;

void PartnerSecurityEvents::Report(const std::string& kind, guard::AlertSeverity severity,
                                   const std::string& message, std::vector<std::string> clients) {
  guard::SecurityEvent e;
  e.kind = kind;
  e.severity = severity;
  // Main keeps at most 2000 bytes of a sentence.
  e.message = message.size() > 1990 ? message.substr(0, 1990) + "..." : message;
  e.at = env_->NowSeconds();
  if (clients.size() > guard::kMaxEventClients) clients.resize(guard::kMaxEventClients);
  e.clients = std::move(clients);
  if (auto recorded = store_->Record(site_id_, e); !recorded.ok()) {
    logger_->error("recording a security alert: {}", recorded.status().message());
  }
  if (main_ == nullptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (unsent_.size() >= kMaxUnsent) unsent_.pop_front();
  unsent_.push_back(std::move(e));
}

void PartnerSecurityEvents::Flush() {
  if (main_ == nullptr) return;
  while (true) {
    std::vector<guard::SecurityEvent> batch;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (size_t i = 0; i < unsent_.size() && i < guard::kMaxSecurityEvents; ++i) {
        batch.push_back(unsent_[i]);
      }
    }
    if (batch.empty()) return;
    auto sent = main_->Call(guard::kSecurityEventsPath, guard::EncodeSecurityEvents(batch));
    if (!sent.ok()) {
      const bool later = sent.status().code() == StatusCode::kUnavailable ||
                         sent.status().code() == StatusCode::kDeadlineExceeded;
      if (sent.status().message() != last_error_) {
        last_error_ = sent.status().message();
        logger_->warn("telling main about {} security event(s): {}{}", batch.size(),
                      sent.status().message(), later ? " (sent again later)" : " (dropped)");
      }
      if (later) return;
      // Main refused them (a bad event, a revoked partnership): sending them again would not
      // help; they stay in this site's own store.
    } else {
      last_error_.clear();
    }
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < batch.size() && !unsent_.empty(); ++i) unsent_.pop_front();
  }
}

}  // namespace tieup
