#include "base/byte_count.h"

#include <cstdio>
#include <string>

namespace tieup {

std::string FormatByteCount(uint64_t n) {
  char buf[32];
  if (n >= (1u << 20)) {
    std::snprintf(buf, sizeof(buf), "%.1f MiB", static_cast<double>(n) / (1 << 20));
  } else if (n >= 1024) {
    std::snprintf(buf, sizeof(buf), "%.1f KiB", static_cast<double>(n) / 1024);
  } else {
    std::snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(n));
  }
  return buf;
}

std::string FormatByteSize(uint64_t bytes) {
  constexpr uint64_t kMiB = uint64_t{1} << 20;
  if (bytes >= kMiB && bytes % kMiB == 0) return std::to_string(bytes / kMiB) + " MiB";
  if (bytes >= kMiB) {
    const uint64_t tenths = (bytes * 10 + kMiB - 1) / kMiB;
    return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + " MiB";
  }
  if (bytes >= 1024) return std::to_string((bytes + 1023) / 1024) + " KiB";
  return std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
}

}  // namespace tieup
