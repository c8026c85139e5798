#include "content/markdown_page.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "content/builder.h"
#include "content/gzip_variant.h"
#include "content/page_templates.h"

namespace tieup::content {
namespace {

constexpr std::string_view kMarkdownType = "text/markdown; charset=utf-8";
// A fragment's source is not a page of its own (text/html would make it one).
constexpr std::string_view kFragmentType = "text/plain; charset=utf-8";

// `suffix` is lower-case. No allocation: the public port asks for every request.
bool EndsWithNoCase(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  const std::string_view tail = s.substr(s.size() - suffix.size());
  for (size_t i = 0; i < tail.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(tail[i])) != suffix[i]) return false;
  }
  return true;
}

bool IsMarkdownPath(std::string_view path) { return EndsWithNoCase(path, ".md"); }

bool StartsWithFrontMatter(std::string_view bytes) {
  const size_t end = bytes.find('\n');
  std::string_view first = bytes.substr(0, end);
  while (!first.empty() && (first.back() == '\r' || first.back() == ' ')) first.remove_suffix(1);
  return first == "---";
}

// Where the source put at `source` is kept: a Markdown page at its own path, a fragment aside
// ("/news.html" -> "/.tieup/own/news.html").
std::string StorePath(std::string_view source) {
  if (IsMarkdownPath(source)) return std::string(source);
  return std::string(kOwnSourcesDir) + std::string(source.substr(1));
}

// The source as the manager names it: "/.tieup/own/news.html" -> "/news.html".
std::string SourceName(std::string_view store_path) {
  if (!store_path.starts_with(kOwnSourcesDir)) return std::string(store_path);
  return "/" + std::string(store_path.substr(kOwnSourcesDir.size()));
}

// True iff `path` of the original area is an own page's source.
bool IsStoredSource(std::string_view path) {
  if (path.starts_with(kOwnSourcesDir)) return true;
  return !path.starts_with("/.tieup/") && IsMarkdownPath(path);
}

// The first "# " heading of a Markdown body, for a page without a title.
std::string FirstHeading(std::string_view body) {
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find('\n', pos);
    std::string_view line = body.substr(pos, end == std::string_view::npos ? end : end - pos);
    if (line.starts_with("# ")) {
      std::string_view t = line.substr(2);
      while (!t.empty() && (t.back() == '\r' || t.back() == ' ' || t.back() == '#'))
        t.remove_suffix(1);
      return std::string(t);
    }
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return "";
}

// The shells of the served tie-up release, read once per name.
class Shells {
 public:
  Shells(ContentStore& store, std::string site_name)
      : store_(store), site_name_(std::move(site_name)) {
    auto served = store.Served(Area::kTieup);
    if (served.ok()) tieup_ = *served;
  }

  // The page `body` in layout `name`; `shell_out` says which shell it wears, `note_out` is set
  // when the layout asked for is not there.
  std::string Wrap(const std::string& name, const PageFrame& frame, std::string_view body,
                   std::string* shell_out, std::string* note_out) {
    if (const std::string* shell = Find(std::string(kLayoutShellsDir) + name + ".tmpl")) {
      if (auto page = FillPageShell(*shell, frame, body)) {
        *shell_out = "main's layout '" + name + "'";
        return std::move(*page);
      }
    }
    if (name != "default" && tieup_ != nullptr) {
      *note_out = "layout '" + name + "' is not in main's release: its default layout is used";
    }
    if (const std::string* shell = Find(std::string(kLayoutShellsDir) + "default.tmpl")) {
      if (auto page = FillPageShell(*shell, frame, body)) {
        *shell_out = "main's layout 'default'";
        return std::move(*page);
      }
    }
    if (const std::string* shell = Find(std::string(kPageShellPath))) {
      if (auto page = FillPageShell(*shell, frame, body)) {
        *shell_out = "main's page shell";
        return std::move(*page);
      }
    }
    *shell_out = "the built-in layout";
    // The plain built-in shell: PageTemplates without a release.
    static const EmbeddedTemplates kNone;
    PageTemplates builtin(kNone, PageSite{nullptr, Area::kTieup, site_name_, nullptr});
    return builtin.InShell(frame, body);
  }

