// Fuzzes the shop's form and text handling (commerce/form.h, base/encoding.h): ParseForm,
// PercentDecode/PercentEncode, CheckTextField, HtmlEscape.
//
// Properties: accepted forms respect the limits and hold valid UTF-8 names and values without
// NUL; PercentDecode inverts PercentEncode; HtmlEscape leaves no markup characters.
#include <string>

#include "commerce/form.h"
#include "fuzz_util.h"

using namespace tieup::commerce;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = tieup::fuzz::AsText(data, size);
  FormLimits limits;
  limits.max_body_bytes = 2048;
  limits.max_fields = 8;
  limits.max_value_bytes = 256;
  auto form = ParseForm(text, limits);
  if (form.ok()) {
    FUZZ_CHECK(form->size() <= limits.max_fields);
    for (const auto& [name, value] : form->all()) {
      FUZZ_CHECK(!name.empty());
      FUZZ_CHECK(value.size() <= limits.max_value_bytes);
      FUZZ_CHECK(IsValidUtf8(name) && IsValidUtf8(value));
      FUZZ_CHECK(name.find('\0') == std::string::npos && value.find('\0') == std::string::npos);
      FUZZ_CHECK(form->Get(name) == value);
    }
  }
  for (bool plus : {false, true}) {
    auto decoded = PercentDecode(text, plus);
    if (decoded.ok()) FUZZ_CHECK(decoded->size() <= text.size());
  }
  auto round = PercentDecode(PercentEncode(text), true);
  FUZZ_CHECK(round.ok());
  FUZZ_CHECK(*round == text);
  std::string escaped = HtmlEscape(text);
  FUZZ_CHECK(escaped.find_first_of("<>\"'") == std::string::npos);
  if (CheckTextField(text, "Name", 200, true).ok()) {
    FUZZ_CHECK(IsValidUtf8(text) && text.size() <= 200 && !Trim(text).empty());
  }
  return 0;
}
