// Private to net: the server's connection machinery, shared by http_server.cc (plain
// connections, workers, the server) and tls_connection.cc (TLS connections).
//
// A connection lives on one worker for its whole life, so none of its state is locked. It
// handles one request at a time: read and parse (Beast's basic_parser, filling our HttpRequest
// directly), call the handler, write the response (our own serialization: status line, a few
// server headers, the handler's pre-formatted header block and the body in one gather write),
// then parse the next request, which may already be in the buffer (pipelining).
//
// Timeouts cost nothing per operation: each connection keeps a deadline (a number), and a
// per-worker sweep timer closes or answers 408 to the connections whose deadline has passed.
//
// The connection is a template over its stream: the plain TCP socket or an ssl::stream over
// it. The TLS one adds the handshake in front and close_notify at the end; the worker's list
// and the sweep see both through ConnectionBase. Each instantiation lives in its own
// translation unit (Connection<Socket> in http_server.cc, Connection<TlsStream> in
// tls_connection.cc), so the TLS code does not change how the compiler optimizes the plain
// path.
#pragma once

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "base/encoding.h"
#include "net/beast_text.h"
#include "net/client_limits.h"
#include "net/http_server.h"
#include "net/path.h"
#include "trust/tls.h"

namespace tieup {
namespace net_internal {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

constexpr int64_t kNoDeadline = INT64_MAX;
// How long a connection that we close keeps reading (and discarding) what the client still
// sends, so that our last response is not destroyed by a TCP reset.
constexpr int64_t kLingerMillis = 2000;
constexpr uint64_t kLingerMaxBytes = 1024 * 1024;
constexpr size_t kReadChunk = 8192;
// A TLS connection closed while idle (Stop, idle timeout) sends close_notify and waits this
// long for the peer's before closing the socket: long enough for a live peer to answer, short
// enough that Stop is not held up by peers that never do.
constexpr int64_t kTlsCloseGraceMillis = 250;
// A TLS response up to this size goes out as one write (one TLS record when it fits): the
// body is copied behind the header instead of costing a second record.
constexpr size_t kTlsCoalesceBytes = 16 * 1024 - 1024;

using Socket = asio::basic_stream_socket<tcp, asio::io_context::executor_type>;
using TlsStream = ssl::stream<Socket>;

inline int64_t SteadyMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline int64_t SteadyMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The Date header value, formatted once per second per thread.
inline std::string_view CachedHttpDate(Env& env) {
  thread_local int64_t cached_second = INT64_MIN;
  thread_local char cached[40];
  thread_local size_t cached_size = 0;
  int64_t now = env.NowSeconds();
  if (now != cached_second) {
    std::string d = FormatHttpDate(now);
    cached_size = std::min(d.size(), sizeof(cached));
    std::memcpy(cached, d.data(), cached_size);
    cached_second = now;
  }
  return {cached, cached_size};
}

inline void AppendNumber(std::string* out, uint64_t n) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), n);
  (void)ec;
  out->append(buf, static_cast<size_t>(end - buf));
}

// Why a server-side TLS handshake failed, in words, when this side did not refuse a
// certificate itself (that reason comes from PeerRefusalReason). Sets *refusal when the
// failure means an unauthenticated peer (as opposed to a broken or non-TLS one).
std::string DescribeHandshakeError(const beast::error_code& ec, bool* refusal);

// Parses one request straight into an HttpRequest (no intermediate beast::http::fields).
class RequestParser final : public http::basic_parser<true> {
 public:
  RequestParser(HttpRequest* request, uint32_t header_limit_bytes, uint64_t body_limit_bytes)
      : request_(request) {
    header_limit(header_limit_bytes);
    body_limit(body_limit_bytes);
  }

  bool expect_continue() const { return expect_continue_; }
  int host_count() const { return host_count_; }

