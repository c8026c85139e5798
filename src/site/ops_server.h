// The operations port: a plain-HTTP listener on a loopback address ([ops] listen in site.toml)
// for the machine's monitoring, never for people or the network (issue 18, item 7).
//   GET /metrics  200, the Prometheus text exposition of the daemon's SiteMetrics
//   GET /healthz  200 "ok" while the daemon's background loop beats; 503 with why otherwise
//   GET /readyz   200 "ready" when every readiness check passes; 503 with one line per check
//                 ("ok NAME" / "not ready NAME: why") otherwise
// Anything else: 404; other methods: 405. Answers are never cached.
#pragma once

#include <cstdint>
#include <memory>

#include "base/env.h"
#include "base/log.h"
#include "base/status.h"
#include "site/config.h"
#include "site/site_metrics.h"

namespace tieup {

struct OpsServerOptions {
  HostPort address;  // must be a loopback address (InvalidArgument otherwise)
  // /healthz fails when the background loop has not beaten for this long.
  int64_t max_silence_micros = 120'000'000;
};

class OpsServer {
 public:
  // Binds and serves. `env` and `metrics` must outlive the server. Errors: InvalidArgument for
  // an address that is not loopback; Unavailable when the port is taken (the message names it).
  static Result<std::unique_ptr<OpsServer>> Start(Env& env, SiteMetrics& metrics,
                                                  OpsServerOptions options,
                                                  std::shared_ptr<Logger> logger);
  ~OpsServer();  // Stop()
  OpsServer(const OpsServer&) = delete;
  OpsServer& operator=(const OpsServer&) = delete;

  uint16_t port() const;
  void Stop();

 private:
  OpsServer() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tieup
