// Signed checkpoints of a ledger: the C2SP tlog-checkpoint body inside a C2SP signed note
// (https://c2sp.org/tlog-checkpoint, https://c2sp.org/signed-note), with Ed25519 keys.
//
// A checkpoint note looks like:
//
//   example.com/shop-b/access\n          origin: names the log
//   1000\n                               size: number of entries, decimal
//   SGVsbG8gd29ybGQhIFRoaXMgaXMgMzI=\n   root: base64 of the 32-byte Merkle root
//   \n                                   blank line: end of the signed text
//   — example.com/shop-b/access AbCdEf...\n   one line per signature
//
// Each signature line is an em dash (U+2014), a space, the key name, a space, and the base64 of
// the 4-byte key hash followed by the 64-byte Ed25519 signature of the text (everything up to
// and including the newline before the blank line). The key hash is the first 4 bytes of
// SHA-256(name || "\n" || 0x01 || public key).
//
// All parsing is strict and takes untrusted input: a malformed note or body is refused with a
// message that names what was wrong. All types are values; functions are thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "crypto/ed25519.h"
#include "ledger/merkle.h"

namespace tieup::ledger {

// The signature type byte of Ed25519 keys in signed notes.
inline constexpr uint8_t kNoteEd25519Type = 0x01;
// Notes with more signature lines than this are refused (as the C2SP spec allows).
inline constexpr size_t kMaxNoteSignatures = 100;

// The 4-byte key hash of an Ed25519 note key, big-endian in a uint32_t.
uint32_t NoteKeyHash(std::string_view name, const Ed25519PublicKey& key);

// Checks that `name` can name a note key: not empty, valid UTF-8, no whitespace, no '+', no
// control characters.
Status ValidateNoteKeyName(std::string_view name);

// Signs note texts with one Ed25519 key under one name (usually the log's origin).
class NoteSigner {
 public:
  // Fails when `name` is not a valid key name.
  static Result<NoteSigner> Create(std::string name, Ed25519PrivateKey key);

  const std::string& name() const { return name_; }
  uint32_t key_hash() const { return key_hash_; }
  const Ed25519PublicKey& public_key() const { return key_.public_key(); }
  // The signature line ("— <name> <base64>\n") for `text`.
  std::string SignatureLine(std::string_view text) const;
  // The verifier key text of this signer's public key, for printing and pinning.
  std::string VerifierKey() const;

 private:
  NoteSigner(std::string name, Ed25519PrivateKey key);
  std::string name_;
  Ed25519PrivateKey key_;
  uint32_t key_hash_;
};

// Verifies signatures made by one known (name, Ed25519 public key).
class NoteVerifier {
 public:
  // Fails when `name` is not a valid key name.
  static Result<NoteVerifier> Create(std::string name, Ed25519PublicKey key);
  // Parses the verifier key text "<name>+<8 hex digits key hash>+<base64(0x01 || key)>",
  // checking that the key hash matches the name and key.
  static Result<NoteVerifier> FromVerifierKey(std::string_view vkey);

  const std::string& name() const { return name_; }
  uint32_t key_hash() const { return key_hash_; }
  const Ed25519PublicKey& public_key() const { return key_; }
  // "<name>+<hex key hash>+<base64(0x01 || public key)>".
  std::string VerifierKey() const;
  // Returns true iff `signature` (64 bytes) is this key's signature of `text`.
  bool Verify(std::string_view text, std::string_view signature) const;

 private:
  NoteVerifier(std::string name, Ed25519PublicKey key);
  std::string name_;
  Ed25519PublicKey key_;
  uint32_t key_hash_;
};

// A signed note whose text is `text` (which must be non-empty and end with a newline), signed
// by every signer in `signers`. Fails on a malformed text or when `signers` is empty.
Result<std::string> SignNote(std::string_view text, std::span<const NoteSigner> signers);

// The outcome of opening a note: its text and the names of the known keys that signed it.
struct OpenedNote {
  std::string text;
  std::vector<std::string> verified_by;
};

// Parses and verifies a signed note. Signature lines from keys not in `verifiers` (unknown name
// or key hash) are ignored; a known key whose signature does not verify fails the note
// (Unauthenticated); at least one known key must have signed (Unauthenticated otherwise). A
// malformed note (no blank line, no trailing newline, bad signature line, bad base64, control
// characters, invalid UTF-8, too many signatures) is InvalidArgument.
Result<OpenedNote> OpenNote(std::string_view note, std::span<const NoteVerifier> verifiers);

// The body of a tlog checkpoint.
struct Checkpoint {
  std::string origin;                   // the log's name; no newline
  uint64_t size = 0;                    // number of entries committed to
  Hash root{};                          // Merkle root of the first `size` entries
  std::vector<std::string> extensions;  // optional extra lines, each non-empty, no newline

  friend bool operator==(const Checkpoint&, const Checkpoint&) = default;
};

// "<origin>\n<size>\n<base64 root>\n" followed by one line per extension. Fails when the origin
// or an extension is empty or contains a newline.
Result<std::string> FormatCheckpoint(const Checkpoint& checkpoint);
// Parses a checkpoint body strictly: origin non-empty; size decimal without sign or leading
// zeros and within 64 bits; root canonical base64 of exactly 32 bytes; extension lines
// non-empty; the body ends with a newline.
Result<Checkpoint> ParseCheckpoint(std::string_view body);

// Formats `checkpoint` and signs it with `signer`: the complete note.
Result<std::string> SignCheckpoint(const Checkpoint& checkpoint, const NoteSigner& signer);
// Opens `note` with `verifier` (see OpenNote) and parses its body. When `expected_origin` is
// not empty, a checkpoint of another log is refused (InvalidArgument).
Result<Checkpoint> OpenCheckpoint(std::string_view note, const NoteVerifier& verifier,
                                  std::string_view expected_origin = {});

}  // namespace tieup::ledger
