#include "content/template_vars.h"

#include <algorithm>
#include <atomic>
#include <kainjow/mustache.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "base/encoding.h"
#include "content/gzip_variant.h"

namespace tieup::content {
namespace {

constexpr std::string_view kOpen = "\xEE\x80\x80";   // U+E000
constexpr std::string_view kClose = "\xEE\x80\x81";  // U+E001

}  // namespace

std::string VariableMarker(std::string_view name) {
  std::string out(kOpen);
  out += name;
  out += kClose;
  return out;
}

bool HasVariableMarker(std::string_view text) { return text.find(kOpen) != std::string_view::npos; }

Result<std::string> SubstituteVariables(std::string_view tmpl,
                                        const std::map<std::string, std::string>& variables) {
  std::string out;
  out.reserve(tmpl.size() + 64);
  size_t at = 0;
  for (size_t open = tmpl.find(kOpen); open != std::string_view::npos;
       open = tmpl.find(kOpen, at)) {
    out.append(tmpl, at, open - at);
    const size_t name_at = open + kOpen.size();
    const size_t close = tmpl.find(kClose, name_at);
    // A name is at most 128 bytes (ValidateVariableName): a longer run is no marker.
    if (close == std::string_view::npos || close - name_at > 128) {
      return Status::InvalidArgument("a variable marker at byte " + std::to_string(open) +
                                     " is not closed");
    }
    const std::string name(tmpl.substr(name_at, close - name_at));
    auto value = variables.find(name);
    if (value == variables.end()) {
      return Status::InvalidArgument("the template names variable '" + SanitizeUtf8(name) +
                                     "', which the release does not have");
    }
    out += kainjow::mustache::html_escape<std::string>(value->second);
    at = close + kClose.size();
  }
  out.append(tmpl, at);
  return out;
}

namespace {

// The bytes of the page made from template `tmpl` (read from `blobs`, checked) with the values of
// `release`.
Result<std::string> PageBytes(const ReleaseManifest& release, const BlobRef& tmpl,
                              BlobStore& blobs) {
  ASSIGN_OR_RETURN(std::string bytes, blobs.Get(tmpl.hash, tmpl.length));
  return SubstituteVariables(bytes, release.variables);
}

// The page made from template entry `e` of `release` (read from `blobs`), with its gzip variant,
// stored through `out`.
Result<FileEntry> MakePage(const ReleaseManifest& release, const std::string& path,
                           const FileEntry& e, BlobStore& blobs, BlobWriter& out) {
  const BlobRef tmpl{e.hash, e.length};
  auto bytes = PageBytes(release, tmpl, blobs);
  if (!bytes.ok()) return bytes.status().Annotate(path);
  FileEntry made;
  made.content_type = e.content_type;
  made.method = e.method;
  made.length = bytes->size();
  ASSIGN_OR_RETURN(made.hash, out.Put(*bytes));
  ASSIGN_OR_RETURN(made.gzip, internal::MakeGzipVariant(out, *bytes, made.content_type));
  made.expanded_from = tmpl;
  return made;
}

}  // namespace

Result<ReleaseManifest> ExpandRelease(const ReleaseManifest& release, BlobStore& blobs,
                                      const ReleaseManifest* previous,
                                      const ReleaseManifest* previous_main) {
  ReleaseManifest out = release;
  Status failed;
  auto make = [&](const std::string& path, const FileEntry& e) {
    if (!failed.ok() || !e.vars) return;
    auto made = MakePage(release, path, e, blobs, blobs);
    if (!made.ok()) {
      failed = made.status();
      return;
    }
    out.files.insert_or_assign(path, std::move(*made));
  };
  if (previous == nullptr || previous->variables != release.variables) {
    // Every page: made on a few threads (a first sync makes thousands; gzip is most of each).
    std::vector<std::pair<const std::string*, const FileEntry*>> todo;
    for (const auto& [path, e] : release.files) {
      if (e.vars) todo.emplace_back(&path, &e);
    }
    std::vector<std::optional<Result<FileEntry>>> made(todo.size());
    std::atomic<size_t> next{0};
    std::atomic<bool> stop{false};
    // Thousands of pages: made durable together (blob_store.h), not a sync per page and variant.
    std::optional<BlobBatch> batch;
    if (todo.size() >= kBlobBatchWorthIt) batch.emplace(blobs);
    BlobWriter& out_blobs = batch ? static_cast<BlobWriter&>(*batch) : blobs;
    auto work = [&] {
      for (size_t i; !stop && (i = next.fetch_add(1)) < todo.size();) {
        made[i] = MakePage(release, *todo[i].first, *todo[i].second, blobs, out_blobs);
        if (!made[i]->ok()) stop = true;
      }
    };
    const size_t threads =
        todo.size() < 64 ? 1 : std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 4);
    std::vector<std::thread> helpers;
    for (size_t t = 1; t < threads; ++t) helpers.emplace_back(work);
    work();
    for (std::thread& t : helpers) t.join();
    // The first failure in path order, as made one by one (pages are taken in order: every one
    // before a failure was made).
    for (size_t i = 0; i < todo.size(); ++i) {
      if (!made[i]) return Status::Internal("a page of the release was not made");
      if (!made[i]->ok()) return made[i]->status();
      out.files.insert_or_assign(*todo[i].first, std::move(**made[i]));
    }
    if (batch) RETURN_IF_ERROR(batch->Commit().Annotate("storing the pages made"));
    return out;
  }
  // From the previous expanded release, by the difference of main's forms: chunks shared
  // between them are skipped unread, and `out` keeps sharing them with `previous`.
  std::optional<ReleaseManifest> made_main;
  if (previous_main == nullptr) previous_main = &made_main.emplace(MainForm(*previous));
  out.files = previous->files;
  previous_main->files.ForEachDifference(
      release.files,
      [&](const std::string& path, const FileEntry* /*before*/, const FileEntry* after) {
        if (after == nullptr) {
          out.files.erase(path);
        } else if (!after->vars) {
          out.files.insert_or_assign(path, *after);
        } else {
          make(path, *after);
        }
      });
  RETURN_IF_ERROR(failed);
  return out;
}

