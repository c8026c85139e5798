// libxml2 for the site module's HTML readers (html_links.cc, page_text.cc): set-up and owners of
// what it allocates. Private to the site module.
#pragma once

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>

#include <memory>
#include <string_view>

namespace tieup::libxml {

// Sets libxml2 up once per process (its parser is then thread-safe) and silences its messages
// on the calling thread (per thread in libxml2): a page's markup errors are the page's,
// recovered from as a browser does. Call before parsing, on every thread that parses.
void Prepare();

struct DocFree {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
using DocPtr = std::unique_ptr<xmlDoc, DocFree>;

struct XmlStringFree {
  void operator()(xmlChar* s) const { xmlFree(s); }
};
using XmlString = std::unique_ptr<xmlChar, XmlStringFree>;

inline std::string_view AsView(const xmlChar* s) {
  return s == nullptr ? std::string_view() : std::string_view(reinterpret_cast<const char*>(s));
}
inline const xmlChar* AsXml(const char* s) { return reinterpret_cast<const xmlChar*>(s); }

}  // namespace tieup::libxml
