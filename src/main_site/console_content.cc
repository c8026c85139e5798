// /content: main's authoring tree; edit with a live preview, preview as a partner, uploads.
#include "main_site/console_common.h"

namespace tieup::main_console {

void AddContentPages(ConsoleState& s) { (void)s; }

}  // namespace tieup::main_console
