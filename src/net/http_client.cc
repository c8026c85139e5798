// The client: one connection (plain beast::tcp_stream or ssl::stream over it), driven
// synchronously by running a private io_context until each operation completes. Timeouts are
// the tcp_stream's, so they cover the TLS layer too. The response is parsed straight into an
// HttpResponse (headers) and either a string or the caller's sink (body).
#include "net/http_client.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/span_body.hpp>
#include <boost/beast/http/write.hpp>
#include <optional>

#include "net/beast_text.h"
#include "trust/tls.h"

namespace tieup {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

namespace net_internal {

// Parses a response into an HttpResponse; the body goes to `sink` when there is one, else into
// the response.
class ResponseReader final : public http::basic_parser<false> {
 public:
  ResponseReader(HttpResponse* response, const HttpBodySink* sink, uint32_t header_limit_bytes,
                 uint64_t body_limit_bytes)
      : response_(response), sink_(sink) {
    header_limit(header_limit_bytes);
    body_limit(body_limit_bytes);
  }

  // The sink's error, when it stopped the transfer.
  const Status& sink_status() const { return sink_status_; }
  // The error code the parser reports when the sink stopped it.
  static beast::error_code SinkStopped() {
    return beast::errc::make_error_code(beast::errc::operation_canceled);
  }

