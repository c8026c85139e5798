#include "main_site/control.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <cctype>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace tieup {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using Local = asio::local::stream_protocol;
using boost::system::error_code;

// Longest line the client accepts from the daemon (an output line or an error message).
constexpr size_t kMaxAnswerLineBytes = 1 << 20;
// What a refused client may still send before its connection is closed.
constexpr uint64_t kMaxDiscardBytes = 1 << 20;
// sun_path holds the path and its terminating NUL.
constexpr size_t kMaxSocketPathBytes = sizeof(sockaddr_un::sun_path) - 1;

std::string Line(const json::object& o) { return json::serialize(o) + "\n"; }

std::string StatusLine(const Status& s) {
  json::object o;
  if (s.ok()) {
    o["status"] = "ok";
  } else {
    o["status"] = "error";
    o["code"] = StatusCodeName(s.code());
    o["message"] = s.message();
  }
  return Line(o);
}

std::string OutputLine(std::string_view stream, std::string_view text) {
  json::object o;
  o[stream] = text;
  return Line(o);
}

json::object ProgressJson(const sync::PublishProgress& p) {
  json::object o;
  o["partner"] = p.partner;
  o["stage"] = p.stage;
  o["done"] = p.done;
  o["version"] = p.version;
  o["update_id"] = p.update_id;
  o["fetched_blobs"] = p.fetched_blobs;
  o["fetched_bytes"] = p.fetched_bytes;
  o["reason"] = p.reason;
  return o;
}

// The daemon's progress line as PublishProgress; nullopt when it is not one.
std::optional<sync::PublishProgress> ProgressFromJson(const json::object& o) {
  sync::PublishProgress p;
  auto text = [&o](const char* key, std::string& out) {
    const json::value* v = o.if_contains(key);
    if (v == nullptr || !v->is_string()) return false;
    out = std::string(v->get_string());
    return true;
  };
  auto count = [&o](const char* key, uint64_t& out) {
    const json::value* v = o.if_contains(key);
    if (v == nullptr) return false;
    if (v->is_uint64())
      out = v->get_uint64();
    else if (v->is_int64() && v->get_int64() >= 0)
      out = static_cast<uint64_t>(v->get_int64());
    else
      return false;
    return true;
  };
  const json::value* done = o.if_contains("done");
  if (!text("partner", p.partner) || !text("stage", p.stage) || done == nullptr ||
      !done->is_bool() || !count("version", p.version) || !text("update_id", p.update_id) ||
      !count("fetched_blobs", p.fetched_blobs) || !count("fetched_bytes", p.fetched_bytes) ||
      !text("reason", p.reason)) {
    return std::nullopt;
  }
  p.done = done->get_bool();
  return p;
}

const char kRequestExample[] =
    R"({"command":"publish","all":true} or {"command":"publish","partners":["shop-a"]})";

}  // namespace

// Every refusal says what was wrong and what a request looks like.
Result<ControlRequest> ParseControlRequest(std::string_view line) {
  error_code ec;
  json::value v = json::parse(line, ec);
  if (ec) {
    return Status::InvalidArgument("the request is not valid JSON (" + ec.message() +
                                   "): send one line such as " + kRequestExample);
  }
  const json::object* o = v.if_object();
  if (o == nullptr) {
    return Status::InvalidArgument(std::string("the request must be a JSON object such as ") +
                                   kRequestExample);
  }
  const json::value* command = o->if_contains("command");
  if (command == nullptr || !command->is_string()) {
    return Status::InvalidArgument(std::string("the request has no \"command\" string: send ") +
                                   kRequestExample);
  }
  if (command->get_string() != "publish") {
    return Status::Unimplemented("unknown command '" + std::string(command->get_string()) +
                                 "': this daemon's control socket answers only 'publish'");
  }
  ControlRequest control;
  PublishRequest& request = control.publish;
  for (const auto& [key, value] : *o) {
    if (key == "command") continue;
    if (key == "all" || key == "progress" || key == "steps") {
      if (!value.is_bool()) {
        return Status::InvalidArgument("\"" + std::string(key) + "\" must be true or false");
      }
      (key == "all"        ? request.all
       : key == "progress" ? control.progress
                           : control.steps) = value.get_bool();
    } else if (key == "partners") {
      const json::array* ids = value.if_array();
      if (ids == nullptr) {
        return Status::InvalidArgument("\"partners\" must be an array of partner ids");
      }
      for (const json::value& id : *ids) {
        if (!id.is_string()) {
          return Status::InvalidArgument("\"partners\" must hold only strings (partner ids)");
        }
        request.partners.emplace_back(id.get_string());
      }
    } else {
      return Status::InvalidArgument("unknown field \"" + std::string(key) +
                                     "\" in a publish request: it takes \"all\", "
                                     "\"partners\", \"progress\" and \"steps\"");
    }
  }
  return control;
}

