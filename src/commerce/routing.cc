#include "commerce/routing.h"

#include <boost/json.hpp>
#include <charconv>

namespace tieup::commerce {
namespace {

namespace json = boost::json;

bool IsFieldChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
}

std::optional<int64_t> ParseInteger(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool OneHolds(const RouteCondition& c, std::string_view value) {
  using Op = RouteCondition::Op;
  switch (c.op) {
    case Op::kEq:
      return value == c.value;
    case Op::kNe:
      return value != c.value;
    case Op::kPrefix:
      return value.starts_with(c.value);
    default:
      break;
  }
  std::optional<int64_t> n = ParseInteger(value);
  if (!n) return false;
  switch (c.op) {
    case Op::kLt:
      return *n < c.number;
    case Op::kLe:
      return *n <= c.number;
    case Op::kGt:
      return *n > c.number;
    case Op::kGe:
      return *n >= c.number;
    default:
      return false;
  }
}

}  // namespace

std::string_view RouteModeName(RouteMode mode) {
  switch (mode) {
    case RouteMode::kLocal:
      return "local";
    case RouteMode::kDelegate:
      return "delegate";
    case RouteMode::kConsult:
      return "consult";
  }
  return "local";
}

Result<RouteMode> ParseRouteMode(std::string_view text) {
  if (text == "local") return RouteMode::kLocal;
  if (text == "delegate") return RouteMode::kDelegate;
  if (text == "consult") return RouteMode::kConsult;
  return Status::InvalidArgument("unknown mode '" + std::string(text) +
                                 "': write local, delegate or consult");
}

Result<RouteCondition> ParseRouteCondition(std::string_view text) {
  RouteCondition c;
  c.text = std::string(text);
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("condition '" + std::string(text) + "': " + why +
                                   " (write FIELD OP VALUE, e.g. \"amount_minor >= 100000\")");
  };
  std::string_view rest = TrimSpaces(text);
  size_t i = 0;
  while (i < rest.size() && IsFieldChar(rest[i])) ++i;
  if (i == 0) return bad("it does not start with a field name of [a-z0-9_.]");
  c.field = std::string(rest.substr(0, i));
  rest = TrimSpaces(rest.substr(i));
  using Op = RouteCondition::Op;
  static const std::pair<std::string_view, Op> kOps[] = {
      {"==", Op::kEq},     {"!=", Op::kNe}, {"<=", Op::kLe}, {">=", Op::kGe},
      {"^=", Op::kPrefix}, {"<", Op::kLt},  {">", Op::kGt}};
  bool found = false;
  for (const auto& [word, op] : kOps) {
    if (rest.starts_with(word)) {
      c.op = op;
      rest = TrimSpaces(rest.substr(word.size()));
      found = true;
      break;
    }
  }
  if (!found) return bad("no operator after '" + c.field + "'; use == != < <= > >= or ^=");
  if (rest.size() >= 2 && rest.front() == '"' && rest.back() == '"') {
    rest = rest.substr(1, rest.size() - 2);
    if (rest.find('"') != std::string_view::npos) return bad("a quoted value holds a '\"'");
  } else if (rest.find_first_of(" \t\"") != std::string_view::npos) {
    return bad("the value holds a space or a quote; quote the whole value");
  }
  c.value = std::string(rest);
  if (c.op == Op::kLt || c.op == Op::kLe || c.op == Op::kGt || c.op == Op::kGe) {
    std::optional<int64_t> n = ParseInteger(c.value);
    if (!n) return bad("'" + c.value + "' is not an integer (ordering needs one)");
    c.number = *n;
  } else if (c.value.empty() && c.op == Op::kPrefix) {
    return bad("an empty prefix matches everything; drop the condition instead");
  }
  return c;
}

bool ConditionHolds(const RouteCondition& condition,
                    const std::multimap<std::string, std::string, std::less<>>& fields) {
  auto [begin, end] = fields.equal_range(condition.field);
  if (condition.op == RouteCondition::Op::kNe) {
    for (auto it = begin; it != end; ++it) {
      if (it->second == condition.value) return false;
    }
    return true;
  }
  for (auto it = begin; it != end; ++it) {
    if (OneHolds(condition, it->second)) return true;
  }
  return false;
}

