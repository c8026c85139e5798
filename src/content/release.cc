#include "content/release.h"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <limits>
#include <utility>

#include "base/encoding.h"
#include "crypto/hash.h"

namespace tieup::content {
namespace {

constexpr size_t kMaxPathBytes = 1024;
constexpr size_t kMaxContentTypeBytes = 255;
constexpr size_t kMaxLinkUrlBytes = 2048;
constexpr size_t kMaxVariables = 256;
constexpr size_t kMaxVariableBytes = 64 * 1024;  // all values together

std::string Quote(std::string_view s) {
  // Paths in messages come from untrusted input: show them JSON-escaped so a control character
  // cannot forge a log line.
  return boost::json::serialize(boost::json::string(s));
}

// Checks that `obj` has exactly the `required` keys plus any of the `optional` ones.
Status CheckKeys(const boost::json::object& obj, std::string_view where,
                 std::initializer_list<std::string_view> required,
                 std::initializer_list<std::string_view> optional = {}) {
  for (const auto& kv : obj) {
    std::string_view k = kv.key();
    if (std::find(required.begin(), required.end(), k) == required.end() &&
        std::find(optional.begin(), optional.end(), k) == optional.end()) {
      return Status::InvalidArgument("unknown field " + Quote(k) + " in " + std::string(where) +
                                     " (this tieup understands release format " +
                                     std::to_string(kReleaseFormat) + ")");
    }
  }
  for (std::string_view k : required) {
    if (!obj.contains(k)) {
      return Status::InvalidArgument("missing field '" + std::string(k) + "' in " +
                                     std::string(where));
    }
  }
  return Status::Ok();
}

Result<uint64_t> GetUint(const boost::json::object& obj, std::string_view key,
                         std::string_view where) {
  const boost::json::value& v = obj.at(key);
  if (v.is_uint64()) return v.get_uint64();
  if (v.is_int64() && v.get_int64() >= 0) return static_cast<uint64_t>(v.get_int64());
  return Status::InvalidArgument("field '" + std::string(key) + "' in " + std::string(where) +
                                 " must be a non-negative integer, got " +
                                 boost::json::serialize(v));
}

Result<int64_t> GetNonNegativeInt64(const boost::json::object& obj, std::string_view key,
                                    std::string_view where) {
  ASSIGN_OR_RETURN(uint64_t u, GetUint(obj, key, where));
  if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return Status::InvalidArgument("field '" + std::string(key) + "' in " + std::string(where) +
                                   " is out of range");
  }
  return static_cast<int64_t>(u);
}

Result<std::string> GetString(const boost::json::object& obj, std::string_view key,
                              std::string_view where) {
  const boost::json::value& v = obj.at(key);
  if (!v.is_string()) {
    return Status::InvalidArgument("field '" + std::string(key) + "' in " + std::string(where) +
                                   " must be a string, got " + boost::json::serialize(v));
  }
  return std::string(v.get_string());
}

Result<const boost::json::object*> GetObject(const boost::json::object& obj, std::string_view key,
                                             std::string_view where) {
  const boost::json::value& v = obj.at(key);
  if (!v.is_object()) {
    return Status::InvalidArgument("field '" + std::string(key) + "' in " + std::string(where) +
                                   " must be an object");
  }
  return &v.get_object();
}

bool IsPrintableAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

Status ValidateContentType(std::string_view ct, std::string_view where) {
  if (ct.empty() || ct.size() > kMaxContentTypeBytes || !IsPrintableAscii(ct) ||
      ct.find('/') == std::string_view::npos) {
    return Status::InvalidArgument("bad content_type " + Quote(ct) + " for " + std::string(where) +
                                   ": expected a MIME type such as \"text/html\"");
  }
  return Status::Ok();
}

Status ValidateLinkUrl(std::string_view url, std::string_view where) {
  bool scheme_ok = url.starts_with("https://") || url.starts_with("http://");
  if (!scheme_ok || url.size() > kMaxLinkUrlBytes || !IsPrintableAscii(url) ||
      url.find(' ') != std::string_view::npos) {
    return Status::InvalidArgument("bad link_url " + Quote(url) + " for " + std::string(where) +
                                   ": expected an absolute http(s) URL without spaces");
  }
  return Status::Ok();
}

Status ValidateEntry(const std::string& path, const FileEntry& e) {
  std::string where = "file " + Quote(path);
  Status s = ValidateHashHex(e.hash);
  if (!s.ok()) return s.Annotate(where);
  RETURN_IF_ERROR(ValidateContentType(e.content_type, where));
  if (e.method == UpdateMethod::kLink) {
    if (e.link_url.empty()) {
      return Status::InvalidArgument(where + " has method \"link\" but no link_url");
    }
    RETURN_IF_ERROR(ValidateLinkUrl(e.link_url, where));
  } else if (!e.link_url.empty()) {
    return Status::InvalidArgument(where + " has a link_url but method \"" +
                                   std::string(UpdateMethodName(e.method)) +
                                   "\": link_url is only for method \"link\"");
  }
  if (e.method != UpdateMethod::kLink && e.link_mode != LinkMode::kRedirect) {
    return Status::InvalidArgument(where + " has a link_mode but method \"" +
                                   std::string(UpdateMethodName(e.method)) +
                                   "\": link_mode is only for method \"link\"");
  }
  if (e.gzip) {
    s = ValidateHashHex(e.gzip->hash);
    if (!s.ok()) return s.Annotate(where + " gzip");
  }
  if (e.vars && (e.gzip || e.method == UpdateMethod::kLink || e.expanded_from)) {
    return Status::InvalidArgument(
        where +
        " is a template (vars) with a gzip variant, a link or an expanded form: a "
        "template has none of them");
  }
  if (e.expanded_from) {
    s = ValidateHashHex(e.expanded_from->hash);
    if (!s.ok()) return s.Annotate(where + " from");
  }
  return Status::Ok();
}

// The optional member `key` of `obj`: {"hash":..,"length":..}.
Result<std::optional<BlobRef>> ParseBlobRef(const boost::json::object& obj, std::string_view key,
                                            const std::string& where) {
  if (!obj.contains(key)) return std::optional<BlobRef>();
  const std::string ref_where = where + " " + std::string(key);
  ASSIGN_OR_RETURN(const boost::json::object* ref, GetObject(obj, key, where));
  RETURN_IF_ERROR(CheckKeys(*ref, ref_where, {"hash", "length"}));
  BlobRef b;
  ASSIGN_OR_RETURN(b.hash, GetString(*ref, "hash", ref_where));
  ASSIGN_OR_RETURN(b.length, GetUint(*ref, "length", ref_where));
  return std::optional<BlobRef>(std::move(b));
}

Result<FileEntry> ParseEntry(const std::string& path, const boost::json::value& v) {
  std::string where = "file " + Quote(path);
  if (!v.is_object()) return Status::InvalidArgument(where + " must be an object");
  const boost::json::object& obj = v.get_object();
  RETURN_IF_ERROR(CheckKeys(obj, where, {"content_type", "hash", "length", "method"},
                            {"from", "gzip", "link_mode", "link_url", "vars"}));
  FileEntry e;
  ASSIGN_OR_RETURN(e.hash, GetString(obj, "hash", where));
  ASSIGN_OR_RETURN(e.length, GetUint(obj, "length", where));
  ASSIGN_OR_RETURN(e.content_type, GetString(obj, "content_type", where));
  ASSIGN_OR_RETURN(std::string method, GetString(obj, "method", where));
  auto m = ParseUpdateMethod(method);
  if (!m.ok()) return m.status().Annotate(where);
  e.method = *m;
  if (obj.contains("link_url")) {
    ASSIGN_OR_RETURN(e.link_url, GetString(obj, "link_url", where));
    if (e.link_url.empty()) {
      return Status::InvalidArgument(where + ": link_url is empty (omit it instead)");
    }
  }
  if (obj.contains("link_mode")) {
    ASSIGN_OR_RETURN(std::string mode, GetString(obj, "link_mode", where));
    auto parsed = ParseLinkMode(mode);
    if (!parsed.ok()) return parsed.status().Annotate(where);
    e.link_mode = *parsed;
  }
  ASSIGN_OR_RETURN(e.gzip, ParseBlobRef(obj, "gzip", where));
  ASSIGN_OR_RETURN(e.expanded_from, ParseBlobRef(obj, "from", where));
  if (obj.contains("vars")) {
    const boost::json::value& v = obj.at("vars");
    if (!v.is_bool() || !v.get_bool()) {
      return Status::InvalidArgument(where + ": vars must be true (omit it otherwise)");
    }
    e.vars = true;
  }
  RETURN_IF_ERROR(ValidateEntry(path, e));
  return e;
}

// Appends `s` as a JSON string exactly as Boost.JSON serializes it (strings with nothing to
// escape, almost all of them, are copied as they are).
void AppendJsonString(std::string& out, std::string_view s) {
  const bool plain = std::all_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x20 && c != '"' && c != '\\';
  });
  if (!plain) {
    out += boost::json::serialize(boost::json::string(s));
    return;
  }
  out += '"';
  out += s;
  out += '"';
}

