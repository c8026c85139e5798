#include "partner_site/blocklists.h"

#include "guard/blocklist_service.h"
#include "partner_site/main_client.h"
#include "partner_site/partner_daemon.h"
#include "partner_site/partner_sync.h"
#include "site/waf_gate.h"
#include "sync/http_api.h"

namespace tieup {
namespace {

// Asks main for a list newer than the one in effect and applies it. OK when there is none.
Status AskMain(MainClient& main, guard::BlocklistKeeper& keeper) {
  ASSIGN_OR_RETURN(HttpResponse r, main.Get(std::string(guard::kBlocklistSyncPath) +
                                            "?have=" + std::to_string(keeper.seq())));
  if (r.status() == 204) return Status::Ok();
  return keeper.Accept(r.body()).status();
}

}  // namespace

Status AttachPartnerBlocklist(PartnerDaemon& daemon) {
  if (daemon.sync() == nullptr) return Status::Ok();  // not enrolled: no main to listen to
  Env* env = &daemon.env();
  const std::string site_dir = daemon.site().site_dir();
  const SiteConfig config = daemon.site().config();
  ASSIGN_OR_RETURN(PinnedMainRoot root, LoadPinnedRoot(*env, site_dir));
  ASSIGN_OR_RETURN(std::shared_ptr<guard::BlocklistKeeper> keeper,
                   guard::BlocklistKeeper::Open(*env, daemon.db(), {root.key, root.envelope}));
  WafGate* gate = daemon.site().waf();
  auto logger = daemon.logger();
  auto apply = [gate, keeper, logger](const guard::Blocklist& list) {
    if (gate != nullptr) gate->SetBlocklist(keeper->matcher());
    logger->info("main's network blocklist number {} in effect: {} entries", list.seq,
                 list.entries.size());
  };
  if (keeper->seq() > 0) apply(keeper->matcher()->list());
  daemon.sync()->AddSyncRoute(
      std::string(guard::kBlocklistSyncPath), [keeper, logger, apply](const HttpRequest& request) {
        if (request.method() != "POST") {
          return sync::ErrorResponse(Status::InvalidArgument("a blocklist is POSTed"));
        }
        const uint64_t before = keeper->seq();
        auto accepted = keeper->Accept(request.body());
        if (!accepted.ok()) {
          logger->warn("refused a blocklist: {}", accepted.status().message());
          return sync::ErrorResponse(accepted.status());
        }
        if (accepted->seq != before) apply(*accepted);
        HttpResponse r(200);
        r.AddHeader("Content-Type", "application/json");
        r.SetBody("{\"seq\":" + std::to_string(accepted->seq) + "}");
        return r;
      });
  ASSIGN_OR_RETURN(std::shared_ptr<MainClient> main, MainClient::Open(*env, site_dir, config));
  struct TaskState {
    int64_t next_poll = 0;  // 0: ask at the first tick, whatever the mode
    std::string last_error;
  };
  auto state = std::make_shared<TaskState>();
  const int poll_seconds = config.poll_seconds;
  daemon.AddPeriodicTask("blocklist", [=] {
    const int64_t now = env->NowSeconds();
    if (state->next_poll < 0 || now < state->next_poll) return;
    // Push mode: once, at start; pull mode: every poll.
    state->next_poll = poll_seconds > 0 ? now + poll_seconds : -1;
    const uint64_t before = keeper->seq();
    Status asked = AskMain(*main, *keeper);
    if (asked.ok() || asked.code() == StatusCode::kNotFound) {
      state->last_error.clear();
      if (keeper->seq() != before) apply(keeper->matcher()->list());
    } else if (asked.message() != state->last_error) {
      state->last_error = asked.message();
      logger->warn("asking main for its blocklist: {}", asked.message());
    }
    if (!asked.ok() && poll_seconds == 0 && asked.code() != StatusCode::kNotFound) {
      state->next_poll = now + 30;  // main was not reachable at start: ask again
    }
  });
  return Status::Ok();
}

}  // namespace tieup
