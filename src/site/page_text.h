// What a site search indexes of an HTML page (site/site_search.h): its title, headings, readable
// text and the products it offers, read with libxml2's HTML parser (as a browser would: broken
// markup is recovered from, never refused).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace tieup {

struct PageText {
  // The first <h1> of the page's content, else the document's <title>; "" when neither.
  std::string title;
  // The <h1>..<h3> of the content (the one taken as title excepted), in order.
  std::vector<std::string> headings;
  // The readable text of the content, whitespace collapsed, headings included (where they stand;
  // not the title's): what is inside <main> when the page
  // has one, else the <body> without its <header>, <nav>, <footer> and <aside> (the layout's
  // parts that every page repeats). Never the text of <script>, <style>, <template>, <noscript>,
  // <svg>, <iframe>, <form> (its labels and buttons), nor of an element marked data-nosnippet
  // (as search engines honour it: a "customers also bought" list names other products).
  std::string text;
  // The SKUs of the page's add-to-cart forms (<form action=".../shop/cart/add"> with an
  // <input name="sku">), in order, without repeats.
  std::vector<std::string> skus;
  // <meta name="robots"> says "noindex": the page asks not to be listed.
  bool noindex = false;
};

// Reads `html` (any bytes; the page's own encoding as libxml2 detects it, UTF-8 by default).
// `max_text_bytes` bounds `text` (cut at a character). Never fails: a page of no HTML at all
// gives its characters as text. Thread-safe.
PageText ReadPageText(std::string_view html, size_t max_text_bytes = 512 * 1024);

}  // namespace tieup
