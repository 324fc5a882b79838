// qr: the quotient-remainder trick (Shi et al., KDD 2020). Value i of a feature with n
// values combines row i mod C of one part with row i div C of the other (op mult by
// default; the table is compositional_table.h's):
//
//   qr:collisions=C[,op=mult|add|concat]
//
// Memory: (C + ceil(n/C)) * dim floats (half of that for concat).
#include "embedding/compositional_table.h"
#include "embedding/registry.h"
#include "util/check.h"

namespace cembed {
namespace {

std::vector<int64_t> qr_moduli(int64_t n, int64_t collisions) {
  return partition_moduli(PartitionKind::Qr, n, 2, collisions);
}

int64_t qr_bytes_for(int64_t collisions, const TableShape& shape, CompositionOp op) {
  return parts_bytes(composition_parts(qr_moduli(shape.cardinalities.at(0), collisions), shape.dim, op));
}

}  // namespace

MethodEntry qr_method() {
  return {
      {"qr",
       "quotient-remainder trick: rows i mod C and i div C combined (op=mult|add|concat)",
       {"collisions", "op"},
       false},
      [](const Spec& spec, const TableShape& shape) -> EmbeddingTablePtr {
        const int64_t c = spec.get_int("collisions", 0);
        CEMBED_CHECK(c > 0, "bad spec '{}': collisions must be positive", spec.str());
        return make_compositional_table(shape, spec,
                                        Partitions(PartitionKind::Qr, qr_moduli(shape.cardinalities.at(0), c)),
                                        parse_composition_op(spec));
      },
      [](const Spec& spec, const TableShape& shape) {
        return qr_bytes_for(spec.get_int("collisions", 0), shape, parse_composition_op(spec));
      },
      [](const Spec& spec, const TableShape& shape, int64_t budget) {
        const CompositionOp op = parse_composition_op(spec);
        return fit_collisions(spec, shape, budget, 2, [&](int64_t c) { return qr_bytes_for(c, shape, op); });
      },
      [](const Spec& spec) { return spec.has("collisions"); },
      [](const Spec& spec, const TableShape& shape) {
        const CompositionOp op = parse_composition_op(spec);
        return min_bytes_over_collisions(collision_scan_limit(shape.cardinalities.at(0), 2),
                                         [&](int64_t c) { return qr_bytes_for(c, shape, op); });
      },
  };
}

}  // namespace cembed
