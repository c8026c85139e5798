#include "base/time_format.h"

#include <unicode/datefmt.h>
#include <unicode/locid.h>
#include <unicode/timezone.h>
#include <unicode/unistr.h>

#include <memory>

#include "base/icu_locale.h"

namespace tieup {
namespace {

std::unique_ptr<icu::TimeZone> ZoneOrUtc(std::string_view id) {
  std::unique_ptr<icu::TimeZone> zone(icu::TimeZone::createTimeZone(
      icu::UnicodeString::fromUTF8(icu::StringPiece(id.data(), static_cast<int32_t>(id.size())))));
  if (zone == nullptr || *zone == icu::TimeZone::getUnknown()) {
    zone.reset(icu::TimeZone::createTimeZone("UTC"));
  }
  return zone;
}

std::string Format(int64_t micros, std::string_view time_zone, std::string_view locale_tag,
                   const char* skeleton) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Locale locale = internal::IcuLocaleOrEnglish(locale_tag);
  // A DateFormat is not thread-safe: one per call (a few microseconds; pages show few times).
  std::unique_ptr<icu::DateFormat> format(
      icu::DateFormat::createInstanceForSkeleton(skeleton, locale, status));
  if (U_FAILURE(status) || format == nullptr) return "";
  format->adoptTimeZone(ZoneOrUtc(time_zone).release());
  icu::UnicodeString out;
  format->format(static_cast<UDate>(micros / 1000), out);
  std::string text;
  out.toUTF8String(text);
  return text;
}

}  // namespace

Status ValidateTimeZone(std::string_view id) {
  std::unique_ptr<icu::TimeZone> zone(icu::TimeZone::createTimeZone(
      icu::UnicodeString::fromUTF8(icu::StringPiece(id.data(), static_cast<int32_t>(id.size())))));
  if (id.empty() || zone == nullptr || *zone == icu::TimeZone::getUnknown()) {
    return Status::InvalidArgument("time zone '" + std::string(id) +
                                   "' is unknown: use an IANA zone such as Asia/Tokyo, "
                                   "Europe/Berlin or UTC");
  }
  return Status::Ok();
}

Status ValidateLocale(std::string_view tag) {
  UErrorCode status = U_ZERO_ERROR;
  icu::Locale locale = icu::Locale::forLanguageTag(
      icu::StringPiece(tag.data(), static_cast<int32_t>(tag.size())), status);
  bool known = false;
  if (!tag.empty() && U_SUCCESS(status) && !locale.isBogus()) {
    int32_t count = 0;
    const icu::Locale* available = icu::Locale::getAvailableLocales(count);
    for (int32_t i = 0; i < count && !known; ++i) {
      known = std::string_view(available[i].getLanguage()) == locale.getLanguage();
    }
  }
  if (!known) {
    return Status::InvalidArgument("locale '" + std::string(tag) +
                                   "' is unknown: use a language tag such as en, en-GB or ja-JP");
  }
  return Status::Ok();
}

std::string FormatDateTime(int64_t micros, std::string_view time_zone, std::string_view locale) {
  return Format(micros, time_zone, locale, "yMMMdjmz");
}

std::string FormatDate(int64_t micros, std::string_view time_zone, std::string_view locale) {
  return Format(micros, time_zone, locale, "yMMMd");
}

}  // namespace tieup
