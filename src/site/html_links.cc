#include "site/html_links.h"

#include <libxml/HTMLparser.h>
#include <libxml/HTMLtree.h>
#include <libxml/parser.h>
#include <libxml/xmlsave.h>

#include <algorithm>
#include <boost/url.hpp>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>

#include "base/encoding.h"
#include "net/http_message.h"  // EqualsIgnoreCase
#include "site/libxml_util.h"

namespace tieup {
namespace {

using libxml::AsView;
using libxml::AsXml;
using libxml::DocPtr;
using libxml::XmlString;

// An origin ("http", "127.0.0.1", "8080"), compared as browsers do (host case-insensitively,
// the default port when none is written).
struct Origin {
  std::string scheme, host, port;
  bool operator==(const Origin& o) const {
    return EqualsIgnoreCase(scheme, o.scheme) && EqualsIgnoreCase(host, o.host) && port == o.port;
  }
};

std::optional<Origin> OriginOf(const boost::urls::url_view& u) {
  if (!u.has_scheme() || !u.has_authority()) return std::nullopt;
  Origin o{std::string(u.scheme()), std::string(u.encoded_host()), std::string(u.port())};
  if (o.port.empty()) {
    if (EqualsIgnoreCase(o.scheme, "http")) o.port = "80";
    if (EqualsIgnoreCase(o.scheme, "https")) o.port = "443";
  }
  return o;
}

// A link's rewriter for one page: where a URL of the page leads in the preview.
class LinkRewriter {
 public:
  explicit LinkRewriter(const HtmlLinkMap& page) : page_(page) {
    for (const std::string& origin : page.own_origins) {
      auto u = boost::urls::parse_uri(origin);
      if (!u) continue;
      if (auto o = OriginOf(*u)) own_.push_back(std::move(*o));
    }
    base_ = page.path.empty() || page.path[0] != '/' ? "/" : page.path;
  }

  // Takes the document's <base href>: relative links then resolve against it, or are left alone
  // when it is another site's.
  void SetBase(std::string_view href) {
    std::optional<std::string> in_site = SitePath(href, /*relative_ok=*/true);
    if (in_site) {
      base_ = *in_site;
    } else {
      relative_base_ok_ = false;
    }
  }

  // The new value of a link to `url`, or nullopt to leave it as it is: the preview URL of a
  // page of the site, else `url` with its backslashes written as slashes when a browser reads
  // them so (the serializer would otherwise escape them, turning "/\\other.example/" from
  // another site into a path of this one).
  std::optional<std::string> Rewrite(std::string_view url) const {
    url = TrimUrl(url);
    std::string normalized(url);
    if (ReadsBackslashAsSlash(url)) std::replace(normalized.begin(), normalized.end(), '\\', '/');
    std::optional<std::string> site = SitePath(normalized, relative_base_ok_);
    if (site) return page_.prefix + site->substr(1);
    if (normalized != url) return normalized;
    return std::nullopt;
  }

  // srcset: "URL [descriptor], URL [descriptor]..." (HTML's "parse a srcset attribute", without
  // its checks of the descriptors, which are kept as written).
  std::optional<std::string> RewriteSrcset(std::string_view srcset) const {
    std::string out;
    bool changed = false;
    size_t i = 0;
    auto space = [](char c) {
      return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
    };
    while (i < srcset.size()) {
      while (i < srcset.size() && (space(srcset[i]) || srcset[i] == ',')) ++i;
      if (i >= srcset.size()) break;
      size_t start = i;
      while (i < srcset.size() && !space(srcset[i])) ++i;
      std::string_view url = srcset.substr(start, i - start);
      std::string_view descriptors;
      if (!url.empty() && url.back() == ',') {
        while (!url.empty() && url.back() == ',') url.remove_suffix(1);
      } else {
        size_t d = i;
        int depth = 0;
        while (i < srcset.size() && (depth > 0 || srcset[i] != ',')) {
          if (srcset[i] == '(') ++depth;
          if (srcset[i] == ')' && depth > 0) --depth;
          ++i;
        }
        descriptors = srcset.substr(d, i - d);
        while (!descriptors.empty() && space(descriptors.front())) descriptors.remove_prefix(1);
        while (!descriptors.empty() && space(descriptors.back())) descriptors.remove_suffix(1);
      }
      if (url.empty()) continue;
      std::optional<std::string> rewritten = Rewrite(url);
      if (rewritten) changed = true;
      if (!out.empty()) out += ", ";
      out += rewritten ? *rewritten : std::string(url);
      if (!descriptors.empty()) out += " " + std::string(descriptors);
    }
    if (!changed) return std::nullopt;
    return out;
  }

