// CartLimiter: how many cart additions one client network may make through the shop pages, so
// that one address cannot fill carts without end (carts take no stock, but each addition is a
// write, and a flood of them is someone trying to hoard or to load the shop).
//
// A token bucket per client network: it holds up to `adds_per_10_minutes` additions and refills
// at that many per 10 minutes, so a customer may add a generous burst at once and keeps adding
// at a steady pace; an address over it is told when to come back. A client network is an IPv4
// address, or an IPv6 address's /64 (one household or host: rotating through its addresses
// does not help). Memory is bounded: at most `max_tracked_clients` networks are remembered;
// when a new one arrives at the limit, those whose bucket has refilled are forgotten first (it
// changes nothing they may do), and if all are busy, all are forgotten.
//
// The clock comes from the Env (wall-clock microseconds; a clock stepping back only delays the
// refill). Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/env.h"
#include "net/client_limits.h"

namespace tieup::commerce {

struct CartLimiterOptions {
  int64_t adds_per_10_minutes = 30;  // per client network; 0: no limit
  size_t max_tracked_clients = 100'000;
};

class CartLimiter {
 public:
  // `env` must outlive the limiter.
  CartLimiter(Env& env, CartLimiterOptions options);

  // One cart addition from `remote_address` (HttpRequest::remote_address): true when it may
  // proceed (and counted); false when the client network is over its limit, with
  // *retry_after_seconds (at least 1) until the next addition is allowed. An empty address (a
  // request made in-process, not over the network) is never limited.
  bool TryAdd(std::string_view remote_address, int* retry_after_seconds);

  // The client network `remote_address` belongs to: an IPv4 address as it is ("192.0.2.7"); an
  // IPv4-mapped IPv6 address as its IPv4 address; another IPv6 address as its /64 prefix
  // ("2001:db8:1:2::/64"). Text that is no IP address is its own key.
  static std::string ClientNetwork(std::string_view remote_address);

 private:
  Env& env_;
  const bool unlimited_;
  ClientLimiter buckets_;
};

}  // namespace tieup::commerce
