// The embedding factory: builds any method from a spec string, like Faiss's index factory.
//
// clang-format off
//   full                              one row per value
//   hash:rows=N[,seed=S]              the hashing trick: value v -> row h(v) mod N
//   qr:collisions=C[,op=mult|add|concat]            quotient-remainder trick
//   cp:kind=qr|crt,parts=K,collisions=C | moduli=AxBxC[,op=...]   k-way partitions
//   path:maps=P                       path-based compositional (linear map per class)
//   memcom:rows=M[,bias=none|scalar|vector]         hashed row x weight per value
//   robe:size=M[,block=Z]             ROBE-Z: one shared array, blocks by hash of the id
//                                     (Z = min(32, dim), at most dim)
//   lma:size=M[,block=Z][,k=K][,signature=rows|context]   LMA: blocks by minhash signature
//   md:dim=K[,alpha=A]                mixed dimension K with a K -> dim projection
//   hot:rows=N[,share=S][,cold=M][,cold.KEY=V...][,find=counts|sketch]   CAFE's hybrid: N hot
//                                     values get rows of their own, the rest a cold table of
//                                     method M (hash by default) with its keys prefixed
//                                     "cold."; sized from a budget: share S (0.5) hot. Hot
//                                     values: find=counts (default) the N most frequent
//                                     (ids 1..N); find=sketch found while training by a
//                                     HotSketch: [slots=4][,buckets=B][,threshold=1]
//                                     [,score=count|grad] (src/embedding/hot_table.cpp)
//   cce:rows=K[,cols=C][,every=S][,times=T]   clustered compositional embeddings: per column
//                                     a row by a learned assignment plus a hashed row; the
//                                     assignment is a k-means of the values' vectors every S
//                                     steps, T times (C = 2, S = 100, T = 3 by default)
// clang-format on
//
// A spec without its size keys (e.g. plain "hash") is sized by the MemoryPlanner from a
// budget. Unknown methods and keys are errors that list the valid ones.
#pragma once

#include <string>
#include <vector>

#include "cembed/embedding_table.h"
#include "cembed/spec.h"

namespace cembed {

// Builds a table for `shape` from a sized spec (see method_info().fit to size one).
EmbeddingTablePtr make_table(const std::string& spec, const TableShape& shape);

struct MethodInfo {
  std::string name;
  std::string summary;
  std::vector<std::string> keys;
  // True when one table (one array) serves every feature of the collection.
  bool shared_across_features = false;
};

std::vector<MethodInfo> list_methods();
const MethodInfo& method_info(const std::string& name);

// Parameter bytes of the table `spec` would build for `shape` (spec must be sized).
int64_t spec_parameter_bytes(const Spec& spec, const TableShape& shape);
// Returns `spec` with its size keys set so that its parameters take at most `budget_bytes`
// for `shape`, as close to it as the method allows; throws naming the smallest budget the
// method can meet when none fits.
Spec fit_spec_to_budget(const Spec& spec, const TableShape& shape, int64_t budget_bytes);
// True when `spec` carries its size keys (so it can be built without a budget).
bool spec_is_sized(const Spec& spec);

}  // namespace cembed

namespace cembed {
// Smallest parameter bytes the method of `spec` can take for `shape`.
int64_t spec_min_bytes(const Spec& spec, const TableShape& shape);
// The planner's weight of a table when sharing a budget: its full-table bytes, or the
// method's own rule (md: n^(1 - alpha)).
double spec_share_weight(const Spec& spec, const TableShape& shape);
// True when the method has its own sharing rule (the planner then keeps its proportions).
bool spec_has_share_rule(const Spec& spec);
}  // namespace cembed