// Appends `,"key":{"hash":..,"length":..}` when `ref` is set.
void AppendBlobRef(std::string& out, std::string_view key, const std::optional<BlobRef>& ref) {
  if (!ref) return;
  out += ",\"";
  out += key;
  out += "\":{\"hash\":";
  AppendJsonString(out, ref->hash);
  out += ",\"length\":";
  out += std::to_string(ref->length);
  out += '}';
}

// Appends the canonical JSON object of one file entry (keys in byte order).
void AppendEntry(std::string& out, const FileEntry& e) {
  out += "{\"content_type\":";
  AppendJsonString(out, e.content_type);
  AppendBlobRef(out, "from", e.expanded_from);
  AppendBlobRef(out, "gzip", e.gzip);
  out += ",\"hash\":";
  AppendJsonString(out, e.hash);
  out += ",\"length\":";
  out += std::to_string(e.length);
  if (e.link_mode != LinkMode::kRedirect) {
    out += ",\"link_mode\":";
    AppendJsonString(out, LinkModeName(e.link_mode));
  }
  if (!e.link_url.empty()) {
    out += ",\"link_url\":";
    AppendJsonString(out, e.link_url);
  }
  out += ",\"method\":";
  AppendJsonString(out, UpdateMethodName(e.method));
  if (e.vars) out += ",\"vars\":true";
  out += '}';
}

