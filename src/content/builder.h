// BuildRelease: renders an authoring directory into a release (main builds each partner's
// release this way, so the bytes a partner serves are exactly the bytes main signs).
//
// Authoring layout (an overrides directory has the same layout):
//   layouts/<name>.mustache  page layouts; "default" unless a page says otherwise. A layout sees
//                            the variables, {{title}} and the page HTML as {{{content}}}.
//   pages/**                 "x.md" (GitHub-flavoured Markdown: tables, strikethrough,
//                            autolinks; raw HTML kept) and "x.html" become "/x.html"; both are
//                            first rendered as mustache with the variables, then put in their
//                            layout. Other files under pages/ are copied as they are.
//                            Optional front matter between two "---" lines at the top:
//                              title: ...            the page title ({{title}})
//                              layout: name | none   the layout ("none": the body as it is)
//                              method: staged | overwrite | link, link_url: https://...
//                              products: SKU, SKU, ... | *
//                                                    products of the catalog
//                                                    (BuildOptions::products) the page shows:
//                                                    {{product.title}} is the first one's,
//                                                    {{#products}}...{{/products}} walks them
//                                                    in the listed order ("*": every product,
//                                                    in SKU order). A page is rendered again
//                                                    when a product it names changes.
//   assets/**                copied byte for byte to "/assets/<same relative path>".
//
// The page shell: with a layouts/default.mustache, every release also holds the machine file
// content::kPageShellPath (content/page_templates.h): the default layout rendered with the
// variables, with markers for {{title}}, {{{content}}} and {{cart_count}} (which static pages
// render empty), so that pages made at run time (shop, account) wear the same layout. It is not
// a page (application/octet-stream), is rendered by every build, and is in the release but not in
// BuildInputs. A source at that path is refused. Page templates under pages/.tieup/templates/
// are kept with kind `template` (only_overridden_pages), as the layouts are.
//
// A file of the overrides directory replaces the authoring file that produces the same URL path
// (or layout name), or adds a path. Text files above 1 KiB get a gzip variant when it is
// smaller. Every output goes into the BlobStore; equal bytes make equal blobs, so pages that do
// not differ between partners are stored once.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/cow_map.h"
#include "base/env.h"
#include "base/status.h"
#include "content/blob_store.h"
#include "content/release.h"

namespace tieup::content {

// One product as pages show it: field name -> text ("sku", "title", "price", "stock_state",
// ...; the caller decides the fields). In templates an empty field is false, so
// {{#product.sold_out}}...{{/product.sold_out}} works.
using PageProduct = std::map<std::string, std::string>;
// SKU -> its fields.
using PageProducts = std::map<std::string, PageProduct>;
// A product's field naming the products bought with it ("customers who bought this also
// bought"): SKUs separated by spaces. In templates it is the list of those products' records
// (those in the table, in order), so {{#product.also_bought}}<a href="{{page_path}}">{{title}}
// </a>{{/product.also_bought}} works, and "has_also_bought" is true when the list is not empty
// (for a heading shown once); their records count in the page's digest like the page's own
// products.
inline constexpr std::string_view kAlsoBoughtField = "also_bought";

struct BuildOptions {
  std::string authoring_dir;
  std::string overrides_dir;  // optional: "" for none
  Area area = Area::kTieup;
  std::string site;  // the id of the site the release is for
  uint64_t version = 1;
  int64_t created = 0;  // unix seconds
  int64_t expires = 0;  // unix seconds; 0 = never
  // Template variables; a dotted name becomes nested objects: "partner.name" is
  // {{partner.name}}. InvalidArgument when a name is both a value and an object ("a", "a.b").
  std::map<std::string, std::string> variables;
  // Kind `template`: the release holds only the assets (of either directory) and the pages the
  // overrides directory adds or replaces (rendered into the merged layouts); the authoring
  // directory's own pages are left out.
  bool only_overridden_pages = false;
  // Kind `template`: the release also holds every layout as a shell (content::kLayoutShellsDir,
  // content/page_templates.h), rendered with the variables as the page shell is, so that the
  // partner renders its own pages into main's signed layouts (content/markdown_page.h).
  bool layout_shells = false;
  // The catalog the pages' front matter 'products' names (the caller turns its catalog into
  // display records: content does not know commerce). A page naming a SKU that is not here, or
  // naming products at all when this is null, is an error (InvalidArgument, naming the page).
  std::shared_ptr<const PageProducts> products;  // null: no catalog
  // Names of `variables` that differ between the partners built from the same directories
  // ("partner.name", ...): with any, each rendered page that shows them is also rendered with
  // their markers (content/template_vars.h), and when putting the values in gives exactly the
  // page, the release names that template (FileEntry::vars, stored once for every partner)
  // instead of the page, and carries these variables' values (ReleaseManifest::variables).
  // Empty: every page as rendered.
  std::set<std::string> partner_variables;
};

// What each path of a built release was made from: a digest of its inputs (the builder's
// version, the source file's bytes and kind, which directory it came from, for rendered pages
// the variables and every layout, and for a page naming products their records). The next build of
// the same site re-uses the entry of every path whose digest is unchanged instead of reading and
// rendering it again.
struct BuildInputs {
  // The inputs every rendered page shares: a SHA-256 (raw) of the builder's version, the
  // variables and every layout. A rendered page is reused only when it is unchanged.
  std::string context;
  // URL path -> what the path was made from: one byte for the source's kind and directory, then
  // the raw SHA-256 of the source file's bytes; for a page naming products, the byte has a flag
  // and the SHA-256 covers the records of those products too.
  // Copies share storage (base/cow_map.h): the next build's inputs are this one's with the
  // rendered paths changed.
  CowMap<std::string> digests;

