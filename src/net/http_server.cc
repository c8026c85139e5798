// The server: an acceptor, N workers (one io_context and one thread each), and connections.
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
// it. The plain instantiation compiles to the same code as before TLS existed; the TLS one
// adds the handshake in front and close_notify at the end. The worker's list and the sweep
// see both through ConnectionBase.
#include "net/http_server.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <charconv>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

#include "base/encoding.h"
#include "net/path.h"
#include "trust/tls.h"

namespace tieup {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

namespace net_internal {
namespace {

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

int64_t SteadyMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t SteadyMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The Date header value, formatted once per second per thread.
std::string_view CachedHttpDate(Env& env) {
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

void AppendNumber(std::string* out, uint64_t n) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), n);
  (void)ec;
  out->append(buf, static_cast<size_t>(end - buf));
}

std::string_view ToStd(beast::string_view s) { return {s.data(), s.size()}; }

// Why a server-side handshake failed, in words, when this side did not refuse a certificate
// itself (that reason comes from PeerRefusalReason). Sets *refusal when the failure means an
// unauthenticated peer (as opposed to a broken or non-TLS one).
std::string DescribeHandshakeError(const beast::error_code& ec, bool* refusal) {
  *refusal = false;
  if (ec == asio::error::eof || ec == ssl::error::stream_truncated ||
      ec == asio::error::connection_reset) {
    return "the peer closed the connection during the TLS handshake (it may have refused this "
           "site's certificate)";
  }
  if (ec.category() == asio::error::get_ssl_category()) {
    switch (ERR_GET_REASON(static_cast<unsigned long>(ec.value()))) {
      case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
        *refusal = true;
        return "the peer presented no certificate: a partner must connect with the certificate "
               "from its enrollment";
      case SSL_R_UNSUPPORTED_PROTOCOL:
      case SSL_R_NO_PROTOCOLS_AVAILABLE:
      case SSL_R_VERSION_TOO_LOW:
        *refusal = true;
        return "the peer does not offer TLS 1.3 (" + ec.message() + ")";
      case SSL_R_HTTP_REQUEST:
      case SSL_R_WRONG_VERSION_NUMBER:
        return "the peer does not speak TLS (plain HTTP on the TLS port?)";
      default:
        break;
    }
    const int reason = ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
    if (reason >= SSL_AD_REASON_OFFSET) {
      return "the peer refused the handshake (" + ec.message() +
             "): it does not accept this site's certificate";
    }
  }
  return "TLS handshake failed: " + ec.message();
}

}  // namespace

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

  std::atomic<bool> stopping{false};
  std::atomic<int> active{0};
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> tls_handshakes{0};
  std::atomic<uint64_t> tls_failures{0};
  std::mutex drained_mu;
  std::condition_variable drained_cv;

  void OnConnectionClosed() {
    if (active.fetch_sub(1) == 1 && stopping.load()) {
      std::lock_guard<std::mutex> lock(drained_mu);
      drained_cv.notify_all();
    }
  }

  // Counts and logs a TLS handshake that did not complete. `warn`: the peer was refused
  // (certificate); otherwise it failed for another reason (timeout, not TLS, went away).
  void OnTlsHandshakeFailed(std::string_view remote, std::string_view why, bool warn) {
    if (options.logger) {
      if (warn) {
        options.logger->warn("tls: refused connection from {}: {}", remote, why);
      } else {
        options.logger->info("tls: dropped connection from {}: {}", remote, why);
      }
    }
    // Counted after the line is out, so whoever sees the count can read the line.
    tls_failures.fetch_add(1);
  }
};

thread_local Worker* tls_current_worker = nullptr;

class Worker {
 public:
  Worker(ServerShared* shared) : shared_(shared), sweep_timer_(ioc_) {}

  asio::io_context& ioc() { return ioc_; }
  ServerShared& shared() { return *shared_; }