 private:
  void on_request_impl(http::verb, beast::string_view method, beast::string_view target,
                       int version, beast::error_code&) override {
    request_->method_.assign(method.data(), method.size());
    request_->target_.assign(target.data(), target.size());
    request_->version_ = version;
  }
  void on_response_impl(int, beast::string_view, int, beast::error_code& ec) override {
    ec = http::error::bad_version;  // never called for a request parser
  }
  void on_field_impl(http::field name, beast::string_view name_string, beast::string_view value,
                     beast::error_code& ec) override {
    if (name == http::field::host) {
      ++host_count_;
    } else if (name == http::field::expect) {
      if (EqualsIgnoreCase(ToStd(value), "100-continue")) expect_continue_ = true;
    } else if (name == http::field::transfer_encoding) {
      // Beast ignores a request Transfer-Encoding whose last coding is not chunked and reads no
      // body, so the body would be taken for the next request (smuggling). RFC 9112 6.3: 400.
      std::string_view v = ToStd(value);
      size_t comma = v.rfind(',');
      std::string_view last = comma == std::string_view::npos ? v : v.substr(comma + 1);
      while (!last.empty() && (last.front() == ' ' || last.front() == '\t')) last.remove_prefix(1);
      while (!last.empty() && (last.back() == ' ' || last.back() == '\t')) last.remove_suffix(1);
      if (!EqualsIgnoreCase(last, "chunked")) {
        ec = http::error::bad_transfer_encoding;
        return;
      }
    }
    request_->AppendHeaderUnchecked(ToStd(name_string), ToStd(value));
  }
  void on_header_impl(beast::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length,
                         beast::error_code&) override {
    // The parser has already checked the length against the body limit.
    if (length) request_->body_.reserve(static_cast<size_t>(*length));
  }
  size_t on_body_impl(beast::string_view body, beast::error_code&) override {
    request_->body_.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, beast::error_code&) override {
    request_->body_.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(beast::error_code&) override {}

  HttpRequest* request_;
  bool expect_continue_ = false;
  int host_count_ = 0;
};

class ConnectionBase;
class Worker;

// What every worker shares: options, handler, counters. Immutable after Start except for the
// atomics.
struct ServerShared {
  Env* env = nullptr;
  HttpServerOptions options;
  std::shared_ptr<HttpHandler> handler;
  std::vector<std::string> allowed_methods;  // empty: all
  std::string allow_value;                   // the Allow header for 405
  std::string server_header;                 // "Server: tieup\r\n" or ""
  size_t max_buffer = 0;

  ssl::context* tls = nullptr;  // options.tls.get()
  // Per-client-address limits (options.max_connections_per_client, requests_per_second...).
  std::unique_ptr<ClientLimiter> limiter;

