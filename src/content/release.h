// Release metadata: the list of files (URL path -> content hash, length, type, update method)
// that one area of one site serves, with its version and validity period.
//
// Issue 3 signs these bytes with Ed25519, so Encode() is CANONICAL: JSON with object keys in
// byte order, no whitespace, optional fields omitted when absent. A release is named in signed
// deltas by ReleaseManifest::Hash(), a hash over the same canonical bytes taken chunk by chunk
// (defined there). Parse() is strict: an unknown, missing or mistyped field is refused with a
// message naming it. All functions here are pure and thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/cow_map.h"
#include "base/status.h"

namespace tieup::content {

// The two content areas of a site (DESIGN.md "Pages on a partner"). A path belongs to exactly one.
enum class Area {
  kTieup,     // pages owned by the main site, updated remotely
  kOriginal,  // the site's own pages
};

// "tieup" or "original".
std::string_view AreaName(Area area);
// Inverse of AreaName; InvalidArgument for anything else.
Result<Area> ParseArea(std::string_view name);

// How an update replaces a file (DESIGN.md "Remote updating", step 6).
enum class UpdateMethod {
  kStaged,     // the default: staged, then switched (after approval where required)
  kOverwrite,  // replaced directly
  kLink,       // the page is a link to a URL on main (`link_url`): a partner serves it as a
               // redirect or a small page with the link (LinkMode), never its body
};

// "staged", "overwrite" or "link".
std::string_view UpdateMethodName(UpdateMethod method);
Result<UpdateMethod> ParseUpdateMethod(std::string_view name);

// How a partner serves a `link` entry of its tie-up area (site/link_pages.h). Main chooses it
// per partnership and writes it into each link entry of the signed metadata, so only main can
// change it. The values are part of the compact form (EncodeCompact): never renumber them.
enum class LinkMode : uint8_t {
  kRedirect = 0,     // HTTP 302 to link_url (the default: omitted from the canonical JSON)
  kPage = 1,         // a small page in main's layout that says the page is on main, with the link
  kRedirect301 = 2,  // HTTP 301 (permanent) to link_url
  kRedirect307 = 3,  // HTTP 307 (temporary, method kept) to link_url
};

// "redirect", "page", "redirect-301" or "redirect-307".
std::string_view LinkModeName(LinkMode mode);
// Inverse of LinkModeName; InvalidArgument (listing the names) for anything else.
Result<LinkMode> ParseLinkMode(std::string_view name);
// The HTTP status of a redirect mode (302, 301, 307); 0 for kPage.
int LinkRedirectStatus(LinkMode mode);

// What main grants a partner over the tie-up pages of a release (DESIGN.md "Pages on a
// partner"): an emergency edit is a local overlay on top of main's release, never a release of
// its own (content/content_store.h). The grant travels in the signed metadata, so only main can
// give it; the policy also says what main's next update does to an edited page.
enum class EmergencyEditPolicy {
  kNone,       // the partner manager may not edit tie-up pages (the default)
  kKeep,       // edits allowed; an edit stays over main's later versions of that page
  kOverwrite,  // edits allowed; main's next version of a page replaces the edit of that page
};

// "none", "keep" or "overwrite".
std::string_view EmergencyEditPolicyName(EmergencyEditPolicy policy);
Result<EmergencyEditPolicy> ParseEmergencyEditPolicy(std::string_view name);

// A blob named by its hash and length: a file's gzip variant, or the template it was made from.
struct BlobRef {
  std::string hash;  // lower-case hex SHA-256 of the bytes
  uint64_t length = 0;
  friend bool operator==(const BlobRef&, const BlobRef&) = default;
};
// A precompressed (gzip) variant of a file.
using GzipVariant = BlobRef;

// One served file.
struct FileEntry {
  std::string hash;  // lower-case hex SHA-256 of the body (64 characters)
  uint64_t length = 0;
  std::string content_type;  // e.g. "text/html; charset=utf-8"
  UpdateMethod method = UpdateMethod::kStaged;
  std::string link_url;  // required iff method == kLink: an http(s) URL on main
  std::optional<GzipVariant> gzip;
  // With method kLink only (otherwise kRedirect): how the partner serves the link. A field
  // "link_mode" of the entry's canonical JSON, omitted for kRedirect (so entries without it
  // encode, hash and parse as before).
  LinkMode link_mode = LinkMode::kRedirect;
  // Main's form of a page shared by partners that differ only by variables
  // (content/template_vars.h): the blob `hash` is a template, and the served bytes are that blob
  // with the release's `variables` put in for its markers. Main signs the template and the
  // variable table; the partner makes the page (ExpandRelease). A field "vars":true of the
  // canonical JSON, omitted when false. Never with a gzip variant (the partner makes its own) or
  // with method kLink.
  bool vars = false;
  // The partner's (expanded) form of such an entry: `hash`, `length` and `gzip` are the page the
  // partner made, and this names the template it was made from (MainForm turns the entry back
  // into main's). A field "from":{"hash":..,"length":..}; never signed (a partner keeps it in its
  // own copy of the metadata), never with `vars`.
  std::optional<BlobRef> expanded_from;
  friend bool operator==(const FileEntry&, const FileEntry&) = default;
};

// A release's files: normalized URL path -> entry. Copies share storage (base/cow_map.h), so a
// release made from another by changing a few files costs what the change costs.
using FileMap = CowMap<FileEntry>;

inline constexpr int kReleaseFormat = 1;

// The metadata of one release of one area of one site.
struct ReleaseManifest {
  int format = kReleaseFormat;
  std::string site;  // the id of the site this release is for ("shop-b")
  Area area = Area::kOriginal;
  uint64_t version = 0;  // only grows; >= 1
  int64_t created = 0;   // unix seconds
  int64_t expires = 0;   // unix seconds; 0 = never
  // Tie-up releases: the emergency edit right main grants (a field "emergency_edit" of the
  // canonical JSON, omitted when kNone, so releases without a grant encode and hash as before).
  // Always kNone for an original release.
  EmergencyEditPolicy emergency_edit = EmergencyEditPolicy::kNone;
  // The values put in for the markers of `vars` entries (content/template_vars.h): variable name
  // ("partner.name") -> value as the partner's pages show it before HTML escaping. A field
  // "variables" of the canonical JSON (an object, keys in byte order), omitted when empty, so
  // releases without it encode and hash as before. Names as template variable names
  // (ValidateVariableName); at most 256 of them and 64 KiB of values.
  std::map<std::string, std::string> variables;
  FileMap files;  // normalized URL path -> entry

