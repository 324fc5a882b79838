// Embedding-kernel throughput: pooled forward and fused backward+update, per method.
// Reports lookups/s (items_per_second) and bytes of rows touched per second.
//   build/release/bench/bench_embedding --benchmark_min_time=0.5
#include <benchmark/benchmark.h>
#include <immintrin.h>  // BM_SqrtDiv

#include <cstring>

#include "avx2_only.h"
#include "cembed/factory.h"
#include "cembed/signatures.h"
#include "kernels/linear_maps.h"
#include "kernels/nearest_centroids.h"
#include "kernels/prefetch_lines.h"
#include "kernels/row_update_paths.h"
#include "util/aligned_vector.h"
#include "util/fast_mod.h"
#include "util/random.h"

namespace {

using namespace cembed;

struct Setup {
  EmbeddingTablePtr table;
  std::vector<Id> ids;
  std::vector<uint32_t> offsets;
  std::vector<float> out, grad;
  // Batch b of the ones make_setup drew.
  BagBatch bags(int64_t b = 0) const {
    const auto batch = static_cast<int64_t>(offsets.size()) - 1;
    return {std::span(ids).subspan(b * batch, batch), offsets, {}};
  }
};

// The benchmarks' ids: `count` of them drawn uniformly from [0, n), the same in every
// benchmark (seed 2), so that batch b is the same batch in each.
std::vector<int64_t> uniform_rows(int64_t n, int64_t count) {
  std::vector<int64_t> rows(count);
  Rng rng(2);
  for (auto& r : rows) r = static_cast<int64_t>(rng.below(static_cast<uint64_t>(n)));
  return rows;
}

// One-hot batches of `batch` ids drawn uniformly from n values, `batches` of them one after
// the other (ids holds them all; offsets one batch's).
Setup make_setup(const std::string& spec, int64_t n, int64_t dim, int64_t batch, OptimizerKind opt,
                 int64_t batches = 1) {
  Setup s;
  s.table = make_table(spec, {dim, {n}});
  if (s.table->signature_kind()) {
    // LMA: random 16-bit minhashes stand in for signatures of real data (same lookup cost).
    ValueSignatures sig;
    sig.config.kind = *s.table->signature_kind();
    sig.offset = {0, n};
    Rng r(3);
    sig.minhash.resize(n * sig.config.num_hashes);
    for (auto& m : sig.minhash) m = static_cast<uint16_t>(r.next());
    sig.present.assign(n, 1);
    const int features[1] = {0};
    s.table->attach_signatures(sig, features);
  }
  s.table->init(1);
  s.table->set_optimizer({opt});
  for (int64_t r : uniform_rows(n, batch * batches)) s.ids.push_back(static_cast<Id>(r));
  for (int64_t i = 0; i <= batch; ++i) s.offsets.push_back(static_cast<uint32_t>(i));
  s.out.resize(batch * dim);
  s.grad.assign(batch * dim, 1e-3f);
  return s;
}

void report(benchmark::State& state, int64_t batch, int64_t dim) {
  state.SetItemsProcessed(state.iterations() * batch);
  state.SetBytesProcessed(state.iterations() * batch * dim * static_cast<int64_t>(sizeof(float)));
}

// Forward (or backward + update) over `batches` batches in turn, one per iteration.
void run_forward(benchmark::State& state, const std::string& spec, int64_t batches) {
  const int64_t n = state.range(0), dim = state.range(1), batch = 2048;
  Setup s = make_setup(spec, n, dim, batch, OptimizerKind::Sgd, batches);
  MatrixView out{s.out.data(), batch, dim, dim};
  int64_t b = 0;
  for (auto _ : state) {
    const BagBatch bags = s.bags(b);
    b = (b + 1) % batches;
    s.table->forward(std::span(&bags, 1), Pooling::Sum, std::span(&out, 1));
    benchmark::DoNotOptimize(s.out.data());
  }
  report(state, batch, dim);
}

void run_backward_update(benchmark::State& state, const std::string& spec, OptimizerKind opt, int64_t batches) {
  const int64_t n = state.range(0), dim = state.range(1), batch = 2048;
  Setup s = make_setup(spec, n, dim, batch, opt, batches);
  ConstMatrixView grad{s.grad.data(), batch, dim, dim};
  int64_t b = 0;
  for (auto _ : state) {
    const BagBatch bags = s.bags(b);
    b = (b + 1) % batches;
    s.table->backward(std::span(&bags, 1), Pooling::Sum, std::span(&grad, 1), 1e-3f);
  }
  report(state, batch, dim);
}

// BM_Forward and BM_BackwardUpdate: every iteration looks up the same batch: its 2,048 rows
// stay in cache from one iteration to the next (128 KB at dim 16), so the rates are those of
// cached rows.
void BM_BackwardUpdate(benchmark::State& state, std::string spec, OptimizerKind opt) {
  run_backward_update(state, spec, opt, 1);
}

// BM_ForwardStream and BM_BackwardUpdateStream: the same with a new batch each iteration, as
// in training: kStreamBatches batches in turn (512 x 2,048 ids, about 65 % of 1M rows), so
// most rows come from memory or L3, not L1/L2.
constexpr int64_t kStreamBatches = 512;

// The Stream benchmarks' rows outside a table (RowReadsStream, RowTrafficStream,
// RowLoopStream): the same uniform_rows draws as make_setup's kStreamBatches batches, handed
// out one batch per call, in turn.
class StreamRows {
 public:
  StreamRows(int64_t n, int64_t batch) : batch_(batch), rows_(uniform_rows(n, batch * kStreamBatches)) {}
  const int64_t* next() {
    const int64_t* r = rows_.data() + b_ * batch_;
    b_ = (b_ + 1) % kStreamBatches;
    return r;
  }

