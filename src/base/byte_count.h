// Sizes as people read them, for listings and messages.
#pragma once

#include <cstdint>
#include <string>

namespace tieup {

// "512 B", "3.1 KiB", "1.0 MiB".
std::string FormatByteCount(uint64_t bytes);

}  // namespace tieup
