#include "sync/partnership_terms.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>

#include "sync/schema.h"

namespace tieup::sync {
namespace {

std::vector<std::string> SplitOptions(const std::string& text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= text.size()) {
    size_t comma = text.find(',', i);
    if (comma == std::string::npos) comma = text.size();
    if (comma > i) out.push_back(text.substr(i, comma - i));
    i = comma + 1;
  }
  return out;
}

std::string JoinOptions(const std::vector<std::string>& options) {
  std::string out;
  for (const std::string& o : options) out += (out.empty() ? "" : ",") + o;
  return out;
}

Result<bool> HasPartnershipsTable(Database& db) { return TableExists(db, "sync_partnerships"); }

}  // namespace

Status MigratePartnershipTerms(Database& db) {
  ASSIGN_OR_RETURN(bool present, HasPartnershipsTable(db));
  return present ? internal::MigrateSyncSchema(db) : Status::Ok();
}

namespace {

Result<std::set<std::string>> WithOption(Database& db, std::string_view option,
                                         std::string_view where) {
  ASSIGN_OR_RETURN(
      auto rows,
      db.Query("SELECT id, options FROM sync_partnerships WHERE revoked = 0" + std::string(where)));
  std::set<std::string> out;
  for (const SqlRow& r : rows) {
    for (const std::string& o : SplitOptions(r.Text(1))) {
      if (o == option) out.insert(r.Text(0));
    }
  }
  return out;
}

}  // namespace

Result<std::set<std::string>> PartnersWithOption(Database& db, std::string_view option) {
  return WithOption(db, option, "");
}

Result<std::set<std::string>> PushPartnersWithOption(Database& db, std::string_view option) {
  return WithOption(db, option, " AND sync_url <> ''");
}

Result<bool> PartnershipHasOption(Database& db, const std::string& id, std::string_view option) {
  ASSIGN_OR_RETURN(auto rows, db.Query("SELECT options FROM sync_partnerships WHERE id = ? AND "
                                       "revoked = 0",
                                       {id}));
  if (rows.empty()) return false;
  for (const std::string& o : SplitOptions(rows[0].Text(0))) {
    if (o == option) return true;
  }
  return false;
}

Result<std::optional<PartnershipLife>> ReadPartnershipLife(Database& db, const std::string& id) {
  // A database without the publisher's tables (a collector tested on its own) has no
  // partnerships; a main site's database always has them. Any other failure (a busy database)
  // is an error, never "no partnerships". The caller migrated the schema first
  // (MigratePartnershipTerms, or the publisher when it opened).
  ASSIGN_OR_RETURN(bool present, HasPartnershipsTable(db));
  if (!present) return std::optional<PartnershipLife>();
  ASSIGN_OR_RETURN(auto rows, db.Query("SELECT kind, created, revoked, options FROM "
                                       "sync_partnerships WHERE id = ?",
                                       {id}));
  if (rows.empty()) {
    return Status::NotFound("no partnership '" + id + "'; add it with 'tieup main partner add'");
  }
  PartnershipLife life;
  life.id = id;
  life.kind = rows[0].Text(0);
  life.created = rows[0].Int(1);
  life.options = SplitOptions(rows[0].Text(3));
  ASSIGN_OR_RETURN(auto changes, db.Query("SELECT option, enabled, at FROM sync_option_changes "
                                          "WHERE partner = ? ORDER BY at, rowid",
                                          {id}));
  for (const SqlRow& r : changes) {
    life.option_changes.push_back({r.Text(0), r.Int(1) != 0, r.Int(2)});
  }
  if (rows[0].Int(2) != 0) {
    ASSIGN_OR_RETURN(auto revoked, db.Query("SELECT COALESCE(MAX(time), 0) FROM sync_events "
                                            "WHERE partner = ? AND kind = 'revoked'",
                                            {id}));
    life.revoked_at = revoked.empty() ? 0 : revoked[0].Int(0);
    // Revocation always records its event (publisher); without it the billed days are unknown.
    if (life.revoked_at == 0) {
      return Status::FailedPrecondition("partnership '" + id +
                                        "' is revoked but its revocation event is missing from "
                                        "sync_events: its billed days cannot be known");
    }
  }
  return std::optional<PartnershipLife>(std::move(life));
}

