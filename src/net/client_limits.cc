#include "net/client_limits.h"

#include <algorithm>
#include <cmath>

namespace tieup {

ClientLimiter::Client& ClientLimiter::Find(std::string_view address, int64_t now_ms) {
  auto it = clients_.find(std::string(address));
  if (it != clients_.end()) return it->second;
  if (clients_.size() >= options_.max_tracked_clients) DropIdle(now_ms);
  Client& c = clients_[std::string(address)];
  c.tokens = std::max(1.0, options_.burst);
  c.refilled_ms = now_ms;
  return c;
}

void ClientLimiter::DropIdle(int64_t now_ms) {
  // An address with no open connection whose bucket is full again carries no state worth
  // keeping: forgetting it changes nothing it may do.
  const double full = std::max(1.0, options_.burst);
  std::erase_if(clients_, [&](const auto& kv) {
    const Client& c = kv.second;
    if (c.open > 0) return false;
    if (options_.requests_per_second <= 0) return true;
    double refilled = c.tokens + (now_ms - c.refilled_ms) * options_.requests_per_second / 1000.0;
    return refilled >= full;
  });
  if (clients_.size() >= options_.max_tracked_clients) {
    // Still full of busy addresses: keep those with open connections (their counts matter).
    std::erase_if(clients_, [](const auto& kv) { return kv.second.open == 0; });
  }
}

bool ClientLimiter::TakeToken(Client& c, int64_t now_ms) {
  if (options_.requests_per_second <= 0) return true;
  const double full = std::max(1.0, options_.burst);
  if (now_ms > c.refilled_ms) {
    c.tokens =
        std::min(full, c.tokens + (now_ms - c.refilled_ms) * options_.requests_per_second / 1000.0);
    c.refilled_ms = now_ms;
  }
  if (c.tokens < 1.0) return false;
  c.tokens -= 1.0;
  return true;
}

bool ClientLimiter::TryOpen(std::string_view address, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  Client& c = Find(address, now_ms);
  if (options_.max_connections > 0 && c.open >= options_.max_connections) return false;
  ++c.open;
  return true;
}

void ClientLimiter::Closed(std::string_view address) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = clients_.find(std::string(address));
  if (it != clients_.end() && it->second.open > 0) --it->second.open;
}

bool ClientLimiter::TryRequest(std::string_view address, int64_t now_ms, int* retry_after_seconds) {
  if (options_.requests_per_second <= 0) return true;
  std::lock_guard<std::mutex> lock(mu_);
  Client& c = Find(address, now_ms);
  if (TakeToken(c, now_ms)) return true;
  double wait = (1.0 - c.tokens) / options_.requests_per_second;
  *retry_after_seconds = std::max(1, static_cast<int>(std::ceil(wait)));
  return false;
}

int ClientLimiter::open_connections(std::string_view address) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = clients_.find(std::string(address));
  return it == clients_.end() ? 0 : it->second.open;
}

bool LogThrottle::Allow(int64_t now_ms, uint64_t* suppressed_before) {
  std::lock_guard<std::mutex> lock(mu_);
  if (window_start_ms_ == INT64_MIN || now_ms - window_start_ms_ >= window_ms_) {
    window_start_ms_ = now_ms;
    written_in_window_ = 0;
  }
  if (written_in_window_ >= lines_per_window_) {
    ++suppressed_;
    return false;
  }
  ++written_in_window_;
  *suppressed_before = suppressed_;
  suppressed_ = 0;
  return true;
}

}  // namespace tieup
