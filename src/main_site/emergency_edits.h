// Main's end of emergency edits (DESIGN.md "Pages on a partner"; issue 15): partners tell main
// at once of every change of their emergency edits on tie-up pages, on the sync port:
//
//   POST /v1/emergency-edits  sync::EmergencyEditReport  -> 200 {"seq":N}
//
// signed by the partner exactly like its orders (main_site/signed_requests.h): an unsigned,
// forged or replayed report is refused (401, 409) and nothing is recorded; a body that is not
// the JSON above is 400. A verified report is recorded by the publisher
// (sync::Publisher::HandleEmergencyEdit: an "emergency-edit" event, shown by `tieup main events`,
// and what the partner now serves, shown by `tieup main status`), and the request is kept in
// the table emergency_signed_requests (time, partner, nonce, target, certificate, the report's
// seq, action and path) as proof of who reported what. The answer's `seq` tells the partner
// which of its changes main holds.
#pragma once

#include <memory>
#include <string>

#include "base/env.h"
#include "base/log.h"
#include "base/status.h"
#include "net/http_message.h"
#include "store/database.h"
#include "sync/publisher.h"

namespace tieup {

class MainDaemon;

// The endpoint above. Thread-safe.
class MainEmergencyEditEndpoint {
 public:
  // Migrates its table in `db`; reads main's partnership CA from SITE_DIR/keys. `publisher` and
  // `db` must outlive it.
  static Result<std::unique_ptr<MainEmergencyEditEndpoint>> Create(Env& env,
                                                                   const std::string& site_dir,
                                                                   sync::Publisher& publisher,
                                                                   Database& db,
                                                                   std::shared_ptr<Logger> logger);
  ~MainEmergencyEditEndpoint();

  // Handles one request on the sync port (the TLS-authenticated peer in request.peer_site_id()).
  HttpResponse Handle(const HttpRequest& request);

 private:
  class Impl;
  explicit MainEmergencyEditEndpoint(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Registers the endpoint on `daemon`'s sync port. Before Start().
Status AttachEmergencyEdits(MainDaemon& daemon);

}  // namespace tieup
