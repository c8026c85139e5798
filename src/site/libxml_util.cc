#include "site/libxml_util.h"

#include <mutex>

namespace tieup::libxml {
namespace {

void NoLibxmlMessages(void*, const char*, ...) {}
void NoLibxmlErrors(void*, xmlErrorPtr) {}

}  // namespace

void Prepare() {
  static std::once_flag once;
  std::call_once(once, [] { xmlInitParser(); });
  xmlSetGenericErrorFunc(nullptr, NoLibxmlMessages);
  xmlSetStructuredErrorFunc(nullptr, NoLibxmlErrors);
}

}  // namespace tieup::libxml
