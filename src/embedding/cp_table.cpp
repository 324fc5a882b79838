// cp: k-way compositional embeddings from complementary partitions (Shi et al., KDD 2020):
// generalized quotient-remainder (kind=qr) or Chinese remainder (kind=crt) partitions of
// the values into K parts, one row of each combined by op (the table is
// compositional_table.h's):
//
//   cp:parts=K,collisions=C[,kind=qr|crt][,op=mult|add|concat]
//   cp:moduli=AxBxC[,kind=qr|crt][,op=...]
//
// Memory: sum over parts of modulus_j * width_j floats.
#include "embedding/compositional_table.h"
#include "embedding/registry.h"
#include "util/check.h"

namespace cembed {
namespace {

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
  return parts_bytes(
      composition_parts(cp_moduli(spec, shape.cardinalities.at(0)), shape.dim, parse_composition_op(spec)));
}

std::function<int64_t(int64_t)> cp_bytes_by_collisions(const Spec& spec, const TableShape& shape) {
  const CpConfig c = cp_config(spec);
  const CompositionOp op = parse_composition_op(spec);
  const int64_t n = shape.cardinalities.at(0);
  return [=](int64_t collisions) {
    return parts_bytes(composition_parts(partition_moduli(c.kind, n, c.parts, collisions), shape.dim, op));
  };
}

}  // namespace

MethodEntry cp_method() {
  return {
      {"cp",
       "k-way complementary partitions (kind=qr generalized QR | crt Chinese remainder), parts=K, "
       "collisions=C or moduli=AxBxC, op=mult|add|concat",
       {"kind", "parts", "collisions", "moduli", "op"},
       false},
      [](const Spec& spec, const TableShape& shape) -> EmbeddingTablePtr {
        CEMBED_CHECK(spec.has("moduli") || spec.get_int("collisions", 0) > 0,
                     "bad spec '{}': collisions must be positive", spec.str());
        const CpConfig c = cp_config(spec);
        return make_compositional_table(shape, spec, Partitions(c.kind, cp_moduli(spec, shape.cardinalities.at(0))),
                                        parse_composition_op(spec));
      },
      cp_bytes,
      [](const Spec& spec, const TableShape& shape, int64_t budget) {
        CEMBED_CHECK(!spec.has("moduli"), "spec '{}' has fixed moduli; drop them to size it from a budget", spec.str());
        return fit_collisions(spec, shape, budget, cp_config(spec).parts, cp_bytes_by_collisions(spec, shape));
      },
      [](const Spec& spec) { return spec.has("collisions") || spec.has("moduli"); },
      [](const Spec& spec, const TableShape& shape) {
        return min_bytes_over_collisions(collision_scan_limit(shape.cardinalities.at(0), cp_config(spec).parts),
                                         cp_bytes_by_collisions(spec, shape));
      },
  };
}

}  // namespace cembed
