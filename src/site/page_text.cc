#include "site/page_text.h"

#include <algorithm>
#include <cstring>

#include "base/encoding.h"
#include "site/libxml_util.h"

namespace tieup {
namespace {

using libxml::AsView;
using libxml::AsXml;

bool NameIs(const xmlNode* n, const char* name) {
  return n->name != nullptr && xmlStrcasecmp(n->name, AsXml(name)) == 0;
}

bool IsAnyOf(const xmlNode* n, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    if (NameIs(n, name)) return true;
  }
  return false;
}

std::string Attribute(const xmlNode* n, const char* name) {
  libxml::XmlString v(xmlGetProp(n, AsXml(name)));
  return std::string(AsView(v.get()));
}

// Elements whose text a reader does not read as the page's content: code, controls (a form's
// labels say how to buy, not what), and what the page marks data-nosnippet (the attribute
// search engines honour: "customers also bought" lists, say).
bool Unreadable(const xmlNode* n) {
  return IsAnyOf(n, {"script", "style", "template", "noscript", "svg", "iframe", "button", "select",
                     "textarea", "option", "head", "form"}) ||
         xmlHasProp(n, AsXml("data-nosnippet")) != nullptr;
}

// Elements that separate words (a browser lays them out as blocks or cells).
bool Separates(const xmlNode* n) {
  return IsAnyOf(
      n, {"p",    "div",      "br",         "li",      "td",         "th",      "tr",      "h1",
          "h2",   "h3",       "h4",         "h5",      "h6",         "section", "article", "dd",
          "dt",   "label",    "blockquote", "pre",     "figcaption", "table",   "ul",      "ol",
          "dl",   "hr",       "img",        "main",    "header",     "footer",  "nav",     "aside",
          "form", "fieldset", "legend",     "caption", "address"});
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

// Appends text, collapsing runs of white space into one space.
class TextSink {
 public:
  explicit TextSink(size_t limit) : limit_(limit) {}
  void Add(std::string_view s) {
    for (char c : s) {
      if (full_) return;
      if (IsSpace(c)) {
        space_ = !out_.empty();
        continue;
      }
      if (space_) {
        Put(' ');
        space_ = false;
      }
      Put(c);
    }
  }
  void Break() { space_ = !out_.empty(); }
  std::string Take() {
    // Cut at a character boundary when the limit fell inside one.
    const size_t n = out_.size();
    size_t k = n;
    while (k > 0 && (static_cast<unsigned char>(out_[k - 1]) & 0xC0) == 0x80) --k;
    if (k == 0) {
      out_.clear();
    } else if (Utf8SequenceLength(out_, k - 1) != n - (k - 1)) {
      out_.resize(k - 1);
    }
    return std::move(out_);
  }

 private:
  void Put(char c) {
    if (out_.size() >= limit_) {
      full_ = true;
      return;
    }
    out_.push_back(c);
  }
  size_t limit_;
  std::string out_;
  bool space_ = false;
  bool full_ = false;
};

// The collapsed text of `n`'s subtree (for titles and headings).
std::string InnerText(const xmlNode* n, size_t limit = 1024) {
  TextSink sink(limit);
  struct Walk {
    static void Run(const xmlNode* n, TextSink& sink) {
      for (const xmlNode* c = n->children; c != nullptr; c = c->next) {
        if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
          sink.Add(AsView(c->content));
        } else if (c->type == XML_ELEMENT_NODE && !Unreadable(c)) {
          if (Separates(c)) sink.Break();
          Run(c, sink);
          if (Separates(c)) sink.Break();
        }
      }
    }
  };
  Walk::Run(n, sink);
  return sink.Take();
}

const xmlNode* FindFirst(const xmlNode* n, const char* name) {
  for (const xmlNode* c = n; c != nullptr; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    if (NameIs(c, name)) return c;
    if (const xmlNode* found = FindFirst(c->children, name)) return found;
  }
  return nullptr;
}

struct Reader {
  PageText& page;
  TextSink text;
  const xmlNode* title_heading = nullptr;
  bool layout_parts_skipped = false;  // no <main>: the body without header, nav, footer, aside

  void Content(const xmlNode* n) {
    for (const xmlNode* c = n->children; c != nullptr; c = c->next) {
      if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
        text.Add(AsView(c->content));
        continue;
      }
      if (c->type != XML_ELEMENT_NODE || Unreadable(c)) continue;
      if (layout_parts_skipped && IsAnyOf(c, {"header", "nav", "footer", "aside"})) continue;
      if (IsAnyOf(c, {"h1", "h2", "h3"})) {
        if (c == title_heading) continue;  // the title is apart
        std::string h = InnerText(c);
        if (!h.empty()) page.headings.push_back(std::move(h));
        // And in the text where it stands: a snippet can show a match in a heading, in context.
      }
      if (Separates(c)) text.Break();
      Content(c);
      if (Separates(c)) text.Break();
    }
  }
};

void CollectSkus(const xmlNode* n, bool in_cart_form, std::vector<std::string>& skus) {
  for (const xmlNode* c = n; c != nullptr; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    bool cart = in_cart_form;
    if (NameIs(c, "form")) {
      const std::string action = Attribute(c, "action");
      const size_t q = action.find_first_of("?#");
      cart = std::string_view(action).substr(0, q).ends_with("/shop/cart/add");
    }
    if (cart && NameIs(c, "input") && Attribute(c, "name") == "sku") {
      std::string sku = Attribute(c, "value");
      if (!sku.empty() && sku.size() <= 64 &&
          std::find(skus.begin(), skus.end(), sku) == skus.end()) {
        skus.push_back(std::move(sku));
      }
    }
    CollectSkus(c->children, cart, skus);
  }
}

bool RobotsSayNoindex(const xmlNode* n) {
  for (const xmlNode* c = n; c != nullptr; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    if (NameIs(c, "meta") && LowerAscii(Attribute(c, "name")) == "robots" &&
        LowerAscii(Attribute(c, "content")).find("noindex") != std::string::npos) {
      return true;
    }
    if (RobotsSayNoindex(c->children)) return true;
  }
  return false;
}

}  // namespace

PageText ReadPageText(std::string_view html, size_t max_text_bytes) {
  PageText page;
  if (html.empty()) return page;
  libxml::Prepare();
  libxml::DocPtr doc(htmlReadMemory(
      html.data(), static_cast<int>(std::min<size_t>(html.size(), 64u << 20)), nullptr, "UTF-8",
      HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
          HTML_PARSE_NOIMPLIED));
  if (!doc) return page;
  const xmlNode* root = xmlDocGetRootElement(doc.get());
  if (root == nullptr) return page;
  page.noindex = RobotsSayNoindex(root);
  CollectSkus(root, false, page.skus);

  const xmlNode* content = FindFirst(root, "main");
  Reader reader{page, TextSink(max_text_bytes)};
  if (content == nullptr) {
    content = FindFirst(root, "body");
    reader.layout_parts_skipped = true;
  }
  if (content == nullptr) content = root;
  if (const xmlNode* h1 = FindFirst(content->children, "h1")) {
    page.title = InnerText(h1);
    if (!page.title.empty()) reader.title_heading = h1;
  }
  if (page.title.empty()) {
    if (const xmlNode* t = FindFirst(root, "title")) page.title = InnerText(t);
  }
  reader.Content(content);
  page.text = reader.text.Take();
  return page;
}

}  // namespace tieup
