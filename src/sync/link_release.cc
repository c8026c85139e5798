#include "sync/link_release.h"

#include <set>
#include <string>
#include <utility>
#include <vector>

namespace tieup::sync::internal {
namespace {

bool IsHttpUrl(std::string_view url) {
  return url.starts_with("http://") || url.starts_with("https://");
}

// Whether `name` appears in `text` as a whole name, not the tail of another ("mysite.css" does
// not name "site.css"): preceded by a quote, '(', '=', whitespace or '/', or at the start.
bool NamesWhole(std::string_view text, std::string_view name) {
  if (name.empty()) return false;
  size_t at = 0;
  while ((at = text.find(name, at)) != std::string_view::npos) {
    const char before = at == 0 ? '"' : text[at - 1];
    if (before == '"' || before == '\'' || before == '(' || before == '=' || before == '/' ||
        before == ' ' || before == '\t' || before == '\n' || before == '\r') {
      return true;
    }
    at += name.size();
  }
  return false;
}

// Whether `text`, a file at `from` (a URL path), names the file at `path`: by its path from the
// root ("/assets/site.css", "assets/site.css"), relative to `from`'s folder ("site.css",
// "fonts/a.woff2" in /assets/site.css) or relative to /assets/ ("fonts/a.woff2" as
// url(../fonts/a.woff2) in /assets/css/site.css). A plain search, not a parse: a name that
// merely appears keeps a file that might not be needed, which costs bytes, never a broken page.
bool Names(std::string_view text, std::string_view from, std::string_view path) {
  if (text.find(path.substr(1)) != std::string_view::npos) return true;
  const std::string_view folder = from.substr(0, from.rfind('/') + 1);
  if (folder.size() > 1 && path.starts_with(folder) &&
      NamesWhole(text, path.substr(folder.size()))) {
    return true;
  }
  constexpr std::string_view kAssets = "/assets/";
  return path.starts_with(kAssets) && NamesWhole(text, path.substr(kAssets.size()));
}

bool IsText(const content::FileEntry& e) {
  return e.content_type.starts_with("text/") ||
         e.content_type.starts_with("application/javascript") ||
         e.content_type.starts_with("image/svg");
}

// The paths of `m` a kind-link partner needs as copies (see ApplyLinkSettings).
Result<std::set<std::string>> NeededLocally(const content::ReleaseManifest& m,
                                            content::BlobStore& blobs) {
  std::set<std::string> kept;
  std::vector<std::string> to_read;
  const content::FileMap& files = m.files;
  for (const auto& [path, e] : files) {
    if (path.starts_with("/.tieup/")) {
      kept.insert(path);
      to_read.push_back(path);
    }
  }
  std::vector<std::string> assets;
  for (const auto& [path, e] : files) {
    if (path.starts_with("/assets/")) assets.push_back(path);
  }
  while (!to_read.empty()) {
    const std::string from = std::move(to_read.back());
    to_read.pop_back();
    const content::FileEntry& e = files.at(from);
    if (e.method == content::UpdateMethod::kLink && e.hash == kLinkBodyHash) {
      // Reused from a previous release that only linked to it: its bytes are not at hand.
      return Status::Aborted("'" + from +
                             "' is needed as a copy but was a link: build the release afresh");
    }
    if (!from.starts_with("/.tieup/") && !IsText(e)) continue;  // machine files are text
    ASSIGN_OR_RETURN(std::string text, blobs.Get(e.hash, e.length));
    for (const std::string& asset : assets) {
      if (!kept.contains(asset) && Names(text, from, asset)) {
        kept.insert(asset);
        to_read.push_back(asset);
      }
    }
  }
  return kept;
}

}  // namespace

Status ApplyLinkSettings(std::string_view partner_id, PartnershipKind kind, content::LinkMode mode,
                         std::string_view main_public_url, content::BlobStore& blobs,
                         content::ReleaseManifest& m) {
  std::string base(main_public_url);
  while (!base.empty() && base.back() == '/') base.pop_back();
  const bool link_kind = kind == PartnershipKind::kLink;
  if (link_kind && (!IsHttpUrl(base) || base.find_first_of(" \t\r\n") != std::string::npos)) {
    return Status::FailedPrecondition(
        "partner '" + std::string(partner_id) +
        "' is of kind link, but main's public URL is not set: set public_url in the [site] "
        "table of main's site.toml to the address browsers use for main (e.g. public_url = "
        "\"https://shop.example\") and restart main");
  }
  // Kind link: the files the partner needs locally, kept as copies: the machine files under
  // /.tieup/ (page shell, page templates) and the files under /assets/ that a kept text file
  // names (the layout's style sheet, the fonts and images that names...). Everything else is a
  // link: a request for it lands on main's copy.
  std::set<std::string> kept;
  if (link_kind) {
    ASSIGN_OR_RETURN(kept, NeededLocally(m, blobs));
  }
  std::vector<std::pair<std::string, content::FileEntry>> changed;
  bool any_link = false;
  const content::FileMap& files = m.files;
  for (const auto& [path, e] : files) {
    content::FileEntry f = e;
    if (link_kind && !kept.contains(path)) {
      f.method = content::UpdateMethod::kLink;
      f.link_url = base + path;
    } else if (link_kind && f.method == content::UpdateMethod::kLink) {
      // A kept file reused from a release an older tieup linked (with its body): a copy again.
      f.method = content::UpdateMethod::kStaged;
      f.link_url.clear();
      f.link_mode = content::LinkMode::kRedirect;
    }
    if (f.method == content::UpdateMethod::kLink) {
      any_link = true;
      f.link_mode = mode;
      f.hash = std::string(kLinkBodyHash);
      f.length = 0;
      f.gzip.reset();
    }
    // Entries already in their final form are left alone: their chunks stay shared.
    if (f != e) changed.emplace_back(path, std::move(f));
  }
  for (auto& [path, e] : changed) m.files.insert_or_assign(path, std::move(e));
  if (any_link && !blobs.Has(kLinkBodyHash)) {
    ASSIGN_OR_RETURN(std::string hash, blobs.Put(""));
    if (hash != kLinkBodyHash) {
      return Status::Internal("the empty blob was stored as " + hash);
    }
  }
  return Status::Ok();
}

}  // namespace tieup::sync::internal
