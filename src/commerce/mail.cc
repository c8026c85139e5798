#include "commerce/mail.h"

#include <cctype>

#include "base/encoding.h"
#include "commerce/form.h"
#include "crypto/hash.h"

namespace tieup::commerce {
namespace {

bool IsAtext(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  static constexpr std::string_view kSpecials = "!#$%&'*+-/=?^_`{|}~";
  return kSpecials.find(c) != std::string_view::npos;
}

bool HasControl(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

bool IsPlainAscii(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c >= 0x7f) return false;
  }
  return true;
}

// RFC 2047 "B" encoded words, each at most 75 characters, split on UTF-8 character boundaries,
// joined by folding whitespace.
std::string EncodedWords(std::string_view text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    // 45 bytes of input -> 60 of base64; with "=?UTF-8?B?" and "?=" that is 72.
    size_t end = std::min(text.size(), i + 45);
    while (end < text.size() && end > i && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
      --end;
    }
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + Base64Encode(text.substr(i, end - i)) + "?=";
    i = end;
  }
  return out;
}

Result<std::string> FormatAddress(const MailAddress& a, std::string_view field) {
  Status s = ValidateEmailAddress(a.address);
  if (!s.ok()) return s.Annotate(std::string(field));
  if (HasControl(a.name) || !IsValidUtf8(a.name)) {
    return Status::InvalidArgument(std::string(field) +
                                   ": the display name holds control characters or bad UTF-8");
  }
  if (a.name.empty()) return "<" + a.address + ">";
  bool quotable = IsPlainAscii(a.name) && a.name.find_first_of("\"\\<>,") == std::string::npos;
  std::string name = quotable ? "\"" + a.name + "\"" : EncodedWords(a.name);
  return name + " <" + a.address + ">";
}

std::string Rfc5322Date(int64_t micros) {
  std::string d = FormatHttpDate(micros / 1'000'000);  // "Sun, 06 Nov 1994 08:49:37 GMT"
  return d.substr(0, d.size() - 3) + "+0000";
}

// The addresses inside <...> of a header we wrote ourselves (display names never hold '<').
std::vector<std::string> AngleAddresses(std::string_view value) {
  std::vector<std::string> out;
  size_t pos = 0;
  while ((pos = value.find('<', pos)) != std::string_view::npos) {
    size_t end = value.find('>', pos);
    if (end == std::string_view::npos) break;
    out.emplace_back(value.substr(pos + 1, end - pos - 1));
    pos = end + 1;
  }
  return out;
}

// The unfolded value of header `name` in a message we formatted.
std::string HeaderValue(std::string_view message, std::string_view name) {
  size_t header_end = message.find("\r\n\r\n");
  std::string_view head = message.substr(0, header_end);
  size_t pos = 0;
  std::string value;
  bool in = false;
  while (pos < head.size()) {
    size_t eol = head.find("\r\n", pos);
    if (eol == std::string_view::npos) eol = head.size();
    std::string_view line = head.substr(pos, eol - pos);
    pos = eol + 2;
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      if (in) value += line;
      continue;
    }
    if (in) break;
    size_t colon = line.find(':');
    if (colon != std::string_view::npos && colon == name.size() && line.substr(0, colon) == name) {
      in = true;
      value = std::string(Trim(line.substr(colon + 1)));
    }
  }
  return value;
}

}  // namespace

Status ValidateEmailAddress(std::string_view address) {
  auto bad = [&](std::string why) {
    return Status::InvalidArgument("e-mail address '" + std::string(address) + "' " + why);
  };
  if (address.empty()) return Status::InvalidArgument("the e-mail address is empty");
  if (address.size() > 254) return bad("is longer than 254 characters");
  size_t at = address.rfind('@');
  if (at == std::string_view::npos || address.find('@') != at) {
    return bad("must contain exactly one '@', as in name@example.com");
  }
  std::string_view local = address.substr(0, at);
  std::string_view domain = address.substr(at + 1);
  if (local.empty() || local.size() > 64) return bad("needs 1 to 64 characters before the '@'");
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) {
    return bad("has a misplaced '.' before the '@'");
  }
  for (char c : local) {
    if (!IsAtext(c) && c != '.') return bad("has a character that is not allowed before the '@'");
  }
  if (domain.find('.') == std::string_view::npos) {
    return bad("needs a domain with a dot after the '@', as in example.com");
  }
  size_t start = 0;
  while (start <= domain.size()) {
    size_t dot = domain.find('.', start);
    if (dot == std::string_view::npos) dot = domain.size();
    std::string_view label = domain.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return bad("has a malformed domain");
    }
    for (char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') {
        return bad("has a character that is not allowed in a domain");
      }
    }
    start = dot + 1;
  }
  return Status::Ok();
}

