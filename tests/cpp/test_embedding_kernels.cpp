// The optimized kernels against their scalar references, over a grid of shapes and the
// named corner cases (empty bags, repeated rows, out-of-bound rows).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <tuple>
#include <utility>

#include "kernels/embedding_kernels.h"
#include "kernels/row_update_paths.h"
#include "test_helpers.h"
#include "util/check.h"

namespace cembed {
namespace {

using kernels::RowBags;

using Case = testing::RowBatch;

class KernelGrid : public ::testing::TestWithParam<std::tuple<int, bool, Pooling, int>> {};

TEST_P(KernelGrid, PoolMatchesReference) {
  const auto [dim, weighted, pooling, max_len] = GetParam();
  Rng rng(dim * 131 + weighted * 7 + max_len);
  const int64_t num_rows = 23, batch = 37;
  const auto table = testing::random_vector(rng, num_rows * dim);
  const Case c = testing::random_row_bags(rng, batch, num_rows, max_len, weighted);
  std::vector<float> out(batch * dim, -1.0f), ref(batch * dim, -2.0f);
  kernels::pool_rows(table.data(), num_rows, dim, c.view(), pooling, {out.data(), batch, dim, dim});
  kernels::pool_rows_reference(table.data(), num_rows, dim, c.view(), pooling, {ref.data(), batch, dim, dim});
  for (size_t i = 0; i < out.size(); ++i) ASSERT_NEAR(out[i], ref[i], 1e-5) << "element " << i;
}

TEST_P(KernelGrid, CoalesceMatchesReference) {
  const auto [dim, weighted, pooling, max_len] = GetParam();
  Rng rng(dim * 17 + weighted * 3 + max_len);
  const int64_t num_rows = 11, batch = 29;  // few rows: many repeats
  const Case c = testing::random_row_bags(rng, batch, num_rows, max_len, weighted);
  const auto grad = testing::random_vector(rng, batch * dim);
  kernels::RowGradients out, ref;
  kernels::coalesce_gradients(c.view(), pooling, {grad.data(), batch, dim, dim}, dim, out);
  kernels::coalesce_gradients_reference(c.view(), pooling, {grad.data(), batch, dim, dim}, dim, ref);
  ASSERT_EQ(out.rows, ref.rows);
  for (size_t i = 0; i < out.grads.size(); ++i) ASSERT_NEAR(out.grads[i], ref.grads[i], 1e-5);
}

// The fused update against its reference: every optimizer, every dim of the grid, gradients
// coalesced from bags with many repeated rows, three steps so that state accumulates.
TEST_P(KernelGrid, UpdatesMatchReference) {
  const auto [dim, weighted, pooling, max_len] = GetParam();
  Rng rng(dim * 29 + weighted * 5 + max_len);
  const int64_t num_rows = 13, batch = 31;
  for (OptimizerKind kind :
       {OptimizerKind::Sgd, OptimizerKind::Adagrad, OptimizerKind::RowwiseAdagrad, OptimizerKind::Gradient}) {
    const OptimizerConfig opt{kind, 1e-10f, 0.1f};
    auto table = testing::random_vector(rng, num_rows * dim);
    std::vector<float> state(optimizer_state_floats(kind, num_rows, dim), opt.initial_accumulator);
    auto ref_table = table;
    auto ref_state = state;
    for (int step = 0; step < 3; ++step) {
      const Case c = testing::random_row_bags(rng, batch, num_rows, max_len, weighted);
      const auto grad = testing::random_vector(rng, batch * dim);
      kernels::RowGradients g;
      kernels::coalesce_gradients(c.view(), pooling, {grad.data(), batch, dim, dim}, dim, g);
      kernels::apply_row_updates(table.data(), state.data(), num_rows, dim, g, opt, 0.05f);
      kernels::apply_row_updates_reference(ref_table.data(), ref_state.data(), num_rows, dim, g, opt, 0.05f);
    }
    for (size_t i = 0; i < table.size(); ++i) {
      ASSERT_TRUE(testing::close(table[i], ref_table[i], 1e-5, 1e-6))
          << optimizer_kind_name(kind) << " weight " << i << ": " << table[i] << " vs reference " << ref_table[i];
    }
    for (size_t i = 0; i < state.size(); ++i) {
      ASSERT_TRUE(testing::close(state[i], ref_state[i], 1e-5, 1e-6))
          << optimizer_kind_name(kind) << " state " << i << ": " << state[i] << " vs reference " << ref_state[i];
    }
  }
}

// The fused kernel (coalesce_and_apply) against coalesce_gradients then apply_row_updates:
// the same bits, for every optimizer, over three steps.
void expect_fused_matches_unfused(Rng& rng, const Case& first, int64_t num_rows, int64_t dim, Pooling pooling) {
  for (OptimizerKind kind :
       {OptimizerKind::Sgd, OptimizerKind::Adagrad, OptimizerKind::RowwiseAdagrad, OptimizerKind::Gradient}) {
    const OptimizerConfig opt{kind, 1e-10f, 0.1f};
    auto table = testing::random_vector(rng, num_rows * dim);
    std::vector<float> state(optimizer_state_floats(kind, num_rows, dim), opt.initial_accumulator);
    auto fused_table = table;
    auto fused_state = state;
    kernels::UpdateScratch scratch;
    for (int step = 0; step < 3; ++step) {
      Case c = first;  // the same rows each step, shuffled: repeats, first occurrences moved
      for (size_t i = c.rows.size(); i > 1; --i) std::swap(c.rows[i - 1], c.rows[rng.below(i)]);
      const int64_t batch = static_cast<int64_t>(c.offsets.size()) - 1;
      const auto grad = testing::random_vector(rng, batch * dim);
      const ConstMatrixView gv{grad.data(), batch, dim, dim};
      kernels::RowGradients g;
      kernels::coalesce_gradients(c.view(), pooling, gv, dim, g);
      kernels::apply_row_updates(table.data(), state.data(), num_rows, dim, g, opt, 0.05f);
      kernels::coalesce_and_apply(c.view(), pooling, gv, dim, fused_table.data(), fused_state.data(), num_rows, opt,
                                  0.05f, scratch);
    }
    const std::string what = fmt::format("{} dim {}", optimizer_kind_name(kind), dim);
    testing::expect_same_bits(fused_table, table, what + " weights");
    testing::expect_same_bits(fused_state, state, what + " state");
  }
}

TEST_P(KernelGrid, FusedUpdateMatchesCoalesceThenUpdate) {
  const auto [dim, weighted, pooling, max_len] = GetParam();
  Rng rng(dim * 37 + weighted * 11 + max_len);
  expect_fused_matches_unfused(rng, testing::random_row_bags(rng, 31, 13, max_len, weighted), 13, dim, pooling);
}

// One scratch through batches of changing sizes (its hash table resized: under ASan a table
// left at its old size is an overflow) and with its stamp at the top of its range (the table
// kept when the batch's stamps just fit, cleared when they would wrap; both paths asserted):
// each batch's update equals coalesce_gradients then apply_row_updates, bit for bit. Rows
// recur within and across batches; dim 16 runs Adagrad's Highway loop.
TEST(Kernels, FusedUpdateScratchAcrossSizesAndStampWrap) {
  Rng rng(77);
  const int64_t num_rows = 9, dim = 16;
  const OptimizerConfig opt{OptimizerKind::Adagrad, 1e-10f, 0.1f};
  auto table = testing::random_vector(rng, num_rows * dim);
  std::vector<float> state(optimizer_state_floats(opt.kind, num_rows, dim), opt.initial_accumulator);
  auto fused_table = table;
  auto fused_state = state;
  kernels::UpdateScratch scratch;
  // The slots find_distinct uses for `ids` ids: a power of two, at least 16 and 4 x ids.
  auto slots_for = [](int64_t ids) {
    size_t slots = 16;
    while (static_cast<int64_t>(slots) < 4 * ids) slots *= 2;
    return slots;
  };
  // stamp 0: as the last batch left it; -1: this batch's stamps end exactly at UINT32_MAX
  // (the table kept); -2: they would pass it (the table cleared, stamps from 1).
  for (const auto& [bags, stamp] :
       std::vector<std::pair<int64_t, int>>{{31, 0}, {5, 0}, {200, 0}, {31, 0}, {31, -1}, {31, 0}, {31, -2}, {31, 0}}) {
    Case c = testing::random_row_bags(rng, bags, num_rows, 3, false);
    if (stamp != 0) {  // a batch the table's size fits, so that the stamp alone decides
      while (slots_for(static_cast<int64_t>(c.rows.size())) != scratch.slots.size()) {
        c = testing::random_row_bags(rng, bags, num_rows, 3, false);
      }
    }
    const auto ids = static_cast<int64_t>(c.rows.size());
    if (stamp == -1) scratch.base = static_cast<uint32_t>(UINT32_MAX - ids);
    if (stamp == -2) scratch.base = static_cast<uint32_t>(UINT32_MAX - ids + 1);
    const auto grad = testing::random_vector(rng, bags * dim);
    const ConstMatrixView gv{grad.data(), bags, dim, dim};
    kernels::RowGradients g;
    kernels::coalesce_gradients(c.view(), Pooling::Sum, gv, dim, g);
    kernels::apply_row_updates(table.data(), state.data(), num_rows, dim, g, opt, 0.05f);
    kernels::coalesce_and_apply(c.view(), Pooling::Sum, gv, dim, fused_table.data(), fused_state.data(), num_rows, opt,
                                0.05f, scratch);
    const std::string what = fmt::format("{} bags, stamp case {}", bags, stamp);
    if (stamp == -1) {
      EXPECT_EQ(scratch.base, UINT32_MAX) << what << ": the table was not kept";
    } else if (stamp == -2) {
      EXPECT_EQ(scratch.base, static_cast<uint32_t>(1 + ids)) << what << ": the table was not cleared";
    }
    testing::expect_same_bits(fused_table, table, what + " weights");
    testing::expect_same_bits(fused_state, state, what + " state");
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, KernelGrid,
                         ::testing::Combine(::testing::Values(1, 3, 4, 8, 16, 32, 33, 64, 128), ::testing::Bool(),
                                            ::testing::Values(Pooling::Sum, Pooling::Mean),
                                            ::testing::Values(0, 1, 4)));

// Pieces: every width against every dim (full pieces, a short last piece, one piece wider
// than dim), starts anywhere in the array, unaligned included.
TEST(Kernels, PoolPiecesMatchesReference) {
  Rng rng(41);
  const int64_t array_size = 300, batch = 31;
  const auto array = testing::random_vector(rng, array_size);
  for (int64_t dim : {1, 3, 8, 16, 20, 64}) {
    for (int64_t width : {1, 2, 4, 7, 8, 16, 32, 64, 100}) {
      const int64_t pieces = (dim + width - 1) / width, last = dim - (pieces - 1) * width;
      for (bool weighted : {false, true}) {
        for (Pooling pooling : {Pooling::Sum, Pooling::Mean}) {
          const Case c = testing::random_row_bags(rng, batch, 5, 4, weighted);
          std::vector<int64_t> starts;
          for (size_t k = 0; k < c.rows.size(); ++k) {
            for (int64_t p = 0; p < pieces; ++p) {
              const int64_t len = p == pieces - 1 ? last : width;
              starts.push_back(static_cast<int64_t>(rng.below(static_cast<uint64_t>(array_size - len + 1))));
            }
          }
          const kernels::PieceBags bags{starts, c.offsets, c.weights};
          std::vector<float> out(batch * dim, -1.0f), ref(batch * dim, -2.0f);
          kernels::pool_pieces(array.data(), array_size, dim, width, bags, pooling, {out.data(), batch, dim, dim});
          kernels::pool_pieces_reference(array.data(), array_size, dim, width, bags, pooling,
                                         {ref.data(), batch, dim, dim});
          for (size_t i = 0; i < out.size(); ++i) {
            ASSERT_NEAR(out[i], ref[i], 1e-5) << "dim " << dim << " width " << width << " element " << i;
          }
        }
      }
    }
  }
}

// Bags that start past the first id (offsets[0] > 0) are not one id per bag from id 0:
// the copy path must not take them.
TEST(Kernels, PoolPiecesWithOffsetsPastTheFirstId) {
  Rng rng(43);
  const auto array = testing::random_vector(rng, 64);
  const std::vector<int64_t> starts = {0, 8, 16, 24, 32, 40};  // 3 ids x 2 pieces of 8
  const std::vector<uint32_t> offsets = {1, 2, 3};             // bags: id 1, id 2
  const kernels::PieceBags bags{starts, offsets, {}};
  std::vector<float> out(2 * 16, -1.0f), ref(2 * 16, -2.0f);
  kernels::pool_pieces(array.data(), 64, 16, 8, bags, Pooling::Sum, {out.data(), 2, 16, 16});
  kernels::pool_pieces_reference(array.data(), 64, 16, 8, bags, Pooling::Sum, {ref.data(), 2, 16, 16});
  EXPECT_EQ(out, ref);
  EXPECT_EQ(out[0], array[16]);  // bag 0 is id 1, whose first piece starts at 16
}

TEST(Kernels, PiecesOutsideTheArrayAreErrors) {
  const std::vector<float> array(32, 1.0f);
  std::vector<float> out(8);
  const std::vector<uint32_t> offsets = {0, 1};
  // dim 8 in pieces of 4: the second piece may start at most at 28.
  for (const std::vector<int64_t>& starts : {std::vector<int64_t>{0, 29}, {-1, 0}, {0, int64_t{1} << 40}}) {
    const kernels::PieceBags bags{starts, offsets, {}};
    EXPECT_THROW(kernels::pool_pieces(array.data(), 32, 8, 4, bags, Pooling::Sum, {out.data(), 1, 8, 8}), Error);
  }
  const std::vector<int64_t> ok = {0, 28}, short_starts = {0};
  kernels::pool_pieces(array.data(), 32, 8, 4, {ok, offsets, {}}, Pooling::Sum, {out.data(), 1, 8, 8});
  EXPECT_EQ(out, std::vector<float>(8, 1.0f));
  EXPECT_THROW(
      kernels::pool_pieces(array.data(), 32, 8, 4, {short_starts, offsets, {}}, Pooling::Sum, {out.data(), 1, 8, 8}),
      Error);
}

// Batches large enough for the radix sort (1, 2 and 3 digits of rows), against the
// reference; rows beyond 2^32 or negative are refused.
TEST(Kernels, CoalesceLargeBatchesMatchesReference) {
  Rng rng(77);
  for (int64_t num_rows : {int64_t{1000}, int64_t{1} << 20, int64_t{1} << 31}) {
    const int64_t batch = 700, dim = 4;
    Case c = testing::random_row_bags(rng, batch, 50, 6, true);                           // many repeated rows ...
    for (auto& r : c.rows) r = r * (num_rows / 50) + static_cast<int64_t>(rng.below(3));  // ... spread over num_rows
    const auto grad = testing::random_vector(rng, batch * dim);
    kernels::RowGradients out, ref;
    kernels::coalesce_gradients(c.view(), Pooling::Mean, {grad.data(), batch, dim, dim}, dim, out);
    kernels::coalesce_gradients_reference(c.view(), Pooling::Mean, {grad.data(), batch, dim, dim}, dim, ref);
    ASSERT_EQ(out.rows, ref.rows) << num_rows;
    for (size_t i = 0; i < out.grads.size(); ++i) ASSERT_NEAR(out.grads[i], ref.grads[i], 1e-5);
  }
  std::vector<float> grad(2 * 4, 1.0f);
  for (int64_t bad : {int64_t{-1}, int64_t{1} << 32}) {
    Case c;
    c.rows = {0, bad};
    c.offsets = {0, 1, 2};
    kernels::RowGradients out;
    EXPECT_THROW(kernels::coalesce_gradients(c.view(), Pooling::Sum, {grad.data(), 2, 4, 4}, 4, out), Error);
  }
}

// Benchmark-sized batches: one id per bag over 1M rows (few repeats: the path without
// grouping) and over 300 rows (every row repeated), both bit for bit as the unfused kernels;
// rows out of range are refused.
TEST(Kernels, FusedUpdateLargeBatches) {
  Rng rng(79);
  for (int64_t num_rows : {int64_t{1} << 20, int64_t{300}}) {
    Case c;
    for (int64_t k = 0; k < 2048; ++k) {
      c.rows.push_back(static_cast<int64_t>(rng.below(static_cast<uint64_t>(num_rows))));
      c.offsets.push_back(static_cast<uint32_t>(k + 1));
    }
    expect_fused_matches_unfused(rng, c, num_rows, 16, Pooling::Sum);
  }
  std::vector<float> table(4 * 4, 1.0f), grad(2 * 4, 1.0f);
  for (int64_t bad : {int64_t{-1}, int64_t{4}, int64_t{1} << 32}) {
    Case c;
    c.rows = {0, bad};
    c.offsets = {0, 1, 2};
    kernels::UpdateScratch scratch;
    EXPECT_THROW(kernels::coalesce_and_apply(c.view(), Pooling::Sum, {grad.data(), 2, 4, 4}, 4, table.data(), nullptr,
                                             4, {OptimizerKind::Sgd}, 0.1f, scratch),
                 Error);
  }
  EXPECT_EQ(table, std::vector<float>(4 * 4, 1.0f));  // refused before any row was written
}

// One id per bag and no weights (DLRM's batches) take pool_rows' copy path: each output row is
// its table row + 0 (a -0 becomes +0), as the reference's (0 + 1 * x) * 1 in double rounds,
// bit for bit, at the fixed widths and a generic one, into a strided output, sum and mean.
TEST(Kernels, OneHotBagsPoolToTheirRowsBitForBit) {
  for (const int64_t dim : {4, 8, 16, 32, 64, 128, 17}) {
    for (const Pooling pooling : {Pooling::Sum, Pooling::Mean}) {
      Rng rng(static_cast<uint64_t>(dim) * 3 + static_cast<uint64_t>(pooling));
      const int64_t num_rows = 41, batch = 57, stride = dim + 2;
      auto table = testing::random_vector(rng, num_rows * dim);
      table[5 * dim + 1] = -0.0f;  // row 5, element 1
      std::vector<int64_t> rows(batch);
      for (auto& r : rows) r = static_cast<int64_t>(rng.below(num_rows));
      rows[3] = 5;
      std::vector<uint32_t> offsets(batch + 1);
      for (int64_t b = 0; b <= batch; ++b) offsets[b] = static_cast<uint32_t>(b);
      const RowBags bags{rows, offsets, {}};
      std::vector<float> out(batch * stride, -7.0f), ref(batch * stride, -7.0f);
      kernels::pool_rows(table.data(), num_rows, dim, bags, pooling, {out.data(), batch, dim, stride});
      kernels::pool_rows_reference(table.data(), num_rows, dim, bags, pooling, {ref.data(), batch, dim, stride});
      for (int64_t b = 0; b < batch; ++b) {
        for (int64_t j = 0; j < stride; ++j) {
          const float o = out[b * stride + j], r = ref[b * stride + j];
          ASSERT_EQ(std::bit_cast<uint32_t>(o), std::bit_cast<uint32_t>(r))
              << "dim " << dim << (pooling == Pooling::Sum ? " sum" : " mean") << ": bag " << b << " (row " << rows[b]
              << ") element " << j << (j >= dim ? " (a gap)" : "") << ": " << std::hexfloat << o << " vs reference "
              << r;
        }
      }
    }
  }
}

// scatter_rows puts packed row k into output row bags[k], + 0.0f (a -0 becomes +0), and
// leaves the other output rows and the gaps between rows alone: each width pool_rows has a
// fixed loop for, and one it has not.
TEST(Kernels, ScatterRowsMovesEachRowToItsBagPlusZero) {
  for (const int64_t dim : {4, 8, 16, 32, 64, 128, 17}) {
    Rng rng(static_cast<uint64_t>(dim) + 11);
    const int64_t count = 23, batch = 40, stride = dim + 3;
    auto src = testing::random_vector(rng, count * dim);
    src[2 * dim + dim - 1] = -0.0f;  // row 2's last element
    std::vector<uint32_t> bags(count);
    for (int64_t k = 0; k < count; ++k) bags[k] = static_cast<uint32_t>((k * 7 + 3) % batch);  // distinct bags
    std::vector<float> out(batch * stride, -7.0f);
    kernels::scatter_rows(src.data(), bags, dim, {out.data(), batch, dim, stride});
    std::vector<int64_t> source(batch, -1);
    for (int64_t k = 0; k < count; ++k) source[bags[k]] = k;
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t j = 0; j < stride; ++j) {
        const float want = source[b] < 0 || j >= dim ? -7.0f : src[source[b] * dim + j] + 0.0f;
        ASSERT_EQ(std::bit_cast<uint32_t>(out[b * stride + j]), std::bit_cast<uint32_t>(want))
            << "dim " << dim << ": output row " << b << " (from packed row " << source[b] << ") element " << j
            << (j >= dim ? " (a gap)" : "") << ": " << std::hexfloat << out[b * stride + j] << ", expected " << want;
      }
    }
  }
}

TEST(Kernels, EmptyBagsPoolToZero) {
  const std::vector<float> table(4 * 16, 1.0f);
  Case c;
  c.offsets = {0, 0, 0};
  std::vector<float> out(2 * 16, 5.0f);
  for (Pooling p : {Pooling::Sum, Pooling::Mean}) {
    kernels::pool_rows(table.data(), 4, 16, c.view(), p, {out.data(), 2, 16, 16});
    for (float v : out) EXPECT_EQ(v, 0.0f);
  }
}

TEST(Kernels, OutOfBoundRowsAreErrors) {
  const std::vector<float> table(4 * 8, 1.0f);
  std::vector<float> out(8);
  for (int64_t bad : {int64_t{4}, int64_t{-1}, int64_t{1} << 40}) {
    Case c;
    c.rows = {0, bad};
    c.offsets = {0, 2};
    EXPECT_THROW(kernels::pool_rows(table.data(), 4, 8, c.view(), Pooling::Sum, {out.data(), 1, 8, 8}), Error);
  }
  // A table of no rows or a negative count has no row to read (the unsigned first pass must
  // not let a negative count through as a huge one); the message names the first bad row.
  for (const int64_t num_rows : {int64_t{0}, int64_t{-1}}) {
    Case c;
    c.rows = {2, 0};
    c.offsets = {0, 2};
    try {
      kernels::pool_rows(table.data(), num_rows, 8, c.view(), Pooling::Sum, {out.data(), 1, 8, 8});
      FAIL() << num_rows << " rows: no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("row 2 out of range"), std::string::npos) << e.what();
    }
  }
}

// The row check's first pass keeps 16 running maxima and a tail: a bad row is found in any
// lane and in the tail, for batches shorter than, equal to and longer than the 16 lanes.
TEST(Kernels, RowCheckFindsABadRowAtEveryPosition) {
  for (const int64_t n : {1, 15, 16, 17, 40}) {
    std::vector<int64_t> rows(n);
    for (int64_t k = 0; k < n; ++k) rows[k] = k % 4;
    EXPECT_NO_THROW(kernels::check_rows_in_range(rows, 4, "test")) << n << " ids";
    for (int64_t p = 0; p < n; ++p) {
      for (const int64_t bad : {int64_t{4}, int64_t{-1}, int64_t{1} << 40}) {
        std::vector<int64_t> with_bad = rows;
        with_bad[p] = bad;
        try {
          kernels::check_rows_in_range(with_bad, 4, "test");
          ADD_FAILURE() << "row " << bad << " at " << p << " of " << n << ": no error";
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find(fmt::format("row {} out of range", bad)), std::string::npos) << e.what();
        }
      }
    }
  }
}