// Appends `"variables":{...}` (keys in byte order), or nothing when there are none.
void AppendVariables(std::string& out, const std::map<std::string, std::string>& variables) {
  if (variables.empty()) return;
  out += "\"variables\":{";
  bool first = true;
  for (const auto& [name, value] : variables) {
    if (!first) out += ',';
    first = false;
    AppendJsonString(out, name);
    out += ':';
    AppendJsonString(out, value);
  }
  out += '}';
}

Status ValidateVariables(const std::map<std::string, std::string>& variables) {
  if (variables.size() > kMaxVariables) {
    return Status::InvalidArgument("release has " + std::to_string(variables.size()) +
                                   " variables; at most " + std::to_string(kMaxVariables));
  }
  size_t bytes = 0;
  for (const auto& [name, value] : variables) {
    RETURN_IF_ERROR(ValidateVariableName(name));
    if (!IsValidUtf8(value)) {
      return Status::InvalidArgument("release variable " + Quote(name) + " is not valid UTF-8");
    }
    bytes += value.size();
  }
  if (bytes > kMaxVariableBytes) {
    return Status::InvalidArgument("release variables hold " + std::to_string(bytes) +
                                   " bytes; at most " + std::to_string(kMaxVariableBytes));
  }
  return Status::Ok();
}

// Reads an optional "variables" object of strings.
Result<std::map<std::string, std::string>> ParseVariables(const boost::json::object& obj,
                                                          std::string_view where) {
  std::map<std::string, std::string> out;
  if (!obj.contains("variables")) return out;
  ASSIGN_OR_RETURN(const boost::json::object* vars, GetObject(obj, "variables", where));
  const std::string vars_where = std::string(where) + " variables";
  for (const auto& kv : *vars) {
    ASSIGN_OR_RETURN(std::string value, GetString(*vars, kv.key(), vars_where));
    out[std::string(kv.key())] = std::move(value);
  }
  if (out.empty()) {
    return Status::InvalidArgument(std::string(where) + ": variables is empty (omit it instead)");
  }
  RETURN_IF_ERROR(ValidateVariables(out));
  return out;
}

Status ValidateHeader(int format, std::string_view site, uint64_t version, int64_t created,
                      int64_t expires) {
  if (format != kReleaseFormat) {
    return Status::InvalidArgument("release format " + std::to_string(format) +
                                   " is not supported (this tieup reads format " +
                                   std::to_string(kReleaseFormat) + "): upgrade tieup");
  }
  RETURN_IF_ERROR(ValidateSiteId(site));
  if (version == 0) return Status::InvalidArgument("release version must be at least 1");
  if (created < 0) return Status::InvalidArgument("release 'created' time is negative");
  if (expires < 0) return Status::InvalidArgument("release 'expires' time is negative");
  if (expires != 0 && expires <= created) {
    return Status::InvalidArgument("release expires (" + std::to_string(expires) +
                                   ") is not after its creation (" + std::to_string(created) + ")");
  }
  return Status::Ok();
}

}  // namespace

std::string_view AreaName(Area area) { return area == Area::kTieup ? "tieup" : "original"; }

Result<Area> ParseArea(std::string_view name) {
  if (name == "tieup") return Area::kTieup;
  if (name == "original") return Area::kOriginal;
  return Status::InvalidArgument("unknown area " + Quote(name) +
                                 ": expected \"tieup\" or \"original\"");
}

std::string_view EmergencyEditPolicyName(EmergencyEditPolicy policy) {
  switch (policy) {
    case EmergencyEditPolicy::kNone:
      return "none";
    case EmergencyEditPolicy::kKeep:
      return "keep";
    case EmergencyEditPolicy::kOverwrite:
      return "overwrite";
  }
  return "none";
}

Result<EmergencyEditPolicy> ParseEmergencyEditPolicy(std::string_view name) {
  if (name == "none") return EmergencyEditPolicy::kNone;
  if (name == "keep") return EmergencyEditPolicy::kKeep;
  if (name == "overwrite") return EmergencyEditPolicy::kOverwrite;
  return Status::InvalidArgument("unknown emergency edit policy " + Quote(name) +
                                 ": expected \"none\", \"keep\" or \"overwrite\"");
}

std::string_view UpdateMethodName(UpdateMethod method) {
  switch (method) {
    case UpdateMethod::kStaged:
      return "staged";
    case UpdateMethod::kOverwrite:
      return "overwrite";
    case UpdateMethod::kLink:
      return "link";
  }
  return "staged";
}

Result<UpdateMethod> ParseUpdateMethod(std::string_view name) {
  if (name == "staged") return UpdateMethod::kStaged;
  if (name == "overwrite") return UpdateMethod::kOverwrite;
  if (name == "link") return UpdateMethod::kLink;
  return Status::InvalidArgument("unknown update method " + Quote(name) +
                                 ": expected \"staged\", \"overwrite\" or \"link\"");
}

std::string_view LinkModeName(LinkMode mode) {
  switch (mode) {
    case LinkMode::kRedirect:
      return "redirect";
    case LinkMode::kPage:
      return "page";
    case LinkMode::kRedirect301:
      return "redirect-301";
    case LinkMode::kRedirect307:
      return "redirect-307";
  }
  return "redirect";
}

