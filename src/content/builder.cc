#include "content/builder.h"

#include <cmark-gfm-core-extensions.h>
#include <cmark-gfm-extension_api.h>
#include <cmark-gfm.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <functional>
#include <kainjow/mustache.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "base/encoding.h"
#include "content/ad_catalog.h"
#include "content/gzip_variant.h"
#include "content/page_templates.h"
#include "content/template_vars.h"
#include "crypto/hash.h"

namespace tieup::content {

// The module's built-in templates (templates/*.mustache; cmake/TieupEmbed.cmake).
const EmbeddedTemplates& EmbeddedShellTemplates();

namespace {

namespace mustache = kainjow::mustache;

enum class SourceKind { kMarkdown, kHtml, kCopy };

struct Source {
  std::string file;   // the file to read
  std::string label;  // how errors name it ("pages/about.md" or "overrides: pages/about.md")
  SourceKind kind;
  bool from_overrides = false;
};

// Bump when rendering changes, so that no output of an older builder is re-used.
constexpr std::string_view kBuilderVersion = "tieup-builder/2";  // 2: ad slot tags

// A path's digest (BuildInputs::digests): the source's kind and directory, then the raw SHA-256
// of its bytes.
std::string SourceDigest(const Source& src, std::string_view source_hash) {
  std::string digest(
      1, static_cast<char>(static_cast<int>(src.kind) | (src.from_overrides ? 0x10 : 0)));
  digest += source_hash;
  return digest;
}

// A page's product digest: the source's digest with this flag in its tag byte, and a SHA-256
// of the source's hash and of the records of the products the page names.
constexpr char kNamesProductsFlag = 0x20;
// The front matter's 'products' for every product of the catalog.
constexpr std::string_view kAllProducts = "*";

struct FrontMatter {
  std::string title;
  std::optional<std::string> layout;
  UpdateMethod method = UpdateMethod::kStaged;
  std::string link_url;
  std::vector<std::string> products;  // the SKUs named, in order; {"*"}: every product
};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Extension(std::string_view path) {
  size_t slash = path.rfind('/');
  size_t dot = path.rfind('.');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) return {};
  return path.substr(dot + 1);
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// Whether a file under pages/ with this name is a page (rendered, with front matter) rather
// than copied.
bool IsPageFile(std::string_view name) {
  const std::string ext = Lower(Extension(name));
  return ext == "md" || ext == "html";
}

// Every regular file below `dir`, as paths relative to it, sorted. The depth is bounded, so a
// symbolic link loop is an error rather than a crash.
Status ListFilesRecursive(Env& env, const std::string& dir, const std::string& rel,
                          std::vector<std::string>& out,
                          const std::function<void(const std::string&, const FileInfo&)>& seen,
                          int depth = 0) {
  constexpr int kMaxDepth = 32;
  if (depth > kMaxDepth) {
    return Status::InvalidArgument("'" + JoinPath(dir, rel) + "' is nested more than " +
                                   std::to_string(kMaxDepth) +
                                   " directories deep (a symbolic link loop?)");
  }
  ASSIGN_OR_RETURN(auto entries, env.ListDir(rel.empty() ? dir : JoinPath(dir, rel)));
  for (const FileInfo& e : entries) {
    std::string child = rel.empty() ? e.name : rel + "/" + e.name;
    if (e.is_dir) {
      RETURN_IF_ERROR(ListFilesRecursive(env, dir, child, out, seen, depth + 1));
    } else {
      seen(child, e);
      out.push_back(child);
    }
  }
  return Status::Ok();
}

// Adds the sources and layouts of one directory (the authoring one, or the overrides). Within
// one directory two files for one path are an error; across directories the later call
// replaces the earlier one's path or layout (that is how overrides work).
Status CollectSources(Env& env, SourceCache& cache, const std::string& root,
                      std::string_view label_prefix, bool from_overrides,
                      std::map<std::string, Source>& sources,
                      std::map<std::string, Source>& layouts) {
  std::map<std::string, std::string> mine;  // output path -> label, within this directory
  auto add = [&](const std::string& url_path, Source src) -> Status {
    Status s = ValidatePath(url_path);
    if (!s.ok()) return s.Annotate(src.label);
    auto [it, inserted] = mine.emplace(url_path, src.label);
    if (!inserted) {
      return Status::InvalidArgument("both " + it->second + " and " + src.label + " produce '" +
                                     url_path + "': rename one of them");
    }
    sources[url_path] = std::move(src);
    return Status::Ok();
  };

  const std::string pages_dir = JoinPath(root, "pages");
  if (env.FileExists(pages_dir)) {
    ASSIGN_OR_RETURN(auto files, cache.ListFiles(env, pages_dir));
    for (const std::string& rel : *files) {
      std::string label = std::string(label_prefix) + "pages/" + rel;
      std::string ext = Lower(Extension(rel));
      Source src{JoinPath(pages_dir, rel), label, SourceKind::kCopy, from_overrides};
      std::string url = "/" + rel;
      if (IsPageFile(rel)) {
        src.kind = ext == "md" ? SourceKind::kMarkdown : SourceKind::kHtml;
        url = "/" + rel.substr(0, rel.size() - ext.size()) + "html";
      }
      RETURN_IF_ERROR(add(url, std::move(src)));
    }
  }
  const std::string assets_dir = JoinPath(root, "assets");
  if (env.FileExists(assets_dir)) {
    ASSIGN_OR_RETURN(auto files, cache.ListFiles(env, assets_dir));
    for (const std::string& rel : *files) {
      std::string label = std::string(label_prefix) + "assets/" + rel;
      RETURN_IF_ERROR(add("/assets/" + rel, Source{JoinPath(assets_dir, rel), label,
                                                   SourceKind::kCopy, from_overrides}));
    }
  }
  const std::string layouts_dir = JoinPath(root, "layouts");
  if (env.FileExists(layouts_dir)) {
    ASSIGN_OR_RETURN(auto entries, env.ListDir(layouts_dir));
    constexpr std::string_view kSuffix = ".mustache";
    for (const FileInfo& e : entries) {
      if (e.is_dir || !e.name.ends_with(kSuffix)) continue;
      cache.NoteListed(JoinPath(layouts_dir, e.name), e);
      std::string name = e.name.substr(0, e.name.size() - kSuffix.size());
      layouts[name] =
          Source{JoinPath(layouts_dir, e.name), std::string(label_prefix) + "layouts/" + e.name,
                 SourceKind::kCopy, from_overrides};
    }
  }
  return Status::Ok();
}

Result<mustache::data> VariablesToData(const std::map<std::string, std::string>& variables) {
  // Build a tree first (mustache::data has no mutable lookup), then convert.
  struct Node {
    std::optional<std::string> value;
    std::map<std::string, Node> children;
  };
  Node root;
  for (const auto& [name, value] : variables) {
    Node* n = &root;
    std::string_view rest = name;
    std::string seen;
    while (true) {
      size_t dot = rest.find('.');
      std::string part(rest.substr(0, dot));
      if (part.empty()) {
        return Status::InvalidArgument("template variable name '" + name +
                                       "' has an empty part; use names like \"partner.name\"");
      }
      seen += (seen.empty() ? "" : ".") + part;
      if (n->value) {
        return Status::InvalidArgument("template variable '" + name + "' conflicts with '" +
                                       seen.substr(0, seen.rfind('.')) +
                                       "', which is a value, not an object");
      }
      n = &n->children[part];
      if (dot == std::string_view::npos) break;
      rest.remove_prefix(dot + 1);
    }
    if (!n->children.empty()) {
      return Status::InvalidArgument("template variable '" + name +
                                     "' is also used as an object (" + name + ".…)");
    }
    n->value = value;
  }
  std::function<mustache::data(const Node&)> convert = [&](const Node& n) -> mustache::data {
    if (n.value) return mustache::data(*n.value);
    mustache::data obj{mustache::data::type::object};
    for (const auto& [k, child] : n.children) obj.set(k, convert(child));
    return obj;
  };
  return convert(root);
}

Result<std::string> RenderMustache(const std::string& tmpl, const mustache::data& data,
                                   const std::string& label);

// Offers the ad slot tags (content/ad_catalog.h) {{> ad_main}} and {{> ad_partner}} to every
// page and layout: a frame each (template ad_slot). Main's own site (area original) has no
// partner, so there {{> ad_partner}} is empty.
Status AddAdSlotTags(mustache::data& vars, Area area) {
  std::string_view slot;
  for (const auto& [name, text] : EmbeddedShellTemplates()) {
    if (name == "ad_slot") slot = text;
  }
  for (std::string_view owner : {"main", "partner"}) {
    std::string html;
    if (owner == "main" || area == Area::kTieup) {
      mustache::data data{mustache::data::type::object};
      data.set("owner", mustache::data(std::string(owner)));
      ASSIGN_OR_RETURN(html, RenderMustache(std::string(slot), data, "ad_slot.mustache"));
      while (!html.empty() && html.back() == '\n') html.pop_back();
    }
    vars.set("ad_" + std::string(owner), mustache::partial([html] { return html; }));
  }
  return Status::Ok();
}

// The layout's account link on a static page: the sign-in link (content/page_templates.h).
void AddAccountLink(mustache::data& vars) {
  vars.set("account_url", mustache::data(std::string(kSignInUrl)));
  vars.set("account_label", mustache::data(std::string(kSignInLabel)));
}

// Renders a template parsed before (a layout is parsed once per build, not once per page).
Result<std::string> RenderParsed(mustache::mustache& m, const mustache::data& data,
                                 const std::string& label) {
  try {
    std::string out = m.render(data);
    if (!m.is_valid()) {
      return Status::InvalidArgument(label + ": template failed: " + m.error_message());
    }
    return out;
  } catch (const std::exception& e) {
    return Status::InvalidArgument(label + ": template failed: " + e.what());
  }
}

Result<std::unique_ptr<mustache::mustache>> ParseMustache(const std::string& tmpl,
                                                          const std::string& label) {
  try {
    auto m = std::make_unique<mustache::mustache>(tmpl);
    if (!m->is_valid()) {
      return Status::InvalidArgument(label + ": bad template: " + m->error_message());
    }
    return m;
  } catch (const std::exception& e) {
    return Status::InvalidArgument(label + ": template failed: " + e.what());
  }
}

Result<std::string> RenderMustache(const std::string& tmpl, const mustache::data& data,
                                   const std::string& label) {
  // Without an opening tag there is nothing to render: the text is its own output (most page
  // bodies; parsing them was most of a build's time).
  if (tmpl.find("{{") == std::string::npos) return tmpl;
  ASSIGN_OR_RETURN(std::unique_ptr<mustache::mustache> m, ParseMustache(tmpl, label));
  return RenderParsed(*m, data, label);
}

// Layouts parsed once per build, by name.
using LayoutCache = std::map<std::string, std::unique_ptr<mustache::mustache>>;

Result<std::string> MarkdownToHtml(const std::string& md, const std::string& label) {
  static std::once_flag registered;
  std::call_once(registered, [] { cmark_gfm_core_extensions_ensure_registered(); });
  // Raw HTML is kept (CMARK_OPT_UNSAFE): pages come from the site's own authors, who may write
  // whole .html pages anyway.
  const int options = CMARK_OPT_UNSAFE;
  cmark_parser* parser = cmark_parser_new(options);
  if (parser == nullptr) return Status::Internal("cmark_parser_new failed");
  for (const char* name : {"table", "strikethrough", "autolink"}) {
    cmark_syntax_extension* ext = cmark_find_syntax_extension(name);
    if (ext == nullptr || cmark_parser_attach_syntax_extension(parser, ext) == 0) {
      cmark_parser_free(parser);
      return Status::Internal(label + ": the cmark-gfm extension '" + name + "' is unavailable");
    }
  }
  cmark_parser_feed(parser, md.data(), md.size());
  cmark_node* doc = cmark_parser_finish(parser);
  char* html = cmark_render_html(doc, options, cmark_parser_get_syntax_extensions(parser));
  std::string out = html == nullptr ? std::string() : std::string(html);
  std::free(html);
  cmark_node_free(doc);
  cmark_parser_free(parser);
  return out;
}

// The value of 'products': "SKU, SKU, ..." (in the page's order) or "*"; `why` is set on error.
std::optional<std::vector<std::string>> ParseProductList(std::string_view value, std::string& why) {
  std::vector<std::string> skus;
  while (true) {
    const size_t comma = value.find(',');
    std::string_view sku = Trim(value.substr(0, comma));
    if (sku.empty()) {
      why =
          "'products' has an empty element; list SKUs separated by commas (\"products: "
          "SENCHA-100, GYOKURO-50\"), or '*' for every product";
      return std::nullopt;
    }
    skus.emplace_back(sku);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  if (skus.size() > 1 && std::find(skus.begin(), skus.end(), kAllProducts) != skus.end()) {
    why = "'*' (every product) stands alone in 'products'";
    return std::nullopt;
  }
  return skus;
}

// Parses the front matter of "---\n<front matter>\n---\n<body>" (a file not starting with
// "---" has none); *body_start is where the body begins.
Result<FrontMatter> ParseFrontMatter(std::string_view text, const std::string& label,
                                     size_t* body_start) {
  FrontMatter fm;
  *body_start = 0;
  auto first_line_end = text.find('\n');
  if (first_line_end == std::string::npos || Trim(text.substr(0, first_line_end)) != "---") {
    return fm;
  }
  size_t pos = first_line_end + 1;
  int line_no = 1;
  while (true) {
    ++line_no;
    if (pos >= text.size()) {
      return Status::InvalidArgument(label +
                                     ": front matter opened by '---' on line 1 is never closed; "
                                     "end it with a line '---'");
    }
    size_t end = text.find('\n', pos);
    std::string_view line = Trim(text.substr(pos, end == std::string::npos ? end : end - pos));
    pos = end == std::string::npos ? text.size() : end + 1;
    if (line == "---") break;
    if (line.empty() || line.front() == '#') continue;
    size_t colon = line.find(':');
    auto bad = [&](std::string why) {
      return Status::InvalidArgument(label + ": front matter line " + std::to_string(line_no) +
                                     ": " + why);
    };
    if (colon == std::string_view::npos) return bad("expected \"key: value\"");
    std::string key(Trim(line.substr(0, colon)));
    std::string_view value = Trim(line.substr(colon + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    if (key == "title") {
      fm.title = value;
    } else if (key == "layout") {
      std::string v(value);
      bool ok = !v.empty() && std::all_of(v.begin(), v.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
      });
      if (!ok) return bad("layout '" + v + "' is not a name of [A-Za-z0-9_-]");
      fm.layout = v;
    } else if (key == "method") {
      auto m = ParseUpdateMethod(value);
      if (!m.ok()) return bad(m.status().message());
      fm.method = *m;
    } else if (key == "link_url") {
      fm.link_url = value;
    } else if (key == "products") {
      std::string why;
      auto skus = ParseProductList(value, why);
      if (!skus) return bad(why);
      fm.products = std::move(*skus);
    } else {
      return bad("unknown key '" + key + "' (known: title, layout, method, link_url, products)");
    }
  }
  *body_start = pos;
  return fm;
}

// One product a page names: its SKU and record.
struct NamedProduct {
  const std::string* sku;
  const PageProduct* record;
};

// The products `skus` (a page's front matter 'products') names, in its order, from `table`.
Result<std::vector<NamedProduct>> ResolveProducts(const std::vector<std::string>& skus,
                                                  const PageProducts* table,
                                                  const std::string& label) {
  std::vector<NamedProduct> out;
  if (skus.empty()) return out;
  if (table == nullptr) {
    return Status::InvalidArgument(label +
                                   ": names products (front matter 'products'), but this build "
                                   "has no catalog");
  }
  if (skus.size() == 1 && skus[0] == kAllProducts) {
    out.reserve(table->size());
    for (const auto& [sku, record] : *table) out.push_back({&sku, &record});
    return out;
  }
  out.reserve(skus.size());
  for (const std::string& sku : skus) {
    auto it = table->find(sku);
    if (it == table->end()) {
      return Status::InvalidArgument(label + ": product '" + sku +
                                     "' is not in the catalog; add it (tieup main product add) "
                                     "or take it out of the front matter 'products'");
    }
    out.push_back({&it->first, &it->second});
  }
  return out;
}

// The raw SHA-256 of a canonical form of `products` (every string length-prefixed).
// The products a product's record recommends beside it (field kAlsoBoughtField: SKUs separated
// by spaces), those of `table` only, in order.
std::vector<NamedProduct> AlsoBought(const PageProduct& record, const PageProducts& table) {
  std::vector<NamedProduct> out;
  auto field = record.find(std::string(kAlsoBoughtField));
  if (field == record.end()) return out;
  std::string_view list = field->second;
  while (!list.empty()) {
    const size_t space = list.find(' ');
    const std::string_view sku = list.substr(0, space);
    list = space == std::string_view::npos ? std::string_view() : list.substr(space + 1);
    if (sku.empty()) continue;
    auto it = table.find(std::string(sku));
    if (it != table.end()) out.push_back({&it->first, &it->second});
  }
  return out;
}

// The raw SHA-256 of a canonical form of `products` and of the products they recommend (their
// titles, prices and stock show on the page too).
std::string HashProducts(const std::vector<NamedProduct>& products, const PageProducts* table) {
  std::string bytes;
  auto add = [&](std::string_view s) {
    AppendBigEndian(bytes, s.size(), 4);
    bytes += s;
  };
  auto add_record = [&](const NamedProduct& p) {
    add(*p.sku);
    AppendBigEndian(bytes, p.record->size(), 4);
    for (const auto& [field, value] : *p.record) {
      add(field);
      add(value);
    }
  };
  AppendBigEndian(bytes, products.size(), 4);
  for (const NamedProduct& p : products) {
    add_record(p);
    if (table == nullptr) continue;
    const std::vector<NamedProduct> also = AlsoBought(*p.record, *table);
    AppendBigEndian(bytes, also.size(), 4);
    for (const NamedProduct& a : also) add_record(a);
  }
  return Sha256(bytes);
}

// The digest of a page naming products: `source_digest` (SourceDigest) with the flag in its tag,
// its source hash combined with `products_hash` (HashProducts).
std::string ProductPageDigest(std::string_view source_digest, std::string_view products_hash) {
  Sha256Hasher h;
  h.Update(source_digest.substr(1));
  h.Update(products_hash);
  std::string digest(1, static_cast<char>(source_digest[0] | kNamesProductsFlag));
  digest += h.Finish();
  return digest;
}

// A product as a page's mustache data: its fields, "sku" added when missing, an empty field
// false (so that sections and inverted sections test it).
// With `table`, the recommended products (kAlsoBoughtField) become a list of such objects under
// the same name (false when there are none).
mustache::data ProductToData(const NamedProduct& p, const PageProducts* table = nullptr) {
  mustache::data obj{mustache::data::type::object};
  for (const auto& [field, value] : *p.record) {
    obj.set(field, value.empty() ? mustache::data(false) : mustache::data(value));
  }
  if (!p.record->contains("sku")) obj.set("sku", mustache::data(*p.sku));
  if (table != nullptr && p.record->contains(std::string(kAlsoBoughtField))) {
    const std::vector<NamedProduct> also = AlsoBought(*p.record, *table);
    mustache::data list{mustache::data::type::list};
    for (const NamedProduct& a : also) list.push_back(ProductToData(a));
    obj.set(std::string(kAlsoBoughtField), also.empty() ? mustache::data(false) : list);
    obj.set("has_also_bought", mustache::data(!also.empty()));
  }
  return obj;
}

// The bytes of `file`: its draft when `drafts` (file -> bytes; RenderPagePreview) has one.
Result<std::string> ReadSource(Env& env, const std::string& file,
                               const std::map<std::string, std::string>* drafts) {
  if (drafts != nullptr) {
    if (auto it = drafts->find(file); it != drafts->end()) return it->second;
  }
  return env.ReadFile(file);
}

Result<std::string> RenderPage(Env& env, const Source& src, const mustache::data& vars,
                               const PageProducts* products,
                               const std::map<std::string, Source>& layouts,
                               LayoutCache& layout_cache, FrontMatter& fm_out,
                               const std::map<std::string, std::string>* drafts = nullptr) {
  ASSIGN_OR_RETURN(std::string text, ReadSource(env, src.file, drafts));
  size_t body_start = 0;
  ASSIGN_OR_RETURN(fm_out, ParseFrontMatter(text, src.label, &body_start));
  text.erase(0, body_start);
  mustache::data data = vars;
  data.set("title", mustache::data(fm_out.title));
  if (!fm_out.products.empty()) {
    // From the bytes read now, as the body is (the digest's list came from the bytes hashed).
    ASSIGN_OR_RETURN(auto named, ResolveProducts(fm_out.products, products, src.label));
    mustache::data list{mustache::data::type::list};
    for (const NamedProduct& p : named) list.push_back(ProductToData(p, products));
    if (!named.empty()) data.set("product", ProductToData(named.front(), products));
    data.set("products", list);
  }
  ASSIGN_OR_RETURN(std::string body, RenderMustache(text, data, src.label));
  if (src.kind == SourceKind::kMarkdown) {
    ASSIGN_OR_RETURN(body, MarkdownToHtml(body, src.label));
  }
  std::string layout = fm_out.layout.value_or("default");
  if (layout == "none") return body;
  auto it = layouts.find(layout);
  if (it == layouts.end()) {
    return Status::NotFound(src.label + ": layout '" + layout + "' does not exist; add layouts/" +
                            layout + ".mustache or set 'layout: none' in the front matter");
  }
  auto cached = layout_cache.find(layout);
  if (cached == layout_cache.end()) {
    ASSIGN_OR_RETURN(std::string tmpl, ReadSource(env, it->second.file, drafts));
    ASSIGN_OR_RETURN(auto parsed, ParseMustache(tmpl, it->second.label));
    cached = layout_cache.emplace(layout, std::move(parsed)).first;
  }
  data.set("content", mustache::data(body));
  auto page = RenderParsed(*cached->second, data, it->second.label);
  if (!page.ok()) return page.status().Annotate("rendering " + src.label);
  return page;
}

}  // namespace

Result<std::string> RenderMarkdown(const std::string& markdown, const std::string& label) {
  return MarkdownToHtml(markdown, label);
}

Result<PageFrontMatter> ParsePageFrontMatter(std::string_view text, const std::string& label,
                                             size_t* body_start) {
  ASSIGN_OR_RETURN(FrontMatter fm, ParseFrontMatter(text, label, body_start));
  PageFrontMatter out;
  out.title = std::move(fm.title);
  out.layout = std::move(fm.layout);
  // ParseFrontMatter keeps only values: a key is known to be there by its line.
  std::string_view head = text.substr(0, *body_start);
  auto has_key = [&](std::string_view key) {
    size_t pos = 0;
    while (pos < head.size()) {
      size_t end = head.find('\n', pos);
      std::string_view line =
          Trim(head.substr(pos, end == std::string_view::npos ? end : end - pos));
      if (line.starts_with(key) && Trim(line.substr(key.size())).starts_with(':')) return true;
      if (end == std::string_view::npos) break;
      pos = end + 1;
    }
    return false;
  };
  out.has_method = has_key("method");
  out.has_link_url = has_key("link_url");
  out.has_products = has_key("products");
  return out;
}

std::string ContentTypeForPath(std::string_view path) {
  static const std::map<std::string, std::string, std::less<>> kTypes = {
      {"html", "text/html; charset=utf-8"},
      {"htm", "text/html; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"json", "application/json"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"webp", "image/webp"},
      {"ico", "image/x-icon"},
      {"txt", "text/plain; charset=utf-8"},
      {"xml", "application/xml"},
      {"pdf", "application/pdf"},
      {"woff2", "font/woff2"},
  };
  auto it = kTypes.find(Lower(Extension(path)));
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

namespace {
constexpr std::string_view kInputsMagic = "tieup-inputs/2\n";
constexpr size_t kDigestBytes = 33;  // a tag byte and a SHA-256
}  // namespace

namespace {

std::string EncodeDigests(const CowMap<std::string>::Entries& entries) {
  std::string out;
  out.reserve(entries.size() * 56);
  for (const auto& [path, digest] : entries) {
    AppendBigEndian(out, path.size(), 4);
    out += path;
    out += digest;
  }
  return out;
}

}  // namespace

// Chunk cache slots of `digests`: the encoded entries, and their raw SHA-256.
constexpr size_t kEncodedSlot = 0;
constexpr size_t kEncodedHashSlot = 1;

std::string BuildInputs::Encode() const {
  std::string out;
  out.reserve(kInputsMagic.size() + context.size() + digests.size() * 56);
  out += EncodeHeader();
  // Each chunk keeps its bytes: inputs made from the previous build's re-encode what changed.
  for (size_t i = 0; i < digests.chunk_count(); ++i) {
    out += digests.chunk(i).Cached(kEncodedSlot, EncodeDigests);
  }
  return out;
}

std::string BuildInputs::EncodeHeader() const {
  std::string out(kInputsMagic);
  out += context;
  return out;
}

std::vector<EncodedChunk> BuildInputs::EncodedChunks() const {
  return digests.ChunkEncodings(kEncodedSlot, EncodeDigests, kEncodedHashSlot,
                                [](std::string_view bytes) { return Sha256(bytes); });
}

Result<BuildInputs> BuildInputs::Parse(std::string_view bytes) {
  if (!bytes.starts_with(kInputsMagic) || bytes.size() < kInputsMagic.size() + 32) {
    return Status::DataLoss("build inputs: not in this builder's format");
  }
  ByteReader r(bytes.substr(kInputsMagic.size()));
  BuildInputs in;
  in.context = std::string(r.Take(32));
  while (r.ok() && !r.done()) {
    std::string path(r.Take(r.BigEndian(4)));
    std::string digest(r.Take(kDigestBytes));
    if (!r.ok()) return Status::DataLoss("build inputs: truncated entry");
    if (!in.digests.try_emplace(std::move(path), std::move(digest)).second) {
      return Status::DataLoss("build inputs: a path is listed twice");
    }
  }
  return in;
}

struct SourceCache::Tree {
  std::map<std::string, Source> sources;  // by URL path
  std::map<std::string, Source> layouts;  // by name
  // URL path -> SourceDigest, for every source. It shares the chunks that did not change with
  // the previous run's tree of the same directory, and a build's BuildInputs::digests share
  // them in turn: a build compares its previous inputs with these chunk by chunk.
  CowMap<std::string> digests;
  // URL path -> what the page's front matter 'products' names ({"*"}: every product), for the
  // pages (.md, .html) that name any. Their entries in `digests` do not cover the products: a
  // build, which knows the catalog, changes those entries in its own copy.
  std::map<std::string, std::vector<std::string>> product_pages;
};

SourceCache::SourceCache() = default;
SourceCache::~SourceCache() = default;

Result<std::shared_ptr<const SourceCache::Tree>> SourceCache::Collect(Env& env,
                                                                      const std::string& root,
                                                                      std::string_view label_prefix,
                                                                      bool from_overrides) {
  std::string key = root;
  key += '\0';
  key += label_prefix;
  key += from_overrides ? '1' : '0';
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    auto it = trees_.find(key);
    if (it != trees_.end()) return it->second;
  }
  auto tree = std::make_shared<Tree>();
  RETURN_IF_ERROR(
      CollectSources(env, *this, root, label_prefix, from_overrides, tree->sources, tree->layouts));
  // The digests start from the previous run's, and only the entries that differ are changed,
  // so unchanged chunks stay the same storage across runs.
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    auto it = last_digests_.find(key);
    if (it != last_digests_.end()) tree->digests = it->second;
  }
  CowMap<std::string>& digests = tree->digests;
  const CowMap<std::string>& current = digests;
  std::vector<std::string> gone;
  auto src = tree->sources.begin();
  for (const auto& [url, digest] : current) {
    while (src != tree->sources.end() && src->first < url) ++src;
    if (src == tree->sources.end() || src->first != url) gone.push_back(url);
  }
  for (const std::string& url : gone) digests.erase(url);
  for (const auto& [url, source] : tree->sources) {
    ASSIGN_OR_RETURN(const Hashed* h, HashEntry(env, source.file));
    if (source.kind != SourceKind::kCopy && !h->products.empty()) {
      tree->product_pages.emplace(url, h->products);
    }
    std::string digest = SourceDigest(source, h->digest);
    auto it = current.find(url);
    if (it == current.end() || it->second != digest)
      digests.insert_or_assign(url, std::move(digest));
  }
  std::unique_lock<std::shared_mutex> lock(mu_);
  last_digests_[key] = tree->digests;
  return trees_.emplace(std::move(key), std::move(tree)).first->second;
}

Result<std::shared_ptr<const std::vector<std::string>>> SourceCache::ListFiles(
    Env& env, const std::string& dir) {
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    auto it = listings_.find(dir);
    if (it != listings_.end()) return it->second;
  }
  auto files = std::make_shared<std::vector<std::string>>();
  std::vector<std::pair<std::string, Stat>> seen;  // recorded under one lock below
  RETURN_IF_ERROR(
      ListFilesRecursive(env, dir, "", *files, [&](const std::string& rel, const FileInfo& info) {
        seen.emplace_back(JoinPath(dir, rel), Stat{info.size, info.mtime_ns, info.inode});
      }));
  std::sort(files->begin(), files->end());
  std::unique_lock<std::shared_mutex> lock(mu_);
  for (auto& [file, stat] : seen) stats_[std::move(file)] = stat;
  return listings_.emplace(dir, std::move(files)).first->second;
}

void SourceCache::NewRun() {
  std::unique_lock<std::shared_mutex> lock(mu_);
  listings_.clear();
  trees_.clear();
  stats_.clear();
  blobs_present_.clear();
  templates_.clear();
  for (auto& [file, h] : hashes_) h.this_run = false;
}

bool SourceCache::FindTemplate(const std::string& key, std::optional<BlobRef>* tmpl) {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto it = templates_.find(key);
  if (it == templates_.end()) return false;
  *tmpl = it->second;
  return true;
}

void SourceCache::NoteTemplate(const std::string& key, std::optional<BlobRef> tmpl) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  templates_.insert_or_assign(key, std::move(tmpl));
}

void SourceCache::NoteListed(const std::string& file, const FileInfo& info) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  stats_[file] = Stat{info.size, info.mtime_ns, info.inode};
}

