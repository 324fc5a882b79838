// gemm_bf16 (gemm_bf16.h): the inputs rounded to bfloat16, then oneDNN's bf16 matmul or
// cembed's fp32 GEMM on the rounded values; oneDNN in the blocks of gemm_blocks (shape-only).
#include "kernels/gemm_bf16.h"

#include <omp.h>

#include <algorithm>
#include <array>
#include <bit>
#include <map>
#include <memory>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <vector>

#include <fmt/format.h>

#include "kernels/dense_kernels.h"
#include "util/check.h"

namespace cembed::kernels {
namespace {

constexpr int64_t kParallelElements = 1 << 15;

uint16_t bf16_bits(float x) {
  const uint32_t u = std::bit_cast<uint32_t>(x);
  const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;  // to nearest, ties to even
  const uint32_t quiet_nan = (u >> 16) | 0x40u;                     // rounding could turn a NaN into inf
  return static_cast<uint16_t>((u & 0x7fffffffu) > 0x7f800000u ? quiet_nan : rounded);
}

// bf16_bits and round_to_bf16 as function objects (inlined into the loops below).
struct ToBf16 {
  uint16_t operator()(float x) const { return bf16_bits(x); }
};
struct RoundToBf16 {
  float operator()(float x) const { return std::bit_cast<float>(static_cast<uint32_t>(bf16_bits(x)) << 16); }
};

// X (rows x cols, row stride ld) into dst (rows x cols, contiguous), element by element
// through `convert`. Operands are converted as they are stored; a transposed operand is
// described to oneDNN (or kernels::gemm) by its strides, not copied into another layout.
template <class T, class F>
void convert_rows(const float* x, int64_t ld, int64_t rows, int64_t cols, T* dst, F convert) {
#pragma omp parallel for if (rows * cols >= kParallelElements) schedule(static)
  for (int64_t i = 0; i < rows; ++i) {
    const float* in = x + i * ld;
    T* out = dst + i * cols;
    for (int64_t j = 0; j < cols; ++j) out[j] = convert(in[j]);
  }
}

// A buffer that grows and keeps its contents uninitialized (std::vector::resize would zero
// what it adds, each time a smaller layer's call is followed by a larger one).
template <class T>
class Scratch {
 public:
  T* get(int64_t n) {
    if (n > size_) {
      data_ = std::make_unique_for_overwrite<T[]>(static_cast<size_t>(n));
      size_ = n;
    }
    return data_.get();
  }

 private:
  std::unique_ptr<T[]> data_;
  int64_t size_ = 0;
};

// Runs f with this thread's OpenMP thread count at 1 (restored on return or throw): oneDNN
// plans a primitive for the threads it may use (and may then split the sum over k among
// them), so every primitive is planned and run for one thread, inside a parallel region or not.
template <class F>
void on_one_thread(F&& f) {
  struct Restore {
    int threads = omp_get_max_threads();
    ~Restore() {
      if (threads > 1) omp_set_num_threads(threads);
    }
  } restore;
  if (restore.threads > 1) omp_set_num_threads(1);
  f();
}

std::string isa_name(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::avx512_core_amx:
      return "avx512_core_amx";
    case dnnl::cpu_isa::avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core:
      return "avx512_core";
    case dnnl::cpu_isa::avx2_vnni:
      return "avx2_vnni";
    case dnnl::cpu_isa::avx2:
      return "avx2";
    default:
      return fmt::format("isa 0x{:x}", static_cast<unsigned>(isa));
  }
}

// oneDNN's engine and the bf16 matmuls of each block shape, planned once.
class Onednn {
 public:
  static Onednn& get() {
    static Onednn instance;
    return instance;
  }

  dnnl::cpu_isa isa() const { return isa_; }
  bool native_bf16() const {
    const auto bits = static_cast<unsigned>(isa_), bf16 = static_cast<unsigned>(dnnl::cpu_isa::avx512_core_bf16);
    return (bits & bf16) == bf16;
  }