  // The canonical bytes (see the file comment). Call Validate() first if the manifest was built
  // by hand: Encode does not check.
  std::string Encode() const;
  // The same bytes, given to `sink` in order in parts (each chunk's cached encoding is one part),
  // so that large releases are written or compared without being joined in memory. Stops at,
  // and returns, the first error of `sink`.
  Status EncodeTo(const std::function<Status(std::string_view)>& sink) const;

  // Parses and validates `bytes`. InvalidArgument naming the first bad field otherwise. Key
  // order and whitespace are free; a duplicated key keeps its last value (Boost.JSON), so code
  // that checks a signature over bytes should use ParseCanonical.
  static Result<ReleaseManifest> Parse(std::string_view bytes);

  // As Parse, and also refuses bytes that are not exactly the canonical encoding (other key
  // order, whitespace, escapes, duplicate keys): what was signed is then what is used.
  static Result<ReleaseManifest> ParseCanonical(std::string_view bytes);

  // The release's identity in the sync protocol (ReleaseDelta::base_hash and result_hash):
  // 64 lower-case hex characters of
  //
  //   SHA-256( "tieup-release-hash-1\n"
  //            || H
  //            || SHA-256(C_1) || SHA-256(C_2) || ... || SHA-256(C_n) )
  //
  // where
  //  - H is the canonical JSON object of the header: Encode() without its "files" member,
  //    i.e. {"area":A,"created":N,"expires":N,"format":N,"site":S,"version":N} (keys in byte
  //    order, no whitespace, strings escaped as Encode escapes them), with
  //    "emergency_edit":"keep"|"overwrite" after "created" when the release grants it, and
  //    "variables":{...} after "site" when the release has variables;
  //  - C_1 .. C_n are the chunks of `files` in key order (n = files.chunk_count(); none when
  //    there are no files), and C_i is the bytes Encode() writes for chunk i's entries inside
  //    "files":{...}: its members "path":{entry} joined by ',', without a leading or trailing
  //    ',' (so Encode's files object is C_1 ',' C_2 ',' ... ',' C_n);
  //  - each SHA-256(C_i) is the raw 32-byte digest; the digest of the whole is hex-encoded.
  //
  // The chunks are defined in base/cow_map.h: take the paths in byte order and cut after every
  // "boundary" path (CowMap::IsBoundary: FNV-1a 64 of the path's bytes, the final mix written
  // there, then 0 modulo CowMap::kChunkTarget = 32); the paths after the last boundary, if any,
  // form the last chunk. Chunks are thus a function of the set of paths alone, and Hash() a
  // function of the release's content, not of the order or history of the changes that made
  // it. IsBoundary and kChunkTarget are part of the sync protocol: changing them changes every
  // release hash (change the tag then, and main and partners together).
  //
  // Each chunk caches its digest (and its JSON), and copies share unchanged chunks: a release
  // made from another by changing a few files hashes those chunks only. Thread-safe as Encode.
  std::string Hash() const;