Result<LinkMode> ParseLinkMode(std::string_view name) {
  for (LinkMode m :
       {LinkMode::kRedirect, LinkMode::kPage, LinkMode::kRedirect301, LinkMode::kRedirect307}) {
    if (name == LinkModeName(m)) return m;
  }
  return Status::InvalidArgument("unknown link mode " + Quote(name) +
                                 ": expected \"redirect\" (302), \"redirect-301\", "
                                 "\"redirect-307\" or \"page\"");
}

int LinkRedirectStatus(LinkMode mode) {
  switch (mode) {
    case LinkMode::kRedirect:
      return 302;
    case LinkMode::kRedirect301:
      return 301;
    case LinkMode::kRedirect307:
      return 307;
    case LinkMode::kPage:
      return 0;
  }
  return 302;
}

Status ValidatePath(std::string_view path) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("bad page path " + Quote(path) + ": " + std::string(why));
  };
  if (path.empty() || path[0] != '/') return bad("it must start with '/'");
  if (path.size() > kMaxPathBytes) return bad("it is longer than 1024 bytes");
  if (path.back() == '/') return bad("it must name a file, not end with '/'");
  for (size_t i = 0; i < path.size();) {
    unsigned char c = static_cast<unsigned char>(path[i]);
    if (c == 0) return bad("it contains a NUL byte");
    if (c < 0x20 || c == 0x7f) return bad("it contains a control character");
    if (c == '\\') return bad("it contains a backslash; use '/'");
    size_t n = Utf8SequenceLength(path, i);
    if (n == 0) return bad("it is not valid UTF-8");
    i += n;
  }
  // Segments: everything between slashes after the leading one.
  std::string_view rest = path.substr(1);
  while (true) {
    size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    if (seg.empty()) return bad("it contains an empty segment (\"//\")");
    if (seg == "." || seg == "..") return bad("it contains a \".\" or \"..\" segment");
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return Status::Ok();
}

Status ValidateHashHex(std::string_view hash) {
  // Called for every entry of every manifest parsed or built: a table, not a branchy lambda.
  static constexpr auto kHex = [] {
    std::array<bool, 256> t{};
    for (char c = '0'; c <= '9'; ++c) t[static_cast<unsigned char>(c)] = true;
    for (char c = 'a'; c <= 'f'; ++c) t[static_cast<unsigned char>(c)] = true;
    return t;
  }();
  bool ok = hash.size() == 64;
  for (size_t i = 0; ok && i < 64; ++i) ok = kHex[static_cast<unsigned char>(hash[i])];
  if (!ok) {
    return Status::InvalidArgument("bad content hash " + Quote(hash.substr(0, 80)) +
                                   ": expected 64 lower-case hex characters (SHA-256)");
  }
  return Status::Ok();
}

Status ValidateSiteId(std::string_view id) {
  bool ok = !id.empty() && id.size() <= 128 && id != "." && id != ".." &&
            std::all_of(id.begin(), id.end(), [](char c) {
              return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '.' || c == '_' || c == '-';
            });
  if (!ok) {
    return Status::InvalidArgument("bad site id " + Quote(id.substr(0, 140)) +
                                   ": expected 1 to 128 characters of A-Z a-z 0-9 . _ -");
  }
  return Status::Ok();
}

Status ValidateVariableName(std::string_view name) {
  const bool ok =
      !name.empty() && name.size() <= 128 && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-';
      });
  if (!ok) {
    return Status::InvalidArgument("bad variable name " + Quote(name.substr(0, 140)) +
                                   ": expected 1 to 128 characters of A-Z a-z 0-9 . _ -");
  }
  return Status::Ok();
}

Status ValidateFileEntry(std::string_view path, const FileEntry& entry) {
  return ValidateEntry(std::string(path), entry);
}

namespace {

Status ValidateGrant(Area area, EmergencyEditPolicy policy) {
  if (area == Area::kOriginal && policy != EmergencyEditPolicy::kNone) {
    return Status::InvalidArgument(
        "an original release cannot carry an emergency edit grant: only main grants it, on "
        "tie-up pages");
  }
  return Status::Ok();
}

}  // namespace

Status ReleaseManifest::ValidateHeader() const {
  RETURN_IF_ERROR(ValidateGrant(area, emergency_edit));
  RETURN_IF_ERROR(ValidateVariables(variables));
  return content::ValidateHeader(format, site, version, created, expires);
}

namespace {

// Chunk cache slots of a FileMap (base/cow_map.h).
constexpr size_t kJsonSlot = 0;         // the chunk's entries as canonical JSON members
constexpr size_t kCompactSlot = 1;      // the chunk's entries in the compact form
constexpr size_t kProblemSlot = 2;      // "" when every entry is valid, else the first problem
constexpr size_t kHashSlot = 3;         // the raw SHA-256 of the kJsonSlot bytes (see Hash())
constexpr size_t kCompactHashSlot = 4;  // the raw SHA-256 of the kCompactSlot bytes

std::string FirstProblem(const FileMap::Entries& entries) {
  for (const auto& [path, entry] : entries) {
    Status s = ValidatePath(path);
    if (s.ok()) s = ValidateEntry(path, entry);
    if (!s.ok()) return s.message().empty() ? std::string("invalid entry") : s.message();
  }
  return "";
}

}  // namespace

