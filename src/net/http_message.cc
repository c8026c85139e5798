#include "net/http_message.h"

#include <algorithm>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/pchars.hpp>

namespace tieup {
namespace {

char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool IsTokenChar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool IsValidToken(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

// Field values: visible characters, obs-text, space and tab. No CR, LF, NUL or other controls.
bool IsValidFieldValue(std::string_view s) {
  for (unsigned char c : s) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  return true;
}

bool IsServerManagedHeader(std::string_view name) {
  switch (name.size()) {
    case 4:
      return EqualsIgnoreCase(name, "date");
    case 6:
      return EqualsIgnoreCase(name, "server");
    case 10:
      return EqualsIgnoreCase(name, "connection");
    case 14:
      return EqualsIgnoreCase(name, "content-length");
    case 17:
      return EqualsIgnoreCase(name, "transfer-encoding");
    default:
      return false;
  }
}

// Scans a pre-formatted "Name: value\r\n" block.
template <typename Fn>
void ForEachBlockHeader(std::string_view block, Fn&& fn) {
  while (!block.empty()) {
    size_t eol = block.find("\r\n");
    std::string_view line = block.substr(0, eol);
    block.remove_prefix(eol == std::string_view::npos ? block.size() : eol + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    if (!fn(line.substr(0, colon), value)) return;
  }
}

}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (LowerAscii(a[i]) != LowerAscii(b[i])) return false;
  }
  return true;
}

std::string_view HttpReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 421:
      return "Misdirected Request";
    case 422:
      return "Unprocessable Content";
    case 425:
      return "Too Early";
    case 426:
      return "Upgrade Required";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 451:
      return "Unavailable For Legal Reasons";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

// --- HttpRequest ---

HttpRequest::HttpRequest(std::string_view method, std::string_view target) : method_(method) {
  SetTarget(target);
}

void HttpRequest::SetTarget(std::string_view target) {
  target_.assign(target);
  size_t q = target.find('?');
  path_.assign(target.substr(0, q));
  if (q == std::string_view::npos) {
    query_.clear();
  } else {
    query_.assign(target.substr(q + 1));
  }
}

HttpRequest HttpRequest::WithPath(std::string_view path) const {
  HttpRequest copy = *this;
  // Percent-encodes what a path segment may not hold as it is (RFC 3986 pchar), '/' kept.
  copy.target_ = boost::urls::encode(path, boost::urls::pchars + '/');
  if (target_.find('?') != std::string::npos) copy.target_.append("?").append(query_);
  copy.path_.assign(path);
  return copy;
}

std::optional<std::string_view> HttpRequest::FindHeader(std::string_view name) const {
  std::string_view text = header_text_;
  for (const HeaderSpan& h : headers_) {
    if (h.name_size == name.size() &&
        EqualsIgnoreCase(text.substr(h.name_offset, h.name_size), name)) {
      return text.substr(h.value_offset, h.value_size);
    }
  }
  return std::nullopt;
}

std::string_view HttpRequest::HeaderOr(std::string_view name, std::string_view fallback) const {
  std::optional<std::string_view> v = FindHeader(name);
  return v ? *v : fallback;
}

std::vector<HttpHeaderView> HttpRequest::Headers() const {
  std::vector<HttpHeaderView> out;
  out.reserve(headers_.size());
  std::string_view text = header_text_;
  for (const HeaderSpan& h : headers_) {
    out.push_back(
        {text.substr(h.name_offset, h.name_size), text.substr(h.value_offset, h.value_size)});
  }
  return out;
}

bool HttpRequest::AddHeader(std::string_view name, std::string_view value) {
  if (!IsValidToken(name) || !IsValidFieldValue(value)) return false;
  AppendHeaderUnchecked(name, value);
  return true;
}

void HttpRequest::RemoveHeader(std::string_view name) {
  const std::string_view text = header_text_;
  std::erase_if(headers_, [&](const HeaderSpan& h) {
    return h.name_size == name.size() &&
           EqualsIgnoreCase(text.substr(h.name_offset, h.name_size), name);
  });
}

void HttpRequest::AppendHeaderUnchecked(std::string_view name, std::string_view value) {
  HeaderSpan span;
  span.name_offset = static_cast<uint32_t>(header_text_.size());
  span.name_size = static_cast<uint32_t>(name.size());
  header_text_.append(name);
  span.value_offset = static_cast<uint32_t>(header_text_.size());
  span.value_size = static_cast<uint32_t>(value.size());
  header_text_.append(value);
  headers_.push_back(span);
}

void HttpRequest::Clear() {
  method_.clear();
  target_.clear();
  path_.clear();
  query_.clear();
  header_text_.clear();
  headers_.clear();
  // A large upload must not pin its buffer for the rest of a keep-alive connection.
  if (body_.capacity() > 64 * 1024) {
    std::string().swap(body_);
  } else {
    body_.clear();
  }
  version_ = 11;
  keep_alive_ = true;
}

// --- HttpResponse ---

HttpResponse HttpResponse::Text(int status, std::string_view text) {
  HttpResponse r(status);
  r.AppendHeaderUnchecked("Content-Type", "text/plain; charset=utf-8");
  r.SetBody(std::string(text));
  return r;
}

HttpResponse HttpResponse::Html(int status, std::string html) {
  HttpResponse r(status);
  r.AppendHeaderUnchecked("Content-Type", "text/html; charset=utf-8");
  r.SetBody(std::move(html));
  return r;
}

bool HttpResponse::AddHeader(std::string_view name, std::string_view value) {
  if (!IsValidToken(name) || !IsValidFieldValue(value) || IsServerManagedHeader(name)) {
    return false;
  }
  AppendHeaderUnchecked(name, value);
  return true;
}

void HttpResponse::AppendHeaderUnchecked(std::string_view name, std::string_view value) {
  header_block_.append(name);
  header_block_.append(": ");
  header_block_.append(value);
  header_block_.append("\r\n");
}

std::optional<std::string_view> HttpResponse::FindHeader(std::string_view name) const {
  std::optional<std::string_view> found;
  ForEachBlockHeader(header_block_, [&](std::string_view n, std::string_view v) {
    if (EqualsIgnoreCase(n, name)) {
      found = v;
      return false;
    }
    return true;
  });
  return found;
}

std::vector<HttpHeaderView> HttpResponse::Headers() const {
  std::vector<HttpHeaderView> out;
  ForEachBlockHeader(header_block_, [&](std::string_view n, std::string_view v) {
    out.push_back({n, v});
    return true;
  });
  return out;
}

void HttpResponse::SetBody(std::string body) {
  shared_body_.reset();
  shared_view_ = {};
  body_ = std::move(body);
}

void HttpResponse::SetSharedBody(std::shared_ptr<const std::string> owner) {
  std::string_view view = owner ? std::string_view(*owner) : std::string_view();
  SetSharedBody(std::move(owner), view);
}

void HttpResponse::SetSharedBody(std::shared_ptr<const std::string> owner, std::string_view view) {
  body_.clear();
  if (!owner) {
    shared_body_.reset();
    shared_view_ = {};
    return;
  }
  shared_body_ = std::move(owner);
  shared_view_ = view;
}

}  // namespace tieup