  std::atomic<bool> stopping{false};
  std::atomic<int> active{0};
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> tls_handshakes{0};
  std::atomic<uint64_t> tls_failures{0};
  std::atomic<uint64_t> refused{0};
  std::atomic<uint64_t> limited{0};
  std::atomic<uint64_t> evicted{0};
  std::mutex drained_mu;
  std::condition_variable drained_cv;  // a close while stopping, or while someone waits
  std::atomic<int> close_waiters{0};   // WaitForConnectionsAtMost callers
  // A flood must not become a flood of log lines: a few lines per kind per 10 s, then one that
  // says how many were held back.
  LogThrottle refused_log{5, 10'000};
  LogThrottle limited_log{5, 10'000};
  LogThrottle tls_log{10, 10'000};

  // A connection counted at accept (active, and per client address) has closed.
  void OnConnectionClosed(std::string_view client_address) {
    if (limiter) limiter->Closed(client_address);
    if ((active.fetch_sub(1) == 1 && stopping.load()) || close_waiters.load() > 0) {
      std::lock_guard<std::mutex> lock(drained_mu);
      drained_cv.notify_all();
    }
  }

  // Writes a line through `throttle` ("(N similar lines held back)" appended when some were).
  template <typename... Args>
  void ThrottledLog(LogThrottle& throttle, bool warn, fmt::format_string<Args...> format,
                    Args&&... args) {
    if (!options.logger) return;
    uint64_t held_back = 0;
    if (!throttle.Allow(SteadyMillis(), &held_back)) return;
    std::string line = fmt::format(format, std::forward<Args>(args)...);
    if (held_back > 0) line += fmt::format(" ({} similar lines held back)", held_back);
    if (warn) {
      options.logger->warn("{}", line);
    } else {
      options.logger->info("{}", line);
    }
  }

  // Counts and logs a TLS handshake that did not complete. `warn`: the peer was refused
  // (certificate); otherwise it failed for another reason (timeout, not TLS, went away).
  void OnTlsHandshakeFailed(std::string_view remote, std::string_view why, bool warn) {
    if (warn) {
      ThrottledLog(tls_log, true, "tls: refused connection from {}: {}", remote, why);
    } else {
      ThrottledLog(tls_log, false, "tls: dropped connection from {}: {}", remote, why);
    }
    // Counted after the line is out, so whoever sees the count can read the line.
    tls_failures.fetch_add(1);
  }
};

// The worker whose thread this is (null on other threads).
extern thread_local Worker* tls_current_worker;

class Worker {
 public:
  Worker(ServerShared* shared) : shared_(shared), sweep_timer_(ioc_) {}

  asio::io_context& ioc() { return ioc_; }
  ServerShared& shared() { return *shared_; }

  void Run();
  void StartSweeping();
  // `client_address`: the peer's address as counted at accept.
  void StartConnection(Socket socket, std::string client_address);
  void BeginShutdown();
  void CloseAll();
  // DisconnectPeers on this worker's connections; returns how many were picked.
  int DisconnectPeers(const std::function<bool(std::string_view, std::string_view)>& should_close);

  void Add(ConnectionBase* c);
  void Remove(ConnectionBase* c);

 private:
  void Sweep();

  ServerShared* shared_;
  asio::io_context ioc_{1};
  asio::steady_timer sweep_timer_;
  std::chrono::milliseconds sweep_interval_{100};
  ConnectionBase* first_ = nullptr;
};

// What the worker's list and sweep see of a connection of either kind.
class ConnectionBase : public ResponseSink {
 public:
  // The sweep timer found the deadline passed.
  virtual void OnDeadline() = 0;
  // Graceful stop: idle connections close now, busy ones after their response.
  virtual void OnServerStop() = 0;
  virtual void Close() = 0;
  // Closes the connection (idle: now; busy: after its response) when its verified TLS peer is
  // one `should_close` picks; returns whether it was picked.
  virtual bool DisconnectIf(
      const std::function<bool(std::string_view, std::string_view)>& should_close) = 0;
  int64_t deadline() const { return deadline_; }

  ConnectionBase* prev = nullptr;
  ConnectionBase* next = nullptr;

 protected:
  int64_t deadline_ = kNoDeadline;
};

template <typename Stream>
class Connection final : public ConnectionBase,
                         public std::enable_shared_from_this<Connection<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, Socket>;

  // `stream_args`: the socket, and for TLS the ssl::context.
  template <typename... StreamArgs>
  explicit Connection(Worker* worker, StreamArgs&&... stream_args)
      : worker_(worker),
        shared_(&worker->shared()),
        stream_(std::forward<StreamArgs>(stream_args)...),
        buffer_(shared_->max_buffer) {}

  // `client_address`: as counted at accept (it is also the request's remote_address).
  void Start(std::string client_address);
  void Deliver(HttpResponse&& response) override;
  void OnDeadline() override;
  void OnServerStop() override;
  void Close() override;
  bool DisconnectIf(
      const std::function<bool(std::string_view, std::string_view)>& should_close) override;

 private:
  enum class State { kHandshaking, kReading, kHandling, kWriting, kLingering, kClosed };

  Socket& Lowest() {
    if constexpr (kTls) {
      return stream_.next_layer();
    } else {
      return stream_;
    }
  }
  void OnHandshake(beast::error_code ec);
  // Closes an idle connection: at once on plain TCP; with close_notify on TLS.
  void CloseIdle();

  void StartRequest();
  // The timeout `t`, capped for a TLS connection without a verified peer.
  std::chrono::milliseconds Capped(std::chrono::milliseconds t) const {
    return unauthenticated_ ? std::min(t, shared_->options.unauthenticated_timeout) : t;
  }
  // False (and a 429 on its way) when the client is over its request rate.
  bool CheckRequestRate();
  void ParseBuffered();
  void DoRead();
  void OnRead(beast::error_code ec, size_t n);
  // Returns false when it has taken over (an error response, or a 100 Continue being written).
  bool OnHeaderDone();
  void OnParseError(beast::error_code ec);
  void OnRequestComplete();
  void OnAsyncResponse(HttpResponse&& response);
  void RespondWithError(int status, std::string_view message, bool close);
  void WriteResponse();
  void OnWritten(beast::error_code ec, size_t n);
  void ReportAccess(bool complete, uint64_t body_bytes);
  void StartLingeringClose();
  // Shuts down sending on the TCP socket and discards what still arrives, for a while.
  void LingerOnSocket();
  void DoDiscard();

  Worker* worker_;
  ServerShared* shared_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<RequestParser> parser_;
  HttpRequest request_;
  HttpResponse response_;
  std::string head_;
  std::string_view body_out_;

  State state_ = State::kReading;
  bool first_request_ = true;
  bool closing_idle_ = false;  // TLS: the pending read was cancelled to send close_notify
  bool request_begun_ = false;
  bool header_done_ = false;
  bool path_ok_ = false;
  bool close_after_ = false;
  bool keep_alive_after_write_ = false;
  bool timed_out_ = false;
  bool in_handler_ = false;
  bool have_response_ = false;
  bool unauthenticated_ = false;  // TLS without a verified peer (see Capped)
  bool disconnecting_ = false;    // DisconnectPeers picked it: no request after this one
  int64_t request_time_micros_ = 0;
  int64_t request_start_steady_ = 0;
  uint64_t discarded_ = 0;
};

// Starts a TLS connection on `worker` (the caller has added nothing yet). In tls_connection.cc.
void StartTlsConnection(Worker* worker, Socket socket, std::string client_address,
                        ssl::context& context);

// --- Connection ---

template <typename Stream>
void Connection<Stream>::Start(std::string client_address) {
  beast::error_code ec;
  Lowest().set_option(tcp::no_delay(true), ec);
  request_.remote_address_ = std::move(client_address);
  tcp::endpoint local = Lowest().local_endpoint(ec);
  if (!ec) request_.local_address_ = local.address().to_string();
  if constexpr (kTls) {
    // The handshake counts against the header timeout, capped as for an unauthenticated peer
    // (it is one until the handshake completes): a peer that connects and stays silent (or
    // stalls mid-handshake) is dropped by the sweep.
    state_ = State::kHandshaking;
    unauthenticated_ = true;
    deadline_ = SteadyMillis() + Capped(shared_->options.header_timeout).count();
    stream_.async_handshake(
        ssl::stream_base::server,
        [self = this->shared_from_this()](beast::error_code hec) { self->OnHandshake(hec); });
  } else {
    StartRequest();
  }
}

template <typename Stream>
void Connection<Stream>::OnHandshake(beast::error_code ec) {
  if constexpr (kTls) {
    if (state_ != State::kHandshaking) return;  // dropped by the deadline or Stop
    if (ec) {
      std::string reason = PeerRefusalReason(stream_);
      bool refusal = !reason.empty();
      if (reason.empty()) reason = DescribeHandshakeError(ec, &refusal);
      shared_->OnTlsHandshakeFailed(request_.remote_address_, reason, refusal);
      // OpenSSL has sent its alert. Closing with unread input would reset the connection and
      // could destroy the alert before the peer reads it: linger instead, so that a refused
      // client learns why.
      LingerOnSocket();
      return;
    }
    Result<PeerIdentity> peer = VerifiedPeer(stream_.native_handle());
    // A context that does not ask for client certificates leaves the peer anonymous ("").
    if (peer.ok()) {
      request_.peer_site_id_ = std::move(peer->site_id);
      request_.peer_fingerprint_ = std::move(peer->certificate_fingerprint);
      unauthenticated_ = false;
    }
    shared_->tls_handshakes.fetch_add(1, std::memory_order_relaxed);
    StartRequest();
  } else {
    (void)ec;
  }
}

template <typename Stream>
void Connection<Stream>::CloseIdle() {
  if constexpr (kTls) {
    if (closing_idle_) {
      Close();
      return;
    }
    // A read is pending: cancel it; OnRead then sends close_notify (two operations must not
    // drive the TLS engine at once).
    closing_idle_ = true;
    deadline_ = SteadyMillis() + kTlsCloseGraceMillis;
    beast::error_code ec;
    Lowest().cancel(ec);
  } else {
    Close();
  }
}

template <typename Stream>
void Connection<Stream>::StartRequest() {
  request_.Clear();
  parser_.emplace(&request_, shared_->options.max_header_bytes, shared_->options.max_body_bytes);
  state_ = State::kReading;
  request_begun_ = false;
  header_done_ = false;
  path_ok_ = false;
  close_after_ = false;
  timed_out_ = false;
  have_response_ = false;
  if ((shared_->stopping.load() || disconnecting_) && buffer_.size() == 0) {
    if constexpr (kTls) {
      closing_idle_ = true;  // no read is pending: close_notify can go at once
      StartLingeringClose();
    } else {
      Close();
    }
    return;
  }
  const auto& o = shared_->options;
  deadline_ = SteadyMillis() + Capped(first_request_ ? o.header_timeout : o.idle_timeout).count();
  first_request_ = false;
  ParseBuffered();
}

template <typename Stream>
void Connection<Stream>::ParseBuffered() {
  while (buffer_.size() > 0) {
    if (!request_begun_) {
      request_begun_ = true;
      request_start_steady_ = SteadyMicros();
      deadline_ = request_start_steady_ / 1000 + Capped(shared_->options.header_timeout).count();
    }
    beast::error_code ec;
    size_t used = parser_->put(buffer_.data(), ec);
    buffer_.consume(used);
    if (ec == http::error::need_more) break;
    if (ec) {
      OnParseError(ec);
      return;
    }
    if (!header_done_ && parser_->is_header_done()) {
      if (!OnHeaderDone()) return;
    }
    if (parser_->is_done()) {
      OnRequestComplete();
      return;
    }
    if (used == 0) break;
  }
  DoRead();
}

template <typename Stream>
void Connection<Stream>::DoRead() {
  size_t room = shared_->max_buffer - buffer_.size();
  if (room == 0) {
    OnParseError(http::error::header_limit);
    return;
  }
  stream_.async_read_some(
      buffer_.prepare(std::min(room, kReadChunk)),
      [self = this->shared_from_this()](beast::error_code ec, size_t n) { self->OnRead(ec, n); });
}

template <typename Stream>
void Connection<Stream>::OnRead(beast::error_code ec, size_t n) {
  if (state_ != State::kReading) return;  // closed meanwhile
  if constexpr (kTls) {
    if (closing_idle_) {
      StartLingeringClose();
      return;
    }
  }
  if (timed_out_) {
    timed_out_ = false;
    const auto& o = shared_->options;
    std::string msg = header_done_ ? "the request body did not arrive within " +
                                         std::to_string(o.body_timeout.count()) + " ms"
                                   : "the request header did not arrive within " +
                                         std::to_string(o.header_timeout.count()) + " ms";
    RespondWithError(408, msg, /*close=*/true);
    return;
  }
  if (ec) {
    // EOF or a reset: between requests this is the client's normal goodbye; in the middle of
    // one, there is nobody left to answer.
    Close();
    return;
  }
  buffer_.commit(n);
  ParseBuffered();
}

template <typename Stream>
void Connection<Stream>::OnParseError(beast::error_code ec) {
  const auto& o = shared_->options;
  if (ec == http::error::header_limit) {
    RespondWithError(
        431, "the request header is larger than " + std::to_string(o.max_header_bytes) + " bytes",
        true);
  } else if (ec == http::error::body_limit) {
    RespondWithError(
        413, "the request body is larger than " + std::to_string(o.max_body_bytes) + " bytes",
        true);
  } else {
    RespondWithError(400, "malformed HTTP request (" + ec.message() + ")", true);
  }
}

template <typename Stream>
bool Connection<Stream>::CheckRequestRate() {
  if (!shared_->limiter) return true;
  // An enrolled site on the sync port is known and answerable; its connections are still
  // counted at accept.
  if (kTls && !request_.peer_site_id_.empty()) return true;
  int retry_after = 1;
  if (shared_->limiter->TryRequest(request_.remote_address_, SteadyMillis(), &retry_after)) {
    return true;
  }
  shared_->limited.fetch_add(1, std::memory_order_relaxed);
  shared_->ThrottledLog(shared_->limited_log, true,
                        "http server: {} is over its request rate ({}/s): answering 429",
                        request_.remote_address_, shared_->options.requests_per_second_per_client);
  std::string text = "429 Too Many Requests: this address sent too many requests; wait " +
                     std::to_string(retry_after) + " s and try again\n";
  response_ = HttpResponse::Text(429, text);
  response_.AddHeader("Retry-After", std::to_string(retry_after));
  response_.AddHeader("X-Content-Type-Options", "nosniff");
  close_after_ = close_after_ || !parser_->is_done();
  WriteResponse();
  return false;
}

template <typename Stream>
bool Connection<Stream>::OnHeaderDone() {
  header_done_ = true;
  request_.keep_alive_ = parser_->keep_alive();
  request_time_micros_ = shared_->env->NowMicros();
  if (!CheckRequestRate()) return false;
  if (request_.version_ >= 11 && parser_->host_count() == 0) {
    RespondWithError(400, "an HTTP/1.1 request must have a Host header", !parser_->is_done());
    return false;
  }
  if (parser_->host_count() > 1) {
    RespondWithError(400, "the request has more than one Host header", !parser_->is_done());
    return false;
  }
  std::string_view query;
  Status s = NormalizePathTo(request_.target_, &request_.path_, &query);
  if (!s.ok()) {
    RespondWithError(400, s.message(), !parser_->is_done());
    return false;
  }
  path_ok_ = true;
  request_.query_.assign(query);
  if (!shared_->allowed_methods.empty()) {
    bool allowed = false;
    for (const std::string& m : shared_->allowed_methods) {
      if (m == request_.method_) {
        allowed = true;
        break;
      }
    }
    if (!allowed) {
      response_ = HttpResponse::Text(
          405, "405 Method Not Allowed: " + request_.method_ +
                   " is not allowed here; allowed: " + shared_->allow_value + "\n");
      response_.AddHeader("Allow", shared_->allow_value);
      response_.AddHeader("X-Content-Type-Options", "nosniff");
      close_after_ = !parser_->is_done();
      WriteResponse();
      return false;
    }
  }
  if (!parser_->is_done()) {
    deadline_ = SteadyMillis() + Capped(shared_->options.body_timeout).count();
    if (parser_->expect_continue() && request_.version_ >= 11) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      // The body's deadline keeps running while the interim response goes out.
      asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = this->shared_from_this()](beast::error_code ec, size_t) {
                          if (self->state_ != State::kReading) return;
                          if (ec) {
                            self->Close();
                            return;
                          }
                          self->ParseBuffered();
                        });
      return false;
    }
  }
  return true;
}

