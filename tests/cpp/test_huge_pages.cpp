// Large arrays start on a 2 MiB boundary and are advised as huge-page memory
// (util/aligned_vector.h); small ones stay on cache lines. Contents never depend on it.
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include "util/aligned_vector.h"

namespace cembed {
namespace {

std::uintptr_t address(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

TEST(HugePages, LargeArraysStartOnA2MiBBoundarySmallOnesOnACacheLine) {
  AlignedVector<float> small(1000, 1.0f);
  AlignedVector<float> large(huge_pages::kBytes / sizeof(float) + 3, 2.0f);
  AlignedVector<uint32_t> larger(3 * huge_pages::kBytes / sizeof(uint32_t), 7u);
  EXPECT_EQ(address(small.data()) % 64, 0u);
  EXPECT_EQ(address(large.data()) % huge_pages::kBytes, 0u);
  EXPECT_EQ(address(larger.data()) % huge_pages::kBytes, 0u);
  // The contents are those of any vector: filled, copied, grown.
  EXPECT_EQ(large.back(), 2.0f);
  AlignedVector<float> copy = large;
  copy.resize(copy.size() * 2, 3.0f);
  EXPECT_EQ(copy[large.size() - 1], 2.0f);
  EXPECT_EQ(copy.back(), 3.0f);
  EXPECT_EQ(address(copy.data()) % huge_pages::kBytes, 0u);
}

TEST(HugePages, TheKernelTakesTheAdviceWhereTransparentHugePagesAreOn) {
  std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
  std::stringstream mode;
  mode << f.rdbuf();
  if (mode.str().find("[madvise]") == std::string::npos && mode.str().find("[always]") == std::string::npos) {
    GTEST_SKIP() << "transparent huge pages are off here: " << mode.str();
  }
  AlignedVector<float> table(4 * huge_pages::kBytes / sizeof(float));
  EXPECT_TRUE(huge_pages::advise(table.data(), table.size() * sizeof(float)));
  // A start off a page boundary is refused, not rounded.
  EXPECT_FALSE(huge_pages::advise(reinterpret_cast<char*>(table.data()) + 64, huge_pages::kBytes));
}

}  // namespace
}  // namespace cembed