 private:
  const std::string* Find(const std::string& path) {
    auto cached = cache_.find(path);
    if (cached != cache_.end()) return cached->second ? &*cached->second : nullptr;
    std::optional<std::string> bytes;
    if (tieup_ != nullptr) {
      auto it = tieup_->files.find(path);
      if (it != tieup_->files.end()) {
        auto body = store_.blobs().Get(it->second.hash, it->second.length);
        if (body.ok()) bytes = std::move(*body);
      }
    }
    auto [pos, inserted] = cache_.emplace(path, std::move(bytes));
    return pos->second ? &*pos->second : nullptr;
  }

  ContentStore& store_;
  std::string site_name_;
  std::shared_ptr<const ReleaseManifest> tieup_;
  std::map<std::string, std::optional<std::string>> cache_;
};

Result<RenderedOwnPage> Render(Shells& shells, std::string_view source, std::string_view bytes,
                               std::string* note) {
  RenderedOwnPage out;
  out.source = std::string(source);
  out.path = OwnPageServedPath(source);
  const std::string label(source);
  size_t body_start = 0;
  ASSIGN_OR_RETURN(PageFrontMatter fm, ParsePageFrontMatter(bytes, label, &body_start));
  if (fm.has_method || fm.has_link_url || fm.has_products) {
    return Status::InvalidArgument(
        label +
        ": 'method', 'link_url' and 'products' are for main's pages; a page of your own has "
        "'title' and 'layout' only");
  }
  std::string body(bytes.substr(body_start));
  out.title = fm.title;
  if (IsMarkdownPath(source)) {
    if (out.title.empty()) out.title = FirstHeading(body);
    ASSIGN_OR_RETURN(body, RenderMarkdown(body, label));
  }
  out.layout = fm.layout.value_or("default");
  if (out.layout == "none") {
    out.shell = "none";
    out.html = std::move(body);
    return out;
  }
  out.html = shells.Wrap(out.layout, PageFrame{out.title, std::nullopt}, body, &out.shell, note);
  if (!note->empty()) *note = label + ": " + *note;
  return out;
}

// The entry of `bytes` as `content_type`, its blob put. Its gzip variant is made only when
// `files` has no entry at `path` with the same bytes and type (a page rendered again as it
// was keeps its variant: a re-render re-gzips only what changed).
Result<FileEntry> PutBlob(ContentStore& store, std::string_view bytes,
                          std::string_view content_type, const FileMap& files,
                          std::string_view path) {
  FileEntry e;
  e.content_type = std::string(content_type);
  e.length = bytes.size();
  ASSIGN_OR_RETURN(e.hash, store.blobs().Put(bytes));
  if (auto current = files.find(path); current != files.end() && current->second.hash == e.hash &&
                                       current->second.length == e.length &&
                                       current->second.content_type == e.content_type) {
    e.gzip = current->second.gzip;
    return e;
  }
  ASSIGN_OR_RETURN(e.gzip, internal::MakeGzipVariant(store.blobs(), bytes, e.content_type));
  return e;
}

// The store path of the own page `path` names in `files` (a source "/news.md" or fragment
// "/news.html", or a served path "/news.html"), or "".
std::string FindSource(const FileMap& files, std::string_view path) {
  if (IsStoredSource(path)) return files.contains(path) ? std::string(path) : "";
  if (EndsWithNoCase(path, ".html")) {
    const std::string fragment = StorePath(path);
    if (files.contains(fragment)) return fragment;
    const std::string md = std::string(path.substr(0, path.size() - 5)) + ".md";
    if (files.contains(md)) return md;
  }
  return "";
}

Status TieupPage(std::string_view path) {
  return Status::PermissionDenied("'" + std::string(path) +
                                  "' is a tie-up page managed by the main site; choose another "
                                  "path");
}

}  // namespace

