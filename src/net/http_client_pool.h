// HttpClientPool: kept-alive connections to one host and port, shared by threads. A fetch takes
// the most recently used idle connection that is young enough (or opens one) and gives it back
// after a complete response, so that a site's repeated calls to another (a partner's fetches,
// events and answers to main for every update) pay for one TCP and TLS handshake rather than one
// each. A connection unused for longer than max_idle is closed rather than reused: servers close
// idle connections (tieup's after 30 s, HttpServerOptions::idle_timeout), and a request sent
// just as one does would meet a closed connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/status.h"
#include "net/http_client.h"

namespace tieup {

struct HttpClientPoolOptions {
  // Idle connections kept for reuse; more are closed after their response.
  size_t max_idle_connections = 16;
  // An idle connection older than this is closed rather than reused (below the server's
  // idle timeout).
  std::chrono::milliseconds max_idle{20'000};
  // Milliseconds of a monotonic clock (tests move it); empty: std::chrono::steady_clock.
  std::function<int64_t()> now_millis;
};

class HttpClientPool {
 public:
  HttpClientPool(std::string host, uint16_t port, HttpClientOptions client_options,
                 HttpClientPoolOptions pool_options = {});
  HttpClientPool(const HttpClientPool&) = delete;
  HttpClientPool& operator=(const HttpClientPool&) = delete;

  // HttpClient::Fetch on a kept connection, or on a new one when `fresh` or none is idle.
  // *stale (when given) is set when it failed only because the server had closed the kept
  // connection before any byte of an answer (HttpClient::last_failure_was_stale_connection:
  // nothing was processed, the caller may send it again on a new connection); the other idle
  // connections, as old, are closed then too.
  Result<HttpResponse> Fetch(const HttpRequest& request, bool fresh = false, bool* stale = nullptr);

  // Fetch, and when the kept connection turned out closed by the server before any answer,
  // the same request once more on a new connection (for requests that may be sent again as
  // they are: not for those signed with a single-use nonce, which make a new request).
  Result<HttpResponse> FetchOnceMoreIfStale(const HttpRequest& request);

  // Idle connections now kept (for tests and metrics).
  size_t idle_connections() const;

 private:
  int64_t NowMillis() const;
  std::unique_ptr<HttpClient> TakeIdle();

  const std::string host_;
  const uint16_t port_;
  const HttpClientOptions client_options_;
  const HttpClientPoolOptions pool_options_;
  struct Idle {
    std::unique_ptr<HttpClient> client;
    int64_t since_ms = 0;
  };
  mutable std::mutex mu_;
  std::vector<Idle> idle_;
};

}  // namespace tieup