  // dst (m x n, fp32) = src (m x k, bf16) * weights (k x n, bf16), each given by its first
  // element and its strides (a transposed operand: strides {1, ld}), on this thread.
  struct View {
    const void* data;
    int64_t stride_rows, stride_cols;
  };
  void matmul(int64_t m, int64_t n, int64_t k, View a, View b, View c) {
    using dt = dnnl::memory::data_type;
    const dnnl::memory::desc ad({m, k}, dt::bf16, {a.stride_rows, a.stride_cols}),
        bd({k, n}, dt::bf16, {b.stride_rows, b.stride_cols}), cd({m, n}, dt::f32, {c.stride_rows, c.stride_cols});
    on_one_thread([&] {
      const Planned& plan =
          primitive({m, n, k, a.stride_rows, a.stride_cols, b.stride_rows, b.stride_cols, c.stride_rows, c.stride_cols},
                    ad, bd, cd);
      // The primitive's scratch is this thread's: blocks run the same primitive at once.
      thread_local Scratch<uint8_t> scratch;
      uint8_t* const scratchpad = scratch.get(static_cast<int64_t>(plan.scratchpad.get_size()));
      dnnl::stream stream(engine_);
      dnnl::memory am(ad, engine_, const_cast<void*>(a.data)), bm(bd, engine_, const_cast<void*>(b.data)),
          cm(cd, engine_, const_cast<void*>(c.data)), sm(plan.scratchpad, engine_, scratchpad);
      plan.matmul.execute(stream,
                          {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}, {DNNL_ARG_SCRATCHPAD, sm}});
      stream.wait();
    });
  }

 private:
  Onednn() : engine_(dnnl::engine::kind::cpu, 0), isa_(dnnl::get_effective_cpu_isa()) {}

  struct Planned {
    dnnl::matmul matmul;
    dnnl::memory::desc scratchpad;
  };

  // With the scratchpad the caller's (scratchpad_mode::user): oneDNN's own is shared by every
  // execution of a primitive, and the blocks execute one primitive on several threads at once.
  // Planned once per shape and strides (the key).
  using Key = std::array<int64_t, 9>;
  const Planned& primitive(const Key& key, const dnnl::memory::desc& ad, const dnnl::memory::desc& bd,
                           const dnnl::memory::desc& cd) {
    std::lock_guard lock(mutex_);
    auto it = primitives_.find(key);
    if (it == primitives_.end()) {
      dnnl::primitive_attr attr;
      attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
      const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(ad, bd, cd), attr, engine_);
      it = primitives_.emplace(key, Planned{dnnl::matmul(pd), pd.scratchpad_desc()}).first;
    }
    return it->second;  // std::map: a reference stays valid as other shapes are added
  }

  dnnl::engine engine_;
  dnnl::cpu_isa isa_;
  std::mutex mutex_;
  std::map<Key, Planned> primitives_;
};

