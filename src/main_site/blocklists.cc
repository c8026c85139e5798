#include "main_site/blocklists.h"

#include "commerce/form.h"
#include "main_site/main_daemon.h"
#include "site/waf_gate.h"
#include "sync/http_api.h"
#include "sync/partnership_terms.h"

namespace tieup {
namespace {

// Sends the signed list to a push-mode partner's sync port.
Status Push(MainSync& sync, const std::string& partner, const std::string& envelope) {
  // At most a few hundred KiB: 30 s (this runs on the daemon's shared background thread).
  ASSIGN_OR_RETURN(sync::HttpRoundTrip trip,
                   sync.ConnectToPartner(partner, std::chrono::seconds(30)));
  HttpRequest req("POST", std::string(guard::kBlocklistSyncPath));
  req.AddHeader("Content-Type", "application/json");
  req.SetBody(envelope);
  ASSIGN_OR_RETURN(HttpResponse r, trip(req));
  return sync::StatusFromResponse(r);
}

// "have=N" -> N; "" -> 0.
Result<uint64_t> HaveSeq(std::string_view query) {
  ASSIGN_OR_RETURN(commerce::FormFields fields, commerce::ParseForm(query));
  const std::string_view have = fields.Get("have");
  if (have.empty()) return uint64_t{0};
  auto n = commerce::ParseDigits(have, 18);
  if (!n) {
    return Status::InvalidArgument(
        "ask GET /v1/blocklist?have=N, N the number of the list in effect");
  }
  return static_cast<uint64_t>(*n);
}

HttpResponse Serve(Database& db, guard::BlocklistIssuer& issuer, const HttpRequest& request) {
  if (request.method() != "GET") {
    return sync::ErrorResponse(
        Status::InvalidArgument("use GET for " + std::string(guard::kBlocklistSyncPath)));
  }
  auto have = HaveSeq(request.query());
  if (!have.ok()) return sync::ErrorResponse(have.status());
  const std::string id(request.peer_site_id());
  auto security = sync::PartnershipHasOption(db, id, "security");
  if (!security.ok()) return sync::ErrorResponse(security.status());
  if (!*security) {
    return sync::ErrorResponse(
        Status::NotFound("main's security service is not on for this partnership: no blocklist"));
  }
  // A partner that is up to date (most polls) costs one small query, not the list.
  auto seq = issuer.LatestSeq();
  if (!seq.ok()) return sync::ErrorResponse(seq.status());
  if (*seq <= *have) {
    if (*have > 0) (void)issuer.MarkDelivered(id, *have);
    return HttpResponse(204);
  }
  auto latest = issuer.Latest();
  if (!latest.ok()) return sync::ErrorResponse(latest.status());
  if (!*latest) return HttpResponse(204);
  (void)issuer.MarkDelivered(id, (*latest)->list.seq);
  HttpResponse r(200);
  r.AddHeader("Content-Type", "application/json");
  r.AddHeader("Cache-Control", "no-store");
  r.SetBody((*latest)->envelope);
  return r;
}

}  // namespace

Result<std::unique_ptr<guard::BlocklistIssuer>> OpenBlocklistIssuer(Env& env,
                                                                    const std::string& site_dir,
                                                                    Database& db) {
  ASSIGN_OR_RETURN(Ed25519PrivateKey key, LoadPrivateKey(env, site_dir + "/keys/release.key"));
  return guard::BlocklistIssuer::Open(env, db, std::move(key));
}

Status AttachBlocklist(MainDaemon& daemon) {
  ASSIGN_OR_RETURN(std::shared_ptr<guard::BlocklistIssuer> issuer,
                   OpenBlocklistIssuer(daemon.env(), daemon.site().site_dir(), daemon.db()));
  MainSync* sync = &daemon.sync();
  Database* db = &daemon.db();
  sync->AddSyncRoute(std::string(guard::kBlocklistSyncPath),
                     [db, issuer](const HttpRequest& r) { return Serve(*db, *issuer, r); });
  WafGate* gate = daemon.site().waf();
  auto logger = daemon.logger();
  Env* env = &daemon.env();
  struct TaskState {
    int64_t next = 0;
    std::optional<guard::SignedBlocklist> latest;  // the list main's own port uses
  };
  auto state = std::make_shared<TaskState>();
  auto tick = [sync, db, issuer, gate, logger, env, state] {
    const int64_t now = env->NowSeconds();
    if (now < state->next) return;
    state->next = now + 5;
    // The command line signs in its own process: the database says whether there is a newer
    // list (its number: one small query), which is read only then.
    auto seq = issuer->LatestSeq();
    if (!seq.ok()) {
      logger->warn("reading the blocklist: {}", seq.status().message());
      return;
    }
    if (*seq == 0) return;
    if (!state->latest || state->latest->list.seq != *seq) {
      auto latest = issuer->Latest();
      if (!latest.ok() || !*latest) {
        logger->warn("reading the blocklist: {}",
                     latest.ok() ? "it is gone" : latest.status().message());
        return;
      }
      state->latest = std::move(**latest);
      if (gate != nullptr) {
        gate->SetBlocklist(std::make_shared<const guard::BlocklistMatcher>(state->latest->list));
      }
      logger->info("network blocklist number {} in effect: {} entries", state->latest->list.seq,
                   state->latest->list.entries.size());
    }
    // One query, not every partnership read (this runs every tick).
    auto with_security = sync::PushPartnersWithOption(*db, "security");
    if (!with_security.ok()) return;
    const std::vector<std::string> push(with_security->begin(), with_security->end());
    size_t sent = issuer->DeliverDue(
        *state->latest, push, now,
        [sync](const std::string& id, const std::string& e) { return Push(*sync, id, e); });
    if (sent > 0) {
      logger->info("delivered blocklist number {} to {} partner(s)", state->latest->list.seq, sent);
    }
  };
  tick();  // main's own port refuses what the list names from the start
  daemon.AddPeriodicTask("blocklist", tick);
  return Status::Ok();
}

}  // namespace tieup
