// Embedding kernels: pooled gather (forward) and coalesced sparse update (backward).
//
// Both work on a row-major table of `dim` floats per row, after the caller has mapped
// every id of a bag batch to a table row (rows[k] for the k-th id). Semantics (the
// scalar reference below is the specification):
//
//   forward:  out.row(b) = scale_b * sum_{k=offsets[b]}^{offsets[b+1]-1} w_k * table[rows[k]]
//             w_k = weights[k] or 1; scale_b = 1 (sum) or 1/len(b) (mean; 0 for empty bags)
//   backward: g_r = sum over k with rows[k] == r of scale_b(k) * w_k * grad.row(b(k)),
//             then each distinct row r is updated once with g_r by the optimizer.
//
// Rows must lie in [0, num_rows): the kernels check and raise cembed::Error otherwise.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "cembed/bags.h"
#include "cembed/optimizer.h"
#include "cembed/weight_view.h"

namespace cembed::kernels {

// Raises cembed::Error naming `what` and the first of `rows` outside [0, num_rows); all in
// range costs one branch-free pass (no branch per row).
void check_rows_in_range(std::span<const int64_t> rows, int64_t num_rows, const char* what);

struct RowBags {
  std::span<const int64_t> rows;      // one table row per id
  std::span<const uint32_t> offsets;  // batch + 1
  std::span<const float> weights;     // empty or rows.size()
};

void pool_rows_reference(const float* table, int64_t num_rows, int64_t dim, const RowBags& bags, Pooling pooling,
                         MatrixView out);
void pool_rows(const float* table, int64_t num_rows, int64_t dim, const RowBags& bags, Pooling pooling, MatrixView out);
// The same from a block in any precision (an exported model's, read in place): each row is
// decoded as decode_block decodes it, then pooled by the same code, so the result equals
// pool_rows on the decoded table bit for bit (table.size / dim rows).
void pool_rows(const WeightView& table, int64_t dim, const RowBags& bags, Pooling pooling, MatrixView out);

// out.row(bags[k]) = src row k + 0.0f for k in [0, bags.size()), src being bags.size() packed
// rows of dim floats: a one-hot lookup's rows, looked up apart, moved to their bags (hot's
// two tables). The + 0.0f turns a -0 into +0, as pooling one id does.
void scatter_rows(const float* src, std::span<const uint32_t> bags, int64_t dim, MatrixView out);

// Pooled gather of vectors stored in pieces (the shared-array methods): id k's vector is
// ceil(dim / width) pieces, piece c being the min(width, dim - c * width) floats at
// array[starts[k * pieces + c]]. Same pooling as pool_rows; every piece must lie inside
// [0, array_size): the kernels check and raise cembed::Error otherwise.
struct PieceBags {
  std::span<const int64_t> starts;    // ids x pieces, in floats
  std::span<const uint32_t> offsets;  // batch + 1
  std::span<const float> weights;     // empty or one per id
};

void pool_pieces_reference(const float* array, int64_t array_size, int64_t dim, int64_t width, const PieceBags& bags,
                           Pooling pooling, MatrixView out);
void pool_pieces(const float* array, int64_t array_size, int64_t dim, int64_t width, const PieceBags& bags,
                 Pooling pooling, MatrixView out);
// The same from an array in any precision (array.size floats), as pool_rows above.
void pool_pieces(const WeightView& array, int64_t dim, int64_t width, const PieceBags& bags, Pooling pooling,
                 MatrixView out);

// Gradients summed per distinct row, rows in increasing order; grads is rows.size() x dim.
struct RowGradients {
  std::vector<int64_t> rows;
  std::vector<float> grads;
  std::vector<uint64_t> scratch;  // reused sort keys
};

void coalesce_gradients_reference(const RowBags& bags, Pooling pooling, ConstMatrixView grad, int64_t dim,
                                  RowGradients& out);
void coalesce_gradients(const RowBags& bags, Pooling pooling, ConstMatrixView grad, int64_t dim, RowGradients& out);

// Per-occurrence gradient for methods that compute a vector per id before pooling:
// out.row(k) = scale_b * w_k * grad.row(b) for the k-th id, in bag b (the gradient of the
// loss with respect to that id's vector). out is ids x dim.
void occurrence_gradients(std::span<const uint32_t> offsets, std::span<const float> weights, Pooling pooling,
                          ConstMatrixView grad, int64_t dim, MatrixView out);

// Applies one optimizer step to each row in `g` (the rules of optimizer.h). `state` holds the
// optimizer state laid out as optimizer_state_floats(kind, num_rows, dim) (null for SGD).
// The reference computes each rule in double precision, one row at a time. The optimized
// kernels (row_updates.cpp) round as written in that file: a * b + c is one FMA where the
// rule says so (std::fma), never by the compiler's choice.
void apply_row_updates_reference(float* table, float* state, int64_t num_rows, int64_t dim, const RowGradients& g,
                                 const OptimizerConfig& opt, float lr);
void apply_row_updates(float* table, float* state, int64_t num_rows, int64_t dim, const RowGradients& g,
                       const OptimizerConfig& opt, float lr);

// coalesce_gradients then apply_row_updates in one pass, with the same result bit for bit
// (each distinct row's gradient summed in input order, then one optimizer step on it), but
// without sorting: the distinct rows are found by hashing and updated in the order of their
// first occurrence (rows are independent, so the order of updates changes nothing). The
// rows and their optimizer state are prefetched for writing ahead of their update.
// (row_updates.cpp; scratch is reused from call to call.)
struct UpdateScratch {
  std::vector<uint32_t> slots;   // hash table: base + index into rows; below base: empty
  uint32_t base = 0;             // this batch's stamp (raised by the batch's ids after it)
  std::vector<int64_t> rows;     // distinct rows, in order of first occurrence
  std::vector<uint32_t> first;   // per distinct row: its first id
  std::vector<uint32_t> last;    // per distinct row: its last id
  std::vector<uint32_t> next;    // per id but a row's last: the next id of its row (input order)
  std::vector<uint32_t> bag_of;  // per id: its bag
  std::vector<float> scale_of;   // per id: its bag's scale times its weight
  std::vector<float> acc;        // one row's gradient (dims without a fixed-size kernel)
};

void coalesce_and_apply(const RowBags& bags, Pooling pooling, ConstMatrixView grad, int64_t dim, float* table,
                        float* state, int64_t num_rows, const OptimizerConfig& opt, float lr, UpdateScratch& scratch);

}  // namespace cembed::kernels
