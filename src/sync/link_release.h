// Link entries of a partner's release (DESIGN.md "Remote updating" item 6, "Pages on a
// partner": kind `link`): what main writes into a release for the partner to serve as links to
// main's pages. Private to the sync module (the publisher's builds use it).
#pragma once

#include <string_view>

#include "base/status.h"
#include "content/blob_store.h"
#include "content/release.h"
#include "sync/protocol.h"

namespace tieup::sync::internal {

// The body every link entry names: the empty string (the partner never serves a link entry's
// body, so nothing of the page is copied to it).
inline constexpr std::string_view kLinkBodyHash =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// Turns `m`, a partner's release as the builder rendered it, into the release sent:
//  - kind link: every path becomes a link entry to `main_public_url` + the path, except what
//    the partner needs locally, kept as copies: the machine files under /.tieup/ (page shell,
//    page templates: the partner's own pages and the link page wear main's layout) and the
//    files under /assets/ that a kept text file names, by its path from the root or relative
//    to the naming file (the layout's style sheet, and the fonts and images that names). An
//    asset nothing names is a link: a request for it lands on main's copy;
//  - every link entry (of kind link, or a page whose front matter says `method: link`) gets
//    `mode` and the empty body (kLinkBodyHash, length 0, no gzip variant), which is put in
//    `blobs` when missing (the partner fetches it like any other).
// Idempotent: an entry already in its final form is not touched, so the chunks of a release
// reused from the previous build stay shared. FailedPrecondition for kind link when
// `main_public_url` is not an http(s) URL, naming the setting to set; Aborted when a file
// needed as a copy is a link entry (reused from a previous build that linked to it: build
// without the previous release, then call again); errors of `blobs`.
Status ApplyLinkSettings(std::string_view partner_id, PartnershipKind kind, content::LinkMode mode,
                         std::string_view main_public_url, content::BlobStore& blobs,
                         content::ReleaseManifest& m);

}  // namespace tieup::sync::internal
