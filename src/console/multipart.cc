#include "console/multipart.h"

#include <gmime/gmime.h>

#include <cctype>
#include <memory>
#include <mutex>
#include <set>

#include "base/encoding.h"

namespace tieup::console {
namespace {

// GLib objects owned by a unique_ptr.
struct GObjectUnref {
  void operator()(void* object) const {
    if (object != nullptr) g_object_unref(object);
  }
};
template <typename T>
using GPtr = std::unique_ptr<T, GObjectUnref>;

struct GFreeDeleter {
  void operator()(void* p) const { g_free(p); }
};

struct ParserOptionsFree {
  void operator()(GMimeParserOptions* o) const { g_mime_parser_options_free(o); }
};

void InitGMime() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

// The first problem GMime's parser reported that makes the body unusable (the warnings a
// browser's correct body can cause, such as raw UTF-8 in a file name, are not kept).
struct ParserProblems {
  std::string first;
};

std::string DescribeWarning(GMimeParserWarning code) {
  switch (code) {
    case GMIME_WARN_DUPLICATED_HEADER:
    case GMIME_CRIT_CONFLICTING_HEADER:
      return "a part repeats a header";
    case GMIME_WARN_DUPLICATED_PARAMETER:
    case GMIME_CRIT_CONFLICTING_PARAMETER:
      return "a header repeats a parameter";
    case GMIME_WARN_INVALID_CONTENT_TYPE:
      return "a part's Content-Type is invalid";
    case GMIME_WARN_INVALID_PARAMETER:
      return "a header has an invalid parameter";
    case GMIME_WARN_MALFORMED_MULTIPART:
      return "no part was found between the boundaries";
    case GMIME_WARN_TRUNCATED_MESSAGE:
      return "the body is cut short (the closing boundary is missing)";
    case GMIME_WARN_MALFORMED_MESSAGE:
      return "the body is malformed";
    case GMIME_CRIT_INVALID_HEADER_NAME:
      return "a part has a header line without a valid name";
    case GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY:
      return "the boundary parameter is missing";
    case GMIME_CRIT_NESTING_OVERFLOW:
      return "parts are nested too deeply";
    case GMIME_WARN_PART_WITHOUT_CONTENT:
      return "a part's headers run into a boundary (no blank line before its content)";
    case GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT:
      return "a part has neither headers nor content";
    default:
      return "";  // harmless for a form (8-bit header text, RFC 2047 words, address lists)
  }
}

void OnParserWarning(gint64, GMimeParserWarning code, const gchar*, gpointer data) {
  auto* problems = static_cast<ParserProblems*>(data);
  if (!problems->first.empty()) return;
  problems->first = DescribeWarning(code);
}

Status Malformed(std::string_view what) {
  return Status::InvalidArgument(std::string(what) +
                                 ": it is not multipart/form-data as a browser sends it; send "
                                 "the form again from the console's page");
}

// The bytes of `part`'s content (decoded if it declares a Content-Transfer-Encoding).
std::string PartBytes(GMimePart* part) {
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  if (content == nullptr) return "";
  GPtr<GMimeStream> out(g_mime_stream_mem_new());
  if (g_mime_data_wrapper_write_to_stream(content, out.get()) < 0) return "";
  GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out.get()));
  if (bytes == nullptr || bytes->len == 0) return "";
  return std::string(reinterpret_cast<const char*>(bytes->data), bytes->len);
}

bool HasNul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

bool HasControl(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

}  // namespace

