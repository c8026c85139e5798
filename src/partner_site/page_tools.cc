#include "partner_site/page_tools.h"

#include <algorithm>

#include "base/encoding.h"
#include "content/ad_catalog.h"
#include "content/builder.h"
#include "content/markdown_page.h"
#include "content/release.h"
#include "partner_site/emergency_edits.h"
#include "partner_site/own_content.h"
#include "partner_site/partner_sync.h"

namespace tieup {
namespace {

Status CollectFiles(Env& env, const std::string& dir, const std::string& url_prefix,
                    std::vector<std::pair<std::string, std::string>>* out) {
  ASSIGN_OR_RETURN(auto entries, env.ListDir(dir));
  for (const FileInfo& e : entries) {
    if (e.name.empty() || e.name[0] == '.') continue;  // editor droppings, .git
    std::string local = JoinPath(dir, e.name);
    if (e.is_dir) {
      RETURN_IF_ERROR(CollectFiles(env, local, url_prefix + e.name + "/", out));
    } else {
      out->emplace_back(url_prefix + e.name, local);
    }
  }
  return Status::Ok();
}

// Appends a line to SITE_DIR/logs/emergency-edits.log for the manager (the content store keeps
// the record main is told from).
Status RecordEmergencyEdit(Env& env, const std::string& site_dir, const std::string& what) {
  RETURN_IF_ERROR(CreateDirs(env, site_dir + "/logs"));
  ASSIGN_OR_RETURN(auto f, env.NewAppendableFile(site_dir + "/logs/emergency-edits.log"));
  RETURN_IF_ERROR(f->Append(FormatRfc3339(env.NowSeconds()) + " " + what + "\n"));
  RETURN_IF_ERROR(f->Sync());
  return f->Close();
}

// A refused emergency edit, for a site whose site.toml still says `emergency_edit = true`: that
// key no longer grants anything (main grants the right, in the signed release).
Status ExplainRefusal(const SiteConfig& config, Status status) {
  if (status.code() == StatusCode::kPermissionDenied && config.emergency_edit) {
    return Status::PermissionDenied(
        status.message() +
        " (emergency_edit = true in this site's site.toml has no effect any more: the right "
        "comes from main, in the signed release; remove the line)");
  }
  return status;
}

// `--tieup` names a page of main's: refused for any other path, rather than put as an original.
Status CheckIsTieupPage(content::ContentStore& store, const std::string& path) {
  auto tieup = store.Active(content::Area::kTieup);
  if (tieup.ok() && (*tieup)->files.count(path) != 0) return Status::Ok();
  return Status::FailedPrecondition("'" + path +
                                    "' is not a tie-up page of this site: an emergency edit "
                                    "(--tieup) changes one of main's pages; for a page of your "
                                    "own, leave out --tieup");
}

std::string ShortHash(const std::string& h) { return h.empty() ? "(none)" : h.substr(0, 12); }

// Tells main at once (best effort: the daemon tells main later from the record when this fails).
void TellMain(Env& env, const SiteConfig& config, SiteContent& content, PagePutReport& report) {
  auto sent = ReportEmergencyEditsNow(env, config, content);
  report.main_told = sent.ok() && IsEnrolled(env, content.site_dir());
  if (!sent.ok()) report.main_error = sent.status().message();
}

// The put of `files` when one of them is a page written in Markdown or as an HTML fragment, or
// the address of one (content/markdown_page.h): ONE original release with every file, the
// own pages rendered. Returns false, with nothing done, when none is.
Result<bool> PutOwnPages(Env& env, const SiteConfig& config, content::ContentStore& store,
                         const std::vector<std::pair<std::string, std::string>>& files,
                         const std::string& content_type, PagePutReport& report) {
  content::OwnPagesChange change;
  bool own = false;
  std::vector<std::string> sources;
  for (const auto& [path, local] : files) {
    ASSIGN_OR_RETURN(std::string bytes, env.ReadFile(local));
    report.bytes += bytes.size();
    if (content::IsOwnPageSource(path, bytes)) {
      own = true;
      sources.push_back(path);
      change.put.push_back({path, std::move(bytes), ""});
    } else {
      own = own || content::IsOwnPage(store, path);
      change.plain.push_back({path, std::move(bytes), content_type});
    }
  }
  if (!own) {
    report.bytes = 0;
    return false;
  }
  ASSIGN_OR_RETURN(content::OwnPagesResult r,
                   content::UpdateOwnPages(env, store, change, OwnPagesOptionsFor(config)));
  for (const auto& [path, local] : files) report.paths.push_back(path);
  report.version = r.version;
  report.changed = r.changed;
  report.notes = std::move(r.notes);
  for (const content::RenderedOwnPage& page : r.pages) {
    if (std::find(sources.begin(), sources.end(), page.source) != sources.end()) {
      report.rendered.emplace_back(page.source, page.path);
    }
  }
  return true;
}

}  // namespace

Result<PagePutReport> PutPages(Env& env, const SiteConfig& config, SiteContent& content,
                               const std::string& url_path, const std::string& local_path,
                               const std::string& content_type, bool tieup_edit,
                               const std::string& by) {
  if (!env.FileExists(local_path)) {
    return Status::NotFound("'" + local_path + "' does not exist: give a file or a folder");
  }
  std::vector<std::pair<std::string, std::string>> files;  // url path, local path
  bool folder = env.ListDir(local_path).ok();
  if (folder) {
    if (url_path.empty() || url_path.back() != '/') {
      return Status::InvalidArgument("'" + local_path +
                                     "' is a folder: give a URL path ending in "
                                     "'/' to put its files under, e.g. /local/");
    }
    if (tieup_edit) {
      return Status::InvalidArgument("an emergency edit changes one tie-up page at a time");
    }
    RETURN_IF_ERROR(CollectFiles(env, local_path, url_path, &files));
    if (files.empty()) return Status::InvalidArgument("'" + local_path + "' has no files");
  } else {
    files.emplace_back(url_path, local_path);
  }
  for (const auto& [path, local] : files) {
    RETURN_IF_ERROR(content::ValidatePath(path));
    // The ad catalogs (content/ad_catalog.h): main's is main's to ship; the partner's own is
    // checked now, so that its slots never meet a catalog they cannot read.
    if (path == content::kAdCatalogPath && !tieup_edit) {
      return Status::InvalidArgument(std::string(content::kAdCatalogPath) +
                                     " is main's ad catalog; put your own ads at " +
                                     std::string(content::kPartnerAdCatalogPath));
    }
    if (path == content::kPartnerAdCatalogPath) {
      ASSIGN_OR_RETURN(std::string text, env.ReadFile(local));
      RETURN_IF_ERROR(content::ParseAdCatalog(text, local).status());
    }
  }

  PagePutReport report;
  Status done = content.Mutate([&](content::ContentStore& store) -> Status {
    if (!tieup_edit) {
      ASSIGN_OR_RETURN(bool own, PutOwnPages(env, config, store, files, content_type, report));
      if (own) return Status::Ok();
    }
    if (files.size() == 1) {
      ASSIGN_OR_RETURN(std::string bytes, env.ReadFile(files[0].second));
      std::string type =
          content_type.empty() ? content::ContentTypeForPath(files[0].first) : content_type;
      if (tieup_edit) RETURN_IF_ERROR(CheckIsTieupPage(store, files[0].first));
      ASSIGN_OR_RETURN(content::PageEdit edit,
                       store.PutOriginalPage(files[0].first, bytes, type, tieup_edit, by));
      report.paths.push_back(files[0].first);
      report.bytes = bytes.size();
      report.version = edit.version;
      report.changed = edit.changed;
      report.emergency_tieup_edit = edit.emergency_tieup_edit;
      if (edit.emergency_tieup_edit && edit.changed) {
        return RecordEmergencyEdit(
            env, content.site_dir(),
            "emergency edit of tie-up page " + edit.path + " by " +
                (by.empty() ? "(unnamed)" : by) + " (" + ShortHash(edit.old_hash) + " -> " +
                ShortHash(edit.new_hash) + ") over main's version " + std::to_string(edit.version));
      }
      return Status::Ok();
    }
    // A folder: one new original release with every file, so a reader sees all or none.
    std::vector<content::ContentStore::PageWrite> writes;
    for (const auto& [path, local] : files) {
      ASSIGN_OR_RETURN(std::string bytes, env.ReadFile(local));
      report.paths.push_back(path);
      report.bytes += bytes.size();
      std::string type = content_type.empty() ? content::ContentTypeForPath(path) : content_type;
      writes.push_back({path, std::move(bytes), std::move(type)});
    }
    ASSIGN_OR_RETURN(content::PageEdit edit, store.PutOriginalPages(writes));
    report.changed = edit.changed;
    report.version = edit.version;
    return Status::Ok();
  });
  RETURN_IF_ERROR(ExplainRefusal(config, done));
  if (report.emergency_tieup_edit && report.changed) TellMain(env, config, content, report);
  return report;
}

Result<PagePutReport> RemovePage(Env& env, const SiteConfig& config, SiteContent& content,
                                 const std::string& url_path, bool tieup_edit,
                                 const std::string& by) {
  RETURN_IF_ERROR(content::ValidatePath(url_path));
  PagePutReport report;
  Status done = content.Mutate([&](content::ContentStore& store) -> Status {
    if (!tieup_edit && content::IsOwnPage(store, url_path)) {
      // A page written in Markdown or as a fragment: its source and its rendering go together.
      ASSIGN_OR_RETURN(
          content::OwnPagesResult r,
          content::UpdateOwnPages(env, store, {.put = {}, .plain = {}, .remove = {url_path}},
                                  OwnPagesOptionsFor(config)));
      report.paths.push_back(url_path);
      report.version = r.version;
      report.changed = r.changed;
      return Status::Ok();
    }
    if (tieup_edit) RETURN_IF_ERROR(CheckIsTieupPage(store, url_path));
    ASSIGN_OR_RETURN(content::PageEdit edit, store.RemoveOriginalPage(url_path, tieup_edit, by));
    report.paths.push_back(url_path);
    report.version = edit.version;
    report.changed = edit.changed;
    report.emergency_tieup_edit = edit.emergency_tieup_edit;
    if (edit.emergency_tieup_edit && edit.changed) {
      return RecordEmergencyEdit(env, content.site_dir(),
                                 "emergency removal of tie-up page " + url_path + " by " +
                                     (by.empty() ? "(unnamed)" : by) + " over main's version " +
                                     std::to_string(edit.version));
    }
    return Status::Ok();
  });
  RETURN_IF_ERROR(ExplainRefusal(config, done));
  if (report.emergency_tieup_edit && report.changed) TellMain(env, config, content, report);
  return report;
}

Result<PagePutReport> RevertEmergencyEdit(Env& env, const SiteConfig& config, SiteContent& content,
                                          const std::string& url_path, const std::string& by) {
  RETURN_IF_ERROR(content::ValidatePath(url_path));
  PagePutReport report;
  report.paths.push_back(url_path);
  report.emergency_tieup_edit = true;
  RETURN_IF_ERROR(content.Mutate([&](content::ContentStore& store) -> Status {
    ASSIGN_OR_RETURN(report.changed, store.RevertEmergencyEdit(url_path, by));
    if (auto active = store.Active(content::Area::kTieup); active.ok()) {
      report.version = (*active)->version;
    }
    if (!report.changed) return Status::Ok();
    return RecordEmergencyEdit(env, content.site_dir(),
                               "emergency edit of tie-up page " + url_path + " reverted by " +
                                   (by.empty() ? "(unnamed)" : by) +
                                   ": main's page is served again");
  }));
  if (report.changed) TellMain(env, config, content, report);
  return report;
}

Result<PagePutReport> RenamePage(Env& env, const SiteConfig& config, SiteContent& content,
                                 const std::string& from, const std::string& to) {
  RETURN_IF_ERROR(content::ValidatePath(from));
  RETURN_IF_ERROR(content::ValidatePath(to));
  if (from == to) {
    return Status::InvalidArgument("'" + to + "' is the page's address already: give another one");
  }
  PagePutReport report;
  RETURN_IF_ERROR(content.Mutate([&](content::ContentStore& store) -> Status {
    if (content::IsOwnPage(store, from)) {
      // A page written in Markdown or as a fragment: its source moves, and is rendered at the
      // new address ("/a.md" or "/a.html" -> "/b.md": served at "/b.html").
      ASSIGN_OR_RETURN(content::OwnPageSource source, content::ReadOwnPageSource(store, from));
      // UpdateOwnPages refuses a tie-up page's address, with the words of PutPages.
      auto original = store.Active(content::Area::kOriginal);
      if (original.ok() && (*original)->files.count(to) != 0 && !content::IsOwnPage(store, to)) {
        return Status::AlreadyExists("there is a page at '" + to +
                                     "' already: choose another address, or delete that page "
                                     "first");
      }
      std::string target = to;
      const bool markdown = source.path.ends_with(".md");
      if (markdown && target.ends_with(".html")) {
        target = target.substr(0, target.size() - 5) + ".md";
      } else if (markdown != (target.ends_with(".md"))) {
        return Status::InvalidArgument("'" + from + "' is written in " +
                                       (markdown ? "Markdown: give a new address ending in .md "
                                                   "or .html"
                                                 : "HTML: give a new address ending in .html"));
      }
      ASSIGN_OR_RETURN(
          content::OwnPagesResult r,
          content::UpdateOwnPages(
              env, store,
              {.put = {{target, source.bytes, ""}}, .plain = {}, .remove = {source.path}},
              OwnPagesOptionsFor(config)));
      report.paths = {from, to};
      report.bytes = source.bytes.size();
      report.version = r.version;
      report.changed = r.changed;
      return Status::Ok();
    }
    std::shared_ptr<const content::ReleaseManifest> tieup;
    if (auto active = store.Active(content::Area::kTieup); active.ok()) tieup = *active;
    auto original = store.Active(content::Area::kOriginal);
    const bool has_from = original.ok() && (*original)->files.count(from) != 0;
    if (!has_from) {
      if (tieup && tieup->files.count(from) != 0) {
        return Status::PermissionDenied("'" + from +
                                        "' is a tie-up page managed by the main site; only "
                                        "the main site can move it");
      }
      return Status::NotFound("there is no page '" + from + "' to rename");
    }
    // The same check and words as PutPages (ContentStore::PutOriginalPage); Stage checks again
    // under the store's lock.
    if (tieup && tieup->files.count(to) != 0) {
      return Status::PermissionDenied("'" + to +
                                      "' is a tie-up page managed by the main site; choose "
                                      "another path");
    }
    if ((*original)->files.count(to) != 0) {
      return Status::AlreadyExists("there is a page at '" + to +
                                   "' already: choose another address, or delete that page "
                                   "first");
    }
    content::ReleaseManifest next = **original;
    const content::FileEntry entry = next.files.at(from);
    next.files.erase(from);
    next.files[to] = entry;
    // Above every version on disk, as a page edit: a staged release is never overwritten.
    ASSIGN_OR_RETURN(auto versions, store.StagedVersions(content::Area::kOriginal));
    const uint64_t top = versions.empty() ? 0 : versions.back();
    next.version = std::max(top, (*original)->version) + 1;
    next.created = env.NowSeconds();
    next.expires = 0;  // a local edit, not main's signed metadata
    RETURN_IF_ERROR(store.Stage(next));
    RETURN_IF_ERROR(store.Activate(content::Area::kOriginal, next.version));
    report.paths = {from, to};
    report.bytes = entry.length;
    report.version = next.version;
    report.changed = true;
    return Status::Ok();
  }));
  return report;
}

Result<std::vector<PageListing>> ListPages(SiteContent& content) {
  std::vector<PageListing> out;
  RETURN_IF_ERROR(content.Read([&](content::ContentStore& store) -> Status {
    for (content::Area area : {content::Area::kTieup, content::Area::kOriginal}) {
      auto active = store.Served(area);  // with the emergency edits: what is served
      if (!active.ok()) {
        if (active.status().code() == StatusCode::kNotFound) continue;
        return active.status();
      }
      const content::FileMap& files = (*active)->files;
      for (const auto& [path, e] : files) {
        // Main's machine files (layouts, page templates) are no pages: never served to browsers.
        if (area == content::Area::kTieup && path.starts_with("/.tieup/")) continue;
        std::string source;
        if (area == content::Area::kOriginal) {
          // A page written in Markdown or as a fragment is listed by its page, not its source.
          if (path.starts_with(content::kOwnSourcesDir)) continue;
          const std::string served = content::OwnPageServedPath(path);
          if (served != path && !path.starts_with("/.tieup/") && files.contains(served)) continue;
          if (path.ends_with(".html")) {
            const std::string md = path.substr(0, path.size() - 5) + ".md";
            if (files.contains(md)) source = md;
          }
        }
        out.push_back({path, area, e.length, e.content_type, std::move(source)});
      }
    }
    return Status::Ok();
  }));
  std::sort(out.begin(), out.end(),
            [](const PageListing& a, const PageListing& b) { return a.path < b.path; });
  return out;
}

}  // namespace tieup
