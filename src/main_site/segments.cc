#include "main_site/segments.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <limits>
#include <map>
#include <set>

#include "base/encoding.h"
#include "commerce/shop.h"
#include "store/database.h"
#include "users/user_store.h"

namespace tieup {
namespace {

namespace json = boost::json;

constexpr int64_t kSegmentDayMicros = 86'400'000'000LL;
// Rules counting days accept up to ten years.
constexpr int64_t kSegmentMaxDays = 3660;

const std::vector<Migration>& SegmentMigrations() {
  static const std::vector<Migration> kMigrations = {
      {1,
       "CREATE TABLE marketing_segments ("
       "  name TEXT PRIMARY KEY,"
       "  definition TEXT NOT NULL,"
       "  created INTEGER NOT NULL,"
       "  created_by TEXT NOT NULL);"},
  };
  return kMigrations;
}

Status CheckRuleSite(std::string_view value, std::string_view rule) {
  if (value.empty() || value == "main") return Status::Ok();
  Status s = commerce::ValidateChannel(value);
  if (!s.ok()) {
    return Status::InvalidArgument(std::string(rule) + ": '" + std::string(value.substr(0, 64)) +
                                   "' is not a site id (a partner's id, or main)");
  }
  return Status::Ok();
}

Status CheckRuleNumber(int64_t value, int64_t max, std::string_view rule) {
  if (value < 0 || value > max) {
    return Status::InvalidArgument(std::string(rule) + " must be between 0 and " +
                                   std::to_string(max));
  }
  return Status::Ok();
}

Status CheckRuleText(std::string_view value, size_t max, std::string_view rule) {
  if (value.size() > max) {
    return Status::InvalidArgument(std::string(rule) + " is longer than " + std::to_string(max) +
                                   " characters");
  }
  for (unsigned char c : value) {
    if (c < 0x20 || c == 0x7f) {
      return Status::InvalidArgument(std::string(rule) + " holds a control character");
    }
  }
  return Status::Ok();
}

std::string SegmentDays(int64_t days) {
  return days == 1 ? "the last day" : "the last " + std::to_string(days) + " days";
}

}  // namespace

bool SegmentDefinition::HasOrderRule() const {
  return !bought_sku.empty() || !bought_category.empty() || !ordered_via.empty() ||
         ordered_within_days > 0 || min_orders > 0 || min_spent_minor > 0;
}

bool SegmentDefinition::HasVisitRule() const {
  return !visited_path.empty() || visited_within_days > 0 || min_visits > 0;
}

std::string DescribeSegment(const SegmentDefinition& d) {
  std::vector<std::string> parts;
  if (!d.registered_via.empty()) parts.push_back("registered via " + d.registered_via);
  if (!d.countries.empty()) {
    std::string list;
    for (const std::string& c : d.countries) list += (list.empty() ? "" : " or ") + c;
    parts.push_back("living in " + list);
  }
  if (!d.city.empty()) parts.push_back("in the city of " + d.city);
  if (d.registered_within_days > 0) {
    parts.push_back("registered in " + SegmentDays(d.registered_within_days));
  }
  if (d.marketing_consent) parts.push_back("consented to marketing mail");
  if (d.HasOrderRule()) {
    std::string o = std::to_string(std::max<int64_t>(d.min_orders, 1)) + "+ orders";
    if (!d.bought_sku.empty()) o += " of " + d.bought_sku;
    if (!d.bought_category.empty()) {
      o += (d.bought_sku.empty() ? " in category " : " and category ") + d.bought_category;
    }
    if (!d.ordered_via.empty()) o += " through " + d.ordered_via;
    if (d.ordered_within_days > 0) o += " in " + SegmentDays(d.ordered_within_days);
    if (d.min_spent_minor > 0)
      o += ", spending " + std::to_string(d.min_spent_minor) + "+ (minor units)";
    parts.push_back(o);
  }
  if (d.HasVisitRule()) {
    std::string v = std::to_string(std::max<int64_t>(d.min_visits, 1)) + "+ visits";
    v += d.visited_path.empty() ? " of any page" : " of " + d.visited_path + "*";
    if (d.visited_within_days > 0) v += " in " + SegmentDays(d.visited_within_days);
    parts.push_back(v);
  }
  if (parts.empty()) return "every active account";
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out;
}

std::string EncodeSegmentDefinition(const SegmentDefinition& d) {
  json::object o;
  auto text = [&](const char* key, const std::string& v) {
    if (!v.empty()) o[key] = v;
  };
  auto number = [&](const char* key, int64_t v) {
    if (v != 0) o[key] = v;
  };
  text("registered_via", d.registered_via);
  if (!d.countries.empty()) {
    json::array a;
    for (const std::string& c : d.countries) a.emplace_back(c);
    o["countries"] = std::move(a);
  }
  text("city", d.city);
  number("registered_within_days", d.registered_within_days);
  if (d.marketing_consent) o["marketing_consent"] = true;
  text("bought_sku", d.bought_sku);
  text("bought_category", d.bought_category);
  text("ordered_via", d.ordered_via);
  number("ordered_within_days", d.ordered_within_days);
  number("min_orders", d.min_orders);
  number("min_spent_minor", d.min_spent_minor);
  text("visited_path", d.visited_path);
  number("visited_within_days", d.visited_within_days);
  number("min_visits", d.min_visits);
  return json::serialize(o);
}

Result<SegmentDefinition> ParseSegmentDefinition(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    return Status::InvalidArgument("a segment definition must be a JSON object");
  }
  SegmentDefinition d;
  const std::map<std::string_view, std::string*> texts = {
      {"registered_via", &d.registered_via}, {"city", &d.city},
      {"bought_sku", &d.bought_sku},         {"bought_category", &d.bought_category},
      {"ordered_via", &d.ordered_via},       {"visited_path", &d.visited_path}};
  const std::map<std::string_view, int64_t*> numbers = {
      {"registered_within_days", &d.registered_within_days},
      {"ordered_within_days", &d.ordered_within_days},
      {"min_orders", &d.min_orders},
      {"min_spent_minor", &d.min_spent_minor},
      {"visited_within_days", &d.visited_within_days},
      {"min_visits", &d.min_visits}};
  for (const auto& [key, value] : v.as_object()) {
    const std::string name(key);
    if (auto t = texts.find(key); t != texts.end()) {
      if (!value.is_string()) return Status::InvalidArgument(name + " must be text");
      *t->second = std::string(value.as_string());
    } else if (auto n = numbers.find(key); n != numbers.end()) {
      if (!value.is_int64() && !value.is_uint64()) {
        return Status::InvalidArgument(name + " must be a whole number");
      }
      if (value.is_uint64() &&
          value.as_uint64() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Status::InvalidArgument(name + " is too large");
      }
      *n->second = value.is_int64() ? value.as_int64() : static_cast<int64_t>(value.as_uint64());
    } else if (key == "marketing_consent") {
      if (!value.is_bool()) return Status::InvalidArgument(name + " must be true or false");
      d.marketing_consent = value.as_bool();
    } else if (key == "countries") {
      if (!value.is_array()) return Status::InvalidArgument("countries must be a list of text");
      for (const json::value& c : value.as_array()) {
        if (!c.is_string()) return Status::InvalidArgument("countries must be a list of text");
        d.countries.emplace_back(c.as_string());
      }
    } else {
      return Status::InvalidArgument("unknown rule '" + name.substr(0, 40) + "' in a segment");
    }
  }
  RETURN_IF_ERROR(ValidateSegmentDefinition(d));
  return d;
}

