#include "users/wire.h"

#include <boost/json.hpp>
#include <initializer_list>
#include <map>

namespace tieup::users {
namespace {

namespace json = boost::json;

// Parses `text` (`what`, for the errors) as a JSON object of at most kMaxUserJsonBytes.
Result<json::object> ParseObject(std::string_view text, std::string_view what) {
  if (text.size() > kMaxUserJsonBytes) {
    return Status::ResourceExhausted(std::string(what) + " is larger than " +
                                     std::to_string(kMaxUserJsonBytes) + " bytes");
  }
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    return Status::InvalidArgument(std::string(what) + " is not a JSON object");
  }
  return std::move(v.get_object());
}

// Parses `text` as an object holding exactly the string fields `names`.
Result<std::map<std::string, std::string, std::less<>>> StringFields(
    std::string_view text, std::string_view what, std::initializer_list<std::string_view> names) {
  ASSIGN_OR_RETURN(const json::object o, ParseObject(text, what));
  std::map<std::string, std::string, std::less<>> out;
  for (std::string_view name : names) {
    const json::value* f = o.if_contains(name);
    if (f == nullptr || !f->is_string()) {
      return Status::InvalidArgument(std::string(what) + " needs the string field \"" +
                                     std::string(name) + "\"");
    }
    out.emplace(name, std::string(f->get_string()));
  }
  if (o.size() != names.size()) {
    for (const auto& [key, value] : o) {
      if (!out.count(std::string_view(key))) {
        return Status::InvalidArgument(std::string(what) + " has an unknown field \"" +
                                       std::string(key).substr(0, 40) + "\"");
      }
    }
  }
  return out;
}

std::string Serialize(std::initializer_list<std::pair<std::string_view, std::string_view>> f) {
  json::object o;
  for (const auto& [k, v] : f) o[k] = v;
  return json::serialize(o);
}

}  // namespace

std::string SsoClientGrantToJson(const SsoClientGrant& g) {
  return Serialize({{"client_id", g.client_id},
                    {"client_secret", g.client_secret},
                    {"issuer", g.issuer},
                    {"post_logout_redirect_uri", g.post_logout_redirect_uri},
                    {"redirect_uri", g.redirect_uri}});
}

Result<SsoClientGrant> SsoClientGrantFromJson(std::string_view text) {
  ASSIGN_OR_RETURN(auto f, StringFields(text, "the single sign-on grant",
                                        {"client_id", "client_secret", "issuer",
                                         "post_logout_redirect_uri", "redirect_uri"}));
  SsoClientGrant g;
  g.client_id = std::move(f["client_id"]);
  g.client_secret = std::move(f["client_secret"]);
  g.issuer = std::move(f["issuer"]);
  g.post_logout_redirect_uri = std::move(f["post_logout_redirect_uri"]);
  g.redirect_uri = std::move(f["redirect_uri"]);
  if (g.client_id.empty() || g.client_secret.empty() || g.issuer.empty() ||
      g.redirect_uri.empty()) {
    return Status::InvalidArgument("the single sign-on grant has an empty field");
  }
  return g;
}

std::string LogoutNoticeToJson(const LogoutNotice& notice) {
  json::object o{{"user_id", notice.user_id}};
  if (notice.signed_out_at > 0) o["signed_out_at"] = notice.signed_out_at;
  return json::serialize(o);
}

Result<LogoutNotice> LogoutNoticeFromJson(std::string_view text) {
  ASSIGN_OR_RETURN(const json::object o, ParseObject(text, "the sign-out notice"));
  LogoutNotice notice;
  for (const auto& [key, value] : o) {
    if (key == "user_id" && value.is_string()) {
      notice.user_id = std::string(value.get_string());
    } else if (key == "signed_out_at" && value.is_int64() && value.get_int64() > 0) {
      notice.signed_out_at = value.get_int64();
    } else if (key == "user_id" || key == "signed_out_at") {
      return Status::InvalidArgument(key == "user_id"
                                         ? "the sign-out notice's user_id is not a string"
                                         : "the sign-out notice's signed_out_at is not a "
                                           "positive integer");
    } else {
      return Status::InvalidArgument("the sign-out notice has an unknown field \"" +
                                     std::string(key).substr(0, 40) + "\"");
    }
  }
  if (notice.user_id.empty()) return Status::InvalidArgument("the sign-out notice names no one");
  return notice;
}

