// Runs the real `tieup` binary for integration tests: one-shot commands and daemons whose
// public port is read back from their log line.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace tieup::testing {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // standard output and standard error, interleaved
};

// Runs `tieup args...` to completion.
CommandResult RunTieup(const std::vector<std::string>& args);

// A `tieup ... serve` process. The destructor stops it (SIGTERM, then SIGKILL).
class Daemon {
 public:
  // Starts `tieup args...` and waits (up to 20 s) for "serving http://HOST:PORT/" on its
  // output. ok() is false when it exited or never said so; output() says why.
  explicit Daemon(const std::vector<std::string>& args);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  bool ok() const { return port_ != 0; }
  int port() const { return port_; }
  std::string output();
  // SIGTERM and wait; returns the exit code (or 128+signal).
  int Stop();

 private:
  void Drain(int timeout_ms);
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int port_ = 0;
  std::string output_;
};

// Sends raw bytes to 127.0.0.1:port and returns everything read until the peer closes or
// `timeout_ms` passes without data.
std::string RawExchange(int port, const std::string& bytes, int timeout_ms = 3000);

// A tiny HTTP/1.1 GET/HEAD over a fresh connection; returns the raw response.
std::string HttpGet(int port, const std::string& target,
                    const std::vector<std::string>& headers = {},
                    const std::string& method = "GET");

// The status code of a raw HTTP response, or 0.
int StatusOf(const std::string& response);
// The value of a header in a raw response ("" when absent), case-insensitive name.
std::string HeaderOf(const std::string& response, const std::string& name);
// The body of a raw response.
std::string BodyOf(const std::string& response);

}  // namespace tieup::testing
