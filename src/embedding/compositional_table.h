// The table qr and cp build (qr_table.cpp, cp_table.cpp): compositional embeddings from
// complementary partitions (Shi, Mudigere, Naumov, Yang, KDD 2020). Value i of a feature
// with n values gets one row from each part's table, the part's row being its class in a
// complementary partition (embedding/partitions.h), and the rows are combined into a
// unique vector by op: mult = element-wise product (the paper's best, default), add = sum,
// concat = the parts' rows side by side (each part holds its share of dim, so the output
// stays dim). Memory: sum over parts of rows_j * width_j floats.
//
// Initialisation gives the combined vector the variance of a full table's uniform
// +-sqrt(1/n) rows (DLRM's QR code draws every part from [sqrt(1/n), 1]; not copied):
// mult: the largest part at that scale divided by the spread of the others, the others
// uniform in [0.5, 1.5]; add: every part at 1/K of the variance; concat: every part at it.
#pragma once

#include <functional>
#include <vector>

#include "cembed/embedding_table.h"
#include "cembed/spec.h"
#include "embedding/partitions.h"
#include "embedding/parts_table.h"

namespace cembed {

enum class CompositionOp { Mult, Add, Concat };

// The spec's op=mult|add|concat (mult when absent).
CompositionOp parse_composition_op(const Spec& spec);

// Part shapes: rows = modulus; width = dim, or dim split across the parts for concat.
std::vector<PartsTable::Part> composition_parts(const std::vector<int64_t>& moduli, int64_t dim, CompositionOp op);
int64_t parts_bytes(const std::vector<PartsTable::Part>& parts);

EmbeddingTablePtr make_compositional_table(const TableShape& shape, const Spec& spec, Partitions partitions,
                                           CompositionOp op);

// Sizing by collision count c = 1 .. about n^(1/parts), where memory falls as c grows:
// the smallest c that fits uses the most memory and so has the fewest collisions.
int64_t collision_scan_limit(int64_t n, int parts);
int64_t min_bytes_over_collisions(int64_t hi, const std::function<int64_t(int64_t)>& bytes);
Spec fit_collisions(const Spec& spec, const TableShape& shape, int64_t budget, int parts,
                    const std::function<int64_t(int64_t)>& bytes);

}  // namespace cembed