void onednn_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  // A and B in bf16 as they are stored (A: m x k, or k x m when trans_a; B: k x n, or n x k),
  // contiguous. Each block of C is one product of a part of op(A) (rows [r0, r0 + rows)) and
  // of op(B) (columns [c0, c0 + cols)), written straight into C when alpha is 1 and beta 0
  // (the MLP's products), else into `product`, then C = alpha * product + beta * C.
  thread_local Scratch<uint16_t> a16, b16;
  thread_local Scratch<float> product;
  // The scratch is this thread's (thread_local): the block loop's threads see it through these.
  uint16_t* const a_bf16 = a16.get(m * k);
  uint16_t* const b_bf16 = b16.get(k * n);
  const bool direct = alpha == 1.0f && beta == 0.0f;
  float* const products = direct ? nullptr : product.get(m * n);
  convert_rows(a, lda, trans_a ? k : m, trans_a ? m : k, a_bf16, ToBf16{});
  convert_rows(b, ldb, trans_b ? n : k, trans_b ? k : n, b_bf16, ToBf16{});
  const GemmBlocks g = gemm_blocks(m, n);
  Onednn& dnn = Onednn::get();
  const bool parallel = g.count > 1 && m * n * k >= kGemmParallelFlops;
  std::exception_ptr error;
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t i = 0; i < g.count; ++i) {
    try {
      const int64_t start = i * g.block;
      const int64_t rows = g.split_rows ? std::min(g.block, m - start) : m;
      const int64_t cols = g.split_rows ? n : std::min(g.block, n - start);
      const int64_t r0 = g.split_rows ? start : 0, c0 = g.split_rows ? 0 : start;
      // op(A)(i, p) is a[p][r0 + i] (trans_a) or a[r0 + i][p]; op(B)(p, j) is b[c0 + j][p] or b[p][c0 + j].
      const Onednn::View av{trans_a ? a_bf16 + r0 : a_bf16 + r0 * k, trans_a ? 1 : k, trans_a ? m : 1};
      const Onednn::View bv{trans_b ? b_bf16 + c0 * k : b_bf16 + c0, trans_b ? 1 : n, trans_b ? k : 1};
      float* out = direct ? c + r0 * ldc + c0 : products + (g.split_rows ? r0 * n : c0 * m);
      const int64_t out_stride = direct ? ldc : cols;
      dnn.matmul(rows, cols, k, av, bv, {out, out_stride, 1});
      if (direct) continue;
      for (int64_t r = 0; r < rows; ++r) {
        float* crow = c + (r0 + r) * ldc + c0;
        const float* prow = out + r * cols;
        if (beta == 0.0f) {
          for (int64_t j = 0; j < cols; ++j) crow[j] = alpha * prow[j];
        } else {
          for (int64_t j = 0; j < cols; ++j) crow[j] = alpha * prow[j] + beta * crow[j];
        }
      }
    } catch (...) {
#pragma omp critical(cembed_gemm_bf16_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

void rounded_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                  const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  thread_local Scratch<float> a32, b32;
  const int64_t a_rows = trans_a ? k : m, a_cols = trans_a ? m : k;
  const int64_t b_rows = trans_b ? n : k, b_cols = trans_b ? k : n;
  float* const a_rounded = a32.get(m * k);
  float* const b_rounded = b32.get(k * n);
  convert_rows(a, lda, a_rows, a_cols, a_rounded, RoundToBf16{});
  convert_rows(b, ldb, b_rows, b_cols, b_rounded, RoundToBf16{});
  gemm(trans_a, trans_b, m, n, k, alpha, a_rounded, std::max<int64_t>(1, a_cols), b_rounded,
       std::max<int64_t>(1, b_cols), beta, c, ldc);
}

}  // namespace

float round_to_bf16(float x) { return RoundToBf16{}(x); }

Bf16Path bf16_path() {
  static const Bf16Path path = Onednn::get().native_bf16() ? Bf16Path::Onednn : Bf16Path::Rounded;
  return path;
}

std::string bf16_path_name() {
  const std::string isa = isa_name(Onednn::get().isa());
  if (bf16_path() == Bf16Path::Onednn) return "oneDNN bf16 matmul (" + isa + ")";
  return "bf16-rounded inputs through cembed's fp32 GEMM (oneDNN has no native bf16 matmul for " + isa + ")";
}

void gemm_bf16_on(Bf16Path path, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (path == Bf16Path::Rounded || k <= 0) {
    return rounded_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  CEMBED_CHECK(bf16_path() == Bf16Path::Onednn, "bf16 GEMM: this CPU has no bf16 instructions for oneDNN ({})",
               bf16_path_name());
  onednn_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemm_bf16(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
               const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  gemm_bf16_on(bf16_path(), trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace cembed::kernels