Status ValidateSegmentDefinition(const SegmentDefinition& d) {
  RETURN_IF_ERROR(CheckRuleSite(d.registered_via, "registered via"));
  RETURN_IF_ERROR(CheckRuleSite(d.ordered_via, "ordered via"));
  if (d.countries.size() > 50) return Status::InvalidArgument("at most 50 countries");
  for (const std::string& c : d.countries) {
    if (c.empty()) return Status::InvalidArgument("a country is empty");
    RETURN_IF_ERROR(CheckRuleText(c, 60, "country"));
  }
  RETURN_IF_ERROR(CheckRuleText(d.city, 100, "city"));
  RETURN_IF_ERROR(CheckRuleText(d.bought_category, 100, "category"));
  if (!d.bought_sku.empty()) {
    Status s = commerce::ValidateSku(d.bought_sku);
    if (!s.ok()) return Status::InvalidArgument("bought SKU: " + s.message());
  }
  if (!d.visited_path.empty() && d.visited_path[0] != '/') {
    return Status::InvalidArgument("visited path must start with '/', as in /products/");
  }
  RETURN_IF_ERROR(CheckRuleText(d.visited_path, 500, "visited path"));
  RETURN_IF_ERROR(
      CheckRuleNumber(d.registered_within_days, kSegmentMaxDays, "registered within (days)"));
  RETURN_IF_ERROR(CheckRuleNumber(d.ordered_within_days, kSegmentMaxDays, "ordered within (days)"));
  RETURN_IF_ERROR(CheckRuleNumber(d.visited_within_days, kSegmentMaxDays, "visited within (days)"));
  RETURN_IF_ERROR(CheckRuleNumber(d.min_orders, 1'000'000, "minimum orders"));
  RETURN_IF_ERROR(CheckRuleNumber(d.min_visits, 1'000'000'000, "minimum visits"));
  RETURN_IF_ERROR(CheckRuleNumber(d.min_spent_minor, 1'000'000'000'000'000LL, "minimum spent"));
  return Status::Ok();
}

Status ValidateSegmentName(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 64 && std::isalnum(static_cast<unsigned char>(name[0]));
  for (char c : name) {
    ok = ok && (std::islower(static_cast<unsigned char>(c)) ||
                std::isdigit(static_cast<unsigned char>(c)) || c == '_' || c == '-');
  }
  if (!ok) {
    return Status::InvalidArgument("segment name '" + std::string(name.substr(0, 64)) +
                                   "': use 1 to 64 lower-case letters, digits, '-' or '_', "
                                   "starting with a letter or digit (as in tea-lovers)");
  }
  return Status::Ok();
}

Result<std::unique_ptr<Segments>> Segments::Open(Env& env, Database& db) {
  RETURN_IF_ERROR(Migrate(db, "marketing_segments", SegmentMigrations()));
  ASSIGN_OR_RETURN(auto users, users::UserStore::Open(env, db));
  return std::unique_ptr<Segments>(new Segments(env, db, std::move(users)));
}

Status Segments::Save(std::string_view name, const SegmentDefinition& definition,
                      std::string_view by, bool replace) {
  RETURN_IF_ERROR(ValidateSegmentName(name));
  RETURN_IF_ERROR(ValidateSegmentDefinition(definition));
  const std::string n(name);
  return db_.Transaction([&](Database& db) -> Status {
    ASSIGN_OR_RETURN(auto rows, db.Query("SELECT 1 FROM marketing_segments WHERE name = ?", {n}));
    if (!rows.empty() && !replace) {
      return Status::AlreadyExists("segment '" + n +
                                   "' exists; choose another name, or replace it (--replace)");
    }
    RETURN_IF_ERROR(db.Exec("DELETE FROM marketing_segments WHERE name = ?", {n}));
    return db.Exec(
        "INSERT INTO marketing_segments (name, definition, created, created_by) VALUES (?, ?, ?, "
        "?)",
        {n, EncodeSegmentDefinition(definition), env_.NowMicros(), std::string(by)});
  });
}

namespace {

Result<Segment> SegmentFromRow(const SqlRow& row) {
  Segment s;
  s.name = row.Text(0);
  auto d = ParseSegmentDefinition(row.Text(1));
  if (!d.ok()) return d.status().Annotate("segment '" + s.name + "' is damaged");
  s.definition = std::move(*d);
  s.created_micros = row.Int(2);
  s.created_by = row.Text(3);
  return s;
}

}  // namespace

Result<Segment> Segments::Get(std::string_view name) {
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT name, definition, created, created_by FROM "
                                        "marketing_segments WHERE name = ?",
                                        {std::string(name)}));
  if (rows.empty()) {
    return Status::NotFound("there is no segment '" + std::string(name.substr(0, 64)) +
                            "' (tieup main segments list shows them)");
  }
  return SegmentFromRow(rows[0]);
}

Result<std::vector<Segment>> Segments::List() {
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT name, definition, created, created_by FROM "
                                        "marketing_segments ORDER BY name"));
  std::vector<Segment> out;
  for (const SqlRow& row : rows) {
    ASSIGN_OR_RETURN(Segment s, SegmentFromRow(row));
    out.push_back(std::move(s));
  }
  return out;
}

