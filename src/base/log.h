// Logging: spdlog loggers made by the daemon and passed down (no global default logger is
// relied on). Never log a secret: keys, tokens, passwords or session ids.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace tieup {

using Logger = spdlog::logger;

struct LogOptions {
  std::string file;         // empty: standard error only
  bool also_stderr = true;  // with a file, also echo to standard error
  spdlog::level::level_enum level = spdlog::level::info;
};

// A logger named `name` (the site id, say) writing to the places in `options`.
std::shared_ptr<Logger> NewLogger(const std::string& name, const LogOptions& options = {});

// A logger that discards everything (tests, quiet CLI paths).
std::shared_ptr<Logger> NewNullLogger();

}  // namespace tieup
