// Compositional embeddings from complementary partitions (Shi, Mudigere, Naumov, Yang,
// KDD 2020). Value i of a feature with n values gets one row from each part's table, the
// part's row being its class in a complementary partition (embedding/partitions.h), and
// the rows are combined into a unique vector:
//
//   qr:collisions=C[,op=mult|add|concat]       quotient-remainder: i mod C, i div C
//   cp:parts=K,collisions=C[,kind=qr|crt][,op=...]   k-way generalized QR or Chinese
//   cp:moduli=AxBxC[,kind=qr|crt][,op=...]           remainder partitions
//
// op: mult = element-wise product (the paper's best, default), add = sum, concat = the
// parts' rows side by side (each part holds its share of dim, so the output stays dim).
// Memory: sum over parts of rows_j * width_j floats ((C + ceil(n/C)) * dim for qr).
//
// Initialisation gives the combined vector the variance of a full table's uniform
// +-sqrt(1/n) rows (DLRM's QR code draws every part from [sqrt(1/n), 1]; not copied):
// mult: the largest part at that scale divided by the spread of the others, the others
// uniform in [0.5, 1.5]; add: every part at 1/K of the variance; concat: every part at it.
#include <algorithm>
#include <cmath>
#include <functional>

#include "cembed/errors.h"
#include "embedding/partitions.h"
#include "embedding/parts_table.h"
#include "embedding/registry.h"

namespace cembed {
namespace {

enum class Op { Mult, Add, Concat };

Op parse_op(const Spec& spec) {
  const std::string op = spec.get("op", "mult");
  if (op == "mult") return Op::Mult;
  if (op == "add") return Op::Add;
  if (op == "concat") return Op::Concat;
  fail("bad spec '{}': op '{}' (valid: mult, add, concat)", spec.str(), op);
}

constexpr float kSpread = 0.5f;  // non-leading product parts are uniform in [1 - s, 1 + s]

// Part shapes: rows = modulus; width = dim, or dim split across the parts for concat.
std::vector<PartsTable::Part> part_shapes(const std::vector<int64_t>& moduli, int64_t dim, Op op) {
  const auto k = static_cast<int64_t>(moduli.size());
  std::vector<PartsTable::Part> parts;
  for (int64_t j = 0; j < k; ++j) {
    const int64_t width = op == Op::Concat ? dim / k + (j < dim % k ? 1 : 0) : dim;
    parts.push_back({moduli[j], width});
  }
  return parts;
}

int64_t parts_bytes(const std::vector<PartsTable::Part>& parts) {
  int64_t floats = 0;
  for (const auto& p : parts) floats += p.rows * p.width;
  return floats * static_cast<int64_t>(sizeof(float));
}

class CompositionalTable final : public PartsTableOf<CompositionalTable> {
 public:
  CompositionalTable(const TableShape& shape, const Spec& spec, Partitions partitions, Op op)
      : PartsTableOf(shape, part_shapes(partitions.moduli, shape.dim, op)),
        spec_(spec.str()),
        partitions_(std::move(partitions)),
        op_(op) {
    partitions_.check_complementary(num_values(0));
    CEMBED_CHECK(op_ != Op::Concat || dim() >= partitions_.parts(),
                 "bad spec '{}': concat needs dim >= parts ({} < {})", spec_, dim(), partitions_.parts());
    leading_ = static_cast<int>(std::max_element(partitions_.moduli.begin(), partitions_.moduli.end()) -
                                partitions_.moduli.begin());
  }
  std::string spec() const override { return spec_; }
  std::string method() const override { return Spec::parse(spec_).name; }

 protected:
  // One part at a time: the divisors stay in registers and the loop has no branches.
  void map_batch(std::span<const Id> ids, int64_t* const* rows) const override {
    for (int j = 0; j < partitions_.parts(); ++j) {
      const Partitions::FastDivisor& dv = partitions_.div32[j];
      const Partitions::FastDivisor& md = partitions_.mod32[j];
      int64_t* out = rows[j];
      if (dv.one && !md.one && !md.zero) {
        for (size_t k = 0; k < ids.size(); ++k) out[k] = md.mod(ids[k]);
      } else if (!dv.one && !dv.zero && md.zero) {
        for (size_t k = 0; k < ids.size(); ++k) out[k] = dv.div(ids[k]);
      } else {
        for (size_t k = 0; k < ids.size(); ++k) out[k] = partitions_.index32(ids[k], j);
      }
    }
  }

 private:
  friend class PartsTableOf<CompositionalTable>;
  void map_value(Id id, int64_t* rows) const {
    for (int j = 0; j < partitions_.parts(); ++j) rows[j] = partitions_.index32(id, j);
  }