// The kernels' one-hot fast path: offsets exactly 0, 1, ..., n and no weights.
TEST(Kernels, OneIdPerBagOnlyForOffsetsZeroToN) {
  using V = std::vector<uint32_t>;
  const std::vector<float> none, weights = {1.0f, 1.0f};
  EXPECT_TRUE(one_id_per_bag(V{0}, none));
  EXPECT_TRUE(one_id_per_bag(V{0, 1, 2}, none));
  V long_ones(41);
  for (uint32_t b = 0; b < 41; ++b) long_ones[b] = b;
  EXPECT_TRUE(one_id_per_bag(long_ones, none));
  EXPECT_FALSE(one_id_per_bag(V{}, none));
  EXPECT_FALSE(one_id_per_bag(V{0, 1, 2}, weights));
  EXPECT_FALSE(one_id_per_bag(V{0, 2}, none));
  EXPECT_FALSE(one_id_per_bag(V{0, 1, 1, 3}, none));
  EXPECT_FALSE(one_id_per_bag(V{1, 2}, none));
  for (const uint32_t b : {uint32_t{1}, uint32_t{17}, uint32_t{40}}) {
    V off = long_ones;
    off[b] |= 0x80000000u;  // only the top bit differs
    EXPECT_FALSE(one_id_per_bag(off, none)) << "offset " << b;
  }
}