Result<std::string> SetPartnershipOptions(Database& db, int64_t now, const std::string& id,
                                          std::vector<std::string> options, const std::string& by) {
  RETURN_IF_ERROR(internal::MigrateSyncSchema(db));
  std::sort(options.begin(), options.end());
  options.erase(std::unique(options.begin(), options.end()), options.end());
  std::string words;
  RETURN_IF_ERROR(db.Transaction([&](Database& tx) -> Status {
    ASSIGN_OR_RETURN(auto rows,
                     tx.Query("SELECT revoked, options FROM sync_partnerships WHERE id = ?", {id}));
    if (rows.empty()) {
      return Status::NotFound("no partner '" + id + "'; add it with 'tieup main partner add'");
    }
    if (rows[0].Int(0) != 0) {
      return Status::FailedPrecondition("partner '" + id + "' is revoked: its settings stay");
    }
    const std::string before = rows[0].Text(1);
    const std::string after = JoinOptions(options);
    if (before == after) return Status::Ok();
    words = "options: " + (before.empty() ? std::string("(none)") : before) + " -> " +
            (after.empty() ? std::string("(none)") : after);
    RETURN_IF_ERROR(tx.Exec("UPDATE sync_partnerships SET options = ? WHERE id = ?", {after, id}));
    const std::vector<std::string> was = SplitOptions(before);
    for (const std::string& o : was) {
      if (std::find(options.begin(), options.end(), o) == options.end()) {
        RETURN_IF_ERROR(
            tx.Exec("INSERT INTO sync_option_changes(partner, option, enabled, at) "
                    "VALUES(?, ?, 0, ?)",
                    {id, o, now}));
      }
    }
    for (const std::string& o : options) {
      if (std::find(was.begin(), was.end(), o) == was.end()) {
        RETURN_IF_ERROR(
            tx.Exec("INSERT INTO sync_option_changes(partner, option, enabled, at) "
                    "VALUES(?, ?, 1, ?)",
                    {id, o, now}));
      }
    }
    return internal::RecordEvent(tx, now, id, "", 0, "changed",
                                 "settings changed by " +
                                     (by.empty() ? std::string("the main manager") : by) + ": " +
                                     words + " (fee statements charge the enabled services only)");
  }));
  return words;
}

Result<CustomerCopyTerms> ParseCustomerCopyTerms(std::string_view fields, std::string_view scope) {
  CustomerCopyTerms terms;
  if (scope != "registered" && scope != "customers") {
    return Status::InvalidArgument(
        "the customers a copy is for must be 'registered' (registered "
        "through the partner) or 'customers' (registered or bought "
        "there), not '" +
        std::string(scope.substr(0, 40)) + "'");
  }
  terms.scope = std::string(scope);
  if (fields == "none") return terms;
  for (std::string f : SplitOptions(std::string(fields))) {
    while (!f.empty() && f.front() == ' ') f.erase(0, 1);
    while (!f.empty() && f.back() == ' ') f.pop_back();
    if (f.empty()) continue;
    bool known = false;
    for (const char* k : kCustomerCopyFields) known = known || f == k;
    if (!known) {
      return Status::InvalidArgument("'" + f.substr(0, 40) +
                                     "' is not a field a partner may copy: use name, email, "
                                     "address, marketing_consent (comma-separated), or none");
    }
    terms.fields.push_back(f);
  }
  std::sort(terms.fields.begin(), terms.fields.end());
  terms.fields.erase(std::unique(terms.fields.begin(), terms.fields.end()), terms.fields.end());
  return terms;
}