 private:
  void on_request_impl(http::verb, beast::string_view, beast::string_view, int,
                       beast::error_code& ec) override {
    ec = http::error::bad_method;  // never called for a response parser
  }
  void on_response_impl(int code, beast::string_view, int, beast::error_code&) override {
    response_->set_status(code);
  }
  void on_field_impl(http::field, beast::string_view name, beast::string_view value,
                     beast::error_code&) override {
    response_->AppendHeaderUnchecked(ToStd(name), ToStd(value));
  }
  void on_header_impl(beast::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length,
                         beast::error_code&) override {
    // The length is within the body limit already; a server announcing much and sending
    // little still must not make us allocate it all up front.
    constexpr uint64_t kMaxReserve = 8 * 1024 * 1024;
    if (sink_ == nullptr && length)
      body_.reserve(static_cast<size_t>(std::min(*length, kMaxReserve)));
  }
  size_t on_body_impl(beast::string_view piece, beast::error_code& ec) override {
    return Take(piece, ec);
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  size_t on_chunk_body_impl(std::uint64_t, beast::string_view piece,
                            beast::error_code& ec) override {
    return Take(piece, ec);
  }
  void on_finish_impl(beast::error_code&) override {
    if (sink_ == nullptr) response_->SetBody(std::move(body_));
  }

  size_t Take(beast::string_view piece, beast::error_code& ec) {
    if (sink_ == nullptr) {
      body_.append(piece.data(), piece.size());
      return piece.size();
    }
    sink_status_ = (*sink_)(ToStd(piece));
    if (!sink_status_.ok()) {
      ec = SinkStopped();
      return 0;
    }
    return piece.size();
  }

  HttpResponse* response_;
  const HttpBodySink* sink_;
  std::string body_;
  Status sink_status_;
};

}  // namespace net_internal

namespace {

bool IsStaleConnectionError(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == ssl::error::stream_truncated;
}

// A TLS alert the peer sent: its code, and its name ("certificate required").
struct ReceivedAlert {
  int code = -1;  // -1: `ec` is not a received alert
  std::string name;
  // The peer refused this side's identity (as opposed to, say, the protocol version).
  bool AboutIdentity() const {
    switch (code) {
      case SSL_AD_HANDSHAKE_FAILURE:
      case SSL_AD_BAD_CERTIFICATE:
      case SSL_AD_UNSUPPORTED_CERTIFICATE:
      case SSL_AD_CERTIFICATE_REVOKED:
      case SSL_AD_CERTIFICATE_EXPIRED:
      case SSL_AD_CERTIFICATE_UNKNOWN:
      case SSL_AD_UNKNOWN_CA:
      case SSL_AD_ACCESS_DENIED:
      case SSL_AD_CERTIFICATE_REQUIRED:
        return true;
      default:
        return false;
    }
  }
};

ReceivedAlert AlertOf(const beast::error_code& ec) {
  ReceivedAlert alert;
  if (ec.category() != asio::error::get_ssl_category()) return alert;
  int reason = ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
  if (reason < SSL_AD_REASON_OFFSET) return alert;
  alert.code = reason - SSL_AD_REASON_OFFSET;
  if (alert.code == SSL_AD_CERTIFICATE_REQUIRED) {
    alert.name = "certificate required";  // TLS 1.3; OpenSSL's table does not name it
  } else {
    const char* name = SSL_alert_desc_string_long(alert.code);
    alert.name = name != nullptr && std::string_view(name) != "unknown" ? name : ec.message();
  }
  return alert;
}

// The Status for a TLS connection the server refused with `alert`; `what` says where.
Status AlertStatus(const ReceivedAlert& alert, const std::string& what) {
  if (alert.AboutIdentity()) {
    return Status::Unauthenticated(what + "the server refused this site (TLS alert: " + alert.name +
                                   "); check that this site is enrolled with it, not revoked, "
                                   "and presents the certificate from its enrollment");
  }
  if (alert.code == SSL_AD_PROTOCOL_VERSION) {
    return Status::Unavailable(what + "the server refused the TLS version (TLS alert: " +
                               alert.name + "); the sync port speaks TLS 1.3 only");
  }
  return Status::Unavailable(what + "the server refused it (TLS alert: " + alert.name + ")");
}

bool IsIpLiteral(const std::string& host) {
  beast::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

struct HttpClient::Impl {
  using TlsStream = ssl::stream<beast::tcp_stream>;

  Impl(std::string h, uint16_t p, HttpClientOptions o)
      : host(std::move(h)), port(p), options(std::move(o)) {}

  // "host:port", with an IPv6 literal in brackets (also the Host header's form).
  std::string where() const {
    bool ipv6 = host.find(':') != std::string::npos;
    return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  }

  bool connected() const { return plain.has_value() || tls.has_value(); }
  // The last Fetch failed on a reused connection that the server had closed before any byte
  // of an answer, and was not repeated (see Fetch).
  bool last_failure_stale = false;
  beast::tcp_stream& Tcp() { return tls ? tls->next_layer() : *plain; }

  // Calls fn with the open stream, whichever kind it is.
  template <typename Fn>
  auto WithStream(Fn&& fn) {
    return tls ? fn(*tls) : fn(*plain);
  }

  // Runs the io_context until the operation started by `start` completes.
  template <typename Start>
  beast::error_code Run(Start&& start) {
    beast::error_code result;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
  }

  Status Connect() {
    Disconnect();
    tcp::resolver resolver(ioc);
    beast::error_code ec;
    auto endpoints = resolver.resolve(host, std::to_string(port), ec);
    if (ec) {
      return Status::Unavailable("cannot resolve host '" + host + "': " + ec.message());
    }
    beast::tcp_stream stream(ioc);
    stream.expires_after(options.connect_timeout);
    if (options.local_address.empty()) {
      ec = Run([&](auto handler) { stream.async_connect(endpoints, std::move(handler)); });
    } else {
      // From a chosen address: one socket, bound first, to the first endpoint of its family.
      auto local = asio::ip::make_address(options.local_address, ec);
      if (ec) {
        return Status::InvalidArgument("the local address '" + options.local_address +
                                       "' is not an IP address");
      }
      auto target = std::find_if(endpoints.begin(), endpoints.end(), [&](const auto& e) {
        return e.endpoint().address().is_v4() == local.is_v4();
      });
      if (target == endpoints.end()) {
        return Status::Unavailable("host '" + host + "' has no address of the family of " +
                                   options.local_address);
      }
      stream.socket().open(target->endpoint().protocol(), ec);
      if (!ec) stream.socket().bind(tcp::endpoint(local, 0), ec);
      if (ec) {
        return Status::Unavailable("cannot connect to " + where() + " from " +
                                   options.local_address + ": " + ec.message());
      }
      ec = Run([&](auto handler) { stream.async_connect(target->endpoint(), std::move(handler)); });
    }
    if (ec) {
      if (ec == beast::error::timeout) {
        return Status::DeadlineExceeded("connecting to " + where() + " took longer than " +
                                        std::to_string(options.connect_timeout.count()) + " ms");
      }
      return Status::Unavailable("cannot connect to " + where() + ": " + ec.message() +
                                 "; is the server running?");
    }
    beast::error_code ignored;
    stream.socket().set_option(tcp::no_delay(true), ignored);
    if (!options.tls) {
      plain.emplace(std::move(stream));
      return Status::Ok();
    }
    return Handshake(std::move(stream));
  }

  Status Handshake(beast::tcp_stream stream) {
    tls.emplace(std::move(stream), *options.tls);
    SSL* ssl = tls->native_handle();
    if (!options.expected_peer_site_id.empty()) {
      Status s = SetExpectedPeerSiteId(ssl, options.expected_peer_site_id);
      if (!s.ok()) {
        Disconnect();
        return s.Annotate("expected_peer_site_id");
      }
    }
    const std::string sni = !options.tls_server_name.empty() ? options.tls_server_name
                            : IsIpLiteral(host)              ? std::string()
                                                             : host;
    if (!sni.empty() && SSL_set_tlsext_host_name(ssl, sni.c_str()) != 1) {
      ERR_clear_error();
      Disconnect();
      return Status::InvalidArgument("'" + sni + "' cannot be sent as a TLS server name");
    }
    if (options.verify_host_name) {
      const std::string name = !options.tls_server_name.empty() ? options.tls_server_name : host;
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      const int set = IsIpLiteral(name) ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                                        : X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0);
      if (set != 1) {
        ERR_clear_error();
        Disconnect();
        return Status::InvalidArgument("'" + name + "' cannot be checked against a certificate");
      }
    }
    const std::string what = "TLS handshake with " + where() + " failed: ";
    tls->next_layer().expires_after(options.connect_timeout);
    beast::error_code ec = Run(
        [&](auto handler) { tls->async_handshake(ssl::stream_base::client, std::move(handler)); });
    if (!ec) {
      tls->next_layer().expires_never();
      auto peer = PeerSiteId(*tls);
      peer_site = peer.ok() ? *peer : "";
      return Status::Ok();
    }
    std::string refusal = PeerRefusalReason(*tls);
    if (refusal.empty() && options.verify_host_name) {
      // The web context's own verification (no PeerRefusalReason): say what it found.
      const long verified = SSL_get_verify_result(tls->native_handle());
      if (verified != X509_V_OK) {
        refusal = std::string("the server's certificate is not accepted: ") +
                  X509_verify_cert_error_string(verified);
      }
    }
    Disconnect();
    if (!refusal.empty()) return Status::Unauthenticated(what + refusal);
    if (ec == beast::error::timeout) {
      return Status::DeadlineExceeded(what + "no answer within " +
                                      std::to_string(options.connect_timeout.count()) + " ms");
    }
    ReceivedAlert alert = AlertOf(ec);
    if (alert.code >= 0) return AlertStatus(alert, what);
    if (ec.category() == asio::error::get_ssl_category() &&
        (ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_WRONG_VERSION_NUMBER ||
         ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_PACKET_LENGTH_TOO_LONG)) {
      return Status::Unavailable(what + "the server does not speak TLS (" + ec.message() +
                                 "); is this the sync port?");
    }
    return Status::Unavailable(what + ec.message());
  }

  // One request/response on the open stream. *stale is set when the connection turned out to
  // be closed before any byte of a response arrived.
  template <typename Stream>
  Result<HttpResponse> Exchange(Stream& stream, const HttpRequest& request,
                                const HttpBodySink* sink, uint64_t max_body, bool* stale) {
    *stale = false;
    http::request<http::span_body<const char>> req;
    req.method_string(beast::string_view(request.method().data(), request.method().size()));
    req.target(beast::string_view(request.target().data(), request.target().size()));
    req.version(request.version());
    bool has_host = false, has_agent = false, has_length = false;
    for (const HttpHeaderView& h : request.Headers()) {
      has_host = has_host || EqualsIgnoreCase(h.name, "Host");
      has_agent = has_agent || EqualsIgnoreCase(h.name, "User-Agent");
      has_length = has_length || EqualsIgnoreCase(h.name, "Content-Length") ||
                   EqualsIgnoreCase(h.name, "Transfer-Encoding");
      req.insert(beast::string_view(h.name.data(), h.name.size()),
                 beast::string_view(h.value.data(), h.value.size()));
    }
    if (!has_host) req.set(http::field::host, where());
    if (!has_agent && !options.user_agent.empty()) {
      req.set(http::field::user_agent, options.user_agent);
    }
    // No copy of the request body: the serializer reads it in place.
    req.body() = beast::span<const char>(request.body().data(), request.body().size());
    if (!has_length && (!request.body().empty() || request.method() == "POST" ||
                        request.method() == "PUT" || request.method() == "PATCH")) {
      req.content_length(request.body().size());
    }

    Tcp().expires_after(options.request_timeout);
    beast::error_code ec =
        Run([&](auto handler) { http::async_write(stream, req, std::move(handler)); });
    if (ec) {
      *stale = IsStaleConnectionError(ec);
      return ReadError(ec, max_body);
    }

    HttpResponse response;
    net_internal::ResponseReader parser(&response, sink, options.max_header_bytes, max_body);
    if (request.method() == "HEAD") parser.skip(true);
    ec = Run([&](auto handler) { http::async_read(stream, buffer, parser, std::move(handler)); });
    if (ec) {
      *stale = IsStaleConnectionError(ec) && !parser.got_some();
      if (ec == net_internal::ResponseReader::SinkStopped() && !parser.sink_status().ok()) {
        Disconnect();
        return parser.sink_status();
      }
      return ReadError(ec, max_body);
    }
    Tcp().expires_never();
    if (!parser.keep_alive()) Close();
    return response;
  }

  Result<HttpResponse> Fetch(const HttpRequest& request, const HttpBodySink* sink,
                             uint64_t max_body) {
    if (request.method().empty() || request.target().empty()) {
      return Status::InvalidArgument("an HTTP request needs a method and a target");
    }
    if (max_body == 0) max_body = options.max_body_bytes;
    try {
      bool reused = connected();
      if (!reused) RETURN_IF_ERROR(Connect());
      bool stale = false;
      auto exchange = [&](auto& stream) {
        return Exchange(stream, request, sink, max_body, &stale);
      };
      last_failure_stale = false;
      Result<HttpResponse> r = WithStream(exchange);
      // A server closes idle keep-alive connections; a request that met such a close before
      // any byte of an answer was not processed. Sending it again is safe when repeating it
      // is: a safe method, or a request that names itself with an idempotency key.
      const bool repeatable = request.method() == "GET" || request.method() == "HEAD" ||
                              request.FindHeader("Idempotency-Key").has_value();
      if (!r.ok() && stale && reused) {
        if (!repeatable) {
          last_failure_stale = true;
          return r;
        }
        RETURN_IF_ERROR(Connect());
        r = WithStream(exchange);
      }
      return r;
    } catch (const std::exception& e) {
      // Beast throws for requests it cannot serialize (a bad method token, say).
      Disconnect();
      return Status::InvalidArgument(std::string("cannot send the HTTP request: ") + e.what());
    }
  }

  Status ReadError(const beast::error_code& ec, uint64_t max_body) {
    Disconnect();
    if (ec == beast::error::timeout) {
      return Status::DeadlineExceeded("no complete response from " + where() + " within " +
                                      std::to_string(options.request_timeout.count()) + " ms");
    }
    if (ec == http::error::body_limit) {
      return Status::ResourceExhausted("the response body from " + where() + " is larger than " +
                                       std::to_string(max_body) + " bytes");
    }
    if (ec == http::error::header_limit) {
      return Status::ResourceExhausted("the response header from " + where() + " is larger than " +
                                       std::to_string(options.max_header_bytes) + " bytes");
    }
    // TLS 1.3: the server checks our certificate after our side of the handshake is done, so
    // its refusal arrives as an alert on the first read.
    ReceivedAlert alert = AlertOf(ec);
    if (alert.code >= 0) return AlertStatus(alert, "TLS connection to " + where() + " failed: ");
    if (IsStaleConnectionError(ec) || ec == http::error::partial_message) {
      return Status::Unavailable("the connection to " + where() +
                                 " closed before a complete response: " + ec.message());
    }
    if (ec.category() == http::make_error_code(http::error::bad_status).category()) {
      return Status::InvalidArgument("malformed HTTP response from " + where() + ": " +
                                     ec.message());
    }
    return Status::Unavailable("talking to " + where() + " failed: " + ec.message());
  }

  // Closes a healthy connection politely: TLS sends close_notify (waiting briefly for the
  // server's), TCP shuts down both directions.
  void Close() {
    if (tls) {
      tls->next_layer().expires_after(
          std::min<std::chrono::milliseconds>(options.connect_timeout, std::chrono::seconds(1)));
      Run([&](auto handler) { tls->async_shutdown(std::move(handler)); });
    }
    Disconnect();
  }

  // Drops the connection at once (after an error, or when Close is done).
  void Disconnect() {
    beast::error_code ignored;
    if (plain) {
      plain->socket().shutdown(tcp::socket::shutdown_both, ignored);
      plain->close();
      plain.reset();
    }
    if (tls) {
      tls->next_layer().socket().shutdown(tcp::socket::shutdown_both, ignored);
      tls->next_layer().close();
      tls.reset();
    }
    peer_site.clear();
    buffer.clear();
  }

  std::string host;
  uint16_t port;
  HttpClientOptions options;
  asio::io_context ioc{1};
  std::optional<beast::tcp_stream> plain;
  std::optional<TlsStream> tls;
  std::string peer_site;
  beast::flat_buffer buffer;
};

HttpClient::HttpClient(std::string host, uint16_t port, HttpClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(host), port, std::move(options))) {}

HttpClient::~HttpClient() { impl_->Close(); }

void HttpClient::Close() { impl_->Close(); }

bool HttpClient::connected() const { return impl_->connected(); }

std::string_view HttpClient::peer_site_id() const { return impl_->peer_site; }

bool HttpClient::last_failure_was_stale_connection() const { return impl_->last_failure_stale; }

Result<HttpResponse> HttpClient::Fetch(const HttpRequest& request, uint64_t max_body_bytes) {
  return impl_->Fetch(request, nullptr, max_body_bytes);
}

Result<HttpResponse> HttpClient::FetchStreaming(const HttpRequest& request,
                                                const HttpBodySink& sink, uint64_t max_body_bytes) {
  if (!sink) return Status::InvalidArgument("FetchStreaming needs a body sink");
  return impl_->Fetch(request, &sink, max_body_bytes);
}

Result<HttpResponse> HttpFetch(std::string_view host, uint16_t port, const HttpRequest& request,
                               const HttpClientOptions& options) {
  HttpClient client(std::string(host), port, options);
  return client.Fetch(request);
}

}  // namespace tieup