TEST(Kernels, StridedOutputLeavesGapsAlone) {
  Rng rng(5);
  const auto table = testing::random_vector(rng, 10 * 4);
  const Case c = testing::random_row_bags(rng, 3, 10, 2, false);
  std::vector<float> out(3 * 10, 7.0f);
  kernels::pool_rows(table.data(), 10, 4, c.view(), Pooling::Sum, {out.data() + 2, 3, 4, 10});
  for (int b = 0; b < 3; ++b) {
    for (int j : {0, 1, 6, 7, 8, 9}) EXPECT_EQ(out[b * 10 + j], 7.0f);
  }
}

TEST(Kernels, UpdatesFollowTheOptimizerRules) {
  const int64_t dim = 4;
  kernels::RowGradients g;
  g.rows = {1};
  g.grads = {0.5f, -1.0f, 2.0f, 0.0f};
  for (OptimizerKind kind : {OptimizerKind::Sgd, OptimizerKind::Adagrad, OptimizerKind::RowwiseAdagrad}) {
    std::vector<float> table(3 * dim, 1.0f);
    std::vector<float> state(optimizer_state_floats(kind, 3, dim), 0.25f);
    OptimizerConfig opt{kind, 1e-10f, 0.25f};
    kernels::apply_row_updates(table.data(), state.data(), 3, dim, g, opt, 0.1f);
    double row_state = 0.25;
    for (float v : g.grads) row_state += v * v / dim;
    for (int64_t j = 0; j < dim; ++j) {
      const double gj = g.grads[j];
      double expect = 1.0 - 0.1 * gj;
      if (kind == OptimizerKind::Adagrad) expect = 1.0 - 0.1 * gj / (std::sqrt(0.25 + gj * gj) + 1e-10);
      if (kind == OptimizerKind::RowwiseAdagrad) expect = 1.0 - 0.1 * gj / (std::sqrt(row_state) + 1e-10);
      EXPECT_NEAR(table[dim + j], expect, 1e-6) << optimizer_kind_name(kind) << " element " << j;
      EXPECT_EQ(table[j], 1.0f);  // untouched rows stay
    }
  }
}

