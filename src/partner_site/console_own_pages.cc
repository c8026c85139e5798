// The partner console's own pages (partner_site/console_pages.h): the list; a page written in
// Markdown or HTML, with a preview in the site's layout before it is saved; uploads of images
// and files; rename; delete after a confirmation page. Every change goes through page_tools.h,
// the code `tieup partner page put|rm|ls` runs, so the console and the command line refuse the
// same things with the same words.
//
//   GET  /pages                      the list
//   GET  /pages/edit[?path=P]        the editor (a new page without P)
//   POST /pages/edit                 save: path, format (markdown|html), title, body
//   GET  /pages/preview?path=P       the saved page P, for the editor's preview frame
//   POST /pages/preview              the editor's fields rendered as Save would, not saved
//   GET  /pages/upload               the upload form
//   POST /pages/upload               multipart: file (one or more), to (optional)
//   GET  /pages/rename?path=P        the rename form; POST path, to
//   GET  /pages/delete?path=P        what will be removed, and a confirm button; POST path
#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <set>

#include "base/byte_count.h"
#include "base/encoding.h"
#include "commerce/form.h"
#include "content/builder.h"
#include "content/content_store.h"
#include "content/markdown_page.h"
#include "content/release.h"
#include "partner_site/console_common.h"
#include "partner_site/own_content.h"
#include "partner_site/page_tools.h"

namespace tieup {
// The console's page templates (generated from src/partner_site/console_templates/ by CMake).
const std::vector<std::pair<std::string_view, std::string_view>>& EmbeddedPartnerConsoleTemplates();
}  // namespace tieup

