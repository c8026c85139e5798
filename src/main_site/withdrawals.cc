#include "main_site/withdrawals.h"

#include <cctype>

#include "main_site/main_daemon.h"
#include "sync/http_api.h"

namespace tieup {
namespace {

// Sends one signed message to the partner's sync port.
Status Push(MainSync& sync, const std::string& partner, const std::string& envelope) {
  // A message of a few hundred bytes: 30 s, not the 10 minutes a release offer may take (this
  // runs on the daemon's shared background thread).
  ASSIGN_OR_RETURN(sync::HttpRoundTrip trip,
                   sync.ConnectToPartner(partner, std::chrono::seconds(30)));
  HttpRequest req("POST", sync::kWithdrawalPath);
  req.AddHeader("Content-Type", "application/json");
  req.SetBody(envelope);
  ASSIGN_OR_RETURN(HttpResponse r, trip(req));
  return sync::StatusFromResponse(r);
}

HttpResponse EnvelopeResponse(const std::string& envelope) {
  HttpResponse r(200);
  r.AddHeader("Content-Type", "application/json");
  r.AddHeader("Cache-Control", "no-store");
  r.SetBody(envelope);
  return r;
}

bool ValidPartnerId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
      return false;
    }
  }
  return true;
}

// GET /v1/withdrawal: the newest message for the authenticated partner; without a certificate,
// ?partner=ID, and only the withdrawal of a revoked partnership.
HttpResponse Serve(MainSync& sync, sync::WithdrawalIssuer& issuer, const HttpRequest& request) {
  if (request.method() != "GET") {
    return sync::ErrorResponse(
        Status::InvalidArgument("use GET for " + std::string(sync::kWithdrawalPath)));
  }
  const bool anonymous = request.peer_site_id().empty();
  std::string id(request.peer_site_id());
  // The same answer for an unknown or malformed id as for a partnership that is not revoked: an
  // anonymous caller learns nothing about which partnerships exist.
  const Status none = Status::NotFound(
      "main has no withdrawal for that partner (without a certificate, only for an ended "
      "partnership: GET /v1/withdrawal?partner=ID)");
  if (anonymous) {
    constexpr std::string_view kParam = "partner=";
    std::string_view q = request.query();
    id = q.substr(0, kParam.size()) == kParam ? std::string(q.substr(kParam.size())) : "";
    if (!ValidPartnerId(id)) return sync::ErrorResponse(none);
  }
  auto p = sync.publisher().GetPartnership(id);
  if (!p.ok()) return sync::ErrorResponse(none);
  if (anonymous && !p->revoked) return sync::ErrorResponse(none);
  // What is signed already: the daemon reconciles every tick and the command line at once, so a
  // caller (anonymous, too) never makes main sign anything.
  auto latest = issuer.Latest(id);
  if (!latest.ok()) return sync::ErrorResponse(latest.status());
  if (!*latest) return sync::ErrorResponse(none);
  if (anonymous && (*latest)->withdrawal.reason != sync::WithdrawalReason::kRevoked) {
    return sync::ErrorResponse(none);
  }
  if (!anonymous) {
    (void)issuer.MarkDelivered(id, (*latest)->withdrawal.seq, "fetched by the partner (pull)");
  }
  return EnvelopeResponse((*latest)->envelope);
}

}  // namespace

Result<std::unique_ptr<sync::WithdrawalIssuer>> OpenWithdrawalIssuer(Env& env,
                                                                     const std::string& site_dir,
                                                                     const SiteConfig& config,
                                                                     Database& db) {
  ASSIGN_OR_RETURN(Ed25519PrivateKey key, LoadPrivateKey(env, site_dir + "/keys/release.key"));
  return sync::WithdrawalIssuer::Open(env, db, std::move(key),
                                      config.name.empty() ? config.id : config.name);
}

Result<std::string> TellPartnerNow(Env& env, MainSync& sync, sync::WithdrawalIssuer& issuer,
                                   const std::string& partner_id) {
  ASSIGN_OR_RETURN(sync::Partnership p, sync.publisher().GetPartnership(partner_id));
  ASSIGN_OR_RETURN(std::optional<sync::IssuedWithdrawal> before, issuer.Latest(partner_id));
  const bool was_withdrawn =
      before && before->withdrawal.action == sync::WithdrawalAction::kWithdraw;
  ASSIGN_OR_RETURN(std::optional<sync::IssuedWithdrawal> issued, issuer.Reconcile(p));
  if (!issued) return std::string();
  const sync::Withdrawal& w = issued->withdrawal;
  std::string what = "Signed the partnership's terms for it (expiry grace)";
  if (w.action == sync::WithdrawalAction::kWithdraw) {
    what = "Signed a withdrawal of its tie-up pages (" +
           std::string(sync::WithdrawalReasonName(w.reason)) + ")";
  } else if (was_withdrawn) {
    what = "Signed a reinstatement of its tie-up pages";
  }
  if (p.sync_url.empty()) {
    return what + ": the partner gets it at its next poll (pull mode).";
  }
  Status failed;
  issuer.DeliverDue({p}, env.NowSeconds(), [&](const std::string& id, const std::string& e) {
    failed = Push(sync, id, e);
    return failed;
  });
  if (failed.ok()) return what + ": the partner has it.";
  return what + ", but the partner could not be told now (" + failed.message() +
         "): the running main daemon sends it again until the partner has it.";
}

Status AttachWithdrawals(MainDaemon& daemon) {
  ASSIGN_OR_RETURN(std::shared_ptr<sync::WithdrawalIssuer> issuer,
                   OpenWithdrawalIssuer(daemon.env(), daemon.site().site_dir(),
                                        daemon.site().config(), daemon.db()));
  MainSync* sync = &daemon.sync();
  auto serve = [sync, issuer](const HttpRequest& r) { return Serve(*sync, *issuer, r); };
  sync->AddSyncRoute(std::string(sync::kWithdrawalPath), serve);
  sync->AddAnonymousSyncRoute(std::string(sync::kWithdrawalPath), serve);
  Env* env = &daemon.env();
  auto logger = daemon.logger();
  auto next = std::make_shared<int64_t>(0);
  daemon.AddPeriodicTask("withdrawals", [sync, issuer, env, logger, next] {
    // A revocation or suspension may come from another process (the console, the command
    // line): what each partnership's state calls for is signed here too.
    const int64_t now = env->NowSeconds();
    if (now < *next) return;
    *next = now + 5;
    auto list = sync->publisher().ListPartnerships();
    auto known = issuer->PartnersWithMessages();
    if (!list.ok() || !known.ok()) return;
    // Only where there is something to say: two queries per partner every 5 s would weigh on a
    // main site with 10,000 partners.
    std::vector<sync::Partnership> concerned;
    for (const sync::Partnership& p : *list) {
      if (p.revoked || p.suspended || known->count(p.id) != 0) concerned.push_back(p);
    }
    for (const sync::Partnership& p : concerned) {
      auto issued = issuer->Reconcile(p);
      if (!issued.ok()) {
        logger->warn("signing the withdrawal for '{}': {}", p.id, issued.status().message());
      } else if (*issued) {
        logger->info("partner '{}': {}", p.id, (*issued)->withdrawal.message);
      }
    }
    size_t sent = issuer->DeliverDue(concerned, now,
                                     [sync](const std::string& id, const std::string& envelope) {
                                       return Push(*sync, id, envelope);
                                     });
    if (sent > 0) logger->info("delivered {} withdrawal message(s) to partners", sent);
  });
  return Status::Ok();
}

}  // namespace tieup
