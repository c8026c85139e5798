// Sizes as people read them, for listings and messages.
#pragma once

#include <cstdint>
#include <string>

namespace tieup {

// "512 B", "3.1 KiB", "1.0 MiB": for listings and logs.
std::string FormatByteCount(uint64_t bytes);

// "8 MiB", "8.1 MiB", "640 KiB", "900 bytes", "1 byte": for sentences on pages. Rounded up, so
// that a size just over a limit never reads as the limit.
std::string FormatByteSize(uint64_t bytes);

}  // namespace tieup
