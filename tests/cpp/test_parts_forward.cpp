// The parts tables' batch forward kernels (combine_many: path's and md's maps through
// kernels::apply_maps, on every Highway target below; memcom's and cce's hashing by
// FastMod64) against their scalar reference (PartsTable::forward_reference: one id at a time
// through the method's map_rows and combine), bit for bit, over a grid of methods, dims,
// poolings and bag shapes. The published results depend on these bits: a kernel may be
// faster, never different.
#include <gtest/gtest.h>

#include <bit>
#include <cctype>
#include <tuple>

#include "cembed/factory.h"
#include "embedding/linear_map.h"
#include "embedding/parts_table.h"
#include "kernels/linear_maps.h"
#include "test_helpers.h"
#include "util/fast_mod.h"

namespace cembed {
namespace {

// Specs valid at every dim of the grid (3 to 64) for 300 values.
const std::vector<std::string> kSpecs = {
    "path:maps=4",
    "path:maps=1",
    "md:dim=1",
    "md:dim=3",
    "memcom:rows=7",
    "memcom:rows=1",
    "memcom:rows=5,bias=scalar",
    "memcom:rows=6,bias=vector",
    "qr:collisions=7",
    "qr:collisions=4,op=add",
    "qr:collisions=9,op=concat",
    "cp:kind=crt,parts=3,collisions=3",
    "cp:parts=3,collisions=3,op=add",
    "cp:kind=crt,parts=3,collisions=3,op=concat",
    "cce:rows=7",
    "cce:rows=5,cols=3",
};

enum class Bags { OneHot, Short, ShortWeighted };

class PartsForward : public ::testing::TestWithParam<std::tuple<std::string, int, Pooling, Bags>> {};

TEST_P(PartsForward, MatchesReferenceBitForBit) {
  const auto& [spec, dim, pooling, shape] = GetParam();
  const int64_t n = 300, batch = 97, stride = dim + 3;  // a strided output: the gaps stay untouched
  auto table = make_table(spec, {dim, {n}});
  table->init(7);
  // Every parameter random (init leaves path's biases 0 and memcom's weights 1, which would
  // hide a kernel that drops them), about the scale of trained weights.
  Rng weights(static_cast<uint64_t>(dim) + 5);
  for (const auto& block : table->blocks()) {
    for (float& w : block.weights) w = weights.uniform(-1.5f, 1.5f);
  }
  const auto* parts = dynamic_cast<const PartsTable*>(table.get());
  ASSERT_NE(parts, nullptr) << spec;
  Rng rng(static_cast<uint64_t>(dim) * 31 + static_cast<uint64_t>(shape));
  const testing::OwnedBags bags = shape == Bags::OneHot
                                      ? testing::random_bags(rng, batch, n, 1, 1, false)
                                      : testing::random_bags(rng, batch, n, 0, 4, shape == Bags::ShortWeighted);
  std::vector<float> out(batch * stride, -7.0f), ref(batch * stride, -7.0f);
  const BagBatch view = bags.view();
  const MatrixView out_view{out.data(), batch, dim, stride};
  table->forward(std::span(&view, 1), pooling, std::span(&out_view, 1));
  parts->forward_reference(view, pooling, {ref.data(), batch, dim, stride});
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t i = 0; i < stride; ++i) {
      const float o = out[b * stride + i], r = ref[b * stride + i];
      ASSERT_EQ(std::bit_cast<uint32_t>(o), std::bit_cast<uint32_t>(r))
          << spec << " dim " << dim << ": bag " << b << " element " << i << (i >= dim ? " (a gap)" : "") << ": "
          << std::hexfloat << o << " vs reference " << r << " (difference " << (o - r) << ")";
    }
  }
}

std::string case_name(const ::testing::TestParamInfo<PartsForward::ParamType>& info) {
  const auto& [spec, dim, pooling, shape] = info.param;
  std::string name = spec;
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  static const char* kShapes[] = {"onehot", "short", "weighted"};
  return name + "_dim" + std::to_string(dim) + (pooling == Pooling::Sum ? "_sum_" : "_mean_") +
         kShapes[static_cast<int>(shape)];
}

INSTANTIATE_TEST_SUITE_P(Methods, PartsForward,
                         ::testing::Combine(::testing::ValuesIn(kSpecs), ::testing::Values(3, 8, 16, 17, 32, 64),
                                            ::testing::Values(Pooling::Sum, Pooling::Mean),
                                            ::testing::Values(Bags::OneHot, Bags::Short, Bags::ShortWeighted)),
                         case_name);

