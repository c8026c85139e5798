#include "ledger/checkpoint.h"

#include <gtest/gtest.h>

#include "base/encoding.h"
#include "crypto/hash.h"
#include "test_support.h"

namespace tieup::ledger {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;

constexpr std::string_view kOrigin = "example.com/shop-b/access";

class CheckpointTest : public ::testing::Test {
 protected:
  static Ed25519PrivateKey Key(char fill) {
    return *Ed25519PrivateKey::FromSeed(std::string(32, fill));
  }
  NoteSigner Signer(char fill = 'k', std::string name = std::string(kOrigin)) {
    return *NoteSigner::Create(std::move(name), Key(fill));
  }
  NoteVerifier Verifier(char fill = 'k', std::string name = std::string(kOrigin)) {
    return *NoteVerifier::Create(std::move(name), Key(fill).public_key());
  }
  Checkpoint Sample() {
    Checkpoint c;
    c.origin = std::string(kOrigin);
    c.size = 1000;
    c.root = HashLeaf("some root");
    return c;
  }
  std::string SignedSample() { return *SignCheckpoint(Sample(), Signer()); }
};

TEST_F(CheckpointTest, KeyHashIsFirstFourBytesOfSha256OfNameNewlineTypeKey) {
  Ed25519PrivateKey key = Key('k');
  std::string input =
      std::string(kOrigin) + "\n" + std::string(1, '\x01') + key.public_key().bytes();
  std::string digest = Sha256(input);
  uint32_t want = (uint32_t{static_cast<uint8_t>(digest[0])} << 24) |
                  (uint32_t{static_cast<uint8_t>(digest[1])} << 16) |
                  (uint32_t{static_cast<uint8_t>(digest[2])} << 8) |
                  uint32_t{static_cast<uint8_t>(digest[3])};
  EXPECT_EQ(NoteKeyHash(kOrigin, key.public_key()), want);
}

TEST_F(CheckpointTest, NoteHasTheC2spShape) {
  std::string note = SignedSample();
  std::string body = *FormatCheckpoint(Sample());
  EXPECT_EQ(body, std::string(kOrigin) + "\n1000\n" + Base64Encode(HashView(Sample().root)) + "\n");
  ASSERT_TRUE(note.starts_with(body + "\n\xE2\x80\x94 " + std::string(kOrigin) + " "));
  ASSERT_EQ(note.back(), '\n');
  // The signature is base64 of 4 + 64 bytes.
  std::string line = note.substr(body.size() + 1);
  std::string b64 = line.substr(line.rfind(' ') + 1);
  b64.pop_back();
  auto sig = Base64Decode(b64);
  ASSERT_THAT(sig, IsOk());
  EXPECT_EQ(sig->size(), 68u);
  // ...verifiable with the plain public key over the body.
  EXPECT_TRUE(Key('k').public_key().Verify(body, sig->substr(4)));
}

TEST_F(CheckpointTest, RoundTrip) {
  Checkpoint c = Sample();
  c.extensions = {"extension one", "Timestamp: 1700000000"};
  std::string note = *SignCheckpoint(c, Signer());
  auto opened = OpenCheckpoint(note, Verifier(), kOrigin);
  ASSERT_THAT(opened, IsOk());
  EXPECT_EQ(*opened, c);

  Checkpoint empty = Sample();
  empty.size = 0;
  empty.root = EmptyRoot();
  auto opened_empty = OpenCheckpoint(*SignCheckpoint(empty, Signer()), Verifier());
  ASSERT_THAT(opened_empty, IsOk());
  EXPECT_EQ(*opened_empty, empty);
}

TEST_F(CheckpointTest, VerifierKeyRoundTrip) {
  NoteVerifier v = Verifier();
  std::string vkey = v.VerifierKey();
  EXPECT_EQ(vkey, Signer().VerifierKey());
  EXPECT_TRUE(vkey.starts_with(std::string(kOrigin) + "+"));
  auto parsed = NoteVerifier::FromVerifierKey(vkey);
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->name(), v.name());
  EXPECT_EQ(parsed->key_hash(), v.key_hash());
  EXPECT_EQ(parsed->public_key().bytes(), v.public_key().bytes());
  EXPECT_THAT(OpenCheckpoint(SignedSample(), *parsed), IsOk());
}

