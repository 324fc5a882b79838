// Optimizer steps on table rows: from coalesced gradients (apply_row_updates) or straight
// from a bag batch's gradient (coalesce_and_apply), and the double-precision reference.
//
// Rounding is spelled out: this file is compiled with -ffp-contract=off (CMakeLists.txt), so
// a * b + c is one FMA exactly where a rule below says std::fma, whatever the compiler or
// instruction set. The rules are those the kernels had when g++ contracted them (x86-64-v3):
// sgd w = fma(-lr, g, w); adagrad s = fma(g, g, s), w = w - lr * g / (sqrt(s) + eps);
// row-wise adagrad sq = sum of g * g by fmas into four running sums (rowwise_adagrad below;
// since session 13, before which it added rounded products in order), s = s + sq / dim,
// w = fma(-lr / (sqrt(s) + eps), g, w); gradient s = fma(lr, g, s); summing a row's
// gradients acc = fma(scale, g, acc) from +0, in input order.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "kernels/embedding_kernels.h"
#include "kernels/row_update_paths.h"
#include "util/check.h"

namespace cembed::kernels {
namespace {

// One optimizer step on one row. D > 0: rows of D floats (loops of known length); D == 0:
// `dim` floats.
template <OptimizerKind K, int D>
struct Step {
  static constexpr OptimizerKind kKind = K;
  static constexpr int kDim = D;
  float* table;
  float* state;
  int64_t dim;
  float lr, eps;

  int64_t width() const { return D > 0 ? D : dim; }

  void prefetch(int64_t r) const { prefetch_step<K>(table, state, r, width()); }

  void operator()(int64_t r, const float* g) const {
    const int64_t n = width();
    if constexpr (K == OptimizerKind::Sgd) {
      sgd(table + r * n, g, n, lr);
    } else if constexpr (K == OptimizerKind::Adagrad) {
      adagrad(table + r * n, state + r * n, g, n, lr, eps);
    } else if constexpr (K == OptimizerKind::RowwiseAdagrad) {
      rowwise_adagrad(table + r * n, state + r, g, n, lr, eps);
    } else {
      gradient(state + r * n, g, n, lr);
    }
  }

