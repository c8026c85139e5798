#include "users/sso_client.h"

#include <algorithm>
#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <boost/url/url.hpp>

#include "base/encoding.h"
#include "commerce/form.h"
#include "crypto/hash.h"
#include "crypto/jose.h"

namespace tieup::users {
namespace {

namespace json = boost::json;

constexpr int64_t kMicros = 1'000'000;
constexpr int64_t kSkewSeconds = 60;
constexpr size_t kMaxReturnPathBytes = 512;

std::string Encode(std::string_view s) {
  return boost::urls::encode(s, boost::urls::unreserved_chars);
}

// The pending sign-in in the cookie: state.nonce.verifier.issued.return (each base64url or
// digits; no '.' inside).
struct Pending {
  std::string state, nonce, verifier, return_path;
  int64_t issued = 0;
};

std::string PendingToCookie(const Pending& p) {
  return p.state + "." + p.nonce + "." + p.verifier + "." + std::to_string(p.issued) + "." +
         Base64UrlEncode(p.return_path);
}

std::optional<Pending> PendingFromCookie(std::string_view value) {
  std::string_view parts[5];
  for (int i = 0; i < 5; ++i) {
    const size_t dot = value.find('.');
    if ((dot == std::string_view::npos) != (i == 4)) return std::nullopt;
    parts[i] = value.substr(0, dot);
    if (i < 4) value.remove_prefix(dot + 1);
  }
  Pending p;
  p.state = std::string(parts[0]);
  p.nonce = std::string(parts[1]);
  p.verifier = std::string(parts[2]);
  if (p.state.size() != 43 || p.nonce.size() != 43 || p.verifier.size() != 43) return std::nullopt;
  try {
    p.issued = std::stoll(std::string(parts[3]));
  } catch (const std::exception&) {
    return std::nullopt;
  }
  auto ret = Base64UrlDecode(parts[4]);
  if (!ret.ok() || ret->empty() || (*ret)[0] != '/') return std::nullopt;
  p.return_path = std::move(*ret);
  return p;
}

std::string StringClaim(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::optional<int64_t> IntClaim(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  return std::nullopt;
}

bool AudienceIs(const json::object& o, std::string_view client_id) {
  const json::value* aud = o.if_contains("aud");
  if (aud == nullptr) return false;
  if (aud->is_string()) return aud->as_string() == client_id;
  if (aud->is_array()) {
    const json::array& a = aud->as_array();
    // Several audiences need azp (Core 3.1.3.7); main never makes them.
    return a.size() == 1 && a[0].is_string() && a[0].as_string() == client_id;
  }
  return false;
}

}  // namespace

SingleSignOn::SingleSignOn(Env& env, SsoTransport transport)
    : env_(env), transport_(std::move(transport)) {}
SingleSignOn::~SingleSignOn() = default;

Result<SsoClientGrant> SingleSignOn::Grant(bool fresh) {
  std::lock_guard<std::mutex> lock(mu_);
  if (grant_ && !fresh) return *grant_;
  if (!transport_.register_client) return Status::Unavailable("single sign-on is not set up");
  ASSIGN_OR_RETURN(SsoClientGrant grant, transport_.register_client());
  grant_ = grant;
  return grant;
}

Result<std::string> SingleSignOn::Jwks(bool fresh) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!jwks_.empty() && !fresh) return jwks_;
  }
  ASSIGN_OR_RETURN(std::string jwks, transport_.fetch_jwks());
  std::lock_guard<std::mutex> lock(mu_);
  jwks_ = jwks;
  return jwks;
}

Result<SingleSignOn::Start> SingleSignOn::Begin(std::string_view return_path, bool create) {
  ASSIGN_OR_RETURN(SsoClientGrant grant, Grant(false));
  Pending p;
  p.state = Base64UrlEncode(RandomString(env_, 32));
  p.nonce = Base64UrlEncode(RandomString(env_, 32));
  p.verifier = Base64UrlEncode(RandomString(env_, 32));
  p.issued = env_.NowSeconds();
  p.return_path = return_path.empty() || return_path[0] != '/' || return_path.starts_with("//") ||
                          return_path.size() > kMaxReturnPathBytes
                      ? std::string("/")
                      : std::string(return_path);
  boost::urls::url u(grant.issuer + "/oidc/authorize");
  u.params().append({"response_type", "code"});
  u.params().append({"client_id", grant.client_id});
  u.params().append({"redirect_uri", grant.redirect_uri});
  u.params().append({"scope", "openid profile email"});
  u.params().append({"state", p.state});
  u.params().append({"nonce", p.nonce});
  u.params().append({"code_challenge", Base64UrlEncode(Sha256(p.verifier))});
  u.params().append({"code_challenge_method", "S256"});
  if (create) u.params().append({"prompt", "create"});
  return Start{std::string(u.buffer()), PendingToCookie(p)};
}