std::string EncodeQuotedPrintable(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  size_t line_len = 0;
  auto emit = [&](std::string_view piece) {
    if (line_len + piece.size() > 75) {
      out += "=\r\n";
      line_len = 0;
    }
    out += piece;
    line_len += piece.size();
  };
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t eol = text.find('\n', pos);
    bool last = eol == std::string_view::npos;
    std::string_view line = text.substr(pos, last ? std::string_view::npos : eol - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    for (size_t i = 0; i < line.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(line[i]);
      bool at_end = i + 1 == line.size();
      bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_end);
      // A '.' opening a line is encoded so that no relay or client can mistake it for the end
      // of the data.
      if (c == '.' && line_len == 0) literal = false;
      if (literal) {
        char ch = static_cast<char>(c);
        emit(std::string_view(&ch, 1));
      } else {
        char enc[3] = {'=', kHex[c >> 4], kHex[c & 15]};
        emit(std::string_view(enc, 3));
      }
    }
    if (last) break;
    out += "\r\n";
    line_len = 0;
    pos = eol + 1;
  }
  return out;
}

std::string NewMessageId(Env& env, std::string_view domain) {
  std::string id = HexEncode(RandomString(env, 16));
  return id + "@" + std::string(domain.empty() ? "localhost" : domain);
}

namespace {

// The headers FormatMailMessage writes itself, which an extra header may not repeat.
constexpr std::string_view kOwnHeaders[] = {
    "date",       "from",         "to",           "subject",
    "message-id", "mime-version", "content-type", "content-transfer-encoding",
    "cc",         "bcc",          "sender",       "reply-to"};

Status CheckExtraHeader(const MailHeader& h) {
  if (h.name.empty() || h.name.size() > 76) {
    return Status::InvalidArgument("an extra header's name must have 1 to 76 characters");
  }
  std::string lower;
  for (char c : h.name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') {
      return Status::InvalidArgument("header name '" + h.name.substr(0, 40) +
                                     "' may hold only letters, digits and '-'");
    }
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  for (std::string_view own : kOwnHeaders) {
    if (lower == own) {
      return Status::InvalidArgument("header '" + h.name +
                                     "' is written by the formatter; set the message's field");
    }
  }
  if (!IsPlainAscii(h.value) || h.value.size() > 900) {
    return Status::InvalidArgument(h.name +
                                   ": the value must be one line of printable ASCII, at most 900 "
                                   "characters (header injection)");
  }
  return Status::Ok();
}

// One MIME part's body, quoted-printable, ending in CRLF.
std::string QuotedPrintableBody(std::string_view text) {
  std::string out = EncodeQuotedPrintable(text);
  if (out.size() < 2 || out.substr(out.size() - 2) != "\r\n") out += "\r\n";
  return out;
}

}  // namespace