  // A compact binary form (for storage beside the release).
  std::string Encode() const;
  // Encode() split for chunked storage: Encode() is EncodeHeader() followed by the bytes of
  // every chunk of `digests`, in order. Each chunk comes with the raw SHA-256 of its bytes; both
  // are kept by the chunk (computed once while it is shared), and the views stay valid while
  // this object lives unchanged.
  std::string EncodeHeader() const;
  std::vector<EncodedChunk> EncodedChunks() const;
  // Inverse of Encode; DataLoss for anything else.
  static Result<BuildInputs> Parse(std::string_view bytes);
  friend bool operator==(const BuildInputs&, const BuildInputs&) = default;
};

// A memo shared by the builds of one run (one publish to many partners): each source tree is
// listed once and each source file read and hashed once, however many releases are built from
// it, and each reused blob is checked once. Within a run, a file changed after it was hashed is
// rendered from its new bytes but recorded with the old digest, so the next run renders it
// again: never stale, at worst rendered twice. A long-lived caller calls NewRun before each run
// to keep the hashes of files that did not change. Thread-safe.
class SourceCache {
 public:
  SourceCache();
  ~SourceCache();
  // Starts another run with the same cache (a daemon that publishes many times): directories
  // are listed again, and a file is read and hashed again unless the new listing shows it with
  // the same size, inode and modification time as when it was hashed, and it had not been
  // modified in the 2 seconds before that (a change within the file system's timestamp
  // granularity is then not missed). With no modification times (some Envs), every file is
  // read again.
  void NewRun();
  // Records how a directory listing showed `file` (builder.cc's listings call it).
  void NoteListed(const std::string& file, const FileInfo& info);
  // Every regular file below `dir`, relative to it, sorted (depth-bounded).
  Result<std::shared_ptr<const std::vector<std::string>>> ListFiles(Env& env,
                                                                    const std::string& dir);
  // The raw SHA-256 of the bytes of `file`; the view stays valid while the cache lives.
  Result<std::string_view> Hash(Env& env, const std::string& file);
  // True iff `blobs` has the blob `hash_hex` (asked once per hash).
  bool HasBlob(BlobStore& blobs, const std::string& hash_hex);

  // The template (content/template_vars.h) of a page, as the first build of this run that
  // rendered it with markers found it: `key` names what it was made from (the builder's), and the
  // value is the template's blob, or nullopt when the page shows no partner variable. The other
  // partners' builds of the run take it from here instead of rendering the page a second time.
  // Forgotten by NewRun. False when not known.
  bool FindTemplate(const std::string& key, std::optional<BlobRef>* tmpl);
  void NoteTemplate(const std::string& key, std::optional<BlobRef> tmpl);

  // The sources and layouts of one directory tree (builder.cc), collected once.
  struct Tree;
  Result<std::shared_ptr<const Tree>> Collect(Env& env, const std::string& root,
                                              std::string_view label_prefix, bool from_overrides);

 private:
  std::shared_mutex mu_;  // many builds read at once; a miss takes it exclusively
  std::map<std::string, std::shared_ptr<const std::vector<std::string>>>
      listings_;  // guarded by mu_
  // What a file looked like when listed in this run.
  struct Stat {
    uint64_t size = 0;
    int64_t mtime_ns = 0;
    uint64_t inode = 0;
    friend bool operator==(const Stat&, const Stat&) = default;
  };
  struct Hashed {
    std::string digest;
    // For a page file (.md, .html): what its front matter's 'products' names ({"*"}: every
    // product), parsed from the bytes hashed; empty when nothing (or the front matter is bad:
    // rendering reports that).
    std::vector<std::string> products;
    Stat stat;            // as listed when hashed
    bool stable = false;  // listed, and unmodified for 2 s when hashed: reusable in a new run
    bool this_run = true;
  };
  // The entry of `file`, hashed (and its front matter read) in this run; stable while the
  // cache lives and the run lasts.
  Result<const Hashed*> HashEntry(Env& env, const std::string& file);

