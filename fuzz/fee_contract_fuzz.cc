// Fuzzes fee contracts (fees/contract.h): ParseContract on TOML text, then ComputeStatement
// with the contract on ordinary and on extreme period inputs (fees/statement.h promises that no
// computation overflows: UBSan aborts on a signed overflow).
// Properties: an accepted contract has a partner, a three-letter upper-case currency, values
// in their documented ranges, volume tiers sorted, and the SHA-256 of the exact text; the same
// text parses to the same contract; a computed statement's total is within 0..kMaxMoneyMinor.
#include <algorithm>
#include <limits>

#include "crypto/hash.h"
#include "fees/contract.h"
#include "fees/inputs.h"
#include "fees/statement.h"
#include "fuzz_util.h"
#include "toml_guard.h"

using namespace tieup::fees;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = tieup::fuzz::AsText(data, size);
  if (tieup::fuzz::HitsTomlUnreachable(text)) return 0;
  auto contract = ParseContract(text, "fuzz.toml");
  if (!contract.ok()) return 0;
  FUZZ_CHECK(!contract->partner.empty());
  FUZZ_CHECK(contract->currency.size() == 3);
  for (char c : contract->currency) FUZZ_CHECK(c >= 'A' && c <= 'Z');
  FUZZ_CHECK(contract->sha256_hex == tieup::Sha256Hex(text));
  FUZZ_CHECK(std::is_sorted(contract->volume_tiers.begin(), contract->volume_tiers.end(),
                            [](const VolumeTier& a, const VolumeTier& b) {
                              return a.threshold_accesses < b.threshold_accesses;
                            }));
  const auto money = [](int64_t m) { return m >= 0 && m <= kMaxMoneyMinor; };
  const auto percent = [](int64_t p) { return p >= 0 && p <= 100; };
  FUZZ_CHECK(money(contract->base_fee_minor));
  FUZZ_CHECK(money(contract->security.price_minor));
  FUZZ_CHECK(money(contract->user_management.price_minor));
  FUZZ_CHECK(money(contract->advertising.pool_minor));
  FUZZ_CHECK(money(contract->transactions.fixed_minor));
  FUZZ_CHECK(contract->transactions.percent_bp >= 0 && contract->transactions.percent_bp <= 10000);
  FUZZ_CHECK(percent(contract->access_discount.max_percent));
  for (const ContentTier& t : contract->content_tiers) FUZZ_CHECK(money(t.fee_minor));
  for (const VolumeTier& t : contract->volume_tiers) FUZZ_CHECK(percent(t.discount_percent));
  // The same text parses to the same contract.
  auto again = ParseContract(text, "fuzz.toml");
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *contract);

  static const Period period = *ParsePeriod("2026-11");
  constexpr uint64_t kBig = std::numeric_limits<uint64_t>::max();
  for (int extreme = 0; extreme < 3; ++extreme) {  // 2: refunds above all orders
    PeriodInputs in;
    in.partner = contract->partner;
    in.currency = contract->currency;
    in.period = period;
    in.tieup_accesses = extreme ? kBig : 900;
    in.original_accesses = extreme ? kBig - 1 : 100;
    in.total_accesses = extreme ? kBig : 1000;
    in.tieup_content = {true, 3, extreme ? kBig : 40, extreme ? kBig : 1 << 20, 7};
    in.original_content = {true, 2, extreme ? kBig : 10, extreme ? kBig : 1 << 18, 8};
    in.tieup_orders = {extreme ? kBig : 12, extreme ? kBig : 1,
                       extreme == 2   ? std::numeric_limits<int64_t>::min()
                       : extreme == 1 ? std::numeric_limits<int64_t>::max()
                                      : 123456};
    in.main_ad_impressions = extreme ? kBig : 30;
    in.partner_ad_impressions = extreme ? kBig : 10;
    auto statement = ComputeStatement(*contract, in);
    if (statement.ok()) {
      FUZZ_CHECK(statement->total_minor >= 0 && statement->total_minor <= kMaxMoneyMinor);
    }
  }
  return 0;
}