bool IsOwnPageSource(std::string_view path, std::string_view bytes) {
  if (path.starts_with(kOwnSourcesDir)) return false;
  return IsMarkdownPath(path) || (EndsWithNoCase(path, ".html") && StartsWithFrontMatter(bytes));
}

std::string OwnPageServedPath(std::string_view path) {
  if (IsMarkdownPath(path)) return std::string(path.substr(0, path.size() - 3)) + ".html";
  return std::string(path);
}

std::optional<std::string> RenderedAddressOf(const SiteView& view, std::string_view path) {
  if (!IsMarkdownPath(path) || path.starts_with("/.tieup/")) return std::nullopt;
  const ServedFile* source = view.Find(path);
  if (source == nullptr || source->area != Area::kOriginal) return std::nullopt;
  std::string served = OwnPageServedPath(path);
  const ServedFile* page = view.Find(served);
  if (page == nullptr || page->area != Area::kOriginal) return std::nullopt;
  return served;
}

Result<RenderedOwnPage> RenderOwnPage(ContentStore& store, std::string_view path,
                                      std::string_view bytes, const OwnPagesOptions& options) {
  Shells shells(store, options.site_name);
  std::string note;
  return Render(shells, path, bytes, &note);
}

bool IsOwnPage(ContentStore& store, std::string_view path) {
  auto original = store.Active(Area::kOriginal);
  return original.ok() && !FindSource((*original)->files, path).empty();
}

Result<OwnPageSource> ReadOwnPageSource(ContentStore& store, std::string_view path) {
  auto original = store.Active(Area::kOriginal);
  const std::string at = original.ok() ? FindSource((*original)->files, path) : "";
  if (at.empty()) {
    return Status::NotFound("'" + std::string(path) +
                            "' is no page of your own written in "
                            "Markdown or as an HTML fragment");
  }
  const FileEntry& e = (*original)->files.at(at);
  ASSIGN_OR_RETURN(std::string bytes, store.blobs().Get(e.hash, e.length));
  return OwnPageSource{SourceName(at), std::move(bytes)};
}