Status Segments::Remove(std::string_view name) {
  RETURN_IF_ERROR(Get(name).status());
  return db_.Exec("DELETE FROM marketing_segments WHERE name = ?", {std::string(name)});
}

Result<std::vector<SegmentMember>> Segments::Members(const SegmentDefinition& d, int64_t limit,
                                                     int64_t offset) {
  RETURN_IF_ERROR(ValidateSegmentDefinition(d));
  const int64_t now = env_.NowMicros();
  // The accounts' rules first (the store's own reading of its rows), then the orders' and the
  // visits', each one query grouped by customer.
  users::UserFilter filter;
  if (!d.registered_via.empty()) filter.registered_via = d.registered_via;
  filter.limit = std::numeric_limits<int64_t>::max();
  ASSIGN_OR_RETURN(std::vector<users::User> accounts, users_->List(filter));

  struct Sums {
    int64_t orders = 0;
    int64_t spent = 0;
  };
  std::map<std::string, Sums> by_email;  // lower-cased e-mail -> its matching orders
  if (d.HasOrderRule()) {
    ASSIGN_OR_RETURN(bool has_orders, TableExists(db_, "commerce_orders"));
    if (has_orders) {
      std::string sql =
          "SELECT lower(o.email), COUNT(*), SUM(o.total_minor) FROM commerce_orders o WHERE "
          "o.status <> 'cancelled'";
      std::vector<SqlValue> params;
      if (d.ordered_within_days > 0) {
        sql += " AND o.created_micros >= ?";
        params.emplace_back(now - d.ordered_within_days * kSegmentDayMicros);
      }
      if (!d.ordered_via.empty()) {
        sql += " AND o.channel = ?";
        params.emplace_back(d.ordered_via);
      }
      if (!d.bought_sku.empty()) {
        sql +=
            " AND EXISTS (SELECT 1 FROM commerce_order_lines l WHERE l.order_id = o.id AND "
            "lower(l.sku) = ?)";
        params.emplace_back(LowerAscii(d.bought_sku));
      }
      if (!d.bought_category.empty()) {
        sql +=
            " AND EXISTS (SELECT 1 FROM commerce_order_lines l JOIN commerce_products p ON "
            "lower(p.sku) = lower(l.sku) WHERE l.order_id = o.id AND lower(p.category) = ?)";
        params.emplace_back(LowerAscii(d.bought_category));
      }
      sql += " GROUP BY lower(o.email)";
      ASSIGN_OR_RETURN(auto rows, db_.Query(sql, params));
      for (const SqlRow& row : rows) by_email[row.Text(0)] = Sums{row.Int(1), row.Int(2)};
    }
  }
  std::map<std::string, int64_t> visits;  // account id -> matching visits
  if (d.HasVisitRule()) {
    ASSIGN_OR_RETURN(bool has_visits, TableExists(db_, "ledger_user_visits"));
    if (has_visits) {
      std::string sql = "SELECT user_id, COUNT(*) FROM ledger_user_visits WHERE 1 = 1";
      std::vector<SqlValue> params;
      if (!d.visited_path.empty()) {
        sql += " AND path LIKE ? ESCAPE '\\'";
        // A prefix: the "contains" pattern without its leading '%'.
        params.emplace_back(LikeContainsPattern(d.visited_path).substr(1));
      }
      if (d.visited_within_days > 0) {
        sql += " AND time_micros >= ?";
        params.emplace_back(now - d.visited_within_days * kSegmentDayMicros);
      }
      sql += " GROUP BY user_id";
      ASSIGN_OR_RETURN(auto rows, db_.Query(sql, params));
      for (const SqlRow& row : rows) visits[row.Text(0)] = row.Int(1);
    }
  }

  std::set<std::string> countries;
  for (const std::string& c : d.countries) countries.insert(LowerAscii(c));
  const int64_t min_orders = std::max<int64_t>(d.min_orders, 1);
  const int64_t min_visits = std::max<int64_t>(d.min_visits, 1);
  std::vector<SegmentMember> members;
  for (const users::User& u : accounts) {
    if (u.disabled_micros != 0) continue;
    if (d.marketing_consent && u.marketing_consent_micros == 0) continue;
    if (!countries.empty() && !countries.contains(LowerAscii(u.address.country))) continue;
    if (!d.city.empty() && LowerAscii(u.address.city) != LowerAscii(d.city)) continue;
    if (d.registered_within_days > 0 &&
        u.registered_at_micros < now - d.registered_within_days * kSegmentDayMicros) {
      continue;
    }
    SegmentMember m{u.id, u.email, u.display_name, u.registered_via, u.marketing_consent_micros};
    if (d.HasOrderRule()) {
      auto it = by_email.find(LowerAscii(u.email));
      if (it == by_email.end() || it->second.orders < min_orders ||
          it->second.spent < d.min_spent_minor) {
        continue;
      }
      m.orders = it->second.orders;
      m.spent_minor = it->second.spent;
    }
    if (d.HasVisitRule()) {
      auto it = visits.find(u.id);
      if (it == visits.end() || it->second < min_visits) continue;
      m.visits = it->second;
    }
    members.push_back(std::move(m));
  }
  std::sort(members.begin(), members.end(),
            [](const SegmentMember& a, const SegmentMember& b) { return a.user_id < b.user_id; });
  if (offset > 0) {
    members.erase(
        members.begin(),
        members.begin() + std::min<int64_t>(offset, static_cast<int64_t>(members.size())));
  }
  if (limit > 0 && static_cast<int64_t>(members.size()) > limit) members.resize(limit);
  return members;
}

Result<int64_t> Segments::Count(const SegmentDefinition& definition) {
  ASSIGN_OR_RETURN(auto members, Members(definition));
  return static_cast<int64_t>(members.size());
}

}  // namespace tieup