  // The rules on one row (restrict: the compiler may vectorize them).
  static void sgd(float* __restrict w, const float* __restrict g, int64_t n, float lr) {
    for (int64_t j = 0; j < n; ++j) w[j] = std::fma(-lr, g[j], w[j]);
  }
  static void adagrad(float* __restrict w, float* __restrict s, const float* __restrict g, int64_t n, float lr,
                      float eps) {
    for (int64_t j = 0; j < n; ++j) {
      s[j] = std::fma(g[j], g[j], s[j]);
      w[j] = w[j] - lr * g[j] / (std::sqrt(s[j]) + eps);
    }
  }
  static void rowwise_adagrad(float* __restrict w, float* __restrict s, const float* __restrict g, int64_t n, float lr,
                              float eps) {
    // Four running sums (element j into sum j % 4), folded (p0 + p2) + (p1 + p3), then the
    // n % 4 last elements in order: short dependency chains, and the order a 4-lane vector
    // gives on every target.
    const int64_t body = n - n % 4;
    float p0 = 0.0f, p1 = 0.0f, p2 = 0.0f, p3 = 0.0f;
    for (int64_t j = 0; j < body; j += 4) {
      p0 = std::fma(g[j], g[j], p0);
      p1 = std::fma(g[j + 1], g[j + 1], p1);
      p2 = std::fma(g[j + 2], g[j + 2], p2);
      p3 = std::fma(g[j + 3], g[j + 3], p3);
    }
    float sq = (p0 + p2) + (p1 + p3);
    for (int64_t j = body; j < n; ++j) sq = std::fma(g[j], g[j], sq);
    const float mean_square = *s + sq / static_cast<float>(n);
    *s = mean_square;
    const float step = lr / (std::sqrt(mean_square) + eps);
    for (int64_t j = 0; j < n; ++j) w[j] = std::fma(-step, g[j], w[j]);
  }
  static void gradient(float* __restrict s, const float* __restrict g, int64_t n, float lr) {
    for (int64_t j = 0; j < n; ++j) s[j] = std::fma(lr, g[j], s[j]);
  }
};

template <OptimizerKind K, class F>
void dispatch_dim(int64_t dim, float* table, float* state, float lr, float eps, F&& f) {
  switch (dim) {
    case 4:
      return f(Step<K, 4>{table, state, dim, lr, eps});
    case 8:
      return f(Step<K, 8>{table, state, dim, lr, eps});
    case 16:
      return f(Step<K, 16>{table, state, dim, lr, eps});
    case 32:
      return f(Step<K, 32>{table, state, dim, lr, eps});
    case 64:
      return f(Step<K, 64>{table, state, dim, lr, eps});
    case 128:
      return f(Step<K, 128>{table, state, dim, lr, eps});
    default:
      return f(Step<K, 0>{table, state, dim, lr, eps});
  }
}

// Calls f with the Step of the optimizer and dim (one switch per batch, not per row).
template <class F>
void dispatch(const OptimizerConfig& opt, int64_t dim, float* table, float* state, float lr, F&& f) {
  switch (opt.kind) {
    case OptimizerKind::Sgd:
      return dispatch_dim<OptimizerKind::Sgd>(dim, table, state, lr, opt.eps, f);
    case OptimizerKind::Adagrad:
      return dispatch_dim<OptimizerKind::Adagrad>(dim, table, state, lr, opt.eps, f);
    case OptimizerKind::RowwiseAdagrad:
      return dispatch_dim<OptimizerKind::RowwiseAdagrad>(dim, table, state, lr, opt.eps, f);
    case OptimizerKind::Gradient:
      return dispatch_dim<OptimizerKind::Gradient>(dim, table, state, lr, opt.eps, f);
  }
}

// acc += s * g, one rounding per element (a row's gradients summed in input order).
inline void accumulate(float* __restrict acc, const float* __restrict g, float s, int64_t n) {
  for (int64_t j = 0; j < n; ++j) acc[j] = std::fma(s, g[j], acc[j]);
}

// acc = the sum's first term, s * g accumulated into +0 (the same fma, the zeros in the
// instruction).
inline void first_term(float* __restrict acc, const float* __restrict g, float s, int64_t n) {
  for (int64_t j = 0; j < n; ++j) acc[j] = std::fma(s, g[j], 0.0f);
}

// Whether a row loop writes the first term over acc (first_term) rather than zeroing acc and
// accumulating it: from 32 floats, where g++ 12 zeroed acc with `rep stos`, a quarter of
// SGD's update at dim 64 (first_term: 2.27x on cached rows, 1.81x on rows that miss). Under
// 32 the zeroed acc stays in vector registers; first_term there let g++ split the row into
// scalars (SGD at dim 16 0.6-0.8x). docs/benchmarks.md, "Session 18".
template <int D>
inline constexpr bool kFirstTermOverAcc = D >= 32;

float bag_scale(Pooling pooling, int64_t len) {
  if (pooling == Pooling::Sum) return 1.0f;
  return len > 0 ? 1.0f / static_cast<float>(len) : 0.0f;
}

// Bag b holds exactly row b, weight 1.
bool one_per_bag(const RowBags& bags) {
  return bags.offsets.size() == bags.rows.size() + 1 && one_id_per_bag(bags.offsets, bags.weights);
}

// Finds the distinct rows in order of first occurrence (open addressing, Fibonacci hashing):
// scratch.rows[0, distinct), and each row's ids in input order as a chain (scratch.first,
// scratch.next, ending at scratch.last). Returns distinct. The table is at most a quarter full
// (8,192 slots, 32 KiB, for a batch of 2,048 ids): on rows that miss the caches the updates ran
// 1.15-1.21x as fast at dim 16 (1.06-1.16x at dim 64) as with it half full, whose longer probes
// (a dependent load and a branch each) were a quarter of Adagrad's time at dim 16
// (docs/benchmarks.md, "Session 16: Zen 5"). A slot holds base + its row's index, and a value
// under this batch's base is empty, so the table is cleared only when its size changes or the
// stamps would wrap, not per batch; and an id's next is written only when its row recurs
// (session 19).
int64_t find_distinct(std::span<const int64_t> rows, UpdateScratch& sc) {
  const auto n = static_cast<int64_t>(rows.size());
  int bits = 4;
  while ((int64_t{1} << bits) < 4 * n) ++bits;
  const uint64_t mask = (uint64_t{1} << bits) - 1;
  if (sc.slots.size() != (size_t{1} << bits) || sc.base == 0 || sc.base > UINT32_MAX - static_cast<uint64_t>(n)) {
    sc.slots.assign(size_t{1} << bits, 0);
    sc.base = 1;
  }
  sc.rows.resize(n);
  sc.first.resize(n);
  sc.last.resize(n);
  sc.next.resize(n);
  uint32_t* slots = sc.slots.data();
  const uint32_t base = sc.base;
  int64_t* distinct_rows = sc.rows.data();
  uint32_t* first = sc.first.data();
  uint32_t* last = sc.last.data();
  uint32_t* next = sc.next.data();
  uint32_t distinct = 0;
  for (int64_t k = 0; k < n; ++k) {
    const int64_t r = rows[k];
    const auto id = static_cast<uint32_t>(k);
    uint64_t h = (static_cast<uint64_t>(r) * 0x9E3779B97F4A7C15ull) >> (64 - bits);
    while (true) {
      const uint32_t e = slots[h] - base;  // wraps to >= distinct when the slot is empty
      if (e >= distinct) {
        slots[h] = base + distinct;
        distinct_rows[distinct] = r;
        first[distinct] = id;
        last[distinct++] = id;
        break;
      }
      if (distinct_rows[e] == r) {
        next[last[e]] = id;
        last[e] = id;
        break;
      }
      h = (h + 1) & mask;
    }
  }
  sc.base = base + static_cast<uint32_t>(n);  // every stamp written is under it
  return distinct;
}

bool cpu_is_intel() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();  // may run before the constructors that would otherwise set it up
  return __builtin_cpu_is("intel") != 0;
#else
  return false;  // __builtin_cpu_is exists on x86 only
#endif
}

}  // namespace