  void Run();
  void StartSweeping();
  void StartConnection(Socket socket);
  void BeginShutdown();
  void CloseAll();

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

  void Start();
  void Deliver(HttpResponse&& response) override;
  void OnDeadline() override;
  void OnServerStop() override;
  void Close() override;

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
  int64_t request_time_micros_ = 0;
  int64_t request_start_steady_ = 0;
  uint64_t discarded_ = 0;
};

// --- Worker ---

void Worker::Run() {
  tls_current_worker = this;
  for (;;) {
    try {
      ioc_.run();
      break;
    } catch (const std::exception& e) {
      if (shared_->options.logger) {
        shared_->options.logger->error("http server: exception escaped a handler: {}", e.what());
      }
    } catch (...) {
      if (shared_->options.logger) {
        shared_->options.logger->error("http server: unknown exception escaped a handler");
      }
    }
  }
  tls_current_worker = nullptr;
}

void Worker::StartSweeping() {
  const auto& o = shared_->options;
  auto shortest = std::min({o.header_timeout, o.body_timeout, o.idle_timeout, o.write_timeout});
  sweep_interval_ =
      std::clamp(shortest / 4, std::chrono::milliseconds(10), std::chrono::milliseconds(1000));
  Sweep();
}

void Worker::Sweep() {
  int64_t now = SteadyMillis();
  for (ConnectionBase* c = first_; c != nullptr;) {
    ConnectionBase* next = c->next;  // OnDeadline may unlink c, never another connection
    if (c->deadline() <= now) c->OnDeadline();
    c = next;
  }
  sweep_timer_.expires_after(sweep_interval_);
  sweep_timer_.async_wait([this](beast::error_code ec) {
    if (!ec) Sweep();
  });
}

void Worker::StartConnection(Socket socket) {
  if (shared_->stopping.load()) {
    beast::error_code ec;
    socket.close(ec);
    shared_->OnConnectionClosed();
    return;
  }
  shared_->accepted.fetch_add(1, std::memory_order_relaxed);
  if (shared_->tls != nullptr) {
    auto c = std::make_shared<Connection<TlsStream>>(this, std::move(socket), *shared_->tls);
    Add(c.get());
    c->Start();
  } else {
    auto c = std::make_shared<Connection<Socket>>(this, std::move(socket));
    Add(c.get());
    c->Start();
  }
}

void Worker::BeginShutdown() {
  for (ConnectionBase* c = first_; c != nullptr;) {
    ConnectionBase* next = c->next;
    c->OnServerStop();
    c = next;
  }
}

void Worker::CloseAll() {
  while (first_ != nullptr) first_->Close();
  sweep_timer_.cancel();
}

void Worker::Add(ConnectionBase* c) {
  c->prev = nullptr;
  c->next = first_;
  if (first_ != nullptr) first_->prev = c;
  first_ = c;
}

void Worker::Remove(ConnectionBase* c) {
  if (c->prev != nullptr) {
    c->prev->next = c->next;
  } else if (first_ == c) {
    first_ = c->next;
  }
  if (c->next != nullptr) c->next->prev = c->prev;
  c->prev = c->next = nullptr;
}

// --- Connection ---

