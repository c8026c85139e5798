// A plain SMTP client (RFC 5321) on Boost.Asio. Every operation runs on a private io_context
// with one deadline for the whole conversation.
#include <boost/asio.hpp>

#include "commerce/mail.h"

namespace tieup::commerce {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

struct Reply {
  int code = 0;
  std::string text;  // all lines, joined with " / "
};

class SmtpConversation {
 public:
  explicit SmtpConversation(const SmtpOptions& o)
      : options_(o), deadline_(std::chrono::steady_clock::now() + o.timeout) {}

  Status Connect() {
    tcp::resolver resolver(io_);
    boost::system::error_code ec;
    tcp::resolver::results_type endpoints;
    bool done = false;
    resolver.async_resolve(options_.host, std::to_string(options_.port),
                           [&](const boost::system::error_code& e, tcp::resolver::results_type r) {
                             ec = e;
                             endpoints = std::move(r);
                             done = true;
                           });
    RETURN_IF_ERROR(Wait(done, "resolving the relay"));
    if (ec) return Status::Unavailable(Where() + ": cannot resolve: " + ec.message());
    done = false;
    asio::async_connect(socket_, endpoints,
                        [&](const boost::system::error_code& e, const tcp::endpoint&) {
                          ec = e;
                          done = true;
                        });
    RETURN_IF_ERROR(Wait(done, "connecting"));
    if (ec) return Status::Unavailable(Where() + ": cannot connect: " + ec.message());
    return Status::Ok();
  }