Status ReleaseManifest::Validate() const {
  RETURN_IF_ERROR(ValidateHeader());
  // Each chunk of `files` remembers its verdict: a release made from a checked one by changing
  // a few files checks those only.
  for (size_t i = 0; i < files.chunk_count(); ++i) {
    const std::string& problem = files.chunk(i).Cached(kProblemSlot, FirstProblem);
    if (!problem.empty()) return Status::InvalidArgument(problem);
  }
  return Status::Ok();
}

namespace {

std::string EncodeJsonEntries(const FileMap::Entries& entries) {
  std::string out;
  out.reserve(entries.size() * 260);
  for (const auto& [path, e] : entries) {
    if (!out.empty()) out += ',';
    AppendJsonString(out, path);
    out += ':';
    AppendEntry(out, e);
  }
  return out;
}

}  // namespace

std::string ReleaseManifest::Encode() const {
  std::string out;
  out.reserve(128 + files.size() * 260);
  (void)EncodeTo([&](std::string_view part) {
    out += part;
    return Status::Ok();
  });
  return out;
}

namespace {

// The canonical JSON members of a release's header around `files` (keys in byte order):
// `{"area":..,"created":..,"expires":..` before it, `"format":..,"site":..,"version":..}` after.
std::string HeaderBeforeFiles(const ReleaseManifest& m) {
  std::string out = "{\"area\":";
  AppendJsonString(out, AreaName(m.area));
  out += ",\"created\":" + std::to_string(m.created);
  if (m.emergency_edit != EmergencyEditPolicy::kNone) {
    out += ",\"emergency_edit\":";
    AppendJsonString(out, EmergencyEditPolicyName(m.emergency_edit));
  }
  out += ",\"expires\":" + std::to_string(m.expires);
  return out;
}
std::string HeaderAfterFiles(const ReleaseManifest& m) {
  std::string out = "\"format\":" + std::to_string(m.format);
  out += ",\"site\":";
  AppendJsonString(out, m.site);
  if (!m.variables.empty()) {
    out += ',';
    AppendVariables(out, m.variables);
  }
  out += ",\"version\":" + std::to_string(m.version);
  out += '}';
  return out;
}

}  // namespace

Status ReleaseManifest::EncodeTo(const std::function<Status(std::string_view)>& sink) const {
  // Written directly rather than through a JSON tree: a site of 10,000 pages is encoded on
  // every build and every update. The order is the canonical one: object keys in byte order,
  // and `files` is a map ordered the same way. Each chunk of `files` keeps its encoding, so a
  // release made from another by changing a few files re-encodes those only.
  RETURN_IF_ERROR(sink(HeaderBeforeFiles(*this) + ",\"files\":{"));
  for (size_t i = 0; i < files.chunk_count(); ++i) {
    if (i != 0) RETURN_IF_ERROR(sink(","));
    RETURN_IF_ERROR(sink(files.chunk(i).Cached(kJsonSlot, EncodeJsonEntries)));
  }
  return sink("}," + HeaderAfterFiles(*this));
}

std::string ReleaseManifest::Hash() const {
  // The definition is in release.h (it is part of the sync protocol). Only the header and one
  // 32-byte digest per chunk are hashed here; each chunk's digest is computed once per chunk
  // storage and shared by every copy of the release that shares the chunk.
  constexpr std::string_view kTag = "tieup-release-hash-1\n";
  Sha256Hasher h;
  h.Update(kTag);
  h.Update(HeaderBeforeFiles(*this) + "," + HeaderAfterFiles(*this));
  for (const EncodedChunk& c :
       files.ChunkEncodings(kJsonSlot, EncodeJsonEntries, kHashSlot,
                            [](std::string_view json) { return Sha256(json); })) {
    h.Update(c.key);
  }
  return HexEncode(h.Finish());
}

namespace {

// Reads the fields a release and a release delta share (format, site, area, version, created,
// expires) from `obj` into `out`.
template <typename T>
Status ParseHeaderFields(const boost::json::object& obj, std::string_view where, T& out) {
  ASSIGN_OR_RETURN(uint64_t format, GetUint(obj, "format", where));
  if (format != kReleaseFormat) {
    return Status::InvalidArgument("release format " + std::to_string(format) +
                                   " is not supported (this tieup reads format " +
                                   std::to_string(kReleaseFormat) + "): upgrade tieup");
  }
  out.format = static_cast<int>(format);
  ASSIGN_OR_RETURN(out.site, GetString(obj, "site", where));
  ASSIGN_OR_RETURN(std::string area, GetString(obj, "area", where));
  ASSIGN_OR_RETURN(out.area, ParseArea(area));
  ASSIGN_OR_RETURN(out.version, GetUint(obj, "version", where));
  ASSIGN_OR_RETURN(out.created, GetNonNegativeInt64(obj, "created", where));
  ASSIGN_OR_RETURN(out.expires, GetNonNegativeInt64(obj, "expires", where));
  if (obj.contains("emergency_edit")) {
    ASSIGN_OR_RETURN(std::string grant, GetString(obj, "emergency_edit", where));
    ASSIGN_OR_RETURN(out.emergency_edit, ParseEmergencyEditPolicy(grant));
  }
  ASSIGN_OR_RETURN(out.variables, ParseVariables(obj, where));
  return Status::Ok();
}

}  // namespace