template <typename Stream>
void Connection<Stream>::OnRequestComplete() {
  state_ = State::kHandling;
  deadline_ = kNoDeadline;
  in_handler_ = true;
  have_response_ = false;
  try {
    shared_->handler->Handle(request_, HttpResponder(this->shared_from_this()));
  } catch (const std::exception& e) {
    // The responder was destroyed during unwinding and has answered 500.
    if (shared_->options.logger) {
      shared_->options.logger->error("http handler threw on {} {}: {}", request_.method_,
                                     request_.path_, e.what());
    }
  } catch (...) {
    if (shared_->options.logger) {
      shared_->options.logger->error("http handler threw on {} {}", request_.method_,
                                     request_.path_);
    }
  }
  in_handler_ = false;
  if (have_response_) WriteResponse();
}

template <typename Stream>
void Connection<Stream>::Deliver(HttpResponse&& response) {
  // Checking the thread first keeps in_handler_ from being read by another thread.
  if (tls_current_worker == worker_ && in_handler_) {
    if (!have_response_) {
      response_ = std::move(response);
      have_response_ = true;
    }
    return;
  }
  asio::post(worker_->ioc(), [self = this->shared_from_this(), r = std::move(response)]() mutable {
    self->OnAsyncResponse(std::move(r));
  });
}