// kernels::apply_maps on every Highway target compiled in and supported by this CPU, against
// linear_map one vector at a time: rows that fill whole vectors and rows that leave a tail,
// three maps (the kernel groups the vectors by map: groups of one map and mixed ones) or one
// (no map_of, as md passes), with and without a bias, a count that leaves vectors past the
// interleaved groups.
TEST(LinearMapTargets, EveryTargetMatchesLinearMapBitForBit) {
  testing::for_each_simd_target([&](const std::string& name) {
    for (int64_t rows : {1, 3, 4, 8, 12, 16, 17, 33, 64}) {
      for (int64_t cols : {1, 3, 16}) {
        for (int variant = 0; variant < 4; ++variant) {
          const bool with_bias = (variant & 1) != 0;
          Rng rng(static_cast<uint64_t>(rows * 97 + cols * 5 + variant));
          const int64_t maps = (variant & 2) != 0 ? 1 : 3, inputs = 11, count = 23;
          const auto a = testing::random_vector(rng, maps * rows * cols);
          const auto bias = testing::random_vector(rng, maps * (rows + 2));
          const auto x = testing::random_vector(rng, inputs * cols);
          std::vector<float> at(a.size());
          for (int64_t m = 0; m < maps; ++m)
            kernels::transpose(a.data() + m * rows * cols, rows, cols, at.data() + m * rows * cols);
          std::vector<int64_t> map_of(count), x_row(count);
          for (int64_t k = 0; k < count; ++k) {
            map_of[k] = static_cast<int64_t>(rng.below(maps));
            x_row[k] = static_cast<int64_t>(rng.below(inputs));
          }
          std::vector<float> y(count * rows), ref(count * rows);
          kernels::apply_maps({count, rows, cols, at.data(), maps == 1 ? nullptr : map_of.data(),
                               with_bias ? bias.data() : nullptr, rows + 2, x.data(), x_row.data(), y.data(), rows});
          for (int64_t k = 0; k < count; ++k) {
            linear_map(a.data() + map_of[k] * rows * cols, x.data() + x_row[k] * cols,
                       with_bias ? bias.data() + map_of[k] * (rows + 2) : nullptr, rows, cols, ref.data() + k * rows);
          }
          for (size_t i = 0; i < y.size(); ++i) {
            ASSERT_EQ(std::bit_cast<uint32_t>(y[i]), std::bit_cast<uint32_t>(ref[i]))
                << "target " << name << ", rows " << rows << ", cols " << cols << ", " << maps << " map(s)"
                << (with_bias ? ", bias" : "") << ": vector " << i / rows << " element " << i % rows << ": " << y[i]
                << " vs " << ref[i] << ", off by " << y[i] - ref[i];
          }
        }
      }
    }
  });
}

// kernels::transpose (4 x 4 blocks in shuffles, the edges one float at a time) on every
// Highway target: each element where the index rule puts it, on shapes with and without
// edges past the whole blocks.
TEST(LinearMapTargets, TransposeMovesEveryElementOnEveryTarget) {
  testing::for_each_simd_target([&](const std::string& name) {
    for (int64_t rows : {1, 3, 4, 5, 8, 16, 17, 33}) {
      for (int64_t cols : {1, 2, 4, 7, 8, 16, 18}) {
        Rng rng(static_cast<uint64_t>(rows * 41 + cols));
        const auto a = testing::random_vector(rng, rows * cols);
        std::vector<float> at(rows * cols + 8, -7.0f);  // 8 floats past the end that must stay
        kernels::transpose(a.data(), rows, cols, at.data());
        for (int64_t i = rows * cols; i < rows * cols + 8; ++i) {
          ASSERT_EQ(at[i], -7.0f) << "target " << name << ", " << rows << " x " << cols << ": wrote past the end";
        }
        for (int64_t i = 0; i < rows; ++i) {
          for (int64_t j = 0; j < cols; ++j) {
            ASSERT_EQ(std::bit_cast<uint32_t>(at[j * rows + i]), std::bit_cast<uint32_t>(a[i * cols + j]))
                << "target " << name << ", " << rows << " x " << cols << ": element (" << i << ", " << j
                << ") transposed to " << at[j * rows + i] << ", expected " << a[i * cols + j];
          }
        }
      }
    }
  });
}

TEST(FastMod64, MatchesTheRemainder) {
  std::vector<uint64_t> divisors = {1,
                                    2,
                                    3,
                                    7,
                                    1024,
                                    31250,
                                    62500,
                                    1000003,
                                    (uint64_t{1} << 32) - 1,
                                    uint64_t{1} << 32,
                                    (uint64_t{1} << 32) + 1,
                                    (uint64_t{1} << 63) + 5,
                                    UINT64_MAX - 1,
                                    UINT64_MAX};
  Rng rng(11);
  for (int i = 0; i < 50; ++i) divisors.push_back(rng.next() >> rng.below(64));
  for (uint64_t d : divisors) {
    if (d == 0) continue;
    const FastMod64 mod(d);
    std::vector<uint64_t> xs = {0, 1, d - 1, d, d + 1, UINT64_MAX, UINT64_MAX - 1, UINT64_MAX / 2};
    for (int i = 0; i < 2000; ++i) xs.push_back(rng.next() >> rng.below(64));
    for (uint64_t x : xs) ASSERT_EQ(mod(x), x % d) << x << " mod " << d;
  }
}

}  // namespace
}  // namespace cembed
