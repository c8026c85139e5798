#include "commerce/mail.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio.hpp>
#include <mutex>
#include <thread>

#include "test_support.h"

namespace tieup::commerce {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::tieup::testing::FakeClockEnv;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;
namespace asio = boost::asio;
using asio::ip::tcp;

// A tiny SMTP server on 127.0.0.1 (port 0) that records what it receives. Replies are
// configurable per command to exercise failures.
class FakeSmtpServer {
 public:
  struct Replies {
    std::string greeting = "220 fake.test ESMTP";
    std::string ehlo = "250-fake.test\r\n250-8BITMIME\r\n250 SIZE 1000000";
    std::string mail = "250 sender ok";
    std::string rcpt = "250 recipient ok";
    std::string data_end = "250 queued as 1";
    bool silent = false;  // accept, then say nothing
  };

  explicit FakeSmtpServer(Replies replies)
      : replies_(std::move(replies)),
        acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeSmtpServer() {
    stopping_ = true;
    boost::system::error_code ec;
    tcp::socket poke(io_);
    poke.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
    thread_.join();
  }

  uint16_t port() const { return port_; }
  std::vector<std::string> commands() {
    std::lock_guard<std::mutex> lock(mu_);
    return commands_;
  }
  std::vector<std::string> messages() {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_;
  }

 private:
  void Serve() {
    while (!stopping_) {
      tcp::socket socket(io_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec || stopping_) break;
      Session(socket);
    }
  }

  void Send(tcp::socket& s, const std::string& reply) {
    boost::system::error_code ec;
    asio::write(s, asio::buffer(reply + "\r\n"), ec);
  }

  bool ReadLine(tcp::socket& s, std::string& buffer, std::string& line) {
    boost::system::error_code ec;
    size_t n = asio::read_until(s, asio::dynamic_buffer(buffer), "\r\n", ec);
    if (ec) return false;
    line = buffer.substr(0, n - 2);
    buffer.erase(0, n);
    return true;
  }

  void Session(tcp::socket& s) {
    if (replies_.silent) {
      std::string buffer, line;
      ReadLine(s, buffer, line);  // waits until the client gives up
      return;
    }
    Send(s, replies_.greeting);
    std::string buffer, line;
    while (ReadLine(s, buffer, line)) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        commands_.push_back(line);
      }
      std::string verb = line.substr(0, 4);
      if (verb == "EHLO") {
        Send(s, replies_.ehlo);
      } else if (verb == "HELO") {
        Send(s, "250 fake.test");
      } else if (verb == "MAIL") {
        Send(s, replies_.mail);
      } else if (verb == "RCPT") {
        Send(s, replies_.rcpt);
      } else if (verb == "DATA") {
        Send(s, "354 end with <CRLF>.<CRLF>");
        std::string data;
        while (ReadLine(s, buffer, line) && line != ".") {
          // Undo dot-stuffing, as a real server does.
          if (!line.empty() && line[0] == '.') line.erase(0, 1);
          data += line + "\r\n";
        }
        {
          std::lock_guard<std::mutex> lock(mu_);
          messages_.push_back(data);
        }
        Send(s, replies_.data_end);
      } else if (verb == "QUIT") {
        Send(s, "221 bye");
        return;
      } else {
        Send(s, "500 unknown command");
      }
    }
  }

  Replies replies_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> commands_;
  std::vector<std::string> messages_;
};

MailMessage Sample() {
  MailMessage m;
  m.from = {"Mug Shop", "orders@shop.example"};
  m.to = {{"Ada Lovelace", "ada@example.org"}};
  m.subject = "Your order M-000001";
  m.body = "Hello Ada,\nthank you.\n";
  m.date_micros = 1'790'000'000'000'000;
  m.message_id = "abc123@shop.example";
  return m;
}

