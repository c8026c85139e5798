#include "partner_site/update_review.h"

#include <algorithm>
#include <cstdio>
#include <dtl/dtl.hpp>
#include <memory>
#include <optional>
#include <unordered_map>
#include <utility>

#include "base/byte_count.h"
#include "base/encoding.h"
#include "content/release.h"

namespace tieup {
namespace {

using content::Area;
using content::FileEntry;
using content::ReleaseManifest;

// --- the side-by-side diff ---

// `text` split at '\n', a '\r' before it dropped; a final line without '\n' is a line too, and
// the empty text has none.
std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    const size_t nl = text.find('\n', start);
    const size_t end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  return lines;
}

enum class Edit { kCommon, kDelete, kAdd };

// The number of lines a diff of `a` and `b` must show as removed or as added, whichever is more:
// the lines of one side that the other lacks (counting repeats). Each row of a side-by-side diff
// shows at most one of each, so the diff has at least this many rows.
size_t UnmatchedLines(const std::vector<std::string_view>& a,
                      const std::vector<std::string_view>& b) {
  std::unordered_map<std::string_view, long> count;
  for (std::string_view line : a) ++count[line];
  for (std::string_view line : b) --count[line];
  size_t only_a = 0, only_b = 0;
  for (const auto& [line, n] : count) {
    (n > 0 ? only_a : only_b) += static_cast<size_t>(n > 0 ? n : -n);
  }
  return std::max(only_a, only_b);
}

// The edit script from `a` to `b`, in order. Lines both texts begin or end with are matched
// here (most page edits touch a few lines of a long page); dtl finds the shortest edit script
// of what lies between. dtl's time grows with the number of differences times the length (a
// 1 MiB page of short lines rewritten entirely takes seconds), so when the diff is sure to
// exceed `max_rows` anyway, only the first lines of what lies between are compared, enough for
// `max_rows` rows, and `*cut` is set: the script then ends there.
std::vector<Edit> EditScript(const std::vector<std::string_view>& a,
                             const std::vector<std::string_view>& b, size_t max_rows, bool* cut) {
  *cut = false;
  size_t prefix = 0;
  while (prefix < a.size() && prefix < b.size() && a[prefix] == b[prefix]) ++prefix;
  size_t suffix = 0;
  while (suffix < a.size() - prefix && suffix < b.size() - prefix &&
         a[a.size() - 1 - suffix] == b[b.size() - 1 - suffix]) {
    ++suffix;
  }
  std::vector<Edit> script(prefix, Edit::kCommon);
  std::vector<std::string_view> mid_a(a.begin() + prefix, a.end() - suffix);
  std::vector<std::string_view> mid_b(b.begin() + prefix, b.end() - suffix);
  if (!mid_a.empty() && !mid_b.empty() && UnmatchedLines(mid_a, mid_b) > max_rows) {
    // Each row shows at most one line of each side: the rows shown come from these lines.
    const size_t window = 2 * max_rows + 16;
    if (mid_a.size() > window) mid_a.resize(window);
    if (mid_b.size() > window) mid_b.resize(window);
    *cut = true;
  }
  if (mid_a.empty() || mid_b.empty()) {
    script.insert(script.end(), mid_a.size(), Edit::kDelete);
    script.insert(script.end(), mid_b.size(), Edit::kAdd);
  } else {
    dtl::Diff<std::string_view, std::vector<std::string_view>> diff(mid_a, mid_b);
    diff.compose();
    for (const auto& [line, info] : diff.getSes().getSequence()) {
      script.push_back(info.type == dtl::SES_COMMON   ? Edit::kCommon
                       : info.type == dtl::SES_DELETE ? Edit::kDelete
                                                      : Edit::kAdd);
    }
  }
  if (!*cut) script.insert(script.end(), suffix, Edit::kCommon);
  return script;
}

// A row before its text is filled in: 0-based line indices, -1 when that side has none.
struct Row {
  DiffLine::Kind kind;
  long left = -1, right = -1;
  size_t gap = 0;  // kGap: the number of lines left out
};

// The rows of `script`: common lines as kSame; each change block (the edits between two common
// lines) as its removed and added lines paired by position (kChanged), then the removed or added
// lines left over.
std::vector<Row> PairRows(const std::vector<Edit>& script) {
  std::vector<Row> rows;
  long li = 0, ri = 0;
  for (size_t i = 0; i < script.size();) {
    if (script[i] == Edit::kCommon) {
      rows.push_back({DiffLine::Kind::kSame, li++, ri++});
      ++i;
      continue;
    }
    std::vector<long> removed, added;
    for (; i < script.size() && script[i] != Edit::kCommon; ++i) {
      if (script[i] == Edit::kDelete) {
        removed.push_back(li++);
      } else {
        added.push_back(ri++);
      }
    }
    const size_t paired = std::min(removed.size(), added.size());
    for (size_t k = 0; k < paired; ++k) {
      rows.push_back({DiffLine::Kind::kChanged, removed[k], added[k]});
    }
    for (size_t k = paired; k < removed.size(); ++k) {
      rows.push_back({DiffLine::Kind::kRemoved, removed[k], -1});
    }
    for (size_t k = paired; k < added.size(); ++k) {
      rows.push_back({DiffLine::Kind::kAdded, -1, added[k]});
    }
  }
  return rows;
}

// `rows` with each run of kSame rows cut to `context` rows next to the changes around it, the
// rest of the run (when more than one row) replaced by one kGap row.
std::vector<Row> FoldUnchanged(const std::vector<Row>& rows, size_t context) {
  std::vector<Row> out;
  for (size_t i = 0; i < rows.size();) {
    if (rows[i].kind != DiffLine::Kind::kSame) {
      out.push_back(rows[i++]);
      continue;
    }
    size_t end = i;
    while (end < rows.size() && rows[end].kind == DiffLine::Kind::kSame) ++end;
    const size_t run = end - i;
    const size_t head = i > 0 ? std::min(context, run) : 0;                     // after a change
    const size_t tail = end < rows.size() ? std::min(context, run - head) : 0;  // before one
    const size_t hidden = run - head - tail;
    if (hidden < 2) {
      out.insert(out.end(), rows.begin() + static_cast<long>(i),
                 rows.begin() + static_cast<long>(end));
    } else {
      out.insert(out.end(), rows.begin() + static_cast<long>(i),
                 rows.begin() + static_cast<long>(i + head));
      const Row& first = rows[i + head];
      out.push_back({DiffLine::Kind::kGap, first.left, first.right, hidden});
      out.insert(out.end(), rows.begin() + static_cast<long>(end - tail),
                 rows.begin() + static_cast<long>(end));
    }
    i = end;
  }
  return out;
}

// --- reading an update ---

// The bodies of `entries` (null entries give ""), read under the site lock.
Result<std::vector<std::string>> ReadBodies(SiteContent& content,
                                            const std::vector<const FileEntry*>& entries) {
  std::vector<std::string> bodies(entries.size());
  RETURN_IF_ERROR(content.Read([&](content::ContentStore& store) -> Status {
    for (size_t i = 0; i < entries.size(); ++i) {
      if (entries[i] == nullptr) continue;
      ASSIGN_OR_RETURN(bodies[i], store.blobs().Get(entries[i]->hash, entries[i]->length));
    }
    return Status::Ok();
  }));
  return bodies;
}

// Fills in `change.text`, and for a changed text file its diff or the note saying why there is
// none. `before` and `after` are the file's entries (null for the side it lacks).
void DescribeFile(SiteContent& content, const FileEntry* before, const FileEntry* after,
                  const ReviewOptions& options, FileChange& change) {
  change.text = (before == nullptr || IsTextContentType(before->content_type)) &&
                (after == nullptr || IsTextContentType(after->content_type));
  if (!change.text) return;
  const bool changed = before != nullptr && after != nullptr;
  const uint64_t largest =
      std::max(before ? before->length : uint64_t{0}, after ? after->length : uint64_t{0});
  if (largest > options.max_file_bytes) {
    if (changed) {
      change.note = "larger than " + FormatByteCount(options.max_file_bytes) +
                    ": no line-by-line comparison; look at the preview";
    }
    return;
  }
  if (changed && before->hash == after->hash) {
    change.note = "the bytes are the same: only the content type, update method or link changed";
  }
  auto bodies = ReadBodies(content, {before, after});
  if (!bodies.ok()) {
    // A missing or damaged blob (the active copy may be waiting for repair) costs this file its
    // diff, not the whole review.
    if (changed) change.note = "cannot read the file to compare it: " + bodies.status().message();
    return;
  }
  const std::string& old_text = (*bodies)[0];
  const std::string& new_text = (*bodies)[1];
  change.text = IsValidUtf8(old_text) && IsValidUtf8(new_text);
  if (!changed || !change.note.empty()) return;
  if (!change.text) {
    change.note = "not valid UTF-8 text: no line-by-line comparison; look at the preview";
    return;
  }
  change.diff =
      SideBySideDiff(old_text, new_text, 3, options.max_diff_lines, &change.diff_truncated);
}

}  // namespace