 protected:
  void init_part(int j, Rng& rng, std::span<float> w) const override {
    const double full_var = 1.0 / (3.0 * static_cast<double>(num_values(0)));  // var of U(+-sqrt(1/n))
    const int k = partitions_.parts();
    double bound = std::sqrt(3.0 * full_var);
    if (op_ == Op::Mult) {
      if (j != leading_) {
        for (float& x : w) x = rng.uniform(1.0f - kSpread, 1.0f + kSpread);
        return;
      }
      const double second_moment = 1.0 + kSpread * kSpread / 3.0;  // E[x^2] of the other parts
      bound /= std::sqrt(std::pow(second_moment, k - 1));
    } else if (op_ == Op::Add) {
      bound /= std::sqrt(static_cast<double>(k));
    }
    for (float& x : w) x = rng.uniform(static_cast<float>(-bound), static_cast<float>(bound));
  }

  void combine(const float* const* row, float* e) const {
    const int k = partitions_.parts();
    const int64_t d = dim();
    switch (op_) {
      case Op::Mult:
        multiply(row[0], row[1], e, d);
        for (int p = 2; p < k; ++p) multiply_into(e, row[p], d);
        break;
      case Op::Add:
        add(row[0], row[1], e, d);
        for (int p = 2; p < k; ++p) add_into(e, row[p], d);
        break;
      case Op::Concat:
        for (int p = 0; p < k; ++p) e = std::copy(row[p], row[p] + part(p).width, e);
        break;
    }
  }

  // Element-wise loops on distinct arrays (restrict lets the compiler vectorise them).
  static void multiply(const float* __restrict a, const float* __restrict b, float* __restrict e, int64_t d) {
    for (int64_t i = 0; i < d; ++i) e[i] = a[i] * b[i];
  }
  static void multiply_into(float* __restrict e, const float* __restrict b, int64_t d) {
    for (int64_t i = 0; i < d; ++i) e[i] *= b[i];
  }
  static void add(const float* __restrict a, const float* __restrict b, float* __restrict e, int64_t d) {
    for (int64_t i = 0; i < d; ++i) e[i] = a[i] + b[i];
  }
  static void add_into(float* __restrict e, const float* __restrict b, int64_t d) {
    for (int64_t i = 0; i < d; ++i) e[i] += b[i];
  }

  void part_gradients(const float* const* row, const float* g, float* const* grad) const {
    const int k = partitions_.parts();
    const int64_t d = dim();
    switch (op_) {
      case Op::Mult:
        for (int p = 0; p < k; ++p) {
          for (int64_t i = 0; i < d; ++i) {
            float v = g[i];
            for (int q = 0; q < k; ++q) v *= q == p ? 1.0f : row[q][i];
            grad[p][i] = v;
          }
        }
        break;
      case Op::Add:
        for (int p = 0; p < k; ++p) std::copy(g, g + d, grad[p]);
        break;
      case Op::Concat:
        for (int p = 0; p < k; ++p) {
          std::copy(g, g + part(p).width, grad[p]);
          g += part(p).width;
        }
        break;
    }
  }

