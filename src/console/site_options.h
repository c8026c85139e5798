// A console's options from its site's configuration: where it listens ([console] listen), its
// TLS files ([console] tls_certificate, tls_key: relative to SITE_DIR unless absolute) and the
// managers' password hashing cost ("users.password_hashing" in [variables]). The same for the
// main and the partner consoles.
#pragma once

#include <string>

#include "base/status.h"
#include "console/console_server.h"
#include "site/config.h"

namespace tieup::console {

// `title` is the console's (ConsoleOptions::title) and `cookie_name` its session cookie's;
// the logger and the rest are left at their defaults. InvalidArgument for an unknown hashing
// cost name.
Result<ConsoleOptions> ConsoleOptionsFor(const SiteConfig& config, const std::string& site_dir,
                                         std::string title, std::string cookie_name);

}  // namespace tieup::console
