#include "base/money_format.h"

#include <unicode/numberformatter.h>

#include <array>

#include "base/icu_locale.h"

namespace tieup {

int CurrencyExponent(std::string_view currency) {
  static constexpr std::array<std::string_view, 17> kZero = {
      "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG",
      "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"};
  static constexpr std::array<std::string_view, 7> kThree = {"BHD", "IQD", "JOD", "KWD",
                                                             "LYD", "OMR", "TND"};
  for (auto c : kZero) {
    if (c == currency) return 0;
  }
  for (auto c : kThree) {
    if (c == currency) return 3;
  }
  return 2;
}

namespace {

// "-1234.50": the exact decimal of `minor` in major units (no floating point on the way).
std::string DecimalText(int64_t minor, int exponent) {
  bool negative = minor < 0;
  // Work in unsigned to format INT64_MIN without overflow.
  uint64_t v = negative ? uint64_t{0} - static_cast<uint64_t>(minor) : static_cast<uint64_t>(minor);
  uint64_t scale = 1;
  for (int i = 0; i < exponent; ++i) scale *= 10;
  std::string out = negative ? "-" : "";
  out += std::to_string(v / scale);
  if (exponent > 0) {
    std::string frac = std::to_string(v % scale);
    out += '.';
    out.append(static_cast<size_t>(exponent) - frac.size(), '0');
    out += frac;
  }
  return out;
}

}  // namespace

std::string FormatMoney(int64_t minor, std::string_view currency, std::string_view locale) {
  const int exponent = CurrencyExponent(currency);
  const std::string decimal = DecimalText(minor, exponent);
  // A formatter per call (ICU caches its locale data itself): no state shared between calls.
  UErrorCode status = U_ZERO_ERROR;
  const icu::Locale loc = internal::IcuLocaleOrEnglish(locale);
  icu::UnicodeString code = icu::UnicodeString::fromUTF8(
      icu::StringPiece(currency.data(), static_cast<int32_t>(currency.size())));
  icu::CurrencyUnit unit(code.getTerminatedBuffer(), status);
  if (U_SUCCESS(status) && currency.size() == 3) {
    icu::number::FormattedNumber n =
        icu::number::NumberFormatter::withLocale(loc)
            .unit(unit)
            .precision(icu::number::Precision::minMaxFraction(exponent, exponent))
            .formatDecimal(decimal.c_str(), status);
    icu::UnicodeString text = n.toString(status);
    if (U_SUCCESS(status)) {
      std::string out;
      text.toUTF8String(out);
      return out;
    }
  }
  return decimal + " " + std::string(currency);
}

}  // namespace tieup