template <typename Stream>
void Connection<Stream>::OnAsyncResponse(HttpResponse&& response) {
  if (state_ != State::kHandling || in_handler_) return;
  response_ = std::move(response);
  WriteResponse();
}

template <typename Stream>
void Connection<Stream>::RespondWithError(int status, std::string_view message, bool close) {
  std::string text;
  text.reserve(message.size() + 40);
  AppendNumber(&text, static_cast<uint64_t>(status));
  text += ' ';
  text += HttpReasonPhrase(status);
  text += ": ";
  text += message;
  text += '\n';
  response_ = HttpResponse::Text(status, text);
  response_.AddHeader("X-Content-Type-Options", "nosniff");
  close_after_ = close_after_ || close;
  WriteResponse();
}

template <typename Stream>
void Connection<Stream>::WriteResponse() {
  state_ = State::kWriting;
  deadline_ = SteadyMillis() + shared_->options.write_timeout.count();
  const int status = response_.status();
  // A 1xx final response (a protocol switch) is not supported: close rather than guess.
  keep_alive_after_write_ = header_done_ && request_.keep_alive_ && !close_after_ &&
                            !response_.close_connection() && !shared_->stopping.load() &&
                            !disconnecting_ && !unauthenticated_ && status >= 200;
  const bool bodiless_status = status < 200 || status == 204 || status == 304;
  const bool head = request_.method_ == "HEAD";

  head_.clear();
  head_.append("HTTP/1.1 ");
  AppendNumber(&head_, static_cast<uint64_t>(status));
  head_.push_back(' ');
  head_.append(HttpReasonPhrase(status));
  head_.append("\r\n");
  head_.append(shared_->server_header);
  head_.append("Date: ");
  head_.append(CachedHttpDate(*shared_->env));
  head_.append("\r\n");
  if (!bodiless_status) {
    head_.append("Content-Length: ");
    AppendNumber(&head_, response_.body().size());
    head_.append("\r\n");
  }
  if (!keep_alive_after_write_) {
    head_.append("Connection: close\r\n");
  } else if (request_.version_ < 11) {
    head_.append("Connection: keep-alive\r\n");
  }
  head_.append(response_.header_block());
  head_.append("\r\n");
  body_out_ = (bodiless_status || head) ? std::string_view() : response_.body();

  if constexpr (kTls) {
    // The TLS stream encrypts one buffer per write: a small body rides behind the header.
    if (body_out_.size() <= kTlsCoalesceBytes) {
      head_.append(body_out_);
      asio::async_write(stream_, asio::buffer(head_.data(), head_.size()),
                        [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                          self->OnWritten(ec, n);
                        });
      return;
    }
  }
  std::array<asio::const_buffer, 2> buffers{asio::buffer(head_.data(), head_.size()),
                                            asio::buffer(body_out_.data(), body_out_.size())};
  asio::async_write(stream_, buffers,
                    [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                      self->OnWritten(ec, n);
                    });
}

