// The HTTP mapping of the sync protocol (sync/protocol.h). Both sites serve it on their sync
// port (HTTPS with mutual TLS: the integrator's server authenticates the peer and passes its
// site id in); both sides call the other through a round-trip callable (the integrator's TLS
// client, which must check the peer's identity: the expected partner, or main).
//
// Endpoints (bodies are canonical JSON unless said otherwise; every POST needs
// "Content-Type: application/json"):
//
//   served by a PARTNER (caller: main)
//     POST /v1/offer     OfferRequest          -> 200 OfferReply
//     POST /v1/activate  ActivateRequest       -> 200 {"active_version":N}
//     GET  /v1/status                          -> 200 PartnerSyncStatus
//   served by MAIN (caller: an authenticated partner; it only ever gets its own data)
//     POST /v1/blobs     {"hashes":[...]}      -> 200 application/octet-stream: per blob an
//                                                 8-byte big-endian length, then the bytes
//     GET  /v1/latest[?have=N]                 -> 200 OfferRequest (pull mode; a delta from
//                                                 version N when main still holds it)
//     POST /v1/response  UpdateResponse        -> 200 UpdateResponseReply
//     POST /v1/event     EventReport           -> 200 {}
//
// Errors: the HTTP status (400 invalid_argument, 401 unauthenticated, 403 permission_denied,
// 404 not_found, 405 wrong method, 409 already_exists / aborted, 412 failed_precondition,
// 413 resource_exhausted, 422 data_loss, 503 unavailable, 500 otherwise) and a body
// {"code":"<StatusCodeName>","message":"..."}; the links turn it back into the same Status.
//
// All functions are thread-safe when the objects they call are.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "net/http_message.h"
#include "sync/protocol.h"

namespace tieup::sync {

class Publisher;
class Receiver;

// Sends one request to the peer and returns its response (any HTTP status). Errors only for
// transport failures (kUnavailable, kDeadlineExceeded, ...).
using HttpRoundTrip = std::function<Result<HttpResponse>(const HttpRequest& request)>;

// Serves a request on MAIN's sync port from the partner `peer_site_id` (authenticated by mutual
// TLS). Never fails: errors become error responses.
HttpResponse HandleMainSyncRequest(Publisher& publisher, std::string_view peer_site_id,
                                   const HttpRequest& request);

// Serves a request on a PARTNER's sync port. `peer_site_id` must be `main_site_id` (otherwise
// 403): only main may offer, command activation or ask for the status.
HttpResponse HandlePartnerSyncRequest(Receiver& receiver, std::string_view main_site_id,
                                      std::string_view peer_site_id, const HttpRequest& request);

// PartnerLink over HTTP. `connect(partner_id)` returns a round trip to that partner's sync
// port (the integrator resolves the partnership's sync URL and checks the peer's certificate
// names that partner). May be called from several threads at once.
class HttpPartnerLink : public PartnerLink {
 public:
  using Connector = std::function<Result<HttpRoundTrip>(const std::string& partner_id)>;
  explicit HttpPartnerLink(Connector connect) : connect_(std::move(connect)) {}

  Result<OfferReply> Offer(const std::string& partner_id, const OfferRequest& offer) override;
  Result<uint64_t> Activate(const std::string& partner_id, const ActivateRequest& request) override;
  Result<PartnerSyncStatus> GetStatus(const std::string& partner_id) override;

 private:
  Connector connect_;
};

// MainLink over HTTP: `round_trip` reaches main's sync port.
class HttpMainLink : public MainLink {
 public:
  explicit HttpMainLink(HttpRoundTrip round_trip) : round_trip_(std::move(round_trip)) {}

  Result<std::vector<std::string>> FetchBlobs(const std::vector<std::string>& hashes) override;
  Result<OfferRequest> LatestRelease(uint64_t have_version) override;
  Result<UpdateResponseReply> RespondToUpdate(const UpdateResponse& response) override;
  Status ReportEvent(const EventReport& event) override;

 private:
  HttpRoundTrip round_trip_;
};

// The HTTP status for a Status code, and the error response for `status` (exposed for tests
// and for the integrator's own sync endpoints).
int HttpStatusFor(StatusCode code);
HttpResponse ErrorResponse(const Status& status);
// The Status an error response carries (the code from its body; from the HTTP status if the
// body is not an error object). OK for a 2xx response.
Status StatusFromResponse(const HttpResponse& response);

}  // namespace tieup::sync