Status RemakeExpandedPage(const ReleaseManifest& release, const FileEntry& entry,
                          BlobStore& blobs) {
  if (!entry.expanded_from) {
    return Status::InvalidArgument("the entry was not made from a template");
  }
  ASSIGN_OR_RETURN(std::string bytes, PageBytes(release, *entry.expanded_from, blobs));
  RETURN_IF_ERROR(blobs.PutExpected(entry.hash, bytes));
  if (!entry.gzip) return Status::Ok();
  // The variant was made at this version's level, or at the one before (a page made earlier).
  Status put;
  for (int level : {internal::kGzipLevel, internal::kGzipLevelBefore}) {
    ASSIGN_OR_RETURN(std::string gz, internal::GzipCompress(bytes, level));
    put = blobs.PutExpected(entry.gzip->hash, gz);
    if (put.code() != StatusCode::kDataLoss) break;
  }
  return put;
}

ReleaseManifest MainForm(const ReleaseManifest& expanded) {
  ReleaseManifest out = expanded;
  for (const auto& [path, e] : expanded.files) {
    if (!e.expanded_from) continue;
    FileEntry t;
    t.hash = e.expanded_from->hash;
    t.length = e.expanded_from->length;
    t.content_type = e.content_type;
    t.method = e.method;
    t.vars = true;
    out.files.insert_or_assign(path, std::move(t));
  }
  return out;
}

bool UsesTemplates(const ReleaseManifest& release) {
  for (const auto& [path, e] : release.files) {
    if (e.vars || e.expanded_from) return true;
  }
  return false;
}

}  // namespace tieup::content
