// What one client address may take of a server (connections at once, requests per second), and
// a throttle for log lines that a flood would otherwise multiply.
//
// A flood from one address must leave every other client served: HttpServer counts open
// connections per address and charges each request to a token bucket per address; a handler may
// keep its own limiter for an endpoint that needs a tighter one (main's enrollment). Times are
// steady milliseconds passed in by the caller, so tests move them.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace tieup {

struct ClientLimitOptions {
  int max_connections = 0;               // open connections per address; 0: no limit
  double requests_per_second = 0;        // sustained rate per address; 0: no limit
  double burst = 0;                      // tokens a quiet address accumulates (at least 1)
  size_t max_tracked_clients = 100'000;  // addresses kept for rate limiting (oldest dropped)
};

// Thread-safe.
class ClientLimiter {
 public:
  explicit ClientLimiter(ClientLimitOptions options) : options_(options) {}

  // A new connection from `address`: true (and counted) when it may stay open; false when the
  // address already has max_connections open. (Requests, not connections, cost tokens: a
  // client over its rate gets an answer that says so, not a closed connection.)
  bool TryOpen(std::string_view address, int64_t now_ms);
  // A connection counted by TryOpen has closed.
  void Closed(std::string_view address);
  // One request from `address`: true when it may proceed; false with *retry_after_seconds
  // (at least 1) when the address is over its rate.
  bool TryRequest(std::string_view address, int64_t now_ms, int* retry_after_seconds);

  int open_connections(std::string_view address) const;

 private:
  struct Client {
    int open = 0;
    double tokens = 0;
    int64_t refilled_ms = 0;
  };
  // Refills `c` to `now_ms`; takes one token when there is one.
  bool TakeToken(Client& c, int64_t now_ms);
  Client& Find(std::string_view address, int64_t now_ms);
  void DropIdle(int64_t now_ms);

  const ClientLimitOptions options_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Client> clients_;
};

// Lets through at most `lines_per_window` log lines of one kind per window; the first line
// after a window in which lines were held back says how many. Thread-safe.
class LogThrottle {
 public:
  LogThrottle(int lines_per_window, int64_t window_ms)
      : lines_per_window_(lines_per_window), window_ms_(window_ms) {}

  // True when a line may be written now. *suppressed_before is then the number of lines held
  // back since the last one written (to be mentioned in it).
  bool Allow(int64_t now_ms, uint64_t* suppressed_before);

 private:
  const int lines_per_window_;
  const int64_t window_ms_;
  std::mutex mu_;
  int64_t window_start_ms_ = INT64_MIN;
  int written_in_window_ = 0;
  uint64_t suppressed_ = 0;
};

}  // namespace tieup