std::vector<DiffLine> SideBySideDiff(std::string_view before, std::string_view after,
                                     size_t context_lines, size_t max_lines, bool* truncated) {
  const std::vector<std::string_view> a = SplitLines(before);
  const std::vector<std::string_view> b = SplitLines(after);
  bool cut = false;
  const std::vector<Row> rows =
      FoldUnchanged(PairRows(EditScript(a, b, max_lines, &cut)), context_lines);
  if (truncated != nullptr) *truncated = cut || rows.size() > max_lines;
  std::vector<DiffLine> out;
  out.reserve(std::min(rows.size(), max_lines));
  for (size_t i = 0; i < rows.size() && i < max_lines; ++i) {
    const Row& r = rows[i];
    DiffLine d;
    d.kind = r.kind;
    d.left_number = static_cast<int>(r.left + 1);
    d.right_number = static_cast<int>(r.right + 1);
    if (r.kind == DiffLine::Kind::kGap) {
      d.left = std::to_string(r.gap) + " unchanged lines";
    } else {
      if (r.left >= 0) d.left = a[static_cast<size_t>(r.left)];
      if (r.right >= 0) d.right = b[static_cast<size_t>(r.right)];
    }
    out.push_back(std::move(d));
  }
  return out;
}

bool IsTextContentType(std::string_view content_type) {
  std::string base(content_type.substr(0, content_type.find(';')));
  while (!base.empty() && (base.back() == ' ' || base.back() == '\t')) base.pop_back();
  std::transform(base.begin(), base.end(), base.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return base.starts_with("text/") || base == "application/javascript" ||
         base == "application/x-javascript" || base == "application/ecmascript" ||
         base == "application/json" || base == "application/xml" || base == "image/svg+xml" ||
         base.ends_with("+json") || base.ends_with("+xml");
}

Result<UpdateReview> ReviewPendingUpdate(sync::Receiver& receiver, SiteContent& content,
                                         std::string_view update_id, ReviewOptions options) {
  ASSIGN_OR_RETURN(std::vector<sync::ReceivedUpdate> pending, receiver.Pending());
  for (const sync::ReceivedUpdate& u : pending) {
    if (u.update_id == update_id) return ReviewPendingUpdate(content, u, options);
  }
  return Status::NotFound("no update '" + std::string(update_id) +
                          "' is waiting for approval: 'tieup partner pending' lists those that "
                          "are, 'tieup partner updates' what became of the others");
}

Result<UpdateReview> ReviewPendingUpdate(SiteContent& content, const sync::ReceivedUpdate& update,
                                         ReviewOptions options) {
  if (update.state != "pending") {
    return Status::NotFound("update '" + update.update_id +
                            "' is not waiting for approval (it is " + update.state + ")");
  }
  std::optional<ReleaseManifest> staged;
  std::shared_ptr<const ReleaseManifest> active;
  RETURN_IF_ERROR(content.Read([&](content::ContentStore& store) -> Status {
    auto s = store.ReadStaged(Area::kTieup, update.version);
    if (!s.ok()) {
      if (s.status().code() != StatusCode::kNotFound) return s.status();
      return Status::NotFound("update '" + update.update_id + "': tie-up version " +
                              std::to_string(update.version) +
                              " is no longer staged on this site; main offers it again");
    }
    staged = std::move(s).value();
    auto a = store.Active(Area::kTieup);
    if (a.ok()) {
      active = *a;
    } else if (a.status().code() != StatusCode::kNotFound) {
      return a.status();
    }
    return Status::Ok();
  }));

  const ReleaseManifest none;  // the site's first tie-up release: every file is added
  const content::ReleaseDiff diff = content::Diff(active ? *active : none, *staged);
  UpdateReview review;
  review.update_id = update.update_id;
  review.version = update.version;
  review.active_version = active ? active->version : 0;
  review.received_micros = update.received * 1'000'000;
  review.added = diff.added.size();
  review.changed = diff.changed.size();
  review.removed = diff.removed.size();
  review.files.reserve(review.added + review.changed + review.removed);
  auto add = [&](const content::DiffEntry& e, FileChange::Kind kind) {
    FileChange f;
    f.path = e.path;
    f.kind = kind;
    f.bytes_before = e.before ? e.before->length : 0;
    f.bytes_after = e.after ? e.after->length : 0;
    f.content_type = e.after ? e.after->content_type : e.before->content_type;
    DescribeFile(content, e.before, e.after, options, f);
    review.files.push_back(std::move(f));
  };
  for (const auto& e : diff.added) add(e, FileChange::Kind::kAdded);
  for (const auto& e : diff.changed) add(e, FileChange::Kind::kChanged);
  for (const auto& e : diff.removed) add(e, FileChange::Kind::kRemoved);
  std::sort(review.files.begin(), review.files.end(),
            [](const FileChange& x, const FileChange& y) { return x.path < y.path; });
  return review;
}

}  // namespace tieup