template <typename Stream>
void Connection<Stream>::OnWritten(beast::error_code ec, size_t) {
  ReportAccess(!ec, ec ? 0 : body_out_.size());
  if (state_ != State::kWriting) return;  // closed by a timeout or Stop
  if (ec) {
    Close();
    return;
  }
  if (!keep_alive_after_write_) {
    StartLingeringClose();
    return;
  }
  StartRequest();
}

template <typename Stream>
void Connection<Stream>::ReportAccess(bool complete, uint64_t body_bytes) {
  const auto& hook = shared_->options.access_hook;
  if (!hook) return;
  AccessEvent e;
  e.time_micros = request_time_micros_ != 0 ? request_time_micros_ : shared_->env->NowMicros();
  e.remote_address = request_.remote_address_;
  e.method = request_.method_;
  e.path = path_ok_ ? std::string_view(request_.path_) : std::string_view(request_.target_);
  e.status = response_.status();
  e.bytes_sent = body_bytes;
  e.referer = request_.HeaderOr("Referer");
  e.user_agent = request_.HeaderOr("User-Agent");
  e.host = request_.HeaderOr("Host");
  e.duration_micros = request_begun_ ? SteadyMicros() - request_start_steady_ : 0;
  e.area = response_.area;
  e.user = response_.user;
  e.peer_site_id = request_.peer_site_id_;
  e.complete = complete;
  request_time_micros_ = 0;
  try {
    hook(e);
  } catch (...) {
    // An access consumer's failure must not take the connection down.
  }
}