namespace {

std::string DaemonStoppedMessage(const std::string& site_dir) {
  return "the daemon stopped before the publish finished: 'tieup main status " + site_dir +
         "' shows what reached the partners";
}

}  // namespace

std::string EncodeControlRequest(const ControlRequest& request) {
  json::object req;
  req["command"] = "publish";
  req["all"] = request.publish.all;
  json::array ids;
  for (const std::string& id : request.publish.partners) ids.emplace_back(id);
  req["partners"] = std::move(ids);
  if (request.progress) req["progress"] = true;
  if (!request.steps) req["steps"] = false;
  return json::serialize(req);
}

std::string EncodeProgress(const sync::PublishProgress& step) {
  return json::serialize(ProgressJson(step));
}

std::optional<sync::PublishProgress> ParseProgress(std::string_view text) {
  error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return ProgressFromJson(v.as_object());
}

std::string ControlSocketPath(const std::string& site_dir) {
  return JoinPath(site_dir, "run/control.sock");
}

// ---------------------------------------------------------------------------------------------
// The server. Threads: one I/O thread runs the io_context (accepting, reading requests, writing
// answers; sessions are touched only there), one worker thread runs publishes one at a time and
// posts their lines to the I/O thread.

class ControlSession;

struct ControlServer::Impl {
  struct Job {
    std::shared_ptr<ControlSession> session;
    ControlRequest request;
  };

  Impl(Env& e, std::string dir, PublishHandler handler, std::shared_ptr<Logger> log,
       ControlServerOptions o)
      : env(e),
        site_dir(std::move(dir)),
        path(ControlSocketPath(site_dir)),
        publish(std::move(handler)),
        logger(std::move(log)),
        options(o) {}

  void Accept();
  // I/O thread: queues a validated request for the worker (or refuses it while stopping).
  void Enqueue(const std::shared_ptr<ControlSession>& session, ControlRequest request);
  void WorkerLoop();
  // Runs one publish and returns how it ended; the caller tells the session.
  Status Run(Job& job);
  // I/O thread: a session closed; ends the drain at Stop when it was the last one.
  void SessionClosed();
  bool AnyOpenSession();

  Env& env;
  const std::string site_dir;
  const std::string path;
  const PublishHandler publish;
  const std::shared_ptr<Logger> logger;
  const ControlServerOptions options;

  asio::io_context io{1};
  Local::acceptor acceptor{io};
  asio::steady_timer accept_retry{io};
  asio::steady_timer drain_timer{io};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::weak_ptr<ControlSession>> sessions;  // I/O thread only
  bool draining = false;                                // I/O thread only
  std::thread io_thread;

  std::mutex mu;
  std::condition_variable cv;
  std::deque<Job> jobs;      // guarded by mu
  bool running = false;      // guarded by mu: the worker is running a job
  bool stop_worker = false;  // guarded by mu
  std::thread worker;

  bool started = false;
  bool stopped = false;
};

// One client connection: reads one request line (bounded in size and time), answers with lines
// queued by the worker, closes after the final status. I/O thread only.
class ControlSession : public std::enable_shared_from_this<ControlSession> {
 public:
  ControlSession(ControlServer::Impl& server, Local::socket socket)
      : server_(server), socket_(std::move(socket)), timer_(server.io) {}