Result<ReleaseManifest> ReleaseManifest::Parse(std::string_view bytes) {
  constexpr std::string_view kWhere = "release metadata";
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(bytes, ec);
  if (ec) {
    return Status::InvalidArgument("release metadata is not valid JSON: " + ec.message());
  }
  if (!v.is_object()) return Status::InvalidArgument("release metadata must be a JSON object");
  const boost::json::object& obj = v.get_object();
  RETURN_IF_ERROR(CheckKeys(obj, kWhere,
                            {"area", "created", "expires", "files", "format", "site", "version"},
                            {"emergency_edit", "variables"}));
  ReleaseManifest m;
  RETURN_IF_ERROR(ParseHeaderFields(obj, kWhere, m));
  ASSIGN_OR_RETURN(const boost::json::object* files, GetObject(obj, "files", kWhere));
  for (const auto& kv : *files) {
    std::string path(kv.key());
    RETURN_IF_ERROR(ValidatePath(path));
    ASSIGN_OR_RETURN(FileEntry e, ParseEntry(path, kv.value()));
    m.files.try_emplace(std::move(path), std::move(e));
  }
  // Each path and entry was validated as it was parsed.
  RETURN_IF_ERROR(m.ValidateHeader());
  return m;
}

Result<ReleaseManifest> ReleaseManifest::ParseCanonical(std::string_view bytes) {
  ASSIGN_OR_RETURN(ReleaseManifest m, Parse(bytes));
  if (m.Encode() != bytes) {
    return Status::InvalidArgument(
        "release metadata is not in canonical form (sorted keys, no whitespace, no duplicate "
        "keys): it must be exactly the bytes tieup encodes");
  }
  return m;
}

ReleaseDiff Diff(const ReleaseManifest& before, const ReleaseManifest& after) {
  ReleaseDiff d;
  // Chunks the two releases share (a release made from the other) are skipped unread.
  before.files.ForEachDifference(
      after.files, [&](const std::string& path, const FileEntry* b, const FileEntry* a) {
        if (a == nullptr) {
          d.removed.push_back({path, b, nullptr});
          d.removed_bytes += b->length;
        } else if (b == nullptr) {
          d.added.push_back({path, nullptr, a});
          d.added_bytes += a->length;
        } else {
          d.changed.push_back({path, b, a});
          d.changed_bytes += a->length;
        }
      });
  return d;
}

Status ReleaseDelta::Validate() const {
  RETURN_IF_ERROR(ValidateGrant(area, emergency_edit));
  RETURN_IF_ERROR(ValidateVariables(variables));
  RETURN_IF_ERROR(ValidateHeader(format, site, version, created, expires));
  if (base_version == 0 || base_version >= version) {
    return Status::InvalidArgument("release delta goes from version " +
                                   std::to_string(base_version) + " to " + std::to_string(version) +
                                   ": the base must be a release older than the result");
  }
  Status s = ValidateHashHex(base_hash);
  if (!s.ok()) return s.Annotate("release delta base_hash");
  s = ValidateHashHex(result_hash);
  if (!s.ok()) return s.Annotate("release delta result_hash");
  for (const auto& [path, entry] : changes) {
    RETURN_IF_ERROR(ValidatePath(path));
    if (entry) RETURN_IF_ERROR(ValidateEntry(path, *entry));
  }
  return Status::Ok();
}

std::string ReleaseDelta::Encode() const {
  std::string out;
  out.reserve(256 + changes.size() * 200);
  out += "{\"area\":";
  AppendJsonString(out, AreaName(area));
  out += ",\"base_hash\":";
  AppendJsonString(out, base_hash);
  out += ",\"base_version\":" + std::to_string(base_version);
  out += ",\"changes\":{";
  bool first = true;
  for (const auto& [path, e] : changes) {
    if (!first) out += ',';
    first = false;
    AppendJsonString(out, path);
    out += ':';
    if (e) {
      AppendEntry(out, *e);
    } else {
      out += "null";
    }
  }
  out += "},\"created\":" + std::to_string(created);
  if (emergency_edit != EmergencyEditPolicy::kNone) {
    out += ",\"emergency_edit\":";
    AppendJsonString(out, EmergencyEditPolicyName(emergency_edit));
  }
  out += ",\"expires\":" + std::to_string(expires);
  out += ",\"format\":" + std::to_string(format);
  out += ",\"result_hash\":";
  AppendJsonString(out, result_hash);
  out += ",\"site\":";
  AppendJsonString(out, site);
  if (!variables.empty()) {
    out += ',';
    AppendVariables(out, variables);
  }
  out += ",\"version\":" + std::to_string(version);
  out += '}';
  return out;
}

