// HttpRequest and HttpResponse: tieup's own HTTP/1.1 message types, shared by the server
// (net/http_server.h), the handlers and the client (net/http_client.h). No Boost types here.
//
// Both are plain values: not thread-safe, movable, cheap to reuse (clearing keeps capacity).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tieup {

namespace net_internal {
template <typename Stream>
class Connection;
class RequestParser;
class ResponseReader;
}  // namespace net_internal

// One header field as received or added, in its original order.
struct HttpHeaderView {
  std::string_view name;
  std::string_view value;
};

// Returns true iff `a` and `b` are equal ignoring ASCII case (header names, tokens).
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// The reason phrase for a status code ("Not Found"); "Unknown" for codes tieup never sends.
std::string_view HttpReasonPhrase(int status);

// An HTTP request. On the server it is filled by the connection and handed to the handler by
// const reference; it stays valid and unchanged until the handler's responder is used or
// destroyed. Clients build one with the constructor and AddHeader/SetBody.
class HttpRequest {
 public:
  HttpRequest() = default;
  // A request for clients and tests. `target` is the request-target ("/a/b?x=1"); path() and
  // query() are its parts, not decoded (the server fills path() with the normalized path).
  HttpRequest(std::string_view method, std::string_view target);

  // The method token as received, case preserved ("GET").
  std::string_view method() const { return method_; }
  // The raw request-target as received ("/a%20b?x=1").
  std::string_view target() const { return target_; }
  // On the server: the percent-decoded, dot-segment-resolved path (see net/path.h), always
  // starting with '/'. For a request built by a client: the target up to '?'.
  std::string_view path() const { return path_; }
  // The raw (still percent-encoded) query, without '?'; empty when there is none.
  std::string_view query() const { return query_; }
  // 11 for HTTP/1.1, 10 for HTTP/1.0.
  int version() const { return version_; }
  // Whether the client asked to keep the connection open after this request (HTTP/1.1
  // default, or HTTP/1.0 with "Connection: keep-alive").
  bool keep_alive() const { return keep_alive_; }
  // The peer's IP address as text ("127.0.0.1", "::1"); empty for client-built requests.
  std::string_view remote_address() const { return remote_address_; }
  // The IP address of this server the client reached ("127.0.0.1"; on a server listening on
  // 0.0.0.0, the one the client dialed); empty for client-built requests.
  std::string_view local_address() const { return local_address_; }
  // The (de-chunked) body.
  std::string_view body() const { return body_; }
  // On a TLS connection of HttpServer: the site id the peer's verified certificate names
  // (trust::PeerSiteId after the handshake; see HttpServerOptions::tls). Empty on plain
  // connections and for client-built requests. A handler on the sync port authorizes by it.
  std::string_view peer_site_id() const { return peer_site_id_; }
  // With peer_site_id: the hex SHA-256 fingerprint of the certificate the peer presented, so a
  // handler can check that this certificate is still the peer's valid one (not revoked, not
  // superseded by a re-enrollment) on every request. Empty when peer_site_id is.
  std::string_view peer_certificate_fingerprint() const { return peer_fingerprint_; }

  // The value of the first header named `name` (ASCII case-insensitive), if any.
  std::optional<std::string_view> FindHeader(std::string_view name) const;
  // The value of the first header named `name`, or "" when absent.
  std::string_view HeaderOr(std::string_view name, std::string_view fallback = {}) const;
  // Every header in order (allocates the vector; for diagnostics and forwarding).
  std::vector<HttpHeaderView> Headers() const;
  size_t header_count() const { return headers_.size(); }

  // --- building (clients, tests) ---
  // Appends a header; CR, LF and NUL in `name` or `value` make the call a no-op returning false.
  bool AddHeader(std::string_view name, std::string_view value);
  // Removes every header named `name` (ASCII case-insensitive).
  void RemoveHeader(std::string_view name);
  void SetBody(std::string body) { body_ = std::move(body); }
  void set_version(int version) { version_ = version; }
  // Tests and in-process transports only: pretend the request came over TLS from `site_id`.
  void SetPeerSiteIdForTest(std::string site_id, std::string fingerprint = {}) {
    peer_site_id_ = std::move(site_id);
    peer_fingerprint_ = std::move(fingerprint);
  }
  void SetRemoteAddressForTest(std::string address) { remote_address_ = std::move(address); }

