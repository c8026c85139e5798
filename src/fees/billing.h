// What part of a period a statement bills, and which optional services: the partnership's life
// and settings as main records them (issue 15 item 8), applied to one period.
//
// Rules (README "Access ledger and fees"):
//  - a period that ends on or before the UTC day the partnership was added, or that starts
//    after the UTC day it was revoked, is refused (there is nothing to bill); so is a period
//    that has not begun;
//  - the billed days are the period's days from the day the partnership was added up to and
//    including the day it was revoked, and (for a period still running) up to and including
//    today: a statement for such a period is "to date" and may be written again later;
//  - recurring amounts (base fee, services, content tiers, the advertising pool) are prorated
//    by billed days / period days, rounded once with the contract's rule; amounts computed from
//    the ledger (accesses, orders, ad impressions) are not prorated: they only exist while the
//    partnership does;
//  - a service the contract prices is charged only for the billed days it was enabled for the
//    partnership (`tieup main partner set ID --options security,user_management`): a UTC day
//    counts when the service was on at any time of it; the price is prorated by those days /
//    period days (a service on for every billed day is prorated as the base fee);
//  - the contract's kind must be the partnership's kind.
// Types are values; functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "fees/contract.h"

namespace tieup::fees {

struct Period;

// The optional services a partnership may enable, by the names the contract's services have:
// "security", "user_management" and "marketing" (main's direct mail to the partner's customers,
// main_site/campaigns.h: a campaign reaches only the customers of partners with it enabled).
inline constexpr std::string_view kFeeOptionNames[] = {"security", "user_management", "marketing"};

// Whether `name` is one of kFeeOptionNames.
bool IsFeeOption(std::string_view name);

// A service switched on or off for a partnership.
struct OptionChange {
  std::string option;
  bool enabled = false;
  int64_t at_micros = 0;
};

// The partnership as main records it (sync_partnerships and its events).
struct PartnershipTerms {
  std::string partner;
  std::string kind;                  // "contents", "template" or "link"
  int64_t added_micros = 0;          // when `partner add` ran
  int64_t revoked_micros = 0;        // when `partner revoke` ran; 0: not revoked
  std::vector<std::string> options;  // enabled optional services now (kFeeOptionNames)
  // Every change of the services, oldest first. An option with no change recorded has had its
  // present state since the partnership was added; before its first change, an option had the
  // opposite state of that change.
  std::vector<OptionChange> option_changes;
};

// The billed part of a period and the enabled options, as a statement states them.
struct Billing {
  // false: a statement made without partnership terms (before issue 15, or a contract checked
  // on its own): the whole period, every service the contract enables. Such statements are
  // written in format tieup-fee-statement/1, with none of the fields below.
  bool stated = false;
  int64_t from_micros = 0;  // billed UTC days [from, to), within the period
  int64_t to_micros = 0;
  std::vector<std::string> options;  // options on for at least one billed day, sorted, distinct
  // The billed days an option of `options` was on, when fewer than all of them (written
  // "security:12" in the statement's enabled_options); an option not named here was on for
  // every billed day.
  std::map<std::string, int64_t> option_days;

  int64_t days() const;
  // The billed days `option` was on (0 when it is not in `options`).
  int64_t OptionDays(const std::string& option) const;
  friend bool operator==(const Billing&, const Billing&) = default;
};

// The billing of `period` under `terms` at time `now_micros` (see the rules above), after
// checking that `contract` is for the partnership's kind (InvalidArgument naming both kinds).
// FailedPrecondition, saying why and naming the dates, for a period outside the partnership's
// life or not begun yet.
Result<Billing> BillingFor(const Period& period, const PartnershipContract& contract,
                           const PartnershipTerms& terms, int64_t now_micros);

// The statement's form of the enabled options ("security:12;user_management") and back
// (InvalidArgument when not sorted, repeated, unknown, or a day count outside 1..days-1).
std::string EncodeEnabledOptions(const Billing& billing);
Status ParseEnabledOptions(std::string_view text, Billing& billing);

// "security,user_management" -> sorted, distinct names; each must be a fee option
// (InvalidArgument naming the bad one). Empty text: none. Separators: commas and spaces.
Result<std::vector<std::string>> ParseFeeOptions(std::string_view text);

}  // namespace tieup::fees