  void Start() {
    ucred peer{};
    socklen_t len = sizeof(peer);
    const uid_t self = ::geteuid();
    if (::getsockopt(socket_.native_handle(), SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0 ||
        peer.uid != self) {
      server_.logger->warn("control socket: refused a client of uid {} (the daemon runs as {})",
                           static_cast<long>(peer.uid), static_cast<long>(self));
      Finish(Status::PermissionDenied("only the user the daemon runs as (uid " +
                                      std::to_string(self) + ") may use its control socket"));
      return;
    }
    auto self_ptr = shared_from_this();
    timer_.expires_after(server_.options.request_timeout);
    timer_.async_wait([self_ptr](error_code ec) {
      if (ec || self_ptr->state_ != State::kReading) return;
      self_ptr->Finish(Status::DeadlineExceeded(
          "no complete request line arrived within " +
          std::to_string(self_ptr->server_.options.request_timeout.count()) +
          " ms: send one line of JSON ending in a newline"));
    });
    reading_ = true;
    asio::async_read_until(socket_,
                           asio::dynamic_buffer(buffer_, server_.options.max_request_bytes), '\n',
                           [self_ptr](error_code ec, size_t n) { self_ptr->OnRead(ec, n); });
  }

  // Queues one answer line (with its newline).
  void Send(std::string line) {
    if (closed_) return;
    queue_.push_back(std::move(line));
    if (!writing_) WriteNext();
  }

  // Sends the final status line, then closes.
  void Finish(const Status& status) {
    if (closed_ || state_ == State::kDone) return;
    state_ = State::kDone;
    timer_.cancel();
    close_after_ = true;
    // With no read outstanding, what the client still sends is read and dropped before closing,
    // so that it sees the status line and then end of file, not a reset connection.
    linger_ = !reading_;
    Send(StatusLine(status));
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    timer_.cancel();
    error_code ignored;
    socket_.shutdown(Local::socket::shutdown_both, ignored);
    socket_.close(ignored);  // an outstanding write completes with operation_aborted
    server_.SessionClosed();
  }

  // At Stop: a client that has not sent its request yet gets no answer.
  void CloseIfReading() {
    if (state_ == State::kReading) Close();
  }

  bool open() const { return !closed_; }

 private:
  enum class State { kReading, kRunning, kDone };

  void OnRead(error_code ec, size_t n) {
    reading_ = false;
    if (closed_ || state_ != State::kReading) return;
    timer_.cancel();
    std::string line;
    if (!ec) {
      line = buffer_.substr(0, n - 1);
    } else if (ec == asio::error::not_found) {
      server_.logger->warn("control socket: refused a request above {} bytes",
                           server_.options.max_request_bytes);
      Finish(Status::ResourceExhausted("the request is larger than " +
                                       std::to_string(server_.options.max_request_bytes) +
                                       " bytes: name fewer partners, or use --all"));
      return;
    } else if (ec == asio::error::eof && !buffer_.empty()) {
      line = buffer_;  // the client ended its request with end of file instead of a newline
    } else {
      Close();  // gone without a request
      return;
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    Result<ControlRequest> request = ParseControlRequest(line);
    if (!request.ok()) {
      server_.logger->warn("control socket: refused a request: {}", request.status().message());
      Finish(request.status());
      return;
    }
    state_ = State::kRunning;
    json::object hello;
    hello["pid"] = static_cast<int64_t>(::getpid());
    Send(Line(hello));
    server_.Enqueue(shared_from_this(), std::move(*request));
  }

  void WriteNext() {
    if (queue_.empty()) {
      if (close_after_) linger_ ? Linger() : Close();
      return;
    }
    writing_ = true;
    auto self_ptr = shared_from_this();
    asio::async_write(socket_, asio::buffer(queue_.front()), [self_ptr](error_code ec, size_t) {
      self_ptr->writing_ = false;
      if (self_ptr->closed_) return;
      if (ec) {
        if (self_ptr->state_ == State::kRunning) {
          self_ptr->server_.logger->info(
              "control socket: the client went away; the publish goes on ({})", ec.message());
        }
        self_ptr->Close();
        return;
      }
      self_ptr->queue_.pop_front();
      self_ptr->WriteNext();
    });
  }

  // After the last answer: no more writes; drops what the client still sends (at most
  // kMaxDiscardBytes, for at most request_timeout) until it closes, then closes.
  void Linger() {
    error_code ignored;
    socket_.shutdown(Local::socket::shutdown_send, ignored);
    auto self_ptr = shared_from_this();
    timer_.expires_after(server_.options.request_timeout);
    timer_.async_wait([self_ptr](error_code ec) {
      if (!ec) self_ptr->Close();
    });
    Discard();
  }

  void Discard() {
    auto self_ptr = shared_from_this();
    socket_.async_read_some(asio::buffer(scratch_), [self_ptr](error_code ec, size_t n) {
      if (self_ptr->closed_) return;
      self_ptr->discarded_ += n;
      if (ec || self_ptr->discarded_ > kMaxDiscardBytes) {
        self_ptr->Close();
        return;
      }
      self_ptr->Discard();
    });
  }

  ControlServer::Impl& server_;
  Local::socket socket_;
  asio::steady_timer timer_;
  std::string buffer_;
  std::deque<std::string> queue_;
  State state_ = State::kReading;
  bool writing_ = false;
  bool close_after_ = false;
  bool closed_ = false;
  bool reading_ = false;  // the request read is outstanding
  bool linger_ = false;
  uint64_t discarded_ = 0;
  std::array<char, 4096> scratch_;
};

void ControlServer::Impl::Accept() {
  acceptor.async_accept([this](error_code ec, Local::socket socket) {
    if (!acceptor.is_open()) return;  // stopping
    if (ec) {
      // Out of file descriptors and the like: try again shortly instead of spinning.
      logger->warn("control socket: accept failed: {}", ec.message());
      accept_retry.expires_after(std::chrono::milliseconds(100));
      accept_retry.async_wait([this](error_code wait_ec) {
        if (!wait_ec) Accept();
      });
      return;
    }
    std::erase_if(sessions, [](const std::weak_ptr<ControlSession>& s) { return s.expired(); });
    auto session = std::make_shared<ControlSession>(*this, std::move(socket));
    sessions.push_back(session);
    session->Start();
    Accept();
  });
}

void ControlServer::Impl::Enqueue(const std::shared_ptr<ControlSession>& session,
                                  ControlRequest request) {
  std::unique_lock<std::mutex> lock(mu);
  if (stop_worker) {
    lock.unlock();
    session->Finish(Status::Unavailable(
        "the daemon is stopping: run the command again once it runs, or add --in-process"));
    return;
  }
  if (running || !jobs.empty()) {
    session->Send(OutputLine("stderr", "waiting for the publish already running to finish..."));
  }
  jobs.push_back(Job{session, std::move(request)});
  lock.unlock();
  cv.notify_all();
}

void ControlServer::Impl::WorkerLoop() {
  std::unique_lock<std::mutex> lock(mu);
  for (;;) {
    cv.wait(lock, [this] { return stop_worker || !jobs.empty(); });
    if (jobs.empty()) return;
    Job job = std::move(jobs.front());
    jobs.pop_front();
    if (stop_worker) {
      // Accepted before Stop but not started: say so rather than start a long run now.
      asio::post(io, [session = std::move(job.session)] {
        session->Finish(Status::Unavailable(
            "the daemon stopped before this publish started: nothing was published; run the "
            "command again once it runs, or add --in-process"));
      });
      continue;
    }
    running = true;
    lock.unlock();
    Status status = Run(job);
    lock.lock();
    // Not running any more before the caller hears the end: a caller that sends its next
    // request as soon as this one finishes must not be told to wait for this one.
    running = false;
    lock.unlock();
    asio::post(io, [session = std::move(job.session), status] { session->Finish(status); });
    lock.lock();
  }
}

Status ControlServer::Impl::Run(Job& job) {
  std::shared_ptr<ControlSession> session = job.session;
  auto relay = [this, session](std::string_view stream) {
    return [this, session, stream](std::string_view text) {
      asio::post(io, [session, line = OutputLine(stream, text)]() mutable {
        session->Send(std::move(line));
      });
    };
  };
  PublishOutput output{relay("stdout"), relay("stderr"), {}};
  output.step_lines = job.request.steps;
  if (job.request.progress) {
    output.progress = [this, session](const sync::PublishProgress& step) {
      json::object o;
      o["progress"] = ProgressJson(step);
      asio::post(io, [session, line = Line(o)]() mutable { session->Send(std::move(line)); });
    };
  }
  const PublishRequest& request = job.request.publish;
  logger->info("control socket: publish {}",
               request.all ? std::string("to every partner")
                           : std::to_string(request.partners.size()) + " partner(s)");
  Status status;
  try {
    status = publish(request, output);
  } catch (const std::exception& e) {
    status = Status::Internal(std::string("publish failed: ") + e.what());
  }
  if (status.ok()) {
    logger->info("control socket: publish done");
  } else {
    logger->warn("control socket: publish: {}", status.message());
  }
  return status;
}

void ControlServer::Impl::SessionClosed() {
  if (draining && !AnyOpenSession()) drain_timer.cancel();
}

bool ControlServer::Impl::AnyOpenSession() {
  for (const auto& weak : sessions) {
    auto s = weak.lock();
    if (s && s->open()) return true;
  }
  return false;
}

ControlServer::ControlServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ControlServer::~ControlServer() { Stop(); }

const std::string& ControlServer::socket_path() const { return impl_->path; }

namespace {

enum class Probe { kNobody, kListening };

// Connects to the socket at `path`: who is there?
Result<Probe> ProbeSocket(Local::socket& socket, const std::string& path) {
  error_code ec;
  socket.connect(Local::endpoint(path), ec);
  if (!ec) return Probe::kListening;
  if (ec == asio::error::connection_refused || ec == asio::error::not_found ||
      ec == boost::system::errc::no_such_file_or_directory) {
    return Probe::kNobody;
  }
  if (ec == boost::system::errc::permission_denied ||
      ec == boost::system::errc::operation_not_permitted) {
    return Status::PermissionDenied("cannot use the daemon's control socket '" + path +
                                    "': permission denied; run the command as the user the "
                                    "daemon runs as, or add --in-process");
  }
  return Status::IOError("connecting to the control socket '" + path + "': " + ec.message());
}

}  // namespace

Result<std::unique_ptr<ControlServer>> ControlServer::Start(Env& env, const std::string& site_dir,
                                                            PublishHandler publish,
                                                            std::shared_ptr<Logger> logger,
                                                            ControlServerOptions options) {
  auto impl = std::make_unique<Impl>(env, site_dir, std::move(publish),
                                     logger ? std::move(logger) : NewNullLogger(), options);
  const std::string& path = impl->path;
  const std::string tmp = path + ".new";
  if (tmp.size() > kMaxSocketPathBytes) {
    return Status::InvalidArgument("the control socket path '" + path +
                                   "' is longer than a Unix "
                                   "socket allows (" +
                                   std::to_string(kMaxSocketPathBytes - 4) +
                                   " bytes): move the site to a shorter path");
  }
  RETURN_IF_ERROR(CreateDirs(env, DirName(path)));
  if (env.FileExists(path)) {
    asio::io_context probe_io;
    Local::socket probe(probe_io);
    ASSIGN_OR_RETURN(Probe who, ProbeSocket(probe, path));
    if (who == Probe::kListening) {
      return Status::FailedPrecondition("a process already answers on '" + path +
                                        "': another 'tieup main serve " + site_dir +
                                        "' runs; stop it first");
    }
    RETURN_IF_ERROR(env.RemoveFile(path).Annotate("removing the stale control socket"));
  }
  if (env.FileExists(tmp)) RETURN_IF_ERROR(env.RemoveFile(tmp));
  // Bound under a temporary name and renamed once it is 0600, so that the socket is never
  // reachable under its real name with the umask's mode.
  error_code ec;
  impl->acceptor.open(Local(), ec);
  if (!ec) impl->acceptor.bind(Local::endpoint(tmp), ec);
  if (ec) return Status::IOError("binding the control socket '" + tmp + "': " + ec.message());
  Status moved = env.SetPermissions(tmp, 0600);
  if (moved.ok()) {
    impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) moved = Status::IOError("listening on the control socket: " + ec.message());
  }
  if (moved.ok()) moved = env.Rename(tmp, path);
  if (!moved.ok()) {
    (void)env.RemoveFile(tmp);
    return moved;
  }

  Impl* m = impl.get();
  m->work.emplace(m->io.get_executor());
  m->Accept();
  m->io_thread = std::thread([m] { m->io.run(); });
  m->worker = std::thread([m] { m->WorkerLoop(); });
  m->started = true;
  return std::unique_ptr<ControlServer>(new ControlServer(std::move(impl)));
}

void ControlServer::Stop() {
  Impl& m = *impl_;
  if (!m.started || m.stopped) return;
  m.stopped = true;
  // 1. No new clients; a client still sending its request is closed.
  std::promise<void> closed;
  asio::post(m.io, [&m, &closed] {
    error_code ignored;
    m.acceptor.close(ignored);
    m.accept_retry.cancel();
    for (const auto& weak : m.sessions) {
      if (auto s = weak.lock()) s->CloseIfReading();
    }
    closed.set_value();
  });
  closed.get_future().wait();
  // 2. The running publish finishes; queued ones are refused.
  {
    std::lock_guard<std::mutex> lock(m.mu);
    m.stop_worker = true;
  }
  m.cv.notify_all();
  m.worker.join();
  // 3. Clients get their last lines, for at most drain_timeout.
  asio::post(m.io, [&m] {
    if (!m.AnyOpenSession()) return;
    m.draining = true;
    m.drain_timer.expires_after(m.options.drain_timeout);
    m.drain_timer.async_wait([&m](error_code ec) {
      if (ec) return;
      for (const auto& weak : m.sessions) {
        if (auto s = weak.lock()) s->Close();
      }
    });
  });
  m.work.reset();
  m.io_thread.join();
  if (m.env.FileExists(m.path)) (void)m.env.RemoveFile(m.path);
}

// ---------------------------------------------------------------------------------------------
// The client.

Result<bool> DaemonServes(const std::string& site_dir) {
  const std::string path = ControlSocketPath(site_dir);
  if (path.size() > kMaxSocketPathBytes) return false;
  asio::io_context io;
  Local::socket socket(io);
  ASSIGN_OR_RETURN(Probe who, ProbeSocket(socket, path));
  return who == Probe::kListening;
}

Result<bool> ForwardToDaemon(const std::string& site_dir, const PublishRequest& request,
                             PublishOutput& output,
                             const std::function<void(pid_t pid)>& on_accepted) {
  const std::string path = ControlSocketPath(site_dir);
  if (path.size() > kMaxSocketPathBytes) return false;  // no daemon could have bound it
  asio::io_context io;
  Local::socket socket(io);
  ASSIGN_OR_RETURN(Probe who, ProbeSocket(socket, path));
  if (who == Probe::kNobody) return false;

  ControlRequest req;
  req.publish = request;
  req.progress = static_cast<bool>(output.progress);
  req.steps = output.step_lines;
  error_code ec;
  asio::write(socket, asio::buffer(EncodeControlRequest(req) + "\n"), ec);
  if (ec) return Status::Unavailable(DaemonStoppedMessage(site_dir));

  std::string buffer;
  for (;;) {
    const size_t n =
        asio::read_until(socket, asio::dynamic_buffer(buffer, kMaxAnswerLineBytes), '\n', ec);
    if (ec == asio::error::not_found) {
      return Status::DataLoss("the daemon sent a line above " +
                              std::to_string(kMaxAnswerLineBytes) +
                              " bytes on its control socket: is it the same tieup version?");
    }
    if (ec) return Status::Unavailable(DaemonStoppedMessage(site_dir));
    const std::string line = buffer.substr(0, n - 1);
    buffer.erase(0, n);
    json::value v = json::parse(line, ec);
    const json::object* o = ec ? nullptr : v.if_object();
    if (o == nullptr) {
      return Status::DataLoss("the daemon answered something that is not its protocol ('" +
                              line.substr(0, 80) + "'): is it the same tieup version?");
    }
    if (const json::value* text = o->if_contains("stdout"); text && text->is_string()) {
      if (output.out) output.out(text->get_string());
    } else if (const json::value* err = o->if_contains("stderr"); err && err->is_string()) {
      if (output.err) output.err(err->get_string());
    } else if (const json::value* p = o->if_contains("progress"); p && p->is_object()) {
      std::optional<sync::PublishProgress> step = ProgressFromJson(p->as_object());
      if (!step) {
        return Status::DataLoss("the daemon sent a progress line that is not its protocol ('" +
                                line.substr(0, 80) + "'): is it the same tieup version?");
      }
      if (output.progress) output.progress(*step);
    } else if (const json::value* pid = o->if_contains("pid"); pid && pid->is_int64()) {
      if (on_accepted) on_accepted(static_cast<pid_t>(pid->get_int64()));
    } else if (const json::value* st = o->if_contains("status"); st && st->is_string()) {
      if (st->get_string() == "ok") return true;
      const json::value* code = o->if_contains("code");
      const json::value* message = o->if_contains("message");
      StatusCode c = code && code->is_string()
                         ? StatusCodeFromName(code->get_string()).value_or(StatusCode::kInternal)
                         : StatusCode::kInternal;
      if (c == StatusCode::kOk) c = StatusCode::kInternal;  // an error must not read as success
      return Status(c, message && message->is_string() ? std::string(message->get_string())
                                                       : "the daemon reported an error");
    }
    // Anything else is from a newer daemon: ignored.
  }
}

}  // namespace tieup
