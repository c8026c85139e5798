// The pages every console has, whichever daemon it serves: the managers who may sign in, and the
// audit log of their actions. As `tieup partner|main manager add|rm|reset` do, from a browser.
//
//   /managers   GET: who may sign in, when each last did. POST action=add (email, name) or
//               action=reset (email): the one-time link to set a password, shown once, to hand
//               over; action=remove (email): the manager and their sessions end (not oneself).
//   /audit      every manager action: who, when, what, from where (the newest 200)
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "console/console_server.h"

namespace tieup::console {

// Registers /managers and /audit on `console` (before it starts). `time` shows a moment
// (microseconds since the epoch) as the site's managers read it (its time zone and locale).
// `console` must outlive the pages.
void AddManagerPages(Console& console, std::function<std::string(int64_t micros)> time);

}  // namespace tieup::console
