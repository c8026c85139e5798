// Fuzzes the sync protocol's messages (sync/protocol.h), which main and partners read from each
// other over the sync port.
//
// Input: the first byte picks the message type (modulo their number); the rest is the body.
// Property: an accepted message encodes to a canonical form that parses back and encodes the
// same (Parse o Encode is the identity on what Parse accepts).
#include <string>

#include "fuzz_util.h"
#include "sync/protocol.h"

using namespace tieup::sync;

namespace {

template <typename Parse, typename Encode>
void RoundTrip(std::string_view body, Parse parse, Encode encode) {
  auto message = parse(body);
  if (!message.ok()) return;
  const std::string encoded = encode(*message);
  auto again = parse(encoded);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(encode(*again) == encoded);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view body = tieup::fuzz::AsText(data + 1, size - 1);
  switch (data[0] % 9) {
    case 0:
      RoundTrip(body, ParseOfferRequest, EncodeOfferRequest);
      break;
    case 1:
      RoundTrip(body, ParseOfferReply, EncodeOfferReply);
      break;
    case 2:
      RoundTrip(body, ParseUpdateResponse, EncodeUpdateResponse);
      break;
    case 3:
      RoundTrip(body, ParseUpdateResponseReply, EncodeUpdateResponseReply);
      break;
    case 4:
      RoundTrip(body, ParseActivateRequest, EncodeActivateRequest);
      break;
    case 5:
      RoundTrip(body, ParsePartnerSyncStatus, EncodePartnerSyncStatus);
      break;
    case 6:
      RoundTrip(body, ParseEventReport, EncodeEventReport);
      break;
    case 7: {
      auto hashes = ParseBlobRequest(body);
      if (hashes.ok()) {
        FUZZ_CHECK(hashes->size() <= kMaxBlobsPerRequest);
        auto again = ParseBlobRequest(EncodeBlobRequest(*hashes));
        FUZZ_CHECK(again.ok() && *again == *hashes);
      }
      break;
    }
    case 8: {
      // The count the requester expects: from the body's first byte, as a reply to a request.
      if (body.empty()) break;
      const size_t expected = static_cast<unsigned char>(body[0]) % 8;
      const std::string_view batch = body.substr(1);
      auto blobs = ParseBlobBatch(batch, expected);
      if (blobs.ok()) {
        FUZZ_CHECK(blobs->size() == expected);
        FUZZ_CHECK(EncodeBlobBatch(*blobs) == batch);
      }
      break;
    }
  }
  return 0;
}