TEST(MailFormatTest, WritesRfc5322Headers) {
  auto text = FormatMailMessage(Sample());
  ASSERT_THAT(text, IsOk());
  EXPECT_EQ(*text,
            "Date: Mon, 21 Sep 2026 14:13:20 +0000\r\n"
            "From: \"Mug Shop\" <orders@shop.example>\r\n"
            "To: \"Ada Lovelace\" <ada@example.org>\r\n"
            "Subject: Your order M-000001\r\n"
            "Message-ID: <abc123@shop.example>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n"
            "\r\n"
            "Hello Ada,\r\nthank you.\r\n");
}

TEST(MailFormatTest, EncodesNonAsciiHeadersAndBody) {
  MailMessage m = Sample();
  m.subject = "Bestellung für Jürgen";
  m.to = {{"Jürgen Groß", "j@example.org"}, {"", "copy@example.org"}};
  m.body = "Grüße\n.hidden dot\ntrailing space \n" + std::string(200, 'x') + "\n";
  auto text = FormatMailMessage(m);
  ASSERT_THAT(text, IsOk());
  EXPECT_THAT(*text, HasSubstr("Subject: =?UTF-8?B?QmVzdGVsbHVuZyBmw7xyIErDvHJnZW4=?=\r\n"));
  EXPECT_THAT(*text, HasSubstr("To: =?UTF-8?B?SsO8cmdlbiBHcm/Dnw==?= <j@example.org>,\r\n "
                               "<copy@example.org>\r\n"));
  EXPECT_THAT(*text,
              HasSubstr("\r\n\r\nGr=C3=BC=C3=9Fe\r\n=2Ehidden dot\r\ntrailing space=20\r\n"));
  // Every line within 78 characters, CRLF only.
  size_t pos = 0;
  while (pos < text->size()) {
    size_t eol = text->find("\r\n", pos);
    ASSERT_NE(eol, std::string::npos);
    EXPECT_LE(eol - pos, 76u);
    EXPECT_EQ(text->substr(pos, eol - pos).find('\n'), std::string::npos);
    pos = eol + 2;
  }
}

TEST(MailFormatTest, RefusesHeaderInjection) {
  MailMessage m = Sample();
  m.subject = "Hi\r\nBcc: victim@example.org";
  EXPECT_THAT(FormatMailMessage(m), StatusIs(StatusCode::kInvalidArgument, HasSubstr("Subject")));
  m = Sample();
  m.subject = "Hi\nBcc: victim@example.org";
  EXPECT_THAT(FormatMailMessage(m), StatusIs(StatusCode::kInvalidArgument));
  m = Sample();
  m.to[0].name = "Ada\r\nBcc: victim@example.org";
  EXPECT_THAT(FormatMailMessage(m), StatusIs(StatusCode::kInvalidArgument, HasSubstr("To")));
  m = Sample();
  m.to[0].address = "ada@example.org>\r\nBcc: <victim@example.org";
  EXPECT_THAT(FormatMailMessage(m), StatusIs(StatusCode::kInvalidArgument));
  m = Sample();
  m.to[0].name = "Ada <evil@example.org>";  // no angle brackets smuggled into the address
  auto text = FormatMailMessage(m);
  ASSERT_THAT(text, IsOk());
  EXPECT_THAT(*text, Not(HasSubstr("<evil@example.org>")));
  m = Sample();
  m.to.clear();
  EXPECT_THAT(FormatMailMessage(m), StatusIs(StatusCode::kInvalidArgument, HasSubstr("recipient")));
}

