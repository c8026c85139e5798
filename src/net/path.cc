#include "net/path.h"

#include "base/encoding.h"

namespace tieup {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    if (c != prefix[i]) return false;
  }
  return true;
}

Status Refuse(std::string_view why) {
  return Status::InvalidArgument("bad request path: " + std::string(why));
}

// Percent-decodes `raw` into *out, refusing bytes no path may contain.
Status Decode(std::string_view raw, std::string* out) {
  out->clear();
  out->reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(raw[i]);
    bool encoded = false;
    if (c == '%') {
      if (i + 2 >= raw.size()) {
        return Refuse("'%' must be followed by two hex digits");
      }
      int hi = HexValue(raw[i + 1]);
      int lo = HexValue(raw[i + 2]);
      if (hi < 0 || lo < 0) return Refuse("'%' must be followed by two hex digits");
      c = static_cast<unsigned char>(hi * 16 + lo);
      i += 2;
      encoded = true;
    }
    if (c == 0) return Refuse("it contains a NUL byte");
    if (c < 0x20 || c == 0x7f) return Refuse("it contains a control character");
    if (c == '\\') return Refuse("it contains a backslash");
    if (encoded && c == '/') return Refuse("it contains an encoded slash (%2F)");
    if (!encoded && (c == '#')) return Refuse("a request target cannot contain a fragment ('#')");
    if (!encoded && c == ' ') return Refuse("it contains a space");
    out->push_back(static_cast<char>(c));
  }
  return Status::Ok();
}

// Resolves "." and ".." and collapses empty segments in place. `s` starts with '/'.
Status ResolveSegments(std::string* s) {
  std::string& p = *s;
  const size_t n = p.size();
  size_t w = 1;  // the result so far is p[0, w): "/" or "/seg/.../seg/"
  size_t r = 1;
  bool trailing_slash = true;
  while (r <= n) {
    size_t e = p.find('/', r);
    if (e == std::string::npos) e = n;
    std::string_view seg(p.data() + r, e - r);
    if (seg.empty() || seg == ".") {
      trailing_slash = true;
    } else if (seg == "..") {
      if (w == 1) return Refuse("a '..' segment climbs above the site's root");
      w -= 1;  // drop the '/' ending the last segment, then the segment itself
      while (p[w - 1] != '/') --w;
      trailing_slash = true;
    } else {
      // w <= r always, so moving left never overwrites unread input.
      if (w != r) std::char_traits<char>::move(p.data() + w, p.data() + r, seg.size());
      w += seg.size();
      p[w++] = '/';
      trailing_slash = false;
    }
    r = e + 1;
  }
  if (!trailing_slash && w > 1) --w;
  p.resize(w);
  return Status::Ok();
}

}  // namespace

Status NormalizePathTo(std::string_view raw_target, std::string* path, std::string_view* query) {
  std::string_view t = raw_target;
  if (t.empty()) return Refuse("the request target is empty");
  if (t.front() != '/') {
    // Absolute-form (RFC 9112 3.2.2): drop the scheme and authority.
    size_t skip = 0;
    if (StartsWithIgnoreCase(t, "http://")) {
      skip = 7;
    } else if (StartsWithIgnoreCase(t, "https://")) {
      skip = 8;
    } else {
      return Refuse("the request target must start with '/'");
    }
    size_t slash = t.find_first_of("/?#", skip);
    if (slash == std::string_view::npos) {
      t = "/";
    } else if (t[slash] != '/') {
      // "http://host?q": the path is empty, which means "/".
      *path = "/";
      std::string_view rest = t.substr(slash);
      if (rest.front() == '#') return Refuse("a request target cannot contain a fragment ('#')");
      *query = rest.substr(1);
      if (query->find('#') != std::string_view::npos) {
        return Refuse("a request target cannot contain a fragment ('#')");
      }
      return Status::Ok();
    } else {
      t = t.substr(slash);
    }
  }
  size_t q = t.find('?');
  std::string_view raw_path = t.substr(0, q);
  *query = q == std::string_view::npos ? std::string_view() : t.substr(q + 1);
  if (query->find('#') != std::string_view::npos) {
    return Refuse("a request target cannot contain a fragment ('#')");
  }
  RETURN_IF_ERROR(Decode(raw_path, path));
  if (!IsValidUtf8(*path)) return Refuse("it is not valid UTF-8");
  return ResolveSegments(path);
}

Result<std::string> NormalizePath(std::string_view raw_target) {
  std::string path;
  std::string_view query;
  RETURN_IF_ERROR(NormalizePathTo(raw_target, &path, &query));
  return path;
}

Result<RequestTarget> ParseRequestTarget(std::string_view raw_target) {
  RequestTarget out;
  std::string_view query;
  RETURN_IF_ERROR(NormalizePathTo(raw_target, &out.path, &query));
  out.query.assign(query);
  return out;
}

}  // namespace tieup
