// /ledger: per-partner verification and alerts; fee statements.
#include "main_site/console_common.h"

namespace tieup::main_console {

void AddLedgerPages(ConsoleState& s) { (void)s; }

}  // namespace tieup::main_console
