// Times as people read them: in a site's time zone (an IANA id such as "Asia/Tokyo") and locale
// (a BCP 47 tag such as "en" or "ja-JP"), formatted by ICU (Debian's libicu). Pages, mail and
// CLI listings all use these, so a customer and a manager see the same time the same way.
// Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace tieup {

inline constexpr std::string_view kDefaultTimeZone = "UTC";
inline constexpr std::string_view kDefaultLocale = "en";

// OK iff ICU knows the time zone id ("Asia/Tokyo", "Europe/Berlin", "UTC"); otherwise
// kInvalidArgument saying what to write.
Status ValidateTimeZone(std::string_view id);
// OK iff `tag` is a well-formed locale ICU has data for ("en", "en-GB", "ja-JP").
Status ValidateLocale(std::string_view tag);

// "Dec 3, 2026, 8:15 AM GMT+9" (en) or "2026年12月3日 8:15 JST" (ja): date, time to the minute
// and the zone. A zone or locale ICU does not know falls back to UTC / "en".
std::string FormatDateTime(int64_t micros, std::string_view time_zone,
                           std::string_view locale = kDefaultLocale);
// "Dec 3, 2026": the date only, in the zone.
std::string FormatDate(int64_t micros, std::string_view time_zone,
                       std::string_view locale = kDefaultLocale);

}  // namespace tieup
