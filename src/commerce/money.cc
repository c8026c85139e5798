#include "commerce/money.h"

#include <array>
#include <cstdint>

namespace tieup::commerce {

Status ValidateCurrency(std::string_view code) {
  bool ok = code.size() == 3;
  for (char c : code) ok = ok && c >= 'A' && c <= 'Z';
  if (!ok) {
    return Status::InvalidArgument("currency '" + std::string(code) +
                                   "' is not an ISO 4217 code: use three upper-case letters "
                                   "such as EUR, USD or JPY");
  }
  return Status::Ok();
}

Result<int64_t> ParseMoney(std::string_view text, std::string_view currency) {
  RETURN_IF_ERROR(ValidateCurrency(currency));
  int exp = CurrencyExponent(currency);
  auto bad = [&](std::string why) {
    return Status::InvalidArgument("amount '" + std::string(text) + "' " + why);
  };
  if (text.empty()) return bad("is empty: give an amount such as 12.50");
  size_t dot = text.find('.');
  std::string_view whole = text.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
  if (whole.empty()) return bad("has no digits before the decimal point: write 0.50, not .50");
  if (dot != std::string_view::npos && frac.empty()) {
    return bad("ends with a decimal point: write 12 or 12.50");
  }
  for (std::string_view part : {whole, frac}) {
    for (char c : part) {
      if (c < '0' || c > '9') {
        return bad(
            "is not a plain decimal number: use digits and at most one '.', no signs, "
            "spaces or thousands separators");
      }
    }
  }
  if (static_cast<int>(frac.size()) > exp) {
    return bad("has more decimals than " + std::string(currency) + " allows (" +
               std::to_string(exp) + ")");
  }
  if (whole.size() > 13) return bad("is too large");
  int64_t value = 0;
  for (char c : whole) value = value * 10 + (c - '0');
  for (int i = 0; i < exp; ++i) {
    value *= 10;
    if (static_cast<size_t>(i) < frac.size()) value += frac[static_cast<size_t>(i)] - '0';
  }
  if (value > kMaxUnitPriceMinor) {
    return bad("is above the largest price tieup accepts (" +
               FormatMoney(kMaxUnitPriceMinor, currency) + ")");
  }
  return value;
}

Result<int64_t> CheckedAdd(int64_t a, int64_t b, std::string_view what) {
  int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) {
    return Status::OutOfRange(std::string(what) + " is too large to compute");
  }
  return r;
}

Result<int64_t> CheckedMul(int64_t a, int64_t b, std::string_view what) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) {
    return Status::OutOfRange(std::string(what) + " is too large to compute");
  }
  return r;
}

Result<int64_t> ApplyBasisPoints(int64_t amount, int64_t basis_points) {
  // 128-bit intermediate: amount * basis_points may exceed int64 while the result does not.
  __extension__ using Int128 = __int128;
  Int128 scaled = static_cast<Int128>(amount) * basis_points;
  Int128 q = scaled / 10000;
  Int128 r = scaled % 10000;
  if (r >= 5000) ++q;
  if (r <= -5000) --q;
  if (q > INT64_MAX || q < INT64_MIN) return Status::OutOfRange("tax is too large to compute");
  return static_cast<int64_t>(q);
}

}  // namespace tieup::commerce