Result<ReleaseDelta> ReleaseDelta::ParseCanonical(std::string_view bytes) {
  constexpr std::string_view kWhere = "release delta";
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(bytes, ec);
  if (ec) return Status::InvalidArgument("release delta is not valid JSON: " + ec.message());
  if (!v.is_object()) return Status::InvalidArgument("release delta must be a JSON object");
  const boost::json::object& obj = v.get_object();
  RETURN_IF_ERROR(CheckKeys(obj, kWhere,
                            {"area", "base_hash", "base_version", "changes", "created", "expires",
                             "format", "result_hash", "site", "version"},
                            {"emergency_edit", "variables"}));
  ReleaseDelta d;
  RETURN_IF_ERROR(ParseHeaderFields(obj, kWhere, d));
  ASSIGN_OR_RETURN(d.base_version, GetUint(obj, "base_version", kWhere));
  ASSIGN_OR_RETURN(d.base_hash, GetString(obj, "base_hash", kWhere));
  ASSIGN_OR_RETURN(d.result_hash, GetString(obj, "result_hash", kWhere));
  ASSIGN_OR_RETURN(const boost::json::object* changes, GetObject(obj, "changes", kWhere));
  for (const auto& kv : *changes) {
    std::string path(kv.key());
    RETURN_IF_ERROR(ValidatePath(path));
    if (kv.value().is_null()) {
      d.changes[path] = std::nullopt;
    } else {
      ASSIGN_OR_RETURN(FileEntry e, ParseEntry(path, kv.value()));
      d.changes[path] = std::move(e);
    }
  }
  RETURN_IF_ERROR(d.Validate());
  if (d.Encode() != bytes) {
    return Status::InvalidArgument(
        "release delta is not in canonical form (sorted keys, no whitespace, no duplicate keys): "
        "it must be exactly the bytes tieup encodes");
  }
  return d;
}

ReleaseDelta MakeDelta(const ReleaseManifest& base, const ReleaseManifest& result) {
  return MakeDeltaFromHashes(base, base.Hash(), result, result.Hash());
}

ReleaseDelta MakeDeltaFromHashes(const ReleaseManifest& base, std::string base_hash_hex,
                                 const ReleaseManifest& result, std::string result_hash_hex) {
  ReleaseDelta d;
  d.format = result.format;
  d.site = result.site;
  d.area = result.area;
  d.version = result.version;
  d.created = result.created;
  d.expires = result.expires;
  d.emergency_edit = result.emergency_edit;
  d.variables = result.variables;
  d.base_version = base.version;
  d.base_hash = std::move(base_hash_hex);
  d.result_hash = std::move(result_hash_hex);
  const ReleaseDiff diff = Diff(base, result);
  for (const DiffEntry& e : diff.added) d.changes.emplace(e.path, *e.after);
  for (const DiffEntry& e : diff.changed) d.changes.emplace(e.path, *e.after);
  for (const DiffEntry& e : diff.removed) d.changes.emplace(e.path, std::nullopt);
  return d;
}

Result<ReleaseManifest> ApplyDelta(const ReleaseManifest& base, const ReleaseDelta& delta) {
  if (base.site != delta.site || base.area != delta.area) {
    return Status::InvalidArgument("release delta is for " + delta.site + "/" +
                                   std::string(AreaName(delta.area)) + " but its base is " +
                                   base.site + "/" + std::string(AreaName(base.area)));
  }
  if (base.version != delta.base_version) {
    return Status::InvalidArgument("release delta applies to version " +
                                   std::to_string(delta.base_version) + ", not to version " +
                                   std::to_string(base.version));
  }
  if (base.Hash() != delta.base_hash) {
    return Status::InvalidArgument("release delta's base hash does not match version " +
                                   std::to_string(base.version) +
                                   " as held here: this site's copy of the base differs");
  }
  RETURN_IF_ERROR(delta.Validate());
  ReleaseManifest m = base;
  m.format = delta.format;
  m.version = delta.version;
  m.created = delta.created;
  m.expires = delta.expires;
  m.emergency_edit = delta.emergency_edit;
  m.variables = delta.variables;
  for (const auto& [path, entry] : delta.changes) {
    if (entry) {
      m.files[path] = *entry;
    } else if (m.files.erase(path) == 0) {
      return Status::InvalidArgument("release delta removes " + Quote(path) + ", which version " +
                                     std::to_string(base.version) + " does not have");
    }
  }
  // Only the chunks the changes touched are hashed: the others are shared with `base`.
  if (m.Hash() != delta.result_hash) {
    return Status::DataLoss("applying the release delta to version " +
                            std::to_string(base.version) + " does not give version " +
                            std::to_string(delta.version) + " as signed (result hash differs)");
  }
  return m;
}

namespace {

constexpr std::string_view kCompactMagic = "tieup-manifest/1\n";
// The same with one byte more after `expires`: the emergency edit grant (its enum value). Written
// only for a release that carries a grant, so the bytes of every other release stay as before.
constexpr std::string_view kCompactMagicWithGrant = "tieup-manifest/2\n";
// With the grant byte always, then the variables (a count, then each name and value). Written
// only for a release that has variables.
constexpr std::string_view kCompactMagicWithVariables = "tieup-manifest/3\n";

void PutBytes(std::string& out, std::string_view s) {
  AppendBigEndian(out, s.size(), 8);
  out += s;
}
void PutHash(std::string& out, const std::string& hex) {
  auto raw = HexDecode(hex);
  out += raw.ok() && raw->size() == 32 ? *raw : std::string(32, '\0');
}
std::string GetBytes(ByteReader& r) { return std::string(r.Take(r.BigEndian(8))); }
std::string GetHash(ByteReader& r) { return HexEncode(r.Take(32)); }

}  // namespace