Result<MultipartForm> ParseMultipartForm(std::string_view content_type, std::string_view body,
                                         const MultipartLimits& limits) {
  if (body.size() > limits.max_total_bytes) {
    return Status::ResourceExhausted("the upload is larger than " +
                                     std::to_string(limits.max_total_bytes) + " bytes");
  }
  if (HasControl(content_type))
    return Malformed("the Content-Type header holds a control character");
  InitGMime();
  std::unique_ptr<GMimeParserOptions, ParserOptionsFree> options(g_mime_parser_options_new());
  ParserProblems problems;
  g_mime_parser_options_set_warning_callback(options.get(), OnParserWarning, &problems);

  {
    GPtr<GMimeContentType> type(
        g_mime_content_type_parse(options.get(), std::string(content_type).c_str()));
    if (type == nullptr || !g_mime_content_type_is_type(type.get(), "multipart", "form-data")) {
      return Status::InvalidArgument("the body is not multipart/form-data (Content-Type '" +
                                     std::string(content_type.substr(0, 100)) + "')");
    }
    const char* boundary = g_mime_content_type_get_parameter(type.get(), "boundary");
    if (boundary == nullptr || *boundary == '\0') {
      return Malformed("the Content-Type names no boundary");
    }
    problems.first.clear();
  }

  // The part GMime reads: the request's Content-Type as its header, then the body, in one
  // buffer that the stream takes over.
  const std::string header = "Content-Type: " + std::string(content_type) + "\r\n\r\n";
  GByteArray* buffer = g_byte_array_sized_new(static_cast<guint>(header.size() + body.size()));
  g_byte_array_append(buffer, reinterpret_cast<const guint8*>(header.data()),
                      static_cast<guint>(header.size()));
  g_byte_array_append(buffer, reinterpret_cast<const guint8*>(body.data()),
                      static_cast<guint>(body.size()));
  GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_byte_array(buffer));  // owns `buffer`
  GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MESSAGE);
  GPtr<GMimeObject> root(g_mime_parser_construct_part(parser.get(), options.get()));
  if (!problems.first.empty()) return Malformed(problems.first);
  if (root == nullptr || !GMIME_IS_MULTIPART(root.get())) return Malformed("no parts were found");
  GMimeMultipart* multipart = GMIME_MULTIPART(root.get());
  const int count = g_mime_multipart_get_count(multipart);
  if (count <= 0) return Malformed("no parts were found");
  if (static_cast<size_t>(count) > limits.max_parts) {
    return Status::ResourceExhausted("the form has " + std::to_string(count) +
                                     " fields and files; at most " +
                                     std::to_string(limits.max_parts) + " are taken at once");
  }

  MultipartForm form;
  std::set<std::string, std::less<>> names;
  for (int i = 0; i < count; ++i) {
    GMimeObject* object = g_mime_multipart_get_part(multipart, i);
    const std::string which = "part " + std::to_string(i + 1);
    if (object == nullptr || !GMIME_IS_PART(object)) {
      return Malformed(which + " is itself multipart or a message, which a form never sends");
    }
    GMimeContentDisposition* disposition = g_mime_object_get_content_disposition(object);
    const char* kind =
        disposition != nullptr ? g_mime_content_disposition_get_disposition(disposition) : nullptr;
    if (kind == nullptr || g_ascii_strcasecmp(kind, "form-data") != 0) {
      return Malformed(which + " has no \"Content-Disposition: form-data\" header");
    }
    const char* name_value = g_mime_content_disposition_get_parameter(disposition, "name");
    const std::string name = name_value != nullptr ? name_value : "";
    if (name.empty()) return Malformed(which + " has no field name");
    if (!IsValidUtf8(name) || HasControl(name)) {
      return Malformed(which + "'s field name is not plain UTF-8 text");
    }
    const char* filename_value = g_mime_content_disposition_get_parameter(disposition, "filename");
    std::string bytes = PartBytes(GMIME_PART(object));
    if (filename_value == nullptr) {
      if (bytes.size() > limits.max_field_bytes) {
        return Status::ResourceExhausted("the field '" + name + "' is longer than " +
                                         std::to_string(limits.max_field_bytes) + " bytes");
      }
      if (!IsValidUtf8(bytes) || HasNul(bytes)) {
        return Status::InvalidArgument("the field '" + name +
                                       "' is not UTF-8 text: send the form from the console's "
                                       "page");
      }
      if (!names.insert(name).second) {
        return Status::InvalidArgument("the field '" + name + "' is sent twice");
      }
      form.fields.Set(name, std::move(bytes));
      continue;
    }
    const std::string filename = filename_value;
    // <input type="file"> left empty: the browser sends the part with no name and no bytes.
    if (filename.empty() && bytes.empty()) continue;
    if (!IsValidUtf8(filename) || HasControl(filename)) {
      return Malformed(which + "'s file name is not plain UTF-8 text");
    }
    UploadedFile file;
    file.field = name;
    file.filename = filename;
    // The part's own Content-Type only: GMime reports text/plain for a part without one.
    if (g_mime_object_get_header(object, "Content-Type") != nullptr) {
      std::unique_ptr<char, GFreeDeleter> type(
          g_mime_content_type_get_mime_type(g_mime_object_get_content_type(object)));
      if (type != nullptr) file.content_type = type.get();
    }
    file.bytes = std::move(bytes);
    form.files.push_back(std::move(file));
  }
  if (!problems.first.empty()) return Malformed(problems.first);
  return form;
}

std::string SafeUploadName(std::string_view filename) {
  if (const size_t slash = filename.find_last_of("/\\"); slash != std::string_view::npos) {
    filename.remove_prefix(slash + 1);
  }
  std::string out;
  for (char c : filename) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '.' || c == '-' || c == '_' || u >= 0x80) {
      out += c;
    } else if (!out.empty() && out.back() != '-') {
      out += '-';
    }
  }
  while (!out.empty() && (out.front() == '.' || out.front() == '-')) out.erase(0, 1);
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

}  // namespace tieup::console
