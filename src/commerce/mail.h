// Order mail: RFC 5322 messages, a directory outbox, and SMTP delivery to a relay.
//
// Messages are plain UTF-8 text (Content-Type text/plain; charset=utf-8, quoted-printable).
// Header injection is impossible: every header value is checked (no CR, LF or other control
// characters) and non-ASCII text goes into RFC 2047 encoded words.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/status.h"

namespace tieup::commerce {

// Checks an e-mail address (addr-spec, ASCII only): one '@', a local part of 1..64 characters
// from the RFC 5322 dot-atom set, a domain of dot-separated labels (letters, digits, hyphens)
// with at least one dot, 254 characters at most. The message says what is wrong.
Status ValidateEmailAddress(std::string_view address);

struct MailAddress {
  std::string name;     // display name, any UTF-8 text without control characters; may be empty
  std::string address;  // "orders@shop.example"
};

// A header beyond those MailMessage names ("List-Unsubscribe"): a name of letters, digits and
// '-', not one of the headers FormatMailMessage writes itself; a value of printable ASCII.
struct MailHeader {
  std::string name;
  std::string value;
};

struct MailMessage {
  MailAddress from;
  std::vector<MailAddress> to;  // at least one
  std::string subject;          // UTF-8, one line
  std::string body;             // UTF-8 text; "\n" or "\r\n" line ends
  int64_t date_micros = 0;      // the Date header
  std::string message_id;       // "<unique@domain>" without the angle brackets
  // An HTML form of `body` (UTF-8): with one, the message is multipart/alternative, the text
  // first and the HTML second (RFC 2046 5.1.4), as mail readers expect. Empty: text only.
  std::string html_body = {};
  std::vector<MailHeader> extra_headers = {};
};

// Formats `message` as an RFC 5322 message with CRLF line ends: Date, From, To, Subject,
// Message-ID, the extra headers, MIME-Version, and either Content-Type text/plain;
// charset=utf-8 with Content-Transfer-Encoding: quoted-printable, or (with an HTML body)
// multipart/alternative with a text/plain and a text/html part, both quoted-printable (whose
// output can never hold the boundary, which starts with "=_"). kInvalidArgument (naming the
// field) for a bad address, a control character in a header value, invalid UTF-8, a missing
// recipient, subject or message id, a bad or reserved extra header.
Result<std::string> FormatMailMessage(const MailMessage& message);

// Quoted-printable (RFC 2045 section 6.7) of UTF-8 text; line ends become CRLF and no encoded
// line exceeds 76 characters.
std::string EncodeQuotedPrintable(std::string_view text);

// A fresh message id "<random>@<domain>" (without angle brackets), random from `env`.
std::string NewMessageId(Env& env, std::string_view domain);

// Where an SMTP relay is.
struct SmtpOptions {
  std::string host;  // empty: no relay; messages stay in the outbox directory
  uint16_t port = 25;
  std::string helo_name = "localhost";        // the name sent with EHLO
  std::chrono::milliseconds timeout{30'000};  // for the whole conversation
};

// Delivers one message over plain SMTP (RFC 5321: EHLO (HELO when refused), MAIL FROM,
// RCPT TO for each recipient, DATA with dot-stuffing, QUIT). No TLS, no AUTH: meant for a
// local or trusted relay. Errors: kUnavailable (cannot connect, connection lost, or a 4xx
// transient reply), kDeadlineExceeded (timeout), kFailedPrecondition (a 5xx permanent reply;
// the message says which command and what the server answered), kInvalidArgument (bad input).
Status SendSmtp(const SmtpOptions& options, std::string_view envelope_from,
                const std::vector<std::string>& recipients, std::string_view message);

// A directory of outgoing messages:
//   DIR/pending/<name>.eml  written atomically; waiting for delivery (or for a human to read)
//   DIR/sent/<name>.eml     delivered to the relay
//   DIR/failed/<name>.eml   refused permanently by the relay (with <name>.error beside it)
// Thread-safe. Several processes must not deliver from the same directory at once.
class MailOutbox {
 public:
  // `env` must outlive the outbox. Nothing is touched until Init.
  MailOutbox(Env& env, std::string dir);

  // Creates the directories when missing.
  Status Init();

  // Formats `message` (filling date_micros from the clock and message_id from `domain of
  // from` when empty) and writes it to pending/. Returns the file name.
  Result<std::string> Enqueue(MailMessage message);

  // Enqueue under the name `name` + ".eml" (1..100 of [A-Za-z0-9._-], not starting with '.'),
  // for a sender that must never send one message twice (main_site/campaigns.h): AlreadyExists
  // when a message of that name is pending, sent or failed already (nothing is written then).
  // One writer per name: two processes enqueueing the same name at once is the caller's to
  // prevent.
  Result<std::string> EnqueueAs(std::string_view name, MailMessage message);
  // Whether a message of that name (with ".eml") is pending, sent or failed.
  Result<bool> Holds(std::string_view name);

  // Names of the pending messages, oldest first.
  Result<std::vector<std::string>> Pending();

  // The stored bytes of a message in pending/, sent/ or failed/ (`where`).
  Result<std::string> Read(std::string_view where, std::string_view name);

  struct DeliveryReport {
    int sent = 0;
    int retry_later = 0;  // transient failures; still pending
    int failed = 0;       // permanent failures; moved to failed/
    std::string last_error;
  };
  // Tries to deliver every pending message to the relay in `smtp`. Transient failures leave
  // the message pending for the next call; a permanent refusal moves it to failed/. With no
  // relay host configured, does nothing. Call it periodically (e.g. every minute) and after
  // Enqueue.
  DeliveryReport DeliverPending(const SmtpOptions& smtp);

  const std::string& dir() const { return dir_; }

 private:
  Env& env_;
  std::string dir_;
  std::mutex deliver_mu_;
};

}  // namespace tieup::commerce
