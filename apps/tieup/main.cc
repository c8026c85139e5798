#include <cstdio>

int main() {
  std::puts("tieup");
  return 0;
}