  // Checks every field (format, site id, version >= 1, paths, hashes, types, methods, links).
  Status Validate() const;
  // Checks the fields other than `files` (for a caller that checked each entry already).
  Status ValidateHeader() const;

  // A compact binary form for a site's own storage (never signed, never sent): several times
  // faster to read back than the JSON, for a publisher that rereads each partner's previous
  // release on every build. ParseCompact checks the framing (DataLoss when damaged) but not the
  // fields: use it only on bytes this program wrote from a valid manifest.
  std::string EncodeCompact() const;
  static Result<ReleaseManifest> ParseCompact(std::string_view bytes);
  // EncodeCompact() split for chunked storage: EncodeCompactHeader() followed by the compact
  // bytes of every chunk of `files`, in order. Each chunk comes with the raw SHA-256 of those
  // bytes. Both are kept by the chunk (computed once while it is shared); the views stay valid
  // while this release lives unchanged.
  std::string EncodeCompactHeader() const;
  std::vector<EncodedChunk> CompactChunks() const;

  friend bool operator==(const ReleaseManifest&, const ReleaseManifest&) = default;
};

// A release written as the changes from an earlier release of the same site and area (its
// "base"), so that an update's metadata grows with what changed, not with the size of the site.
// It names the base by version and by the base's ReleaseManifest::Hash(), and the release it
// produces by that release's Hash(): a signature over the delta therefore covers every field of
// every file of the result, as a signature over the full metadata would.
// Canonical JSON as for ReleaseManifest; `changes` maps a path to its new entry, or to null when
// the path is removed.
struct ReleaseDelta {
  int format = kReleaseFormat;
  std::string site;
  Area area = Area::kTieup;
  uint64_t version = 0;  // the resulting release's version (> base_version)
  int64_t created = 0;
  int64_t expires = 0;
  EmergencyEditPolicy emergency_edit = EmergencyEditPolicy::kNone;  // the result's grant
  // The result's variables (ReleaseManifest::variables), whole: a field "variables" omitted when
  // empty.
  std::map<std::string, std::string> variables;
  uint64_t base_version = 0;
  std::string base_hash;    // the base release's ReleaseManifest::Hash() (hex)
  std::string result_hash;  // the resulting release's ReleaseManifest::Hash() (hex)
  std::map<std::string, std::optional<FileEntry>> changes;  // path -> new entry; nullopt: removed

