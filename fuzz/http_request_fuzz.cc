// Fuzzes the server's HTTP/1.1 request parsing: net_internal::RequestParser (Beast's
// basic_parser filling an HttpRequest, as Connection::ParseBuffered drives it) followed by the
// request-target normalization of Connection::OnHeaderDone, over pipelined requests arriving in
// reads of any size.
//
// Input: the first byte sets how many bytes each simulated read delivers (1..256); the rest is
// what the client sends. Built twice: as fuzz_http_request (the bytes are the whole stream) and
// as fuzz_http_chunked (TIEUP_FUZZ_CHUNKED: the bytes follow a fixed header that announces a
// chunked body, so the fuzzer spends its time on chunk sizes, extensions and trailers).
//
// Properties checked: the parser never reads or writes out of bounds (ASan), the body stays
// within the limit, a Content-Length body has that length, and a path that normalizes is
// absolute, has no empty, "." or ".." segments, no control characters and no backslash, and
// is the same as NormalizePath gives.
#include <algorithm>
#include <boost/beast/core/flat_buffer.hpp>
#include <charconv>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "net/http_message.h"
#include "net/path.h"
#include "net/server_connection.h"

namespace {

using tieup::HttpRequest;
using tieup::net_internal::RequestParser;
namespace beast = boost::beast;
namespace http = boost::beast::http;

// Small limits, so the fuzzer reaches them; the server's own are 16 KiB and 1 MiB.
constexpr uint32_t kHeaderLimit = 2048;
constexpr uint64_t kBodyLimit = 4096;
// As HttpServer: room for a full header and two reads.
constexpr size_t kMaxBuffer = kHeaderLimit + 2 * tieup::net_internal::kReadChunk;
constexpr int kMaxPipelined = 8;

#ifdef TIEUP_FUZZ_CHUNKED
constexpr std::string_view kPrefix =
    "POST /upload HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\n\r\n";
#else
constexpr std::string_view kPrefix;
#endif

void CheckPath(const HttpRequest& request) {
  std::string path;
  std::string_view query;
  tieup::Status s = tieup::NormalizePathTo(request.target(), &path, &query);
  auto again = tieup::ParseRequestTarget(request.target());
  FUZZ_CHECK(s.ok() == again.ok());
  if (!s.ok()) return;
  FUZZ_CHECK(again->path == path);
  FUZZ_CHECK(again->query == query);
  FUZZ_CHECK(!path.empty() && path.front() == '/');
  FUZZ_CHECK(path.find("//") == std::string::npos);
  FUZZ_CHECK(path.find('\\') == std::string::npos);
  for (unsigned char c : path) FUZZ_CHECK(c >= 0x20 && c != 0x7f);
  // No "." or ".." segment survives.
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string_view segment(path.data() + start, end - start);
    FUZZ_CHECK(segment != "." && segment != "..");
    start = end + 1;
  }
}

void CheckRequest(const HttpRequest& request, const RequestParser& parser) {
  FUZZ_CHECK(request.body().size() <= kBodyLimit);
  if (!parser.chunked()) {
    if (auto length = parser.content_length()) FUZZ_CHECK(request.body().size() == *length);
  }
  // The header accessors agree with each other.
  FUZZ_CHECK(request.Headers().size() == request.header_count());
  for (const auto& h : request.Headers()) FUZZ_CHECK(request.FindHeader(h.name).has_value());
  FUZZ_CHECK(parser.host_count() == 0 || request.FindHeader("host").has_value());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t step = static_cast<size_t>(data[0]) + 1;
  std::string input(kPrefix);
  input.append(reinterpret_cast<const char*>(data + 1), size - 1);

  beast::flat_buffer buffer(kMaxBuffer);
  size_t fed = 0;
  HttpRequest request;
  for (int n = 0; n < kMaxPipelined; ++n) {
    request.Clear();
    RequestParser parser(&request, kHeaderLimit, kBodyLimit);
    bool header_checked = false;
    while (true) {
      if (buffer.size() > 0) {
        beast::error_code ec;
        size_t used = parser.put(buffer.data(), ec);
        FUZZ_CHECK(used <= buffer.size());
        buffer.consume(used);
        if (ec && ec != http::error::need_more) return 0;  // the server answers 400 and closes
        if (!ec) {
          if (!header_checked && parser.is_header_done()) {
            header_checked = true;
            CheckPath(request);
          }
          if (parser.is_done()) break;
          if (used > 0) continue;
        }
      }
      // Need more bytes: one more "read".
      size_t room = kMaxBuffer - buffer.size();
      if (room == 0) return 0;            // the server answers 431
      if (fed == input.size()) return 0;  // the client went away mid-request
      size_t take = std::min({step, room, input.size() - fed});
      auto space = buffer.prepare(take);
      std::copy_n(input.data() + fed, take, static_cast<char*>(space.data()));
      buffer.commit(take);
      fed += take;
    }
    CheckRequest(request, parser);
    if (!parser.keep_alive()) return 0;
  }
  return 0;
}
