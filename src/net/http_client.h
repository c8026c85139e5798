// HttpClient: a small synchronous HTTP/1.1 client (Boost.Beast) for tests, the CLI and simple
// server-to-server calls. Plain TCP for now; the transport is a template parameter inside
// http_client.cc so that a TLS stream can be added by the trust module's TLS contexts.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "net/http_message.h"

namespace tieup {

struct HttpClientOptions {
  std::chrono::milliseconds connect_timeout{5'000};
  // Time allowed for writing the request and reading the whole response.
  std::chrono::milliseconds request_timeout{30'000};
  uint64_t max_body_bytes = 8 * 1024 * 1024;
  uint32_t max_header_bytes = 64 * 1024;
  std::string user_agent = "tieup";
};

// A connection to one host and port, kept alive between requests. Not thread-safe: one
// caller at a time.
class HttpClient {
 public:
  // `host` is a name or an IP literal. Nothing is connected until the first Fetch.
  HttpClient(std::string host, uint16_t port, HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `request` and reads the whole response. Adds Host, User-Agent and Content-Length when
  // the request does not have them. Reuses the open connection; when a reused connection turns
  // out to have been closed by the server before any response byte arrived, a GET or HEAD is
  // retried once on a new connection. The returned response's headers include every header
  // received (Content-Length, Connection, Date, ...).
  // Errors: kUnavailable (name resolution failed, connection refused or reset),
  // kDeadlineExceeded (a timeout), kResourceExhausted (body or header above the limits),
  // kInvalidArgument (the request cannot be sent, or the response is malformed).
  Result<HttpResponse> Fetch(const HttpRequest& request);

  // Closes the connection (the next Fetch reconnects).
  void Close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One request on a fresh connection, closed afterwards.
Result<HttpResponse> HttpFetch(std::string_view host, uint16_t port, const HttpRequest& request,
                               const HttpClientOptions& options = {});

}  // namespace tieup