namespace tieup::partner_console {

std::string TempPath(ConsoleState& s, std::string_view what) {
  return JoinPath(s.daemon->site().site_dir(), "run/console-" + std::string(what) + "-" +
                                                   HexEncode(RandomString(s.daemon->env(), 12)));
}

namespace {

// The most one upload (its whole multipart body) may be.
constexpr uint64_t kMaxUploadBytes = 8u << 20;

// --- helpers ---

std::string_view TemplateText(std::string_view name) {
  for (const auto& [n, text] : EmbeddedPartnerConsoleTemplates()) {
    if (n == name) return text;
  }
  return {};
}

// "Web page", "PNG image": what a content type is, for a person.
std::string KindOf(std::string_view type) {
  const std::string_view base = type.substr(0, type.find(';'));
  static const std::map<std::string, std::string, std::less<>> kKinds = {
      {"text/html", "Web page"},
      {"text/css", "Style sheet"},
      {"text/javascript", "Script"},
      {"text/plain", "Text"},
      {"application/json", "JSON data"},
      {"application/xml", "XML data"},
      {"application/pdf", "PDF document"},
      {"image/png", "PNG image"},
      {"image/jpeg", "JPEG image"},
      {"image/gif", "GIF image"},
      {"image/webp", "WebP image"},
      {"image/svg+xml", "SVG image"},
      {"image/x-icon", "Icon"},
      {"font/woff2", "Font"},
  };
  auto it = kKinds.find(base);
  return it != kKinds.end() ? it->second : std::string(base.empty() ? "File" : base);
}

bool IsHtml(std::string_view type) { return type.starts_with("text/html"); }

// The public site's origin, "http://127.0.0.1:8081", as a browser on this machine reaches it.
std::string PublicOrigin(const ConsoleState& s) {
  std::string host = s.config().public_address.host;
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  return "http://" + HostPort{host, s.daemon->public_port()}.ToString();
}

// The query parameter `name` of a GET.
std::string QueryValue(const ConsoleRequest& r, std::string_view name) {
  auto q = commerce::ParseForm(r.http.query());
  return q.ok() ? std::string(q->Get(name)) : std::string();
}

// The page of this site's original area at `path`, if any.
std::optional<PageListing> OwnPage(ConsoleState& s, const std::string& path) {
  auto pages = ListPages(s.daemon->site().content());
  if (!pages.ok()) return std::nullopt;
  for (PageListing& p : *pages) {
    // A Markdown page is listed by its address, and found by its source ("/a.md") too.
    if ((p.path == path || (!p.markdown_source.empty() && p.markdown_source == path)) &&
        p.area == content::Area::kOriginal) {
      return std::move(p);
    }
  }
  return std::nullopt;
}

bool IsTieupPage(ConsoleState& s, const std::string& path) {
  auto pages = ListPages(s.daemon->site().content());
  if (!pages.ok()) return false;
  return std::any_of(pages->begin(), pages->end(), [&](const PageListing& p) {
    return p.path == path && p.area == content::Area::kTieup;
  });
}

// The Markdown source the console keeps for a page written in Markdown.
struct MarkdownSource {
  std::string title, markdown;
  std::string layout;  // its front matter's `layout:`, "" when it names none
};
// The source the site keeps of its own page `path` (content/markdown_page.h: its Markdown, or
// an HTML fragment with its front matter), if it is one.
std::optional<content::OwnPageSource> OwnSourceOf(ConsoleState& s, const std::string& path) {
  std::optional<content::OwnPageSource> out;
  (void)s.daemon->site().content().Read([&](content::ContentStore& store) -> Status {
    if (auto source = content::ReadOwnPageSource(store, path); source.ok()) out = *source;
    return Status::Ok();
  });
  return out;
}
std::optional<MarkdownSource> SourceOf(ConsoleState& s, const std::string& path) {
  // Kept by the site (saved since pages are rendered by the site), or by an older console.
  if (auto own = OwnSourceOf(s, path); own && own->path.ends_with(".md")) {
    size_t body_start = 0;
    auto front = content::ParsePageFrontMatter(own->bytes, own->path, &body_start);
    if (front.ok()) {
      return MarkdownSource{front->title, own->bytes.substr(body_start),
                            front->layout.value_or("")};
    }
  }
  auto rows =
      s.shop_db->Query("SELECT title, markdown FROM console_page_sources WHERE path = ?", {path});
  if (!rows.ok() || rows->empty()) return std::nullopt;
  return MarkdownSource{(*rows)[0].Text(0), (*rows)[0].Text(1), ""};
}

// --- what Save writes, and the preview shows ---

// A page as the editor's form describes it.
struct Draft {
  std::string path;  // as typed, trimmed
  bool markdown = true;
  std::string title;
  std::string layout;  // a Markdown page's layout, kept as its source names it ("": default)
  std::string body;
};

Draft DraftOf(const commerce::FormFields& form) {
  Draft d;
  d.path = std::string(commerce::Trim(form.Get("path")));
  d.markdown = form.Get("format") != "html";
  d.title = std::string(commerce::Trim(form.Get("title")));
  d.layout = std::string(commerce::Trim(form.Get("layout")));
  d.body = std::string(form.Get("body"));
  return d;
}

// Where a Markdown page is saved: at an .html address ("/local/news" -> "/local/news.html",
// "/local/news.md" -> "/local/news.html", "/local/" -> "/local/index.html").
std::string MarkdownAddress(std::string path) {
  if (path.ends_with(".md")) path = path.substr(0, path.size() - 3) + ".html";
  if (path.ends_with("/")) path += "index.html";
  if (!path.ends_with(".html") && !path.ends_with(".htm")) path += ".html";
  return path;
}

// The address the draft is saved at and its bytes: for Markdown, its source ("/local/news.md",
// with the title as front matter), which the site renders into its layout at the page's
// address (content/markdown_page.h), as `tieup partner page put` does; or the HTML as written.
// `page` is what the site serves: the preview shows it.
struct Rendered {
  std::string path;
  std::string bytes;
  std::string content_type;  // "" : from the address's extension, as the CLI
  std::string served_path;   // the page's address
  std::string page;
};

Result<Rendered> Render(ConsoleState& s, const Draft& d) {
  if (d.path.empty() || d.path[0] != '/') {
    return Status::InvalidArgument(
        "A page's address starts with '/', like /local/news.html: "
        "type it so, then save again.");
  }
  Rendered out;
  out.served_path = d.markdown ? MarkdownAddress(d.path) : d.path;
  out.path = out.served_path;
  if (d.markdown) {
    if (out.path.ends_with(".html")) out.path = out.path.substr(0, out.path.size() - 5);
    out.path += ".md";
    std::string title = d.title;
    std::string layout = d.layout;
    for (std::string* line : {&title, &layout}) {
      std::erase_if(*line, [](char c) { return c == '\r' || c == '\n'; });
    }
    out.bytes = "---\n" + (title.empty() ? "" : "title: " + title + "\n") +
                (layout.empty() ? "" : "layout: " + layout + "\n") + "---\n" + d.body;
    Result<content::RenderedOwnPage> page = Status::Internal("not rendered");
    Status read = s.daemon->site().content().Read([&](content::ContentStore& store) -> Status {
      page = content::RenderOwnPage(store, out.path, out.bytes,
                                    OwnPagesOptionsFor(s.daemon->site().config()));
      return Status::Ok();
    });
    if (read.ok() && !page.ok()) read = page.status();
    if (!read.ok()) {
      return Status::InvalidArgument("The Markdown could not be turned into a page: " +
                                     read.message());
    }
    out.served_path = page->path;
    out.page = std::move(page->html);
  } else {
    out.bytes = d.body;
    // HTML at an address without a known extension is still a web page.
    if (content::ContentTypeForPath(out.path) == "application/octet-stream") {
      out.content_type = "text/html; charset=utf-8";
    }
    out.page = out.bytes;
  }
  return out;
}

// A document for the preview frame.
ConsolePage Framed(ConsoleState& s, int status, std::string html) {
  ConsolePage p;
  p.status = status;
  p.framed = console::FramedDocument{std::move(html), PublicOrigin(s),
                                     /*base_at_resources_origin=*/true};
  return p;
}

ConsolePage FramedProblem(ConsoleState& s, int status, const std::string& message) {
  auto html = content::RenderMustacheJson(TemplateText("page_preview_problem"),
                                          json::object{{"message", message}},
                                          "console template page_preview_problem");
  return Framed(s, status, html.ok() ? *html : message);
}

// --- the list ---

json::object EmergencyData(ConsoleState& s);

ConsolePage Pages(ConsoleState& s, const ConsoleRequest&) {
  auto pages = ListPages(s.daemon->site().content());
  if (!pages.ok()) {
    return Problem(500, "Pages unavailable",
                   "The list of pages could not be read: " + pages.status().message() +
                       ". Try again; if it goes on, look at the site's log.");
  }
  std::set<std::string> with_source;
  if (auto rows = s.shop_db->Query("SELECT path FROM console_page_sources", {}); rows.ok()) {
    for (const auto& row : *rows) with_source.insert(row.Text(0));
  }
  const std::string origin = PublicOrigin(s);
  json::array own;
  size_t tieup = 0;
  for (const PageListing& l : *pages) {
    if (l.area != content::Area::kOriginal) {
      ++tieup;
      continue;
    }
    // A page written in Markdown: the site keeps its source (content/markdown_page.h).
    const bool markdown = !l.markdown_source.empty();
    own.push_back(json::object{
        {"path", l.path},
        {"path_query", commerce::PercentEncode(l.path)},
        {"public_url", origin + l.path},
        {"kind", markdown ? "Web page (Markdown)" : KindOf(l.content_type)},
        {"size", FormatByteSize(l.length)},
        {"editable", markdown || IsHtml(l.content_type) || with_source.count(l.path)}});
  }
  ConsolePage p;
  p.title = "Your pages";
  p.template_name = "pages";
  p.data = json::object{{"has_own", !own.empty()},
                        {"own", std::move(own)},
                        {"tieup_count", tieup},
                        {"emergency", EmergencyData(s)}};
  return p;
}

// --- the editor ---

ConsolePage EditorPage(int status, const Draft& d, std::string error, bool has_saved,
                       const std::string& saved_path) {
  ConsolePage p;
  p.status = status;
  p.title = saved_path.empty() ? "New page" : "Edit " + saved_path;
  p.template_name = "page_edit";
  p.data = json::object{{"path", d.path}, {"title_value", d.title}, {"layout", d.layout},
                        {"body", d.body}, {"markdown", d.markdown}, {"has_saved", has_saved}};
  if (has_saved)
    p.data["preview_src"] = "/pages/preview?path=" + commerce::PercentEncode(saved_path);
  if (!error.empty()) p.data["error"] = std::move(error);
  return p;
}

ConsolePage Save(ConsoleState& s, const ConsoleRequest& r) {
  Env& env = s.daemon->env();
  const Draft draft = DraftOf(r.form);
  const bool saved_before = !draft.path.empty() && OwnPage(s, draft.path).has_value();
  auto again = [&](int status, std::string error) {
    return EditorPage(status, draft, std::move(error), saved_before,
                      saved_before ? draft.path : "");
  };
  auto rendered = Render(s, draft);
  if (!rendered.ok()) return again(400, rendered.status().message());
  const std::string tmp = TempPath(s, "page");
  Status st = CreateDirs(env, DirName(tmp));
  if (st.ok()) st = WriteFileAtomic(env, tmp, rendered->bytes);
  if (!st.ok()) {
    (void)env.RemoveFile(tmp);
    return again(500, "The page could not be saved (" + st.message() +
                          "). Nothing changed on the site; try again.");
  }
  auto put = PutPages(env, s.config(), s.daemon->site().content(), rendered->path, tmp,
                      rendered->content_type, false);
  (void)env.RemoveFile(tmp);
  const std::string& path = rendered->served_path;
  (void)s.console->Audit(r, "page.put",
                         path + (put.ok() ? "" : " refused: " + put.status().message()));
  if (!put.ok()) {
    const bool conflict = put.status().code() == StatusCode::kPermissionDenied ||
                          put.status().code() == StatusCode::kAlreadyExists;
    return again(conflict ? 409 : 400, "Not saved: " + put.status().message() + ".");
  }
  // The site keeps the Markdown now (content/markdown_page.h): an older console's copy goes.
  Status kept = s.shop_db->Exec("DELETE FROM console_page_sources WHERE path = ?", {path});
  if (!kept.ok()) s.daemon->logger()->warn("dropping an old copy of a page: {}", kept.message());
  return Redirect("/pages", put->changed ? "Saved " + path + ": it is live now."
                                         : "No change to " + path + ".");
}

// GET /pages/edit?path=P (new when empty); POST saves.
ConsolePage EditPage(ConsoleState& s, const ConsoleRequest& r) {
  if (r.http.method() == "POST") return Save(s, r);
  const std::string path = QueryValue(r, "path");
  Draft d;
  if (path.empty()) {
    d.path = "/local/new-page.html";
    return EditorPage(200, d, "", false, "");
  }
  d.path = path;
  if (auto source = SourceOf(s, path)) {
    d.title = source->title;
    d.layout = source->layout;
    d.body = source->markdown;
    d.markdown = true;
    return EditorPage(200, d, "", OwnPage(s, path).has_value(), path);
  }
  d.markdown = false;
  const std::optional<PageListing> page = OwnPage(s, path);
  if (!page) {
    return Problem(404, "No such page",
                   IsTieupPage(s, path)
                       ? "'" + path +
                             "' is a tie-up page managed by the main site; you cannot edit it "
                             "here. Write a page of your own at another address."
                       : "You have no page at " + path +
                             " (it may have been renamed or deleted). Go back to Your pages.");
  }
  if (!IsHtml(page->content_type)) {
    return Problem(400, "Not a text page",
                   path + " is a " + KindOf(page->content_type) +
                       ", not a page written here. Upload a new version of it on the upload "
                       "page instead (at the same address, it replaces this one).");
  }
  if (auto fragment = OwnSourceOf(s, path)) {
    d.body = fragment->bytes;  // an HTML fragment: edited with its front matter
  } else if (auto view = s.daemon->site().content().view()) {
    if (const content::ServedFile* file = view->Find(path)) {
      auto bytes = view->ReadBody(*file);
      if (bytes.ok()) d.body = **bytes;
    }
  }
  return EditorPage(200, d, "", true, path);
}

// --- the preview ---

ConsolePage Preview(ConsoleState& s, const ConsoleRequest& r) {
  Draft d;
  if (r.http.method() == "POST") {
    d = DraftOf(r.form);
  } else {
    d.path = QueryValue(r, "path");
    if (auto source = SourceOf(s, d.path)) {
      d.title = source->title;
      d.body = source->markdown;
    } else {
      d.markdown = false;
      const std::optional<PageListing> page = OwnPage(s, d.path);
      auto view = s.daemon->site().content().view();
      const content::ServedFile* file = page && view ? view->Find(d.path) : nullptr;
      if (file == nullptr || !IsHtml(file->content_type)) {
        return FramedProblem(s, 404,
                             "You have no page at " + d.path +
                                 " to preview. Write its text in the editor and press Preview.");
      }
      auto bytes = view->ReadBody(*file);
      if (!bytes.ok()) return FramedProblem(s, 500, "The page could not be read; try again.");
      d.body = **bytes;
    }
  }
  auto rendered = Render(s, d);
  if (!rendered.ok()) return FramedProblem(s, 400, rendered.status().message());
  return Framed(s, 200, std::move(rendered->page));
}

// --- uploads ---

ConsolePage UploadPage(int status, std::string to, std::string error) {
  ConsolePage p;
  p.status = status;
  p.title = "Upload images and files";
  p.template_name = "page_upload";
  p.data = json::object{{"to", std::move(to)},
                        {"max_bytes", std::to_string(kMaxUploadBytes)},
                        {"max_size", FormatByteSize(kMaxUploadBytes)}};
  if (!error.empty()) p.data["error"] = std::move(error);
  return p;
}

bool IsImageName(std::string_view name) {
  return content::ContentTypeForPath(name).starts_with("image/");
}

// The directory part of a URL path, with its trailing '/': "/local/images/a.png" ->
// "/local/images/".
std::string DirOf(const std::string& path) { return path.substr(0, path.rfind('/') + 1); }

ConsolePage Upload(ConsoleState& s, const ConsoleRequest& r) {
  if (r.http.method() != "POST") return UploadPage(200, "", "");
  Env& env = s.daemon->env();
  const std::string to(commerce::Trim(r.form.Get("to")));
  auto again = [&](int status, std::string error) {
    return UploadPage(status, to, std::move(error));
  };
  if (r.files.empty()) {
    return again(400,
                 "Choose a file to upload first (the Files field), then press Upload and "
                 "publish.");
  }
  if (!to.empty() && to[0] != '/') {
    return again(400,
                 "'Put them at' is an address on your site and starts with '/', like "
                 "/local/images/. Correct it, or leave it empty.");
  }
  const bool folder = to.empty() || to.back() == '/';
  if (!folder && r.files.size() > 1) {
    return again(400,
                 "Several files go to a folder: give an address ending in '/', like "
                 "/local/images/, or leave 'Put them at' empty.");
  }
  // Where each file goes, checked before anything is written.
  std::vector<std::pair<std::string, const console::UploadedFile*>> targets;
  std::set<std::string> seen;
  for (const console::UploadedFile& f : r.files) {
    std::string target = to;
    if (folder) {
      const std::string name = console::SafeUploadName(f.filename);
      if (name.empty()) {
        return again(400, "The file name '" + f.filename +
                              "' has no letters or digits to make an address from: rename the "
                              "file, or give its full address in 'Put them at'.");
      }
      target =
          to.empty() ? (IsImageName(name) ? "/local/images/" : "/local/files/") + name : to + name;
    }
    if (Status valid = content::ValidatePath(target); !valid.ok()) {
      return again(400, "The address '" + target + "' cannot be used: " + valid.message() +
                            ". Choose another one in 'Put them at'.");
    }
    if (!seen.insert(target).second) {
      return again(400, "Two of the files would go to " + target +
                            ": upload them one at a time, or rename one of them first.");
    }
    targets.emplace_back(std::move(target), &f);
  }
  std::vector<std::string> replaced;
  for (const auto& [target, file] : targets) {
    if (OwnPage(s, target)) replaced.push_back(target);
  }

  // One file: as `tieup partner page put DIR ADDRESS FILE`. Several: their folder under the
  // address they share, as `... page put DIR /local/ FOLDER`, so they go live in one release.
  const std::string tmp = TempPath(s, "upload");
  std::string url = targets[0].first, local = tmp;
  Status st = Status::Ok();
  if (targets.size() == 1) {
    st = CreateDirs(env, DirName(tmp));
    if (st.ok()) st = WriteFileAtomic(env, tmp, targets[0].second->bytes);
  } else {
    url = DirOf(targets[0].first);
    for (const auto& [target, file] : targets) {
      while (!target.starts_with(url)) url = DirOf(url.substr(0, url.size() - 1));
    }
    for (const auto& [target, file] : targets) {
      const std::string path = JoinPath(tmp, target.substr(url.size()));
      if (st.ok()) st = CreateDirs(env, DirName(path));
      if (st.ok()) st = WriteFileAtomic(env, path, file->bytes);
    }
  }
  Result<PagePutReport> put =
      st.ok() ? PutPages(env, s.config(), s.daemon->site().content(), url, local, "", false)
              : Result<PagePutReport>(st);
  (void)RemoveTree(env, tmp);
  std::string paths;
  for (const auto& [target, file] : targets) paths += (paths.empty() ? "" : ", ") + target;
  (void)s.console->Audit(r, "page.upload",
                         paths + (put.ok() ? "" : " refused: " + put.status().message()));
  if (!put.ok()) {
    const bool conflict = put.status().code() == StatusCode::kPermissionDenied ||
                          put.status().code() == StatusCode::kAlreadyExists;
    return again(conflict ? 409 : 500, "Not uploaded: " + put.status().message() + ".");
  }
  if (!put->changed) {
    return Redirect("/pages", paths + (targets.size() == 1 ? " has" : " have") +
                                  " these bytes already: nothing changed.");
  }
  std::string flash;
  if (targets.size() == 1) {
    const auto& [target, file] = targets[0];
    flash = "Uploaded " + file->filename + " to " + target + " (" +
            FormatByteSize(file->bytes.size()) + "): it is live now" +
            (replaced.empty() ? "" : ", in place of the file that was there") + ". ";
    flash += IsImageName(target)
                 ? "Show it in a Markdown page with ![what it shows](" + target + ")."
                 : "Link to it in a Markdown page with [its name](" + target + ").";
  } else {
    flash = "Uploaded " + std::to_string(targets.size()) + " files to " + paths +
            ": they are live now" +
            (replaced.empty() ? "" : " (" + std::to_string(replaced.size()) + " replaced)") + ".";
  }
  return Redirect("/pages", flash);
}

// --- rename ---

ConsolePage RenameForm(int status, const std::string& path, std::string to, std::string error) {
  ConsolePage p;
  p.status = status;
  p.title = "Rename " + path;
  p.template_name = "page_rename";
  p.data = json::object{{"path", path}, {"to", std::move(to)}};
  if (!error.empty()) p.data["error"] = std::move(error);
  return p;
}

ConsolePage Rename(ConsoleState& s, const ConsoleRequest& r) {
  const bool post = r.http.method() == "POST";
  const std::string path = post ? std::string(r.form.Get("path")) : QueryValue(r, "path");
  if (!post) {
    if (!OwnPage(s, path)) {
      return Problem(404, "No such page",
                     IsTieupPage(s, path)
                         ? "'" + path +
                               "' is a tie-up page managed by the main site; only the main site "
                               "can move it."
                         : "You have no page at " + path +
                               " (it may have been renamed or deleted). Go back to Your pages.");
    }
    return RenameForm(200, path, path, "");
  }
  const std::string to(commerce::Trim(r.form.Get("to")));
  if (to.empty() || to[0] != '/') {
    return RenameForm(400, path, to,
                      "Type the new address, starting with '/', like /local/spring-news.html.");
  }
  auto renamed =
      RenamePage(s.daemon->env(), s.daemon->site().config(), s.daemon->site().content(), path, to);
  (void)s.console->Audit(
      r, "page.rename",
      path + " -> " + to + (renamed.ok() ? "" : " refused: " + renamed.status().message()));
  if (!renamed.ok()) {
    const StatusCode code = renamed.status().code();
    const int status = code == StatusCode::kNotFound ? 404
                       : code == StatusCode::kPermissionDenied || code == StatusCode::kAlreadyExists
                           ? 409
                           : 400;
    return RenameForm(status, path, to, "Not renamed: " + renamed.status().message() + ".");
  }
  // The Markdown source moves with the page, so that it is edited as Markdown at its new place.
  Status moved =
      s.shop_db->Exec("UPDATE console_page_sources SET path = ? WHERE path = ?", {to, path});
  if (!moved.ok()) s.daemon->logger()->warn("moving a page's Markdown: {}", moved.message());
  return Redirect(
      "/pages", "Renamed " + path + " to " + to + ": " + to + " serves the page now, and " + path +
                    " answers “not found”. Change the links that point to " + path + ".");
}

// --- delete ---

ConsolePage DeletePage(ConsoleState& s, const ConsoleRequest& r) {
  const bool post = r.http.method() == "POST";
  const std::string path =
      post ? std::string(commerce::Trim(r.form.Get("path"))) : QueryValue(r, "path");
  const std::optional<PageListing> page = OwnPage(s, path);
  if (!page) {
    if (IsTieupPage(s, path)) {
      return Problem(409, "Not yours to delete",
                     "'" + path +
                         "' is a tie-up page managed by the main site; ask the main site's "
                         "manager to remove it.");
    }
    return Problem(404, "No such page",
                   "You have no page at " + path +
                       " (it may have been deleted already). Go back to Your pages.");
  }
  std::optional<MarkdownSource> source = SourceOf(s, path);
  auto confirmation = [&](int status, std::string error) {
    ConsolePage p;
    p.status = status;
    p.title = "Delete " + path;
    p.template_name = "page_delete";
    p.data = json::object{{"path", path},
                          {"public_url", PublicOrigin(s) + path},
                          {"kind", KindOf(page->content_type)},
                          {"size", FormatByteSize(page->length)},
                          {"has_source", source.has_value()},
                          {"source_title", source ? source->title : ""}};
    if (!error.empty()) p.data["error"] = std::move(error);
    return p;
  };
  if (!post) return confirmation(200, "");
  auto removed = RemovePage(s.daemon->env(), s.config(), s.daemon->site().content(), path, false);
  (void)s.console->Audit(r, "page.delete",
                         path + (removed.ok() ? "" : " refused: " + removed.status().message()));
  if (!removed.ok()) {
    return confirmation(409, "Not deleted: " + removed.status().message() + ".");
  }
  Status dropped = s.shop_db->Exec("DELETE FROM console_page_sources WHERE path = ?", {path});
  if (!dropped.ok()) s.daemon->logger()->warn("dropping a page's Markdown: {}", dropped.message());
  return Redirect("/pages", "Deleted " + path + ": visitors now get “not found” there.");
}

// --- emergency edits of tie-up pages ---
// Only where main's active tie-up release grants the right (its signed metadata; the site's
// own site.toml cannot). An edit is an overlay on main's page, recorded with the manager's
// e-mail address and reported to main at once (page_tools.h PutPages); Revert gives main's
// page back.

struct EmergencyState {
  content::EmergencyEditPolicy grant = content::EmergencyEditPolicy::kNone;
  std::vector<content::OverlayEntry> edits;
};

EmergencyState ReadEmergencyState(ConsoleState& s) {
  EmergencyState e;
  (void)s.daemon->site().content().Read([&](content::ContentStore& store) -> Status {
    if (auto active = store.Active(content::Area::kTieup); active.ok()) {
      e.grant = (*active)->emergency_edit;
    }
    e.edits = store.Overlay();
    return Status::Ok();
  });
  return e;
}

std::string GrantWords(content::EmergencyEditPolicy grant) {
  switch (grant) {
    case content::EmergencyEditPolicy::kKeep:
      return "Your edit stays over the main site's later versions of that page until you give "
             "the main site's page back.";
    case content::EmergencyEditPolicy::kOverwrite:
      return "The main site's next version of that page replaces your edit.";
    case content::EmergencyEditPolicy::kNone:
      break;
  }
  return "";
}

json::object EmergencyData(ConsoleState& s) {
  const EmergencyState e = ReadEmergencyState(s);
  const bool granted = e.grant != content::EmergencyEditPolicy::kNone;
  json::array edits;
  for (const content::OverlayEntry& o : e.edits) {
    edits.push_back(json::object{{"path", o.path},
                                 {"path_query", commerce::PercentEncode(o.path)},
                                 {"removed", !o.entry.has_value()},
                                 {"by", o.by},
                                 {"when", s.Time(o.at * 1'000'000)},
                                 {"main_version", o.main_version}});
  }
  return json::object{{"granted", granted},
                      {"grant_words", GrantWords(e.grant)},
                      {"has_edits", !edits.empty()},
                      {"edits", std::move(edits)}};
}

// GET /pages/emergency?path=P: the tie-up page's HTML as served, in an editor marked as an
// emergency edit; POST saves it as an emergency edit, or (action=revert) gives main's back.
ConsolePage Emergency(ConsoleState& s, const ConsoleRequest& r) {
  Env& env = s.daemon->env();
  const bool post = r.http.method() == "POST";
  const std::string path =
      post ? std::string(commerce::Trim(r.form.Get("path"))) : QueryValue(r, "path");
  const std::string who = r.manager.email;
  if (post && r.form.Get("action") == "revert") {
    auto reverted = RevertEmergencyEdit(env, s.config(), s.daemon->site().content(), path, who);
    (void)s.console->Audit(
        r, "page.emergency_revert",
        path + (reverted.ok() ? "" : " refused: " + reverted.status().message()));
    if (!reverted.ok()) return Redirect("/pages", "Not done: " + reverted.status().message());
    return Redirect("/pages", reverted->changed
                                  ? "The main site's page is served again at " + path + "."
                                  : path + " had no emergency edit.");
  }
  const EmergencyState e = ReadEmergencyState(s);
  if (e.grant == content::EmergencyEditPolicy::kNone) {
    return Problem(403, "Emergency edits are not granted",
                   "Your partnership does not grant emergency edits of tie-up pages. Only the "
                   "main site's manager can grant them, in the partnership; ask them, or write a "
                   "page of your own at another address.");
  }
  auto editor = [&](int status, std::string body, std::string error) {
    ConsolePage p;
    p.status = status;
    p.title = "Emergency edit of " + (path.empty() ? std::string("a tie-up page") : path);
    p.template_name = "page_emergency";
    p.data = json::object{{"path", path},
                          {"body", std::move(body)},
                          {"grant_words", GrantWords(e.grant)},
                          {"public_url", PublicOrigin(s) + path}};
    if (!error.empty()) p.data["error"] = std::move(error);
    return p;
  };
  if (!post) {
    if (path.empty()) return editor(200, "", "");
    auto view = s.daemon->site().content().view();
    const content::ServedFile* file = view ? view->Find(path) : nullptr;
    if (file == nullptr || file->area != content::Area::kTieup) {
      return editor(404, "",
                    path +
                        " is not a tie-up page of your site. Type the address of one of the "
                        "main site's pages, like /index.html.");
    }
    if (!IsHtml(file->content_type)) {
      return editor(400, "",
                    path + " is a " + KindOf(file->content_type) +
                        ", not a text page: only HTML pages can be edited here.");
    }
    auto bytes = view->ReadBody(*file);
    if (!bytes.ok()) return editor(500, "", "The page could not be read; try again.");
    return editor(200, **bytes, "");
  }
  const std::string body(r.form.Get("body"));
  if (r.form.Get("confirm") != "yes") {
    return editor(400, body,
                  "Tick the box to confirm that this replaces the main site's page on your "
                  "site and that the main site is told.");
  }
  const std::string tmp = TempPath(s, "emergency");
  Status st = CreateDirs(env, DirName(tmp));
  if (st.ok()) st = WriteFileAtomic(env, tmp, body);
  if (!st.ok()) {
    (void)env.RemoveFile(tmp);
    return editor(500, body, "Not saved (" + st.message() + "); nothing changed on the site.");
  }
  auto put = PutPages(env, s.config(), s.daemon->site().content(), path, tmp,
                      "text/html; charset=utf-8", true, who);
  (void)env.RemoveFile(tmp);
  (void)s.console->Audit(r, "page.emergency_edit",
                         path + (put.ok() ? "" : " refused: " + put.status().message()));
  if (!put.ok()) return editor(409, body, "Not saved: " + put.status().message() + ".");
  return Redirect("/pages",
                  !put->changed ? "No change to " + path + "."
                  : put->main_told
                      ? "Emergency edit of " + path + " is live; the main site has been told."
                      : "Emergency edit of " + path +
                            " is live. The main site cannot be reached now (" + put->main_error +
                            "); it is told as soon as it can be.");
}

}  // namespace

void AddOwnPages(ConsoleState& s) {
  ConsoleState* p = &s;
  s.console->AddPage("/pages", [p](const ConsoleRequest& r) { return Pages(*p, r); });
  s.console->AddPage("/pages/edit", [p](const ConsoleRequest& r) { return EditPage(*p, r); });
  s.console->AddPage("/pages/preview", [p](const ConsoleRequest& r) { return Preview(*p, r); });
  console::PageOptions uploads;
  uploads.max_upload_bytes = kMaxUploadBytes;
  s.console->AddPage(
      "/pages/upload", [p](const ConsoleRequest& r) { return Upload(*p, r); }, uploads);
  s.console->AddPage("/pages/rename", [p](const ConsoleRequest& r) { return Rename(*p, r); });
  s.console->AddPage("/pages/delete", [p](const ConsoleRequest& r) { return DeletePage(*p, r); });
  s.console->AddPage("/pages/emergency", [p](const ConsoleRequest& r) { return Emergency(*p, r); });
}

}  // namespace tieup::partner_console