 private:
  int64_t batch_, b_ = 0;
  std::vector<int64_t> rows_;
};

void BM_BackwardUpdateStream(benchmark::State& state, std::string spec, OptimizerKind opt) {
  run_backward_update(state, spec, opt, kStreamBatches);
}

// How BM_RowTrafficStream prefetches a row: as the row loops do on this CPU
// (kernels::prefetch_for_update), its first line into L1 for writing (the row loops before
// session 15, and on CPUs other than Intel's since session 16), or its every line into the
// outer caches (the row loops on Intel since session 15 for rows longer than one line; at
// dim 16 it puts the one line into L2, which no row loop does).
enum class RowPrefetch { AsRowLoops, FirstLine, EveryLine };

// The machine's random row-read rate, the floor under a full table's forward on rows that miss:
// ForwardStream's ids (the same draws), each id's row of an n x dim array (on huge pages, as a
// table's) copied into a batch of outputs, every line of the row prefetched `ahead` ids ahead,
// and nothing else: no id check, no table. Args: n, dim, ahead.
void BM_RowReadsStream(benchmark::State& state) {
  const int64_t n = state.range(0), dim = state.range(1), ahead = state.range(2), batch = 2048;
  AlignedVector<float> table(n * dim, 0.01f);
  std::vector<float> out(batch * dim);
  StreamRows rows(n, batch);
  for (auto _ : state) {
    const int64_t* r = rows.next();
    for (int64_t i = 0; i < batch; ++i) {
      if (i + ahead < batch) {
        const float* next = table.data() + r[i + ahead] * dim;
        kernels::prefetch_lines<0, 3>(next, next + dim - 1);
      }
      std::memcpy(out.data() + i * dim, table.data() + r[i] * dim, dim * sizeof(float));
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_RowReadsStream)
    ->Args({1000000, 16, 16})
    ->Args({1000000, 16, 32})
    ->Args({1000000, 16, 64})
    ->Args({1000000, 16, 128})
    ->Args({1000000, 64, 8})
    ->Args({1000000, 64, 16})
    ->Args({1000000, 64, 32});

// Hashing the forward batch's ids as hash tables do (mix64 of the id and the seed's mix, then
// FastMod64 into 62,500 rows), into a batch of rows, and nothing else: what a hashed lookup
// adds to a full table's. On cached rows it costs about as much as full's whole lookup, so a
// method that hashes each id cannot come within 2x of full there (docs/benchmarks.md,
// "Session 18").
void BM_IdHashes(benchmark::State& state) {
  const int64_t batch = 2048;
  const std::vector<int64_t> drawn = uniform_rows(state.range(0), batch);
  const std::vector<Id> ids(drawn.begin(), drawn.end());
  std::vector<int64_t> rows(batch);
  const uint64_t key = mix64(0x5eed);
  const FastMod64 mod(62500);
  for (auto _ : state) {
    for (int64_t k = 0; k < batch; ++k) rows[k] = static_cast<int64_t>(mod(mix64(ids[k] ^ key)));
    benchmark::DoNotOptimize(rows.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_IdHashes)->Arg(1000000);

// The memory traffic of a row update alone, on BackwardUpdateStream's batches (the same ids):
// each id's row of `arrays` arrays of n x dim floats (1: SGD's table; 2: Adagrad's table and
// state) is read and written back, prefetched as `how` says, with one addition per float and
// nothing else (no coalescing, no optimizer). The rate a backward + update with that traffic
// can reach on this machine (docs/benchmarks.md, "Session 15").
void BM_RowTrafficStream(benchmark::State& state, int arrays, RowPrefetch how) {
  const int64_t n = state.range(0), dim = state.range(1), batch = 2048;
  std::vector<AlignedVector<float>> data(arrays, AlignedVector<float>(n * dim, 0.01f));
  StreamRows rows(n, batch);
  // As far ahead as the row loops: their rule for `arrays` rows of dim floats (without their
  // prefetch of the first rows before the loop).
  const int64_t rows_ahead = kernels::rows_ahead(arrays * kernels::lines_of(dim * static_cast<int64_t>(sizeof(float))));
  for (auto _ : state) {
    const int64_t* r = rows.next();
    for (int64_t i = 0; i < batch; ++i) {
      for (auto& a : data) {
        if (i + rows_ahead < batch) {
          const float* ahead = a.data() + r[i + rows_ahead] * dim;
          if (how == RowPrefetch::AsRowLoops) {
            kernels::prefetch_for_update(ahead, dim);
          } else if (how == RowPrefetch::FirstLine) {
            __builtin_prefetch(ahead, 1, 3);
          } else {
            kernels::prefetch_lines<0, 1>(ahead, ahead + dim - 1);
          }
        }
        float* w = a.data() + r[i] * dim;
        for (int64_t j = 0; j < dim; ++j) w[j] += 1e-3f;
      }
    }
    benchmark::ClobberMemory();
  }
  report(state, batch, dim);
}
BENCHMARK_CAPTURE(BM_RowTrafficStream, table, 1, RowPrefetch::AsRowLoops)->Args({1000000, 16})->Args({1000000, 64});
BENCHMARK_CAPTURE(BM_RowTrafficStream, table_and_state, 2, RowPrefetch::AsRowLoops)
    ->Args({1000000, 16})
    ->Args({1000000, 64});
BENCHMARK_CAPTURE(BM_RowTrafficStream, table_and_state_first_lines, 2, RowPrefetch::FirstLine)
    ->Args({1000000, 16})
    ->Args({1000000, 64});
BENCHMARK_CAPTURE(BM_RowTrafficStream, table_and_state_every_line, 2, RowPrefetch::EveryLine)
    ->Args({1000000, 16})
    ->Args({1000000, 64});

// The fused backward + update of a full table with the scalar or the Highway row loop (the
// same bits): A/B in one process, interleaved with the rest. The table and state are in huge
// pages, as a table's are (before session 19 they were not: the rows' TLB misses then hid
// the loops' own difference at dim 16).
// avx2: the Highway loop on its AVX2 target alone (as Zen 3 runs it).
void BM_RowLoop(benchmark::State& state, kernels::RowLoop run, OptimizerKind kind, bool avx2 = false) {
  const int64_t n = state.range(0), dim = state.range(1), batch = 2048;
  const Avx2Only target(avx2);
  AlignedVector<float> table(n * dim, 0.01f), opt_state(optimizer_state_floats(kind, n, dim), 0.0f);
  const std::vector<float> grad(batch * dim, 1e-3f);
  const std::vector<int64_t> rows = uniform_rows(n, batch);
  std::vector<uint32_t> offsets;
  for (int64_t i = 0; i <= batch; ++i) offsets.push_back(static_cast<uint32_t>(i));
  const kernels::RowBags bags{rows, offsets, {}};
  kernels::UpdateScratch scratch;
  for (auto _ : state) {
    kernels::coalesce_and_apply_with(run, bags, Pooling::Sum, {grad.data(), batch, dim, dim}, dim, table.data(),
                                     opt_state.data(), n, {kind}, 1e-3f, scratch);
  }
  report(state, batch, dim);
}

BENCHMARK_CAPTURE(BM_RowLoop, scalar_adagrad, kernels::run_rows_scalar, OptimizerKind::Adagrad)
    ->Args({1000000, 16})
    ->Args({1000000, 64});
BENCHMARK_CAPTURE(BM_RowLoop, simd_adagrad, kernels::run_rows_simd, OptimizerKind::Adagrad)
    ->Args({1000000, 16})
    ->Args({1000000, 64})
    ->Args({1000000, 128});
BENCHMARK_CAPTURE(BM_RowLoop, simd_avx2_adagrad, kernels::run_rows_simd, OptimizerKind::Adagrad, true)
    ->Args({1000000, 16})
    ->Args({1000000, 64});
BENCHMARK_CAPTURE(BM_RowLoop, scalar_rowwise_adagrad, kernels::run_rows_scalar, OptimizerKind::RowwiseAdagrad)
    ->Args({1000000, 16})
    ->Args({1000000, 64});
BENCHMARK_CAPTURE(BM_RowLoop, simd_rowwise_adagrad, kernels::run_rows_simd, OptimizerKind::RowwiseAdagrad)
    ->Args({1000000, 16})
    ->Args({1000000, 64})
    ->Args({1000000, 128});
BENCHMARK_CAPTURE(BM_RowLoop, scalar_sgd, kernels::run_rows_scalar, OptimizerKind::Sgd)->Args({1000000, 16});
BENCHMARK_CAPTURE(BM_RowLoop, simd_sgd, kernels::run_rows_simd, OptimizerKind::Sgd)->Args({1000000, 16});

// An optimizer's rule alone on cached rows: apply_row_updates on 2,048 rows already coalesced
// (rows 0 to 2,047 of the table, one after the other, so they stay in L1/L2 and share TLB
// entries; each with its own gradient), with the loop run_rows picks. The row check and no
// search for the batch's distinct rows, no gather: the most a cached backward + update with
// this rule can reach (docs/benchmarks.md, "Session 19"). Items are rows.
void BM_RowRule(benchmark::State& state, OptimizerKind kind) {
  const int64_t dim = state.range(0), batch = 2048;
  AlignedVector<float> table(batch * dim, 0.01f), opt_state(optimizer_state_floats(kind, batch, dim), 0.0f);
  kernels::RowGradients g;
  for (int64_t r = 0; r < batch; ++r) g.rows.push_back(r);
  g.grads.assign(batch * dim, 1e-3f);
  for (auto _ : state) {
    kernels::apply_row_updates(table.data(), opt_state.data(), batch, dim, g, {kind}, 1e-3f);
    benchmark::ClobberMemory();
  }
  report(state, batch, dim);
}
BENCHMARK_CAPTURE(BM_RowRule, sgd, OptimizerKind::Sgd)->Arg(16)->Arg(64);
BENCHMARK_CAPTURE(BM_RowRule, adagrad, OptimizerKind::Adagrad)->Arg(16)->Arg(64);
BENCHMARK_CAPTURE(BM_RowRule, rowwise_adagrad, OptimizerKind::RowwiseAdagrad)->Arg(16)->Arg(64);

// The same on BackwardUpdateStream's batches (a new batch each iteration: rows that miss),
// the table and state in huge pages as a table's are.
void BM_RowLoopStream(benchmark::State& state, kernels::RowLoop run, OptimizerKind kind) {
  const int64_t n = state.range(0), dim = state.range(1), batch = 2048;
  AlignedVector<float> table(n * dim, 0.01f), opt_state(optimizer_state_floats(kind, n, dim), 0.0f);
  const std::vector<float> grad(batch * dim, 1e-3f);
  StreamRows rows(n, batch);
  std::vector<uint32_t> offsets;
  for (int64_t i = 0; i <= batch; ++i) offsets.push_back(static_cast<uint32_t>(i));
  kernels::UpdateScratch scratch;
  for (auto _ : state) {
    const kernels::RowBags bags{{rows.next(), static_cast<size_t>(batch)}, offsets, {}};
    kernels::coalesce_and_apply_with(run, bags, Pooling::Sum, {grad.data(), batch, dim, dim}, dim, table.data(),
                                     opt_state.data(), n, {kind}, 1e-3f, scratch);
  }
  report(state, batch, dim);
}
BENCHMARK_CAPTURE(BM_RowLoopStream, scalar_adagrad, kernels::run_rows_scalar, OptimizerKind::Adagrad)
    ->Args({1000000, 16})
    ->Args({1000000, 64});
BENCHMARK_CAPTURE(BM_RowLoopStream, simd_adagrad, kernels::run_rows_simd, OptimizerKind::Adagrad)
    ->Args({1000000, 16})
    ->Args({1000000, 64})
    ->Args({1000000, 128});

// cce's reclustering: the nearest of k centroids (width 8: one of dim 16's two columns) for
// 4096 points, the scalar reference point by point or the Highway kernel (the same indices):
// A/B in one process. Items are point-centroid distances.
void BM_NearestCentroids(benchmark::State& state, bool simd) {
  const int64_t k = state.range(0), width = state.range(1), count = 4096;
  Rng rng(7);
  std::vector<float> points(count * width), centroids(k * width), centroids_t(k * width);
  for (auto& x : points) x = rng.uniform(-1, 1);
  for (auto& x : centroids) x = rng.uniform(-1, 1);
  kernels::transpose(centroids.data(), k, width, centroids_t.data());
  std::vector<uint32_t> out(count);
  for (auto _ : state) {
    if (simd) {
      kernels::nearest_centroids({count, width, k, points.data(), nullptr, centroids_t.data(), out.data()});
    } else {
      for (int64_t i = 0; i < count; ++i) {
        out[i] = kernels::nearest_centroid(points.data() + i * width, centroids.data(), k, width);
      }
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * count * k);
}
BENCHMARK_CAPTURE(BM_NearestCentroids, scalar, false)->Args({4000, 8})->Args({4000, 16});
BENCHMARK_CAPTURE(BM_NearestCentroids, simd, true)->Args({4000, 8})->Args({4000, 16});

// The floor under the methods that read scattered floats (robe and lma at Z=1, md, memcom's
// weights, cce's assignment): independent reads of one float at uniform random places in an
// array of `floats` floats (4 MB for 1M: the shared arrays at 16x; 64 MB for 16M: a full table),
// summed so that none is optimized away. Items are reads.
void BM_RandomFloatReads(benchmark::State& state) {
  const int64_t floats = state.range(0), reads = 2048 * 16;
  std::vector<float> array(floats, 1.0f);
  std::vector<uint32_t> at(reads);
  Rng rng(5);
  for (auto& a : at) a = static_cast<uint32_t>(rng.below(static_cast<uint64_t>(floats)));
  for (auto _ : state) {
    float sum = 0.0f;
    for (int64_t k = 0; k < reads; ++k) sum += array[at[k]];
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * reads);
}
BENCHMARK(BM_RandomFloatReads)->Arg(1000000)->Arg(16000000);

// The divider alone: Adagrad's rule takes a square root and a division per element (row-wise
// Adagrad one of each per row), which Zen 5 runs on one unit at the same cost a pair whatever
// the width (docs/benchmarks.md, "Session 20"). Each item is one square root then one
// division, x = b / (sqrt(x) + e), over a vector of 16 floats (AVX-512), 8 (AVX2) or one
// float, in 8 independent chains: the most such pairs the CPU runs in a second. Adagrad at
// dim 16 needs one 16-float pair (or two 8-float pairs) per row. One function per width: a
// target attribute does not reach into a template.
constexpr int64_t kSqrtDivRounds = 256;
#define CEMBED_SQRT_DIV_LOOP(V, SET, SQRT, ADD, DIV) \
  const V b = SET(1.0001f), e = SET(1e-8f);          \
  V x[8];                                            \
  for (auto& v : x) v = b;                           \
  for (auto _ : state) {                             \
    for (int64_t r = 0; r < kSqrtDivRounds; ++r) {   \
      for (auto& v : x) v = DIV(b, ADD(SQRT(v), e)); \
    }                                                \
    benchmark::DoNotOptimize(x);                     \
  }                                                  \
  state.SetItemsProcessed(state.iterations() * kSqrtDivRounds * 8);
// g++ 12's _mm512_sqrt_ps passes an unset vector as its unused merge source (a false warning).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
__attribute__((target("avx512f"))) void sqrt_div_16(benchmark::State& state) {
  CEMBED_SQRT_DIV_LOOP(__m512, _mm512_set1_ps, _mm512_sqrt_ps, _mm512_add_ps, _mm512_div_ps)
}
#pragma GCC diagnostic pop
void sqrt_div_8(benchmark::State& state) {
  CEMBED_SQRT_DIV_LOOP(__m256, _mm256_set1_ps, _mm256_sqrt_ps, _mm256_add_ps, _mm256_div_ps)
}
void sqrt_div_1(benchmark::State& state) {
  CEMBED_SQRT_DIV_LOOP(__m128, _mm_set_ss, _mm_sqrt_ss, _mm_add_ss, _mm_div_ss)
}
#undef CEMBED_SQRT_DIV_LOOP
void BM_SqrtDiv(benchmark::State& state) {
  switch (state.range(0)) {
    case 16:
      if (!__builtin_cpu_supports("avx512f")) return state.SkipWithError("no AVX-512 on this CPU");
      return sqrt_div_16(state);
    case 8:
      return sqrt_div_8(state);
    default:
      return sqrt_div_1(state);
  }
}
BENCHMARK(BM_SqrtDiv)->Arg(16)->Arg(8)->Arg(1);

// n = 1M values (DLRM's benchmark table size), dim 16 and 64.
#define SHAPES ->Args({1000000, 16})->Args({1000000, 64})

// Every method's lookup as BM_Forward (cached rows) and BM_ForwardStream (rows that miss), at
// dim 16 and, where `dim64`, at dim 64 too: the issue-18 comparison of each method against a
// full table.
struct ForwardCase {
  const char* name;
  const char* spec;
  bool dim64;
};
constexpr ForwardCase kForwardCases[] = {
    {"full", "full", true},
    {"hash_16x", "hash:rows=62500", true},
    // Compositional and MEmCom at about 16x (8x for memcom: its n weights cap it below dim).
    {"qr_mult_16x", "qr:collisions=16", true},
    {"qr_add_16x", "qr:collisions=16,op=add", true},
    {"qr_concat_16x", "qr:collisions=16,op=concat", true},
    {"cp_crt3_16x", "cp:kind=crt,parts=3,collisions=16", true},
    {"path_16x", "path:maps=16", true},
    {"memcom_8x", "memcom:rows=62500", true},
    // One shared array at 16x (1M floats for 1M values x 16): fits in L2/L3.
    {"robe_z16_16x", "robe:size=1000000,block=16", false},
    {"robe_z8_16x", "robe:size=1000000,block=8", false},
    {"robe_z1_16x", "robe:size=1000000,block=1", false},
    {"lma_z16_k2_16x", "lma:size=1000000,block=16,k=2", false},
    {"lma_z8_k2_16x", "lma:size=1000000,block=8,k=2", false},
    {"lma_z8_k1_16x", "lma:size=1000000,block=8,k=1", false},
    {"lma_z1_k2_16x", "lma:size=1000000,block=1,k=2", false},
    {"md_16x", "md:dim=1", false},
    // cce at 16x: 2 columns of 2 tables of 31,250 rows (2 * K * dim floats), before any reclustering.
    {"cce_16x", "cce:rows=31250", false},
    // hot at 16x: 31,250 hot rows (ids 1..31,250, 3% of uniform ids) and a qr cold table of the other half.
    {"hot_qr_16x", "hot:rows=31250,cold=qr,cold.collisions=32", false},
};
const bool kForwardRegistered = [] {
  for (const auto& run : {std::pair{"BM_Forward/", int64_t{1}}, {"BM_ForwardStream/", kStreamBatches}}) {
    const int64_t batches = run.second;
    for (const ForwardCase& c : kForwardCases) {
      auto* b = benchmark::RegisterBenchmark(
          (std::string(run.first) + c.name).c_str(),
          [spec = std::string(c.spec), batches](benchmark::State& state) { run_forward(state, spec, batches); });
      b->Args({1000000, 16});
      if (c.dim64) b->Args({1000000, 64});
    }
  }
  return true;
}();

BENCHMARK_CAPTURE(BM_BackwardUpdate, full_sgd, std::string("full"), OptimizerKind::Sgd) SHAPES;
BENCHMARK_CAPTURE(BM_BackwardUpdate, full_adagrad, std::string("full"), OptimizerKind::Adagrad) SHAPES;
BENCHMARK_CAPTURE(BM_BackwardUpdate, full_rowwise_adagrad, std::string("full"), OptimizerKind::RowwiseAdagrad) SHAPES;
BENCHMARK_CAPTURE(BM_BackwardUpdateStream, full_sgd, std::string("full"), OptimizerKind::Sgd) SHAPES;
BENCHMARK_CAPTURE(BM_BackwardUpdateStream, full_adagrad, std::string("full"), OptimizerKind::Adagrad) SHAPES;
BENCHMARK_CAPTURE(BM_BackwardUpdateStream, full_rowwise_adagrad, std::string("full"), OptimizerKind::RowwiseAdagrad)
SHAPES;
BENCHMARK_CAPTURE(BM_BackwardUpdate, hash_16x_sgd, std::string("hash:rows=62500"), OptimizerKind::Sgd) SHAPES;
BENCHMARK_CAPTURE(BM_BackwardUpdate, qr_mult_16x_adagrad, std::string("qr:collisions=16"), OptimizerKind::Adagrad)
SHAPES;
BENCHMARK_CAPTURE(BM_BackwardUpdate, path_16x_adagrad, std::string("path:maps=16"), OptimizerKind::Adagrad) SHAPES;
BENCHMARK_CAPTURE(BM_BackwardUpdate, robe_z8_16x_adagrad, std::string("robe:size=1000000,block=8"),
                  OptimizerKind::Adagrad)
    ->Args({1000000, 16});
BENCHMARK_CAPTURE(BM_BackwardUpdate, lma_z8_16x_adagrad, std::string("lma:size=1000000,block=8"),
                  OptimizerKind::Adagrad)
    ->Args({1000000, 16});
BENCHMARK_CAPTURE(BM_BackwardUpdate, memcom_8x_adagrad, std::string("memcom:rows=62500"), OptimizerKind::Adagrad)
SHAPES;

}  // namespace

BENCHMARK_MAIN();
