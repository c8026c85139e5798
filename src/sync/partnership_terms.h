// What main's fee statements need of a partnership (issue 15 item 8): its kind, when it was
// added and revoked, and the optional services enabled for it (`tieup main partner set ID
// --options security,user_management`), read from and written to the publisher's tables. And
// which customer data the partner may keep a copy of (issue 16 item 5: `tieup main partner set ID
// --customer-copy name,email --customer-copy-for registered`).
//
// The options are a setting like the others: a change is recorded as a "changed" event naming
// who made it, shown by `tieup main events`. Functions are thread-safe as the Database is.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "store/database.h"

namespace tieup::sync {

struct PartnershipLife {
  std::string id;
  std::string kind;                  // "contents", "template" or "link"
  int64_t created = 0;               // unix seconds (`partner add`)
  int64_t revoked_at = 0;            // unix seconds of the revocation event; 0: not revoked
  std::vector<std::string> options;  // enabled optional services, as stored (sorted)
  // Each switch of a service on or off, oldest first (none before schema step 15).
  struct OptionChange {
    std::string option;
    bool enabled = false;
    int64_t at = 0;  // unix seconds
  };
  std::vector<OptionChange> option_changes;
};

// The partnership `id` as the publisher keeps it. nullopt when `db` holds no partnerships at all
// (not a main site's database); NotFound when it holds none named `id`; any other failure to
// read it (a busy database) is returned as the error. Needs the sync schema migrated.
Result<std::optional<PartnershipLife>> ReadPartnershipLife(Database& db, const std::string& id);

// Brings the publisher's tables up to date when `db` has them (a reader that opens no publisher,
// such as the command line's collector, calls it once before ReadPartnershipLife); does nothing
// to a database without them.
Status MigratePartnershipTerms(Database& db);

// Sets the optional services enabled for partnership `id` (names already checked by the
// caller; stored sorted and distinct) and records a "changed" event naming `by`, at `now` (unix
// seconds), and each service switched on or off (for the fee statement's days). Returns the
// change in words ("options: (none) -> security"), empty when nothing changed. NotFound for an
// unknown partnership, FailedPrecondition for a revoked one.
Result<std::string> SetPartnershipOptions(Database& db, int64_t now, const std::string& id,
                                          std::vector<std::string> options, const std::string& by);

// The partnerships, not revoked, that have optional service `option` ("security") enabled.
// Needs the sync schema migrated.
Result<std::set<std::string>> PartnersWithOption(Database& db, std::string_view option);
// The same, only those main pushes to (with a sync URL; not pull mode). One query.
Result<std::set<std::string>> PushPartnersWithOption(Database& db, std::string_view option);
// Whether partnership `id` (not revoked) has it: false for an unknown or revoked one.
Result<bool> PartnershipHasOption(Database& db, const std::string& id, std::string_view option);

// The customer data a partnership lets the partner keep a copy of (main sends it, signed, and
// keeps it current: main_site/customer_copies.h). Fields: kCustomerCopyFields; none: no copy.
inline constexpr const char* kCustomerCopyFields[] = {"name", "email", "address",
                                                      "marketing_consent"};
struct CustomerCopyTerms {
  std::vector<std::string> fields;  // sorted, distinct, each one of kCustomerCopyFields
  // Whose data: "registered" (accounts registered through the partner) or "customers" (those,
  // and accounts that bought through it: main's orders placed through the partner with the
  // account's e-mail address).
  std::string scope = "registered";

  friend bool operator==(const CustomerCopyTerms&, const CustomerCopyTerms&) = default;
};

// Parses "name,email" (spaces around names allowed; '' or "none": no field) and a scope;
// InvalidArgument naming what is accepted.
Result<CustomerCopyTerms> ParseCustomerCopyTerms(std::string_view fields, std::string_view scope);

// "name,email for registered customers", "(none)".
std::string DescribeCustomerCopyTerms(const CustomerCopyTerms& terms);

// The terms of partnership `id`: NotFound for an unknown one. Migrates the sync schema.
Result<CustomerCopyTerms> ReadCustomerCopyTerms(Database& db, const std::string& id);

// Sets them, recording a "changed" event naming `by` at `now` (unix seconds); returns the change
// in words, empty when nothing changed. NotFound, FailedPrecondition (revoked) as
// SetPartnershipOptions.
Result<std::string> SetCustomerCopyTerms(Database& db, int64_t now, const std::string& id,
                                         const CustomerCopyTerms& terms, const std::string& by);

// Whether the partner's access records may carry the signed-in customer's id (the user logs main
// keeps): "consent" (the default: only for customers who agreed on their account page), "always"
// (the contract lets the partner record every signed-in customer) or "never". Main tells the
// partner at each sign-in (the ID token's "tieup_record_visits").
inline constexpr const char* kUserLogTerms[] = {"consent", "always", "never"};
// InvalidArgument naming the accepted words.
Status CheckUserLogTerms(std::string_view terms);
// The terms of partnership `id` (NotFound for an unknown one); migrates the sync schema.
Result<std::string> ReadUserLogTerms(Database& db, const std::string& id);
// Sets them, recording a "changed" event naming `by`; returns the change in words, empty when
// nothing changed. Errors as SetCustomerCopyTerms.
Result<std::string> SetUserLogTerms(Database& db, int64_t now, const std::string& id,
                                    const std::string& terms, const std::string& by);

// The web application firewall's settings (issue 17 item 1; site/waf_gate.h): a site's own
// (site.toml [waf]) and, when main's `security` service is on for a partnership, main's for
// that partner, shipped signed in each of its tie-up releases as the machine file kWafTermsPath
// (canonical JSON, EncodeWafTerms), where they replace the partner's own.
inline constexpr std::string_view kWafTermsPath = "/.tieup/waf.json";
struct WafTerms {
  std::string mode = "block";         // "block", "detect" (record only) or "off"
  int paranoia_level = 1;             // 1 to 4
  int anomaly_threshold = 5;          // 1 to 10000
  std::vector<int> exclude_rules;     // sorted, distinct, positive
  std::string on_failure = "closed";  // "closed" (503) or "open"

  friend bool operator==(const WafTerms&, const WafTerms&) = default;
};
// InvalidArgument naming the setting and what it accepts.
Status CheckWafTerms(const WafTerms& terms);
// {"anomaly_threshold":5,"exclude_rules":[],"mode":"block","on_failure":"closed",
// "paranoia_level":1}: keys in order, no spaces.
std::string EncodeWafTerms(const WafTerms& terms);
// Exactly what EncodeWafTerms writes, with checked values; InvalidArgument otherwise.
Result<WafTerms> ParseWafTerms(std::string_view json);
// "block at paranoia level 1, threshold 5, excluding 942100 920350; fails closed".
std::string DescribeWafTerms(const WafTerms& terms);
// "942100,920350" (or "none") to rule ids, sorted and distinct; InvalidArgument otherwise.
Result<std::vector<int>> ParseRuleList(std::string_view text);

// The WAF terms of partnership `id` (the defaults until set): NotFound for an unknown one.
// Migrates the sync schema.
Result<WafTerms> ReadWafTerms(Database& db, const std::string& id);
// Sets them (checked), recording a "changed" event naming `by`; returns the change in words,
// empty when nothing changed. Errors as SetCustomerCopyTerms. They reach the partner with its
// next tie-up release (the caller asks the publisher for one), and apply only while the
// partnership's `security` service is on.
Result<std::string> SetWafTerms(Database& db, int64_t now, const std::string& id,
                                const WafTerms& terms, const std::string& by);

}  // namespace tieup::sync
