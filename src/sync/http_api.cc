#include "sync/http_api.h"

#include <boost/json.hpp>
#include <charconv>

#include "sync/publisher.h"
#include "sync/receiver.h"
#include "trust/signed_metadata.h"

namespace tieup::sync {
namespace json = boost::json;
namespace {

constexpr std::string_view kJson = "application/json";

HttpResponse JsonResponse(std::string body) {
  HttpResponse r(200);
  r.AddHeader("Content-Type", kJson);
  r.AddHeader("Cache-Control", "no-store");
  r.SetBody(std::move(body));
  return r;
}

bool IsJson(const HttpRequest& req) {
  std::string_view ct = req.HeaderOr("Content-Type");
  if (size_t semi = ct.find(';'); semi != std::string_view::npos) ct = ct.substr(0, semi);
  while (!ct.empty() && ct.back() == ' ') ct.remove_suffix(1);
  return EqualsIgnoreCase(ct, kJson);
}

// Checks method, query and body type; returns an error response to send, or nullopt to go on.
std::optional<HttpResponse> Precheck(const HttpRequest& req, std::string_view method,
                                     bool query_allowed = false) {
  if (req.method() != method) {
    HttpResponse r = ErrorResponse(Status::InvalidArgument(std::string(req.path()) + " takes " +
                                                           std::string(method) + ", not " +
                                                           std::string(req.method())));
    r.set_status(405);
    r.AddHeader("Allow", method);
    return r;
  }
  if (!req.query().empty() && !query_allowed) {
    return ErrorResponse(Status::InvalidArgument(std::string(req.path()) + " takes no query"));
  }
  if (method == "POST" && !IsJson(req)) {
    HttpResponse r = ErrorResponse(
        Status::InvalidArgument(std::string(req.path()) + " needs Content-Type: application/json"));
    r.set_status(415);
    return r;
  }
  return std::nullopt;
}

HttpRequest JsonRequest(std::string_view method, std::string_view path, std::string body) {
  HttpRequest req(method, path);
  if (method == "POST") {
    req.AddHeader("Content-Type", kJson);
    req.SetBody(std::move(body));
  }
  req.AddHeader("Accept", kJson);
  return req;
}

Result<HttpResponse> Call(const HttpRoundTrip& rt, const HttpRequest& req) {
  ASSIGN_OR_RETURN(HttpResponse resp, rt(req));
  RETURN_IF_ERROR(StatusFromResponse(resp));
  return resp;
}

Result<uint64_t> ParseActiveVersion(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object() || v.get_object().size() != 1) {
    return Status::InvalidArgument("activate reply must be {\"active_version\":N}");
  }
  const json::value* a = v.get_object().if_contains("active_version");
  if (a == nullptr || !(a->is_uint64() || (a->is_int64() && a->get_int64() >= 0))) {
    return Status::InvalidArgument("activate reply must be {\"active_version\":N}");
  }
  return a->is_uint64() ? a->get_uint64() : static_cast<uint64_t>(a->get_int64());
}

}  // namespace

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
    case StatusCode::kAborted:
      return 409;
    case StatusCode::kFailedPrecondition:
      return 412;
    case StatusCode::kResourceExhausted:
      return 413;
    case StatusCode::kDataLoss:
      return 422;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

HttpResponse ErrorResponse(const Status& status) {
  json::object o;
  o["code"] = StatusCodeName(status.code());
  o["message"] = status.message();
  HttpResponse r(HttpStatusFor(status.code()));
  r.AddHeader("Content-Type", kJson);
  r.AddHeader("Cache-Control", "no-store");
  r.SetBody(CanonicalJson(json::value(std::move(o))));
  return r;
}

Status StatusFromResponse(const HttpResponse& response) {
  if (response.status() >= 200 && response.status() < 300) return Status::Ok();
  boost::system::error_code ec;
  json::value v = json::parse(response.body(), ec);
  if (!ec && v.is_object()) {
    const json::value* code = v.get_object().if_contains("code");
    const json::value* message = v.get_object().if_contains("message");
    if (code != nullptr && code->is_string() && message != nullptr && message->is_string()) {
      auto c = StatusCodeFromName(code->get_string());
      if (c && *c != StatusCode::kOk) return Status(*c, std::string(message->get_string()));
    }
  }
  const int s = response.status();
  const StatusCode c = s == 400   ? StatusCode::kInvalidArgument
                       : s == 401 ? StatusCode::kUnauthenticated
                       : s == 403 ? StatusCode::kPermissionDenied
                       : s == 404 ? StatusCode::kNotFound
                       : s >= 500 ? StatusCode::kUnavailable
                                  : StatusCode::kInvalidArgument;
  return Status(c,
                "peer answered HTTP " + std::to_string(s) + " " + std::string(HttpReasonPhrase(s)));
}

