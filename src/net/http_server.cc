// The server: an acceptor and N workers (one io_context and one thread each) running the
// connections of server_connection.h. Plain connections are instantiated here, TLS ones in
// tls_connection.cc.
#include "net/http_server.h"

#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <functional>
#include <future>
#include <thread>

#include "net/server_connection.h"

namespace tieup {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace net_internal {

thread_local Worker* tls_current_worker = nullptr;

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

void Worker::StartConnection(Socket socket, std::string client_address) {
  if (shared_->stopping.load()) {
    beast::error_code ec;
    socket.close(ec);
    shared_->OnConnectionClosed(client_address);
    return;
  }
  shared_->accepted.fetch_add(1, std::memory_order_relaxed);
  if (shared_->options.tls_by_local_address) {
    beast::error_code ec;
    tcp::endpoint local = socket.local_endpoint(ec);
    ssl::context* context =
        ec ? nullptr : shared_->options.tls_by_local_address(local.address().to_string());
    if (context == nullptr) {
      socket.close(ec);
      shared_->OnConnectionClosed(client_address);
      return;
    }
    StartTlsConnection(this, std::move(socket), std::move(client_address), *context);
    return;
  }
  if (shared_->tls != nullptr) {
    StartTlsConnection(this, std::move(socket), std::move(client_address), *shared_->tls);
    return;
  }
  auto c = std::make_shared<Connection<Socket>>(this, std::move(socket));
  Add(c.get());
  c->Start(std::move(client_address));
}

int Worker::DisconnectPeers(
    const std::function<bool(std::string_view, std::string_view)>& should_close) {
  int picked = 0;
  for (ConnectionBase* c = first_; c != nullptr;) {
    ConnectionBase* next = c->next;  // an idle connection may close (and unlink) at once
    if (c->DisconnectIf(should_close)) ++picked;
    c = next;
  }
  return picked;
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
  bool WaitForConnectionsAtMost(int n, std::chrono::milliseconds timeout) {
    shared_.close_waiters.fetch_add(1);
    std::unique_lock<std::mutex> lock(shared_.drained_mu);
    bool reached =
        shared_.drained_cv.wait_for(lock, timeout, [&] { return shared_.active.load() <= n; });
    lock.unlock();
    shared_.close_waiters.fetch_sub(1);
    return reached;
  }
  HttpServerStats stats() const {
    HttpServerStats s;
    s.connections_accepted = shared_.accepted.load();
    s.tls_handshakes = shared_.tls_handshakes.load();
    s.tls_handshake_failures = shared_.tls_failures.load();
    s.connections_refused = shared_.refused.load();
    s.requests_limited = shared_.limited.load();
    s.connections_evicted = shared_.evicted.load();
    return s;
  }
  int DisconnectPeers(const std::function<bool(std::string_view, std::string_view)>& should_close);
  Status CheckResponsive(std::chrono::milliseconds within);

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
  if (o.max_connections_per_client < 0 || o.requests_per_second_per_client < 0 ||
      o.request_burst_per_client < 0) {
    return Status::InvalidArgument("per-client limits must be 0 (no limit) or more");
  }
  if (o.unauthenticated_timeout.count() <= 0) {
    return Status::InvalidArgument("every timeout must be positive");
  }
  if (o.max_connections_per_client > 0 || o.requests_per_second_per_client > 0) {
    ClientLimitOptions limits;
    limits.max_connections = o.max_connections_per_client;
    limits.requests_per_second = o.requests_per_second_per_client;
    limits.burst = std::max(o.request_burst_per_client, o.requests_per_second_per_client);
    shared_.limiter = std::make_unique<ClientLimiter>(limits);
  }
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
  acceptor_->async_accept(target->ioc(), [this, target](beast::error_code ec,
                                                        net_internal::Socket socket) {
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
    beast::error_code peer_ec;
    tcp::endpoint peer = socket.remote_endpoint(peer_ec);
    std::string address = peer_ec ? std::string() : peer.address().to_string();
    const char* refusal = nullptr;
    if (peer_ec) {
      refusal = nullptr;  // gone already: nothing to serve, nothing worth a log line
    } else if (shared_.active.load() >= shared_.options.max_connections) {
      refusal = "the server has reached its connection limit";
    } else if (shared_.limiter &&
               !shared_.limiter->TryOpen(address, net_internal::SteadyMillis())) {
      refusal = "this address has the most connections one client may keep open";
    }
    if (peer_ec || refusal != nullptr) {
      // Counted before the close, so whoever sees the close can read the count.
      if (refusal != nullptr) shared_.refused.fetch_add(1, std::memory_order_relaxed);
      beast::error_code close_ec;
      socket.close(close_ec);
      if (refusal != nullptr) {
        shared_.ThrottledLog(shared_.refused_log, true,
                             "http server: refused a connection from {}: {}", address, refusal);
      }
    } else {
      shared_.active.fetch_add(1);
      asio::post(target->ioc(), [target, s = std::move(socket), a = std::move(address)]() mutable {
        target->StartConnection(std::move(s), std::move(a));
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

Status HttpServer::Impl::CheckResponsive(std::chrono::milliseconds within) {
  std::vector<std::future<void>> ran;
  {
    std::lock_guard<std::mutex> lock(control_mu_);
    if (!running_) return Status::Unavailable("the port is not listening");
    for (auto& w : workers_) {
      // The promise outlives this call: a stuck worker runs the task whenever it gets to it.
      auto done = std::make_shared<std::promise<void>>();
      ran.push_back(done->get_future());
      asio::post(w->ioc(), [done] { done->set_value(); });
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + within;
  for (size_t i = 0; i < ran.size(); ++i) {
    if (ran[i].wait_until(deadline) != std::future_status::ready) {
      return Status::Unavailable(
          "I/O thread " + std::to_string(i + 1) + " of " + std::to_string(ran.size()) +
          " ran nothing for " + std::to_string(within.count()) +
          " ms: its requests wait (a handler that does not return, or an overloaded machine)");
    }
  }
  return Status::Ok();
}

int HttpServer::Impl::DisconnectPeers(
    const std::function<bool(std::string_view, std::string_view)>& should_close) {
  std::lock_guard<std::mutex> lock(control_mu_);
  if (!running_) return 0;
  int picked = 0;
  for (auto& w : workers_) {
    RunOn(*w,
          [&picked, wp = w.get(), &should_close] { picked += wp->DisconnectPeers(should_close); });
  }
  return picked;
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
bool HttpServer::WaitForConnectionsAtMost(int n, std::chrono::milliseconds timeout) {
  return impl_->WaitForConnectionsAtMost(n, timeout);
}
int HttpServer::DisconnectPeers(
    const std::function<bool(std::string_view, std::string_view)>& should_close) {
  return impl_->DisconnectPeers(should_close);
}
HttpServerStats HttpServer::stats() const { return impl_->stats(); }
Status HttpServer::CheckResponsive(std::chrono::milliseconds within) {
  return impl_->CheckResponsive(within);
}

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