Result<std::string_view> SourceCache::Hash(Env& env, const std::string& file) {
  ASSIGN_OR_RETURN(const Hashed* h, HashEntry(env, file));
  return std::string_view(h->digest);
}

Result<const SourceCache::Hashed*> SourceCache::HashEntry(Env& env, const std::string& file) {
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    auto it = hashes_.find(file);
    if (it != hashes_.end() && it->second.this_run) return &it->second;
  }
  {
    // Hashed in an earlier run: reused when the listing shows the file as it was then.
    std::unique_lock<std::shared_mutex> lock(mu_);
    auto it = hashes_.find(file);
    if (it != hashes_.end()) {
      auto st = stats_.find(file);
      if (it->second.this_run || (it->second.stable && st != stats_.end() &&
                                  st->second.mtime_ns != 0 && st->second == it->second.stat)) {
        it->second.this_run = true;
        return &it->second;
      }
    }
  }
  ASSIGN_OR_RETURN(std::string bytes, env.ReadFile(file));
  Hashed h;
  h.digest = Sha256(bytes);
  // What a page names is a function of its bytes: read now, so that a file not read again in
  // a later run still has it. Bad front matter names nothing here; rendering reports it.
  if (IsPageFile(file)) {
    size_t body_start = 0;
    auto fm = ParseFrontMatter(bytes, file, &body_start);
    if (fm.ok()) h.products = std::move(fm->products);
  }
  const int64_t now_ns = env.NowMicros() * 1000;
  std::unique_lock<std::shared_mutex> lock(mu_);
  if (auto st = stats_.find(file); st != stats_.end()) {
    h.stat = st->second;
    // Modified less than 2 s before it was read: a later change could keep the same time.
    h.stable = h.stat.mtime_ns != 0 && now_ns - h.stat.mtime_ns > 2'000'000'000;
  }
  auto [it, inserted] = hashes_.try_emplace(file);
  // Another thread of this run may have hashed it meanwhile: its view must stay valid.
  if (!inserted && it->second.this_run) return &it->second;
  it->second = std::move(h);
  // Nodes of an unordered_map stay where they are: the entry outlives rehashing.
  return &it->second;
}