const bool kPrefetchEveryLine = cpu_is_intel();

void apply_row_updates_reference(float* table, float* state, int64_t num_rows, int64_t dim, const RowGradients& g,
                                 const OptimizerConfig& opt, float lr) {
  for (size_t i = 0; i < g.rows.size(); ++i) {
    const int64_t r = g.rows[i];
    CEMBED_CHECK(r >= 0 && r < num_rows, "embedding update: row {} out of range [0, {})", r, num_rows);
    float* w = table + r * dim;
    const float* gr = g.grads.data() + i * dim;
    if (opt.kind == OptimizerKind::Gradient) {
      for (int64_t j = 0; j < dim; ++j)
        state[r * dim + j] = static_cast<float>(state[r * dim + j] + double{lr} * gr[j]);
      continue;
    }
    if (opt.kind == OptimizerKind::RowwiseAdagrad) {
      double mean_square = 0;
      for (int64_t j = 0; j < dim; ++j) mean_square += double{gr[j]} * gr[j];
      state[r] = static_cast<float>(state[r] + mean_square / static_cast<double>(dim));
    }
    for (int64_t j = 0; j < dim; ++j) {
      double step = double{lr} * gr[j];
      if (opt.kind == OptimizerKind::Adagrad) {
        float& s = state[r * dim + j];
        s = static_cast<float>(s + double{gr[j]} * gr[j]);
        step /= std::sqrt(double{s}) + opt.eps;
      } else if (opt.kind == OptimizerKind::RowwiseAdagrad) {
        step /= std::sqrt(double{state[r]}) + opt.eps;
      }
      w[j] = static_cast<float>(w[j] - step);
    }
  }
}

void run_rows_scalar(const RowJob& job) {
  const OptimizerConfig opt{job.kind, job.eps};
  dispatch(opt, job.dim, job.table, job.state, job.lr, [&](const auto& step) {
    constexpr int D = std::remove_cvref_t<decltype(step)>::kDim;
    const int64_t width = D > 0 ? D : job.dim;
    const int64_t* rows = job.rows;
    const int64_t n = job.count;
    const int64_t ahead = update_rows_ahead<std::remove_cvref_t<decltype(step)>::kKind>(width);
    for (int64_t i = 0; i < std::min(ahead, n); ++i) step.prefetch(rows[i]);  // the first rows
    if (job.grads != nullptr) {
      for (int64_t i = 0; i < n; ++i) {
        if (i + ahead < n) step.prefetch(rows[i + ahead]);
        step(rows[i], job.grads + i * width);
      }
      return;
    }
    alignas(64) float fixed[D > 0 ? D : 1];
    float* acc = D > 0 ? fixed : job.acc;
    const RowJob j = job;  // locals: stores through acc cannot change them
    for (int64_t i = 0; i < n; ++i) {
      if (i + ahead < n) step.prefetch(rows[i + ahead]);
      if constexpr (!kFirstTermOverAcc<D>) {
        for (int64_t c = 0; c < width; ++c) acc[c] = 0.0f;
      }
      uint32_t k = j.first != nullptr ? j.first[i] : static_cast<uint32_t>(i);
      const uint32_t end = j.first != nullptr ? j.last[i] : k;
      bool first = kFirstTermOverAcc<D>;
      do {
        const float* g = j.grad_out + (j.bag_of != nullptr ? j.bag_of[k] : k) * j.grad_stride;
        const float scale = j.scale_of != nullptr ? j.scale_of[k] : 1.0f;
        if (first) {
          first_term(acc, g, scale, width);
          first = false;
        } else {
          accumulate(acc, g, scale, width);
        }
        if (k == end) break;
        k = j.next[k];
      } while (true);
      step(rows[i], acc);
    }
  });
}

