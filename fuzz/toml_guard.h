// Debian 12's toml++ 3.3.0 reaches __builtin_unreachable() (undefined behaviour) in
// is_non_ascii_horizontal_whitespace() for code points it does not expect, e.g. the bytes
// "\xcc\xaa" where whitespace may stand (marzer/tomlplusplus#295, fixed upstream by #305,
// not in 3.3.0). The TOML fuzz targets skip such inputs so that they keep finding other
// faults; the bug itself is reported, not hidden (see fuzz/README.md, "Known findings").
#pragma once

#include <cstdint>
#include <string_view>

namespace tieup::fuzz {

// True iff `text` holds a UTF-8 code point that toml++ 3.3.0's
// is_non_ascii_horizontal_whitespace() does not handle (its table, copied).
inline bool HitsTomlUnreachable(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const auto b = static_cast<unsigned char>(text[i]);
    char32_t c;
    if (b >= 0xc0 && b < 0xe0 && i + 1 < text.size()) {
      c = (char32_t{b} & 0x1f) << 6 | (static_cast<unsigned char>(text[i + 1]) & 0x3f);
    } else if (b >= 0xe0 && b < 0xf0 && i + 2 < text.size()) {
      c = (char32_t{b} & 0x0f) << 12 | (static_cast<unsigned char>(text[i + 1]) & 0x3f) << 6 |
          (static_cast<unsigned char>(text[i + 2]) & 0x3f);
    } else {
      continue;
    }
    if (c < 0xA0 || c > 0xFEFF || c == 0xA0 || c == 0x3000 || c == 0xFEFF) continue;
    const uint64_t child = (static_cast<uint64_t>(c) - 0xA0) / 0x3FA;
    if ((1ull << child) & 0x7FFFFFFFFFFFF75Eull) continue;
    if (child != 5 && child != 7) return true;
  }
  return false;
}

}  // namespace tieup::fuzz
