// Runs the real `tieup` binary for integration tests: one-shot commands and daemons whose
// public port is read back from their log line.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace tieup {
class Env;
}

namespace tieup::testing {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // standard output and standard error, interleaved
};

// A free TCP port on 127.0.0.1, below the ephemeral range (see daemon_harness.cc). Sync ports must
// be fixed numbers because main stores the partner's sync URL.
int FreePort();

// Sets `[http] requests_per_second_per_client = 0` and the shop's
// `shop.cart_adds_per_10_minutes_per_client = "0"` in SITE_DIR/site.toml: for a test that loads
// a site from one address harder than a person would (the per-client limits are tested on their
// own). False when the http setting is not in the file.
bool LiftPerClientRequestRate(const std::string& site_dir);

// Polls `done` every 100 ms until it returns true or `timeout` passes; returns its last value.
// How a test waits for the state it needs (a daemon's reload, a delivery), never for a time.
bool WaitFor(const std::function<bool()>& done,
             std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Runs `tieup args...` to completion.
CommandResult RunTieup(const std::vector<std::string>& args);
// The same with standard output and error on a pseudo-terminal `columns` wide (TERM=xterm), as
// when a person types the command: what a progress bar draws, escapes included.
CommandResult RunTieupOnTerminal(const std::vector<std::string>& args, int columns = 100);

// Forks and execs `argv` (argv[0] a path) with standard output and error to a pipe (*out_fd)
// and, when in_fd is not null, standard input from a pipe (*in_fd, its write end; otherwise
// /dev/null). Returns the pid, or -1.
pid_t SpawnProgram(const std::vector<std::string>& argv, int* out_fd, int* in_fd);
// The exit code of a waitpid status (128+signal for a killed process).
int ExitCodeOf(int status);

// A `tieup ... serve` process whose pid is known, so a test can SIGKILL it. Start() waits (up
// to 20 s) for "serving http://HOST:PORT/" on its output.
class SiteProcess {
 public:
  explicit SiteProcess(std::vector<std::string> args) : args_(std::move(args)) {}
  ~SiteProcess();
  SiteProcess(const SiteProcess&) = delete;
  SiteProcess& operator=(const SiteProcess&) = delete;

  // Starts the process (stopping a running one first). False when it exited or never said it
  // serves; output() says why.
  bool Start();
  bool running() const { return pid_ > 0; }
  int port() const { return port_; }  // the public port
  // Everything the process printed so far (all runs).
  std::string output();
  // SIGTERM and wait; the exit code (or 128+signal), -1 when not running.
  int Stop();
  // SIGKILL and reap at once.
  void Kill();

 private:
  void Drain(int timeout_ms);
  std::vector<std::string> args_;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int port_ = 0;
  std::string output_;
};

// A `tieup ... serve` process started at construction. ok() is false when it exited or never
// said where it serves; output() says why.
class Daemon : public SiteProcess {
 public:
  explicit Daemon(std::vector<std::string> args) : SiteProcess(std::move(args)) { Start(); }
  bool ok() const { return running() && port() != 0; }
};

// Sends raw bytes to 127.0.0.1:port and returns everything read until the peer closes or
// `timeout_ms` passes without data.
std::string RawExchange(int port, const std::string& bytes, int timeout_ms = 3000);

// A TCP connection to 127.0.0.1:port from the loopback address `source` ("127.0.0.2": another
// client, as a server sees it); the descriptor, or -1. The caller closes it.
int ConnectFrom(const std::string& source, int port);

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

// The first capture group of the first match of the ECMAScript regex `pattern` in `text`, or ""
// when it does not match.
std::string FirstMatch(const std::string& text, const std::string& pattern);

// "YYYY-MM" of this month, or of `months_back` months before it (UTC).
std::string ThisMonthUtc(int months_back = 0);

// The statement folders a partner holds in SITE_DIR/statements (staging folders left out).
std::vector<std::string> Received(Env& env, const std::string& site_dir);

}  // namespace tieup::testing
