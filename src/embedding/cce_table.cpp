// cce: clustered compositional embeddings (Tsang & Ahle, "Clustering the Sketch: Dynamic
// Compression for Embedding Tables", NeurIPS 2023). A value's dim floats are C column
// slices (dim split as concat splits it: widths differ by at most 1); slice j is the sum of
// two rows of two K-row tables of its width:
//
//   cce:rows=K[,cols=C][,every=S][,times=T][,seed=X]      C = 2, S = 100, T = 3 by default
//   e(v)_j = A_j[a_j(v)] + B_j[h_j(v)]
//
// a_j is a stored assignment (one row index per value: a seeded hash at first), h_j a
// seeded hash. After every S-th training step (backward call), at most T times, each column
// is reclustered: the current slices of all n values are clustered by k-means into K
// clusters (kmeans.h; seeded, the same for any thread count), A_j becomes the centroids,
// a_j the clusters, B_j zero, h_j a fresh hash, and both tables' optimizer state its initial
// value. Values whose learned vectors are close so come to share A_j's rows, and B_j learns
// again what the clustering lost. Before the first reclustering this is a compositional
// table of two hashes (QR with add, both parts hashed); with T = 0 it stays one.
//
// Memory: 2 * K * dim floats. Auxiliary bytes (saved with the table): the assignment, 4 * n
// * C, and two step counters, 16; an exported model's assignment is read in place from the
// file's mapping (load_serving_data), each row it gives checked below K at open. A clustering costs O(n * K * dim) (10
// Lloyd steps on at most 64 K of the values, then one assignment of all n; the distances in SIMD,
// kernels/nearest_centroids.h).
#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

#include "embedding/kmeans.h"
#include "embedding/parts_table.h"
#include "embedding/registry.h"
#include "util/check.h"
#include "util/fast_mod.h"
#include "util/random.h"

namespace cembed {
namespace {

constexpr uint64_t kDefaultSeed = 0x5eed;
constexpr int64_t kDefaultCols = 2, kDefaultEvery = 100, kDefaultTimes = 3;
constexpr int kIterations = 10;
constexpr int64_t kSamplePerCluster = 64;
constexpr uint64_t kAssignStream = 1, kHashStream = 2, kKMeansStream = 3;
constexpr size_t kAlign = 64;  // where an exported model's assignment starts
constexpr char kZeros[kAlign] = {};

struct CceConfig {
  int64_t rows = 0, cols = kDefaultCols, every = kDefaultEvery, times = kDefaultTimes;
  uint64_t seed = kDefaultSeed;
};

CceConfig cce_config(const Spec& spec, int64_t dim) {
  CceConfig c;
  c.rows = spec.get_int("rows", 0);
  c.cols = spec.get_int("cols", kDefaultCols);
  c.every = spec.get_int("every", kDefaultEvery);
  c.times = spec.get_int("times", kDefaultTimes);
  c.seed = static_cast<uint64_t>(spec.get_int("seed", static_cast<int64_t>(kDefaultSeed)));
  CEMBED_CHECK(c.cols >= 1 && c.cols <= 4 && c.cols <= dim, "bad spec '{}': cols must be in [1, {}], got {}",
               spec.str(), std::min<int64_t>(4, dim), c.cols);
  CEMBED_CHECK(c.every >= 1, "bad spec '{}': every must be at least 1 step, got {}", spec.str(), c.every);
  CEMBED_CHECK(c.times >= 0, "bad spec '{}': times must not be negative, got {}", spec.str(), c.times);
  return c;
}

int64_t column_width(int64_t dim, int64_t cols, int64_t j) { return dim / cols + (j < dim % cols ? 1 : 0); }

std::vector<PartsTable::Part> cce_parts(int64_t rows, int64_t dim, int64_t cols) {
  std::vector<PartsTable::Part> parts;
  for (int64_t j = 0; j < cols; ++j) {
    const int64_t w = column_width(dim, cols, j);
    parts.push_back({rows, w});  // A_j: rows by assignment
    parts.push_back({rows, w});  // B_j: rows by hash
  }
  return parts;
}

int64_t cce_bytes_for(int64_t rows, int64_t dim) { return 2 * rows * dim * static_cast<int64_t>(sizeof(float)); }

class CceTable final : public PartsTableOf<CceTable> {
 public:
  CceTable(const TableShape& shape, const Spec& spec, const CceConfig& c)
      : PartsTableOf(shape, cce_parts(c.rows, shape.dim, c.cols)), spec_(spec.str()), c_(c) {
    const int64_t n = num_values(0);
    assignment_.resize(static_cast<size_t>(n * c_.cols));
    for (int64_t j = 0; j < c_.cols; ++j) {
      const uint64_t s = mix64(derive_seed(c_.seed, kAssignStream, static_cast<uint64_t>(j)));
      for (int64_t v = 0; v < n; ++v) {
        assignment_[j * n + v] = static_cast<uint32_t>(mix64(static_cast<uint64_t>(v) ^ s) % c_.rows);
      }
    }
    assigned_ = assignment_;
    set_hash_seeds();
  }
  std::string spec() const override { return spec_; }
  std::string method() const override { return "cce"; }
  int64_t auxiliary_bytes() const override {
    return static_cast<int64_t>(assigned_.size_bytes()) + 2 * static_cast<int64_t>(sizeof(int64_t));
  }
  int64_t steps() const { return steps_; }
  int64_t clusterings() const { return clusterings_; }