 private:
  // The site path ("/x.html?q#f") `url` leads to, or nullopt for another site, another scheme, a
  // fragment or query of the page itself, a link already in the preview, or what cannot be read.
  std::optional<std::string> SitePath(std::string_view url, bool relative_ok) const {
    url = TrimUrl(url);
    if (url.empty() || url[0] == '#' || url[0] == '?') return std::nullopt;
    const bool slash = url[0] == '/';
    const bool network = slash && url.size() > 1 && url[1] == '/';
    if (slash && !network) {
      // An absolute path; written by hand rather than parsed, as browsers take characters a URL
      // parser refuses (spaces, non-ASCII) in it.
      std::string path(url);
      if (path.starts_with(page_.prefix)) return std::nullopt;
      return path;
    }
    if (network) {
      const std::string absolute = "http:" + std::string(url);  // outlives the view below
      auto u = boost::urls::parse_uri(absolute);
      if (!u) return std::nullopt;
      // A network-path reference inherits the page's scheme: match host and port only.
      for (const Origin& o : own_) {
        if (EqualsIgnoreCase(o.host, u->encoded_host()) &&
            (u->port().empty() ? (o.port == "80" || o.port == "443") : o.port == u->port())) {
          return PathOf(*u);
        }
      }
      return std::nullopt;
    }
    if (HasScheme(url)) {
      auto u = boost::urls::parse_uri(url);
      if (!u) return std::nullopt;
      auto origin = OriginOf(*u);
      if (!origin) return std::nullopt;
      for (const Origin& o : own_) {
        if (o == *origin) return PathOf(*u);
      }
      return std::nullopt;
    }
    if (!relative_ok) return std::nullopt;
    auto ref = boost::urls::parse_relative_ref(url);
    if (!ref) return std::nullopt;
    const std::string base_url = "http://site" + base_;  // outlives the view below
    auto base = boost::urls::parse_uri(base_url);
    if (!base) return std::nullopt;
    boost::urls::url resolved;
    if (!boost::urls::resolve(*base, *ref, resolved)) return std::nullopt;
    std::string path = PathOf(resolved);
    if (path.starts_with(page_.prefix)) return std::nullopt;
    return path;
  }

  static std::string PathOf(const boost::urls::url_view_base& u) {
    std::string path(u.encoded_path());
    if (path.empty()) path = "/";
    if (u.has_query()) path += "?" + std::string(u.encoded_query());
    if (u.has_fragment()) path += "#" + std::string(u.encoded_fragment());
    return path;
  }

  // As browsers read a URL: surrounding spaces and control characters do not count.
  static std::string_view TrimUrl(std::string_view url) {
    while (!url.empty() && static_cast<unsigned char>(url.front()) <= 0x20) url.remove_prefix(1);
    while (!url.empty() && static_cast<unsigned char>(url.back()) <= 0x20) url.remove_suffix(1);
    return url;
  }

  // True for a relative reference and an http(s) URL: the URL standard reads a backslash in them
  // as a slash.
  static bool ReadsBackslashAsSlash(std::string_view url) {
    if (url.find('\\') == std::string_view::npos) return false;
    if (!HasScheme(url)) return true;
    std::string_view scheme = url.substr(0, url.find(':'));
    return EqualsIgnoreCase(scheme, "http") || EqualsIgnoreCase(scheme, "https");
  }

  // RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":".
  static bool HasScheme(std::string_view url) {
    if (url.empty() || !std::isalpha(static_cast<unsigned char>(url[0]))) return false;
    for (size_t i = 1; i < url.size(); ++i) {
      const char c = url[i];
      if (c == ':') return true;
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
        return false;
      }
    }
    return false;
  }

  const HtmlLinkMap& page_;
  std::vector<Origin> own_;
  std::string base_;  // the site path relative links resolve against
  bool relative_base_ok_ = true;
};

// Which attributes of which elements hold a link (or, for srcset, several).
bool IsLinkAttribute(std::string_view element, std::string_view attribute) {
  struct Entry {
    std::string_view attribute;
    std::initializer_list<std::string_view> elements;
  };
  static const Entry kLinks[] = {
      {"href", {"a", "area", "link", "base"}},
      {"src",
       {"img", "script", "iframe", "frame", "embed", "source", "track", "audio", "video", "input"}},
      {"srcset", {"img", "source"}},
      {"poster", {"video"}},
      {"action", {"form"}},
      {"formaction", {"button", "input"}},
      {"data", {"object"}},
  };
  for (const Entry& e : kLinks) {
    if (!EqualsIgnoreCase(e.attribute, attribute)) continue;
    for (std::string_view name : e.elements) {
      if (EqualsIgnoreCase(name, element)) return true;
    }
  }
  return false;
}

// The next node of the document after `node`, in document order (iterative: a deep page does not
// deepen the stack). All of the document's top-level nodes: libxml2 makes a second <html> of
// what follows "</html>", which a browser shows in the same body.
xmlNode* NextNode(xmlNode* node) {
  if (node->type == XML_ELEMENT_NODE && node->children != nullptr) return node->children;
  while (node != nullptr) {
    if (node->next != nullptr) return node->next;
    node = node->parent;
    if (node != nullptr &&
        (node->type == XML_HTML_DOCUMENT_NODE || node->type == XML_DOCUMENT_NODE)) {
      return nullptr;
    }
  }
  return nullptr;
}

xmlNode* FindElement(xmlDoc* doc, std::string_view name) {
  for (xmlNode* n = doc->children; n != nullptr; n = NextNode(n)) {
    if (n->type == XML_ELEMENT_NODE && EqualsIgnoreCase(AsView(n->name), name)) return n;
  }
  return nullptr;
}

constexpr int kParseOptions = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                              HTML_PARSE_NONET | HTML_PARSE_NODEFDTD;

}  // namespace

