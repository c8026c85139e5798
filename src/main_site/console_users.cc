// /users: registered users, where each registered; disable an account.
#include "main_site/console_common.h"

namespace tieup::main_console {

void AddUsersPages(ConsoleState& s) { (void)s; }

}  // namespace tieup::main_console