  void backward(std::span<const BagBatch> bags, Pooling pooling, std::span<const ConstMatrixView> grad_out,
                float lr) override {
    PartsTable::backward(bags, pooling, grad_out, lr);
    ++steps_;
    if (clusterings_ < c_.times && steps_ % c_.every == 0) recluster();
  }

  void save(BinaryWriter& out) const override {
    PartsTable::save(out);
    save_assignment(out, false);
  }

  void load(BinaryReader& in) override {
    PartsTable::load(in);
    load_assignment(in, false);
  }

  // The schedule's position and the assignment: what serving needs besides the parameters,
  // the assignment read in place from the model's mapping.
  void save_serving_data(BinaryWriter& out) const override { save_assignment(out, true); }
  void load_serving_data(BinaryReader& in) override { load_assignment(in, true); }

  // Reclusters every column now (the schedule calls it; tests call it directly).
  void recluster() {
    CEMBED_CHECK(assigned_.data() == assignment_.data(), "{}: an exported model's table cannot be trained", spec_);
    const int64_t n = num_values(0);
    std::vector<float> slices;
    for (int64_t j = 0; j < c_.cols; ++j) {
      const int64_t w = part(static_cast<int>(2 * j)).width;
      const float* a = part_weights(static_cast<int>(2 * j));
      const float* b = part_weights(static_cast<int>(2 * j + 1));
      slices.resize(static_cast<size_t>(n * w));
      for (int64_t v = 0; v < n; ++v) {
        const float* ra = a + static_cast<int64_t>(assigned_[j * n + v]) * w;
        const float* rb = b + hashed_row(static_cast<Id>(v), j) * w;
        for (int64_t i = 0; i < w; ++i) slices[v * w + i] = ra[i] + rb[i];
      }
      const KMeansResult km = kmeans(
          slices, n, w, c_.rows, derive_seed(c_.seed, kKMeansStream, static_cast<uint64_t>(clusterings_ * c_.cols + j)),
          kIterations, kSamplePerCluster * c_.rows);
      std::span<float> wa = mutable_part_weights(static_cast<int>(2 * j));
      std::copy(km.centroids.begin(), km.centroids.end(), wa.begin());
      std::span<float> wb = mutable_part_weights(static_cast<int>(2 * j + 1));
      std::fill(wb.begin(), wb.end(), 0.0f);
      std::copy(km.assignment.begin(), km.assignment.end(), assignment_.begin() + j * n);
      reset_part_optimizer(static_cast<int>(2 * j));
      reset_part_optimizer(static_cast<int>(2 * j + 1));
    }
    ++clusterings_;
    set_hash_seeds();
  }

 private:
  friend class PartsTableOf<CceTable>;
  // i64 steps, i64 clusterings, u64 count, then the assignment: packed in a checkpoint
  // (copied); in an exported model (`mapped`) after zero padding to a 64-byte boundary of the
  // section, read in place from the mapping.
  void save_assignment(BinaryWriter& out, bool mapped) const {
    out.i64(steps_);
    out.i64(clusterings_);
    out.u64(assigned_.size());
    if (mapped) out.raw(kZeros, (kAlign - out.bytes().size() % kAlign) % kAlign);
    out.raw(assigned_.data(), assigned_.size_bytes());
  }

