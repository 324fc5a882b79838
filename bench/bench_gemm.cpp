// The dense layers' GEMM: kernels::gemm (shape-sized blocks of cembed's own GEMM, the same
// bits for any thread count and CPU) against the same blocks through single-threaded OpenBLAS
// calls (cembed's GEMM before; its bits depend on OpenBLAS's kernel) and one OpenBLAS call
// threaded by OpenBLAS itself (before that; its bits depend on the thread count), on the shapes of
// DLRM's Criteo model at batch 128 and 2048, in the same process, and the bf16 GEMM of
// --dense-precision bf16 (kernels::gemm_bf16, rounding included) on the same shapes.
// GFLOP/s per shape (the bf16 figure counts the same FLOPs).
//
//   build/release/bench/bench_gemm --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
//       --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <omp.h>

#include <vector>

#include "avx2_only.h"
#include "kernels/dense_kernels.h"
#include "kernels/gemm_bf16.h"

namespace {

constexpr int kThreads = 2;

// One single-threaded OpenBLAS call: cembed's GEMM block before its own (in the shape-only
// blocks of gemm_blocks). OpenBLAS's OpenMP build runs a call made outside a parallel region
// on omp_get_max_threads() threads, so such a call lowers this thread's count to 1 for it.
void openblas_block(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                    int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  const int saved = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (saved > 1) omp_set_num_threads(1);
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha, a,
              static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
  if (saved > 1) omp_set_num_threads(saved);
}

// DLRM Criteo layers: (in, out) of the bottom 13-512-256-64-16 and top 367-512-256-1 MLPs.
// Each layer runs three GEMMs per step: forward (B x out), weight gradient (out x in, k = B),
// input gradient (B x in).
struct Layer {
  int64_t in, out;
};
const Layer kLayers[] = {{13, 512}, {512, 256}, {256, 64}, {64, 16}, {367, 512}, {512, 256}, {256, 1}};

enum class Gemm { Blocked, BlockedAvx2, OpenblasBlocks, OpenblasThreads, Bf16 };

template <Gemm Kind>
void BM_DlrmStepGemms(benchmark::State& state) {
  const int64_t batch = state.range(0);
  std::vector<float> x(batch * 1024, 0.5f), w(1024 * 1024, 0.25f), y(batch * 1024), dw(1024 * 1024);
  cembed::kernels::set_num_threads(kThreads);
  if (Kind == Gemm::Bf16) state.SetLabel(cembed::kernels::bf16_path_name());
  const Avx2Only avx2(Kind == Gemm::BlockedAvx2);  // kernels::gemm as Zen 3 runs it
  auto gemm = [&](bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
                  int64_t ldb, float* c, int64_t ldc) {
    if (Kind == Gemm::Blocked || Kind == Gemm::BlockedAvx2) {
      cembed::kernels::gemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
    } else if (Kind == Gemm::OpenblasBlocks) {
      cembed::kernels::gemm_with(openblas_block, cembed::kernels::gemm_blocks(m, n), ta, tb, m, n, k, 1.0f, a, lda, b,
                                 ldb, 0.0f, c, ldc);
    } else if (Kind == Gemm::Bf16) {
      cembed::kernels::gemm_bf16(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
    } else {
      cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a, lda,
                  b, ldb, 0.0f, c, ldc);
    }
  };
  double flops = 0;
  for (const auto& l : kLayers) flops += 3.0 * 2.0 * batch * l.in * l.out;
  for (auto _ : state) {
    for (const auto& l : kLayers) {
      gemm(false, true, batch, l.out, l.in, x.data(), l.in, w.data(), l.in, y.data(), l.out);
      gemm(true, false, l.out, l.in, batch, y.data(), l.out, x.data(), l.in, dw.data(), l.in);
      gemm(false, false, batch, l.in, l.out, y.data(), l.out, w.data(), l.in, x.data(), l.in);
    }
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// The machine's GEMM peak, as bench/dlrm_vs_torch.py divides by it: large square products
// (1024 and 2048), through kernels::gemm and through one OpenBLAS call on its own threads.
template <bool Blocked>
void BM_SquarePeak(benchmark::State& state) {
  const int64_t n = state.range(0);
  std::vector<float> a(n * n, 0.5f), b(n * n, 0.25f), c(n * n);
  cembed::kernels::set_num_threads(kThreads);
  for (auto _ : state) {
    if (Blocked) {
      cembed::kernels::gemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    } else {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(),
                  n);
    }
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * n * n * n * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK_TEMPLATE(BM_SquarePeak, true)->Name("peak_blocked")->Arg(1024)->Arg(2048)->UseRealTime();
BENCHMARK_TEMPLATE(BM_SquarePeak, false)->Name("peak_openblas_threads")->Arg(1024)->Arg(2048)->UseRealTime();

BENCHMARK_TEMPLATE(BM_DlrmStepGemms, Gemm::Blocked)->Name("gemm_blocked")->Arg(128)->Arg(2048)->UseRealTime();
BENCHMARK_TEMPLATE(BM_DlrmStepGemms, Gemm::BlockedAvx2)->Name("gemm_blocked_avx2")->Arg(128)->Arg(2048)->UseRealTime();
BENCHMARK_TEMPLATE(BM_DlrmStepGemms, Gemm::OpenblasBlocks)
    ->Name("gemm_blocked_openblas")
    ->Arg(128)
    ->Arg(2048)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_DlrmStepGemms, Gemm::OpenblasThreads)
    ->Name("gemm_openblas_threads")
    ->Arg(128)
    ->Arg(2048)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_DlrmStepGemms, Gemm::Bf16)->Name("gemm_bf16")->Arg(128)->Arg(2048)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
