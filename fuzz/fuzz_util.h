// Helpers shared by the libFuzzer targets in this folder (see fuzz/README.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace tieup::fuzz {

// A property the code under test promises (a round trip, a bound) failed: print what and stop,
// so libFuzzer saves the input as a crash.
[[noreturn]] inline void Fail(const char* file, int line, const char* what) {
  std::fprintf(stderr, "%s:%d: fuzz property failed: %s\n", file, line, what);
  std::abort();
}

#define FUZZ_CHECK(cond)                                         \
  do {                                                           \
    if (!(cond)) ::tieup::fuzz::Fail(__FILE__, __LINE__, #cond); \
  } while (0)

// Splits fuzz input into parts at a separator line, so one input can carry several fields.
// Next() returns the next part (the rest of the input for the last one).
class Parts {
 public:
  Parts(const uint8_t* data, size_t size, std::string_view separator = "\n--\n")
      : rest_(reinterpret_cast<const char*>(data), size), separator_(separator) {}
  std::string_view Next() {
    size_t at = rest_.find(separator_);
    std::string_view part = rest_.substr(0, at);
    rest_ =
        at == std::string_view::npos ? std::string_view() : rest_.substr(at + separator_.size());
    return part;
  }
  std::string_view Rest() const { return rest_; }
  bool empty() const { return rest_.empty(); }

 private:
  std::string_view rest_;
  std::string_view separator_;
};

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace tieup::fuzz
