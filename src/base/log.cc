#include "base/log.h"

#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <boost/json.hpp>
#include <ctime>
#include <vector>

namespace tieup {
namespace {

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& message, spdlog::memory_buf_t& dest) override {
    const std::string line = FormatJsonLogLine(message);
    dest.append(line.data(), line.data() + line.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

std::string FormatJsonLogLine(const spdlog::details::log_msg& message) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  const auto since_epoch = message.time.time_since_epoch();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(message.time);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &utc);
  const long long ms = duration_cast<milliseconds>(since_epoch).count() % 1000;
  boost::json::object o;
  o["time"] = fmt::format("{}.{:03}Z", stamp, ms < 0 ? ms + 1000 : ms);
  const auto level = spdlog::level::to_string_view(message.level);
  o["level"] = std::string_view(level.data(), level.size());
  o["site"] = std::string_view(message.logger_name.data(), message.logger_name.size());
  o["message"] = std::string_view(message.payload.data(), message.payload.size());
  return boost::json::serialize(o);
}

std::shared_ptr<Logger> NewLogger(const std::string& name, const LogOptions& options) {
  std::vector<spdlog::sink_ptr> sinks;
  if (!options.file.empty()) {
    sinks.push_back(std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
        options.file, options.max_file_bytes, options.max_files));
  }
  if (options.file.empty() || options.also_stderr) {
    sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  }
  auto logger = std::make_shared<Logger>(name, sinks.begin(), sinks.end());
  logger->set_level(options.level);
  if (options.json) {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
  }
  logger->flush_on(spdlog::level::warn);
  return logger;
}

std::shared_ptr<Logger> NewNullLogger() {
  return std::make_shared<Logger>("null", std::make_shared<spdlog::sinks::null_sink_mt>());
}

}  // namespace tieup
