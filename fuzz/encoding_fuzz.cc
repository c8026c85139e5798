// Fuzzes the decoders in base/encoding.h that every parser above leans on: hex, base64 (both
// alphabets), HTTP dates, RFC 3339 times, UTF-8 checks.
// Properties: decoders accept exactly what their encoders write (decode o encode is the identity,
// and a decoded value re-encodes to the input for the strict decoders); SanitizeUtf8 always
// gives valid UTF-8 and leaves valid UTF-8 unchanged.
#include <string>

#include "base/encoding.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = tieup::fuzz::AsText(data, size);
  using namespace tieup;

  FUZZ_CHECK(*HexDecode(HexEncode(text)) == text);
  FUZZ_CHECK(*Base64Decode(Base64Encode(text)) == text);
  FUZZ_CHECK(*Base64UrlDecode(Base64UrlEncode(text)) == text);
  if (auto hex = HexDecode(text); hex.ok()) FUZZ_CHECK(hex->size() * 2 == text.size());
  (void)Base64Decode(text);
  (void)Base64UrlDecode(text);

  if (auto t = ParseHttpDate(text); t.ok()) (void)FormatHttpDate(*t);
  if (auto t = ParseRfc3339(text); t.ok()) (void)FormatRfc3339(*t);

  std::string clean = SanitizeUtf8(text);
  FUZZ_CHECK(IsValidUtf8(clean));
  if (IsValidUtf8(text)) FUZZ_CHECK(clean == text);
  // IsValidUtf8 agrees with walking the text with Utf8SequenceLength.
  bool valid = true;
  for (size_t i = 0; i < text.size();) {
    size_t n = Utf8SequenceLength(text, i);
    FUZZ_CHECK(n <= 4 && i + n <= text.size());
    if (n == 0) {
      valid = false;
      break;
    }
    i += n;
  }
  FUZZ_CHECK(valid == IsValidUtf8(text));
  return 0;
}
