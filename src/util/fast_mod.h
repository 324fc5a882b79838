// x mod d for 64-bit x and a fixed divisor d, by multiplication (Lemire, Kaser and Kurz,
// "Faster remainder by direct computation", 2019, with a 128-bit magic: exact for every
// 64-bit x and d >= 1). The same value as x % d, without the 64-bit division (tens of
// cycles) per hashed id.
#pragma once

#include <cstdint>

namespace cembed {

class FastMod64 {
 public:
  explicit FastMod64(uint64_t d) : d_(d), magic_(d == 1 ? 0 : ~static_cast<__uint128_t>(0) / d + 1) {}

  uint64_t operator()(uint64_t x) const {
    const __uint128_t low = magic_ * x;  // mod 2^128
    // (low * d) >> 128, from the two 64-bit halves of low (no carry is lost: the sum < 2^128).
    const __uint128_t bottom = (static_cast<__uint128_t>(static_cast<uint64_t>(low)) * d_) >> 64;
    const __uint128_t top = static_cast<__uint128_t>(static_cast<uint64_t>(low >> 64)) * d_;
    return static_cast<uint64_t>((top + bottom) >> 64);
  }
  uint64_t divisor() const { return d_; }

 private:
  uint64_t d_;
  __uint128_t magic_;  // ceil(2^128 / d); 0 for d = 1 (then every x mod d is 0, as computed)
};

}  // namespace cembed
