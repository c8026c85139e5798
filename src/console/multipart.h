// multipart/form-data bodies (RFC 7578): what a browser sends for a form with
// enctype="multipart/form-data", i.e. a form with an <input type="file">. Parsed with GMime 3
// (Debian's libgmime-3.0), not by hand. Pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "commerce/form.h"

namespace tieup::console {

// One file of a multipart form: a part whose Content-Disposition has a filename.
struct UploadedFile {
  std::string field;         // the form field's name ("file")
  std::string filename;      // as the browser named it (valid UTF-8; a path is NOT removed)
  std::string content_type;  // as the browser guessed it ("image/png"); may be empty
  std::string bytes;         // the file's content, exactly
};

// The last part of a browser's file name (UploadedFile::filename) as a safe address segment:
// letters, digits, '.', '-', '_' and any non-ASCII UTF-8 stay; everything else (spaces, '#', '?',
// '%', quotes) becomes '-'; no leading dot or dash, no trailing dash. Empty when nothing usable
// is left.
std::string SafeUploadName(std::string_view filename);

// The fields and files of a multipart form.
struct MultipartForm {
  commerce::FormFields fields;      // the parts without a filename, as text
  std::vector<UploadedFile> files;  // the parts with one, in body order
};

struct MultipartLimits {
  size_t max_parts = 64;               // fields and files together
  size_t max_field_bytes = 64 * 1024;  // one text field's value
  size_t max_total_bytes = 16u << 20;  // the whole body
};

// Parses `body`, sent with the Content-Type header `content_type` (which must be
// "multipart/form-data" with a boundary parameter). Every part must be
// "Content-Disposition: form-data" with a non-empty name; a text field's name and value must be
// valid UTF-8 without NUL and appear once; a part may not itself be multipart. A file field left
// empty in the browser (no filename and no bytes) is not a file and is left out.
// InvalidArgument, with a message that says what was wrong, for a body that breaks any of this,
// that GMime finds malformed (no parts, a missing closing boundary, a truncated part, a header
// without a name) or that is not multipart/form-data at all; ResourceExhausted for a body, a
// field or a number of parts above `limits`.
Result<MultipartForm> ParseMultipartForm(std::string_view content_type, std::string_view body,
                                         const MultipartLimits& limits = {});

}  // namespace tieup::console
