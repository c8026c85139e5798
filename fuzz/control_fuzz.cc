// Fuzzes the main daemon's control socket lines (main_site/control.h): the publish request the
// daemon reads from `tieup main publish`, and the progress lines the command reads back.
//
// Input: the first byte picks the line kind (even: a request, odd: a progress object); the rest
// is the line. Property: what is accepted encodes to a line that parses back to the same
// encoding (Parse o Encode is the identity on what Parse accepts).
#include <string>

#include "fuzz_util.h"
#include "main_site/control.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view line = tieup::fuzz::AsText(data + 1, size - 1);
  if (data[0] % 2 == 0) {
    auto request = tieup::ParseControlRequest(line);
    if (!request.ok()) return 0;
    const std::string encoded = tieup::EncodeControlRequest(*request);
    auto again = tieup::ParseControlRequest(encoded);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(tieup::EncodeControlRequest(*again) == encoded);
  } else {
    auto step = tieup::ParseProgress(line);
    if (!step) return 0;
    const std::string encoded = tieup::EncodeProgress(*step);
    auto again = tieup::ParseProgress(encoded);
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(tieup::EncodeProgress(*again) == encoded);
  }
  return 0;
}