Result<RoutingTable> RoutingTable::Parse(std::string_view text) {
  const std::string where = "routing table " + std::string(kRoutingTablePath);
  if (text.size() > kMaxRoutingTableBytes) {
    return Status::InvalidArgument(where + " is " + std::to_string(text.size()) +
                                   " bytes; at most " + std::to_string(kMaxRoutingTableBytes) +
                                   " are accepted");
  }
  boost::system::error_code ec;
  json::value doc = json::parse(text, ec);
  if (ec) return Status::InvalidArgument(where + " is not valid JSON: " + ec.message());
  const json::object* root = doc.if_object();
  if (!root) return Status::InvalidArgument(where + " must be a JSON object");
  RoutingTable table;
  for (const auto& [key, value] : *root) {
    if (key == "default") {
      const json::string* s = value.if_string();
      if (!s) return Status::InvalidArgument(where + ": \"default\" must be a string");
      auto mode = ParseRouteMode(*s);
      if (!mode.ok()) return mode.status().Annotate(where + ": \"default\"");
      table.default_mode_ = *mode;
    } else if (key == "rules") {
      const json::array* rules = value.if_array();
      if (!rules) return Status::InvalidArgument(where + ": \"rules\" must be an array");
      if (rules->size() > kMaxRules) {
        return Status::InvalidArgument(where + " has " + std::to_string(rules->size()) +
                                       " rules; at most " + std::to_string(kMaxRules));
      }
      for (size_t i = 0; i < rules->size(); ++i) {
        const std::string at = where + ": rule " + std::to_string(i + 1);
        const json::object* o = (*rules)[i].if_object();
        if (!o) return Status::InvalidArgument(at + " must be an object");
        RouteRule rule;
        bool has_mode = false, has_path = false;
        for (const auto& [k, v] : *o) {
          if (k == "name") {
            const json::string* s = v.if_string();
            if (!s || s->size() > 200) {
              return Status::InvalidArgument(at + ": \"name\" must be a string (200 bytes max)");
            }
            rule.name = std::string(*s);
          } else if (k == "path") {
            const json::string* s = v.if_string();
            if (!s || s->empty() || s->front() != '/' || s->size() > 1024) {
              return Status::InvalidArgument(at +
                                             ": \"path\" must be a path prefix starting with "
                                             "'/', e.g. \"/shop/checkout\"");
            }
            rule.path_prefix = std::string(*s);
            has_path = true;
          } else if (k == "methods") {
            const json::array* a = v.if_array();
            if (!a) return Status::InvalidArgument(at + ": \"methods\" must be an array");
            for (const json::value& m : *a) {
              const json::string* s = m.if_string();
              std::string method = s ? std::string(*s) : std::string();
              bool upper = !method.empty() && method.size() <= 16;
              for (char c : method) upper = upper && c >= 'A' && c <= 'Z';
              if (!upper) {
                return Status::InvalidArgument(
                    at + ": \"methods\" must hold upper-case method names such as \"POST\"");
              }
              rule.methods.push_back(std::move(method));
            }
          } else if (k == "when") {
            const json::array* a = v.if_array();
            if (!a) return Status::InvalidArgument(at + ": \"when\" must be an array of strings");
            if (a->size() > kMaxConditions) {
              return Status::InvalidArgument(at + " has more than " +
                                             std::to_string(kMaxConditions) + " conditions");
            }
            for (const json::value& w : *a) {
              const json::string* s = w.if_string();
              if (!s) return Status::InvalidArgument(at + ": \"when\" must hold strings");
              auto c = ParseRouteCondition(*s);
              if (!c.ok()) return c.status().Annotate(at);
              rule.when.push_back(std::move(*c));
            }
          } else if (k == "mode") {
            const json::string* s = v.if_string();
            if (!s) return Status::InvalidArgument(at + ": \"mode\" must be a string");
            auto mode = ParseRouteMode(*s);
            if (!mode.ok()) return mode.status().Annotate(at);
            rule.mode = *mode;
            has_mode = true;
          } else {
            return Status::InvalidArgument(at + ": unknown key \"" + std::string(k) +
                                           "\" (known: name, path, methods, when, mode)");
          }
        }
        if (!has_path) return Status::InvalidArgument(at + " lacks \"path\"");
        if (!has_mode) return Status::InvalidArgument(at + " lacks \"mode\"");
        table.rules_.push_back(std::move(rule));
      }
    } else {
      return Status::InvalidArgument(where + ": unknown key \"" + std::string(key) +
                                     "\" (known: default, rules)");
    }
  }
  return table;
}

RouteDecision RoutingTable::Decide(const RouteRequest& request) const {
  RouteDecision d;
  if (request.area == Area::kOriginal) {
    d.mode = RouteMode::kLocal;
    d.why = "original page: always local";
    return d;
  }
  for (size_t i = 0; i < rules_.size(); ++i) {
    const RouteRule& r = rules_[i];
    if (!request.path.starts_with(r.path_prefix)) continue;
    if (!r.methods.empty()) {
      bool method_ok = false;
      for (const std::string& m : r.methods) method_ok = method_ok || m == request.method;
      if (!method_ok) continue;
    }
    bool all = true;
    for (const RouteCondition& c : r.when) {
      if (!ConditionHolds(c, request.fields)) {
        all = false;
        break;
      }
    }
    if (!all) continue;
    d.mode = r.mode;
    d.rule_index = static_cast<int>(i);
    d.why =
        "rule " + std::to_string(i + 1) + (r.name.empty() ? "" : " '" + r.name + "'") + " matched";
    return d;
  }
  d.mode = default_mode_;
  d.why = "no rule matched: the default";
  return d;
}

}  // namespace tieup::commerce
