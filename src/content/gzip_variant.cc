#include "content/gzip_variant.h"

#include <zlib.h>

namespace tieup::content::internal {

Result<std::string> GzipCompress(std::string_view data, int level) {
  z_stream zs{};
  // windowBits 15 + 16: a gzip wrapper; zlib writes mtime 0, so equal input gives equal output.
  if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
    return Status::Internal("zlib deflateInit2 failed");
  }
  std::string out;
  out.resize(deflateBound(&zs, static_cast<uLong>(data.size())) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  size_t produced = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END)
    return Status::Internal("zlib deflate did not finish: " + std::to_string(rc));
  out.resize(produced);
  return out;
}

bool IsCompressibleType(std::string_view ct) {
  std::string_view base = ct.substr(0, ct.find(';'));
  return base.starts_with("text/") || base == "application/json" || base == "application/xml" ||
         base == "application/javascript" || base == "image/svg+xml" || base.ends_with("+xml") ||
         base.ends_with("+json");
}

Result<std::optional<GzipVariant>> MakeGzipVariant(BlobWriter& blobs, std::string_view data,
                                                   std::string_view content_type) {
  if (data.size() <= kGzipMinBytes || !IsCompressibleType(content_type)) {
    return std::optional<GzipVariant>();
  }
  // zlib's sizes are 32-bit; files that large are not precompressed.
  if (data.size() > (1u << 30)) return std::optional<GzipVariant>();
  ASSIGN_OR_RETURN(std::string gz, GzipCompress(data));
  if (gz.size() >= data.size()) return std::optional<GzipVariant>();
  ASSIGN_OR_RETURN(std::string hash, blobs.Put(gz));
  return std::optional<GzipVariant>(GzipVariant{std::move(hash), gz.size()});
}

}  // namespace tieup::content::internal