template <typename Stream>
void Connection<Stream>::Start() {
  beast::error_code ec;
  Lowest().set_option(tcp::no_delay(true), ec);
  tcp::endpoint peer = Lowest().remote_endpoint(ec);
  if (!ec) request_.remote_address_ = peer.address().to_string();
  if constexpr (kTls) {
    // The handshake counts against the header timeout: a peer that connects and stays silent
    // (or stalls mid-handshake) is dropped by the sweep.
    state_ = State::kHandshaking;
    deadline_ = SteadyMillis() + shared_->options.header_timeout.count();
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
    Result<std::string> peer = PeerSiteId(stream_);
    // A context that does not ask for client certificates leaves the peer anonymous ("").
    if (peer.ok()) request_.peer_site_id_ = std::move(*peer);
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
  if (shared_->stopping.load() && buffer_.size() == 0) {
    if constexpr (kTls) {
      closing_idle_ = true;  // no read is pending: close_notify can go at once
      StartLingeringClose();
    } else {
      Close();
    }
    return;
  }
  const auto& o = shared_->options;
  deadline_ = SteadyMillis() + (first_request_ ? o.header_timeout : o.idle_timeout).count();
  first_request_ = false;
  ParseBuffered();
}

template <typename Stream>
void Connection<Stream>::ParseBuffered() {
  while (buffer_.size() > 0) {
    if (!request_begun_) {
      request_begun_ = true;
      request_start_steady_ = SteadyMicros();
      deadline_ = request_start_steady_ / 1000 + shared_->options.header_timeout.count();
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
bool Connection<Stream>::OnHeaderDone() {
  header_done_ = true;
  request_.keep_alive_ = parser_->keep_alive();
  request_time_micros_ = shared_->env->NowMicros();
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
    deadline_ = SteadyMillis() + shared_->options.body_timeout.count();
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
                            status >= 200;
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
  shared_->OnConnectionClosed();
}

}  // namespace net_internal

// --- HttpResponder ---

HttpResponder& HttpResponder::operator=(HttpResponder&& other) noexcept {
  if (this != &other) {
    if (sink_) sink_->Deliver(HttpResponse::Text(500, "500 Internal Server Error\n"));
    sink_ = std::move(other.sink_);
  }
  return *this;
}

HttpResponder::~HttpResponder() {
  if (sink_) {
    sink_->Deliver(
        HttpResponse::Text(500, "500 Internal Server Error: the handler gave no response\n"));
  }
}

namespace {
class CallbackSink final : public net_internal::ResponseSink {
 public:
  explicit CallbackSink(std::function<void(HttpResponse)> callback)
      : callback_(std::move(callback)) {}
  void Deliver(HttpResponse&& response) override { callback_(std::move(response)); }

 private:
  std::function<void(HttpResponse)> callback_;
};
}  // namespace

HttpResponder HttpResponder::FromCallback(std::function<void(HttpResponse)> callback) {
  return HttpResponder(std::make_shared<CallbackSink>(std::move(callback)));
}

void HttpResponder::Respond(HttpResponse response) {
  if (!sink_) return;
  std::shared_ptr<net_internal::ResponseSink> sink = std::move(sink_);
  sink_.reset();
  sink->Deliver(std::move(response));
}

// --- HttpServer ---

class HttpServer::Impl {
 public:
  Impl(Env& env, HttpServerOptions options, std::shared_ptr<HttpHandler> handler) {
    shared_.env = &env;
    shared_.options = std::move(options);
    shared_.handler = std::move(handler);
    shared_.tls = shared_.options.tls.get();
  }
  ~Impl() { Stop(); }

  Status Start();
  void Stop();
  uint16_t port() const { return port_.load(); }
  int active() const { return shared_.active.load(); }
  HttpServerStats stats() const {
    HttpServerStats s;
    s.connections_accepted = shared_.accepted.load();
    s.tls_handshakes = shared_.tls_handshakes.load();
    s.tls_handshake_failures = shared_.tls_failures.load();
    return s;
  }

 private:
  void DoAccept();
  // Undoes a Start that failed before any thread ran. The acceptor goes before the
  // io_context it belongs to.
  void DiscardUnstarted() {
    accept_retry_.reset();
    acceptor_.reset();
    workers_.clear();
  }
  // Runs `fn` on `worker`'s thread and waits for it.
  void RunOn(net_internal::Worker& worker, std::function<void()> fn);

  net_internal::ServerShared shared_;
  std::vector<std::unique_ptr<net_internal::Worker>> workers_;
  std::vector<std::thread> threads_;
  std::optional<tcp::acceptor> acceptor_;
  std::optional<asio::steady_timer> accept_retry_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  size_t next_worker_ = 0;
  std::atomic<uint16_t> port_{0};
  std::mutex control_mu_;
  bool started_ = false;
  bool running_ = false;
};

Status HttpServer::Impl::Start() {
  std::lock_guard<std::mutex> lock(control_mu_);
  if (started_) return Status::FailedPrecondition("the HTTP server was already started");
  HttpServerOptions& o = shared_.options;
  if (!shared_.handler) return Status::InvalidArgument("the HTTP server has no handler");
  if (o.threads < 0) return Status::InvalidArgument("threads must be 0 (one per core) or more");
  if (o.max_connections <= 0) return Status::InvalidArgument("max_connections must be positive");
  if (o.max_header_bytes < 64) {
    return Status::InvalidArgument("max_header_bytes must be at least 64");
  }
  for (auto t : {o.header_timeout, o.body_timeout, o.idle_timeout, o.write_timeout}) {
    if (t.count() <= 0) return Status::InvalidArgument("every timeout must be positive");
  }
  if (!o.server_name.empty()) {
    HttpResponse probe;
    if (!probe.AddHeader("X", o.server_name)) {
      return Status::InvalidArgument("server_name contains control characters");
    }
    shared_.server_header = "Server: " + o.server_name + "\r\n";
  }
  shared_.max_buffer = static_cast<size_t>(o.max_header_bytes) + 2 * net_internal::kReadChunk;

  // The methods the handler accepts.
  shared_.allow_value = std::string(shared_.handler->AllowedMethods());
  shared_.allowed_methods.clear();
  std::string_view rest = shared_.allow_value;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view m = rest.substr(0, comma);
    while (!m.empty() && m.front() == ' ') m.remove_prefix(1);
    while (!m.empty() && m.back() == ' ') m.remove_suffix(1);
    if (!m.empty()) shared_.allowed_methods.emplace_back(m);
    rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma + 1);
  }

  beast::error_code ec;
  asio::ip::address address = asio::ip::make_address(o.address, ec);
  if (ec) {
    return Status::InvalidArgument("'" + o.address +
                                   "' is not an IP address: give an IPv4 or IPv6 literal such "
                                   "as 127.0.0.1, 0.0.0.0 or ::");
  }
  int threads = o.threads;
  if (threads == 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < threads; ++i) {
    workers_.push_back(std::make_unique<net_internal::Worker>(&shared_));
  }

  const std::string where = o.address + ":" + std::to_string(o.port);
  tcp::endpoint endpoint(address, o.port);
  acceptor_.emplace(workers_[0]->ioc());
  accept_retry_.emplace(workers_[0]->ioc());
  acceptor_->open(endpoint.protocol(), ec);
  if (!ec) acceptor_->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_->bind(endpoint, ec);
  if (ec) {
    DiscardUnstarted();
    if (ec == asio::error::address_in_use) {
      return Status::Unavailable("cannot listen on " + where +
                                 ": the address is already in use; stop the other process "
                                 "or choose another port");
    }
    if (ec == boost::system::errc::address_not_available) {
      return Status::Unavailable("cannot listen on " + where +
                                 ": no network interface has this address");
    }
    if (ec == asio::error::access_denied) {
      return Status::Unavailable("cannot listen on " + where +
                                 ": permission denied (ports below 1024 need privileges)");
    }
    return Status::Unavailable("cannot listen on " + where + ": " + ec.message());
  }
  acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    DiscardUnstarted();
    return Status::Unavailable("cannot listen on " + where + ": " + ec.message());
  }
  port_.store(acceptor_->local_endpoint(ec).port());

  started_ = true;
  running_ = true;
  for (auto& w : workers_) {
    guards_.push_back(asio::make_work_guard(w->ioc()));
    asio::post(w->ioc(), [wp = w.get()] { wp->StartSweeping(); });
  }
  asio::post(workers_[0]->ioc(), [this] { DoAccept(); });
  try {
    for (auto& w : workers_) threads_.emplace_back([wp = w.get()] { wp->Run(); });
  } catch (const std::system_error& e) {
    // Nothing can have been served yet in any useful way: stop hard.
    running_ = false;
    shared_.stopping.store(true);
    guards_.clear();
    for (auto& w : workers_) w->ioc().stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
    return Status::Unavailable(std::string("cannot start HTTP worker threads: ") + e.what());
  }
  return Status::Ok();
}