Result<OwnPagesResult> UpdateOwnPages(Env& env, ContentStore& store, const OwnPagesChange& change,
                                      const OwnPagesOptions& options) {
  std::shared_ptr<const ReleaseManifest> original;
  if (auto active = store.Active(Area::kOriginal); active.ok()) {
    original = *active;
  } else if (active.status().code() != StatusCode::kNotFound) {
    return active.status();
  }
  std::shared_ptr<const ReleaseManifest> tieup;
  if (auto served = store.Served(Area::kTieup); served.ok()) tieup = *served;

  FileMap files = original ? original->files : FileMap();
  // Source bytes by store path, for the sources this call writes (the others are read back).
  std::map<std::string, std::string> written;
  std::set<std::string> given;        // every path this change names
  std::vector<std::string> replaced;  // notes: whole pages a source's page replaces
  auto once = [&](const std::string& path) -> Status {
    RETURN_IF_ERROR(ValidatePath(path));
    if (!given.insert(path).second) {
      return Status::InvalidArgument("'" + path + "' is given twice: put each page once");
    }
    return Status::Ok();
  };

  for (const std::string& path : change.remove) {
    RETURN_IF_ERROR(once(path));
    const std::string at = FindSource(files, path);
    if (at.empty()) {
      return Status::NotFound("'" + path +
                              "' is no page of your own written in Markdown or as "
                              "an HTML fragment");
    }
    files.erase(OwnPageServedPath(SourceName(at)));
    files.erase(at);
  }
  for (const auto& p : change.plain) {
    RETURN_IF_ERROR(once(p.path));
    if (tieup && tieup->files.contains(p.path)) return TieupPage(p.path);
    if (const std::string at = FindSource(files, p.path); !at.empty() && at != p.path) {
      return Status::AlreadyExists("'" + p.path + "' is made from your page '" + SourceName(at) +
                                   "': edit that page, or remove it first");
    }
    const std::string type = p.content_type.empty() ? ContentTypeForPath(p.path) : p.content_type;
    ASSIGN_OR_RETURN(FileEntry e, PutBlob(store, p.bytes, type, files, p.path));
    files.insert_or_assign(p.path, std::move(e));
  }
  for (const auto& p : change.put) {
    RETURN_IF_ERROR(once(p.path));
    if (!IsOwnPageSource(p.path, p.bytes)) {
      return Status::InvalidArgument("'" + p.path +
                                     "' is not a Markdown page (.md) or an HTML fragment (an "
                                     ".html file that starts with a front matter line '---')");
    }
    const std::string served = OwnPageServedPath(p.path);
    if (tieup && tieup->files.contains(p.path)) return TieupPage(p.path);
    if (tieup && tieup->files.contains(served)) {
      return Status::PermissionDenied("'" + p.path + "' would be served at '" + served +
                                      "', a tie-up page managed by the main site; choose another "
                                      "path");
    }
    const std::string at = StorePath(p.path);
    const std::string other = FindSource(files, served);
    if (!other.empty() && other != at) {
      return Status::AlreadyExists("'" + SourceName(other) + "' is served at '" + served +
                                   "' already: edit that page, or remove it first");
    }
    // A page written here at the address of a whole page of the site's own replaces it (the
    // manager edits that page; the console's editor saves an HTML page again as Markdown): said
    // in the notes, never silently.
    if (other.empty() && files.contains(served)) {
      replaced.push_back(p.path + ": replaces the page that was at " + served);
    }
    ASSIGN_OR_RETURN(
        FileEntry e,
        PutBlob(store, p.bytes, IsMarkdownPath(p.path) ? kMarkdownType : kFragmentType, files, at));
    files.insert_or_assign(at, std::move(e));
    written[at] = p.bytes;
  }

  // Every source, rendered into the current layouts.
  OwnPagesResult result;
  result.notes = std::move(replaced);
  Shells shells(store, options.site_name);
  std::vector<std::pair<std::string, FileEntry>> rendered;
  {
    const FileMap& current = files;
    for (const auto& [at, e] : current) {
      if (!IsStoredSource(at)) continue;
      std::string bytes;
      if (auto w = written.find(at); w != written.end()) {
        bytes = w->second;
      } else {
        ASSIGN_OR_RETURN(bytes, store.blobs().Get(e.hash, e.length));
      }
      std::string note;
      ASSIGN_OR_RETURN(RenderedOwnPage page, Render(shells, SourceName(at), bytes, &note));
      if (!note.empty()) result.notes.push_back(std::move(note));
      ASSIGN_OR_RETURN(FileEntry out, PutBlob(store, page.html, ContentTypeForPath(page.path),
                                              current, page.path));
      rendered.emplace_back(page.path, std::move(out));
      page.html.clear();
      result.pages.push_back(std::move(page));
    }
  }
  for (auto& [path, e] : rendered) {
    const FileMap& current = files;
    auto same = current.find(path);
    if (same == current.end() || !(same->second == e)) files.insert_or_assign(path, std::move(e));
  }

  if (original && files == original->files) {
    result.version = original->version;
    return result;
  }
  if (!original && files.empty()) return result;
  ReleaseManifest next;
  if (original) {
    next = *original;
  } else {
    next.area = Area::kOriginal;
    next.site = !options.site_id.empty() ? options.site_id : (tieup ? tieup->site : "");
  }
  next.files = std::move(files);
  // Above every version on disk, as a page edit: a staged release is never overwritten.
  ASSIGN_OR_RETURN(auto versions, store.StagedVersions(Area::kOriginal));
  const uint64_t top = versions.empty() ? 0 : versions.back();
  next.version = std::max(top, original ? original->version : 0) + 1;
  next.created = env.NowSeconds();
  next.expires = 0;  // the partner's own release, not main's signed metadata
  RETURN_IF_ERROR(store.Stage(next));
  RETURN_IF_ERROR(store.Activate(Area::kOriginal, next.version));
  result.changed = true;
  result.version = next.version;
  return result;
}

}  // namespace tieup::content
