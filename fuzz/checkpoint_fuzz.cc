// Fuzzes ledger checkpoints (ledger/checkpoint.h): C2SP signed notes, checkpoint bodies and
// verifier keys.
//
// Input: the note (or body), optionally followed by a line "--" and a verifier key text.
// The note is opened with fuzz_keys.h's NoteKey() under kNoteKeyName, so seeds signed with it
// reach the checkpoint parser behind the signature.
//
// Properties: a parsed checkpoint formats back to exactly the body it came from; an opened note
// names a known key and its text is a prefix of the note; a parsed verifier key prints as text
// that parses back to the same key.
#include <string>

#include "fuzz_keys.h"
#include "fuzz_util.h"
#include "ledger/checkpoint.h"

using namespace tieup::ledger;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tieup::fuzz::Parts parts(data, size, "\n--\n");
  std::string_view note = parts.Next();
  std::string_view vkey = parts.Next();

  auto body = ParseCheckpoint(note);
  if (body.ok()) {
    auto formatted = FormatCheckpoint(*body);
    FUZZ_CHECK(formatted.ok());
    FUZZ_CHECK(*formatted == note);
  }

  static const NoteVerifier verifier = *NoteVerifier::Create(std::string(tieup::fuzz::kNoteKeyName),
                                                             tieup::fuzz::NoteKey().public_key());
  auto opened = OpenNote(note, std::span<const NoteVerifier>(&verifier, 1));
  if (opened.ok()) {
    FUZZ_CHECK(!opened->verified_by.empty());
    FUZZ_CHECK(note.starts_with(opened->text));
  }
  auto checkpoint = OpenCheckpoint(note, verifier, tieup::fuzz::kNoteKeyName);
  if (checkpoint.ok()) FUZZ_CHECK(checkpoint->origin == tieup::fuzz::kNoteKeyName);

  auto parsed_vkey = NoteVerifier::FromVerifierKey(vkey);
  if (parsed_vkey.ok()) {
    // The key hash may be written in upper case (as Go's note package accepts); what prints
    // back parses to the same key.
    auto again = NoteVerifier::FromVerifierKey(parsed_vkey->VerifierKey());
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again->name() == parsed_vkey->name());
    FUZZ_CHECK(again->key_hash() == parsed_vkey->key_hash());
    FUZZ_CHECK(again->public_key().bytes() == parsed_vkey->public_key().bytes());
  }
  (void)ValidateNoteKeyName(vkey);
  return 0;
}
