#include "sync/chunk_store.h"

#include <unordered_map>
#include <unordered_set>

#include "base/encoding.h"
#include "crypto/hash.h"

namespace tieup::sync::internal {
namespace {

// Record layout: magic, header length (8 bytes, big-endian), header, then 32-byte keys.
constexpr std::string_view kMagic = "tieup-chunked/1\n";
constexpr size_t kKeyBytes = 32;
constexpr size_t kReadBatch = 256;  // keys per SELECT

struct Parsed {
  std::string_view header;
  std::string_view keys;  // a multiple of kKeyBytes
};

Result<Parsed> ParseRecord(std::string_view record) {
  if (!record.starts_with(kMagic)) {
    return Status::DataLoss("stored record is not in the chunked form");
  }
  ByteReader r(record.substr(kMagic.size()));
  const std::string_view header = r.Take(r.BigEndian(8));
  const std::string_view keys = r.Take(r.remaining());
  if (!r.ok() || keys.size() % kKeyBytes != 0) {
    return Status::DataLoss("stored chunked record is truncated or damaged");
  }
  return Parsed{header, keys};
}

}  // namespace

Result<std::string> PutChunked(Database& db, std::string_view header,
                               const std::vector<EncodedChunk>& chunks,
                               const std::function<bool(std::string_view key)>& stored) {
  std::string record;
  record.reserve(kMagic.size() + 8 + header.size() + chunks.size() * kKeyBytes);
  record += kMagic;
  AppendBigEndian(record, header.size(), 8);
  record += header;
  std::unordered_set<std::string_view> written;
  for (const EncodedChunk& c : chunks) {
    if (c.key.size() != kKeyBytes) {
      return Status::InvalidArgument("a chunk key must be a raw SHA-256 (32 bytes)");
    }
    record += c.key;
    if ((stored && stored(c.key)) || !written.insert(c.key).second) continue;
    RETURN_IF_ERROR(
        db.Exec("INSERT INTO sync_chunks(hash, data) VALUES(?, ?) ON CONFLICT DO NOTHING",
                {HexEncode(c.key), std::string(c.bytes)}));
  }
  return record;
}

bool IsChunkedRecord(std::string_view record) { return record.starts_with(kMagic); }

std::vector<std::string> ChunkKeys(std::string_view record) {
  std::vector<std::string> keys;
  auto parsed = ParseRecord(record);
  if (!parsed.ok()) return keys;
  for (size_t i = 0; i < parsed->keys.size(); i += kKeyBytes) {
    keys.emplace_back(parsed->keys.substr(i, kKeyBytes));
  }
  return keys;
}

Result<std::string> ReadChunked(Database& db, std::string_view record) {
  ASSIGN_OR_RETURN(Parsed parsed, ParseRecord(record));
  const size_t count = parsed.keys.size() / kKeyBytes;
  std::vector<std::string> hex(count);
  for (size_t i = 0; i < count; ++i)
    hex[i] = HexEncode(parsed.keys.substr(i * kKeyBytes, kKeyBytes));
  // Each distinct chunk is read once, in batches.
  std::unordered_map<std::string, std::string> data;
  std::vector<std::string> batch;
  auto flush = [&]() -> Status {
    if (batch.empty()) return Status::Ok();
    std::string sql = "SELECT hash, data FROM sync_chunks WHERE hash IN (";
    std::vector<SqlValue> params;
    for (size_t i = 0; i < batch.size(); ++i) {
      sql += i == 0 ? "?" : ",?";
      params.emplace_back(batch[i]);
    }
    sql += ")";
    ASSIGN_OR_RETURN(auto rows, db.Query(sql, params));
    for (const SqlRow& row : rows) data[row.Text(0)] = row.Text(1);
    batch.clear();
    return Status::Ok();
  };
  std::unordered_set<std::string_view> asked;
  for (const std::string& h : hex) {
    if (!asked.insert(h).second) continue;
    batch.push_back(h);
    if (batch.size() == kReadBatch) RETURN_IF_ERROR(flush());
  }
  RETURN_IF_ERROR(flush());
  std::string value(parsed.header);
  for (size_t i = 0; i < count; ++i) {
    auto it = data.find(hex[i]);
    if (it == data.end()) {
      return Status::DataLoss("stored chunk " + hex[i] + " is missing (sync_chunks)");
    }
    if (Sha256(it->second) != parsed.keys.substr(i * kKeyBytes, kKeyBytes)) {
      return Status::DataLoss("stored chunk " + hex[i] +
                              " is damaged: its bytes have another hash");
    }
    value += it->second;
  }
  return value;
}

Result<int64_t> SweepChunks(Database& db, const std::vector<std::string>& live_records) {
  std::unordered_set<std::string> live;
  for (const std::string& r : live_records) {
    for (std::string& k : ChunkKeys(r)) live.insert(HexEncode(k));
  }
  ASSIGN_OR_RETURN(auto rows, db.Query("SELECT hash FROM sync_chunks"));
  int64_t deleted = 0;
  RETURN_IF_ERROR(db.Transaction([&](Database& tx) -> Status {
    for (const SqlRow& row : rows) {
      const std::string h = row.Text(0);
      if (live.contains(h)) continue;
      RETURN_IF_ERROR(tx.Exec("DELETE FROM sync_chunks WHERE hash = ?", {h}));
      ++deleted;
    }
    return Status::Ok();
  }));
  return deleted;
}

}  // namespace tieup::sync::internal
