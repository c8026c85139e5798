// Money in integer minor units (cents), ISO 4217 currency codes, and checked arithmetic.
//
// tieup never uses floating point for money. Every amount is an int64_t count of the
// currency's minor unit; sums and products go through CheckedAdd/CheckedMul so that an
// overflow is an error, never a wrong price. All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/money_format.h"
#include "base/status.h"

namespace tieup::commerce {

// The largest unit price tieup accepts (10^12 minor units: ten billion euros). Keeps every
// quantity * price far from int64 overflow, while the checked math still guards sums.
inline constexpr int64_t kMaxUnitPriceMinor = 1'000'000'000'000;

// Returns OK iff `code` looks like an ISO 4217 alphabetic code (three upper-case ASCII letters).
Status ValidateCurrency(std::string_view code);

// CurrencyExponent and FormatMoney (base/money_format.h): every amount on pages, in mail, CLI
// listings and statements goes through FormatMoney.
using ::tieup::CurrencyExponent;
using ::tieup::FormatMoney;

// Parses a non-negative decimal amount in major units ("12", "12.5", "12.50") into minor
// units of `currency`. Refuses signs, more decimals than the currency has, thousands
// separators, empty text, and amounts above kMaxUnitPriceMinor, with a message that says so.
Result<int64_t> ParseMoney(std::string_view text, std::string_view currency);

// a + b, or kOutOfRange naming `what` when the result does not fit in int64_t.
Result<int64_t> CheckedAdd(int64_t a, int64_t b, std::string_view what);
// a * b, or kOutOfRange naming `what` when the result does not fit in int64_t.
Result<int64_t> CheckedMul(int64_t a, int64_t b, std::string_view what);

// round(amount * basis_points / 10000), rounding half away from zero, with checked math.
Result<int64_t> ApplyBasisPoints(int64_t amount, int64_t basis_points);

}  // namespace tieup::commerce
