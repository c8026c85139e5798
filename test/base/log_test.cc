#include "base/log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>
#include <string>

#include "test_support.h"

namespace tieup {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// [log] format = "json": each line one JSON object a log shipper can parse, whatever the
// message holds (quotes, newlines, control characters are escaped).
TEST(LogTest, JsonLinesAreOneObjectPerMessage) {
  testing::TempDir dir;
  LogOptions o;
  o.file = dir.Sub("tieup.log");
  o.also_stderr = false;
  o.json = true;
  {
    auto logger = NewLogger("shop-a", o);
    logger->info("serving http://127.0.0.1:{}/", 8080);
    logger->warn("a \"quoted\" name\nand a second line\t\x01");
    logger->flush();
  }
  std::istringstream lines(ReadAll(o.file));
  std::string line;
  std::vector<boost::json::object> objects;
  while (std::getline(lines, line)) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(line, ec);
    ASSERT_FALSE(ec) << line;
    ASSERT_TRUE(v.is_object()) << line;
    objects.push_back(v.as_object());
  }
  ASSERT_EQ(objects.size(), 2u);
  EXPECT_EQ(objects[0].at("level").as_string(), "info");
  EXPECT_EQ(objects[0].at("site").as_string(), "shop-a");
  EXPECT_EQ(objects[0].at("message").as_string(), "serving http://127.0.0.1:8080/");
  EXPECT_THAT(std::string(objects[0].at("time").as_string()),
              MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z"));
  EXPECT_EQ(objects[1].at("level").as_string(), "warning");
  EXPECT_EQ(objects[1].at("message").as_string(), "a \"quoted\" name\nand a second line\t\x01");
}

TEST(LogTest, TextLinesAreForPeople) {
  testing::TempDir dir;
  LogOptions o;
  o.file = dir.Sub("tieup.log");
  o.also_stderr = false;
  {
    auto logger = NewLogger("main", o);
    logger->info("hello");
    logger->flush();
  }
  EXPECT_THAT(ReadAll(o.file), HasSubstr(" info [main] hello\n"));
}

// A daemon's log does not grow without end: past max_file_bytes it moves to FILE.1, FILE.2, ...
// and the oldest beyond max_files goes.
TEST(LogTest, TheFileIsRotatedAndOldFilesGo) {
  testing::TempDir dir;
  LogOptions o;
  o.file = dir.Sub("tieup.log");
  o.also_stderr = false;
  o.max_file_bytes = 4096;
  o.max_files = 2;
  {
    auto logger = NewLogger("main", o);
    for (int i = 0; i < 400; ++i) logger->info("line {} {}", i, std::string(60, 'x'));
    logger->flush();
  }
  EXPECT_LE(ReadAll(o.file).size(), 4096u);
  EXPECT_THAT(ReadAll(o.file), HasSubstr("line 399 "));
  EXPECT_FALSE(ReadAll(dir.Sub("tieup.1.log")).empty());
  EXPECT_FALSE(ReadAll(dir.Sub("tieup.2.log")).empty());
  EXPECT_TRUE(ReadAll(dir.Sub("tieup.3.log")).empty()) << "only max_files old files are kept";
  EXPECT_THAT(ReadAll(dir.Sub("tieup.2.log")), Not(HasSubstr("line 0 ")));
}

}  // namespace
}  // namespace tieup