// Row-wise Adagrad's rule to the bit (row_updates.cpp): squares by fmas into four running
// sums (element j into sum j % 4), folded (s0 + s2) + (s1 + s3), then the tail in order; the
// state gains sum / dim; w = fma(-lr / (sqrt(state) + eps), g, w). The squares below are
// 1, 2^-24, 0, 2^-24, so the fold gives 1 + 2^-23 where adding in order, or (s0 + s1) +
// (s2 + s3), gives 1: a loop that changed the order fails. Both row loops and the one the
// kernels use.
TEST(Kernels, RowwiseAdagradSumsSquaresInFourFoldedRunningSums) {
  const int64_t dim = 6;
  const float tiny = std::ldexp(1.0f, -12);
  kernels::RowGradients g;
  g.rows = {0};
  g.grads = {1.0f, tiny, 0.0f, tiny, 0.5f, 0.25f};
  const float lr = 0.1f, eps = 1e-8f;
  std::vector<float> sums(4, 0.0f);
  for (int64_t j = 0; j < 4; ++j) sums[j] = std::fma(g.grads[j], g.grads[j], sums[j]);
  float folded = (sums[0] + sums[2]) + (sums[1] + sums[3]);
  float in_order = ((sums[0] + sums[1]) + sums[2]) + sums[3];
  for (int64_t j = 4; j < dim; ++j) {
    folded = std::fma(g.grads[j], g.grads[j], folded);
    in_order = std::fma(g.grads[j], g.grads[j], in_order);
  }
  const float state = folded / static_cast<float>(dim);
  ASSERT_NE(state, in_order / static_cast<float>(dim));  // the inputs tell the orders apart
  const float step = lr / (std::sqrt(state) + eps);
  std::vector<float> want(dim);
  for (int64_t j = 0; j < dim; ++j) want[j] = std::fma(-step, g.grads[j], 1.0f);
  const OptimizerConfig opt{OptimizerKind::RowwiseAdagrad, eps, 0.0f};
  const std::pair<const char*, kernels::RowLoop> loops[] = {
      {"scalar", kernels::run_rows_scalar}, {"simd", kernels::run_rows_simd}, {"run_rows", kernels::run_rows}};
  for (const auto& [name, loop] : loops) {
    std::vector<float> table(dim, 1.0f), row_state(1, 0.0f);
    kernels::apply_row_updates_with(loop, table.data(), row_state.data(), 1, dim, g, opt, lr);
    EXPECT_EQ(row_state[0], state) << name << ": state " << row_state[0] << ", want " << state;
    for (int64_t j = 0; j < dim; ++j) {
      EXPECT_EQ(table[j], want[j]) << name << ": element " << j << " is " << table[j] << ", want " << want[j];
    }
  }
}