// The charset parameter of a Content-Type ("" when none).
std::string CharsetOf(std::string_view content_type) {
  size_t at = 0;
  while ((at = content_type.find(';', at)) != std::string_view::npos) {
    std::string_view param = content_type.substr(at + 1);
    param = param.substr(0, param.find(';'));
    while (!param.empty() && param.front() == ' ') param.remove_prefix(1);
    if (param.size() > 8 && EqualsIgnoreCase(param.substr(0, 8), "charset=")) {
      std::string_view value = param.substr(8);
      while (!value.empty() && (value.back() == ' ')) value.remove_suffix(1);
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      return std::string(value);
    }
    ++at;
  }
  return "";
}

bool IsHtmlContentType(std::string_view content_type) {
  std::string_view media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  return EqualsIgnoreCase(media, "text/html");
}

Result<std::string> RewriteHtmlLinks(std::string_view html, std::string_view charset,
                                     const HtmlLinkMap& map) {
  libxml::Prepare();
  std::string encoding(charset);
  if (encoding.empty() && IsValidUtf8(html)) encoding = "UTF-8";
  // Bytes that are not UTF-8 in a page said to be are read as browsers read them: U+FFFD each.
  std::string sanitized;
  if ((EqualsIgnoreCase(encoding, "UTF-8") || EqualsIgnoreCase(encoding, "utf8")) &&
      !IsValidUtf8(html)) {
    sanitized = SanitizeUtf8(html);
    html = sanitized;
  }
  if (html.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return Status::InvalidArgument("the page is too large to rewrite");
  }
  DocPtr doc(htmlReadMemory(html.data(), static_cast<int>(html.size()), nullptr,
                            encoding.empty() ? nullptr : encoding.c_str(), kParseOptions));
  if (doc == nullptr || xmlDocGetRootElement(doc.get()) == nullptr) {
    return Status::InvalidArgument("the page holds no HTML document");
  }
  LinkRewriter links(map);
  if (xmlNode* base = FindElement(doc.get(), "base")) {
    XmlString href(xmlGetProp(base, AsXml("href")));
    if (href != nullptr) links.SetBase(AsView(href.get()));
  }
  for (xmlNode* n = doc->children; n != nullptr; n = NextNode(n)) {
    if (n->type != XML_ELEMENT_NODE) continue;
    for (xmlAttr* a = n->properties; a != nullptr; a = a->next) {
      if (!IsLinkAttribute(AsView(n->name), AsView(a->name))) continue;
      XmlString value(xmlNodeGetContent(reinterpret_cast<xmlNode*>(a)));
      if (value == nullptr) continue;
      std::optional<std::string> rewritten = EqualsIgnoreCase(AsView(a->name), "srcset")
                                                 ? links.RewriteSrcset(AsView(value.get()))
                                                 : links.Rewrite(AsView(value.get()));
      if (rewritten) xmlSetProp(n, a->name, AsXml(rewritten->c_str()));
    }
  }

  // The HTML for the top of the body, after the links: its own links are left as written.
  if (xmlNode* body = map.body_start_html.empty() ? nullptr : FindElement(doc.get(), "body")) {
    DocPtr part(htmlReadMemory(map.body_start_html.data(),
                               static_cast<int>(map.body_start_html.size()), nullptr, "UTF-8",
                               kParseOptions | HTML_PARSE_NOIMPLIED));
    xmlNode* part_root = part ? xmlDocGetRootElement(part.get()) : nullptr;
    if (part_root == nullptr)
      return Status::InvalidArgument("the HTML for the body does not parse");
    xmlNode* copy = xmlDocCopyNode(part_root, doc.get(), 1);
    if (copy == nullptr) return Status::ResourceExhausted("out of memory copying into the page");
    if (body->children != nullptr) {
      xmlAddPrevSibling(body->children, copy);
    } else {
      xmlAddChild(body, copy);
    }
  }

  // No encoder: the buffer receives libxml2's own encoding, UTF-8.
  xmlOutputBuffer* out = xmlAllocOutputBuffer(nullptr);
  if (out == nullptr) return Status::ResourceExhausted("out of memory writing the page");
  htmlDocContentDumpFormatOutput(out, doc.get(), "UTF-8", 0);
  xmlOutputBufferFlush(out);
  std::string result;
  if (out->error == XML_ERR_OK) {
    result.assign(reinterpret_cast<const char*>(xmlOutputBufferGetContent(out)),
                  xmlOutputBufferGetSize(out));
  }
  const int error = out->error;
  xmlOutputBufferClose(out);
  if (error != XML_ERR_OK) return Status::Internal("libxml2 could not write the page");
  // What libxml2 passes through of a page in a charset it does not know, say.
  if (!IsValidUtf8(result)) result = SanitizeUtf8(result);
  return result;
}

}  // namespace tieup
