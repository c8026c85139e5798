// HttpClient: a small synchronous HTTP/1.1 client (Boost.Beast) for tests, the CLI and
// server-to-server calls, over plain TCP or, for the sync port, mutually authenticated TLS.
//
// TLS: give HttpClientOptions::tls a client context (trust::MakeClientContext: it presents this
// site's certificate and trusts only the partnership CA) and, when the context accepts several
// sites, the one this connection must reach in expected_peer_site_id. A server whose
// certificate does not pass is refused during the handshake, with the reason in the error:
//   "TLS handshake with 127.0.0.1:9443 failed: peer certificate names site 'shop-b', but
//    'main' was expected"
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "net/http_message.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace tieup {

struct HttpClientOptions {
  // Time allowed for connecting, and again for the TLS handshake.
  std::chrono::milliseconds connect_timeout{5'000};
  // Time allowed for writing the request and reading the whole response (including a streamed
  // body: raise it for large transfers).
  std::chrono::milliseconds request_timeout{30'000};
  // The largest response body Fetch accepts (per call: see Fetch's max_body_bytes).
  uint64_t max_body_bytes = 8 * 1024 * 1024;
  uint32_t max_header_bytes = 64 * 1024;
  std::string user_agent = "tieup";

  // When set, connections speak TLS with this client context (normally from
  // trust::MakeClientContext). Shared, kept alive by the client; not changed after the first
  // Fetch. Null: plain HTTP.
  std::shared_ptr<boost::asio::ssl::context> tls;
  // With tls: the site id the server's certificate must name, set on each connection with
  // trust::SetExpectedPeerSiteId (main reaching partner 'shop-a' with its one client context).
  // Empty: the context's PeerCheck alone decides.
  std::string expected_peer_site_id;
  // With tls: the server name sent in SNI. Empty: the host, unless it is an IP literal (then
  // no SNI). Certificates are not checked against it: the site id is the identity.
  std::string tls_server_name;
  // With tls: the server's certificate must name the host (tls_server_name when set, else the
  // host given to the client; an IP literal as an IP address), as browsers check: for a context
  // from trust::MakeWebClientContext. Off for the sync channel, where the site id is the identity.
  bool verify_host_name = false;
  // When set (an IP literal), connections leave from this local address: a host with several
  // addresses choosing its source (the partner simulator of bench/sync_sim gives each simulated
  // partner its own loopback address). Empty: the system chooses.
  std::string local_address;
};

// Receives a response body in pieces, in order, as it arrives. Returning an error stops the
// transfer: the connection is closed and the fetch returns that error.
using HttpBodySink = std::function<Status(std::string_view piece)>;

// A connection to one host and port, kept alive between requests. Not thread-safe: one
// caller at a time.
class HttpClient {
 public:
  // `host` is a name or an IP literal. Nothing is connected until the first Fetch.
  HttpClient(std::string host, uint16_t port, HttpClientOptions options = {});
  ~HttpClient();  // closes the connection (TLS: with close_notify)
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `request` and reads the whole response. Adds Host, User-Agent and Content-Length when
  // the request does not have them. Reuses the open connection; when a reused connection turns
  // out to have been closed by the server before any response byte arrived, a GET or HEAD, or
  // a request with an Idempotency-Key header, is retried once on a new connection (any other
  // request fails, and last_failure_was_stale_connection() says why: the caller may send it
  // again, changed, on a new connection). The returned response's headers include every header
  // received (Content-Length, Connection, Date, ...). `max_body_bytes` bounds this response's
  // body; 0: options.max_body_bytes.
  // Errors: kUnavailable (name resolution failed, connection refused or reset, TLS handshake
  // failed for a reason other than authentication), kUnauthenticated (TLS: this side refused
  // the server's certificate, or the server refused this site's), kDeadlineExceeded (a
  // timeout), kResourceExhausted (body or header above the limits), kInvalidArgument (the
  // request cannot be sent, or the response is malformed).
  Result<HttpResponse> Fetch(const HttpRequest& request, uint64_t max_body_bytes = 0);

  // Like Fetch, but hands the body to `sink` as it arrives instead of keeping it (for bodies
  // too large to hold): the returned response has the status and headers and an empty body.
  // `max_body_bytes` (0: options.max_body_bytes) stops a larger body with kResourceExhausted
  // after the sink has seen at most that many bytes. The sink's own error is returned as is.
  Result<HttpResponse> FetchStreaming(const HttpRequest& request, const HttpBodySink& sink,
                                      uint64_t max_body_bytes = 0);

  // True while a connection is open (kept alive after the last response).
  bool connected() const;

  // On an open TLS connection: the site id the server's verified certificate names; "" when
  // not connected or plain.
  std::string_view peer_site_id() const;

  // True when the last Fetch failed only because the reused connection had been closed by the
  // server before any byte of an answer came back (nothing was processed), and the request
  // was not one Fetch repeats by itself.
  bool last_failure_was_stale_connection() const;

  // Closes the connection (the next Fetch reconnects). TLS: sends close_notify first, waiting
  // at most a second for the server's.
  void Close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One request on a fresh connection, closed afterwards.
Result<HttpResponse> HttpFetch(std::string_view host, uint16_t port, const HttpRequest& request,
                               const HttpClientOptions& options = {});

}  // namespace tieup
