#include "ledger/checkpoint.h"

#include <cstring>

#include "base/encoding.h"
#include "crypto/hash.h"

namespace tieup::ledger {
namespace {

constexpr std::string_view kSignaturePrefix = "\xE2\x80\x94 ";  // "— "

// Valid UTF-8 without control characters other than (when allowed) newline.
Status CheckText(std::string_view s, std::string_view what, bool allow_newline) {
  for (size_t i = 0; i < s.size();) {
    uint8_t c = static_cast<uint8_t>(s[i]);
    if ((c < 0x20 && !(allow_newline && c == '\n')) || c == 0x7F) {
      return Status::InvalidArgument(std::string(what) + " contains the control character " +
                                     std::to_string(c) + " at byte " + std::to_string(i));
    }
    size_t n = Utf8SequenceLength(s, i);
    if (n == 0) {
      return Status::InvalidArgument(std::string(what) + " is not valid UTF-8 (byte " +
                                     std::to_string(i) + ")");
    }
    i += n;
  }
  return Status::Ok();
}

std::string KeyHashBytes(uint32_t h) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((h >> (24 - 8 * i)) & 0xFF);
  return out;
}

uint32_t KeyHashFromBytes(std::string_view b) {
  uint32_t h = 0;
  for (int i = 0; i < 4; ++i) h = (h << 8) | static_cast<uint8_t>(b[i]);
  return h;
}

// Decodes base64 and refuses any non-canonical spelling (missing padding, stray bits), so one
// signature or root has exactly one text form.
Result<std::string> DecodeCanonicalBase64(std::string_view text, std::string_view what) {
  auto decoded = Base64Decode(text);
  if (!decoded.ok() || Base64Encode(*decoded) != text) {
    return Status::InvalidArgument(std::string(what) + " is not canonical base64: '" +
                                   std::string(text.substr(0, 80)) + "'");
  }
  return std::move(decoded).value();
}

std::vector<std::string_view> SplitLines(std::string_view text) {
  // `text` ends with '\n'; the result has no empty trailing element.
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

Status CheckNoteText(std::string_view text) {
  if (text.empty()) return Status::InvalidArgument("the note's text is empty");
  if (text.back() != '\n') {
    return Status::InvalidArgument("the note's text does not end with a newline");
  }
  return CheckText(text, "the note's text", /*allow_newline=*/true);
}

}  // namespace

uint32_t NoteKeyHash(std::string_view name, const Ed25519PublicKey& key) {
  std::string input(name);
  input.push_back('\n');
  input.push_back(static_cast<char>(kNoteEd25519Type));
  input += key.bytes();
  return KeyHashFromBytes(Sha256(input));
}

Status ValidateNoteKeyName(std::string_view name) {
  if (name.empty()) return Status::InvalidArgument("a note key name must not be empty");
  RETURN_IF_ERROR(CheckText(name, "the note key name", /*allow_newline=*/false));
  for (char c : name) {
    if (c == ' ' || c == '+') {
      return Status::InvalidArgument("the note key name '" + std::string(name) +
                                     "' contains a space or '+'; choose a name without them");
    }
  }
  // Unicode spaces (U+0085, U+00A0, U+2000..U+200A, U+2028/9, U+202F, U+205F, U+3000) are
  // refused too, so that a name always ends at the first space of a signature line.
  static constexpr std::string_view kSpaces[] = {
      "\xC2\x85",     "\xC2\xA0",     "\xE2\x80\x80", "\xE2\x80\x81", "\xE2\x80\x82",
      "\xE2\x80\x83", "\xE2\x80\x84", "\xE2\x80\x85", "\xE2\x80\x86", "\xE2\x80\x87",
      "\xE2\x80\x88", "\xE2\x80\x89", "\xE2\x80\x8A", "\xE2\x80\xA8", "\xE2\x80\xA9",
      "\xE2\x80\xAF", "\xE2\x81\x9F", "\xE3\x80\x80"};
  for (std::string_view sp : kSpaces) {
    if (name.find(sp) != std::string_view::npos) {
      return Status::InvalidArgument("the note key name contains a Unicode space");
    }
  }
  return Status::Ok();
}

// --- NoteSigner ---

NoteSigner::NoteSigner(std::string name, Ed25519PrivateKey key)
    : name_(std::move(name)),
      key_(std::move(key)),
      key_hash_(NoteKeyHash(name_, key_.public_key())) {}

Result<NoteSigner> NoteSigner::Create(std::string name, Ed25519PrivateKey key) {
  RETURN_IF_ERROR(ValidateNoteKeyName(name));
  return NoteSigner(std::move(name), std::move(key));
}

std::string NoteSigner::SignatureLine(std::string_view text) const {
  std::string sig = KeyHashBytes(key_hash_) + key_.Sign(text);
  return std::string(kSignaturePrefix) + name_ + " " + Base64Encode(sig) + "\n";
}

std::string NoteSigner::VerifierKey() const {
  auto v = NoteVerifier::Create(name_, key_.public_key());
  return v.ok() ? v->VerifierKey() : std::string();
}

// --- NoteVerifier ---

NoteVerifier::NoteVerifier(std::string name, Ed25519PublicKey key)
    : name_(std::move(name)), key_(std::move(key)), key_hash_(NoteKeyHash(name_, key_)) {}

Result<NoteVerifier> NoteVerifier::Create(std::string name, Ed25519PublicKey key) {
  RETURN_IF_ERROR(ValidateNoteKeyName(name));
  if (key.bytes().size() != kEd25519PublicKeySize) {
    return Status::InvalidArgument("note verifier '" + name + "' has no valid Ed25519 key");
  }
  return NoteVerifier(std::move(name), std::move(key));
}

Result<NoteVerifier> NoteVerifier::FromVerifierKey(std::string_view vkey) {
  size_t p1 = vkey.find('+');
  size_t p2 = p1 == std::string_view::npos ? p1 : vkey.find('+', p1 + 1);
  // The base64 key may itself contain '+': only the first two separate fields.
  if (p2 == std::string_view::npos) {
    return Status::InvalidArgument(
        "a verifier key has the form <name>+<8 hex digits>+<base64 key>; got '" +
        std::string(vkey.substr(0, 120)) + "'");
  }
  std::string name(vkey.substr(0, p1));
  std::string_view hash_hex = vkey.substr(p1 + 1, p2 - p1 - 1);
  std::string_view key_b64 = vkey.substr(p2 + 1);
  RETURN_IF_ERROR(ValidateNoteKeyName(name));
  auto hash_bytes = HexDecode(hash_hex);
  if (hash_hex.size() != 8 || !hash_bytes.ok()) {
    return Status::InvalidArgument("verifier key '" + name +
                                   "': the key hash must be 8 hex digits, got '" +
                                   std::string(hash_hex) + "'");
  }
  ASSIGN_OR_RETURN(std::string key_bytes,
                   DecodeCanonicalBase64(key_b64, "verifier key '" + name + "': the key"));
  if (key_bytes.size() != 1 + kEd25519PublicKeySize ||
      static_cast<uint8_t>(key_bytes[0]) != kNoteEd25519Type) {
    return Status::InvalidArgument("verifier key '" + name +
                                   "' is not an Ed25519 key (want type 0x01 and 32 bytes)");
  }
  ASSIGN_OR_RETURN(Ed25519PublicKey key, Ed25519PublicKey::FromBytes(key_bytes.substr(1)));
  NoteVerifier v(std::move(name), std::move(key));
  if (v.key_hash_ != KeyHashFromBytes(*hash_bytes)) {
    return Status::InvalidArgument("verifier key '" + v.name_ +
                                   "': the key hash does not match the name and key; the key "
                                   "text was altered or mistyped");
  }
  return v;
}

std::string NoteVerifier::VerifierKey() const {
  std::string raw(1, static_cast<char>(kNoteEd25519Type));
  raw += key_.bytes();
  return name_ + "+" + HexEncode(KeyHashBytes(key_hash_)) + "+" + Base64Encode(raw);
}

bool NoteVerifier::Verify(std::string_view text, std::string_view signature) const {
  return signature.size() == kEd25519SignatureSize && key_.Verify(text, signature);
}

// --- notes ---

Result<std::string> SignNote(std::string_view text, std::span<const NoteSigner> signers) {
  RETURN_IF_ERROR(CheckNoteText(text));
  if (signers.empty()) return Status::InvalidArgument("a note needs at least one signer");
  std::string note(text);
  note.push_back('\n');
  for (const NoteSigner& s : signers) note += s.SignatureLine(text);
  return note;
}

Result<OpenedNote> OpenNote(std::string_view note, std::span<const NoteVerifier> verifiers) {
  if (note.empty() || note.back() != '\n') {
    return Status::InvalidArgument("the signed note does not end with a newline");
  }
  size_t split = note.rfind("\n\n");
  if (split == std::string_view::npos) {
    return Status::InvalidArgument(
        "the signed note has no blank line between its text and its signatures");
  }
  std::string_view text = note.substr(0, split + 1);
  std::string_view sigs = note.substr(split + 2);
  RETURN_IF_ERROR(CheckNoteText(text));
  if (sigs.empty()) return Status::InvalidArgument("the signed note has no signature lines");
  RETURN_IF_ERROR(CheckText(sigs, "the note's signature lines", /*allow_newline=*/true));

  std::vector<std::string_view> lines = SplitLines(sigs);
  if (lines.size() > kMaxNoteSignatures) {
    return Status::InvalidArgument("the signed note has " + std::to_string(lines.size()) +
                                   " signature lines; at most " +
                                   std::to_string(kMaxNoteSignatures) + " are accepted");
  }
  OpenedNote opened;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    std::string where = "signature line " + std::to_string(i + 1);
    if (line.substr(0, kSignaturePrefix.size()) != kSignaturePrefix) {
      return Status::InvalidArgument(where + " does not start with an em dash and a space");
    }
    line.remove_prefix(kSignaturePrefix.size());
    size_t space = line.find(' ');
    if (space == std::string_view::npos || line.find(' ', space + 1) != std::string_view::npos) {
      return Status::InvalidArgument(where + " is not '— <name> <base64 signature>'");
    }
    std::string_view name = line.substr(0, space);
    RETURN_IF_ERROR(ValidateNoteKeyName(name).Annotate(where));
    ASSIGN_OR_RETURN(std::string sig,
                     DecodeCanonicalBase64(line.substr(space + 1), where + ": the signature"));
    if (sig.size() < 5) {
      return Status::InvalidArgument(where + ": the signature is too short (" +
                                     std::to_string(sig.size()) + " bytes)");
    }
    uint32_t hash = KeyHashFromBytes(sig);
    for (const NoteVerifier& v : verifiers) {
      if (v.name() != name || v.key_hash() != hash) continue;
      if (!v.Verify(text, std::string_view(sig).substr(4))) {
        return Status::Unauthenticated("the signature by '" + std::string(name) +
                                       "' does not verify: the note was altered or forged");
      }
      bool seen = false;
      for (const std::string& n : opened.verified_by) seen = seen || n == name;
      if (!seen) opened.verified_by.emplace_back(name);
    }
  }
  if (opened.verified_by.empty()) {
    std::string known;
    for (const NoteVerifier& v : verifiers) known += (known.empty() ? "'" : ", '") + v.name() + "'";
    return Status::Unauthenticated("the signed note carries no signature by a known key (known: " +
                                   (known.empty() ? std::string("none") : known) + ")");
  }
  opened.text = std::string(text);
  return opened;
}

