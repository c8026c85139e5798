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

// The gzip (RFC 1952) encoding of `data`, deterministic for a given zlib (mtime 0, level 9).
Result<std::string> GzipCompress(std::string_view data);

// True for text-like types (text/*, JSON, XML, SVG, JavaScript).
bool IsCompressibleType(std::string_view content_type);

// For a compressible type larger than kGzipMinBytes: stores the gzip bytes in `blobs` and returns
// the variant, but only when it is smaller than `data`. Otherwise nullopt.
Result<std::optional<GzipVariant>> MakeGzipVariant(BlobStore& blobs, std::string_view data,
                                                   std::string_view content_type);

}  // namespace tieup::content::internal
