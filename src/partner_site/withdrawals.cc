#include "partner_site/withdrawals.h"

#include <deque>

#include "base/encoding.h"
#include "content/content_store.h"
#include "crypto/ed25519.h"
#include "net/http_client.h"
#include "partner_site/main_client.h"
#include "partner_site/partner_daemon.h"
#include "partner_site/partner_sync.h"
#include "site/sync_transport.h"
#include "sync/http_api.h"
#include "sync/protocol.h"
#include "trust/tls.h"

namespace tieup {
namespace {

Result<Ed25519PublicKey> PinnedRootKey(Env& env, const std::string& site_dir) {
  ASSIGN_OR_RETURN(std::string b64, env.ReadFile(site_dir + "/keys/root.pub"));
  while (!b64.empty() && (b64.back() == '\n' || b64.back() == '\r')) b64.pop_back();
  ASSIGN_OR_RETURN(std::string raw, Base64Decode(b64));
  return Ed25519PublicKey::FromBytes(raw);
}

// Main's answer to GET /v1/withdrawal without this site's certificate (main refuses the
// certificate of a revoked partner at the handshake, and this is how such a partner learns why).
Result<HttpResponse> AskWithoutCertificate(Env& env, const std::string& site_dir,
                                           const SiteConfig& config) {
  ASSIGN_OR_RETURN(SyncIdentity id, LoadSyncIdentity(env, site_dir));
  ASSIGN_OR_RETURN(SyncEndpoint main, ParseSyncUrl(config.main_sync_url));
  ASSIGN_OR_RETURN(TlsContextPtr anon, MakeAnonymousClientContext(id.ca, PeerCheck::Site("main")));
  HttpClientOptions o;
  o.tls = anon;
  o.expected_peer_site_id = "main";
  o.connect_timeout = std::chrono::seconds(5);
  o.request_timeout = std::chrono::seconds(30);
  HttpRequest req("GET", std::string(sync::kWithdrawalPath) + "?partner=" + config.id);
  req.AddHeader("Host", main.host);
  req.AddHeader("Accept", "application/json");
  return HttpFetch(main.host, main.port, req, o);
}

// Asks main for the newest message for this site and applies it. NotFound: main has none.
Status PollMain(Env& env, const std::string& site_dir, const SiteConfig& config, MainClient& main,
                sync::WithdrawalKeeper& keeper) {
  auto r = main.Get(sync::kWithdrawalPath);
  if (!r.ok()) {
    if (r.status().code() == StatusCode::kNotFound) return r.status();
    // Refused (revoked) or unreachable: the question without a certificate.
    auto anonymous = AskWithoutCertificate(env, site_dir, config);
    if (!anonymous.ok()) return r.status();
    if (anonymous->status() != 200) {
      Status s = sync::StatusFromResponse(*anonymous);
      return s.code() == StatusCode::kNotFound ? s : r.status();
    }
    r = std::move(anonymous);
  }
  return keeper.Accept(r->body()).status();
}

}  // namespace

Result<std::unique_ptr<sync::WithdrawalKeeper>> OpenWithdrawalKeeper(Env& env,
                                                                     const std::string& site_dir,
                                                                     const SiteConfig& config,
                                                                     Database& db,
                                                                     sync::TieupNotices& board) {
  sync::WithdrawalKeeper::Options o;
  o.site_id = config.id;
  o.board = &board;
  ASSIGN_OR_RETURN(o.pinned_root, PinnedRootKey(env, site_dir));
  ASSIGN_OR_RETURN(o.root_envelope, env.ReadFile(site_dir + "/keys/root.json"));
  return sync::WithdrawalKeeper::Open(env, db, std::move(o));
}

Status AttachPartnerWithdrawals(PartnerDaemon& daemon) {
  if (daemon.sync() == nullptr) return Status::Ok();  // not enrolled: nothing to withdraw
  Env* env = &daemon.env();
  const std::string site_dir = daemon.site().site_dir();
  const SiteConfig config = daemon.site().config();
  ASSIGN_OR_RETURN(std::shared_ptr<sync::WithdrawalKeeper> keeper,
                   OpenWithdrawalKeeper(*env, site_dir, config, daemon.db(),
                                        daemon.site().content().tieup_notices()));
  auto logger = daemon.logger();
  daemon.sync()->AddSyncRoute(
      std::string(sync::kWithdrawalPath), [keeper, logger](const HttpRequest& request) {
        if (request.method() != "POST") {
          return sync::ErrorResponse(Status::InvalidArgument("a withdrawal message is POSTed"));
        }
        auto accepted = keeper->Accept(request.body());
        if (!accepted.ok()) {
          logger->warn("refused a withdrawal message: {}", accepted.status().message());
          return sync::ErrorResponse(accepted.status());
        }
        logger->warn("{}", accepted->message);
        HttpResponse r(200);
        r.AddHeader("Content-Type", "application/json");
        r.SetBody("{\"seq\":" + std::to_string(accepted->seq) + "}");
        return r;
      });
  ASSIGN_OR_RETURN(std::shared_ptr<MainClient> main, MainClient::Open(*env, site_dir, config));
  SiteContent* content = &daemon.site().content();
  struct TaskState {
    int64_t next_poll = 0;
    std::string last_error;
    std::deque<sync::EventReport> unsent;  // expiry reports main has not received
  };
  auto state = std::make_shared<TaskState>();
  daemon.AddPeriodicTask("withdrawals", [=] {
    const int64_t now = env->NowSeconds();
    if (config.poll_seconds > 0 && now >= state->next_poll) {
      state->next_poll = now + config.poll_seconds;
      Status polled = PollMain(*env, site_dir, config, *main, *keeper);
      if (!polled.ok() && polled.code() != StatusCode::kNotFound &&
          polled.message() != state->last_error) {
        state->last_error = polled.message();
        logger->warn("asking main for a withdrawal (pull mode): {}", polled.message());
      } else if (polled.ok() || polled.code() == StatusCode::kNotFound) {
        state->last_error.clear();
      }
    }
    int64_t expires = 0;
    Status read = content->Read([&](content::ContentStore& store) -> Status {
      auto active = store.Active(content::Area::kTieup);
      if (!active.ok()) {
        return active.status().code() == StatusCode::kNotFound ? Status::Ok() : active.status();
      }
      if (*active) expires = (*active)->expires;
      return Status::Ok();
    });
    if (read.ok()) {
      auto checked =
          keeper->CheckExpiry(expires, now, [&](const std::string& kind, const std::string& m) {
            logger->warn("{}", m);
            if (state->unsent.size() >= 100) return;
            sync::EventReport report;
            report.kind = kind;  // "expired", "withdrawn", "reinstated"
            // Main keeps at most 4096 bytes of a report's message (as Receiver::TellMain).
            report.message = m.size() > 4000 ? m.substr(0, 4000) + "..." : m;
            state->unsent.push_back(std::move(report));
          });
      if (!checked.ok())
        logger->warn("checking the tie-up release's expiry: {}", checked.status().message());
    }
    while (!state->unsent.empty()) {
      if (!main->Call("/v1/event", sync::EncodeEventReport(state->unsent.front())).ok()) break;
      state->unsent.pop_front();
    }
  });
  return Status::Ok();
}

}  // namespace tieup
