// HttpServer: tieup's HTTP/1.1 server (Boost.Beast's parser on Boost.Asio sockets).
//
// Threads: `threads` workers, each running its own io_context; one acceptor hands accepted
// sockets to the workers round-robin, so a connection lives on one thread for its whole life
// and needs no locking. Handlers run on the worker thread of their connection.
//
// The server itself answers: malformed requests (400), a header above max_header_bytes (431), a
// body above max_body_bytes (413), a method the handler does not allow (405 with Allow), a bad
// path (400, see net/path.h), a header or body that does not arrive in time (408, then close).
// Keep-alive follows HTTP/1.1 and HTTP/1.0 rules; "Connection: close" is honoured; pipelined
// requests are answered in order.
//
// TLS (the sync port): with HttpServerOptions::tls set, every connection first completes a TLS
// handshake within header_timeout (a peer that connects and never finishes one is dropped),
// then HTTP/1.1 runs over the TLS stream exactly as on a plain connection. With a context from
// trust::MakeServerContext the peer must present a certificate from the partnership CA that
// passes the context's PeerCheck; handlers read the authenticated site from
// HttpRequest::peer_site_id(). Each refused handshake is logged (the reason from
// trust::PeerRefusalReason) and counted in stats(). Connections are closed with a TLS
// close_notify.
//
// Usage in a daemon:
//   HttpServer server(env, options, handler);
//   RETURN_IF_ERROR(server.Start());
//   TerminationSignals signals;   // installs SIGINT/SIGTERM handling
//   signals.Wait();               // blocks until one arrives
//   server.Stop();                // graceful
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/env.h"
#include "base/log.h"
#include "base/status.h"
#include "net/http_message.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace tieup {

namespace net_internal {
// What a responder delivers to: the server's connection, or a callback.
class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  virtual void Deliver(HttpResponse&& response) = 0;
};
}  // namespace net_internal

// One completed response, reported to HttpServerOptions::access_hook. The string views are valid
// only during the call: copy what you keep.
struct AccessEvent {
  int64_t time_micros = 0;  // when the request's header was complete (Env clock)
  std::string_view remote_address;
  std::string_view method;  // empty when the request line could not be parsed
  std::string_view path;    // the normalized path; the raw target when it was refused
  int status = 0;
  uint64_t bytes_sent = 0;  // body bytes written (0 for HEAD, 304, or a failed write)
  std::string_view referer;
  std::string_view user_agent;
  std::string_view host;          // the Host header, as sent (may carry a port)
  int64_t duration_micros = 0;    // header complete -> response written (steady clock)
  std::string_view area;          // HttpResponse::area
  std::string_view user;          // HttpResponse::user
  std::string_view peer_site_id;  // HttpRequest::peer_site_id (TLS); empty on plain connections
  bool complete = true;           // false when the client went away before the response was out
};

