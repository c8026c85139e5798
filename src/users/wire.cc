#include "users/wire.h"

#include <boost/json.hpp>
#include <initializer_list>
#include <map>

namespace tieup::users {
namespace {

namespace json = boost::json;

// Parses `text` as an object holding exactly the string fields `names`.
Result<std::map<std::string, std::string, std::less<>>> StringFields(
    std::string_view text, std::string_view what, std::initializer_list<std::string_view> names) {
  if (text.size() > kMaxUserJsonBytes) {
    return Status::ResourceExhausted(std::string(what) + " is larger than " +
                                     std::to_string(kMaxUserJsonBytes) + " bytes");
  }
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    return Status::InvalidArgument(std::string(what) + " is not a JSON object");
  }
  const json::object& o = v.get_object();
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

std::string LogoutNoticeToJson(std::string_view user_id) {
  return Serialize({{"user_id", user_id}});
}

Result<std::string> LogoutNoticeFromJson(std::string_view text) {
  ASSIGN_OR_RETURN(auto f, StringFields(text, "the sign-out notice", {"user_id"}));
  if (f["user_id"].empty()) return Status::InvalidArgument("the sign-out notice names no one");
  return std::move(f["user_id"]);
}

}  // namespace tieup::users
