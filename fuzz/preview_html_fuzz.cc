// Fuzzes the preview's HTML rewrite (partner_site/preview.h): RewritePreviewHtml on any bytes,
// in any of a few charsets (the first input byte picks one).
//
// Properties: the rewrite ends with a page or InvalidArgument; a page is valid UTF-8; read back by
// libxml2, it shows the banner (when the page has a body), and none of its link attributes
// leads to an absolute path outside the preview (a link to the site's own pages stays in it).
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include <string>

#include "base/encoding.h"
#include "fuzz_util.h"
#include "partner_site/preview.h"

namespace {

constexpr std::string_view kPrefix = "/.tieup/preview/KEY/3/";

bool IsLink(std::string_view element, std::string_view attr) {
  static const std::pair<std::string_view, std::string_view> kLinks[] = {
      {"a", "href"},      {"area", "href"},         {"link", "href"},
      {"base", "href"},   {"img", "src"},           {"script", "src"},
      {"iframe", "src"},  {"frame", "src"},         {"embed", "src"},
      {"source", "src"},  {"track", "src"},         {"audio", "src"},
      {"video", "src"},   {"input", "src"},         {"video", "poster"},
      {"form", "action"}, {"button", "formaction"}, {"input", "formaction"},
      {"object", "data"}};
  for (const auto& [e, a] : kLinks) {
    if (e == element && a == attr) return true;
  }
  return false;
}

std::string Lower(const xmlChar* s) {
  std::string out(reinterpret_cast<const char*>(s));
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const char* kCharsets[] = {"", "", "UTF-8", "ISO-8859-1", "Shift_JIS", "no-such-charset"};
  const char* charset = kCharsets[data[0] % std::size(kCharsets)];
  const std::string_view html = tieup::fuzz::AsText(data + 1, size - 1);
  tieup::PreviewPage page;
  page.prefix = std::string(kPrefix);
  page.path = "/dir/page.html";
  page.version = 3;
  page.live_version = 2;
  page.own_origins = {"http://127.0.0.1:8082"};
  page.review_url = "http://127.0.0.1:8092/updates/version/3";
  auto out = tieup::RewritePreviewHtml(html, charset, page);
  if (!out.ok()) {
    FUZZ_CHECK(out.status().code() == tieup::StatusCode::kInvalidArgument);
    return 0;
  }
  FUZZ_CHECK(tieup::IsValidUtf8(*out));

  xmlDoc* doc = htmlReadMemory(
      out->data(), static_cast<int>(out->size()), nullptr, "UTF-8",
      HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET);
  // The page had a body (not a frameset) as libxml2 reads it: the banner is in it.
  bool body = false, banner = false;
  if (xmlDoc* in = htmlReadMemory(
          html.data(), static_cast<int>(html.size()), nullptr, *charset ? charset : nullptr,
          HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET)) {
    for (xmlNode* n = xmlDocGetRootElement(in); n != nullptr; n = n->next) {
      for (xmlNode* c = n->children; c != nullptr; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && Lower(c->name) == "body") body = true;
      }
    }
    xmlFreeDoc(in);
  }
  // Every top-level node: libxml2 reads what follows "</html>" as a second <html>.
  for (xmlNode* root = doc ? doc->children : nullptr; root != nullptr; root = root->next) {
    for (xmlNode* n = root; n != nullptr;) {
      if (n->type == XML_ELEMENT_NODE) {
        xmlChar* id = xmlGetProp(n, reinterpret_cast<const xmlChar*>("id"));
        if (id != nullptr &&
            std::string_view(reinterpret_cast<const char*>(id)) == "tieup-preview-banner") {
          xmlChar* text = xmlNodeGetContent(n);
          banner = banner || std::string_view(reinterpret_cast<const char*>(text))
                                     .find("Preview of version 3: not live.") != std::string::npos;
          xmlFree(text);
        }
        xmlFree(id);
      }
      if (n->type == XML_ELEMENT_NODE) {
        for (xmlAttr* a = n->properties; a != nullptr; a = a->next) {
          if (!IsLink(Lower(n->name), Lower(a->name))) continue;
          xmlChar* v = xmlNodeGetContent(reinterpret_cast<xmlNode*>(a));
          std::string value = v ? reinterpret_cast<const char*>(v) : "";
          xmlFree(v);
          size_t start = 0;
          while (start < value.size() && static_cast<unsigned char>(value[start]) <= 0x20) ++start;
          std::string_view url = std::string_view(value).substr(start);
          // "//host/x" and "/\host/x" lead to another site; any other "/x" must be in the preview.
          if (!url.empty() && url[0] == '/' &&
              (url.size() == 1 || (url[1] != '/' && url[1] != '\\'))) {
            FUZZ_CHECK(url.starts_with(kPrefix));
          }
        }
      }
      if (n->type == XML_ELEMENT_NODE && n->children != nullptr) {
        n = n->children;
        continue;
      }
      while (n != nullptr && n != root && n->next == nullptr) n = n->parent;
      n = (n == nullptr || n == root) ? nullptr : n->next;
    }
  }
  xmlFreeDoc(doc);
  FUZZ_CHECK(!body || banner);
  return 0;
}
