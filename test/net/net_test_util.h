// Scaffolding for the net tests: a raw client connection with timeouts, a handler built from a
// function, and a StaticSite backed by a map.
#pragma once

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "net/http_server.h"
#include "net/static_handler.h"

namespace tieup::nettest {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using RawResponse = http::response<http::string_body>;

// A client socket to 127.0.0.1:port whose reads give up after a timeout (never hang a test).
class TestConnection {
 public:
  explicit TestConnection(uint16_t port) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), connect_error_);
  }
  // From another loopback address (127.0.0.2, say): a second client as the server sees it.
  TestConnection(uint16_t port, const std::string& source) : socket_(ioc_) {
    socket_.open(tcp::v4(), connect_error_);
    if (!connect_error_) {
      socket_.bind(tcp::endpoint(asio::ip::make_address(source), 0), connect_error_);
    }
    if (!connect_error_) {
      socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), connect_error_);
    }
  }
  bool connected() const { return !connect_error_; }

  bool Send(std::string_view bytes) {
    beast::error_code ec;
    asio::write(socket_, asio::buffer(bytes.data(), bytes.size()), ec);
    return !ec;
  }

  // Reads one response. `head`: the request was HEAD (no body follows). An error code of
  // beast::error::timeout means nothing complete arrived in time.
  beast::error_code Read(RawResponse* out, bool head = false,
                         std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    if (head) parser.skip(true);
    beast::error_code result;
    bool done = false;
    http::async_read(socket_, buffer_, parser, [&](beast::error_code ec, size_t) {
      result = ec;
      done = true;
    });
    RunFor(timeout, &done);
    if (!done) return beast::error::timeout;
    if (!result) *out = parser.release();
    return result;
  }

  // Reads until the server closes the connection. Returns true iff it closed within
  // `timeout`; *rest receives whatever arrived before the close.
  bool WaitForClose(std::chrono::milliseconds timeout = std::chrono::seconds(5),
                    std::string* rest = nullptr) {
    std::string data(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    buffer_.clear();
    bool closed = false, done = false;
    std::function<void()> read_more;
    char chunk[4096];
    read_more = [&] {
      socket_.async_read_some(asio::buffer(chunk), [&](beast::error_code ec, size_t n) {
        data.append(chunk, n);
        if (ec) {
          closed = ec == asio::error::eof || ec == asio::error::connection_reset;
          done = true;
          return;
        }
        read_more();
      });
    };
    read_more();
    RunFor(timeout, &done);
    if (rest) *rest = data;
    return done && closed;
  }

  tcp::socket& socket() { return socket_; }

 private:
  void RunFor(std::chrono::milliseconds timeout, bool* done) {
    ioc_.restart();
    ioc_.run_for(timeout);
    if (!*done) {
      beast::error_code ignored;
      socket_.cancel(ignored);
      ioc_.restart();
      ioc_.run();
    }
  }

  asio::io_context ioc_;
  tcp::socket socket_;
  beast::error_code connect_error_;
  beast::flat_buffer buffer_;
};

// A handler from a function (and an optional Allow list).
class FunctionHandler : public HttpHandler {
 public:
  using Fn = std::function<void(const HttpRequest&, HttpResponder)>;
  explicit FunctionHandler(Fn fn, std::string allowed = "")
      : fn_(std::move(fn)), allowed_(std::move(allowed)) {}
  void Handle(const HttpRequest& request, HttpResponder responder) override {
    fn_(request, std::move(responder));
  }
  std::string_view AllowedMethods() const override { return allowed_; }

 private:
  Fn fn_;
  std::string allowed_;
};

// Describes the request in the body: "GET /path?query body".
inline std::shared_ptr<HttpHandler> EchoHandler() {
  return std::make_shared<FunctionHandler>([](const HttpRequest& req, HttpResponder responder) {
    std::string text = std::string(req.method()) + " " + std::string(req.path());
    if (!req.query().empty()) text += "?" + std::string(req.query());
    if (!req.body().empty()) text += " " + std::string(req.body());
    responder.Respond(HttpResponse::Text(200, text));
  });
}

// A StaticSite over a map from normalized path to page.
class MapSite : public StaticSite {
 public:
  const StaticPage* Find(std::string_view path) const override {
    auto it = pages.find(std::string(path));
    return it == pages.end() ? nullptr : &it->second;
  }
  const StaticPage* NotFoundPage() const override { return not_found ? &*not_found : nullptr; }

  // Adds a page with body `body` (and a gzip variant made of "GZ:" + body when `gzip`).
  StaticPage& Add(const std::string& path, std::string body, std::string_view content_type,
                  std::string etag = "", int64_t last_modified = 0, bool gzip = false) {
    StaticPage& p = pages[path];
    p.area = "tieup";
    p.content_type = content_type;
    p.etag = std::move(etag);
    p.last_modified = last_modified;
    if (gzip) p.gzip_body = std::make_shared<const std::string>("GZ:" + body);
    p.body = std::make_shared<const std::string>(std::move(body));
    return p;
  }

  std::map<std::string, StaticPage, std::less<>> pages;
  std::optional<StaticPage> not_found;
};

}  // namespace tieup::nettest
