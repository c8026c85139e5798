// /content: main's authoring tree (main_site/authoring.h). Pages and layouts are edited with a
// preview rendered by the builder `tieup main publish` uses, as main's site or as a chosen
// partner will show it (its variables and overrides: sync::Publisher::BuildOptionsFor); assets
// are uploaded; a page or asset is deleted after a confirmation page. Saving writes the file
// atomically; it goes live when main publishes (/publish).
//
//   GET  /content                        the tree: pages, layouts, assets (size, modified)
//   GET  /content/edit?path=P            the editor, with which partners a change reaches
//   POST /content/edit                   save: path, body (new=1: refuses to replace a file)
//   GET  /content/new                    the editor for a new page
//   GET  /content/preview?path=P[&as=ID] the saved file, for the editor's preview frame
//   POST /content/preview                the editor's draft (path, body, as), not saved
//   GET  /content/upload                 the upload form; POST multipart: file(s), to
//   GET  /content/delete?path=P          what goes, and a confirm button; POST path
#include <boost/json.hpp>
#include <optional>
#include <set>

#include "base/byte_count.h"
#include "commerce/form.h"
#include "content/builder.h"
#include "content/page_templates.h"
#include "main_site/authoring.h"
#include "main_site/console_common.h"
#include "main_site/own_site.h"

namespace tieup {
// The console's page templates (generated from src/main_site/console_templates/ by CMake).
const std::vector<std::pair<std::string_view, std::string_view>>& EmbeddedMainConsoleTemplates();
}  // namespace tieup

