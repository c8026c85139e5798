// /publish: publish to all partners or a selection, with live per-partner progress.
#include "main_site/console_common.h"

namespace tieup::main_console {

void AddPublishPages(ConsoleState& s) { (void)s; }

}  // namespace tieup::main_console
