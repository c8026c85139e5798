// Customer segments for main's marketing on the partners' behalf (issue 19 item 1): a named
// definition over the central accounts (users/user_store.h), main's orders (the shop's tables:
// main's own and every order a partner delegated) and the user logs (the access records naming a
// signed-in customer, main_site/ledger_service.h LedgerVisit), saved in main's database (table
// marketing_segments) and counted live: a segment's members are computed when asked, never kept.
//
// It lives here rather than in users/ (DESIGN.md puts marketing there) because it reads the tables
// of three modules (users, commerce, and main's ledger mirror), which only main wires together.
//
// A definition's rules all hold for a member (AND); a rule left empty does not restrict:
//   accounts   registered via a partner (or "main": a segment restricted to one partner's
//              customers), postal-address country (one of) and city, registered within D days,
//              marketing consent given;
//   orders     (any order rule set) at least `min_orders` orders (default 1) not cancelled, by the
//              account's e-mail address, within `ordered_within_days`, through `ordered_via` (a
//              partner id or "main"), holding `bought_sku` and/or a product of `bought_category`,
//              totalling at least `min_spent_minor`;
//   visits     (any visit rule set) at least `min_visits` (default 1) recorded visits of a path
//              starting with `visited_path` within `visited_within_days`.
// Disabled accounts are never members.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "store/database.h"
#include "users/user_store.h"

namespace tieup {

struct SegmentDefinition {
  // accounts
  std::string registered_via;          // a partner id or "main"; empty: any
  std::vector<std::string> countries;  // as customers wrote them, compared ignoring ASCII case
  std::string city;                    // ignoring ASCII case; empty: any
  int64_t registered_within_days = 0;  // 0: any time
  bool marketing_consent = false;      // only customers who asked for news by mail
  // orders
  std::string bought_sku;
  std::string bought_category;
  std::string ordered_via;  // the order's channel: a partner id or "main"
  int64_t ordered_within_days = 0;
  int64_t min_orders = 0;
  int64_t min_spent_minor = 0;
  // visits
  std::string visited_path;  // a path prefix ("/products/"); empty: any page
  int64_t visited_within_days = 0;
  int64_t min_visits = 0;

  bool HasOrderRule() const;
  bool HasVisitRule() const;
  friend bool operator==(const SegmentDefinition&, const SegmentDefinition&) = default;
};

// A definition in words, for lists and consoles ("registered via shop-a; consented to marketing
// mail; 2+ orders of TEA-1 in the last 90 days").
std::string DescribeSegment(const SegmentDefinition& definition);

// The definition as stored (a JSON object) and back; ParseSegmentDefinition refuses unknown
// fields, wrong types, negative numbers and bad values with InvalidArgument naming the field.
std::string EncodeSegmentDefinition(const SegmentDefinition& definition);
Result<SegmentDefinition> ParseSegmentDefinition(std::string_view json);

// Checks a definition's values (ids, SKU, path, numbers); InvalidArgument naming the rule.
Status ValidateSegmentDefinition(const SegmentDefinition& definition);

// A segment's name: 1..64 of [a-z0-9_-], starting with a letter or digit.
Status ValidateSegmentName(std::string_view name);

struct Segment {
  std::string name;
  SegmentDefinition definition;
  int64_t created_micros = 0;
  std::string created_by;
};

// A member, with what made it one.
struct SegmentMember {
  std::string user_id;
  std::string email;
  std::string display_name;
  std::string registered_via;
  int64_t marketing_consent_micros = 0;
  int64_t orders = 0;       // matching orders (0 without an order rule)
  int64_t spent_minor = 0;  // their total
  int64_t visits = 0;       // matching visits (0 without a visit rule)
};

// Thread-safe. `db` must outlive the object.
class Segments {
 public:
  // Migrates the "marketing_segments" schema.
  static Result<std::unique_ptr<Segments>> Open(Env& env, Database& db);

  // Saves a segment. InvalidArgument for a bad name or definition; AlreadyExists when the name
  // is taken and `replace` is false.
  Status Save(std::string_view name, const SegmentDefinition& definition, std::string_view by,
              bool replace = false);
  // NotFound (saying how to list them) for an unknown name.
  Result<Segment> Get(std::string_view name);
  // By name.
  Result<std::vector<Segment>> List();
  Status Remove(std::string_view name);

  // The members now, ordered by account id; at most `limit` (0: all) after skipping `offset`.
  Result<std::vector<SegmentMember>> Members(const SegmentDefinition& definition, int64_t limit = 0,
                                             int64_t offset = 0);
  // How many members now.
  Result<int64_t> Count(const SegmentDefinition& definition);

 private:
  Segments(Env& env, Database& db, std::unique_ptr<users::UserStore> users)
      : env_(env), db_(db), users_(std::move(users)) {}
  Env& env_;
  Database& db_;
  std::unique_ptr<users::UserStore> users_;  // the accounts' rows, read by Members
};

}  // namespace tieup
