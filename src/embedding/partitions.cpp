#include "embedding/partitions.h"

#include <charconv>
#include <numeric>

#include "util/check.h"

namespace cembed {

PartitionKind parse_partition_kind(const std::string& name) {
  if (name == "qr") return PartitionKind::Qr;
  if (name == "crt") return PartitionKind::Crt;
  fail("unknown partition kind '{}' (qr, crt)", name);
}

std::string partition_kind_name(PartitionKind kind) { return kind == PartitionKind::Qr ? "qr" : "crt"; }

Partitions::Partitions(PartitionKind k, std::vector<int64_t> m) : kind(k), moduli(std::move(m)) {
  CEMBED_CHECK(moduli.size() >= 2, "partitions need at least 2 parts, got {}", moduli.size());
  uint64_t prefix = 1;
  for (int64_t mod : moduli) {
    CEMBED_CHECK(mod >= 1, "partition modulus must be positive, got {}", mod);
    divisor.push_back(kind == PartitionKind::Qr ? static_cast<int64_t>(prefix) : 1);
    div32.emplace_back(divisor.back());
    mod32.emplace_back(mod);
    // Saturate: once the prefix product passes 2^62 every later class is 0 anyway.
    prefix = prefix > (uint64_t{1} << 62) / static_cast<uint64_t>(mod) ? (uint64_t{1} << 62)
                                                                       : prefix * static_cast<uint64_t>(mod);
  }
  // The last qr class is i div (m_1..m_{k-1}) < m_k for every value below the product (the
  // only values index32 is given: ids < n): no remainder needed.
  if (kind == PartitionKind::Qr) mod32.back() = FastDivisor(int64_t{1} << 32);
}

Partitions::FastDivisor::FastDivisor(int64_t divisor) {
  one = divisor == 1;
  zero = divisor > static_cast<int64_t>(UINT32_MAX);
  if (one || zero) return;
  d = static_cast<uint32_t>(divisor);
  magic = UINT64_MAX / d + 1;
}

void Partitions::check_complementary(int64_t n) const {
  long double product = 1;
  for (int64_t m : moduli) product *= static_cast<long double>(m);
  CEMBED_CHECK(product >= static_cast<long double>(n),
               "partitions {} ({}) are not complementary for {} values: the product of the moduli must be >= {}",
               moduli_str(), partition_kind_name(kind), n, n);
  if (kind == PartitionKind::Crt) {
    for (size_t a = 0; a < moduli.size(); ++a) {
      for (size_t b = a + 1; b < moduli.size(); ++b) {
        CEMBED_CHECK(std::gcd(moduli[a], moduli[b]) == 1, "crt partitions {}: moduli {} and {} are not coprime",
                     moduli_str(), moduli[a], moduli[b]);
      }
    }
  }
}

std::string Partitions::moduli_str() const {
  std::string s;
  for (int64_t m : moduli) s += (s.empty() ? "" : "x") + std::to_string(m);
  return s;
}

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

bool coprime_with_all(int64_t x, const std::vector<int64_t>& ms) {
  for (int64_t m : ms) {
    if (std::gcd(x, m) != 1) return false;
  }
  return true;
}

}  // namespace

std::vector<int64_t> partition_moduli(PartitionKind kind, int64_t n, int parts, int64_t collisions) {
  CEMBED_CHECK(parts >= 2, "partitions need at least 2 parts, got {}", parts);
  CEMBED_CHECK(collisions >= 1, "collisions must be positive, got {}", collisions);
  CEMBED_CHECK(n >= 1, "partitions need at least one value, got {}", n);
  std::vector<int64_t> m;
  int64_t product = 1;
  for (int j = 0; j + 1 < parts; ++j) {
    int64_t c = kind == PartitionKind::Qr ? collisions : std::max<int64_t>(collisions, m.empty() ? 1 : m.back() + 1);
    while (kind == PartitionKind::Crt && !coprime_with_all(c, m)) ++c;
    m.push_back(c);
    product = product > n ? product : product * c;  // saturates once past n
  }
  int64_t last = std::max<int64_t>(1, ceil_div(n, std::min(product, n)));
  while (kind == PartitionKind::Crt && !coprime_with_all(last, m)) ++last;
  m.push_back(last);
  return m;
}

std::vector<int64_t> parse_moduli(const std::string& text) {
  std::vector<int64_t> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t x = text.find('x', pos);
    const std::string part = text.substr(pos, x == std::string::npos ? std::string::npos : x - pos);
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    CEMBED_CHECK(ec == std::errc() && ptr == part.data() + part.size() && v >= 1,
                 "bad moduli '{}': expected positive integers joined by 'x', like 97x101", text);
    out.push_back(v);
    if (x == std::string::npos) break;
    pos = x + 1;
  }
  return out;
}

}  // namespace cembed
