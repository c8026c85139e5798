#include "net/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <optional>

namespace tieup {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace net_internal {
class ResponseReader {
 public:
  static void AppendHeader(HttpResponse* r, std::string_view name, std::string_view value) {
    r->AppendHeaderUnchecked(name, value);
  }
};
}  // namespace net_internal

namespace {

std::string_view ToStd(beast::string_view s) { return {s.data(), s.size()}; }

bool IsStaleConnectionError(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
}

}  // namespace

// TODO(tls): the trust module adds an ssl::stream<beast::tcp_stream> transport; Exchange is
// written against the stream concept so that only Connect and the stream type change.
struct HttpClient::Impl {
  Impl(std::string h, uint16_t p, HttpClientOptions o)
      : host(std::move(h)), port(p), options(std::move(o)) {}

  // "host:port", with an IPv6 literal in brackets (also the Host header's form).
  std::string where() const {
    bool ipv6 = host.find(':') != std::string::npos;
    return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
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
    stream.reset();
    buffer.clear();
    tcp::resolver resolver(ioc);
    beast::error_code ec;
    auto endpoints = resolver.resolve(host, std::to_string(port), ec);
    if (ec) {
      return Status::Unavailable("cannot resolve host '" + host + "': " + ec.message());
    }
    stream.emplace(ioc);
    stream->expires_after(options.connect_timeout);
    ec = Run([&](auto handler) { stream->async_connect(endpoints, std::move(handler)); });
    if (ec) {
      stream.reset();
      if (ec == beast::error::timeout) {
        return Status::DeadlineExceeded("connecting to " + where() + " took longer than " +
                                        std::to_string(options.connect_timeout.count()) + " ms");
      }
      return Status::Unavailable("cannot connect to " + where() + ": " + ec.message() +
                                 "; is the server running?");
    }
    beast::error_code ignored;
    stream->socket().set_option(tcp::no_delay(true), ignored);
    return Status::Ok();
  }

  // One request/response on the open stream. *stale is set when the connection turned out to
  // be closed before any byte of a response arrived.
  Result<HttpResponse> Exchange(const HttpRequest& request, bool* stale) {
    *stale = false;
    http::request<http::string_body> req;
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
    req.body().assign(request.body());
    if (!has_length && (!request.body().empty() || request.method() == "POST" ||
                        request.method() == "PUT" || request.method() == "PATCH")) {
      req.content_length(request.body().size());
    }

    stream->expires_after(options.request_timeout);
    beast::error_code ec =
        Run([&](auto handler) { http::async_write(*stream, req, std::move(handler)); });
    if (ec) {
      *stale = IsStaleConnectionError(ec);
      return ReadError(ec);
    }

    http::response_parser<http::string_body> parser;
    parser.body_limit(options.max_body_bytes);
    parser.header_limit(options.max_header_bytes);
    if (request.method() == "HEAD") parser.skip(true);
    ec = Run([&](auto handler) { http::async_read(*stream, buffer, parser, std::move(handler)); });
    if (ec) {
      *stale = IsStaleConnectionError(ec) && !parser.got_some();
      return ReadError(ec);
    }
    stream->expires_never();

    auto& msg = parser.get();
    HttpResponse response(msg.result_int());
    for (const auto& field : msg) {
      net_internal::ResponseReader::AppendHeader(&response, ToStd(field.name_string()),
                                                 ToStd(field.value()));
    }
    if (!msg.keep_alive()) Disconnect();
    response.SetBody(std::move(msg.body()));
    return response;
  }

  Status ReadError(const beast::error_code& ec) {
    Disconnect();
    if (ec == beast::error::timeout) {
      return Status::DeadlineExceeded("no complete response from " + where() + " within " +
                                      std::to_string(options.request_timeout.count()) + " ms");
    }
    if (ec == http::error::body_limit) {
      return Status::ResourceExhausted("the response body from " + where() + " is larger than " +
                                       std::to_string(options.max_body_bytes) + " bytes");
    }
    if (ec == http::error::header_limit) {
      return Status::ResourceExhausted("the response header from " + where() + " is larger than " +
                                       std::to_string(options.max_header_bytes) + " bytes");
    }
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

  void Disconnect() {
    if (stream) {
      beast::error_code ignored;
      stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream->close();
      stream.reset();
    }
    buffer.clear();
  }

  std::string host;
  uint16_t port;
  HttpClientOptions options;
  asio::io_context ioc{1};
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
};

HttpClient::HttpClient(std::string host, uint16_t port, HttpClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(host), port, std::move(options))) {}

HttpClient::~HttpClient() { impl_->Disconnect(); }

void HttpClient::Close() { impl_->Disconnect(); }

Result<HttpResponse> HttpClient::Fetch(const HttpRequest& request) {
  if (request.method().empty() || request.target().empty()) {
    return Status::InvalidArgument("an HTTP request needs a method and a target");
  }
  try {
    bool reused = impl_->stream.has_value();
    if (!reused) RETURN_IF_ERROR(impl_->Connect());
    bool stale = false;
    Result<HttpResponse> r = impl_->Exchange(request, &stale);
    const bool idempotent = request.method() == "GET" || request.method() == "HEAD";
    if (!r.ok() && stale && reused && idempotent) {
      RETURN_IF_ERROR(impl_->Connect());
      r = impl_->Exchange(request, &stale);
    }
    return r;
  } catch (const std::exception& e) {
    // Beast throws for requests it cannot serialize (a bad method token, say).
    impl_->Disconnect();
    return Status::InvalidArgument(std::string("cannot send the HTTP request: ") + e.what());
  }
}

Result<HttpResponse> HttpFetch(std::string_view host, uint16_t port, const HttpRequest& request,
                               const HttpClientOptions& options) {
  HttpClient client(std::string(host), port, options);
  return client.Fetch(request);
}

}  // namespace tieup
