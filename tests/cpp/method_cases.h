// The one table of embedding-method test cases. Every grid over methods in tests/cpp
// iterates it: gradients against finite differences, save/load, the spec round trip
// (test_embedding_tables.cpp, test_spec_factory.cpp), several features sharing one array
// (test_lma.cpp), budget fitting and planning over many feature profiles
// (test_compositional.cpp) and training, resume and thread-count determinism
// (test_training.cpp). MethodCases.EveryRegisteredMethodHasACase checks that every
// method of the registry has a case, a training case, and that every case names one.
//
// To test a new method (docs/architecture.md, "How to add an embedding method"), add its
// line here: a sized spec (valid for the case's shape), and the grids it joins beyond the
// sized ones.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "cembed/embedding_table.h"
#include "cembed/factory.h"
#include "cembed/signatures.h"
#include "cembed/spec.h"
#include "util/random.h"

namespace cembed::testing {

struct MethodCase {
  // A sized spec, valid for a table of `dim` x `cardinality` (and for a table of the same
  // dim serving features of 20 and 15 values, where the method shares one array).
  std::string spec;
  // Grids beyond the sized ones (gradients, save/load, round trip): kPlan plans the spec
  // without its size keys over many feature profiles and budgets; kTrain also trains it
  // (one training case per method, hot one per way of finding its hot values: training is
  // the slowest grid).
  unsigned grids = 0;
  // Gradient check: |sgd step - finite difference| <= atol + rtol * max(|a|, |b|).
  double rtol = 2e-3, atol = 2e-4;
  int64_t dim = 8, cardinality = 60;

  TableShape shape() const { return {dim, {cardinality}}; }
  std::string method() const { return Spec::parse(spec).name; }
};

// kOwnGradientCheck: the case leaves the gradient grids of test_embedding_tables.cpp, which
// start from init (hot:find=sketch has no hot value then: test_hot_sketch.cpp checks its
// gradients once values are hot).
constexpr unsigned kPlan = 1, kTrain = 2, kOwnGradientCheck = 4;

inline const std::vector<MethodCase>& method_cases() {
  static const std::vector<MethodCase> cases = {
      {"full", kTrain},
      {"hash:rows=17", kPlan | kTrain},
      {"hash:rows=5,seed=9"},
      {"qr:collisions=7", kPlan | kTrain},
      {"qr:collisions=4,op=add", kPlan},
      {"qr:collisions=9,op=concat", kPlan},
      {"cp:parts=3,collisions=3", kPlan},
      {"cp:kind=crt,parts=3,collisions=3,op=add", kPlan | kTrain},
      {"cp:kind=crt,parts=3,collisions=5"},
      {"cp:moduli=4x3x5,op=concat"},
      {"cp:moduli=10x11x50,op=add"},
      {"path:maps=4", kPlan | kTrain},
      {"memcom:rows=7", kPlan | kTrain},
      {"memcom:rows=5,bias=scalar", kPlan},
      {"memcom:rows=6,bias=vector"},
      {"robe:size=24,block=4", kPlan | kTrain},
      {"robe:size=13,block=1"},
      {"robe:size=36,block=3"},
      {"robe:size=640", kPlan},
      {"robe:size=640,block=4,seed=3"},
      {"lma:size=64", kPlan},
      {"lma:size=40,block=1,k=1"},
      {"lma:size=48,block=4,k=2"},
      {"lma:size=60,block=5,k=1,signature=rows"},
      {"lma:size=640,block=2,signature=context", kTrain},
      {"lma:size=640,block=8,k=3,signature=context"},
      {"md:dim=3", kPlan | kTrain},
      {"md:dim=8"},
      // hot over the default cold method (hash) joins the planner and training grids: a spec
      // without its size keys is "hot" (test_hot_cce.cpp plans it over every other method).
      {"hot:rows=10,cold.rows=7", kPlan | kTrain},
      {"hot:rows=12,cold=qr,cold.collisions=4,cold.op=add"},
      {"hot:rows=3,share=0.25,cold=lma,cold.size=64,cold.k=1"},
      {"hot:rows=20,cold=memcom,cold.rows=2"},
      // cce reclusters after step 2 (save/load compares after it) and every 8 steps while training.
      {"cce:rows=7,every=2"},
      {"cce:rows=9,cols=1,every=8,times=4", kPlan | kTrain},
      {"cce:rows=5,cols=3,times=0"},
      // hot with its hot values found while training (last: grids that share one random
      // stream over the cases keep the earlier cases' draws).
      {"hot:rows=10,cold.rows=7,find=sketch,threshold=2", kPlan | kTrain | kOwnGradientCheck},
  };
  return cases;
}

// The cases that join grid `grid` (kPlan or kTrain).
inline std::vector<MethodCase> method_cases(unsigned grid) {
  std::vector<MethodCase> out;
  for (const MethodCase& c : method_cases()) {
    if (c.grids & grid) out.push_back(c);
  }
  return out;
}

// The spec without its size keys, for the planner to size: "qr:collisions=9,op=concat" ->
// "qr:op=concat". A key is a size key when the spec without it is no longer sized.
inline std::string unsized_spec(const std::string& spec) {
  const Spec sized = Spec::parse(spec);
  Spec out;
  out.name = sized.name;
  for (const auto& [key, value] : sized.params) {
    Spec without = sized;
    std::erase_if(without.params, [&](const auto& p) { return p.first == key; });
    if (spec_is_sized(without)) out.params.emplace_back(key, value);
  }
  return out.str();
}

// Signatures of the kind `table` needs for features of `cardinalities` values: random sets
// over a small universe (values share elements, so some share blocks), the last value of
// each feature without one (placed by its id). Nullopt when the table needs none.
inline std::optional<ValueSignatures> case_signatures(const EmbeddingTable& table,
                                                      const std::vector<int64_t>& cardinalities, uint64_t seed = 7) {
  const auto kind = table.signature_kind();
  if (!kind) return std::nullopt;
  std::vector<std::vector<uint64_t>> sets;
  Rng rng(seed);
  for (int64_t n : cardinalities) {
    for (int64_t v = 0; v < n; ++v) {
      sets.emplace_back();
      if (v + 1 == n) continue;
      for (int i = 0; i < 6; ++i) sets.back().push_back(rng.below(24));
    }
  }
  SignatureConfig config;
  config.kind = *kind;
  config.num_hashes = 8;
  return signatures_from_sets(sets, cardinalities, config);
}

// The table of `spec` for `shape`, with signatures attached where the method needs them.
inline EmbeddingTablePtr make_case_table(const std::string& spec, const TableShape& shape) {
  auto table = make_table(spec, shape);
  if (const auto sigs = case_signatures(*table, shape.cardinalities)) {
    std::vector<int> features(shape.cardinalities.size());
    for (size_t f = 0; f < features.size(); ++f) features[f] = static_cast<int>(f);
    table->attach_signatures(*sigs, features);
  }
  return table;
}

inline void PrintTo(const MethodCase& c, std::ostream* os) { *os << c.spec; }

}  // namespace cembed::testing
