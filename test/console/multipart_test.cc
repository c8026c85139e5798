#include "console/multipart.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "base/encoding.h"
#include "test_support.h"

namespace tieup::console {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;

constexpr char kMultipartBoundary[] = "----WebKitFormBoundaryq3bJ0yqgY3XWPr5i";
const std::string kType = std::string("multipart/form-data; boundary=") + kMultipartBoundary;

// Bytes no text could hold: every byte value, CRLFs, a lone CR at the end, and lines that
// look like boundaries but are not this one.
std::string AwkwardBytes() {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  bytes += "\r\n--\r\n--" + std::string(kMultipartBoundary).substr(0, 10) + "\r\n\r\n";
  bytes += std::string(3, '\0') + "\r";
  return bytes;
}

// A part as Chromium writes it.
std::string Field(std::string_view name, std::string_view value) {
  return "--" + std::string(kMultipartBoundary) + "\r\nContent-Disposition: form-data; name=\"" +
         std::string(name) + "\"\r\n\r\n" + std::string(value) + "\r\n";
}
std::string File(std::string_view name, std::string_view filename, std::string_view type,
                 std::string_view bytes) {
  return "--" + std::string(kMultipartBoundary) + "\r\nContent-Disposition: form-data; name=\"" +
         std::string(name) + "\"; filename=\"" + std::string(filename) +
         "\"\r\nContent-Type: " + std::string(type) + "\r\n\r\n" + std::string(bytes) + "\r\n";
}
std::string End() { return "--" + std::string(kMultipartBoundary) + "--\r\n"; }

std::string BrowserBody() {
  return Field("csrf", "tok123") + Field("path", "/local/images/") +
         Field("note", "Kyoto 京都 — \"quoted\"\r\nsecond line") +
         File("file", "tea-ceremony 茶.png", "image/png", AwkwardBytes()) +
         File("file", "menu.pdf", "application/pdf", "%PDF-1.4\n%%EOF\n") + End();
}

TEST(MultipartTest, ReadsTheFieldsAndFilesOfABrowsersForm) {
  auto form = ParseMultipartForm(kType, BrowserBody());
  ASSERT_THAT(form, IsOk());
  EXPECT_EQ(form->fields.Get("csrf"), "tok123");
  EXPECT_EQ(form->fields.Get("path"), "/local/images/");
  EXPECT_EQ(form->fields.Get("note"), "Kyoto 京都 — \"quoted\"\r\nsecond line");
  ASSERT_EQ(form->files.size(), 2u);
  EXPECT_EQ(form->files[0].field, "file");
  EXPECT_EQ(form->files[0].filename, "tea-ceremony 茶.png");
  EXPECT_EQ(form->files[0].content_type, "image/png");
  EXPECT_EQ(form->files[0].bytes, AwkwardBytes());  // byte for byte
  EXPECT_EQ(form->files[1].filename, "menu.pdf");
  EXPECT_EQ(form->files[1].content_type, "application/pdf");
  EXPECT_EQ(form->files[1].bytes, "%PDF-1.4\n%%EOF\n");
}

TEST(MultipartTest, AnEmptyFileFieldIsNoFileAndAnEmptyValueIsAValue) {
  const std::string body =
      Field("csrf", "") + File("file", "", "application/octet-stream", "") + End();
  auto form = ParseMultipartForm(kType, body);
  ASSERT_THAT(form, IsOk());
  EXPECT_TRUE(form->fields.Has("csrf"));
  EXPECT_EQ(form->fields.Get("csrf"), "");
  EXPECT_TRUE(form->files.empty());
}

TEST(MultipartTest, AnEmptyFileWithANameIsAFile) {
  auto form = ParseMultipartForm(kType, File("file", "empty.txt", "text/plain", "") + End());
  ASSERT_THAT(form, IsOk());
  ASSERT_EQ(form->files.size(), 1u);
  EXPECT_EQ(form->files[0].filename, "empty.txt");
  EXPECT_EQ(form->files[0].bytes, "");
}

TEST(MultipartTest, TheContentTypeMayCarryOtherParametersAndAQuotedBoundary) {
  auto form = ParseMultipartForm(
      std::string("Multipart/Form-Data; charset=utf-8; boundary=\"") + kMultipartBoundary + "\"",
      Field("a", "1") + End());
  ASSERT_THAT(form, IsOk());
  EXPECT_EQ(form->fields.Get("a"), "1");
}

TEST(MultipartTest, RefusesAnotherContentType) {
  EXPECT_THAT(ParseMultipartForm("application/x-www-form-urlencoded", "a=1"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("not multipart/form-data")));
  EXPECT_THAT(ParseMultipartForm("multipart/mixed; boundary=x", "--x\r\n\r\na\r\n--x--\r\n"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("not multipart/form-data")));
  EXPECT_THAT(ParseMultipartForm("", ""), StatusIs(StatusCode::kInvalidArgument));
}

TEST(MultipartTest, RefusesAContentTypeWithoutBoundary) {
  EXPECT_THAT(ParseMultipartForm("multipart/form-data", BrowserBody()),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("no boundary")));
  EXPECT_THAT(ParseMultipartForm("multipart/form-data; boundary=", BrowserBody()),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("no boundary")));
}

