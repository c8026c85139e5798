// BuildRelease: renders an authoring directory into a release (main builds each partner's
// release this way, so the bytes a partner serves are exactly the bytes main signs).
//
// Authoring layout (an overrides directory has the same layout):
//   layouts/<name>.mustache  page layouts; "default" unless a page says otherwise. A layout sees
//                            the variables, {{title}} and the page HTML as {{{content}}}.
//   pages/**                 "x.md" (GitHub-flavoured Markdown: tables, strikethrough,
//                            autolinks; raw HTML kept) and "x.html" become "/x.html"; both are
//                            first rendered as mustache with the variables, then put in their
//                            layout. Other files under pages/ are copied as they are.
//                            Optional front matter between two "---" lines at the top:
//                              title: ...            the page title ({{title}})
//                              layout: name | none   the layout ("none": the body as it is)
//                              method: staged | overwrite | link, link_url: https://...
//   assets/**                copied byte for byte to "/assets/<same relative path>".
//
// A file of the overrides directory replaces the authoring file that produces the same URL path
// (or layout name), or adds a path. Text files above 1 KiB get a gzip variant when it is
// smaller. Every output goes into the BlobStore; equal bytes make equal blobs, so pages that do
// not differ between partners are stored once.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "base/env.h"
#include "base/status.h"
#include "content/blob_store.h"
#include "content/release.h"

namespace tieup::content {

struct BuildOptions {
  std::string authoring_dir;
  std::string overrides_dir;  // optional: "" for none
  Area area = Area::kTieup;
  std::string site;  // the id of the site the release is for
  uint64_t version = 1;
  int64_t created = 0;  // unix seconds
  int64_t expires = 0;  // unix seconds; 0 = never
  // Template variables; a dotted name becomes nested objects: "partner.name" is
  // {{partner.name}}. InvalidArgument when a name is both a value and an object ("a", "a.b").
  std::map<std::string, std::string> variables;
};

// Renders and stores the release described by `options`; returns its (valid) manifest. Errors
// name the file at fault: a missing layout, bad front matter, a bad template, two sources for one
// path, a file name that is not a valid URL path. Thread-safe (no shared state).
Result<ReleaseManifest> BuildRelease(Env& env, BlobStore& blobs, const BuildOptions& options);

// The Content-Type for a file name, from its extension (html, css, js, json, svg, png, jpg, gif,
// webp, ico, txt, xml, pdf, woff2); "application/octet-stream" otherwise.
std::string ContentTypeForPath(std::string_view path);

}  // namespace tieup::content
