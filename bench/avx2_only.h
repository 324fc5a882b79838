// Avx2Only: for its scope, Highway's run-time dispatch picks the AVX2 target alone, the code
// Zen 3 runs, on whatever CPU the benchmark runs on (a benchmark's AVX-512 and AVX2 figures
// then come from the same machine and process).
#pragma once

#include <hwy/targets.h>

struct Avx2Only {
  explicit Avx2Only(bool on) : on_(on) {
    if (on_) hwy::SetSupportedTargetsForTest(HWY_AVX2);
  }
  ~Avx2Only() {
    if (on_) hwy::SetSupportedTargetsForTest(0);
  }
  Avx2Only(const Avx2Only&) = delete;
  Avx2Only& operator=(const Avx2Only&) = delete;
  bool on_;
};