Result<SingleSignOn::SignedIn> SingleSignOn::Finish(std::string_view query,
                                                    std::string_view pending_cookie) {
  auto fields = commerce::ParseForm(query);
  if (!fields.ok()) return Status::Unauthenticated("the answer from main could not be read");
  if (auto error = fields->Find("error")) {
    return Status::PermissionDenied(std::string(*error) + ": " +
                                    std::string(fields->Get("error_description")));
  }
  std::optional<Pending> p = PendingFromCookie(pending_cookie);
  if (!p) return Status::Unauthenticated("no sign-in was started in this browser");
  if (env_.NowSeconds() - p->issued > kSsoPendingSeconds) {
    return Status::Unauthenticated("the sign-in took too long");
  }
  if (!ConstantTimeEquals(fields->Get("state"), p->state)) {
    return Status::Unauthenticated("the answer is not for the sign-in this browser started");
  }
  const std::string code(fields->Get("code"));
  if (code.empty()) return Status::Unauthenticated("main's answer has no code");

  // The code for tokens; once more with fresh credentials when main refuses the secret.
  Result<HttpResponse> answer = Status::Internal("not sent");
  SsoClientGrant grant;
  for (int attempt = 0; attempt < 2; ++attempt) {
    ASSIGN_OR_RETURN(grant, Grant(attempt > 0));
    if (auto iss = fields->Find("iss"); iss && *iss != grant.issuer) {
      return Status::Unauthenticated("the answer comes from another issuer");
    }
    HttpRequest request("POST", "/oidc/token");
    request.AddHeader("Content-Type", "application/x-www-form-urlencoded");
    request.AddHeader("Accept", "application/json");
    request.AddHeader("Authorization", "Basic " + Base64Encode(Encode(grant.client_id) + ":" +
                                                               Encode(grant.client_secret)));
    request.SetBody("grant_type=authorization_code&code=" + Encode(code) + "&redirect_uri=" +
                    Encode(grant.redirect_uri) + "&code_verifier=" + Encode(p->verifier));
    answer = transport_.send_token_request(request);
    if (!answer.ok()) return Status::Unavailable(answer.status().message());
    if (answer->status() != 401) break;
  }
  boost::system::error_code ec;
  json::value body = json::parse(answer->body(), ec);
  if (ec || !body.is_object()) {
    return Status::Unavailable("main's token endpoint answered " +
                               std::to_string(answer->status()) + " without JSON");
  }
  const json::object& tokens = body.as_object();
  if (answer->status() != 200) {
    return Status::Unauthenticated("main refused the code: " + StringClaim(tokens, "error") + " (" +
                                   StringClaim(tokens, "error_description") + ")");
  }
  const std::string id_token = StringClaim(tokens, "id_token");
  ASSIGN_OR_RETURN(std::string jwks, Jwks(false));
  Result<std::string> claims_text = VerifyJws(id_token, jwks);
  if (!claims_text.ok()) {
    // Main may have a new key since the set was fetched.
    ASSIGN_OR_RETURN(jwks, Jwks(true));
    claims_text = VerifyJws(id_token, jwks);
  }
  if (!claims_text.ok()) {
    return Status::Unauthenticated("the ID token: " + claims_text.status().message());
  }
  json::value claims_value = json::parse(*claims_text, ec);
  if (ec || !claims_value.is_object()) {
    return Status::Unauthenticated("the ID token's claims are not a JSON object");
  }
  const json::object& claims = claims_value.as_object();
  const int64_t now = env_.NowMicros() / kMicros;
  if (StringClaim(claims, "iss") != grant.issuer) {
    return Status::Unauthenticated("the ID token is from another issuer");
  }
  if (!AudienceIs(claims, grant.client_id)) {
    return Status::Unauthenticated("the ID token is for another site");
  }
  const auto exp = IntClaim(claims, "exp");
  const auto iat = IntClaim(claims, "iat");
  if (!exp || *exp + kSkewSeconds < now) return Status::Unauthenticated("the ID token has expired");
  if (!iat || *iat > now + kSkewSeconds) {
    return Status::Unauthenticated("the ID token is issued in the future");
  }
  if (!ConstantTimeEquals(StringClaim(claims, "nonce"), p->nonce)) {
    return Status::Unauthenticated("the ID token is not for this sign-in (nonce)");
  }
  SignedIn out;
  out.user_id = StringClaim(claims, "sub");
  if (out.user_id.empty()) return Status::Unauthenticated("the ID token names no one");
  out.name = StringClaim(claims, "name");
  if (out.name.empty()) out.name = out.user_id;
  out.return_path = p->return_path;
  const json::value* fresh = claims.if_contains("tieup_new_account");
  out.new_account = fresh != nullptr && fresh->is_bool() && fresh->as_bool();
  const json::value* visits = claims.if_contains("tieup_record_visits");
  out.record_visits = visits != nullptr && visits->is_bool() && visits->as_bool();
  out.email = StringClaim(claims, "email");
  out.signed_out_at = std::max<int64_t>(0, IntClaim(claims, "tieup_signed_out_at").value_or(0));
  return out;
}

Result<std::string> SingleSignOn::LogoutUrl() {
  ASSIGN_OR_RETURN(SsoClientGrant grant, Grant(false));
  boost::urls::url u(grant.issuer + "/oidc/logout");
  u.params().append({"client_id", grant.client_id});
  if (!grant.post_logout_redirect_uri.empty()) {
    u.params().append({"post_logout_redirect_uri", grant.post_logout_redirect_uri});
  }
  return std::string(u.buffer());
}

}  // namespace tieup::users

namespace tieup::users {

Result<std::string> SingleSignOn::AccountUrl() {
  ASSIGN_OR_RETURN(SsoClientGrant grant, Grant(false));
  return grant.issuer + "/account/";
}

}  // namespace tieup::users