std::string PartnerOrdersQueryToJson(std::string_view email_sha256) {
  return Serialize({{"email_sha256", email_sha256}});
}

Result<std::string> PartnerOrdersQueryFromJson(std::string_view text) {
  ASSIGN_OR_RETURN(auto f, StringFields(text, "the orders query", {"email_sha256"}));
  const std::string& hash = f["email_sha256"];
  if (hash.size() != 64 || hash.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return Status::InvalidArgument(
        "the orders query's email_sha256 is not 64 lower-case hexadecimal digits");
  }
  return std::move(f["email_sha256"]);
}

std::string PartnerOrdersToJson(const std::vector<commerce::OrderSummary>& orders) {
  json::array list;
  for (const commerce::OrderSummary& o : orders) {
    list.push_back(json::object{{"href", o.href},
                                {"number", o.number},
                                {"placed", o.placed},
                                {"placed_micros", o.placed_micros},
                                {"status", o.status},
                                {"total", o.total}});
  }
  return json::serialize(json::object{{"orders", std::move(list)}});
}

Result<std::vector<commerce::OrderSummary>> PartnerOrdersFromJson(std::string_view text) {
  if (text.size() > kMaxPartnerOrdersJsonBytes) {
    return Status::ResourceExhausted("the partner's orders answer is larger than " +
                                     std::to_string(kMaxPartnerOrdersJsonBytes) + " bytes");
  }
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  const json::object* o = ec ? nullptr : v.if_object();
  const json::value* orders = o == nullptr ? nullptr : o->if_contains("orders");
  if (orders == nullptr || !orders->is_array() || o->size() != 1) {
    return Status::InvalidArgument(
        "the partner's orders answer is not a JSON object with only an \"orders\" array");
  }
  if (orders->get_array().size() > kMaxPartnerOrders) {
    return Status::InvalidArgument("the partner's orders answer lists more than " +
                                   std::to_string(kMaxPartnerOrders) + " orders");
  }
  std::vector<commerce::OrderSummary> out;
  for (const json::value& item : orders->get_array()) {
    const json::object* e = item.if_object();
    auto text_of = [&](std::string_view key) -> const json::string* {
      const json::value* f = e == nullptr ? nullptr : e->if_contains(key);
      return f == nullptr ? nullptr : f->if_string();
    };
    const json::value* micros = e == nullptr ? nullptr : e->if_contains("placed_micros");
    const json::string *href = text_of("href"), *number = text_of("number"),
                       *placed = text_of("placed"), *status = text_of("status"),
                       *total = text_of("total");
    if (e == nullptr || e->size() != 6 || href == nullptr || number == nullptr ||
        placed == nullptr || status == nullptr || total == nullptr || micros == nullptr ||
        !micros->is_int64() || micros->get_int64() < 0) {
      return Status::InvalidArgument(
          "an order in the partner's answer is not an object of exactly href, number, placed, "
          "placed_micros (a non-negative integer), status and total");
    }
    if (href->empty() || href->front() != '/' || (href->size() > 1 && (*href)[1] == '/') ||
        href->find('\\') != json::string::npos) {
      return Status::InvalidArgument("an order's link in the partner's answer is not a path");
    }
    commerce::OrderSummary s;
    s.number = std::string(*number);
    s.placed = std::string(*placed);
    s.placed_micros = micros->get_int64();
    s.status = std::string(*status);
    s.total = std::string(*total);
    s.href = std::string(*href);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace tieup::users