Result<std::string> FormatMailMessage(const MailMessage& m) {
  if (m.to.empty()) return Status::InvalidArgument("the message has no recipient");
  if (Trim(m.subject).empty()) return Status::InvalidArgument("the message has no subject");
  if (HasControl(m.subject) || !IsValidUtf8(m.subject)) {
    return Status::InvalidArgument(
        "Subject holds a line break, another control character or bad UTF-8; refusing (header "
        "injection)");
  }
  if (m.message_id.empty() || HasControl(m.message_id) || !IsPlainAscii(m.message_id) ||
      m.message_id.find_first_of("<> ") != std::string::npos ||
      m.message_id.find('@') == std::string::npos) {
    return Status::InvalidArgument("Message-ID must be 'unique@domain' in plain ASCII");
  }
  if (!IsValidUtf8(m.body)) return Status::InvalidArgument("the message body is not valid UTF-8");
  if (!IsValidUtf8(m.html_body)) {
    return Status::InvalidArgument("the message's HTML body is not valid UTF-8");
  }
  for (const MailHeader& h : m.extra_headers) RETURN_IF_ERROR(CheckExtraHeader(h));
  ASSIGN_OR_RETURN(std::string from, FormatAddress(m.from, "From"));
  std::string to;
  for (const MailAddress& a : m.to) {
    ASSIGN_OR_RETURN(std::string one, FormatAddress(a, "To"));
    if (!to.empty()) to += ",\r\n ";
    to += one;
  }
  std::string subject =
      IsPlainAscii(m.subject) && m.subject.size() <= 900 ? m.subject : EncodedWords(m.subject);
  std::string out;
  out += "Date: " + Rfc5322Date(m.date_micros) + "\r\n";
  out += "From: " + from + "\r\n";
  out += "To: " + to + "\r\n";
  out += "Subject: " + subject + "\r\n";
  out += "Message-ID: <" + m.message_id + ">\r\n";
  for (const MailHeader& h : m.extra_headers) out += h.name + ": " + h.value + "\r\n";
  out += "MIME-Version: 1.0\r\n";
  if (m.html_body.empty()) {
    out += "Content-Type: text/plain; charset=utf-8\r\n";
    out += "Content-Transfer-Encoding: quoted-printable\r\n";
    out += "\r\n";
    out += QuotedPrintableBody(m.body);
    return out;
  }
  // Quoted-printable writes '=' only as "=XX" or a soft break "=\r\n": never "=_".
  const std::string boundary = "=_tieup_" + Sha256Hex(m.message_id).substr(0, 24);
  out += "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n";
  out += "\r\n";
  for (auto [type, text] : {std::pair<std::string_view, std::string_view>{"plain", m.body},
                            std::pair<std::string_view, std::string_view>{"html", m.html_body}}) {
    out += "--" + boundary + "\r\n";
    out += "Content-Type: text/" + std::string(type) + "; charset=utf-8\r\n";
    out += "Content-Transfer-Encoding: quoted-printable\r\n\r\n";
    out += QuotedPrintableBody(text);
  }
  out += "--" + boundary + "--\r\n";
  return out;
}

MailOutbox::MailOutbox(Env& env, std::string dir) : env_(env), dir_(std::move(dir)) {}

Status MailOutbox::Init() {
  for (const char* sub : {"pending", "sent", "failed"}) {
    RETURN_IF_ERROR(CreateDirs(env_, JoinPath(dir_, sub)));
  }
  return Status::Ok();
}

namespace {

// FormatMailMessage, with the date and message id filled in from `env` when empty.
Result<std::string> FormatForOutbox(Env& env, MailMessage& message) {
  if (message.date_micros == 0) message.date_micros = env.NowMicros();
  if (message.message_id.empty()) {
    std::string_view addr = message.from.address;
    size_t at = addr.rfind('@');
    message.message_id =
        NewMessageId(env, at == std::string_view::npos ? "localhost" : addr.substr(at + 1));
  }
  return FormatMailMessage(message);
}

}  // namespace

Result<std::string> MailOutbox::Enqueue(MailMessage message) {
  ASSIGN_OR_RETURN(std::string bytes, FormatForOutbox(env_, message));
  // Names sort by time; the random part keeps concurrent writers apart.
  char stamp[32];
  snprintf(stamp, sizeof(stamp), "%020lld", static_cast<long long>(env_.NowMicros()));
  std::string name = std::string(stamp) + "-" + HexEncode(RandomString(env_, 6)) + ".eml";
  RETURN_IF_ERROR(WriteFileAtomic(env_, JoinPath(JoinPath(dir_, "pending"), name), bytes));
  return name;
}