  // The canonical bytes. Call Validate() first if the delta was built by hand.
  std::string Encode() const;
  // Parses and validates `bytes`, which must be exactly the canonical encoding. InvalidArgument
  // naming the first bad field otherwise.
  static Result<ReleaseDelta> ParseCanonical(std::string_view bytes);
  // Checks every field (as ReleaseManifest::Validate for the header and the changed entries;
  // hashes; version above base_version).
  Status Validate() const;

  friend bool operator==(const ReleaseDelta&, const ReleaseDelta&) = default;
};

// The delta from `base` to `result` (same site and area), naming them by their Hash().
ReleaseDelta MakeDelta(const ReleaseManifest& base, const ReleaseManifest& result);
// As MakeDelta, for a caller that kept the Hash() of both releases (hex).
ReleaseDelta MakeDeltaFromHashes(const ReleaseManifest& base, std::string base_hash_hex,
                                 const ReleaseManifest& result, std::string result_hash_hex);

// The release `delta` produces from `base`. Refuses (InvalidArgument) a delta for another site,
// area or base version, a base whose Hash() is not the delta's base_hash, an invalid delta, the
// removal of a path the base lacks, and (DataLoss) a result whose Hash() is not result_hash.
// Only the chunks not shared with a hashed release are hashed (see Hash()): applying a delta to
// the release the previous delta produced hashes the changed chunks only.
Result<ReleaseManifest> ApplyDelta(const ReleaseManifest& base, const ReleaseDelta& delta);

// OK iff `path` is a normalized URL path as stored in a manifest: starts with '/', does not end
// with '/', no empty, "." or ".." segment, no backslash, NUL or other control character, valid
// UTF-8, at most 1024 bytes. Percent-escapes are NOT decoded here ("%2e%2e" is a literal name):
// the HTTP layer decodes before looking up. InvalidArgument says what is wrong.
Status ValidatePath(std::string_view path);

// Checks one file entry of a manifest (hash, type, method and link, gzip variant); `path` names
// it in the message. The path itself is checked by ValidatePath.
Status ValidateFileEntry(std::string_view path, const FileEntry& entry);

// OK iff `name` is a template variable name: 1..128 characters of [A-Za-z0-9._-]
// ("partner.name"). InvalidArgument says what is wrong.
Status ValidateVariableName(std::string_view name);

// OK iff `hash` is 64 lower-case hex characters (so it can never escape a directory).
Status ValidateHashHex(std::string_view hash);

// OK iff `id` is a site id: 1..128 characters of [A-Za-z0-9._-], not "." or "..".
Status ValidateSiteId(std::string_view id);

// One path in a ReleaseDiff.
struct DiffEntry {
  std::string path;
  const FileEntry* before = nullptr;  // null when added; points into the `old` manifest
  const FileEntry* after = nullptr;   // null when removed; points into the `new` manifest
};

// What changes from one release to the next (the manager's approval view). The pointers are
// valid as long as the two manifests given to Diff live.
struct ReleaseDiff {
  std::vector<DiffEntry> added;    // in path order
  std::vector<DiffEntry> changed;  // hash, type, method, link, link mode or gzip variant differs
  std::vector<DiffEntry> removed;
  uint64_t added_bytes = 0;    // sum of the new lengths of added files
  uint64_t changed_bytes = 0;  // sum of the new lengths of changed files
  uint64_t removed_bytes = 0;  // sum of the old lengths of removed files
  bool empty() const { return added.empty() && changed.empty() && removed.empty(); }
};

// The difference from `before` to `after` (either may have no files).
ReleaseDiff Diff(const ReleaseManifest& before, const ReleaseManifest& after);

}  // namespace tieup::content