  std::unordered_map<std::string, Stat> stats_;                        // guarded by mu_
  std::unordered_map<std::string, Hashed> hashes_;                     // guarded by mu_
  std::unordered_set<std::string> blobs_present_;                      // guarded by mu_
  std::unordered_map<std::string, std::optional<BlobRef>> templates_;  // guarded by mu_
  std::map<std::string, std::shared_ptr<const Tree>> trees_;           // guarded by mu_
  // The digests of each tree's sources as the latest run collected them (kept across runs, so
  // that the next run's share their unchanged chunks).
  std::map<std::string, CowMap<std::string>> last_digests_;  // guarded by mu_
};

// The previous release of the same site, for an incremental build: a release and the inputs
// one build made it from (they name the same paths, but for the page shell). Both or neither. A
// pair that names different paths is detected when their sizes or the result's size differ, or by
// the walk verify_blobs makes, and then every path is made again.
struct PreviousBuild {
  const ReleaseManifest* manifest = nullptr;
  const BuildInputs* inputs = nullptr;
  // Check that a reused entry's blobs are still in the store (one stat each). A caller whose
  // blob store is never pruned (main's partner-blobs) may turn it off.
  bool verify_blobs = true;
};

struct BuildResult {
  ReleaseManifest manifest;
  BuildInputs inputs;
  size_t rendered = 0;  // paths read and rendered (or copied) by this build
  size_t reused = 0;    // paths taken from the previous release
  // Pages this build rendered with markers (BuildOptions::partner_variables); a page another
  // build of the run rendered so is taken from the SourceCache.
  size_t templates_rendered = 0;
};

// As BuildRelease, re-using from `previous` every path whose inputs are unchanged (its blob must
// still be in `blobs`), and reading sources through `cache` (null: a private one). The result is
// exactly what a full build gives. Only the paths whose digest differs are made again (every
// rendered page too when the variables or layouts changed; a page naming products when one of
// them changed, a "*" page when any did): the previous inputs are compared
// with the cache's digests chunk by chunk, and a long-lived cache (NewRun) keeps the unchanged
// chunks shared, so a daemon's build after a one-page change does work for that page only (plus
// one blob check per path when verify_blobs is on).
Result<BuildResult> BuildReleaseIncremental(Env& env, BlobStore& blobs, const BuildOptions& options,
                                            const PreviousBuild& previous, SourceCache* cache);

// Renders and stores the release described by `options`; returns its (valid) manifest. Errors
// name the file at fault: a missing layout, bad front matter, a bad template, two sources for one
// path, a file name that is not a valid URL path. Thread-safe (no shared state).
Result<ReleaseManifest> BuildRelease(Env& env, BlobStore& blobs, const BuildOptions& options);

// One page as a build with `options` renders it, for a preview of unsaved edits: `drafts` maps
// files of the authoring directory, relative to it ("pages/index.md", "layouts/default.mustache"),
// to the bytes to use instead of the file's (a file that does not exist yet is added). The
// overrides directory still replaces what it replaces (a draft of a page or layout it overrides
// is then not what the page shows: `from_overrides` says so). Nothing is stored.
struct PagePreview {
  std::string url_path;  // "/index.html"
  std::string html;      // the page's bytes as the release would hold them
  std::string label;     // the source that made it: "pages/index.md", "overrides DIR: pages/..."
  bool from_overrides = false;
  // False when the release leaves the page out (only_overridden_pages and main's page).
  bool in_release = true;
  UpdateMethod method = UpdateMethod::kStaged;  // as its front matter says
  std::string link_url;
};
// `url_path` names the page ("/index.html"); NotFound when no page (.md or .html source under
// pages/, or a draft) makes it; other errors as BuildRelease's, naming the file at fault.
Result<PagePreview> RenderPagePreview(Env& env, const BuildOptions& options,
                                      const std::string& url_path,
                                      const std::map<std::string, std::string>& drafts);

// A page's front matter as the builder reads it ("---" lines at the top of a .md or .html page;
// see the file comment). `*body_start` is where the body begins (0: no front matter).
// InvalidArgument naming `label` and the line when it is malformed.
struct PageFrontMatter {
  std::string title;
  std::optional<std::string> layout;  // nullopt: "default"
  // Keys only main's builds use (a partner's own page refuses them).
  bool has_method = false;
  bool has_link_url = false;
  bool has_products = false;
};
Result<PageFrontMatter> ParsePageFrontMatter(std::string_view text, const std::string& label,
                                             size_t* body_start);

// GitHub-flavoured Markdown (tables, strikethrough, autolinks; raw HTML kept) as HTML, as the
// builder renders .md pages (cmark-gfm). `label` names the text in errors.
Result<std::string> RenderMarkdown(const std::string& markdown, const std::string& label);

// The Content-Type for a file name, from its extension (html, css, js, json, svg, png, jpg, gif,
// webp, ico, txt, xml, pdf, woff2); "application/octet-stream" otherwise.
std::string ContentTypeForPath(std::string_view path);

}  // namespace tieup::content
