// Exact money arithmetic shared by the fee rules (private to the fees module; tests use it).
//
// Products are formed in unsigned 128-bit integers (every contract value is bounded so that no
// product of a money value, a percentage and a count can exceed 2^128), and a quotient is
// rounded once with the contract's rule.
#pragma once

#include <cstdint>

#include "base/status.h"
#include "fees/contract.h"

namespace tieup::fees {

__extension__ typedef unsigned __int128 Uint128;
__extension__ typedef __int128 Int128;

// Rounds numerator/denominator (denominator > 0) to a whole number with `rule`. OutOfRange
// when the result exceeds kMaxMoneyMinor (an absurd input: refused rather than wrapped).
Result<int64_t> DivideRounded(Uint128 numerator, Uint128 denominator, RoundingRule rule);

}  // namespace tieup::fees
