// The partnership contract: what a partner pays main for a period, as rules read from a TOML
// file (see docs/fee-contract-example.toml for an annotated example).
//
// Money is integer minor units of one ISO 4217 currency (cents, yen). Every fraction a rule
// computes is exact (128-bit integers) and rounded ONCE per line item with the contract's
// rounding rule; discounts are rounded as positive amounts and then subtracted. No line item
// and no total is ever negative.
//
// The rules (each is one or two line items of a statement, see statement.h):
//  - base fee: the fee of the contract's kind (link, template or contents);
//  - services: the price of each enabled optional service (security, user management);
//  - content tiers: for each measure (tie-up bytes or pages, original bytes or pages) that has
//    tiers, the fee of the highest tier whose `from` the measured amount reaches (amount >=
//    from); no tier reached means no fee. Fees may fall as tiers rise (more original content,
//    lower fee);
//  - access discount: with s = successful (2xx/3xx) accesses to original pages and n =
//    successful accesses to tie-up and original pages, the discount is
//    max_percent * min(1, (s/n) / (at_original_share_percent/100)) percent of the discountable
//    amount (base fee + content tier fees): linear in the original share, capped once the share
//    reaches at_original_share_percent. No accesses: no discount;
//  - volume discount: discount_percent of the discountable amount for the highest volume tier
//    whose threshold_accesses the successful accesses reach; capped so that both discounts
//    together never exceed the discountable amount;
//  - advertising contribution: pool_minor * main / (main + partner), with main and partner the
//    ad impressions of each owner in the period (no impressions: nothing);
//  - transaction fees, on orders placed through TIE-UP pages only (orders on original pages pay
//    none): percent_bp basis points of the period's net tie-up order amount (orders minus
//    refunds, never below zero), rounded once for the whole period; plus fixed_minor for each
//    tie-up order (amount >= 0; refunds pay no fixed fee).
//
// Parsing is strict: unknown keys, wrong types, out-of-range values and missing required keys
// are refused with InvalidArgument naming the key. Values are bounded (money <= kMaxMoneyMinor,
// percentages 0..100, basis points 0..10000) so that no computation can overflow. All functions
// are thread-safe; the types are values.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/status.h"

namespace tieup::fees {

// Any amount of money in a contract, line item or total is at most this (10^15 minor units).
inline constexpr int64_t kMaxMoneyMinor = 1'000'000'000'000'000;

// What a partnership covers (DESIGN.md glossary).
enum class PartnershipKind { kLink, kTemplate, kContents };
inline constexpr std::array<PartnershipKind, 3> kAllPartnershipKinds = {
    PartnershipKind::kLink, PartnershipKind::kTemplate, PartnershipKind::kContents};
// "link", "template" or "contents".
std::string_view PartnershipKindName(PartnershipKind kind);

// How a computed fraction of a minor unit becomes a whole minor unit.
enum class RoundingRule {
  kHalfEven,  // to nearest, ties to the even neighbour (banker's rounding); the default
  kHalfUp,    // to nearest, ties away from zero
  kDown,      // towards zero (truncation)
};
// "half-even", "half-up" or "down".
std::string_view RoundingRuleName(RoundingRule rule);

// What a content tier measures: bytes or pages of the tie-up or of the original area, as of the
// last release activated at or before the end of the period.
enum class ContentMeasure { kTieupBytes, kTieupPages, kOriginalBytes, kOriginalPages };
inline constexpr std::array<ContentMeasure, 4> kAllContentMeasures = {
    ContentMeasure::kTieupBytes, ContentMeasure::kTieupPages, ContentMeasure::kOriginalBytes,
    ContentMeasure::kOriginalPages};
// "tieup_bytes", "tieup_pages", "original_bytes" or "original_pages".
std::string_view ContentMeasureName(ContentMeasure measure);

// One tier: from `from` (inclusive) upwards, the fee is `fee_minor` (until a higher tier).
struct ContentTier {
  ContentMeasure measure = ContentMeasure::kTieupPages;
  uint64_t from = 0;
  int64_t fee_minor = 0;
  friend bool operator==(const ContentTier&, const ContentTier&) = default;
};

// An optional service main provides for a price per period.
struct Service {
  bool enabled = false;
  int64_t price_minor = 0;
  friend bool operator==(const Service&, const Service&) = default;
};

// The access-ratio discount; absent from the contract means disabled.
struct AccessDiscount {
  bool enabled = false;
  int64_t max_percent = 0;                // 0..100
  int64_t at_original_share_percent = 0;  // 1..100: the original share where the cap is reached
  friend bool operator==(const AccessDiscount&, const AccessDiscount&) = default;
};

// One volume tier: reaching `threshold_accesses` successful accesses gives the discount.
struct VolumeTier {
  uint64_t threshold_accesses = 0;
  int64_t discount_percent = 0;  // 0..100
  friend bool operator==(const VolumeTier&, const VolumeTier&) = default;
};

// The advertising contribution of an ad-funded site.
struct Advertising {
  bool enabled = false;
  int64_t pool_minor = 0;  // the contribution when every ad shown was main's
  friend bool operator==(const Advertising&, const Advertising&) = default;
};

// The per-transaction handling fee on goods sold through tie-up pages.
struct Transactions {
  bool enabled = false;
  int64_t percent_bp = 0;   // basis points (1/100 of a percent) of the net amount, 0..10000
  int64_t fixed_minor = 0;  // per tie-up order
  friend bool operator==(const Transactions&, const Transactions&) = default;
};

// A parsed contract. `sha256_hex` is the SHA-256 of the exact file bytes: a statement names it
// so both sides know they computed with the same contract.
struct PartnershipContract {
  std::string partner;  // the partner's site id
  PartnershipKind kind = PartnershipKind::kLink;
  int64_t base_fee_minor = 0;  // the base fee of `kind`
  std::string currency;        // ISO 4217, three upper-case letters
  RoundingRule rounding = RoundingRule::kHalfEven;
  Service security;
  Service user_management;
  Service marketing;                       // direct mail to the partner's customers (campaigns)
  std::vector<ContentTier> content_tiers;  // sorted by measure, then by `from`
  AccessDiscount access_discount;
  std::vector<VolumeTier> volume_tiers;  // sorted by threshold
  Advertising advertising;
  Transactions transactions;
  std::string sha256_hex;
  friend bool operator==(const PartnershipContract&, const PartnershipContract&) = default;
};

// Parses a contract from TOML text. `source` names it in error messages (a file name). Errors
// are InvalidArgument naming the source, the line for syntax errors, and the key at fault.
Result<PartnershipContract> ParseContract(std::string_view toml_text,
                                          std::string_view source = "contract");

// Reads and parses the contract file at `path` through `env`.
Result<PartnershipContract> LoadContract(Env& env, const std::string& path);

}  // namespace tieup::fees