  void load_assignment(BinaryReader& in, bool mapped) {
    const int64_t steps = in.i64("cce steps"), clusterings = in.i64("cce clusterings");
    CEMBED_CHECK(steps >= 0 && clusterings >= 0 && clusterings <= c_.times, "{}: {}: {} steps, {} clusterings",
                 in.context(), spec_, steps, clusterings);
    const uint64_t count = in.u64("cce assignment");
    const auto expected = static_cast<uint64_t>(num_values(0) * c_.cols);
    CEMBED_CHECK(count == expected, "{}: {}: assignment of {} values in file, {} expected", in.context(), spec_, count,
                 expected);
    std::span<const uint32_t> a;
    std::vector<uint32_t> copy;
    if (mapped) {
      const size_t gap = (kAlign - in.position() % kAlign) % kAlign;
      const char* zeros = in.view(gap, "cce padding");
      for (size_t i = 0; i < gap; ++i) CEMBED_CHECK(zeros[i] == 0, "{}: {}: nonzero padding", in.context(), spec_);
      const char* p = in.view(count * sizeof(uint32_t), "cce assignment");
      CEMBED_CHECK(reinterpret_cast<uintptr_t>(p) % alignof(uint32_t) == 0, "{}: {}: assignment not aligned",
                   in.context(), spec_);
      a = {reinterpret_cast<const uint32_t*>(p), count};
    } else {
      copy.resize(count);
      in.raw_into(copy.data(), count * sizeof(uint32_t), "cce assignment");
      a = copy;
    }
    // Every row an assignment gives is below rows: a branch-free pass (it vectorizes), the
    // loop naming the value only on failure.
    const auto rows = static_cast<uint64_t>(c_.rows);
    uint32_t bad = 0;
    for (const uint32_t x : a) bad |= static_cast<uint32_t>(x >= rows);
    for (size_t i = 0; bad != 0 && i < a.size(); ++i) {
      CEMBED_CHECK(a[i] < rows, "{}: {}: assignment {} of value {} is not below rows {}", in.context(), spec_, a[i],
                   i % static_cast<size_t>(num_values(0)), c_.rows);
    }
    assignment_ = std::move(copy);  // empty when mapped
    assigned_ = mapped ? a : std::span<const uint32_t>(assignment_);
    steps_ = steps;
    clusterings_ = clusterings;
    set_hash_seeds();
  }

  void map_value(Id id, int64_t* rows) const {
    const int64_t n = num_values(0);
    for (int64_t j = 0; j < c_.cols; ++j) {
      rows[2 * j] = assigned_[j * n + id];
      rows[2 * j + 1] = hashed_row(id, j);
    }
  }
  // map_value for a batch, one column at a time, the remainder by multiplication (the same rows).
  void map_batch(std::span<const Id> ids, int64_t* const* rows) const override {
    const int64_t n = num_values(0);
    const auto count = static_cast<int64_t>(ids.size());
    constexpr int64_t kAhead = 16;  // the assignment is n floats per column: prefetch its reads
    for (int64_t j = 0; j < c_.cols; ++j) {
      const uint32_t* assigned = assigned_.data() + j * n;
      const uint64_t seed = hash_seeds_[j];
      int64_t* a = rows[2 * j];
      int64_t* h = rows[2 * j + 1];
      for (int64_t k = 0; k < count; ++k) {
        if (k + kAhead < count) __builtin_prefetch(assigned + ids[k + kAhead]);
        a[k] = assigned[ids[k]];
        h[k] = static_cast<int64_t>(mod_rows_(mix64(static_cast<uint64_t>(ids[k]) ^ seed)));
      }
    }
  }

  // combine for a batch, when every column has the same width W = D / cols.
  void combine_many(int64_t count, const int64_t* const* rows, float* out, int64_t stride) const {
    bool fixed = false;
    with_fixed_dim(dim(), [&](auto d) {
      constexpr int D = decltype(d)::value;
      if (c_.cols == 1) fixed = (add_rows<D, 1>(count, rows, out, stride), true);
      if (c_.cols == 2) fixed = (add_rows<D, 2>(count, rows, out, stride), true);
      if (c_.cols == 4 && D % 4 == 0) fixed = (add_rows<D, 4>(count, rows, out, stride), true);
    });
    if (!fixed) PartsTableOf::combine_many(count, rows, out, stride);
  }