// The gradient kind leaves the weights and adds lr * g into its state, one float per weight:
// after two steps the state holds the sum of both (the gradient an outside optimizer reads).
TEST(Kernels, GradientKindAccumulatesIntoStateAndLeavesWeights) {
  const int64_t dim = 4;
  kernels::RowGradients g;
  g.rows = {0, 2};
  g.grads = {0.5f, -1.0f, 2.0f, 0.0f, 1.0f, 1.0f, 1.0f, -3.0f};
  const OptimizerConfig opt{OptimizerKind::Gradient};
  ASSERT_EQ(optimizer_state_floats(opt.kind, 3, dim), 3 * dim);
  std::vector<float> table(3 * dim, 1.0f), state(3 * dim, 0.0f);
  kernels::apply_row_updates(table.data(), state.data(), 3, dim, g, opt, 1.0f);
  kernels::apply_row_updates(table.data(), state.data(), 3, dim, g, opt, 0.5f);
  for (float w : table) EXPECT_EQ(w, 1.0f);
  for (int64_t j = 0; j < dim; ++j) {
    EXPECT_FLOAT_EQ(state[j], 1.5f * g.grads[j]);
    EXPECT_EQ(state[dim + j], 0.0f);
    EXPECT_FLOAT_EQ(state[2 * dim + j], 1.5f * g.grads[dim + j]);
  }
  EXPECT_THROW(parse_optimizer_kind("gradient"), Error);
  EXPECT_EQ(parse_optimizer_kind("gradient", true), OptimizerKind::Gradient);
}

}  // namespace
}  // namespace cembed