std::string DescribeCustomerCopyTerms(const CustomerCopyTerms& terms) {
  if (terms.fields.empty()) return "(none)";
  return JoinOptions(terms.fields) + (terms.scope == "customers"
                                          ? " of customers who registered or bought there"
                                          : " of customers who registered there");
}

Result<CustomerCopyTerms> ReadCustomerCopyTerms(Database& db, const std::string& id) {
  RETURN_IF_ERROR(internal::MigrateSyncSchema(db));
  ASSIGN_OR_RETURN(auto rows, db.Query("SELECT copy_fields, copy_for FROM sync_partnerships "
                                       "WHERE id = ?",
                                       {id}));
  if (rows.empty()) {
    return Status::NotFound("no partner '" + id + "'; add it with 'tieup main partner add'");
  }
  return ParseCustomerCopyTerms(rows[0].Text(0), rows[0].Text(1));
}

Result<std::string> SetCustomerCopyTerms(Database& db, int64_t now, const std::string& id,
                                         const CustomerCopyTerms& terms, const std::string& by) {
  RETURN_IF_ERROR(internal::MigrateSyncSchema(db));
  std::string words;
  RETURN_IF_ERROR(db.Transaction([&](Database& tx) -> Status {
    ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT revoked, copy_fields, copy_for FROM "
                                         "sync_partnerships WHERE id = ?",
                                         {id}));
    if (rows.empty()) {
      return Status::NotFound("no partner '" + id + "'; add it with 'tieup main partner add'");
    }
    if (rows[0].Int(0) != 0) {
      return Status::FailedPrecondition("partner '" + id + "' is revoked: its settings stay");
    }
    ASSIGN_OR_RETURN(CustomerCopyTerms before,
                     ParseCustomerCopyTerms(rows[0].Text(1), rows[0].Text(2)));
    if (before == terms) return Status::Ok();
    words = "customer copy: " + DescribeCustomerCopyTerms(before) + " -> " +
            DescribeCustomerCopyTerms(terms);
    RETURN_IF_ERROR(
        tx.Exec("UPDATE sync_partnerships SET copy_fields = ?, copy_for = ? WHERE id = ?",
                {JoinOptions(terms.fields), terms.scope, id}));
    return internal::RecordEvent(tx, now, id, "", 0, "changed",
                                 "settings changed by " +
                                     (by.empty() ? std::string("the main manager") : by) + ": " +
                                     words);
  }));
  return words;
}

Status CheckUserLogTerms(std::string_view terms) {
  for (const char* t : kUserLogTerms) {
    if (terms == t) return Status::Ok();
  }
  return Status::InvalidArgument(
      "user logs must be 'consent' (records name only customers who agreed), 'always' or "
      "'never', not '" +
      std::string(terms.substr(0, 40)) + "'");
}

Result<std::string> ReadUserLogTerms(Database& db, const std::string& id) {
  RETURN_IF_ERROR(internal::MigrateSyncSchema(db));
  ASSIGN_OR_RETURN(auto rows,
                   db.Query("SELECT user_logs FROM sync_partnerships WHERE id = ?", {id}));
  if (rows.empty()) {
    return Status::NotFound("no partner '" + id + "'; add it with 'tieup main partner add'");
  }
  return rows[0].Text(0);
}

Result<std::string> SetUserLogTerms(Database& db, int64_t now, const std::string& id,
                                    const std::string& terms, const std::string& by) {
  RETURN_IF_ERROR(CheckUserLogTerms(terms));
  RETURN_IF_ERROR(internal::MigrateSyncSchema(db));
  std::string words;
  RETURN_IF_ERROR(db.Transaction([&](Database& tx) -> Status {
    ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT revoked, user_logs FROM sync_partnerships WHERE "
                                         "id = ?",
                                         {id}));
    if (rows.empty()) {
      return Status::NotFound("no partner '" + id + "'; add it with 'tieup main partner add'");
    }
    if (rows[0].Int(0) != 0) {
      return Status::FailedPrecondition("partner '" + id + "' is revoked: its settings stay");
    }
    if (rows[0].Text(1) == terms) return Status::Ok();
    words = "user logs: " + rows[0].Text(1) + " -> " + terms;
    RETURN_IF_ERROR(
        tx.Exec("UPDATE sync_partnerships SET user_logs = ? WHERE id = ?", {terms, id}));
    return internal::RecordEvent(tx, now, id, "", 0, "changed",
                                 "settings changed by " +
                                     (by.empty() ? std::string("the main manager") : by) + ": " +
                                     words + " (from each customer's next sign-in there)");
  }));
  return words;
}

