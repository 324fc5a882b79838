// Fma(d, a, b, c) = a * b + c with one rounding on every target Highway generates: a native
// FMA on AVX2 and AVX-512; lane by lane std::fma on the older targets beside them (SSE4,
// SSSE3: never chosen on a CPU that runs this x86-64-v3 build, but tested like the others),
// whose MulAdd rounds twice. For the kernels whose bits must not depend on the target
// (row_updates_simd.cpp, linear_maps_simd.cpp). A Highway "-inl" header: included once per
// target after hwy/foreach_target.h, so its guard toggles with HWY_TARGET_TOGGLE.
#if defined(CEMBED_KERNELS_HWY_FMA_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef CEMBED_KERNELS_HWY_FMA_INL_H_
#undef CEMBED_KERNELS_HWY_FMA_INL_H_
#else
#define CEMBED_KERNELS_HWY_FMA_INL_H_
#endif

#include <hwy/highway.h>

#include <cmath>

HWY_BEFORE_NAMESPACE();
namespace cembed::kernels::HWY_NAMESPACE {

template <class D, class V>
HWY_INLINE V Fma(D d, V a, V b, V c) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2  // AVX2 and every AVX-512 target
  (void)d;
  return hwy::HWY_NAMESPACE::MulAdd(a, b, c);
#else
  namespace hn = hwy::HWY_NAMESPACE;
  HWY_ALIGN float x[hn::MaxLanes(d)], y[hn::MaxLanes(d)], z[hn::MaxLanes(d)];
  hn::Store(a, d, x);
  hn::Store(b, d, y);
  hn::Store(c, d, z);
  for (size_t l = 0; l < hn::Lanes(d); ++l) z[l] = std::fma(x[l], y[l], z[l]);
  return hn::Load(d, z);
#endif
}

}  // namespace cembed::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // CEMBED_KERNELS_HWY_FMA_INL_H_