TEST(MultipartTest, RefusesABodyCutShort) {
  const std::string body = BrowserBody();
  // Without its closing boundary, in the middle of a file, in a part's headers.
  for (size_t keep : {body.size() - End().size(), body.size() - End().size() - 40, size_t{60}}) {
    EXPECT_THAT(ParseMultipartForm(kType, body.substr(0, keep)),
                StatusIs(StatusCode::kInvalidArgument, HasSubstr("as a browser sends it")))
        << "kept " << keep << " bytes";
  }
}

TEST(MultipartTest, RefusesBodiesWithoutParts) {
  for (const std::string& body :
       {std::string(), std::string("hello"), End(), "--" + std::string(kMultipartBoundary) + "\r\n",
        std::string(
            "--other\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--other--")}) {
    EXPECT_THAT(ParseMultipartForm(kType, body), StatusIs(StatusCode::kInvalidArgument))
        << "body: " << body;
  }
}

TEST(MultipartTest, RefusesPartsThatAreNotFormData) {
  const std::string b = "--" + std::string(kMultipartBoundary) + "\r\n";
  EXPECT_THAT(ParseMultipartForm(kType, b + "Content-Type: text/plain\r\n\r\nhi\r\n" + End()),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("form-data")));
  EXPECT_THAT(ParseMultipartForm(
                  kType, b + "Content-Disposition: attachment; name=\"a\"\r\n\r\nhi\r\n" + End()),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("form-data")));
  EXPECT_THAT(ParseMultipartForm(kType, b + "Content-Disposition: form-data\r\n\r\nhi\r\n" + End()),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("no field name")));
  // A part that is itself multipart (RFC 2388's multipart/mixed for several files).
  const std::string nested = b +
                             "Content-Disposition: form-data; name=\"files\"\r\n"
                             "Content-Type: multipart/mixed; boundary=inner\r\n\r\n"
                             "--inner\r\nContent-Disposition: file; filename=\"a.txt\"\r\n\r\n"
                             "A\r\n--inner--\r\n\r\n" +
                             End();
  EXPECT_THAT(ParseMultipartForm(kType, nested),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("itself multipart")));
}

TEST(MultipartTest, RefusesATextFieldThatIsNotText) {
  EXPECT_THAT(ParseMultipartForm(kType, Field("a", std::string("x\0y", 3)) + End()),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("not UTF-8 text")));
  EXPECT_THAT(ParseMultipartForm(kType, Field("a", "\xff\xfe") + End()),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("not UTF-8 text")));
  EXPECT_THAT(ParseMultipartForm(kType, Field("a", "1") + Field("a", "2") + End()),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("sent twice")));
}

TEST(MultipartTest, KeepsToItsLimits) {
  MultipartLimits limits;
  limits.max_parts = 3;
  limits.max_field_bytes = 10;
  limits.max_total_bytes = 1000;
  std::string four;
  for (int i = 0; i < 4; ++i) four += Field("f" + std::to_string(i), "v");
  EXPECT_THAT(ParseMultipartForm(kType, four + End(), limits),
              StatusIs(StatusCode::kResourceExhausted, HasSubstr("at most 3")));
  EXPECT_THAT(ParseMultipartForm(kType, Field("a", std::string(11, 'x')) + End(), limits),
              StatusIs(StatusCode::kResourceExhausted, HasSubstr("longer than 10 bytes")));
  // A file is bounded by the whole body only.
  auto file =
      ParseMultipartForm(kType, File("f", "a.bin", "x/y", std::string(500, 'z')) + End(), limits);
  ASSERT_THAT(file, IsOk());
  EXPECT_EQ(file->files.at(0).bytes.size(), 500u);
  EXPECT_THAT(
      ParseMultipartForm(kType, File("f", "a.bin", "x/y", std::string(1000, 'z')) + End(), limits),
      StatusIs(StatusCode::kResourceExhausted, HasSubstr("larger than 1000 bytes")));
}

