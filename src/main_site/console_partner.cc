// /partners/ID: one partnership: timeline, publish now, retry, settings, enrollment code, suspend /
// resume / revoke, contract and statements, emergency edits.
#include "main_site/console_common.h"

namespace tieup::main_console {

void AddPartnerPages(ConsoleState& s) { (void)s; }

}  // namespace tieup::main_console
