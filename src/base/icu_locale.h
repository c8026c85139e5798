// Private to base: the ICU locale of a BCP 47 tag, for the ICU formatters of time_format.cc and
// money_format.cc.
#pragma once

#include <unicode/locid.h>

#include <string_view>

namespace tieup::internal {

// The locale `tag` names ("en", "ja-JP"); "en" when the tag is malformed.
inline icu::Locale IcuLocaleOrEnglish(std::string_view tag) {
  UErrorCode status = U_ZERO_ERROR;
  icu::Locale locale = icu::Locale::forLanguageTag(
      icu::StringPiece(tag.data(), static_cast<int32_t>(tag.size())), status);
  if (U_FAILURE(status) || locale.isBogus()) return icu::Locale("en");
  return locale;
}

}  // namespace tieup::internal