TEST(MailFormatTest, AnHtmlBodyMakesAMultipartAlternativeWithExtraHeaders) {
  MailMessage m = Sample();
  m.html_body = "<p>Hello <b>Ada</b> =_ caf\u00e9</p>\n";
  m.extra_headers = {{"List-Unsubscribe", "<https://shop.example/unsubscribe?t=abc>"},
                     {"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"}};
  auto text = FormatMailMessage(m);
  ASSERT_THAT(text, IsOk());
  EXPECT_THAT(*text, HasSubstr("Message-ID: <abc123@shop.example>\r\n"
                               "List-Unsubscribe: <https://shop.example/unsubscribe?t=abc>\r\n"
                               "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
                               "MIME-Version: 1.0\r\n"
                               "Content-Type: multipart/alternative; boundary=\"=_tieup_"));
  const size_t b = text->find("boundary=\"") + 10;
  const std::string boundary = text->substr(b, text->find('"', b) - b);
  // The text part, then the HTML part, then the closing delimiter; the boundary appears nowhere
  // else (the '=_' of the HTML is encoded).
  const size_t plain = text->find("--" + boundary + "\r\nContent-Type: text/plain; charset=utf-8");
  const size_t html = text->find("--" + boundary + "\r\nContent-Type: text/html; charset=utf-8");
  ASSERT_NE(plain, std::string::npos);
  ASSERT_NE(html, std::string::npos);
  EXPECT_LT(plain, html);
  EXPECT_THAT(text->substr(html), HasSubstr("<p>Hello <b>Ada</b> =3D_ caf=C3=A9</p>\r\n"));
  EXPECT_TRUE(text->ends_with("--" + boundary + "--\r\n"));
  size_t count = 0;
  for (size_t p = text->find(boundary); p != std::string::npos; p = text->find(boundary, p + 1)) {
    ++count;
  }
  EXPECT_EQ(count, 4u);  // the header, two delimiters, the close

  // Extra headers are checked: no injection, no repeating the formatter's own.
  for (MailHeader bad : std::vector<MailHeader>{{"List-Unsubscribe", "<x>\r\nBcc: v@e.org"},
                                                {"Bcc", "v@example.org"},
                                                {"content-type", "text/html"},
                                                {"Bad Name", "x"},
                                                {"", "x"}}) {
    MailMessage h = Sample();
    h.extra_headers = {bad};
    EXPECT_THAT(FormatMailMessage(h), StatusIs(StatusCode::kInvalidArgument)) << bad.name;
  }
}