namespace {

Status CheckOutboxName(std::string_view name) {
  if (name.empty() || name.size() > 100 || name[0] == '.') {
    return Status::InvalidArgument(
        "an outbox message name needs 1 to 100 characters, not "
        "starting with '.'");
  }
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return Status::InvalidArgument("outbox message name '" + std::string(name.substr(0, 40)) +
                                     "' may hold only letters, digits, '.', '_' and '-'");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<bool> MailOutbox::Holds(std::string_view name) {
  RETURN_IF_ERROR(CheckOutboxName(name));
  const std::string file = std::string(name) + ".eml";
  for (const char* where : {"pending", "sent", "failed"}) {
    if (env_.FileExists(JoinPath(JoinPath(dir_, where), file))) return true;
  }
  return false;
}

Result<std::string> MailOutbox::EnqueueAs(std::string_view name, MailMessage message) {
  RETURN_IF_ERROR(CheckOutboxName(name));
  ASSIGN_OR_RETURN(std::string bytes, FormatForOutbox(env_, message));
  ASSIGN_OR_RETURN(bool held, Holds(name));
  if (held) {
    return Status::AlreadyExists("the outbox holds message '" + std::string(name) + "' already");
  }
  const std::string file = std::string(name) + ".eml";
  RETURN_IF_ERROR(WriteFileAtomic(env_, JoinPath(JoinPath(dir_, "pending"), file), bytes));
  return file;
}

Result<std::vector<std::string>> MailOutbox::Pending() {
  ASSIGN_OR_RETURN(auto entries, env_.ListDir(JoinPath(dir_, "pending")));
  std::vector<std::string> names;
  for (const FileInfo& f : entries) {
    if (!f.is_dir && f.name.size() > 4 && f.name.substr(f.name.size() - 4) == ".eml") {
      names.push_back(f.name);
    }
  }
  return names;
}

Result<std::string> MailOutbox::Read(std::string_view where, std::string_view name) {
  if (where != "pending" && where != "sent" && where != "failed") {
    return Status::InvalidArgument("outbox folder must be pending, sent or failed");
  }
  if (name.empty() || name.find('/') != std::string_view::npos || name[0] == '.') {
    return Status::InvalidArgument("bad outbox message name '" + std::string(name) + "'");
  }
  return env_.ReadFile(JoinPath(JoinPath(dir_, where), name));
}

MailOutbox::DeliveryReport MailOutbox::DeliverPending(const SmtpOptions& smtp) {
  DeliveryReport report;
  if (smtp.host.empty()) return report;
  std::lock_guard<std::mutex> lock(deliver_mu_);
  auto names = Pending();
  if (!names.ok()) {
    report.last_error = names.status().ToString();
    return report;
  }
  for (const std::string& name : *names) {
    std::string path = JoinPath(JoinPath(dir_, "pending"), name);
    auto bytes = env_.ReadFile(path);
    if (!bytes.ok()) {
      ++report.retry_later;
      report.last_error = bytes.status().ToString();
      continue;
    }
    std::vector<std::string> from = AngleAddresses(HeaderValue(*bytes, "From"));
    std::vector<std::string> to = AngleAddresses(HeaderValue(*bytes, "To"));
    Status s = from.size() == 1 && !to.empty()
                   ? SendSmtp(smtp, from[0], to, *bytes)
                   : Status::FailedPrecondition(name + " has no readable From or To header");
    if (s.ok()) {
      Status moved = env_.Rename(path, JoinPath(JoinPath(dir_, "sent"), name));
      if (!moved.ok()) report.last_error = moved.ToString();
      ++report.sent;
      continue;
    }
    report.last_error = name + ": " + s.ToString();
    if (s.code() == StatusCode::kFailedPrecondition) {
      std::string failed = JoinPath(dir_, "failed");
      (void)WriteFileAtomic(env_, JoinPath(failed, name.substr(0, name.size() - 4) + ".error"),
                            s.ToString() + "\n");
      (void)env_.Rename(path, JoinPath(failed, name));
      ++report.failed;
    } else {
      ++report.retry_later;
    }
  }
  (void)env_.SyncDir(JoinPath(dir_, "pending"));
  return report;
}

}  // namespace tieup::commerce
