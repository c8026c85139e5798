#include "commerce/cart_limiter.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace tieup::commerce {
namespace {

ClientLimitOptions BucketOptions(const CartLimiterOptions& o) {
  ClientLimitOptions limits;
  limits.requests_per_second = static_cast<double>(o.adds_per_10_minutes) / 600.0;
  limits.burst = static_cast<double>(o.adds_per_10_minutes);
  limits.max_tracked_clients = std::max<size_t>(1, o.max_tracked_clients);
  return limits;
}

}  // namespace

CartLimiter::CartLimiter(Env& env, CartLimiterOptions options)
    : env_(env), unlimited_(options.adds_per_10_minutes <= 0), buckets_(BucketOptions(options)) {}

bool CartLimiter::TryAdd(std::string_view remote_address, int* retry_after_seconds) {
  if (unlimited_ || remote_address.empty()) return true;
  return buckets_.TryRequest(ClientNetwork(remote_address), env_.NowMicros() / 1000,
                             retry_after_seconds);
}

std::string CartLimiter::ClientNetwork(std::string_view remote_address) {
  std::string text(remote_address);
  if (text.find(':') == std::string::npos) return text;
  unsigned char a[16];
  if (inet_pton(AF_INET6, text.c_str(), a) != 1) return text;
  static constexpr unsigned char kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  char out[INET6_ADDRSTRLEN];
  if (std::memcmp(a, kMappedPrefix, sizeof(kMappedPrefix)) == 0) {
    return inet_ntop(AF_INET, a + 12, out, sizeof(out)) ? std::string(out) : text;
  }
  std::memset(a + 8, 0, 8);
  return inet_ntop(AF_INET6, a, out, sizeof(out)) ? std::string(out) + "/64" : text;
}

}  // namespace tieup::commerce