namespace tieup::main_console {
namespace {

// The most one upload (its whole multipart body) may be.
constexpr uint64_t kMaxUploadBytes = 8u << 20;
// Partners named one by one in "which partners a change reaches" (the counts cover them all).
constexpr size_t kReachListed = 50;

std::string_view TemplateText(std::string_view name) {
  for (const auto& [n, text] : EmbeddedMainConsoleTemplates()) {
    if (n == name) return text;
  }
  return {};
}

std::string QueryValue(const ConsoleRequest& r, std::string_view name) {
  auto q = commerce::ParseForm(r.http.query());
  return q.ok() ? std::string(q->Get(name)) : std::string();
}

// The field `name` of a POST, or the query parameter of a GET.
std::string Param(const ConsoleRequest& r, std::string_view name) {
  return r.http.method() == "POST" ? std::string(r.form.Get(name)) : QueryValue(r, name);
}

// A textarea's text as the file keeps it: browsers send line breaks as CRLF, the authoring tree
// (and every editor beside the console) has LF.
std::string TextOf(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\r' && i + 1 < field.size() && field[i + 1] == '\n') continue;
    out += field[i];
  }
  return out;
}

std::string AuthoringDirOf(const ConsoleState& s) {
  return AuthoringDir(s.config(), s.daemon->site().site_dir());
}

// Main's public site's origin as a browser on this machine reaches it.
std::string PublicOrigin(const ConsoleState& s) {
  std::string host = s.config().public_address.host;
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  return "http://" + HostPort{host, s.daemon->public_port()}.ToString();
}

std::string EditHref(const std::string& path) {
  return "/content/edit?path=" + commerce::PercentEncode(path);
}

// The active partnerships, by id (empty when they cannot be read).
std::vector<sync::Partnership> ActivePartners(ConsoleState& s) {
  auto all = s.daemon->sync().publisher().ListPartnerships();
  std::vector<sync::Partnership> out;
  if (!all.ok()) return out;
  for (sync::Partnership& p : *all) {
    if (!p.revoked) out.push_back(std::move(p));
  }
  return out;
}

// --- the preview frame ---

ConsolePage Framed(ConsoleState& s, int status, std::string html) {
  ConsolePage p;
  p.status = status;
  const std::string origin = PublicOrigin(s);
  p.framed = console::FramedDocument{std::move(html), origin, /*base_at_resources_origin=*/true};
  return p;
}

ConsolePage FramedNote(ConsoleState& s, int status, const std::string& heading,
                       const std::string& message) {
  auto html = content::RenderMustacheJson(TemplateText("content_preview_note"),
                                          json::object{{"heading", heading}, {"message", message}},
                                          "console template content_preview_note");
  return Framed(s, status, html.ok() ? *html : message);
}

// Main's build options with the catalog: what `tieup main publish` builds main's pages with.
Result<content::BuildOptions> MainOptions(ConsoleState& s) {
  content::BuildOptions o = OwnSiteBuildOptions(s.config(), s.daemon->site().site_dir());
  ASSIGN_OR_RETURN(o.products, s.daemon->sync().catalog().Read());
  return o;
}

// GET: the saved file; POST: the draft. `as`: a partner's id ("" : main's site).
ConsolePage Preview(ConsoleState& s, const ConsoleRequest& r) {
  const bool post = r.http.method() == "POST";
  const std::string path(commerce::Trim(Param(r, "path")));
  const std::string as = Param(r, "as");
  if (Status valid = CheckAuthoringPath(path); !valid.ok()) {
    return FramedNote(s, 400, "No preview", valid.message());
  }
  std::optional<std::string> draft;
  if (post) draft = TextOf(r.form.Get("body"));
  Result<content::BuildOptions> options = Status::Ok();
  if (as.empty()) {
    options = MainOptions(s);
  } else {
    auto p = s.daemon->sync().publisher().GetPartnership(as);
    if (!p.ok() || p->revoked) {
      return FramedNote(s, 404, "No preview",
                        "There is no active partner '" + as + "'. Choose another one.");
    }
    // A partner of kind link serves main's pages as links to main's site: its visitors see
    // main's page.
    options = p->kind == sync::PartnershipKind::kLink
                  ? MainOptions(s)
                  : s.daemon->sync().publisher().BuildOptionsFor(*p);
  }
  if (!options.ok()) {
    return FramedNote(s, 500, "No preview",
                      "The build settings could not be read: " + options.status().message());
  }
  auto page = PreviewAuthoringFile(s.daemon->env(), *options, path, draft);
  if (!page.ok()) {
    const bool missing = page.status().code() == StatusCode::kNotFound;
    return FramedNote(s, missing ? 404 : 400,
                      missing ? "Nothing to show yet" : "This page cannot be built",
                      page.status().message() +
                          (missing ? "" : ". Correct it: a publish would fail the same way."));
  }
  if (!page->in_release) {
    return FramedNote(s, 200, "Not in this partner's release",
                      "Partner '" + as +
                          "' is of kind template: it gets main's look (layouts, assets) but not "
                          "main's pages, so its visitors do not see " +
                          page->url_path + " from main.");
  }
  return Framed(s, 200, std::move(page->html));
}

// --- the tree ---

json::array Rows(ConsoleState& s, const std::vector<AuthoringEntry>& entries) {
  json::array rows;
  for (const AuthoringEntry& e : entries) {
    rows.push_back(json::object{
        {"path", e.path},
        {"url_path", e.url_path},
        {"public_url", e.url_path.empty() ? std::string() : PublicOrigin(s) + e.url_path},
        {"editable", e.editable},
        {"has_url", !e.url_path.empty()},
        {"edit_href", e.editable ? EditHref(e.path) : std::string()},
        {"delete_href", "/content/delete?path=" + commerce::PercentEncode(e.path)},
        {"size", FormatByteSize(e.size)},
        {"modified", e.modified_micros > 0 ? s.Time(e.modified_micros) : std::string("—")}});
  }
  return rows;
}

ConsolePage Tree(ConsoleState& s, const ConsoleRequest&) {
  const std::string dir = AuthoringDirOf(s);
  auto tree = ListAuthoringTree(s.daemon->env(), dir);
  if (!tree.ok()) {
    return Problem(500, "Content unavailable",
                   "The authoring tree could not be read: " + tree.status().message() +
                       ". Check authoring_dir in main's site.toml.");
  }
  ConsolePage p;
  p.title = "Content";
  p.template_name = "content";
  p.data = json::object{{"dir", dir},
                        {"pages", Rows(s, tree->pages)},
                        {"layouts", Rows(s, tree->layouts)},
                        {"assets", Rows(s, tree->assets)},
                        {"has_pages", !tree->pages.empty()},
                        {"has_layouts", !tree->layouts.empty()},
                        {"has_assets", !tree->assets.empty()}};
  return p;
}

// --- which partners a change reaches ---

json::object ReachData(ConsoleState& s, const std::string& path) {
  const ChangeReach reach = ReachOfChange(s.daemon->env(), path, ActivePartners(s));
  json::array reached, not_reached;
  size_t more = 0;
  for (const PartnerReach& p : reach.partners) {
    json::array& list = p.reached ? reached : not_reached;
    if (list.size() >= kReachListed) {
      ++more;
      continue;
    }
    list.push_back(json::object{{"id", p.id},
                                {"name", p.name},
                                {"kind", std::string(sync::PartnershipKindName(p.kind))},
                                {"why", p.why},
                                {"href", "/partners/" + commerce::PercentEncode(p.id)}});
  }
  // "2 of kind contents, 1 of kind link": the kinds that occur.
  std::string how;
  auto part = [&](size_t n, const char* what) {
    if (n > 0) how += (how.empty() ? "" : ", ") + std::to_string(n) + " " + what;
  };
  part(reach.reached_contents, "of kind contents");
  part(reach.reached_link, "of kind link");
  part(reach.reached_template, "of kind template");
  std::string why_not;
  auto not_part = [&](size_t n, const char* what) {
    if (n > 0) why_not += (why_not.empty() ? "" : ", ") + std::to_string(n) + " " + what;
  };
  not_part(reach.own_version, "with their own version");
  not_part(reach.left_out, "of kind template, without main's pages");
  not_part(reach.suspended, "suspended");
  return json::object{{"total", reach.partners.size()},
                      {"how", how},
                      {"why_not", why_not},
                      {"reached", reach.reached},
                      {"contents", reach.reached_contents},
                      {"link", reach.reached_link},
                      {"template", reach.reached_template},
                      {"own_version", reach.own_version},
                      {"left_out", reach.left_out},
                      {"not_reached", reach.own_version + reach.left_out + reach.suspended},
                      {"reached_list", std::move(reached)},
                      {"not_reached_list", std::move(not_reached)},
                      {"has_reached", reach.reached > 0},
                      {"has_not_reached", reach.reached < reach.partners.size()},
                      {"more", more},
                      {"has_more", more > 0}};
}

// --- the editor ---

struct Draft {
  std::string path;
  std::string body;
  std::string as;  // the partner the preview shows the page as ("" : main's site)
  bool is_new = false;
};

ConsolePage Editor(ConsoleState& s, int status, const Draft& d, std::string error, bool saved) {
  const bool page = IsAuthoringPage(d.path);
  const bool layout = d.path.starts_with("layouts/");
  json::array partners;
  for (const sync::Partnership& p : ActivePartners(s)) {
    const std::string kind(sync::PartnershipKindName(p.kind));
    partners.push_back(json::object{
        {"id", p.id},
        {"label", p.id + " — " + p.name + " (" + kind +
                      (p.kind == sync::PartnershipKind::kLink ? ": links to main's page" : "") +
                      ")"},
        {"selected", p.id == d.as}});
  }
  const bool exists = !d.is_new && s.daemon->env().FileExists(JoinPath(AuthoringDirOf(s), d.path));
  ConsolePage p;
  p.status = status;
  p.title = d.is_new ? "New page" : "Edit " + d.path;
  p.template_name = "content_edit";
  p.data = json::object{{"path", d.path},
                        {"body", d.body},
                        {"is_new", d.is_new},
                        {"is_page", page},
                        {"is_layout", layout},
                        {"url_path", AuthoringUrlPath(d.path)},
                        {"public_url", page ? PublicOrigin(s) + AuthoringUrlPath(d.path) : ""},
                        {"partners", std::move(partners)},
                        {"main_selected", d.as.empty()},
                        {"saved", saved}};
  if (exists) {
    std::string src = "/content/preview?path=" + commerce::PercentEncode(d.path);
    if (!d.as.empty()) src += "&as=" + commerce::PercentEncode(d.as);
    p.data["preview_src"] = std::move(src);
    p.data["reach"] = ReachData(s, d.path);
    p.data["delete_href"] = "/content/delete?path=" + commerce::PercentEncode(d.path);
  }
  if (!error.empty()) p.data["error"] = std::move(error);
  return p;
}

ConsolePage Save(ConsoleState& s, const ConsoleRequest& r) {
  Env& env = s.daemon->env();
  Draft d;
  d.path = std::string(commerce::Trim(r.form.Get("path")));
  d.body = TextOf(r.form.Get("body"));
  d.as = std::string(r.form.Get("as"));
  d.is_new = r.form.Get("new") == "1";
  if (Status valid = CheckAuthoringPath(d.path); !valid.ok()) {
    (void)s.console->Audit(r, "content.save",
                           d.path.substr(0, 200) + " refused: " + valid.message());
    return Editor(s, 400, d, "Not saved: " + valid.message(), false);
  }
  if (!IsEditableAuthoringPath(d.path)) {
    return Editor(s, 400, d,
                  "Not saved: only pages (pages/….md or pages/….html) and layouts "
                  "(layouts/NAME.mustache) are written here. Upload other files on the upload "
                  "page.",
                  false);
  }
  // What a publish would refuse is refused now, with the same words.
  auto options = MainOptions(s);
  if (options.ok()) {
    auto built = PreviewAuthoringFile(env, *options, d.path, d.body);
    if (!built.ok() && built.status().code() != StatusCode::kNotFound) {
      return Editor(s, 400, d,
                    "Not saved: " + built.status().message() +
                        ". A publish would fail on it; correct it and save again.",
                    false);
    }
  }
  Status written = WriteAuthoringFile(env, AuthoringDirOf(s), d.path, d.body, d.is_new);
  (void)s.console->Audit(r, d.is_new ? "content.create" : "content.save",
                         d.path + (written.ok() ? "" : " refused: " + written.message()));
  if (!written.ok()) {
    const bool exists = written.code() == StatusCode::kAlreadyExists;
    return Editor(
        s, exists ? 409 : 500, d,
        exists ? "Not saved: " + d.path + " exists already. Choose another name, or edit that file."
               : "Not saved (" + written.message() + "); the file is as it was.",
        false);
  }
  std::string next = EditHref(d.path) + "&saved=1";
  if (!d.as.empty()) next += "&as=" + commerce::PercentEncode(d.as);
  return Redirect(next, "Saved " + d.path + ".");
}

ConsolePage Edit(ConsoleState& s, const ConsoleRequest& r) {
  if (r.http.method() == "POST") return Save(s, r);
  Draft d;
  d.path = std::string(commerce::Trim(QueryValue(r, "path")));
  d.as = QueryValue(r, "as");
  if (Status valid = CheckAuthoringPath(d.path); !valid.ok()) {
    return Problem(400, "Not in the authoring tree", valid.message());
  }
  if (!IsEditableAuthoringPath(d.path)) {
    return Problem(400, "Not a page or a layout",
                   d.path +
                       " is not edited here: only pages (pages/….md, pages/….html) and layouts "
                       "(layouts/NAME.mustache) are. Upload a new version of it instead.");
  }
  auto bytes = ReadAuthoringFile(s.daemon->env(), AuthoringDirOf(s), d.path);
  if (!bytes.ok()) {
    if (bytes.status().code() == StatusCode::kNotFound) {
      return Problem(404, "No such file",
                     "There is no " + d.path +
                         " in the authoring tree (it may have been deleted). Go back to "
                         "Content, or write it as a new page.");
    }
    return Problem(500, "Not readable", d.path + " could not be read: " + bytes.status().message());
  }
  d.body = std::move(*bytes);
  return Editor(s, 200, d, "", QueryValue(r, "saved") == "1");
}

ConsolePage NewPage(ConsoleState& s, const ConsoleRequest&) {
  Draft d;
  d.is_new = true;
  d.path = "pages/new-page.md";
  d.body = "---\ntitle: New page\n---\n# New page\n\nWrite here.\n";
  return Editor(s, 200, d, "", false);
}

// --- uploads ---

ConsolePage UploadForm(int status, std::string to, std::string error) {
  ConsolePage p;
  p.status = status;
  p.title = "Upload assets";
  p.template_name = "content_upload";
  p.data = json::object{{"to", std::move(to)},
                        {"max_bytes", std::to_string(kMaxUploadBytes)},
                        {"max_size", FormatByteSize(kMaxUploadBytes)}};
  if (!error.empty()) p.data["error"] = std::move(error);
  return p;
}

ConsolePage Upload(ConsoleState& s, const ConsoleRequest& r) {
  if (r.http.method() != "POST") return UploadForm(200, "assets/", "");
  std::string to(commerce::Trim(r.form.Get("to")));
  if (to.empty()) to = "assets/";
  auto again = [&](int status, std::string error) {
    return UploadForm(status, to, std::move(error));
  };
  if (r.files.empty()) {
    return again(400, "Choose a file to upload first (the Files field), then press Upload.");
  }
  const bool folder = to.back() == '/';
  if (!folder && r.files.size() > 1) {
    return again(400,
                 "Several files go to a folder: give a path ending in '/', like "
                 "assets/images/.");
  }
  std::vector<std::pair<std::string, const console::UploadedFile*>> targets;
  std::set<std::string> seen;
  for (const console::UploadedFile& f : r.files) {
    std::string target = to;
    if (folder) {
      const std::string name = console::SafeUploadName(f.filename);
      if (name.empty()) {
        return again(400, "The file name '" + f.filename +
                              "' has no letters or digits to name it by: rename the file, or "
                              "give its full path in 'Put them at'.");
      }
      target += name;
    }
    if (Status valid = CheckAuthoringPath(target); !valid.ok()) {
      return again(400, "Not uploaded: " + valid.message());
    }
    if (!seen.insert(target).second) {
      return again(400, "Two of the files would go to " + target + ": upload them one at a time.");
    }
    targets.emplace_back(std::move(target), &f);
  }
  const std::string dir = AuthoringDirOf(s);
  std::string done;
  size_t replaced = 0;
  for (const auto& [target, file] : targets) {
    if (s.daemon->env().FileExists(JoinPath(dir, target))) ++replaced;
    Status written = WriteAuthoringFile(s.daemon->env(), dir, target, file->bytes);
    (void)s.console->Audit(r, "content.upload",
                           target + " (" + FormatByteSize(file->bytes.size()) + ")" +
                               (written.ok() ? "" : " refused: " + written.message()));
    if (!written.ok()) {
      return again(500, "Not uploaded: " + target + " could not be written (" + written.message() +
                            ")" + (done.empty() ? "." : "; uploaded before it: " + done + "."));
    }
    done += (done.empty() ? "" : ", ") + target + " (" + FormatByteSize(file->bytes.size()) + ")";
  }
  return Redirect("/content", "Uploaded " + done +
                                  (replaced > 0 ? ", replacing the file that was there" : "") +
                                  ". It is not live yet: publish to bring it to main's site and "
                                  "the partners.");
}

// --- delete ---

ConsolePage Delete(ConsoleState& s, const ConsoleRequest& r) {
  const bool post = r.http.method() == "POST";
  const std::string path(commerce::Trim(Param(r, "path")));
  if (Status valid = CheckAuthoringPath(path); !valid.ok()) {
    return Problem(400, "Not in the authoring tree", valid.message());
  }
  const std::string dir = AuthoringDirOf(s);
  const std::string file = JoinPath(dir, path);
  auto size = s.daemon->env().FileSize(file);
  if (!s.daemon->env().FileExists(file) || !size.ok()) {
    return Problem(404, "No such file",
                   "There is no " + path +
                       " in the authoring tree (it may have been deleted already). Go back to "
                       "Content.");
  }
  auto confirmation = [&](int status, std::string error) {
    ConsolePage p;
    p.status = status;
    p.title = "Delete " + path;
    p.template_name = "content_delete";
    p.data = json::object{{"path", path},
                          {"url_path", AuthoringUrlPath(path)},
                          {"has_url", !AuthoringUrlPath(path).empty()},
                          {"size", FormatByteSize(*size)},
                          {"is_layout", path.starts_with("layouts/")},
                          {"reach", ReachData(s, path)}};
    if (!error.empty()) p.data["error"] = std::move(error);
    return p;
  };
  if (!post) return confirmation(200, "");
  Status removed = RemoveAuthoringFile(s.daemon->env(), dir, path);
  (void)s.console->Audit(r, "content.delete",
                         path + (removed.ok() ? "" : " refused: " + removed.message()));
  if (!removed.ok()) return confirmation(500, "Not deleted: " + removed.message() + ".");
  return Redirect("/content",
                  "Deleted " + path + ". Main's site and the partners keep it until you publish.");
}

}  // namespace

void AddContentPages(ConsoleState& s) {
  ConsoleState* p = &s;
  s.console->AddPage("/content", [p](const ConsoleRequest& r) { return Tree(*p, r); });
  s.console->AddPage("/content/edit", [p](const ConsoleRequest& r) { return Edit(*p, r); });
  s.console->AddPage("/content/new", [p](const ConsoleRequest& r) { return NewPage(*p, r); });
  s.console->AddPage("/content/preview", [p](const ConsoleRequest& r) { return Preview(*p, r); });
  s.console->AddPage("/content/delete", [p](const ConsoleRequest& r) { return Delete(*p, r); });
  console::PageOptions uploads;
  uploads.max_upload_bytes = kMaxUploadBytes;
  s.console->AddPage(
      "/content/upload", [p](const ConsoleRequest& r) { return Upload(*p, r); }, uploads);
}

}  // namespace tieup::main_console