bool SourceCache::HasBlob(BlobStore& blobs, const std::string& hash_hex) {
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    if (blobs_present_.contains(hash_hex)) return true;
  }
  if (!blobs.Has(hash_hex)) return false;
  std::unique_lock<std::shared_mutex> lock(mu_);
  blobs_present_.insert(hash_hex);
  return true;
}

Result<PagePreview> RenderPagePreview(Env& env, const BuildOptions& options,
                                      const std::string& url_path,
                                      const std::map<std::string, std::string>& drafts) {
  if (!env.FileExists(options.authoring_dir)) {
    return Status::NotFound("authoring directory '" + options.authoring_dir + "' does not exist");
  }
  // The same sources and layouts a build collects (listed, not hashed), then the drafts.
  SourceCache cache;
  std::map<std::string, Source> sources, layouts;
  RETURN_IF_ERROR(CollectSources(env, cache, options.authoring_dir, "", false, sources, layouts));
  std::map<std::string, std::string> texts;  // file -> draft bytes
  for (const auto& [rel, bytes] : drafts) {
    const std::string file = JoinPath(options.authoring_dir, rel);
    texts[file] = bytes;
    if (rel.starts_with("pages/") && IsPageFile(rel)) {
      const std::string page = rel.substr(6);
      const std::string ext = Lower(Extension(page));
      const std::string url = "/" + page.substr(0, page.size() - ext.size()) + "html";
      sources[url] = Source{file, rel, ext == "md" ? SourceKind::kMarkdown : SourceKind::kHtml};
    } else if (rel.starts_with("layouts/") && rel.ends_with(".mustache") &&
               rel.find('/', 8) == std::string::npos) {
      const std::string name = rel.substr(8, rel.size() - 8 - 9);
      layouts[name] = Source{file, rel, SourceKind::kCopy};
    }
  }
  if (!options.overrides_dir.empty()) {
    if (!env.FileExists(options.overrides_dir)) {
      return Status::NotFound("overrides directory '" + options.overrides_dir + "' does not exist");
    }
    std::map<std::string, Source> theirs, their_layouts;
    RETURN_IF_ERROR(CollectSources(env, cache, options.overrides_dir,
                                   "overrides " + options.overrides_dir + ": ", true, theirs,
                                   their_layouts));
    for (auto& [url, src] : theirs) sources[url] = std::move(src);
    for (auto& [name, src] : their_layouts) layouts[name] = std::move(src);
  }
  auto it = sources.find(url_path);
  if (it == sources.end() || it->second.kind == SourceKind::kCopy) {
    return Status::NotFound("no page makes '" + url_path + "'");
  }
  const Source& src = it->second;
  PagePreview out;
  out.url_path = url_path;
  out.label = src.label;
  out.from_overrides = src.from_overrides;
  out.in_release =
      !options.only_overridden_pages || src.from_overrides || url_path.starts_with("/.tieup/");
  ASSIGN_OR_RETURN(mustache::data vars, VariablesToData(options.variables));
  RETURN_IF_ERROR(AddAdSlotTags(vars, options.area));
  AddAccountLink(vars);
  LayoutCache layout_cache;
  FrontMatter fm;
  ASSIGN_OR_RETURN(out.html, RenderPage(env, src, vars, options.products.get(), layouts,
                                        layout_cache, fm, &texts));
  out.method = fm.method;
  out.link_url = fm.link_url;
  return out;
}