TEST_F(CheckpointTest, MalformedVerifierKeysAreRefused) {
  std::string good = Verifier().VerifierKey();
  size_t p1 = good.find('+');
  size_t p2 = good.find('+', p1 + 1);
  std::string name = good.substr(0, p1);
  std::string hash = good.substr(p1 + 1, p2 - p1 - 1);
  std::string key = good.substr(p2 + 1);
  std::string other_hash = hash;
  other_hash[0] = other_hash[0] == '0' ? '1' : '0';
  for (const std::string& bad : {
           name + "+" + hash,                                                // missing key
           name + "+" + hash + "+" + key + "+x",                             // extra field
           name + "+" + other_hash + "+" + key,                              // hash mismatch
           name + "+" + hash.substr(1) + "+" + key,                          // short hash
           name + "+zzzzzzzz+" + key,                                        // not hex
           name + "+" + hash + "+" + key.substr(0, key.size() - 4),          // short key
           name + "+" + hash + "+" + Base64Encode(std::string(33, '\x02')),  // wrong type
           "+" + hash + "+" + key,                                           // empty name
           "bad name+" + hash + "+" + key,                                   // space in name
       }) {
    EXPECT_FALSE(NoteVerifier::FromVerifierKey(bad).ok()) << bad;
  }
}

TEST_F(CheckpointTest, UnknownSignaturesAreIgnoredButOneKnownIsRequired) {
  Checkpoint c = Sample();
  std::string body = *FormatCheckpoint(c);
  std::vector<NoteSigner> signers = {Signer('x', "witness.example"), Signer()};
  std::string note = *SignNote(body, signers);
  auto opened = OpenNote(note, std::vector<NoteVerifier>{Verifier()});
  ASSERT_THAT(opened, IsOk());
  EXPECT_EQ(opened->text, body);
  EXPECT_EQ(opened->verified_by, std::vector<std::string>{std::string(kOrigin)});

  // Only the unknown signer.
  std::string witness_only =
      *SignNote(body, std::vector<NoteSigner>{Signer('x', "witness.example")});
  EXPECT_THAT(OpenCheckpoint(witness_only, Verifier()),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("no signature by a known key")));
  // Same name, another key: its key hash differs, so it is an unknown key.
  std::string other_key = *SignCheckpoint(c, Signer('z'));
  EXPECT_THAT(OpenCheckpoint(other_key, Verifier()), StatusIs(StatusCode::kUnauthenticated));
}

TEST_F(CheckpointTest, AlteredNotesAreRefused) {
  std::string note = SignedSample();
  // Change the size in the text: the signature no longer verifies.
  std::string altered = note;
  altered.replace(altered.find("\n1000\n"), 6, "\n1001\n");
  EXPECT_THAT(OpenCheckpoint(altered, Verifier()),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("does not verify")));
  // Flip a bit of the signature (keeping base64 canonical: change one middle character).
  std::string sig_altered = note;
  size_t pos = sig_altered.size() - 20;
  sig_altered[pos] = sig_altered[pos] == 'A' ? 'B' : 'A';
  EXPECT_THAT(OpenCheckpoint(sig_altered, Verifier()), StatusIs(StatusCode::kUnauthenticated));
  // Another log's checkpoint, validly signed.
  EXPECT_THAT(OpenCheckpoint(note, Verifier(), "example.com/other/access"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("not 'example.com/other/access'")));
}

