// The main daemon's control socket: `tieup main publish` hands its work to the running
// `tieup main serve` instead of opening the site a second time (a second process would re-read
// every partner's last release and main's own manifest, and write the same SQLite database).
//
// Transport: a Unix-domain stream socket at SITE_DIR/run/control.sock, mode 0600; the server
// also refuses a peer whose uid (SO_PEERCRED) is not its own.
//
// Protocol (newline-delimited JSON, one request per connection):
//   client -> server  {"command":"publish","all":true,"partners":["shop-a"]}\n  (<= 64 KiB)
//                     optional: "progress":true (send progress lines), "steps":false (no
//                     "  ID: step" stderr lines: PublishOutput::step_lines)
//   server -> client  {"pid":1234}\n                 the request was accepted by daemon 1234
//                     {"stdout":"..."}\n / {"stderr":"..."}\n   as the run produces them
//                     {"progress":{"partner":..,"stage":..,"done":..,...}}\n  each partner's
//                     step as sync::PublishProgress (every field), when asked for
//                     {"status":"ok"}\n  or
//                     {"status":"error","code":"unavailable","message":"..."}\n
// A request that is not valid JSON, too large, or names an unknown command or field is answered
// with one error status line only, and the connection is closed. `code` is the
// StatusCodeName, as in the sync API's errors.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/env.h"
#include "base/log.h"
#include "base/status.h"
#include "main_site/publish_run.h"

namespace tieup {

// SITE_DIR/run/control.sock.
std::string ControlSocketPath(const std::string& site_dir);

// Whether a daemon (`tieup main serve`) answers on the site's control socket now.
Result<bool> DaemonServes(const std::string& site_dir);

// A publish request on the socket, with how the client wants to hear it.
struct ControlRequest {
  PublishRequest publish;
  bool progress = false;  // "progress" lines wanted
  bool steps = true;      // the "  ID: step" stderr lines wanted
};
// The request line without its newline: {"command":"publish","all":..,"partners":[..]} and
// "progress":true / "steps":false when they differ from the defaults.
std::string EncodeControlRequest(const ControlRequest& request);
// Parses one request line (strict: unknown commands and fields, wrong types are refused with a
// message saying what a request looks like).
Result<ControlRequest> ParseControlRequest(std::string_view line);

// A progress line's object ({"partner":..,"stage":..,"done":..,...}: every field of
// sync::PublishProgress) and back; nullopt for an object that is not one.
std::string EncodeProgress(const sync::PublishProgress& step);
std::optional<sync::PublishProgress> ParseProgress(std::string_view json);

struct ControlServerOptions {
  size_t max_request_bytes = 64 * 1024;  // the request line, newline included
  // A client must send its whole request line within this time after connecting.
  std::chrono::milliseconds request_timeout{10000};
  // At Stop, how long clients still receiving their last lines are waited for.
  std::chrono::milliseconds drain_timeout{2000};
};

class ControlServer {
 public:
  // Runs one publish request: the daemon's RunPublish. Called on the server's worker thread (not
  // its I/O thread), one request at a time.
  using PublishHandler = std::function<Status(const PublishRequest&, PublishOutput&)>;

  // Listens on ControlSocketPath(site_dir) (creating SITE_DIR/run when missing; the socket is
  // 0600 from the moment it has its name) and starts the I/O and worker threads.
  // A socket file that no process listens on (a daemon that was killed) is replaced.
  // Errors: FailedPrecondition when another process already answers on the socket (another
  // daemon serves this site); InvalidArgument when the path is too long for a Unix socket
  // (108 bytes); IOError for the file system or socket calls.
  static Result<std::unique_ptr<ControlServer>> Start(Env& env, const std::string& site_dir,
                                                      PublishHandler publish,
                                                      std::shared_ptr<Logger> logger,
                                                      ControlServerOptions options = {});
  // Stop().
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Stops accepting, lets a running publish finish (waiting requests are answered with
  // Unavailable), waits up to drain_timeout for clients to receive their last lines, stops the
  // threads and removes the socket file. Idempotent; not concurrently with itself.
  void Stop();

  const std::string& socket_path() const;

  struct Impl;  // defined and used only in control.cc

 private:
  explicit ControlServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The client side of `tieup main publish`: sends `request` to the daemon serving `site_dir` and
// relays its lines to `output` as they arrive, until the final status. Progress lines are asked
// for when `output.progress` is set, step lines left out when `output.step_lines` is false.
// Returns false (not an error) when no daemon listens: no socket file, or nothing accepts on it
// (a stale file left by a daemon that was killed); the caller then runs the publish itself.
// Returns true when the daemon ran it and reported OK; the daemon's error status otherwise
// (the same code and message as an in-process run). `on_accepted` (optional) is called with the
// daemon's pid once it accepted the request, before any output line.
// Errors of its own: PermissionDenied when the socket is not ours to use; Unavailable when the
// daemon stopped before reporting a status (what reached the partners: `tieup main status`);
// DataLoss for an answer that is not the protocol.
Result<bool> ForwardToDaemon(const std::string& site_dir, const PublishRequest& request,
                             PublishOutput& output,
                             const std::function<void(pid_t pid)>& on_accepted = {});

}  // namespace tieup