void HttpServer::Impl::DoAccept() {
  net_internal::Worker* target = workers_[next_worker_++ % workers_.size()].get();
  acceptor_->async_accept(
      target->ioc(), [this, target](beast::error_code ec, net_internal::Socket socket) {
        if (ec == asio::error::operation_aborted || !acceptor_->is_open()) return;
        if (ec) {
          // Out of descriptors or memory, say: back off instead of spinning.
          if (shared_.options.logger) {
            shared_.options.logger->warn("http server: accept failed: {}", ec.message());
          }
          accept_retry_->expires_after(std::chrono::milliseconds(50));
          accept_retry_->async_wait([this](beast::error_code wait_ec) {
            if (!wait_ec && acceptor_->is_open()) DoAccept();
          });
          return;
        }
        if (shared_.active.load() >= shared_.options.max_connections) {
          beast::error_code close_ec;
          socket.close(close_ec);
        } else {
          shared_.active.fetch_add(1);
          asio::post(target->ioc(), [target, s = std::move(socket)]() mutable {
            target->StartConnection(std::move(s));
          });
        }
        DoAccept();
      });
}

void HttpServer::Impl::RunOn(net_internal::Worker& worker, std::function<void()> fn) {
  std::promise<void> done;
  std::future<void> f = done.get_future();
  asio::post(worker.ioc(), [&] {
    fn();
    done.set_value();
  });
  f.wait();
}