  Result<Reply> ReadReply(std::string_view after) {
    Reply reply;
    while (true) {
      boost::system::error_code ec;
      size_t n = 0;
      bool done = false;
      asio::async_read_until(socket_, asio::dynamic_buffer(buffer_, 64 * 1024), "\r\n",
                             [&](const boost::system::error_code& e, size_t got) {
                               ec = e;
                               n = got;
                               done = true;
                             });
      RETURN_IF_ERROR(Wait(done, "waiting for the reply to " + std::string(after)));
      if (ec) {
        return Status::Unavailable(Where() + ": connection lost waiting for the reply to " +
                                   std::string(after) + ": " + ec.message());
      }
      std::string line = buffer_.substr(0, n - 2);
      buffer_.erase(0, n);
      if (line.size() < 3 || !std::isdigit(static_cast<unsigned char>(line[0])) ||
          !std::isdigit(static_cast<unsigned char>(line[1])) ||
          !std::isdigit(static_cast<unsigned char>(line[2])) ||
          (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
        return Status::Unavailable(Where() + ": malformed reply to " + std::string(after) + ": '" +
                                   line.substr(0, 80) + "'");
      }
      int code = std::stoi(line.substr(0, 3));
      if (reply.code != 0 && code != reply.code) {
        return Status::Unavailable(Where() + ": inconsistent multi-line reply to " +
                                   std::string(after));
      }
      reply.code = code;
      if (!reply.text.empty()) reply.text += " / ";
      reply.text += line.size() > 4 ? line.substr(4) : "";
      if (line.size() == 3 || line[3] == ' ') return reply;
    }
  }

  Status Write(std::string_view data, std::string_view what) {
    boost::system::error_code ec;
    bool done = false;
    asio::async_write(socket_, asio::buffer(data.data(), data.size()),
                      [&](const boost::system::error_code& e, size_t) {
                        ec = e;
                        done = true;
                      });
    RETURN_IF_ERROR(Wait(done, "sending " + std::string(what)));
    if (ec) {
      return Status::Unavailable(Where() + ": connection lost sending " + std::string(what) + ": " +
                                 ec.message());
    }
    return Status::Ok();
  }

  // Sends `line` (without CRLF) and checks that the reply's code is `expected` (first digit
  // when `expected` < 10).
  Result<Reply> Command(std::string_view line, int expected) {
    std::string what(line.substr(0, line.find(':')));
    if (what.size() > 12) what = what.substr(0, 12);
    RETURN_IF_ERROR(Write(std::string(line) + "\r\n", what));
    ASSIGN_OR_RETURN(Reply r, ReadReply(what));
    RETURN_IF_ERROR(Check(r, expected, what));
    return r;
  }

  Status Check(const Reply& r, int expected, std::string_view what) {
    bool ok = expected < 10 ? r.code / 100 == expected : r.code == expected;
    if (ok) return Status::Ok();
    std::string m =
        Where() + " answered " + std::to_string(r.code) + " " + r.text + " to " + std::string(what);
    if (r.code >= 500) return Status::FailedPrecondition(m + " (permanent failure)");
    return Status::Unavailable(m + " (try again later)");
  }

  void Close() {
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

 private:
  std::string Where() const {
    return "SMTP relay " + options_.host + ":" + std::to_string(options_.port);
  }

  Status Wait(bool& done, std::string_view what) {
    io_.restart();
    io_.run_until(deadline_);
    if (done) return Status::Ok();
    Close();
    io_.restart();
    io_.run();  // lets the cancelled handler run; it sets `done`
    return Status::DeadlineExceeded(Where() + ": timed out " + std::string(what));
  }

  SmtpOptions options_;
  std::chrono::steady_clock::time_point deadline_;
  asio::io_context io_;
  tcp::socket socket_{io_};
  std::string buffer_;
};

// CRLF line ends, dot-stuffing, and the terminating "." line.
std::string DotStuff(std::string_view message) {
  std::string out;
  out.reserve(message.size() + 64);
  bool line_start = true;
  for (size_t i = 0; i < message.size(); ++i) {
    char c = message[i];
    if (line_start && c == '.') out += '.';
    line_start = false;
    if (c == '\n') {
      if (out.empty() || out.back() != '\r') out += '\r';
      out += '\n';
      line_start = true;
      continue;
    }
    out += c;
  }
  if (!line_start) out += "\r\n";
  out += ".\r\n";
  return out;
}

bool BadEnvelopeAddress(std::string_view a) { return !ValidateEmailAddress(a).ok(); }

}  // namespace

Status SendSmtp(const SmtpOptions& options, std::string_view envelope_from,
                const std::vector<std::string>& recipients, std::string_view message) {
  if (options.host.empty()) return Status::InvalidArgument("no SMTP relay host is configured");
  if (BadEnvelopeAddress(envelope_from)) {
    return Status::InvalidArgument("bad envelope sender '" + std::string(envelope_from) + "'");
  }
  if (recipients.empty()) return Status::InvalidArgument("the message has no recipient");
  for (const std::string& r : recipients) {
    if (BadEnvelopeAddress(r)) return Status::InvalidArgument("bad recipient '" + r + "'");
  }
  for (char c : options.helo_name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') {
      return Status::InvalidArgument("bad EHLO name '" + options.helo_name + "'");
    }
  }
  try {
    SmtpConversation smtp(options);
    RETURN_IF_ERROR(smtp.Connect());
    ASSIGN_OR_RETURN(Reply greeting, smtp.ReadReply("connecting"));
    RETURN_IF_ERROR(smtp.Check(greeting, 220, "the connection"));
    auto ehlo = smtp.Command("EHLO " + options.helo_name, 250);
    if (!ehlo.ok()) {
      if (ehlo.status().code() != StatusCode::kFailedPrecondition) return ehlo.status();
      ASSIGN_OR_RETURN(Reply helo, smtp.Command("HELO " + options.helo_name, 250));
      (void)helo;
    }
    RETURN_IF_ERROR(smtp.Command("MAIL FROM:<" + std::string(envelope_from) + ">", 2).status());
    for (const std::string& r : recipients) {
      RETURN_IF_ERROR(smtp.Command("RCPT TO:<" + r + ">", 2).status());
    }
    RETURN_IF_ERROR(smtp.Command("DATA", 354).status());
    RETURN_IF_ERROR(smtp.Write(DotStuff(message), "the message"));
    ASSIGN_OR_RETURN(Reply accepted, smtp.ReadReply("the message"));
    RETURN_IF_ERROR(smtp.Check(accepted, 2, "the message"));
    // The message is accepted; a failing QUIT does not change that.
    (void)smtp.Command("QUIT", 221);
    smtp.Close();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status::Unavailable(std::string("SMTP delivery failed: ") + e.what());
  }
}

}  // namespace tieup::commerce
