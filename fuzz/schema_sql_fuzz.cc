// Fuzzes the rewriting of schema steps for PostgreSQL (store/database.h PostgresSchemaSql), which
// reads SQL text: words, quoted literals and names, comments, parentheses of CREATE TABLE.
//
// Input: the SQL text. Properties: it returns (no crash, no endless loop); on text without
// double quotes and comments, every single-quoted literal of the input is in the output as it was.
#include <string>

#include "fuzz_util.h"
#include "store/database.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view sql = tieup::fuzz::AsText(data, size);
  const std::string out = tieup::PostgresSchemaSql(sql);
  if (sql.find('"') != std::string_view::npos || sql.find("--") != std::string_view::npos) {
    return 0;
  }
  for (size_t i = sql.find('\''); i != std::string_view::npos;) {
    const size_t end = sql.find('\'', i + 1);
    const std::string_view literal =
        sql.substr(i, end == std::string_view::npos ? std::string_view::npos : end + 1 - i);
    FUZZ_CHECK(out.find(literal) != std::string::npos);
    if (end == std::string_view::npos) break;
    i = sql.find('\'', end + 1);
  }
  return 0;
}