// Fuzz-style: random damage to a browser's body (as fuzz/multipart_fuzz.cc does with libFuzzer
// in the clang build; this runs in every build, seeded, so a failure replays). Whatever comes
// in, the parser answers without crashing, and what it accepts keeps its promises.
TEST(MultipartTest, RandomlyDamagedBodiesAreRefusedOrReadWithinTheRules) {
  std::mt19937 random(20250131);
  const std::string good = BrowserBody();
  MultipartLimits limits;
  limits.max_parts = 8;
  limits.max_field_bytes = 256;
  limits.max_total_bytes = 8192;
  const std::string boundary_line = "\r\n--" + std::string(kMultipartBoundary);
  int accepted = 0, refused = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string body = good;
    const int edits = 1 + static_cast<int>(random() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t at = body.empty() ? 0 : random() % body.size();
      switch (random() % 7) {
        case 0:  // flip a byte
          if (!body.empty()) body[at] = static_cast<char>(random());
          break;
        case 1:  // cut
          body.resize(at);
          break;
        case 2:  // drop a stretch
          body.erase(at, random() % 64);
          break;
        case 3:  // insert random bytes
          for (int n = static_cast<int>(random() % 16); n > 0; --n) {
            body.insert(body.begin() + static_cast<long>(at), static_cast<char>(random()));
          }
          break;
        case 4:  // a stray boundary
          body.insert(at, boundary_line + (random() % 2 ? "--" : "\r\n"));
          break;
        case 5:  // a header line
          body.insert(at, random() % 2 ? "\r\nContent-Disposition: form-data; name=\"x\"\r\n"
                                       : "\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n");
          break;
        default:  // repeat a stretch
          body.insert(at, body.substr(at / 2, random() % 200));
          break;
      }
    }
    auto form = ParseMultipartForm(kType, body, limits);
    if (!form.ok()) {
      ++refused;
      EXPECT_FALSE(form.status().message().empty());
      EXPECT_TRUE(form.status().code() == StatusCode::kInvalidArgument ||
                  form.status().code() == StatusCode::kResourceExhausted)
          << form.status().ToString();
      continue;
    }
    ++accepted;
    EXPECT_LE(form->fields.size() + form->files.size(), limits.max_parts);
    for (const auto& [name, value] : form->fields.all()) {
      EXPECT_FALSE(name.empty());
      EXPECT_TRUE(IsValidUtf8(name) && IsValidUtf8(value));
      EXPECT_EQ(value.find('\0'), std::string::npos);
      EXPECT_LE(value.size(), limits.max_field_bytes);
    }
    for (const UploadedFile& f : form->files) {
      EXPECT_FALSE(f.field.empty());
      EXPECT_TRUE(IsValidUtf8(f.filename));
      EXPECT_LE(f.bytes.size(), body.size());
    }
  }
  // Both outcomes happen: the damage is not all fatal, nor all harmless.
  EXPECT_GT(accepted, 100);
  EXPECT_GT(refused, 100);
}

TEST(MultipartTest, AnUploadsNameBecomesASafeAddressSegment) {
  EXPECT_EQ(SafeUploadName("tea.png"), "tea.png");
  EXPECT_EQ(SafeUploadName("C:\\Users\\ada\\My Tea #1.png"), "My-Tea-1.png");  // Windows path
  EXPECT_EQ(SafeUploadName("../../etc/passwd"), "passwd");
  EXPECT_EQ(SafeUploadName(".htaccess"), "htaccess");
  EXPECT_EQ(SafeUploadName("-a?b%c'd-.txt"), "a-b-c-d-.txt");
  EXPECT_EQ(SafeUploadName("抹茶 100g.jpg"), "抹茶-100g.jpg");
  EXPECT_EQ(SafeUploadName("???"), "");
  EXPECT_EQ(SafeUploadName("dir/"), "");
}

}  // namespace
}  // namespace tieup::console
