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
  // One JSON object per line, for log shippers ([log] format = "json"):
  //   {"time":"2026-12-05T04:01:02.345Z","level":"info","site":"<name>","message":"..."}
  // Otherwise lines for people: "2026-12-05T13:01:02.345 info [<name>] ..." (local time).
  bool json = false;
  // The file is rotated when it reaches `max_file_bytes`: tieup.log becomes tieup.1.log
  // (tieup.1.log becomes tieup.2.log, ...), and the oldest beyond `max_files` is removed; so a
  // daemon's log never takes more than about max_file_bytes * (max_files + 1) of disk.
  size_t max_file_bytes = 64u << 20;
  size_t max_files = 5;
};

// A logger named `name` (the site id, say) writing to the places in `options`.
std::shared_ptr<Logger> NewLogger(const std::string& name, const LogOptions& options = {});

// The JSON line `options.json` writes for one message (without the newline).
std::string FormatJsonLogLine(const spdlog::details::log_msg& message);

// A logger that discards everything (tests, quiet CLI paths).
std::shared_ptr<Logger> NewNullLogger();

}  // namespace tieup
