#include "main_site/services.h"

#include "main_site/main_daemon.h"

namespace tieup {

Status AttachMainServices(MainDaemon& daemon) {
  (void)daemon;  // One line per service goes here as features land.
  return Status::Ok();
}

}  // namespace tieup