Result<ReleaseManifest> BuildRelease(Env& env, BlobStore& blobs, const BuildOptions& options) {
  ASSIGN_OR_RETURN(BuildResult r, BuildReleaseIncremental(env, blobs, options, {}, nullptr));
  return std::move(r.manifest);
}

Result<BuildResult> BuildReleaseIncremental(Env& env, BlobStore& blobs, const BuildOptions& options,
                                            const PreviousBuild& previous, SourceCache* cache) {
  SourceCache own_cache;
  if (cache == nullptr) cache = &own_cache;
  if (!env.FileExists(options.authoring_dir)) {
    return Status::NotFound("authoring directory '" + options.authoring_dir + "' does not exist");
  }
  // The trees are collected once per cache (one publish builds many releases from them).
  ASSIGN_OR_RETURN(auto authored, cache->Collect(env, options.authoring_dir, "", false));
  const std::map<std::string, Source>* sources_ptr = &authored->sources;
  const std::map<std::string, Source>* layouts_ptr = &authored->layouts;
  std::map<std::string, Source> merged_sources, merged_layouts;
  std::shared_ptr<const SourceCache::Tree> overrides;
  if (!options.overrides_dir.empty() || options.only_overridden_pages) {
    merged_sources = authored->sources;
    merged_layouts = authored->layouts;
    if (!options.overrides_dir.empty()) {
      if (!env.FileExists(options.overrides_dir)) {
        return Status::NotFound("overrides directory '" + options.overrides_dir +
                                "' does not exist");
      }
      // Overrides replace whole output paths, whatever the extension of the source they
      // replace, and layouts of the same name.
      ASSIGN_OR_RETURN(overrides,
                       cache->Collect(env, options.overrides_dir,
                                      "overrides " + options.overrides_dir + ": ", true));
      for (const auto& [url, src] : overrides->sources) merged_sources[url] = src;
      for (const auto& [name, src] : overrides->layouts) merged_layouts[name] = src;
    }
    if (options.only_overridden_pages) {
      // Page templates are part of the look, as the layouts are, and the ad catalog goes with
      // the ad slots of the layouts: the machine files under /.tieup/ are kept.
      std::erase_if(merged_sources, [](const auto& kv) {
        return !kv.second.from_overrides && !kv.first.starts_with("/assets/") &&
               !kv.first.starts_with("/.tieup/");
      });
    }
    sources_ptr = &merged_sources;
    layouts_ptr = &merged_layouts;
  }
  const std::map<std::string, Source>& sources = *sources_ptr;
  const std::map<std::string, Source>& layouts = *layouts_ptr;
  // A catalog the partners could not read is refused here, before any partner gets it; the
  // partner's own catalog is the partner's to write.
  if (auto theirs = sources.find(std::string(kPartnerAdCatalogPath)); theirs != sources.end()) {
    return Status::InvalidArgument(theirs->second.label + ": " +
                                   std::string(kPartnerAdCatalogPath) +
                                   " is the partner's own ad catalog; put main's ads in "
                                   "pages/.tieup/ads.toml");
  }
  if (auto ads = sources.find(std::string(kAdCatalogPath)); ads != sources.end()) {
    ASSIGN_OR_RETURN(std::string text, env.ReadFile(ads->second.file));
    RETURN_IF_ERROR(ParseAdCatalog(text, ads->second.label).status());
  }
  ASSIGN_OR_RETURN(mustache::data vars, VariablesToData(options.variables));
  RETURN_IF_ERROR(AddAdSlotTags(vars, options.area));
  AddAccountLink(vars);
  // With partner variables: the same data with their markers, for templates, and their values
  // (the release's variables).
  std::optional<mustache::data> marker_vars;
  std::map<std::string, std::string> partner_values;
  // What a template depends on besides its source (the same for every partner of a run): the
  // builder, the area, the variables with their markers; the layouts are added below.
  Sha256Hasher template_context;
  std::map<std::string, std::string> with_markers = options.variables;
  for (const std::string& name : options.partner_variables) {
    auto value = options.variables.find(name);
    if (value == options.variables.end()) continue;
    RETURN_IF_ERROR(ValidateVariableName(name).Annotate("partner variables"));
    partner_values[name] = value->second;
    with_markers[name] = VariableMarker(name);
  }
  if (!partner_values.empty()) {
    ASSIGN_OR_RETURN(marker_vars, VariablesToData(with_markers));
    RETURN_IF_ERROR(AddAdSlotTags(*marker_vars, options.area));
    AddAccountLink(*marker_vars);
    template_context.Update(kBuilderVersion);
    template_context.Update(AreaName(options.area));
    for (const auto& [name, value] : with_markers) {
      template_context.Update(name);
      template_context.Update(std::string_view("\0", 1));
      template_context.Update(value);
      template_context.Update(std::string_view("\0", 1));
    }
  }

  // The inputs every rendered page shares: the variables and every layout (a page picks its
  // layout in its own front matter, so any layout may be the one it uses).
  Sha256Hasher context;
  context.Update(kBuilderVersion);
  for (const auto& [name, value] : options.variables) {
    context.Update(name);
    context.Update(std::string_view("\0", 1));
    context.Update(value);
    context.Update(std::string_view("\0", 1));
  }
  for (const std::string& name : options.partner_variables) {
    context.Update("partner variable:");
    context.Update(name);
    context.Update(std::string_view("\0", 1));
  }
  for (const auto& [name, src] : layouts) {
    ASSIGN_OR_RETURN(std::string_view h, cache->Hash(env, src.file));
    for (Sha256Hasher* c : {&context, &template_context}) {
      c->Update("layout:");
      c->Update(name);
      c->Update(std::string_view("\0", 1));
      c->Update(h);
    }
  }
  const std::string template_key_prefix = marker_vars ? template_context.Finish() : std::string();
  BuildResult r;
  r.inputs.context = context.Finish();

  ReleaseManifest& m = r.manifest;
  m.site = options.site;
  m.area = options.area;
  m.version = options.version;
  m.created = options.created;
  m.expires = options.expires;
  m.variables = partner_values;
  // What every path is made from in this build: the digests of the collected trees (shared
  // storage), with the overrides applied.
  CowMap<std::string> wanted = authored->digests;
  if (sources_ptr != &authored->sources) {
    const CowMap<std::string>& own = authored->digests;
    std::vector<std::string> dropped;
    for (const auto& [url, digest] : own) {
      if (!sources.contains(url)) dropped.push_back(url);
    }
    for (const std::string& url : dropped) wanted.erase(url);
    if (overrides) {
      const CowMap<std::string>& theirs = overrides->digests;
      for (const auto& [url, digest] : theirs) wanted.insert_or_assign(url, digest);
    }
  }
  // Pages naming products are made from those products' records too. Only their entries are
  // changed, so the chunks of the other pages stay shared with the trees' (and so with the
  // previous inputs'). Errors here (an unknown SKU, no catalog) come before any rendering, and
  // whether or not the page would be reused.
  std::optional<std::string> all_products_hash;  // of the whole table, for the "*" pages
  auto add_products = [&](const SourceCache::Tree& tree) -> Status {
    for (const auto& [url, skus] : tree.product_pages) {
      auto src = sources.find(url);
      // Left out, or replaced by the other directory.
      if (src == sources.end() || src->second.from_overrides != tree.sources.at(url).from_overrides)
        continue;
      const bool all = skus.size() == 1 && skus[0] == kAllProducts;
      std::string products_hash;
      if (all && all_products_hash) {
        products_hash = *all_products_hash;
      } else {
        ASSIGN_OR_RETURN(auto named,
                         ResolveProducts(skus, options.products.get(), src->second.label));
        products_hash = HashProducts(named, options.products.get());
        if (all) all_products_hash = products_hash;
      }
      const CowMap<std::string>& current = wanted;
      auto it = current.find(url);
      if (it == current.end()) return Status::Internal("building: no digest for '" + url + "'");
      wanted.insert_or_assign(url, ProductPageDigest(it->second, products_hash));
    }
    return Status::Ok();
  };
  RETURN_IF_ERROR(add_products(*authored));
  if (overrides) RETURN_IF_ERROR(add_products(*overrides));

  // The page shell: the default layout with markers, for the pages the site makes at run time.
  // It is made from the variables and layouts alone and rendered by every build (one render), so
  // it is in the release but not in the inputs: the inputs' chunks stay shared with the trees'.
  const std::string shell_path(kPageShellPath);
  const bool has_shell = layouts.contains("default");
  if (has_shell && sources.contains(shell_path)) {
    return Status::InvalidArgument("pages" + shell_path +
                                   ": this path is the builder's own (the page shell); rename "
                                   "the file");
  }
  // Kind template: every layout as a shell too (the partner renders its own pages into them).
  if (options.layout_shells) {
    for (const auto& [url, src] : sources) {
      if (url.starts_with(kLayoutShellsDir)) {
        return Status::InvalidArgument(
            src.label + ": the paths under " + std::string(kLayoutShellsDir) +
            " are the builder's own (the layout shells); rename the file");
      }
    }
  }
  const size_t shells = (has_shell ? 1 : 0) + (options.layout_shells ? layouts.size() : 0);

  LayoutCache layout_cache;
  // Many pages to make (a first build, new variables or layouts): their blobs are made durable
  // together (BlobBatch), not with a sync per page and gzip variant. The templates rendered
  // meanwhile are noted in the shared cache only once their blobs are in the store: a partner's
  // build running beside this one reads them from there.
  std::optional<BlobBatch> batch;
  BlobWriter* out = &blobs;
  std::vector<std::pair<std::string, std::optional<BlobRef>>> templates_made;
  auto use_batch = [&] {
    if (!batch) out = &batch.emplace(blobs);
  };
  // Renders the page shell into m.files, or takes it out without a default layout (not counted
  // in r.rendered: it is not a source).
  // Renders layout `layout` with markers into m.files at `path`.
  auto make_layout_shell = [&](const std::string& path, const Source& layout) -> Status {
    ASSIGN_OR_RETURN(std::string tmpl, env.ReadFile(layout.file));
    mustache::data data = vars;
    data.set("title", mustache::data(std::string(kShellTitleMarker)));
    data.set("content", mustache::data(std::string(kShellContentMarker)));
    data.set("cart_count", mustache::data(std::string(kShellCartCountMarker)));
    data.set("account_url", mustache::data(std::string(kShellAccountUrlMarker)));
    data.set("account_label", mustache::data(std::string(kShellAccountLabelMarker)));
    ASSIGN_OR_RETURN(std::string bytes, RenderMustache(tmpl, data, layout.label));
    FileEntry e;
    // Not a page (text/html would count it in the area's pages, e.g. for fees).
    e.content_type = ContentTypeForPath(kPageShellPath);
    e.length = bytes.size();
    ASSIGN_OR_RETURN(e.hash, out->Put(bytes));
    ASSIGN_OR_RETURN(e.gzip, internal::MakeGzipVariant(*out, bytes, e.content_type));
    const FileMap& current = m.files;
    auto same = current.find(path);
    if (same == current.end() || !(same->second == e)) m.files.insert_or_assign(path, std::move(e));
    return Status::Ok();
  };
  auto make_shell = [&]() -> Status {
    if (options.layout_shells) {
      // Layout shells of layouts that are gone (a reused release had them).
      std::vector<std::string> stale;
      const FileMap& current = m.files;
      for (const auto& [path, e] : current) {
        if (path.starts_with(kLayoutShellsDir) &&
            !layouts.contains(
                path.substr(kLayoutShellsDir.size(), path.size() - kLayoutShellsDir.size() - 5))) {
          stale.push_back(path);
        }
      }
      for (const std::string& path : stale) m.files.erase(path);
      for (const auto& [name, layout] : layouts) {
        RETURN_IF_ERROR(make_layout_shell(std::string(kLayoutShellsDir) + name + ".tmpl", layout));
      }
    }
    if (!has_shell) {
      m.files.erase(shell_path);
      return Status::Ok();
    }
    return make_layout_shell(shell_path, layouts.at("default"));
  };
  // Renders (or copies) the source of `url` into m.files.
  auto make = [&](const std::string& url, const Source& src) -> Status {
    FileEntry e;
    std::string bytes;
    if (src.kind == SourceKind::kCopy) {
      ASSIGN_OR_RETURN(bytes, env.ReadFile(src.file));
      e.content_type = ContentTypeForPath(url);
    } else {
      FrontMatter fm;
      ASSIGN_OR_RETURN(
          bytes, RenderPage(env, src, vars, options.products.get(), layouts, layout_cache, fm));
      e.content_type = ContentTypeForPath(url);
      e.method = fm.method;
      e.link_url = fm.link_url;
      if ((e.method == UpdateMethod::kLink) != !e.link_url.empty()) {
        return Status::InvalidArgument(src.label + ": 'method: link' and 'link_url' go together");
      }
      if (marker_vars && e.method != UpdateMethod::kLink) {
        // The page as a template (template_vars.h), rendered once per run for all partners, and
        // used only when it gives exactly this partner's page.
        const CowMap<std::string>& digests = wanted;
        auto digest = digests.find(url);
        const std::string key = template_key_prefix + url + '\0' +
                                (digest != digests.end() ? digest->second : std::string());
        std::optional<BlobRef> ref;
        std::string tmpl;
        bool known = cache->FindTemplate(key, &ref);
        if (known && ref) {
          auto stored = blobs.Get(ref->hash, ref->length);
          known = stored.ok();  // another blob store, or gone: rendered again
          if (known) tmpl = std::move(*stored);
        }
        if (!known) {
          FrontMatter marker_fm;
          ASSIGN_OR_RETURN(tmpl, RenderPage(env, src, *marker_vars, options.products.get(), layouts,
                                            layout_cache, marker_fm));
          ++r.templates_rendered;
          ref.reset();
          if (HasVariableMarker(tmpl)) {
            ASSIGN_OR_RETURN(std::string hash, out->Put(tmpl));
            ref = BlobRef{std::move(hash), tmpl.size()};
          }
          if (batch) {
            templates_made.emplace_back(key, ref);
          } else {
            cache->NoteTemplate(key, ref);
          }
        }
        if (ref) {
          auto made = SubstituteVariables(tmpl, partner_values);
          if (made.ok() && *made == bytes) {
            e.hash = ref->hash;
            e.length = ref->length;
            e.vars = true;
            bytes.clear();
          }
        }
      }
    }
    if (!e.vars) {
      e.length = bytes.size();
      ASSIGN_OR_RETURN(e.hash, out->Put(bytes));
      ASSIGN_OR_RETURN(e.gzip, internal::MakeGzipVariant(*out, bytes, e.content_type));
    }
    Status valid = ValidatePath(url);
    if (valid.ok()) valid = ValidateFileEntry(url, e);
    if (!valid.ok()) return valid.Annotate("building release " + std::to_string(options.version));
    // Equal to what the previous release had (e.g. only the digest's directory changed): the
    // entry is left as it is, so its chunk stays shared.
    const FileMap& current = m.files;
    auto same = current.find(url);
    if (same == current.end() || !(same->second == e)) m.files.insert_or_assign(url, std::move(e));
    ++r.rendered;
    return Status::Ok();
  };
  // The paths to make. With a previous build (whose release and inputs name the same paths, as
  // a build leaves them): those whose digest differs, found chunk by chunk (the previous
  // inputs share their unchanged chunks with this run's digests); every rendered page when the
  // variables or layouts changed; and any whose blobs are gone. The result starts from the
  // previous release, so it shares every chunk nothing changed. Without one (or when the two
  // disagree: a damaged store), every path.
  std::vector<std::string> todo;
  // The machine files of the previous release (not in its inputs): the page shell, and the
  // layout shells when this build makes them (counted only then: a walk over every path).
  auto machine_files = [&](const FileMap& files) {
    size_t n = files.contains(shell_path) ? 1 : 0;
    if (options.layout_shells) {
      for (const auto& [path, e] : files) n += path.starts_with(kLayoutShellsDir) ? 1 : 0;
    }
    return n;
  };
  bool reuse = previous.manifest != nullptr && previous.inputs != nullptr &&
               previous.manifest->files.size() ==
                   previous.inputs->digests.size() + machine_files(previous.manifest->files);
  if (reuse) {
    m.files = previous.manifest->files;
    previous.inputs->digests.ForEachDifference(
        wanted,
        [&](const std::string& url, const std::string* /*before*/, const std::string* after) {
          if (after != nullptr) {
            todo.push_back(url);
          } else if (m.files.erase(url) != 1) {
            reuse = false;
          }
        });
  }
  const bool context_changed = reuse && previous.inputs->context != r.inputs.context;
  if (reuse && (context_changed || previous.verify_blobs)) {
    // One walk over the sources beside the entries (both in path order).
    std::vector<std::string> more;
    auto next = todo.begin();
    const FileMap& files = m.files;
    auto e = files.begin();
    for (const auto& [url, src] : sources) {
      while (next != todo.end() && *next < url) ++next;
      if (next != todo.end() && *next == url) continue;  // made anyway
      while (e != files.end() && e->first < url) ++e;
      if (e == files.end() || e->first != url ||
          (context_changed && src.kind != SourceKind::kCopy) ||
          (previous.verify_blobs &&
           !(cache->HasBlob(blobs, e->second.hash) &&
             (!e->second.gzip || cache->HasBlob(blobs, e->second.gzip->hash))))) {
        more.push_back(url);
      }
    }
    todo.insert(todo.end(), more.begin(), more.end());
    std::sort(todo.begin(), todo.end());
  }
  if (!reuse || todo.size() >= kBlobBatchWorthIt) use_batch();
  if (reuse) {
    for (const std::string& url : todo) {
      auto src = sources.find(url);  // `wanted` and `sources` name the same paths
      if (src == sources.end()) return Status::Internal("building: no source for '" + url + "'");
      RETURN_IF_ERROR(make(url, src->second));
    }
    RETURN_IF_ERROR(make_shell());
    // Entries the previous inputs did not name (or the other way round) are not in the
    // difference: a result of the wrong size shows them, and everything is made again.
    if (m.files.size() != wanted.size() + shells) reuse = false;
  }
  if (!reuse) {
    use_batch();
    m.files = FileMap();
    r.rendered = 0;
    for (const auto& [url, src] : sources) RETURN_IF_ERROR(make(url, src));
    RETURN_IF_ERROR(make_shell());
  }
  if (batch) {
    RETURN_IF_ERROR(batch->Commit().Annotate("storing the pages of release " +
                                             std::to_string(options.version)));
    for (auto& [key, ref] : templates_made) cache->NoteTemplate(key, std::move(ref));
  }
  r.reused = sources.size() - r.rendered;
  // Every path's digest is this run's (a reused path's equals it): shared with the trees.
  r.inputs.digests = std::move(wanted);
  // Rendered entries were checked as they were made, reused ones came from a valid release: only
  // the header is left.
  Status s = m.ValidateHeader();
  if (!s.ok()) return s.Annotate("building release " + std::to_string(options.version));
  return r;
}

}  // namespace tieup::content