template <typename Stream>
void Connection<Stream>::StartLingeringClose() {
  state_ = State::kLingering;
  if constexpr (kTls) {
    // close_notify, then OpenSSL reads (and discards) until the peer's close_notify or EOF:
    // the same lingering as below, bounded by the same deadline.
    deadline_ = SteadyMillis() + (closing_idle_ ? kTlsCloseGraceMillis : kLingerMillis);
    stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
      if (self->state_ == State::kLingering) self->Close();
    });
    return;
  }
  LingerOnSocket();
}

template <typename Stream>
void Connection<Stream>::LingerOnSocket() {
  state_ = State::kLingering;
  beast::error_code ec;
  Lowest().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) {
    Close();
    return;
  }
  deadline_ = SteadyMillis() + kLingerMillis;
  discarded_ = 0;
  buffer_.clear();
  DoDiscard();
}

template <typename Stream>
void Connection<Stream>::DoDiscard() {
  Lowest().async_read_some(buffer_.prepare(kReadChunk),
                           [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                             if (self->state_ != State::kLingering) return;
                             self->discarded_ += n;
                             if (ec || self->discarded_ > kLingerMaxBytes) {
                               self->Close();
                               return;
                             }
                             self->DoDiscard();
                           });
}

template <typename Stream>
void Connection<Stream>::OnDeadline() {
  switch (state_) {
    case State::kReading:
      if (request_begun_) {
        // Answer 408 once the pending read has been cancelled (see OnRead).
        timed_out_ = true;
        deadline_ = kNoDeadline;
        beast::error_code ec;
        Lowest().cancel(ec);
      } else {
        CloseIdle();  // idle keep-alive connection
      }
      break;
    case State::kHandshaking:
      if constexpr (kTls) {
        shared_->OnTlsHandshakeFailed(request_.remote_address_,
                                      "the TLS handshake did not complete within " +
                                          std::to_string(shared_->options.header_timeout.count()) +
                                          " ms",
                                      false);
      }
      Close();
      break;
    case State::kWriting:
    case State::kLingering:
      Close();
      break;
    case State::kHandling:
    case State::kClosed:
      break;
  }
}