void HttpServer::Impl::Stop() {
  std::lock_guard<std::mutex> lock(control_mu_);
  if (!running_) return;
  running_ = false;
  shared_.stopping.store(true);

  RunOn(*workers_[0], [this] {
    beast::error_code ec;
    acceptor_->close(ec);
    accept_retry_->cancel();
  });
  for (auto& w : workers_) RunOn(*w, [wp = w.get()] { wp->BeginShutdown(); });
  {
    std::unique_lock<std::mutex> drained(shared_.drained_mu);
    shared_.drained_cv.wait_for(drained, shared_.options.shutdown_timeout,
                                [this] { return shared_.active.load() == 0; });
  }
  for (auto& w : workers_) RunOn(*w, [wp = w.get()] { wp->CloseAll(); });
  guards_.clear();
  for (auto& w : workers_) w->ioc().stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

HttpServer::HttpServer(Env& env, HttpServerOptions options, std::shared_ptr<HttpHandler> handler)
    : impl_(std::make_unique<Impl>(env, std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() = default;

Status HttpServer::Start() { return impl_->Start(); }
uint16_t HttpServer::port() const { return impl_->port(); }
void HttpServer::Stop() { impl_->Stop(); }
int HttpServer::active_connections() const { return impl_->active(); }
HttpServerStats HttpServer::stats() const { return impl_->stats(); }

// --- TerminationSignals ---

struct TerminationSignals::Impl {
  asio::io_context ioc{1};
  asio::signal_set signals{ioc, SIGINT, SIGTERM};
};

TerminationSignals::TerminationSignals() : impl_(std::make_unique<Impl>()) {}
TerminationSignals::~TerminationSignals() = default;

int TerminationSignals::Wait() {
  int received = 0;
  impl_->signals.async_wait([&](beast::error_code ec, int signal_number) {
    if (!ec) received = signal_number;
  });
  impl_->ioc.restart();
  impl_->ioc.run();
  return received;
}

}  // namespace tieup