 private:
  std::string spec_;
  Partitions partitions_;
  Op op_;
  int leading_ = 0;
};

// ---- qr ------------------------------------------------------------------------------

std::vector<int64_t> qr_moduli(int64_t n, int64_t collisions) {
  return partition_moduli(PartitionKind::Qr, n, 2, collisions);
}

int64_t qr_bytes_for(int64_t collisions, const TableShape& shape, Op op) {
  return parts_bytes(part_shapes(qr_moduli(shape.cardinalities.at(0), collisions), shape.dim, op));
}

// Sizes are scanned over collisions c = 1 .. about n^(1/parts), where memory falls as c
// grows; the smallest c that fits uses the most memory and so has the fewest collisions.
template <typename Bytes>
int64_t smallest_fitting(int64_t hi, Bytes bytes, int64_t budget) {
  for (int64_t c = 1; c <= hi; ++c) {
    if (bytes(c) <= budget) return c;
  }
  return -1;
}

template <typename Bytes>
int64_t min_bytes_over(int64_t hi, Bytes bytes) {
  int64_t best = bytes(1);
  for (int64_t c = 2; c <= hi; ++c) best = std::min(best, bytes(c));
  return best;
}

int64_t scan_limit(int64_t n, int parts) {
  return static_cast<int64_t>(std::ceil(std::pow(static_cast<double>(n), 1.0 / parts))) + 1;
}

Spec fit_collisions(const Spec& spec, const TableShape& shape, int64_t budget, int parts,
                    const std::function<int64_t(int64_t)>& bytes) {
  const int64_t hi = scan_limit(shape.cardinalities.at(0), parts);
  const int64_t c = smallest_fitting(hi, bytes, budget);
  CEMBED_CHECK(c > 0, "{} needs at least {} bytes for {} values at dim {}, budget is {}", spec.name,
               min_bytes_over(hi, bytes), shape.cardinalities.at(0), shape.dim, budget);
  Spec sized = spec;
  sized.set("collisions", std::to_string(c));
  return sized;
}

// ---- cp ------------------------------------------------------------------------------

struct CpConfig {
  PartitionKind kind;
  int parts;
};

CpConfig cp_config(const Spec& spec) {
  const PartitionKind kind = parse_partition_kind(spec.get("kind", "qr"));
  int parts = static_cast<int>(spec.get_int("parts", 3));
  if (spec.has("moduli")) {
    const int given = static_cast<int>(parse_moduli(spec.get("moduli")).size());
    CEMBED_CHECK(!spec.has("parts") || given == parts, "bad spec '{}': parts={} but {} moduli", spec.str(), parts,
                 given);
    parts = given;
  }
  CEMBED_CHECK(parts >= 2 && parts <= 8, "bad spec '{}': parts must be in [2, 8], got {}", spec.str(), parts);
  CEMBED_CHECK(!(spec.has("moduli") && spec.has("collisions")), "bad spec '{}': give moduli or collisions, not both",
               spec.str());
  return {kind, parts};
}

std::vector<int64_t> cp_moduli(const Spec& spec, int64_t n) {
  const CpConfig c = cp_config(spec);
  if (spec.has("moduli")) return parse_moduli(spec.get("moduli"));
  return partition_moduli(c.kind, n, c.parts, spec.get_int("collisions", 0));
}

int64_t cp_bytes(const Spec& spec, const TableShape& shape) {
  return parts_bytes(part_shapes(cp_moduli(spec, shape.cardinalities.at(0)), shape.dim, parse_op(spec)));
}

std::function<int64_t(int64_t)> cp_bytes_by_collisions(const Spec& spec, const TableShape& shape) {
  const CpConfig c = cp_config(spec);
  const Op op = parse_op(spec);
  const int64_t n = shape.cardinalities.at(0);
  return [=](int64_t collisions) {
    return parts_bytes(part_shapes(partition_moduli(c.kind, n, c.parts, collisions), shape.dim, op));
  };
}

}  // namespace

MethodEntry qr_table_method() {
  return {
      {"qr", "quotient-remainder trick: rows i mod C and i div C combined (op=mult|add|concat)",
       {"collisions", "op"}, false},
      [](const Spec& spec, const TableShape& shape) -> EmbeddingTablePtr {
        const int64_t c = spec.get_int("collisions", 0);
        CEMBED_CHECK(c > 0, "bad spec '{}': collisions must be positive", spec.str());
        return std::make_unique<CompositionalTable>(
            shape, spec, Partitions(PartitionKind::Qr, qr_moduli(shape.cardinalities.at(0), c)), parse_op(spec));
      },
      [](const Spec& spec, const TableShape& shape) {
        return qr_bytes_for(spec.get_int("collisions", 0), shape, parse_op(spec));
      },
      [](const Spec& spec, const TableShape& shape, int64_t budget) {
        const Op op = parse_op(spec);
        return fit_collisions(spec, shape, budget, 2, [&](int64_t c) { return qr_bytes_for(c, shape, op); });
      },
      [](const Spec& spec) { return spec.has("collisions"); },
      [](const Spec& spec, const TableShape& shape) {
        const Op op = parse_op(spec);
        return min_bytes_over(scan_limit(shape.cardinalities.at(0), 2),
                              [&](int64_t c) { return qr_bytes_for(c, shape, op); });
      },
  };
}

MethodEntry cp_table_method() {
  return {
      {"cp",
       "k-way complementary partitions (kind=qr generalized QR | crt Chinese remainder), parts=K, "
       "collisions=C or moduli=AxBxC, op=mult|add|concat",
       {"kind", "parts", "collisions", "moduli", "op"}, false},
      [](const Spec& spec, const TableShape& shape) -> EmbeddingTablePtr {
        CEMBED_CHECK(spec.has("moduli") || spec.get_int("collisions", 0) > 0,
                     "bad spec '{}': collisions must be positive", spec.str());
        const CpConfig c = cp_config(spec);
        return std::make_unique<CompositionalTable>(
            shape, spec, Partitions(c.kind, cp_moduli(spec, shape.cardinalities.at(0))), parse_op(spec));
      },
      cp_bytes,
      [](const Spec& spec, const TableShape& shape, int64_t budget) {
        CEMBED_CHECK(!spec.has("moduli"), "spec '{}' has fixed moduli; drop them to size it from a budget",
                     spec.str());
        return fit_collisions(spec, shape, budget, cp_config(spec).parts, cp_bytes_by_collisions(spec, shape));
      },
      [](const Spec& spec) { return spec.has("collisions") || spec.has("moduli"); },
      [](const Spec& spec, const TableShape& shape) {
        return min_bytes_over(scan_limit(shape.cardinalities.at(0), cp_config(spec).parts),
                              cp_bytes_by_collisions(spec, shape));
      },
  };
}

}  // namespace cembed
