// Writes the seed corpora that are easier made by the code than by hand: signed envelopes,
// notes and requests (signed with fuzz_keys.h's keys, valid at kNow), encoded releases, deltas,
// ledger records and sync messages. The values follow the unit tests' (test/content,
// test/trust, test/ledger, test/sync).
//
// Usage: tieup_fuzz_seeds OUT_DIR   (writes OUT_DIR/<target>/<seed>; normally fuzz/corpus)
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "base/encoding.h"
#include "content/release.h"
#include "crypto/jose.h"
#include "fuzz_keys.h"
#include "guard/blocklist.h"
#include "ledger/checkpoint.h"
#include "ledger/records.h"
#include "mem_env.h"
#include "sync/protocol.h"
#include "sync/withdrawal.h"
#include "trust/request_signature.h"
#include "trust/signed_metadata.h"
#include "users/customer_copy.h"

namespace {

using namespace tieup;
namespace fs = std::filesystem;

fs::path out_dir;

void Write(const std::string& target, const std::string& name, std::string_view bytes) {
  fs::create_directories(out_dir / target);
  std::ofstream(out_dir / target / name, std::ios::binary).write(bytes.data(), bytes.size());
}

content::FileEntry Entry(char hash_letter, uint64_t length, std::string type) {
  content::FileEntry e;
  e.hash = std::string(64, hash_letter);
  e.length = length;
  e.content_type = std::move(type);
  return e;
}

// The base release the release_delta target applies deltas to (keep the two in step).
content::ReleaseManifest DeltaBase() {
  content::ReleaseManifest m;
  m.site = "shop-b";
  m.area = content::Area::kTieup;
  m.version = 3;
  m.created = 1'700'000'000;
  m.files.try_emplace("/index.html", Entry('a', 5, "text/html; charset=utf-8"));
  m.files.try_emplace("/shop/tea.html", Entry('b', 5, "text/html; charset=utf-8"));
  return m;
}

content::ReleaseManifest Release() {
  content::ReleaseManifest m = DeltaBase();
  m.version = 4;
  m.created = 1'700'000'100;
  m.expires = tieup::fuzz::kNow + 86400;
  content::FileEntry css = Entry('c', 1200, "text/css; charset=utf-8");
  css.gzip = content::GzipVariant{std::string(64, 'd'), 400};
  m.files.try_emplace("/css/site.css", css);
  content::FileEntry link = Entry('e', 10, "text/html; charset=utf-8");
  link.method = content::UpdateMethod::kLink;
  link.link_url = "https://main.example/shop/";
  m.files.try_emplace("/shop/buy.html", link);
  content::FileEntry overwrite = Entry('f', 0, "application/octet-stream");
  overwrite.method = content::UpdateMethod::kOverwrite;
  m.files.try_emplace("/files/empty.bin", overwrite);
  m.files.erase("/shop/tea.html");
  return m;
}

void ReleaseSeeds() {
  content::ReleaseManifest release = Release();
  Write("release_manifest", "release.json", release.Encode());
  Write("release_manifest", "base.json", DeltaBase().Encode());
  Write("release_manifest", "release.compact", release.EncodeCompact());
  content::ReleaseManifest empty;
  empty.site = "main";
  empty.area = content::Area::kOriginal;
  empty.version = 1;
  Write("release_manifest", "empty.json", empty.Encode());

  content::ReleaseDelta delta = content::MakeDelta(DeltaBase(), release);
  Write("release_delta", "delta.json", delta.Encode());
  content::ReleaseManifest removed = DeltaBase();
  removed.version = 9;
  removed.files.erase("/index.html");
  Write("release_delta", "remove.json", content::MakeDelta(DeltaBase(), removed).Encode());
}

void EnvelopeSeeds() {
  RootMetadata root;
  root.version = 2;
  root.expires = tieup::fuzz::kNow + 365 * 86400;
  root.root_key = tieup::fuzz::RootKey().public_key();
  root.release_keys = {tieup::fuzz::ReleaseKey().public_key()};
  std::string root_json = EncodeEnvelope(*SignRootMetadata(tieup::fuzz::RootKey(), root));
  content::ReleaseManifest release = Release();
  std::string release_json =
      EncodeEnvelope(SignRelease(tieup::fuzz::ReleaseKey(), release.Encode()));
  std::string delta_json = EncodeEnvelope(SignReleaseDelta(
      tieup::fuzz::ReleaseKey(), content::MakeDelta(DeltaBase(), release).Encode()));
  Write("signed_envelope", "release", root_json + "\n--\n" + release_json);
  Write("signed_envelope", "delta", root_json + "\n--\n" + delta_json);
  Write("signed_envelope", "root_payload", EncodeRootMetadata(root));
  // Signed by the root key instead of the release key: refused.
  Write(
      "signed_envelope", "wrong_key",
      root_json + "\n--\n" + EncodeEnvelope(SignRelease(tieup::fuzz::RootKey(), release.Encode())));
  // Withdrawal messages (sync/withdrawal.h), signed like releases.
  sync::Withdrawal w{"shop-b",
                     sync::WithdrawalAction::kWithdraw,
                     sync::WithdrawalReason::kRevoked,
                     "Sakura Tea",
                     "Sakura Tea has ended its partnership with Shop B.",
                     tieup::fuzz::kNow,
                     3};
  Write("withdrawal", "signed",
        root_json + "\n--\n" + sync::SignWithdrawal(tieup::fuzz::ReleaseKey(), w));
  // Main's network blocklist (guard/blocklist.h), signed the same way, with a request to match.
  guard::Blocklist blocklist;
  blocklist.seq = 3;
  blocklist.issued = tieup::fuzz::kNow;
  blocklist.entries = {
      {1, guard::BlockKind::kAddress, "203.0.113.0/24", tieup::fuzz::kNow, 0, "scan", "main"},
      {2, guard::BlockKind::kAddress, "2001:db8::/32", tieup::fuzz::kNow, 0, "", "main"},
      {3, guard::BlockKind::kAgent, "sqlmap", tieup::fuzz::kNow, tieup::fuzz::kNow + 60, "", "m"},
      {4, guard::BlockKind::kPath, "/wp-admin", tieup::fuzz::kNow, 0, "", "auto: waf"}};
  Write("blocklist", "signed",
        root_json + "\n--\n" + guard::SignBlocklist(tieup::fuzz::ReleaseKey(), blocklist) +
            "\n--\n203.0.113.9\n--\nsqlmap/1.7 /wp-admin/x");
  Write("blocklist", "payload",
        guard::EncodeBlocklist(blocklist) + "\n--\n{}\n--\n::ffff:203.0.113.9\n--\nx");
  // Customer copy messages (users/customer_copy.h), signed the same way.
  users::CustomerCopyMessage copies;
  copies.partner = "shop-b";
  copies.seq = 3;
  copies.issued = tieup::fuzz::kNow;
  copies.fields = {"address", "email", "marketing_consent", "name"};
  users::User ada;
  ada.id = "usr_abcdefghijklmnop";
  ada.email = "ada@example.org";
  ada.display_name = "Ada";
  ada.address = {"Ada Lovelace", "1 Main St", "", "600-8216", "Kyoto", "Japan", ""};
  copies.upsert = {users::CopyOf(ada, copies.fields)};
  copies.drop = {"usr_bbbbbbbbbbbbbbbb"};
  copies.erase = {{"usr_cccccccccccccccc", users::EmailSha256("gone@example.org")}};
  Write("customer_copy", "signed",
        root_json + "\n--\n" + users::SignCustomerCopyMessage(tieup::fuzz::ReleaseKey(), copies));
  Write("customer_copy", "payload", users::EncodeCustomerCopyMessage(copies));
}

void RequestSignatureSeeds() {
  testing::MemEnv env(tieup::fuzz::kNow * 1'000'000);
  struct Case {
    const char* name;
    SignedRequestTarget target;
    std::string body;
    HttpFields covered;
  } cases[] = {
      {"order",
       {"POST", "main.example:8443", "/v1/orders?partner=shop-b"},
       R"({"items":[{"sku":"TEA-1","quantity":2}]})",
       {{"content-type", "application/json"}}},
      {"get", {"GET", "main.example:8443", "/v1/users/u7"}, "", {}},
  };
  for (const Case& c : cases) {
    auto signed_fields = SignRequest(env, tieup::fuzz::RequestKey(), tieup::fuzz::kRequestKeyId,
                                     c.target, c.covered, c.body, tieup::fuzz::kNow, 300);
    if (!signed_fields.ok()) {
      std::cerr << "SignRequest: " << signed_fields.status().message() << "\n";
      std::exit(1);
    }
    std::string text = std::string(c.target.method) + " " + std::string(c.target.authority) + " " +
                       std::string(c.target.target) + "\n";
    for (const auto& [name, value] : c.covered) text += name + ": " + value + "\n";
    for (const auto& [name, value] : *signed_fields) text += name + ": " + value + "\n";
    text += "\n" + c.body;
    Write("request_signature", c.name, text);
  }
}

void LedgerSeeds() {
  auto signer =
      *ledger::NoteSigner::Create(std::string(tieup::fuzz::kNoteKeyName), tieup::fuzz::NoteKey());
  ledger::Checkpoint cp;
  cp.origin = std::string(tieup::fuzz::kNoteKeyName);
  cp.size = 1000;
  for (size_t i = 0; i < cp.root.size(); ++i) cp.root[i] = static_cast<uint8_t>(i * 7);
  std::string note = *ledger::SignCheckpoint(cp, signer);
  Write("checkpoint", "signed", note + "\n--\n" + signer.VerifierKey());
  cp.extensions = {"timestamp 1790000000", "partner shop-b"};
  Write("checkpoint", "extensions", *ledger::SignCheckpoint(cp, signer));
  Write("checkpoint", "body", *ledger::FormatCheckpoint(cp));

  ledger::AccessRecord access;
  access.time_micros = 1'790'000'000'123'456;
  access.method = "GET";
  access.path = "/shop/tea.html";
  access.status = 200;
  access.bytes = 5120;
  access.referer = "https://search.example/?q=tea";
  access.user_agent = "Mozilla/5.0 (X11; Linux x86_64)";
  access.user_id = "u7";
  access.session_id = "s-1f2e";
  access.remote = "192.0.2.7";
  Write("ledger_record", "access", ledger::EncodeRecord(access));
  access.remote.reset();
  access.area = ledger::RecordArea::kOriginal;
  Write("ledger_record", "access_original", ledger::EncodeRecord(access));
  Write("ledger_record", "registration",
        ledger::EncodeRecord(ledger::RegistrationRecord{1'790'000'000'000'000, "shop-b", "u8",
                                                        ledger::RecordArea::kTieup}));
  Write("ledger_record", "order",
        ledger::EncodeRecord(ledger::OrderRecord{1'790'000'000'000'000, "o-17", "shop-b",
                                                 ledger::RecordArea::kTieup, -2500, "EUR", 3}));
  Write("ledger_record", "content",
        ledger::EncodeRecord(ledger::ContentRecord{1'790'000'000'000'000,
                                                   ledger::RecordArea::kOriginal, 4, 12, 99999}));
  Write("ledger_record", "ad",
        ledger::EncodeRecord(ledger::AdRecord{1'790'000'000'000'000, ledger::AdOwner::kPartner, 3,
                                              "/index.html", 0, ""}));
  Write("ledger_record", "ad_click",
        ledger::EncodeRecord(ledger::AdRecord{1'790'000'000'000'000, ledger::AdOwner::kMain, 0,
                                              "/index.html", 1, "first-flush"}));
  Write("ledger_record", "search",
        ledger::EncodeRecord(
            ledger::SearchRecord{1'790'000'000'000'000, "green \"tea\" caf\xC3\xA9", 0, "", {}}));
  Write("ledger_record", "search_click",
        ledger::EncodeRecord(ledger::SearchRecord{1'790'000'000'000'000, "sencha", 12,
                                                  "/tea/sencha.html", ledger::RecordArea::kTieup}));
}

void SyncSeeds() {
  using namespace tieup::sync;
  const std::string hash(64, 'a');
  auto write = [](const char* name, char type, const std::string& body) {
    Write("sync_protocol", name, std::string(1, type) + body);
  };
  write("offer", 0,
        EncodeOfferRequest(
            {"shop-b", "u7", 3, ApprovalPolicy::kManager, "{\"root\":1}", "{\"rel\":2}", {}}));
  write("offer_reply", 1, EncodeOfferReply({"u7", OfferOutcome::kPending, 3, 2, 4, 1024, 1, 2, 3}));
  write("update_response", 2, EncodeUpdateResponse({"u7", false, "not during the sale"}));
  write("update_response_reply", 3, EncodeUpdateResponseReply({true, 3}));
  write("activate", 4, EncodeActivateRequest({"u7", 3}));
  write("status", 5, EncodePartnerSyncStatus({"shop-b", 3, {1, 2, 3}, {"u8", "u9"}, "", {}}));
  write("event", 6, EncodeEventReport({"u7", 3, "refused", "signature did not verify"}));
  write("blob_request", 7, EncodeBlobRequest({hash, std::string(64, 'b')}));
  write("blob_batch", 8, std::string(1, '\x02') + EncodeBlobBatch({"hello", ""}));
}

}  // namespace

// ID tokens signed with the fixed ES256 key, with and without a JWK Set of their own.
void JoseSeeds() {
  auto key = *JwtSigningKey::FromJwk(fuzz::kJwtPrivateJwk);
  const std::string token =
      *key.Sign(R"({"iss":"https://main.example","sub":"usr_abcdefghijklmnop","aud":"shop-a",)"
                R"("exp":1790000300,"iat":1790000000,"nonce":"n"})");
  Write("jose", "valid", token);
  Write("jose", "valid_with_set", token + "\n--\n" + JwksJson(key));
  Write("jose", "none", "eyJhbGciOiJub25lIn0.e30.\n--\n" + JwksJson(key));
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: tieup_fuzz_seeds OUT_DIR\n";
    return 2;
  }
  out_dir = argv[1];
  ReleaseSeeds();
  EnvelopeSeeds();
  RequestSignatureSeeds();
  LedgerSeeds();
  SyncSeeds();
  JoseSeeds();
  return 0;
}