  // A copy of this request whose path() is `path` (absolute, normalized) and whose target() is
  // `path` percent-encoded with this request's query: what a handler that serves a subtree under
  // another path passes on (a further main's tie-up area on a path prefix, site/page_server.h).
  HttpRequest WithPath(std::string_view path) const;

  // Empties the request, keeping allocated capacity (and the remote and local addresses and the
  // peer site id, which belong to the connection).
  void Clear();

 private:
  friend class net_internal::RequestParser;
  template <typename Stream>
  friend class net_internal::Connection;

  struct HeaderSpan {
    uint32_t name_offset, name_size, value_offset, value_size;
  };
  void AppendHeaderUnchecked(std::string_view name, std::string_view value);
  void SetTarget(std::string_view target);

  std::string method_;
  std::string target_;
  std::string path_;
  std::string query_;
  std::string header_text_;  // names and values back to back; HeaderSpan points into it
  std::vector<HeaderSpan> headers_;
  std::string body_;
  std::string remote_address_;
  std::string local_address_;
  std::string peer_site_id_;
  std::string peer_fingerprint_;
  int version_ = 11;
  bool keep_alive_ = true;
};

// An HTTP response built by a handler (or read by the client). Headers are kept pre-formatted
// ("Name: value\r\n") so the server writes them without copying each field.
//
// The body is either owned (SetBody) or shared without copying (SetSharedBody): the
// shared_ptr keeps the bytes alive until the response has been written.
class HttpResponse {
 public:
  HttpResponse() = default;
  explicit HttpResponse(int status) : status_(status) {}

  // A response with a text/plain; charset=utf-8 body.
  static HttpResponse Text(int status, std::string_view text);
  // A response with a text/html; charset=utf-8 body.
  static HttpResponse Html(int status, std::string html);

  int status() const { return status_; }
  void set_status(int status) { status_ = status; }

  // Appends a header. Returns false (and adds nothing) when `name` is not an HTTP token or
  // `value` contains CR, LF, NUL or another control character other than tab (header
  // injection), or when `name` is one the server sets itself: Content-Length,
  // Transfer-Encoding, Connection, Date, Server (use set_close_connection()).
  bool AddHeader(std::string_view name, std::string_view value);
  // The value of the first header named `name` (ASCII case-insensitive), if any.
  std::optional<std::string_view> FindHeader(std::string_view name) const;
  // Every header in order (allocates; for tests and forwarding).
  std::vector<HttpHeaderView> Headers() const;
  // The headers as they go on the wire: zero or more "Name: value\r\n".
  std::string_view header_block() const { return header_block_; }
  // Reserves room for `bytes` of pre-formatted headers (saves reallocations on hot paths).
  void ReserveHeaderBytes(size_t bytes) { header_block_.reserve(bytes); }

  // Replaces the body with an owned string.
  void SetBody(std::string body);
  // Replaces the body with `view`, which must lie inside *owner (or with all of *owner when
  // `view` is omitted). No copy is made.
  void SetSharedBody(std::shared_ptr<const std::string> owner);
  void SetSharedBody(std::shared_ptr<const std::string> owner, std::string_view view);
  std::string_view body() const { return shared_body_ ? shared_view_ : std::string_view(body_); }

  // Asks the server to close the connection after this response.
  void set_close_connection(bool close) { close_connection_ = close; }
  bool close_connection() const { return close_connection_; }

  // Free fields for the access hook (AccessEvent::area, ::user): the static handler sets the
  // content area ("tieup", "original"); an authenticating handler sets the user.
  std::string area;
  std::string user;

 private:
  friend class net_internal::ResponseReader;
  void AppendHeaderUnchecked(std::string_view name, std::string_view value);

  int status_ = 200;
  bool close_connection_ = false;
  std::string header_block_;
  std::string body_;
  std::shared_ptr<const std::string> shared_body_;
  std::string_view shared_view_;
};

}  // namespace tieup
