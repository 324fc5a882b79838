// Large arrays start on a 2 MiB boundary and are advised as huge-page memory
// (util/aligned_vector.h, util/zeroed_array.h); small ones stay on cache lines. Contents never
// depend on it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include "process_memory.h"
#include "util/aligned_vector.h"
#include "util/zeroed_array.h"

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

TEST(ZeroedArray, StartsZeroOnTheSameBoundariesAndCopiesAndMoves) {
  ZeroedArray small(1000), large(huge_pages::kBytes / sizeof(float) + 3);
  EXPECT_EQ(address(small.data()) % 64, 0u);
  EXPECT_EQ(address(large.data()) % huge_pages::kBytes, 0u);
  for (const ZeroedArray* a : {&small, &large}) {
    const std::span<const float> v = *a;
    EXPECT_EQ(std::count(v.begin(), v.end(), 0.0f), static_cast<std::ptrdiff_t>(v.size()));
  }
  large.data()[large.size() - 1] = 5.0f;
  ZeroedArray copy = large;
  EXPECT_EQ(copy.size(), large.size());
  EXPECT_EQ(copy.data()[copy.size() - 1], 5.0f);
  EXPECT_NE(copy.data(), large.data());
  ZeroedArray moved = std::move(copy);
  EXPECT_EQ(moved.data()[moved.size() - 1], 5.0f);
  EXPECT_EQ(copy.size(), 0u);  // NOLINT(bugprone-use-after-move): a moved-from array is empty
  moved.release();
  EXPECT_EQ(moved.size(), 0u);
  EXPECT_EQ(ZeroedArray(0).data(), nullptr);
}

TEST(ZeroedArray, ALargeArrayCostsNoMemoryUntilWritten) {
  // 64 MiB of zeros: not resident after construction (a table whose weights are then read
  // in place from a model file never pays for them), resident once written.
  if (testing::kAddressSanitizer) GTEST_SKIP() << "AddressSanitizer's own memory blurs RssAnon";
  constexpr std::size_t kFloats = std::size_t{16} << 20;
  const int64_t before = testing::anonymous_resident_bytes();
  ZeroedArray a(kFloats);
  const int64_t constructed = testing::anonymous_resident_bytes();
  EXPECT_LT(constructed - before, int64_t{8} << 20) << "the zeros were written";
  std::fill(a.data(), a.data() + kFloats, 1.0f);
  EXPECT_GT(testing::anonymous_resident_bytes() - before, int64_t{56} << 20) << "RssAnon does not see writes";
}

}  // namespace
}  // namespace cembed
