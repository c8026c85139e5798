// What a pending tie-up update changes, for the partner manager's review (the console's
// /updates/ID page; issue #13 item 3): the files the update adds, changes and removes with their
// sizes, and for each changed text file a side-by-side diff of its lines, computed with the Diff
// Template Library (Debian's libdtl-dev). HTML pages are diffed line by line as text. The preview
// of the page as it will look is preview.h's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "site/site_content.h"
#include "sync/receiver.h"

namespace tieup {

// One row of a side-by-side diff.
struct DiffLine {
  enum class Kind {
    kSame,     // the line is on both sides
    kRemoved,  // only on the left (before)
    kAdded,    // only on the right (after)
    kChanged,  // a removed line and the added line at the same position of its change block
    kGap,      // unchanged lines left out
  };
  Kind kind = Kind::kSame;
  // 1-based line numbers; 0 when that side has no line. For kGap: the first line left out on
  // each side.
  int left_number = 0, right_number = 0;
  // The text of each side's line, without its line ending ("\n" or "\r\n"). For kGap, `left`
  // says how many lines were left out ("12 unchanged lines") and `right` is empty.
  std::string left, right;

  friend bool operator==(const DiffLine&, const DiffLine&) = default;
};

// One file of an update.
struct FileChange {
  std::string path;  // "/products/sencha.html"
  enum class Kind { kAdded, kChanged, kRemoved } kind = Kind::kChanged;
  uint64_t bytes_before = 0;  // 0 when added
  uint64_t bytes_after = 0;   // 0 when removed
  std::string content_type;   // the new type (the old one for a removed file)
  // A text type (text/*: html, css, plain, markdown...; JavaScript, JSON, XML, SVG) whose bytes
  // are valid UTF-8 on every side the file has. Files larger than ReviewOptions::max_file_bytes
  // are not read: for them this says the type only.
  bool text = false;
  // Changed text files only: side by side, 3 lines of context around each change block, longer
  // runs of unchanged lines folded into kGap rows. Empty for binary, added and removed files.
  std::vector<DiffLine> diff;
  bool diff_truncated = false;  // `diff` was cut at ReviewOptions::max_diff_lines rows
  // Why a changed text file has no diff, in words for the manager ("larger than 1.0 MiB: look
  // at the preview"; "the bytes are the same: only the content type changed"); empty otherwise.
  std::string note;

  friend bool operator==(const FileChange&, const FileChange&) = default;
};

// The review of one pending update against the active tie-up release.
struct UpdateReview {
  std::string update_id;
  uint64_t version = 0;           // the staged tie-up version the update would activate
  uint64_t active_version = 0;    // the tie-up version it is compared with (0: none yet)
  int64_t received_micros = 0;    // when the partner received it (unix microseconds)
  std::vector<FileChange> files;  // in path order
  size_t added = 0, changed = 0, removed = 0;
};

struct ReviewOptions {
  size_t max_diff_lines = 2000;     // rows of one file's diff (gap rows included)
  size_t max_file_bytes = 1 << 20;  // larger files are not read (no diff)
};

// The review of pending update `update_id` of `receiver` (the partner's sync::Receiver; its
// Pending() list) against the active tie-up release of `content`, whose store holds the staged
// release and the blobs of both. NotFound for an unknown update or one no longer pending
// (approved, rejected, superseded), and for one whose staged release is gone. Reads each file's
// bytes under the site lock, one file at a time, and diffs them outside it. Thread-safe as the
// receiver and the content are.
Result<UpdateReview> ReviewPendingUpdate(sync::Receiver& receiver, SiteContent& content,
                                         std::string_view update_id, ReviewOptions options = {});

// As above, for a caller that holds the update already (an entry of Receiver::Pending()).
// NotFound when its state is not "pending" or its staged release is gone.
Result<UpdateReview> ReviewPendingUpdate(SiteContent& content, const sync::ReceivedUpdate& update,
                                         ReviewOptions options = {});

// The pure part: a side-by-side diff of two texts split into lines at "\n" (a "\r" before it is
// dropped, and a final line without a newline counts as a line, so line endings alone never make
// a difference). Rows are in order; unchanged lines more than `context_lines` away from any
// change are folded into one kGap row per run (a run of one line is shown, not folded). Identical
// texts give a single kGap row (or their one kSame line); two empty texts give no row. At most
// `max_lines` rows; `*truncated` (when not null) says whether rows were left out. When the lines
// only one side has are already more than `max_lines`, only the first lines of the differing
// part are compared, enough for the rows shown: the time stays bounded (a 1 MiB page of short
// lines rewritten entirely), and those rows are a true diff of the lines they show. Pure and
// thread-safe.
std::vector<DiffLine> SideBySideDiff(std::string_view before, std::string_view after,
                                     size_t context_lines, size_t max_lines, bool* truncated);

// True iff `content_type`'s media type is one diffed as text: text/*, JavaScript, JSON, XML, SVG
// (and any +json or +xml type). Case-insensitive; parameters (charset) are ignored.
bool IsTextContentType(std::string_view content_type);

}  // namespace tieup