Status CheckWafTerms(const WafTerms& t) {
  if (t.mode != "block" && t.mode != "detect" && t.mode != "off") {
    return Status::InvalidArgument(
        "the WAF mode is 'block', 'detect' (record only) or 'off', not '" + t.mode.substr(0, 40) +
        "'");
  }
  if (t.paranoia_level < 1 || t.paranoia_level > 4) {
    return Status::InvalidArgument("the WAF paranoia level is 1 (few false positives) to 4, not " +
                                   std::to_string(t.paranoia_level));
  }
  if (t.anomaly_threshold < 1 || t.anomaly_threshold > 10000) {
    return Status::InvalidArgument(
        "the WAF anomaly threshold is 1 to 10000 (5 blocks on one critical match), not " +
        std::to_string(t.anomaly_threshold));
  }
  if (t.on_failure != "closed" && t.on_failure != "open") {
    return Status::InvalidArgument("the WAF on failure is 'closed' (answer 503) or 'open', not '" +
                                   t.on_failure.substr(0, 40) + "'");
  }
  if (t.exclude_rules.size() > 1000) {
    return Status::InvalidArgument("at most 1000 WAF rules can be excluded");
  }
  for (size_t i = 0; i < t.exclude_rules.size(); ++i) {
    const int id = t.exclude_rules[i];
    if (id <= 0 || id > 99'999'999 || (i > 0 && t.exclude_rules[i - 1] >= id)) {
      return Status::InvalidArgument(
          "the WAF rules to exclude are positive ids, sorted and distinct");
    }
  }
  return Status::Ok();
}

std::string EncodeWafTerms(const WafTerms& t) {
  std::string rules;
  for (int id : t.exclude_rules) rules += (rules.empty() ? "" : ",") + std::to_string(id);
  return "{\"anomaly_threshold\":" + std::to_string(t.anomaly_threshold) + ",\"exclude_rules\":[" +
         rules + "],\"mode\":\"" + t.mode + "\",\"on_failure\":\"" + t.on_failure +
         "\",\"paranoia_level\":" + std::to_string(t.paranoia_level) + "}";
}

Result<WafTerms> ParseWafTerms(std::string_view text) {
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(text, ec);
  const boost::json::object* o = ec ? nullptr : v.if_object();
  auto bad = [] { return Status::InvalidArgument("the WAF settings are not valid JSON terms"); };
  if (o == nullptr || o->size() != 5) return bad();
  const boost::json::value* mode = o->if_contains("mode");
  const boost::json::value* failure = o->if_contains("on_failure");
  const boost::json::value* level = o->if_contains("paranoia_level");
  const boost::json::value* threshold = o->if_contains("anomaly_threshold");
  const boost::json::value* rules = o->if_contains("exclude_rules");
  if (!mode || !mode->is_string() || !failure || !failure->is_string() || !level ||
      !level->is_int64() || !threshold || !threshold->is_int64() || !rules || !rules->is_array()) {
    return bad();
  }
  WafTerms t;
  t.mode = std::string(mode->as_string());
  t.on_failure = std::string(failure->as_string());
  if (level->as_int64() < 0 || level->as_int64() > 100000 || threshold->as_int64() < 0 ||
      threshold->as_int64() > 100000) {
    return bad();
  }
  t.paranoia_level = static_cast<int>(level->as_int64());
  t.anomaly_threshold = static_cast<int>(threshold->as_int64());
  for (const boost::json::value& r : rules->as_array()) {
    if (!r.is_int64() || r.as_int64() <= 0 || r.as_int64() > 99'999'999) return bad();
    t.exclude_rules.push_back(static_cast<int>(r.as_int64()));
  }
  RETURN_IF_ERROR(CheckWafTerms(t));
  if (EncodeWafTerms(t) != text) {
    return Status::InvalidArgument("the WAF settings are not in their canonical form");
  }
  return t;
}