struct HttpServerOptions {
  std::string address = "127.0.0.1";  // an IPv4 or IPv6 literal; "0.0.0.0" / "::" for all
  uint16_t port = 0;                  // 0: the system picks one; read it back with port()
  int threads = 0;                    // 0: one per hardware thread
  uint32_t max_header_bytes = 16 * 1024;
  uint64_t max_body_bytes = 1024 * 1024;
  // The whole header of a request must arrive within this time, counted from the connection's
  // start or the request's first byte; otherwise 408 and close.
  std::chrono::milliseconds header_timeout{10'000};
  // The whole body must arrive within this time after the header.
  std::chrono::milliseconds body_timeout{60'000};
  // An idle keep-alive connection is closed after this time.
  std::chrono::milliseconds idle_timeout{30'000};
  // A client that does not read its response within this time is disconnected.
  std::chrono::milliseconds write_timeout{30'000};
  // Stop() waits at most this long for in-flight requests before closing every connection.
  std::chrono::milliseconds shutdown_timeout{10'000};
  int max_connections = 10'000;  // connections above this are accepted and closed at once
  // What one client address may take, so that a flood from one address leaves every other
  // client served. Open connections at once (above it a new one is closed at once):
  int max_connections_per_client = 256;
  // Requests per second per client address, sustained, and the burst a quiet client may spend
  // at once. Over it: 429 with Retry-After. 0: no limit. On TLS only requests from peers
  // without a verified certificate are counted (an enrolled site is known and answerable; its
  // connections still count against max_connections_per_client).
  double requests_per_second_per_client = 0;
  double request_burst_per_client = 0;
  // TLS connections whose peer has no verified certificate (main's sync port lets enrolling
  // partners in anonymously): the handshake, header, body and idle timeouts are capped at
  // this, and each connection carries one request.
  std::chrono::milliseconds unauthenticated_timeout{5'000};
  std::string server_name = "tieup";  // the Server header; empty: none
  // Called once per response on the worker thread, after it has been written (or has failed).
  // Must be cheap and must not block: hand the event to a batching consumer.
  std::function<void(const AccessEvent&)> access_hook;
  // Where accept failures, handler exceptions and refused TLS handshakes are reported; null:
  // nowhere.
  std::shared_ptr<Logger> logger;
  // When set, connections speak TLS with this server context (normally from
  // trust::MakeServerContext: TLS 1.3, client certificate required and checked). The context
  // is shared by every worker thread and kept alive by the server; configure it fully before
  // Start and do not change it afterwards. Null: plain HTTP.
  std::shared_ptr<boost::asio::ssl::context> tls;
  // Several sites' TLS ports on one listening socket: picks each connection's server context by
  // the local IP address the client reached (a server on 0.0.0.0; the partner simulator of
  // bench/sync_sim serves thousands of simulated partners, one loopback address each, on one
  // port). A null result refuses the connection: it is closed before any byte is sent. When
  // set, `tls` is not used. Called on the worker threads, concurrently; the contexts it returns
  // must live as long as the server.
  std::function<boost::asio::ssl::context*(std::string_view local_address)> tls_by_local_address;
};

// Counters of a running server (monotonic since Start).
struct HttpServerStats {
  uint64_t connections_accepted = 0;    // connections handed to a worker
  uint64_t tls_handshakes = 0;          // TLS handshakes completed
  uint64_t tls_handshake_failures = 0;  // TLS handshakes refused, failed or timed out
  uint64_t connections_refused = 0;     // closed at accept: a global or per-client limit
  uint64_t requests_limited = 0;        // answered 429: a client over its request rate
  uint64_t connections_evicted = 0;     // closed by DisconnectPeers
};

// Delivers the response to one request. Move-only; call Respond exactly once, from any thread.
// Destroying a responder that never responded sends 500 to the client.
// All responders must be used or destroyed before the HttpServer is destroyed.
class HttpResponder {
 public:
  HttpResponder(HttpResponder&&) noexcept = default;
  HttpResponder& operator=(HttpResponder&&) noexcept;
  HttpResponder(const HttpResponder&) = delete;
  HttpResponder& operator=(const HttpResponder&) = delete;
  ~HttpResponder();

  // A responder that passes the response to `callback` (in the calling thread). For tests and
  // for handlers that wrap other handlers.
  static HttpResponder FromCallback(std::function<void(HttpResponse)> callback);

  // Sends `response`. A second call is ignored. When called on the connection's own thread
  // during Handle() the response is written right after Handle() returns (no extra hop);
  // otherwise it is posted to the connection's thread.
  void Respond(HttpResponse response);
  // True once Respond has been called.
  bool responded() const { return sink_ == nullptr; }

  // For the server's use: a responder delivering to `sink`.
  explicit HttpResponder(std::shared_ptr<net_internal::ResponseSink> sink)
      : sink_(std::move(sink)) {}

 private:
  std::shared_ptr<net_internal::ResponseSink> sink_;
};

// Handles requests. Implementations must be thread-safe: Handle runs concurrently on every
// worker thread.
class HttpHandler {
 public:
  virtual ~HttpHandler() = default;

  // Handles one request. `request` stays valid and unchanged until `responder` has been used or
  // destroyed, so an asynchronous handler may keep a pointer to it (but not beyond that).
  // Must not block: a handler that waits on another server keeps the responder and returns.
  virtual void Handle(const HttpRequest& request, HttpResponder responder) = 0;

  // The methods Handle accepts, as the Allow header lists them ("GET, HEAD"). The server
  // answers any other method with 405 itself. Empty (the default): every method reaches Handle.
  virtual std::string_view AllowedMethods() const { return {}; }
};

// The server. Start, port and Stop may be called from any one controlling thread (not from a
// handler).
class HttpServer {
 public:
  // `env` (for the clock) and `handler` must outlive the server.
  HttpServer(Env& env, HttpServerOptions options, std::shared_ptr<HttpHandler> handler);
  ~HttpServer();  // Stop()s when still running
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts the worker threads. Errors: kInvalidArgument for an address that
  // is not an IP literal or a bad option; kUnavailable when the address is in use or cannot be
  // bound; kFailedPrecondition when called twice.
  Status Start();

  // The bound port (useful with options.port = 0); 0 before Start.
  uint16_t port() const;

  // Graceful stop: stops accepting, closes idle keep-alive connections, lets requests in flight
  // finish (their responses carry "Connection: close") for up to options.shutdown_timeout, then
  // closes whatever is left and joins the workers. Idempotent; blocks until done.
  void Stop();

  // The number of open connections (for tests and metrics).
  int active_connections() const;
  // Waits until at most `n` connections are open (a client's close has been seen), or
  // `timeout` passes; returns whether it got there. For tests and orderly hand-overs.
  bool WaitForConnectionsAtMost(int n, std::chrono::milliseconds timeout);

  // Closes every TLS connection whose verified peer `should_close` picks (by site id and
  // certificate fingerprint): idle ones at once, one busy with a request after its response
  // (which says "Connection: close"). For revocation: a revoked partner keeps no connection
  // open. Returns how many were picked. Blocks until every worker has looked; call it from a
  // controlling thread, never from a handler running on the server's I/O threads. 0 when the
  // server is not running.
  int DisconnectPeers(const std::function<bool(std::string_view site_id,
                                               std::string_view fingerprint)>& should_close);

  // Counters (for tests and metrics); any thread.
  HttpServerStats stats() const;

  // OK when every I/O thread runs a task posted to it within `within` (readiness: a thread held
  // by a handler that does not return serves none of its connections); Unavailable saying which
  // thread otherwise, or when the server is not running. Any controlling thread, never a
  // handler.
  Status CheckResponsive(std::chrono::milliseconds within);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Waits for SIGINT or SIGTERM. Constructing one installs the handling (so a signal arriving
// between construction and Wait is not lost and does not kill the process); destroying it
// restores the previous disposition. Use one per process.
class TerminationSignals {
 public:
  TerminationSignals();
  ~TerminationSignals();
  TerminationSignals(const TerminationSignals&) = delete;
  TerminationSignals& operator=(const TerminationSignals&) = delete;

  // Blocks until SIGINT or SIGTERM arrives; returns the signal number.
  int Wait();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tieup
