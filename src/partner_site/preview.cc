#include "partner_site/preview.h"

#include <libxml/HTMLparser.h>
#include <libxml/HTMLtree.h>
#include <libxml/parser.h>
#include <libxml/xmlsave.h>

#include <algorithm>
#include <boost/json.hpp>
#include <boost/url.hpp>
#include <charconv>
#include <memory>
#include <mutex>
#include <optional>

#include "base/encoding.h"
#include "content/page_templates.h"
#include "content/release.h"
#include "crypto/hash.h"

namespace tieup {

// The partner console's templates (console_pages.cc): the preview's banner is one of them.
const std::vector<std::pair<std::string_view, std::string_view>>& EmbeddedPartnerConsoleTemplates();

namespace {

constexpr size_t kSecretBytes = 32;
// Larger HTML pages are served as they are (no banner): parsing them would cost more than a
// preview is worth, and no page of a site is that large.
constexpr size_t kMaxRewriteBytes = 16 << 20;

std::string PreviewKey(std::string_view secret, uint64_t version) {
  std::string mac =
      HmacSha256(secret, "tieup preview of tie-up version " + std::to_string(version));
  return Base64UrlEncode(std::string_view(mac).substr(0, 16));  // 128 bits
}

HttpResponse NoSuchPreview() {
  return HttpResponse::Text(404,
                            "There is no such preview. Use the link that 'tieup partner pending' "
                            "prints for the update.\n");
}

// --- the HTML rewrite ---

// libxml2 is set up once per process (its parser is then thread-safe), and reports nothing:
// a page's markup errors are the page's, recovered from as a browser does.
void NoLibxmlMessages(void*, const char*, ...) {}
void NoLibxmlErrors(void*, xmlErrorPtr) {}
void PrepareLibxml() {
  static std::once_flag once;
  std::call_once(once, [] { xmlInitParser(); });
  // Per thread in libxml2.
  xmlSetGenericErrorFunc(nullptr, NoLibxmlMessages);
  xmlSetStructuredErrorFunc(nullptr, NoLibxmlErrors);
}

struct DocFree {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
using DocPtr = std::unique_ptr<xmlDoc, DocFree>;

struct XmlStringFree {
  void operator()(xmlChar* s) const { xmlFree(s); }
};
using XmlString = std::unique_ptr<xmlChar, XmlStringFree>;

std::string_view AsView(const xmlChar* s) {
  return s == nullptr ? std::string_view() : std::string_view(reinterpret_cast<const char*>(s));
}
const xmlChar* AsXml(const char* s) { return reinterpret_cast<const xmlChar*>(s); }

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// The charset parameter of a Content-Type ("" when none).
std::string CharsetOf(std::string_view content_type) {
  size_t at = 0;
  while ((at = content_type.find(';', at)) != std::string_view::npos) {
    std::string_view param = content_type.substr(at + 1);
    param = param.substr(0, param.find(';'));
    while (!param.empty() && param.front() == ' ') param.remove_prefix(1);
    if (param.size() > 8 && IEquals(param.substr(0, 8), "charset=")) {
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

bool IsHtml(std::string_view content_type) {
  std::string_view media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  return IEquals(media, "text/html");
}

// An origin ("http", "127.0.0.1", "8080"), compared as browsers do (host case-insensitively,
// the default port when none is written).
struct Origin {
  std::string scheme, host, port;
  bool operator==(const Origin& o) const {
    return IEquals(scheme, o.scheme) && IEquals(host, o.host) && port == o.port;
  }
};

std::optional<Origin> OriginOf(const boost::urls::url_view& u) {
  if (!u.has_scheme() || !u.has_authority()) return std::nullopt;
  Origin o{std::string(u.scheme()), std::string(u.encoded_host()), std::string(u.port())};
  if (o.port.empty()) {
    if (IEquals(o.scheme, "http")) o.port = "80";
    if (IEquals(o.scheme, "https")) o.port = "443";
  }
  return o;
}

// A link's rewriter for one page: where a URL of the page leads in the preview.
class LinkRewriter {
 public:
  LinkRewriter(const PreviewPage& page) : page_(page) {
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
        if (IEquals(o.host, u->encoded_host()) &&
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
    return IEquals(scheme, "http") || IEquals(scheme, "https");
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

  const PreviewPage& page_;
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
    if (!IEquals(e.attribute, attribute)) continue;
    for (std::string_view name : e.elements) {
      if (IEquals(name, element)) return true;
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
    if (n->type == XML_ELEMENT_NODE && IEquals(AsView(n->name), name)) return n;
  }
  return nullptr;
}

Result<std::string> RenderBanner(const PreviewPage& page) {
  for (const auto& [name, source] : EmbeddedPartnerConsoleTemplates()) {
    if (name != "preview_banner") continue;
    boost::json::object data{{"version", page.version},
                             {"has_live", page.live_version != 0},
                             {"live_version", page.live_version}};
    if (!page.review_url.empty()) data["review_url"] = page.review_url;
    return content::RenderMustacheJson(source, data, "preview_banner.mustache");
  }
  return Status::Internal("the template preview_banner is not compiled in");
}

constexpr int kParseOptions = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                              HTML_PARSE_NONET | HTML_PARSE_NODEFDTD;

}  // namespace

Result<std::string> RewritePreviewHtml(std::string_view html, std::string_view charset,
                                       const PreviewPage& page) {
  PrepareLibxml();
  std::string encoding(charset);
  if (encoding.empty() && IsValidUtf8(html)) encoding = "UTF-8";
  // Bytes that are not UTF-8 in a page said to be are read as browsers read them: U+FFFD each.
  std::string sanitized;
  if ((IEquals(encoding, "UTF-8") || IEquals(encoding, "utf8")) && !IsValidUtf8(html)) {
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
  LinkRewriter links(page);
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
      std::optional<std::string> rewritten = IEquals(AsView(a->name), "srcset")
                                                 ? links.RewriteSrcset(AsView(value.get()))
                                                 : links.Rewrite(AsView(value.get()));
      if (rewritten) xmlSetProp(n, a->name, AsXml(rewritten->c_str()));
    }
  }

  // The banner, after the links: its own link leads out of the preview, to the console.
  if (xmlNode* body = FindElement(doc.get(), "body")) {
    ASSIGN_OR_RETURN(std::string banner_html, RenderBanner(page));
    DocPtr banner(htmlReadMemory(banner_html.data(), static_cast<int>(banner_html.size()), nullptr,
                                 "UTF-8", kParseOptions | HTML_PARSE_NOIMPLIED));
    xmlNode* banner_root = banner ? xmlDocGetRootElement(banner.get()) : nullptr;
    if (banner_root == nullptr) return Status::Internal("the preview banner does not parse");
    xmlNode* copy = xmlDocCopyNode(banner_root, doc.get(), 1);
    if (copy == nullptr) return Status::ResourceExhausted("out of memory copying the banner");
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

Result<std::string> LoadOrCreatePreviewSecret(Env& env, const std::string& site_dir) {
  const std::string path = site_dir + "/keys/preview.key";
  if (env.FileExists(path)) {
    ASSIGN_OR_RETURN(std::string secret, env.ReadFile(path));
    if (secret.size() == kSecretBytes) return secret;
    return Status::DataLoss("'" + path + "' is damaged (" + std::to_string(secret.size()) +
                            " bytes, expected " + std::to_string(kSecretBytes) +
                            "): delete it; a new one is made and old preview links stop working");
  }
  std::string secret(kSecretBytes, '\0');
  env.RandomBytes(secret.data(), secret.size());
  RETURN_IF_ERROR(CreateDirs(env, site_dir + "/keys"));
  RETURN_IF_ERROR(WriteFileAtomic(env, path, secret, 0600));
  return secret;
}

std::string PreviewPath(std::string_view secret, uint64_t version) {
  return std::string(kPreviewPrefix) + PreviewKey(secret, version) + "/" + std::to_string(version) +
         "/";
}

void PreviewHandler::Handle(const HttpRequest& request, HttpResponder responder) {
  responder.Respond(Serve(request));
}

HttpResponse PreviewHandler::Serve(const HttpRequest& request) {
  // KEY/VERSION/PATH
  std::string_view rest = request.path().substr(kPreviewPrefix.size());
  size_t key_end = rest.find('/');
  if (key_end == std::string_view::npos) return NoSuchPreview();
  std::string_view key = rest.substr(0, key_end);
  rest.remove_prefix(key_end + 1);
  size_t slash = rest.find('/');
  uint64_t version = 0;
  std::string_view number = rest.substr(0, slash);
  auto [p, ec] = std::from_chars(number.data(), number.data() + number.size(), version);
  if (ec != std::errc() || p != number.data() + number.size() || version == 0 ||
      !ConstantTimeEquals(key, PreviewKey(secret_, version))) {
    return NoSuchPreview();
  }
  if (slash == std::string_view::npos) {
    HttpResponse r(301);
    r.AddHeader("Location", PreviewPath(secret_, version));
    return r;
  }
  std::string path(rest.substr(slash));
  if (path.back() == '/') path += "index.html";

  HttpResponse response(200);
  std::string body, content_type;
  bool found = false;
  Status s = content_.Read([&](content::ContentStore& store) -> Status {
    auto staged = store.ReadStaged(content::Area::kTieup, version);
    if (!staged.ok()) {
      response = HttpResponse::Text(
          404, "There is no staged tie-up release " + std::to_string(version) + ".\n");
      return Status::Ok();
    }
    auto it = staged->files.find(path);
    if (it == staged->files.end()) {
      response = HttpResponse::Text(
          404, "Release " + std::to_string(version) + " has no page " + path + ".\n");
      return Status::Ok();
    }
    if (it->second.method == content::UpdateMethod::kLink) {
      // A link entry has no page of its own: say where the live site will send the visitor.
      response =
          HttpResponse::Text(200, "Release " + std::to_string(version) + " serves " + path +
                                      " as a link to " + it->second.link_url + " (" +
                                      std::string(content::LinkModeName(it->second.link_mode)) +
                                      "): a visitor lands on that page.\n");
      response.AddHeader("Cache-Control", "no-store");
      return Status::Ok();
    }
    ASSIGN_OR_RETURN(body, store.blobs().Get(it->second.hash, it->second.length));
    content_type = it->second.content_type;
    found = true;
    return Status::Ok();
  });
  if (!s.ok()) return HttpResponse::Text(500, "Cannot read the preview: " + s.message() + "\n");
  if (!found) return response;

  if (request.method() != "HEAD" && IsHtml(content_type) && body.size() <= kMaxRewriteBytes) {
    PreviewPage page;
    page.prefix = PreviewPath(secret_, version);
    page.path = path;
    page.version = version;
    page.live_version = content_.view()->version(content::Area::kTieup);
    if (auto host = request.FindHeader("Host"))
      page.own_origins.push_back("http://" + std::string(*host));
    auto console = env_.ReadFile(content_.site_dir() + "/run/console.addr");
    if (console.ok()) {
      std::string url = *console;
      while (!url.empty() && (url.back() == '\n' || url.back() == ' ')) url.pop_back();
      if (!url.empty() && url.back() != '/') url += '/';
      if (url.starts_with("http://") || url.starts_with("https://")) {
        page.review_url = url + "updates/version/" + std::to_string(version);
      }
    }
    auto rewritten = RewritePreviewHtml(body, CharsetOf(content_type), page);
    if (rewritten.ok()) {
      body = std::move(*rewritten);
      content_type = "text/html; charset=utf-8";
    }
  }
  response.AddHeader("Content-Type", content_type);
  response.AddHeader("Cache-Control", "no-store");
  response.AddHeader("X-Robots-Tag", "noindex");
  response.AddHeader("Referrer-Policy", "no-referrer");  // the key is in the path
  // The staged pages as main made them (their own scripts and styles), but never framed.
  response.AddHeader("Content-Security-Policy", "frame-ancestors 'none'");
  if (request.method() != "HEAD") response.SetBody(std::move(body));
  return response;
}

}  // namespace tieup