TEST(MailFormatTest, ValidatesAddresses) {
  EXPECT_THAT(ValidateEmailAddress("a.b+c@mail.example.org"), IsOk());
  for (std::string bad : {"", "plain", "a@b", "a@@b.org", "a b@c.org", ".a@b.org", "a..b@c.org",
                          "a@-b.org", "a@b..org", "a@b.org\r\n", "ä@b.org"}) {
    EXPECT_THAT(ValidateEmailAddress(bad), StatusIs(StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(SmtpTest, DeliversWithDotStuffing) {
  FakeSmtpServer server({});
  SmtpOptions o;
  o.host = "127.0.0.1";
  o.port = server.port();
  o.helo_name = "shop.example";
  std::string message = "Subject: x\r\n\r\n.starts with a dot\r\n..two\r\nend";
  ASSERT_THAT(SendSmtp(o, "orders@shop.example", {"ada@example.org", "bob@example.org"}, message),
              IsOk());
  EXPECT_THAT(server.commands(), ElementsAre("EHLO shop.example", "MAIL FROM:<orders@shop.example>",
                                             "RCPT TO:<ada@example.org>",
                                             "RCPT TO:<bob@example.org>", "DATA", "QUIT"));
  ASSERT_EQ(server.messages().size(), 1u);
  EXPECT_EQ(server.messages()[0], message + "\r\n");
}

TEST(SmtpTest, FallsBackToHelo) {
  FakeSmtpServer::Replies r;
  r.ehlo = "502 command not implemented";
  FakeSmtpServer server(r);
  SmtpOptions o{"127.0.0.1", server.port(), "shop.example", std::chrono::seconds(10)};
  ASSERT_THAT(SendSmtp(o, "orders@shop.example", {"ada@example.org"}, "Subject: x\r\n\r\nhi\r\n"),
              IsOk());
  EXPECT_EQ(server.commands()[1], "HELO shop.example");
}

TEST(SmtpTest, ReportsPermanentAndTransientFailures) {
  {
    FakeSmtpServer::Replies r;
    r.rcpt = "550 5.1.1 no such user";
    FakeSmtpServer server(r);
    SmtpOptions o{"127.0.0.1", server.port(), "shop.example", std::chrono::seconds(10)};
    EXPECT_THAT(SendSmtp(o, "orders@shop.example", {"nobody@example.org"}, "x\r\n"),
                StatusIs(StatusCode::kFailedPrecondition, HasSubstr("550 5.1.1 no such user")));
  }
  {
    FakeSmtpServer::Replies r;
    r.mail = "451 try again later";
    FakeSmtpServer server(r);
    SmtpOptions o{"127.0.0.1", server.port(), "shop.example", std::chrono::seconds(10)};
    EXPECT_THAT(SendSmtp(o, "orders@shop.example", {"ada@example.org"}, "x\r\n"),
                StatusIs(StatusCode::kUnavailable, HasSubstr("451")));
  }
  {
    FakeSmtpServer::Replies r;
    r.greeting = "554 go away";
    FakeSmtpServer server(r);
    SmtpOptions o{"127.0.0.1", server.port(), "shop.example", std::chrono::seconds(10)};
    EXPECT_THAT(SendSmtp(o, "orders@shop.example", {"ada@example.org"}, "x\r\n"),
                StatusIs(StatusCode::kFailedPrecondition, HasSubstr("554")));
  }
}

TEST(SmtpTest, ConnectionRefusedAndTimeout) {
  uint16_t closed_port;
  {
    asio::io_context io;
    tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    closed_port = a.local_endpoint().port();
  }
  SmtpOptions o{"127.0.0.1", closed_port, "shop.example", std::chrono::seconds(5)};
  EXPECT_THAT(SendSmtp(o, "orders@shop.example", {"ada@example.org"}, "x\r\n"),
              StatusIs(StatusCode::kUnavailable));
  FakeSmtpServer::Replies r;
  r.silent = true;
  FakeSmtpServer server(r);
  // A real (short) timeout: the point is that a silent relay cannot hang the caller.
  o = {"127.0.0.1", server.port(), "shop.example", std::chrono::milliseconds(200)};
  EXPECT_THAT(SendSmtp(o, "orders@shop.example", {"ada@example.org"}, "x\r\n"),
              StatusIs(StatusCode::kDeadlineExceeded));
}

TEST(SmtpTest, RefusesBadEnvelope) {
  SmtpOptions o{"127.0.0.1", 25, "shop.example", std::chrono::seconds(1)};
  EXPECT_THAT(SendSmtp(o, "orders@shop.example>\r\nRCPT TO:<x@y.org", {"a@b.org"}, "x"),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(SendSmtp(o, "orders@shop.example", {}, "x"), StatusIs(StatusCode::kInvalidArgument));
  o.host = "";
  EXPECT_THAT(SendSmtp(o, "orders@shop.example", {"a@b.org"}, "x"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("no SMTP relay")));
}

class MailOutboxTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_THAT(outbox_.Init(), IsOk()); }
  TempDir dir_;
  FakeClockEnv env_;
  MailOutbox outbox_{env_, dir_.Sub("outbox")};
};

TEST_F(MailOutboxTest, EnqueuesAtomicallyAndDelivers) {
  MailMessage m = Sample();
  m.message_id.clear();
  m.date_micros = 0;
  auto name = outbox_.Enqueue(m);
  ASSERT_THAT(name, IsOk());
  ASSERT_THAT(outbox_.Enqueue(Sample()), IsOk());
  auto pending = outbox_.Pending();
  ASSERT_THAT(pending, IsOk());
  EXPECT_EQ(pending->size(), 2u);
  auto stored = outbox_.Read("pending", *name);
  ASSERT_THAT(stored, IsOk());
  EXPECT_THAT(*stored, HasSubstr("@shop.example>\r\n"));  // generated Message-ID
  EXPECT_THAT(*stored, HasSubstr("Date: Mon, 21 Sep 2026 14:13:20 +0000\r\n"));
  EXPECT_FALSE(env_.FileExists(dir_.Sub("outbox/pending/" + *name + ".tmp")));

  // No relay configured: nothing happens, messages wait.
  auto report = outbox_.DeliverPending({});
  EXPECT_EQ(report.sent, 0);
  EXPECT_EQ(outbox_.Pending()->size(), 2u);

  FakeSmtpServer server({});
  report = outbox_.DeliverPending(
      {"127.0.0.1", server.port(), "shop.example", std::chrono::seconds(10)});
  EXPECT_EQ(report.sent, 2) << report.last_error;
  EXPECT_TRUE(outbox_.Pending()->empty());
  EXPECT_THAT(outbox_.Read("sent", *name), IsOk());
  ASSERT_EQ(server.messages().size(), 2u);
  EXPECT_THAT(server.messages(), ::testing::Contains(*stored));  // byte for byte
  EXPECT_EQ(server.commands()[1], "MAIL FROM:<orders@shop.example>");
  EXPECT_EQ(server.commands()[2], "RCPT TO:<ada@example.org>");
}

TEST_F(MailOutboxTest, EnqueueAsWritesANameOnceWhereverTheMessageIsNow) {
  auto Holds = [&](std::string_view name) {
    auto held = outbox_.Holds(name);
    EXPECT_THAT(held, IsOk());
    return held.ok() && *held;
  };
  auto name = outbox_.EnqueueAs("campaign-1-usr_a", Sample());
  ASSERT_THAT(name, IsOk());
  EXPECT_EQ(*name, "campaign-1-usr_a.eml");
  EXPECT_TRUE(Holds("campaign-1-usr_a"));
  EXPECT_FALSE(Holds("campaign-1-usr_b"));
  EXPECT_THAT(outbox_.EnqueueAs("campaign-1-usr_a", Sample()),
              StatusIs(StatusCode::kAlreadyExists));
  // Delivered (moved to sent/): still held, still refused.
  FakeSmtpServer server({});
  auto report = outbox_.DeliverPending(
      {"127.0.0.1", server.port(), "shop.example", std::chrono::seconds(10)});
  EXPECT_EQ(report.sent, 1) << report.last_error;
  EXPECT_TRUE(Holds("campaign-1-usr_a"));
  EXPECT_THAT(outbox_.EnqueueAs("campaign-1-usr_a", Sample()),
              StatusIs(StatusCode::kAlreadyExists));
  EXPECT_EQ(server.messages().size(), 1u);
  for (const std::string& bad :
       std::vector<std::string>{"", ".hidden", "../escape", "a/b", std::string(101, 'x')}) {
    EXPECT_THAT(outbox_.EnqueueAs(bad, Sample()), StatusIs(StatusCode::kInvalidArgument)) << bad;
  }
}

TEST_F(MailOutboxTest, TransientFailuresStayPendingPermanentOnesMoveToFailed) {
  auto name = outbox_.Enqueue(Sample());
  ASSERT_THAT(name, IsOk());
  {
    FakeSmtpServer::Replies r;
    r.mail = "421 busy";
    FakeSmtpServer server(r);
    auto report = outbox_.DeliverPending(
        {"127.0.0.1", server.port(), "shop.example", std::chrono::seconds(10)});
    EXPECT_EQ(report.retry_later, 1);
    EXPECT_THAT(report.last_error, HasSubstr("421 busy"));
    EXPECT_EQ(outbox_.Pending()->size(), 1u);
  }
  {
    FakeSmtpServer::Replies r;
    r.rcpt = "550 no such user";
    FakeSmtpServer server(r);
    auto report = outbox_.DeliverPending(
        {"127.0.0.1", server.port(), "shop.example", std::chrono::seconds(10)});
    EXPECT_EQ(report.failed, 1);
    EXPECT_TRUE(outbox_.Pending()->empty());
    EXPECT_THAT(outbox_.Read("failed", *name), IsOk());
    auto error =
        env_.ReadFile(dir_.Sub("outbox/failed/" + name->substr(0, name->size() - 4) + ".error"));
    ASSERT_THAT(error, IsOk());
    EXPECT_THAT(*error, HasSubstr("550 no such user"));
  }
  EXPECT_THAT(outbox_.Read("pending", "../x"), StatusIs(StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace tieup::commerce