  template <int D, int C>
  void add_rows(int64_t count, const int64_t* const* rows, float* out, int64_t stride) const {
    constexpr int W = D / C;
    const float* table[2 * C];
    for (int p = 0; p < 2 * C; ++p) table[p] = part_weights(p);
    for (int64_t k = 0; k < count; ++k) {
      if (k + kPrefetch < count) {
        for (int p = 0; p < 2 * C; ++p) __builtin_prefetch(table[p] + rows[p][k + kPrefetch] * W);
      }
      float* e = out + k * stride;
      for (int j = 0; j < C; ++j) {
        add_slices<W>(table[2 * j] + rows[2 * j][k] * W, table[2 * j + 1] + rows[2 * j + 1][k] * W, e + j * W);
      }
    }
  }
  // e = a + b over W floats. The output never overlaps the tables: with restrict the compiler
  // may keep the W floats in vector registers (written in place, the loop had stayed scalar,
  // one load, add and store per float).
  template <int W>
  static void add_slices(const float* __restrict a, const float* __restrict b, float* __restrict e) {
    for (int i = 0; i < W; ++i) e[i] = a[i] + b[i];
  }

  int64_t hashed_row(Id id, int64_t j) const {
    return static_cast<int64_t>(mix64(static_cast<uint64_t>(id) ^ hash_seeds_[j]) % static_cast<uint64_t>(c_.rows));
  }
  // B_j's hash is renewed at each clustering.
  void set_hash_seeds() {
    hash_seeds_.resize(c_.cols);
    for (int64_t j = 0; j < c_.cols; ++j) {
      hash_seeds_[j] = mix64(derive_seed(c_.seed, kHashStream, static_cast<uint64_t>(clusterings_ * c_.cols + j)));
    }
  }

 protected:
  // A and B uniform +-sqrt(1/(2n)): their sum has a full table's variance 1/(3n).
  void init_part(int j, Rng& rng, std::span<float> w) const override {
    const auto bound = static_cast<float>(std::sqrt(1.0 / (2.0 * static_cast<double>(num_values(0)))));
    for (float& x : w) x = rng.uniform(-bound, bound);
  }

  void combine(const float* const* row, float* e) const {
    for (int64_t j = 0; j < c_.cols; ++j) {
      const int64_t w = part(static_cast<int>(2 * j)).width;
      const float* a = row[2 * j];
      const float* b = row[2 * j + 1];
      for (int64_t i = 0; i < w; ++i) e[i] = a[i] + b[i];
      e += w;
    }
  }

  void part_gradients(const float* const* row, const float* g, float* const* grad) const {
    for (int64_t j = 0; j < c_.cols; ++j) {
      const int64_t w = part(static_cast<int>(2 * j)).width;
      std::copy(g, g + w, grad[2 * j]);
      std::copy(g, g + w, grad[2 * j + 1]);
      g += w;
    }
  }

 private:
  std::string spec_;
  CceConfig c_;
  std::vector<uint32_t> assignment_;    // column j's value v at j * n + v (empty when mapped)
  std::span<const uint32_t> assigned_;  // what lookups read: assignment_, or a model file's mapping
  std::vector<uint64_t> hash_seeds_;
  FastMod64 mod_rows_{static_cast<uint64_t>(c_.rows)};
  int64_t steps_ = 0, clusterings_ = 0;
};

}  // namespace

MethodEntry cce_method() {
  return {
      {"cce",
       "clustered compositional embeddings (CCE): per column, a row by a learned assignment plus a hashed row; the "
       "assignment is a k-means clustering of the values' vectors every `every` steps, `times` times",
       {"rows", "cols", "every", "times", "seed"},
       false},
      [](const Spec& spec, const TableShape& shape) -> EmbeddingTablePtr {
        const CceConfig c = cce_config(spec, shape.dim);
        CEMBED_CHECK(c.rows > 0, "bad spec '{}': rows must be positive", spec.str());
        return std::make_unique<CceTable>(shape, spec, c);
      },
      [](const Spec& spec, const TableShape& shape) { return cce_bytes_for(spec.get_int("rows", 0), shape.dim); },
      [](const Spec& spec, const TableShape& shape, int64_t budget) {
        cce_config(spec, shape.dim);
        const int64_t min = cce_bytes_for(1, shape.dim);
        CEMBED_CHECK(budget >= min, "cce needs at least {} bytes (one row of each table) at dim {}, budget is {}", min,
                     shape.dim, budget);
        Spec sized = spec;
        sized.set("rows", std::to_string(std::min(budget / min, shape.cardinalities.at(0))));
        return sized;
      },
      [](const Spec& spec) { return spec.has("rows"); },
      [](const Spec&, const TableShape& shape) { return cce_bytes_for(1, shape.dim); },
  };
}

}  // namespace cembed