template <typename Stream>
void Connection<Stream>::OnServerStop() {
  if (state_ == State::kHandshaking) {
    Close();
  } else if (state_ == State::kReading && !request_begun_) {
    CloseIdle();
  }
  // Busy connections see `stopping` when their response is written, and close then.
}

template <typename Stream>
void Connection<Stream>::Close() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  deadline_ = kNoDeadline;
  beast::error_code ec;
  Lowest().close(ec);  // completes pending operations with operation_aborted
  worker_->Remove(this);
  shared_->OnConnectionClosed(request_.remote_address_);
}

template <typename Stream>
bool Connection<Stream>::DisconnectIf(
    const std::function<bool(std::string_view, std::string_view)>& should_close) {
  if (!kTls || state_ == State::kClosed || disconnecting_) return false;
  if (request_.peer_site_id_.empty()) return false;
  if (!should_close(request_.peer_site_id_, request_.peer_fingerprint_)) return false;
  disconnecting_ = true;
  shared_->evicted.fetch_add(1, std::memory_order_relaxed);
  if (state_ == State::kReading && !request_begun_) CloseIdle();
  // A request being read or handled is answered (the handler checks the peer's standing
  // itself), with "Connection: close".
  return true;
}

}  // namespace net_internal
}  // namespace tieup
