// Main's side of the network-wide blocklist (guard/blocklist_service.h; issue 17 item 6): the
// entries live in main's database (`tieup main blocklist add|remove DIR`, which signs a new list
// at once); the daemon applies the newest list to main's own public port and gets it to every
// partner whose partnership has the `security` service:
//
// - push-mode partners: POST /v1/blocklist on the partner's sync port, within a few seconds of
//   the change (the daemon looks every 5 s), retried with a growing delay until the partner has
//   it;
// - pull-mode partners: GET /v1/blocklist?have=N on main's sync port at each poll: 200 with the
//   signed list when main has a newer one than N, 204 when not, 404 when the partnership has no
//   security service.
#pragma once

#include <memory>
#include <string>

#include "base/env.h"
#include "base/status.h"
#include "guard/blocklist_service.h"
#include "store/database.h"

namespace tieup {

class MainDaemon;

// The issuer of the main site at `site_dir` (its release key signs), on its database `db`.
Result<std::unique_ptr<guard::BlocklistIssuer>> OpenBlocklistIssuer(Env& env,
                                                                    const std::string& site_dir,
                                                                    Database& db);

// Serves /v1/blocklist, applies the list to main's public port and delivers it on every tick.
Status AttachBlocklist(MainDaemon& daemon);

}  // namespace tieup
