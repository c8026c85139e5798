// Amounts as people read them: integer minor units of an ISO 4217 currency, formatted by ICU
// (Debian's libicu) in a locale. Shop pages, order mail, CLI listings and fee statements all
// use this, so an amount reads the same everywhere. Pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tieup {

// The number of decimal digits of the currency's minor unit: 0 for JPY, KRW, ...; 3 for BHD,
// KWD, ...; 2 otherwise.
int CurrencyExponent(std::string_view currency);

// The amount as a customer reads it in `locale` (a BCP 47 tag): the currency's symbol, its
// minor-unit digits and thousands separators: "€1,234.50", "¥27,490", "-¥500" (en),
// "1.234,50 €" (de). A currency ICU does not know is shown with its code ("12.34 XYZ"); a
// malformed locale falls back to "en".
std::string FormatMoney(int64_t minor, std::string_view currency, std::string_view locale = "en");

}  // namespace tieup
