// Private to src/content: gzip precompression shared by the builder and page edits.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "content/blob_store.h"
#include "content/release.h"

namespace tieup::content::internal {

// Files at or below this size are not worth a gzip variant.
inline constexpr size_t kGzipMinBytes = 1024;

// The zlib level of the gzip variants made now, and the one made before (releases made then hold
// variants of that level: RemakeExpandedPage makes a lost one again at either). Level 6 makes the
// same sizes as 9 within 0.05% on this project's HTML, in less time: gzip was half of a main
// build at 9 (BENCHMARKS.md, session 26).
inline constexpr int kGzipLevel = 6;
inline constexpr int kGzipLevelBefore = 9;

// The gzip (RFC 1952) encoding of `data`, deterministic for a given zlib and level (mtime 0).
Result<std::string> GzipCompress(std::string_view data, int level = kGzipLevel);

// True for text-like types (text/*, JSON, XML, SVG, JavaScript).
bool IsCompressibleType(std::string_view content_type);

// For a compressible type larger than kGzipMinBytes: stores the gzip bytes in `blobs` and returns
// the variant, but only when it is smaller than `data`. Otherwise nullopt.
Result<std::optional<GzipVariant>> MakeGzipVariant(BlobWriter& blobs, std::string_view data,
                                                   std::string_view content_type);

}  // namespace tieup::content::internal