namespace {

std::string EncodeCompactEntries(const FileMap::Entries& entries) {
  std::string out;
  out.reserve(entries.size() * 120);
  for (const auto& [path, e] : entries) {
    PutBytes(out, path);
    PutHash(out, e.hash);
    AppendBigEndian(out, e.length, 8);
    PutBytes(out, e.content_type);
    // The method in the low four bits, the link mode in the high four: bytes written before
    // link modes existed read back as kRedirect.
    out += static_cast<char>(static_cast<uint8_t>(e.method) |
                             (static_cast<uint8_t>(e.link_mode) << 4));
    PutBytes(out, e.link_url);
    // Flags: 1 a gzip variant follows, 2 a template (vars), 4 the template it was expanded
    // from follows (bytes written before templates existed have 0 or 1).
    out += static_cast<char>((e.gzip ? 1 : 0) | (e.vars ? 2 : 0) | (e.expanded_from ? 4 : 0));
    for (const std::optional<BlobRef>* ref : {&e.gzip, &e.expanded_from}) {
      if (!*ref) continue;
      PutHash(out, (*ref)->hash);
      AppendBigEndian(out, (*ref)->length, 8);
    }
  }
  return out;
}

}  // namespace

std::string ReleaseManifest::EncodeCompact() const {
  std::string out = EncodeCompactHeader();
  out.reserve(out.size() + files.size() * 120);
  for (size_t i = 0; i < files.chunk_count(); ++i) {
    out += files.chunk(i).Cached(kCompactSlot, EncodeCompactEntries);
  }
  return out;
}

std::vector<EncodedChunk> ReleaseManifest::CompactChunks() const {
  return files.ChunkEncodings(kCompactSlot, EncodeCompactEntries, kCompactHashSlot,
                              [](std::string_view bytes) { return Sha256(bytes); });
}

std::string ReleaseManifest::EncodeCompactHeader() const {
  std::string out;
  const bool with_variables = !variables.empty();
  const bool grant = emergency_edit != EmergencyEditPolicy::kNone || with_variables;
  out += with_variables ? kCompactMagicWithVariables
         : grant        ? kCompactMagicWithGrant
                        : kCompactMagic;
  AppendBigEndian(out, static_cast<uint64_t>(format), 8);
  out += static_cast<char>(area == Area::kTieup ? 0 : 1);
  AppendBigEndian(out, version, 8);
  AppendBigEndian(out, static_cast<uint64_t>(created), 8);
  AppendBigEndian(out, static_cast<uint64_t>(expires), 8);
  if (grant) out += static_cast<char>(emergency_edit);
  if (with_variables) {
    AppendBigEndian(out, variables.size(), 8);
    for (const auto& [name, value] : variables) {
      PutBytes(out, name);
      PutBytes(out, value);
    }
  }
  PutBytes(out, site);
  AppendBigEndian(out, files.size(), 8);
  return out;
}

Result<ReleaseManifest> ReleaseManifest::ParseCompact(std::string_view bytes) {
  const bool with_variables = bytes.starts_with(kCompactMagicWithVariables);
  const bool grant = with_variables || bytes.starts_with(kCompactMagicWithGrant);
  if (!grant && !bytes.starts_with(kCompactMagic)) {
    return Status::DataLoss("stored release is not in the compact form");
  }
  ByteReader r(bytes.substr(kCompactMagic.size()));
  ReleaseManifest m;
  m.format = static_cast<int>(r.BigEndian(8));
  m.area = r.BigEndian(1) == 0 ? Area::kTieup : Area::kOriginal;
  m.version = r.BigEndian(8);
  m.created = static_cast<int64_t>(r.BigEndian(8));
  m.expires = static_cast<int64_t>(r.BigEndian(8));
  if (grant) {
    const uint64_t g = r.BigEndian(1);
    m.emergency_edit = g == 1   ? EmergencyEditPolicy::kKeep
                       : g == 2 ? EmergencyEditPolicy::kOverwrite
                                : EmergencyEditPolicy::kNone;
  }
  if (with_variables) {
    const uint64_t n = r.BigEndian(8);
    if (n > kMaxVariables) return Status::DataLoss("stored release (compact form) is damaged");
    for (uint64_t i = 0; r.ok() && i < n; ++i) {
      std::string name = GetBytes(r);
      m.variables[std::move(name)] = GetBytes(r);
    }
  }
  m.site = GetBytes(r);
  const uint64_t count = r.BigEndian(8);
  for (uint64_t i = 0; r.ok() && i < count; ++i) {
    std::string path = GetBytes(r);
    FileEntry e;
    e.hash = GetHash(r);
    e.length = r.BigEndian(8);
    e.content_type = GetBytes(r);
    const uint64_t method_byte = r.BigEndian(1);
    const uint64_t method = method_byte & 0x0f;
    e.method = method == 1   ? UpdateMethod::kOverwrite
               : method == 2 ? UpdateMethod::kLink
                             : UpdateMethod::kStaged;
    const uint64_t mode = method_byte >> 4;
    e.link_mode = mode <= 3 ? static_cast<LinkMode>(mode) : LinkMode::kRedirect;
    e.link_url = GetBytes(r);
    const uint64_t flags = r.BigEndian(1);
    auto get_ref = [&r]() -> std::optional<BlobRef> {
      BlobRef b;
      b.hash = GetHash(r);
      b.length = r.BigEndian(8);
      return b;
    };
    if (flags & 1) e.gzip = get_ref();
    e.vars = (flags & 2) != 0;
    if (flags & 4) e.expanded_from = get_ref();
    m.files.try_emplace(std::move(path), std::move(e));
  }
  if (!r.ok() || !r.done() || m.files.size() != count) {
    return Status::DataLoss("stored release (compact form) is truncated or damaged");
  }
  return m;
}

}  // namespace tieup::content
