// Fuzzes the console's upload parser (console/multipart.h, GMime underneath): a
// multipart/form-data body as a browser, or an attacker signed in to the console, sends it.
//
// Input: the Content-Type header, a "\n--\n" line, then the body.
// Properties: whatever comes in, an answer (no crash, leak or hang); an accepted form keeps to
// its limits (parts, field sizes), holds named parts with valid UTF-8 text fields without NUL
// and file bytes no longer than the body; the same input gives the same answer.
#include <string>

#include "base/encoding.h"
#include "console/multipart.h"
#include "fuzz_util.h"

using namespace tieup::console;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tieup::fuzz::Parts parts(data, size);
  const std::string content_type(parts.Next());
  const std::string body(parts.Rest());
  MultipartLimits limits;
  limits.max_parts = 8;
  limits.max_field_bytes = 512;
  limits.max_total_bytes = 64 * 1024;
  auto form = ParseMultipartForm(content_type, body, limits);
  auto again = ParseMultipartForm(content_type, body, limits);
  FUZZ_CHECK(form.ok() == again.ok());
  if (!form.ok()) {
    FUZZ_CHECK(!form.status().message().empty());
    FUZZ_CHECK(form.status().message() == again.status().message());
    return 0;
  }
  FUZZ_CHECK(body.size() <= limits.max_total_bytes);
  FUZZ_CHECK(form->fields.size() + form->files.size() <= limits.max_parts);
  FUZZ_CHECK(form->fields.all() == again->fields.all());
  FUZZ_CHECK(form->files.size() == again->files.size());
  for (const auto& [name, value] : form->fields.all()) {
    FUZZ_CHECK(!name.empty());
    FUZZ_CHECK(tieup::IsValidUtf8(name) && tieup::IsValidUtf8(value));
    FUZZ_CHECK(value.find('\0') == std::string::npos);
    FUZZ_CHECK(value.size() <= limits.max_field_bytes);
  }
  for (size_t i = 0; i < form->files.size(); ++i) {
    const UploadedFile& f = form->files[i];
    FUZZ_CHECK(!f.field.empty());
    FUZZ_CHECK(tieup::IsValidUtf8(f.filename) && tieup::IsValidUtf8(f.field));
    FUZZ_CHECK(f.bytes.size() <= body.size());
    FUZZ_CHECK(f.bytes == again->files[i].bytes && f.filename == again->files[i].filename);
  }
  return 0;
}