std::string DescribeWafTerms(const WafTerms& t) {
  if (t.mode == "off") return "off";
  std::string out = (t.mode == "block" ? std::string("block") : std::string("detect only")) +
                    " at paranoia level " + std::to_string(t.paranoia_level) + ", threshold " +
                    std::to_string(t.anomaly_threshold);
  if (!t.exclude_rules.empty()) {
    out += ", excluding";
    for (int id : t.exclude_rules) out += " " + std::to_string(id);
  }
  return out + (t.on_failure == "open" ? "; fails open" : "; fails closed");
}

Result<std::vector<int>> ParseRuleList(std::string_view text) {
  std::vector<int> out;
  if (text == "none" || text.empty()) return out;
  for (std::string part : SplitOptions(std::string(text))) {
    while (!part.empty() && part.front() == ' ') part.erase(0, 1);
    while (!part.empty() && part.back() == ' ') part.pop_back();
    int id = 0;
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), id);
    if (part.empty() || ec != std::errc() || end != part.data() + part.size() || id <= 0 ||
        id > 99'999'999) {
      return Status::InvalidArgument(
          "'" + part.substr(0, 40) +
          "' is not a rule id: write ids such as 942100,920350, or none");
    }
    out.push_back(id);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Result<WafTerms> ReadWafTerms(Database& db, const std::string& id) {
  RETURN_IF_ERROR(internal::MigrateSyncSchema(db));
  ASSIGN_OR_RETURN(auto rows, db.Query("SELECT waf FROM sync_partnerships WHERE id = ?", {id}));
  if (rows.empty()) {
    return Status::NotFound("no partner '" + id + "'; add it with 'tieup main partner add'");
  }
  if (rows[0].Text(0).empty()) return WafTerms{};
  return ParseWafTerms(rows[0].Text(0));
}

Result<std::string> SetWafTerms(Database& db, int64_t now, const std::string& id,
                                const WafTerms& terms, const std::string& by) {
  RETURN_IF_ERROR(CheckWafTerms(terms));
  RETURN_IF_ERROR(internal::MigrateSyncSchema(db));
  std::string words;
  RETURN_IF_ERROR(db.Transaction([&](Database& tx) -> Status {
    ASSIGN_OR_RETURN(auto rows,
                     tx.Query("SELECT revoked, waf FROM sync_partnerships WHERE id = ?", {id}));
    if (rows.empty()) {
      return Status::NotFound("no partner '" + id + "'; add it with 'tieup main partner add'");
    }
    if (rows[0].Int(0) != 0) {
      return Status::FailedPrecondition("partner '" + id + "' is revoked: its settings stay");
    }
    WafTerms before;
    if (!rows[0].Text(1).empty()) {
      ASSIGN_OR_RETURN(before, ParseWafTerms(rows[0].Text(1)));
    }
    if (before == terms) return Status::Ok();
    words = "WAF: " + DescribeWafTerms(before) + " -> " + DescribeWafTerms(terms);
    RETURN_IF_ERROR(
        tx.Exec("UPDATE sync_partnerships SET waf = ? WHERE id = ?", {EncodeWafTerms(terms), id}));
    return internal::RecordEvent(tx, now, id, "", 0, "changed",
                                 "settings changed by " +
                                     (by.empty() ? std::string("the main manager") : by) + ": " +
                                     words + " (applied with the security service only)");
  }));
  return words;
}

}  // namespace tieup::sync