// Highway's loop for row-wise Adagrad (its vector sums and updates ran 1.0-1.1x the scalar
// loop's rate at dim 16 and 2x at dim 64), for Adagrad from dim 16 (1.2-1.4x at dim 64,
// session 13; at dim 16 1.2x on AVX-512 and 1.0x on the AVX2 target, session 19, measured
// with the rows in huge pages as a table's are) and for SGD from dim 16 (session 20: g++ 12
// split the scalar loop's 16-float row into pieces of 8, 4, 2, 1 and 1 floats once the loop
// prefetched further ahead, 0.74x on cached rows; Highway's explicit vectors do not depend
// on what g++ makes of the loop around them); the scalar loop for the others
// (docs/benchmarks.md).
void run_rows(const RowJob& job) {
  const bool simd = job.kind == OptimizerKind::RowwiseAdagrad ||
                    ((job.kind == OptimizerKind::Adagrad || job.kind == OptimizerKind::Sgd) && job.dim >= 16);
  if (simd) return run_rows_simd(job);
  run_rows_scalar(job);
}

void apply_row_updates(float* table, float* state, int64_t num_rows, int64_t dim, const RowGradients& g,
                       const OptimizerConfig& opt, float lr) {
  apply_row_updates_with(run_rows, table, state, num_rows, dim, g, opt, lr);
}

void coalesce_and_apply(const RowBags& bags, Pooling pooling, ConstMatrixView grad, int64_t dim, float* table,
                        float* state, int64_t num_rows, const OptimizerConfig& opt, float lr, UpdateScratch& scratch) {
  coalesce_and_apply_with(run_rows, bags, pooling, grad, dim, table, state, num_rows, opt, lr, scratch);
}

void apply_row_updates_with(RowLoop run, float* table, float* state, int64_t num_rows, int64_t dim,
                            const RowGradients& g, const OptimizerConfig& opt, float lr) {
  check_rows_in_range(g.rows, num_rows, "embedding update");
  RowJob job{opt.kind, dim, table, state, lr, opt.eps};
  job.count = static_cast<int64_t>(g.rows.size());
  job.rows = g.rows.data();
  job.grads = g.grads.data();
  run(job);
}

void coalesce_and_apply_with(RowLoop run, const RowBags& bags, Pooling pooling, ConstMatrixView grad, int64_t dim,
                             float* table, float* state, int64_t num_rows, const OptimizerConfig& opt, float lr,
                             UpdateScratch& scratch) {
  const auto n = static_cast<int64_t>(bags.rows.size());
  const int64_t batch = static_cast<int64_t>(bags.offsets.size()) - 1;
  CEMBED_CHECK(n < (int64_t{1} << 31), "embedding kernel: {} ids in one batch (limit 2^31)", n);
  CEMBED_CHECK(bags.weights.empty() || bags.weights.size() == bags.rows.size(),
               "embedding kernel: {} weights for {} ids", bags.weights.size(), bags.rows.size());
  CEMBED_CHECK(batch >= 0 && bags.offsets.back() == bags.rows.size(),
               "embedding kernel: offsets end at {} but there are {} ids",
               bags.offsets.empty() ? 0 : bags.offsets.back(), bags.rows.size());
  check_rows_in_range(bags.rows, num_rows, "embedding update");
  UpdateScratch& sc = scratch;
  const int64_t distinct = find_distinct(bags.rows, sc);
  RowJob job{opt.kind, dim, table, state, lr, opt.eps};
  job.count = distinct;
  job.rows = sc.rows.data();
  if (distinct < n) {
    job.first = sc.first.data();
    job.last = sc.last.data();
    job.next = sc.next.data();
  }
  // Bag and scale of each id: id k in bag k with scale 1 when every bag holds one id.
  if (!one_per_bag(bags)) {
    sc.bag_of.resize(n);
    sc.scale_of.resize(n);
    for (int64_t b = 0; b < batch; ++b) {
      const float s = bag_scale(pooling, bags.offsets[b + 1] - bags.offsets[b]);
      for (uint32_t k = bags.offsets[b]; k < bags.offsets[b + 1]; ++k) {
        sc.bag_of[k] = static_cast<uint32_t>(b);
        sc.scale_of[k] = bags.weights.empty() ? s : s * bags.weights[k];
      }
    }
    job.bag_of = sc.bag_of.data();
    job.scale_of = sc.scale_of.data();
  }
  job.grad_out = grad.data;
  job.grad_stride = grad.stride;
  sc.acc.resize(dim);
  job.acc = sc.acc.data();
  run(job);
}

}  // namespace cembed::kernels
