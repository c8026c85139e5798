// /products, /orders: main's catalog and every channel's orders.
#include "main_site/console_common.h"

namespace tieup::main_console {

void AddShopPages(ConsoleState& s) { (void)s; }

}  // namespace tieup::main_console
