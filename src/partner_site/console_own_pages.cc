// The partner console's own pages: list, create, edit, delete (partner_site/console_pages.h).
#include <algorithm>
#include <boost/json.hpp>
#include <set>

#include "commerce/form.h"
#include "content/builder.h"
#include "partner_site/console_common.h"
#include "partner_site/page_tools.h"

namespace tieup::partner_console {
namespace {

// --- own pages ---
ConsolePage Pages(ConsoleState& s, const ConsoleRequest&) {
  auto pages = ListPages(s.daemon->site().content());
  if (!pages.ok()) return Problem(500, "Pages unavailable", pages.status().message());
  json::array own, tieup;
  for (const PageListing& l : *pages) {
    json::object e{{"path", l.path}, {"bytes", l.length}, {"type", l.content_type}};
    (l.area == content::Area::kOriginal ? own : tieup).push_back(std::move(e));
  }
  ConsolePage p;
  p.title = "Your pages";
  p.template_name = "pages";
  p.data = json::object{
      {"has_own", !own.empty()}, {"own", std::move(own)}, {"tieup_count", tieup.size()}};
  return p;
}

// GET /pages/edit?path=P (new when empty); POST path, body, format -> put as one release.
ConsolePage EditPage(ConsoleState& s, const ConsoleRequest& r) {
  Env& env = s.daemon->env();
  SiteContent& content = s.daemon->site().content();
  if (r.http.method() == "POST") {
    std::string path(commerce::Trim(r.form.Get("path")));
    const std::string_view format = r.form.Get("format");
    const std::string body(r.form.Get("body"));
    if (path.empty() || path[0] != '/') {
      return Redirect("/pages/edit", "A page's address starts with '/', like /local/news.html.");
    }
    // Markdown becomes HTML in the site's look (main's layout, the page shell of the tie-up
    // release) at an .html address; its source is kept so that it is edited as Markdown again.
    const bool markdown = format == "markdown";
    const std::string title(commerce::Trim(r.form.Get("title")));
    std::string bytes = body;
    if (markdown) {
      if (path.ends_with(".md")) path = path.substr(0, path.size() - 3) + ".html";
      if (!path.ends_with(".html") && !path.ends_with("/")) path += ".html";
      if (path.ends_with("/")) path += "index.html";
      auto html = content::RenderMarkdown(body, path);
      if (!html.ok()) return Problem(400, "Could not render the Markdown", html.status().message());
      bytes = s.templates->InShell({title.empty() ? path : title, std::nullopt}, *html);
    }
    const std::string type;
    const std::string tmp = JoinPath(s.daemon->site().site_dir(), "run/console-page.tmp");
    Status st = CreateDirs(env, DirName(tmp));
    if (st.ok()) st = WriteFileAtomic(env, tmp, bytes);
    if (!st.ok()) return Problem(500, "Could not save", st.message());
    auto put = PutPages(env, s.config(), content, path, tmp, type, false);
    (void)env.RemoveFile(tmp);
    if (put.ok()) {
      Status kept =
          markdown ? s.shop_db->Exec(
                         "INSERT OR REPLACE INTO console_page_sources(path, title, "
                         "markdown) VALUES(?,?,?)",
                         {path, title, body})
                   : s.shop_db->Exec("DELETE FROM console_page_sources WHERE path = ?", {path});
      if (!kept.ok()) s.daemon->logger()->warn("keeping a page's Markdown: {}", kept.message());
    }
    (void)s.console->Audit(r, "page.put",
                           path + (put.ok() ? "" : " refused: " + put.status().message()));
    if (!put.ok()) {
      ConsolePage p;
      p.status = 409;
      p.title = "Edit a page";
      p.template_name = "page_edit";
      p.data = json::object{{"path", path},
                            {"title", title},
                            {"body", body},
                            {"markdown", markdown},
                            {"error", put.status().message()}};
      return p;
    }
    return Redirect("/pages", put->changed ? "Saved " + path + ": it is live now."
                                           : "No change to " + path + ".");
  }
  std::string path;
  if (auto q = commerce::ParseForm(r.http.query()); q.ok()) path = q->Get("path");
  std::string body, title;
  bool markdown = path.empty();
  if (!path.empty()) {
    auto source =
        s.shop_db->Query("SELECT title, markdown FROM console_page_sources WHERE path = ?", {path});
    if (source.ok() && !source->empty()) {
      title = (*source)[0].Text(0);
      body = (*source)[0].Text(1);
      markdown = true;
    } else if (auto view = content.view()) {
      const content::ServedFile* file = view->Find(path);
      if (file != nullptr && file->area == content::Area::kOriginal) {
        auto bytes = view->ReadBody(*file);
        if (bytes.ok()) body = **bytes;
      }
    }
  }
  ConsolePage p;
  p.title = path.empty() ? "New page" : "Edit " + path;
  p.template_name = "page_edit";
  p.data = json::object{{"path", path.empty() ? "/local/new-page.html" : path},
                        {"title", title},
                        {"body", body},
                        {"markdown", markdown}};
  return p;
}

ConsolePage DeletePage(ConsoleState& s, const ConsoleRequest& r) {
  if (r.http.method() != "POST") return Redirect("/pages", "");
  const std::string path(commerce::Trim(r.form.Get("path")));
  auto removed = RemovePage(s.daemon->env(), s.config(), s.daemon->site().content(), path, false);
  (void)s.console->Audit(r, "page.delete",
                         path + (removed.ok() ? "" : " refused: " + removed.status().message()));
  if (!removed.ok()) return Redirect("/pages", "Not deleted: " + removed.status().message());
  return Redirect("/pages", "Deleted " + path + ".");
}

}  // namespace

void AddOwnPages(ConsoleState& s) {
  ConsoleState* p = &s;
  s.console->AddPage("/pages", [p](const ConsoleRequest& r) { return Pages(*p, r); });
  s.console->AddPage("/pages/edit", [p](const ConsoleRequest& r) { return EditPage(*p, r); });
  s.console->AddPage("/pages/delete", [p](const ConsoleRequest& r) { return DeletePage(*p, r); });
}

}  // namespace tieup::partner_console