HttpResponse HandleMainSyncRequest(Publisher& publisher, std::string_view peer_site_id,
                                   const HttpRequest& request) {
  const std::string peer(peer_site_id);
  const std::string_view path = request.path();
  if (path == "/v1/blobs") {
    if (auto r = Precheck(request, "POST")) return *r;
    auto hashes = ParseBlobRequest(request.body());
    if (!hashes.ok()) return ErrorResponse(hashes.status());
    auto blobs = publisher.ServeBlobs(peer, *hashes);
    if (!blobs.ok()) return ErrorResponse(blobs.status());
    HttpResponse r(200);
    r.AddHeader("Content-Type", "application/octet-stream");
    r.AddHeader("Cache-Control", "no-store");
    r.SetBody(EncodeBlobBatch(*blobs));
    return r;
  }
  if (path == "/v1/latest") {
    if (auto r = Precheck(request, "GET", /*query_allowed=*/true)) return *r;
    uint64_t have = 0;
    if (!request.query().empty()) {
      const std::string_view q = request.query();
      const std::string_view digits = q.starts_with("have=") ? q.substr(5) : std::string_view();
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), have);
      if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) {
        return ErrorResponse(Status::InvalidArgument(
            "bad query on /v1/latest: expected 'have=<the active version>' or none"));
      }
    }
    auto offer = publisher.LatestFor(peer, have);
    if (!offer.ok()) return ErrorResponse(offer.status());
    return JsonResponse(EncodeOfferRequest(*offer));
  }
  if (path == "/v1/response") {
    if (auto r = Precheck(request, "POST")) return *r;
    auto resp = ParseUpdateResponse(request.body());
    if (!resp.ok()) return ErrorResponse(resp.status());
    auto reply = publisher.HandleResponse(peer, *resp);
    if (!reply.ok()) return ErrorResponse(reply.status());
    return JsonResponse(EncodeUpdateResponseReply(*reply));
  }
  if (path == "/v1/event") {
    if (auto r = Precheck(request, "POST")) return *r;
    auto ev = ParseEventReport(request.body());
    if (!ev.ok()) return ErrorResponse(ev.status());
    Status s = publisher.HandleReport(peer, *ev);
    if (!s.ok()) return ErrorResponse(s);
    return JsonResponse("{}");
  }
  return ErrorResponse(Status::NotFound("no sync endpoint " + std::string(path) + " on main"));
}

HttpResponse HandlePartnerSyncRequest(Receiver& receiver, std::string_view main_site_id,
                                      std::string_view peer_site_id, const HttpRequest& request) {
  if (peer_site_id != main_site_id) {
    return ErrorResponse(Status::PermissionDenied("only main ('" + std::string(main_site_id) +
                                                  "') may call a partner's sync port, not '" +
                                                  std::string(peer_site_id) + "'"));
  }
  const std::string_view path = request.path();
  if (path == "/v1/offer") {
    if (auto r = Precheck(request, "POST")) return *r;
    auto offer = ParseOfferRequest(request.body());
    if (!offer.ok()) return ErrorResponse(offer.status());
    auto reply = receiver.HandleOffer(*offer);
    if (!reply.ok()) return ErrorResponse(reply.status());
    return JsonResponse(EncodeOfferReply(*reply));
  }
  if (path == "/v1/activate") {
    if (auto r = Precheck(request, "POST")) return *r;
    auto req = ParseActivateRequest(request.body());
    if (!req.ok()) return ErrorResponse(req.status());
    auto active = receiver.HandleActivate(*req);
    if (!active.ok()) return ErrorResponse(active.status());
    return JsonResponse("{\"active_version\":" + std::to_string(*active) + "}");
  }
  if (path == "/v1/status") {
    if (auto r = Precheck(request, "GET")) return *r;
    auto st = receiver.GetStatus();
    if (!st.ok()) return ErrorResponse(st.status());
    return JsonResponse(EncodePartnerSyncStatus(*st));
  }
  return ErrorResponse(Status::NotFound("no sync endpoint " + std::string(path) + " on a partner"));
}

Result<OfferReply> HttpPartnerLink::Offer(const std::string& partner_id,
                                          const OfferRequest& offer) {
  ASSIGN_OR_RETURN(HttpRoundTrip rt, connect_(partner_id));
  ASSIGN_OR_RETURN(HttpResponse resp,
                   Call(rt, JsonRequest("POST", "/v1/offer", EncodeOfferRequest(offer))));
  return ParseOfferReply(resp.body());
}

Result<uint64_t> HttpPartnerLink::Activate(const std::string& partner_id,
                                           const ActivateRequest& request) {
  ASSIGN_OR_RETURN(HttpRoundTrip rt, connect_(partner_id));
  ASSIGN_OR_RETURN(HttpResponse resp,
                   Call(rt, JsonRequest("POST", "/v1/activate", EncodeActivateRequest(request))));
  return ParseActiveVersion(resp.body());
}

Result<PartnerSyncStatus> HttpPartnerLink::GetStatus(const std::string& partner_id) {
  ASSIGN_OR_RETURN(HttpRoundTrip rt, connect_(partner_id));
  ASSIGN_OR_RETURN(HttpResponse resp, Call(rt, JsonRequest("GET", "/v1/status", "")));
  return ParsePartnerSyncStatus(resp.body());
}

Result<std::vector<std::string>> HttpMainLink::FetchBlobs(const std::vector<std::string>& hashes) {
  ASSIGN_OR_RETURN(HttpResponse resp,
                   Call(round_trip_, JsonRequest("POST", "/v1/blobs", EncodeBlobRequest(hashes))));
  return ParseBlobBatch(resp.body(), hashes.size());
}

Result<OfferRequest> HttpMainLink::LatestRelease(uint64_t have_version) {
  const std::string target =
      have_version == 0 ? "/v1/latest" : "/v1/latest?have=" + std::to_string(have_version);
  ASSIGN_OR_RETURN(HttpResponse resp, Call(round_trip_, JsonRequest("GET", target, "")));
  return ParseOfferRequest(resp.body());
}

Result<UpdateResponseReply> HttpMainLink::RespondToUpdate(const UpdateResponse& response) {
  ASSIGN_OR_RETURN(
      HttpResponse resp,
      Call(round_trip_, JsonRequest("POST", "/v1/response", EncodeUpdateResponse(response))));
  return ParseUpdateResponseReply(resp.body());
}

Status HttpMainLink::ReportEvent(const EventReport& event) {
  return Call(round_trip_, JsonRequest("POST", "/v1/event", EncodeEventReport(event))).status();
}

}  // namespace tieup::sync
