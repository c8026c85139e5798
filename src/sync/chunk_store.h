// Chunked records: how main stores each partner's releases and build inputs (sync_releases
// columns `snapshot` and `inputs`). A release of a 10,000-page site is megabytes, while two
// consecutive releases, and the releases of partners that get the same pages, are mostly the same
// bytes. A value is therefore stored as a short record (a header and the keys of its chunks) and
// content-addressed chunks in the table sync_chunks, each distinct chunk once: a one-page change
// adds one chunk per partner (or one for all), not megabytes.
//
// The chunks are those of content's CowMaps (content-defined, so equal entries make equal chunks
// whatever the history). Chunks no record names any more are removed by SweepChunks.
//
// Internal to the sync module (the publisher). Errors: DataLoss for a damaged record or a missing
// or damaged chunk; database errors as they come.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/cow_map.h"
#include "base/status.h"
#include "store/database.h"

namespace tieup::sync::internal {

// Stores every chunk of `chunks` that the table may lack and returns the record naming them
// (`header`, then the keys in order). `stored(key)`, when given, tells which chunks the caller
// knows are stored already (those of a value it stored before): they are not written again.
// Run it inside the transaction that stores the record, so that a record never names a chunk
// that is not there. InvalidArgument for a key that is not 32 bytes.
Result<std::string> PutChunked(Database& db, std::string_view header,
                               const std::vector<EncodedChunk>& chunks,
                               const std::function<bool(std::string_view key)>& stored = nullptr);

// True when `record` was made by PutChunked (older rows hold the value itself).
bool IsChunkedRecord(std::string_view record);

// The value a chunked record stands for: its header followed by its chunks' bytes. DataLoss when
// the record is damaged, or a chunk is missing or does not hash to its key.
Result<std::string> ReadChunked(Database& db, std::string_view record);

// The keys (raw) a chunked record names; empty for anything else.
std::vector<std::string> ChunkKeys(std::string_view record);

// Deletes every chunk that none of `live_records` names (records of other kinds are ignored).
// Returns the number deleted. Run it where no PutChunked can interleave (the caller's lock or a
// transaction), or a chunk written for a record not yet stored could be taken.
Result<int64_t> SweepChunks(Database& db, const std::vector<std::string>& live_records);

}  // namespace tieup::sync::internal