// --- checkpoints ---

Result<std::string> FormatCheckpoint(const Checkpoint& c) {
  if (c.origin.empty() || c.origin.find('\n') != std::string::npos) {
    return Status::InvalidArgument("a checkpoint origin must be one non-empty line");
  }
  std::string body =
      c.origin + "\n" + std::to_string(c.size) + "\n" + Base64Encode(HashView(c.root)) + "\n";
  for (const std::string& ext : c.extensions) {
    if (ext.empty() || ext.find('\n') != std::string::npos) {
      return Status::InvalidArgument("a checkpoint extension must be one non-empty line");
    }
    body += ext + "\n";
  }
  return body;
}

Result<Checkpoint> ParseCheckpoint(std::string_view body) {
  if (body.empty() || body.back() != '\n') {
    return Status::InvalidArgument("the checkpoint does not end with a newline");
  }
  RETURN_IF_ERROR(CheckText(body, "the checkpoint", /*allow_newline=*/true));
  std::vector<std::string_view> lines = SplitLines(body);
  if (lines.size() < 3) {
    return Status::InvalidArgument("the checkpoint has " + std::to_string(lines.size()) +
                                   " lines; it needs origin, size and root");
  }
  Checkpoint c;
  if (lines[0].empty()) return Status::InvalidArgument("the checkpoint's origin line is empty");
  c.origin = std::string(lines[0]);

  std::string_view size = lines[1];
  bool digits = !size.empty() && size.size() <= 20;
  for (char ch : size) digits = digits && ch >= '0' && ch <= '9';
  if (!digits || (size.size() > 1 && size[0] == '0')) {
    return Status::InvalidArgument("the checkpoint's size '" + std::string(size.substr(0, 40)) +
                                   "' is not a decimal number without leading zeros");
  }
  uint64_t n = 0;
  for (char ch : size) {
    uint64_t d = static_cast<uint64_t>(ch - '0');
    if (n > (UINT64_MAX - d) / 10) {
      return Status::InvalidArgument("the checkpoint's size '" + std::string(size) +
                                     "' does not fit in 64 bits");
    }
    n = n * 10 + d;
  }
  c.size = n;

  ASSIGN_OR_RETURN(std::string root, DecodeCanonicalBase64(lines[2], "the checkpoint's root"));
  ASSIGN_OR_RETURN(c.root, HashFromBytes(root, "the checkpoint's root"));
  for (size_t i = 3; i < lines.size(); ++i) {
    if (lines[i].empty()) {
      return Status::InvalidArgument("the checkpoint has an empty extension line");
    }
    c.extensions.emplace_back(lines[i]);
  }
  return c;
}

Result<std::string> SignCheckpoint(const Checkpoint& checkpoint, const NoteSigner& signer) {
  ASSIGN_OR_RETURN(std::string body, FormatCheckpoint(checkpoint));
  return SignNote(body, std::span<const NoteSigner>(&signer, 1));
}

Result<Checkpoint> OpenCheckpoint(std::string_view note, const NoteVerifier& verifier,
                                  std::string_view expected_origin) {
  ASSIGN_OR_RETURN(OpenedNote opened, OpenNote(note, std::span<const NoteVerifier>(&verifier, 1)));
  ASSIGN_OR_RETURN(Checkpoint c, ParseCheckpoint(opened.text));
  if (!expected_origin.empty() && c.origin != expected_origin) {
    return Status::InvalidArgument("the checkpoint is for the log '" + c.origin + "', not '" +
                                   std::string(expected_origin) + "'");
  }
  return c;
}

}  // namespace tieup::ledger
