// Complementary partitions of the value set {0, ..., n-1} (Shi et al., KDD 2020).
//
// A partition family gives every value one class per part; it is complementary when no
// two values share every class, so a vector composed from one row per part is unique.
//
//   generalized QR (kind qr):  moduli m_1..m_k with m_1*...*m_k >= n;
//                              class_j(i) = (i div (m_1*...*m_{j-1})) mod m_j
//                              (k = 2 is the quotient-remainder trick: i mod m, i div m)
//   Chinese remainder (crt):   pairwise coprime moduli with product >= n;
//                              class_j(i) = i mod m_j
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cembed {

enum class PartitionKind { Qr, Crt };

PartitionKind parse_partition_kind(const std::string& name);  // "qr" | "crt"
std::string partition_kind_name(PartitionKind kind);

struct Partitions {
  PartitionKind kind = PartitionKind::Qr;
  std::vector<int64_t> moduli;   // rows of each part
  std::vector<int64_t> divisor;  // qr: product of the earlier moduli; crt: 1
  // Precomputed 32-bit division by d: `zero` marks d >= 2^32 (a divisor that large gives
  // quotient 0, a modulus that large leaves the value as it is).
  struct FastDivisor {
    uint64_t magic = 0;  // floor((2^64 - 1) / d) + 1
    uint32_t d = 1;
    bool one = false, zero = false;
    explicit FastDivisor(int64_t divisor);
    uint32_t div(uint32_t a) const { return static_cast<uint32_t>((static_cast<__uint128_t>(magic) * a) >> 64); }
    uint32_t mod(uint32_t a) const { return static_cast<uint32_t>((static_cast<__uint128_t>(magic * a) * d) >> 64); }
  };
  std::vector<FastDivisor> div32, mod32;

  Partitions(PartitionKind kind, std::vector<int64_t> moduli);
  int parts() const { return static_cast<int>(moduli.size()); }
  int64_t index(uint64_t value, int part) const {
    return static_cast<int64_t>((value / static_cast<uint64_t>(divisor[part])) % static_cast<uint64_t>(moduli[part]));
  }
  // The same for 32-bit values (ids), with divisions by multiplication (Lemire, Kaser and
  // Kurz, "Faster remainder by direct computation", 2019: exact for 32-bit operands).
  int64_t index32(uint32_t value, int part) const {
    const FastDivisor& d = div32[part];
    const uint32_t q = d.one ? value : d.zero ? 0 : d.div(value);
    const FastDivisor& m = mod32[part];
    return m.one ? 0 : m.zero ? q : m.mod(q);
  }
  // Throws unless the family is complementary for n values (product >= n, coprime for crt).
  void check_complementary(int64_t n) const;
  // "7x11x13"
  std::string moduli_str() const;
};

// The moduli a spec asks for, from `collisions` c (values sharing a class of the first
// parts): qr gives c, ..., c, ceil(n / c^(k-1)); crt gives the k-1 smallest pairwise
// coprime integers >= c and then the smallest integer >= ceil(n / their product) coprime
// with all of them.
std::vector<int64_t> partition_moduli(PartitionKind kind, int64_t n, int parts, int64_t collisions);
// Parses "7x11x13".
std::vector<int64_t> parse_moduli(const std::string& text);

}  // namespace cembed