TEST_F(CheckpointTest, MalformedNotesAreRefused) {
  std::string note = SignedSample();
  std::string body = *FormatCheckpoint(Sample());
  std::string sigline = note.substr(body.size() + 1);
  struct Case {
    std::string name;
    std::string note;
  };
  std::vector<Case> cases = {
      {"missing trailing newline", note.substr(0, note.size() - 1)},
      {"no blank line", body + sigline},
      {"no signature lines", body + "\n"},
      {"signature line without em dash", body + "\n- " + sigline.substr(4)},
      {"signature line without space", body + "\n\xE2\x80\x94" + sigline.substr(4)},
      {"bad base64 in signature", body + "\n" + sigline.substr(0, sigline.size() - 3) + "!!\n"},
      {"signature too short", body + "\n\xE2\x80\x94 " + std::string(kOrigin) + " AAAA\n"},
      {"extra field on signature line",
       body + "\n" + sigline.substr(0, sigline.size() - 1) + " extra\n"},
      {"control character in text",
       "ori\x01gin\n1000\n" + body.substr(body.find("1000\n") + 5) + "\n" + sigline},
      {"invalid UTF-8 in text", "ori\xC3gin\n" + body.substr(body.find('\n') + 1) + "\n" + sigline},
      {"empty", ""},
  };
  std::string many = body + "\n";
  for (int i = 0; i < 101; ++i) many += sigline;
  cases.push_back({"too many signatures", many});
  for (const Case& c : cases) {
    EXPECT_THAT(OpenCheckpoint(c.note, Verifier()), StatusIs(StatusCode::kInvalidArgument))
        << c.name;
  }
}

TEST_F(CheckpointTest, MalformedBodiesAreRefused) {
  std::string root = Base64Encode(HashView(HashLeaf("r")));
  std::string origin(kOrigin);
  struct Case {
    std::string name;
    std::string body;
    std::string message;
  };
  std::vector<Case> cases = {
      {"missing trailing newline", origin + "\n5\n" + root, "newline"},
      {"only two lines", origin + "\n5\n", "needs origin, size and root"},
      {"empty origin", "\n5\n" + root + "\n", "origin"},
      {"size not decimal", origin + "\nfive\n" + root + "\n", "not a decimal"},
      {"negative size", origin + "\n-5\n" + root + "\n", "not a decimal"},
      {"size with leading zero", origin + "\n05\n" + root + "\n", "leading zeros"},
      {"size with plus", origin + "\n+5\n" + root + "\n", "not a decimal"},
      {"size too large", origin + "\n18446744073709551616\n" + root + "\n", "64 bits"},
      {"empty size", origin + "\n\n" + root + "\n", "not a decimal"},
      {"bad base64 root", origin + "\n5\n" + "not*base64\n", "base64"},
      {"unpadded root", origin + "\n5\n" + root.substr(0, root.size() - 1) + "\n", "base64"},
      {"root of 31 bytes", origin + "\n5\n" + Base64Encode(std::string(31, 'a')) + "\n",
       "32 bytes"},
      {"root of 33 bytes", origin + "\n5\n" + Base64Encode(std::string(33, 'a')) + "\n",
       "32 bytes"},
      {"empty extension line", origin + "\n5\n" + root + "\n\next\n", "empty extension"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(ParseCheckpoint(c.body),
                StatusIs(StatusCode::kInvalidArgument, HasSubstr(c.message)))
        << c.name;
    // Validly signed, the body is still refused.
    auto note = SignNote(c.body.ends_with("\n") ? c.body : c.body + "\n", std::vector{Signer()});
    if (note.ok() && c.body.ends_with("\n")) {
      EXPECT_FALSE(OpenCheckpoint(*note, Verifier()).ok()) << c.name;
    }
  }
  EXPECT_THAT(ParseCheckpoint(origin + "\n18446744073709551615\n" + root + "\n"), IsOk());
}

TEST_F(CheckpointTest, BadKeyNamesAreRefused) {
  for (std::string_view bad : {"", "a b", "a+b", "tab\there", "nbsp\xC2\xA0here", "bad\xC3"}) {
    EXPECT_FALSE(NoteSigner::Create(std::string(bad), Key('k')).ok()) << bad;
    EXPECT_FALSE(NoteVerifier::Create(std::string(bad), Key('k').public_key()).ok()) << bad;
  }
  Checkpoint c = Sample();
  c.origin = "two\nlines";
  EXPECT_THAT(FormatCheckpoint(c), StatusIs(StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace tieup::ledger
