#include "cembed/collection.h"

#include <algorithm>

#include "cembed/factory.h"
#include "util/binary_io.h"
#include "util/check.h"
#include "util/random.h"

namespace cembed {

EmbeddingCollection::EmbeddingCollection(MemoryPlan plan) : plan_(std::move(plan)) {
  std::vector<int> covered(plan_.features.size(), 0);
  for (const auto& t : plan_.tables) {
    TableShape shape{plan_.dim, {}};
    for (int f : t.features) {
      CEMBED_CHECK(f >= 0 && f < num_features(), "collection: plan names feature {} of {}", f, num_features());
      covered[f]++;
      shape.cardinalities.push_back(plan_.features[f].cardinality);
    }
    tables_.push_back(make_table(t.spec, shape));
    CEMBED_CHECK(tables_.back()->parameter_bytes() == t.parameter_bytes,
                 "collection: table '{}' has {} parameter bytes, the plan says {}", t.spec,
                 tables_.back()->parameter_bytes(), t.parameter_bytes);
  }
  for (int f = 0; f < num_features(); ++f) {
    CEMBED_CHECK(covered[f] == 1, "collection: feature '{}' is served by {} tables", plan_.features[f].name,
                 covered[f]);
  }
}

int64_t EmbeddingCollection::parameter_bytes() const {
  int64_t total = 0;
  for (const auto& t : tables_) total += t->parameter_bytes();
  return total;
}

int64_t EmbeddingCollection::optimizer_bytes() const {
  int64_t total = 0;
  for (const auto& t : tables_) total += t->optimizer_bytes();
  return total;
}

int64_t EmbeddingCollection::auxiliary_bytes() const {
  int64_t total = 0;
  for (const auto& t : tables_) total += t->auxiliary_bytes();
  return total;
}

std::vector<SignatureKind> EmbeddingCollection::needed_signatures() const {
  std::vector<SignatureKind> kinds;
  for (const auto& t : tables_) {
    const auto k = t->signature_kind();
    if (k && std::find(kinds.begin(), kinds.end(), *k) == kinds.end()) kinds.push_back(*k);
  }
  return kinds;
}

void EmbeddingCollection::attach_signatures(const ValueSignatures& sigs) {
  CEMBED_CHECK(sigs.num_features() == num_features(), "collection: signatures of {} features for {} features",
               sigs.num_features(), num_features());
  for (size_t t = 0; t < tables_.size(); ++t) {
    if (tables_[t]->signature_kind() == sigs.config.kind) tables_[t]->attach_signatures(sigs, plan_.tables[t].features);
  }
}

void EmbeddingCollection::init(uint64_t seed) {
  for (size_t t = 0; t < tables_.size(); ++t) tables_[t]->init(derive_seed(seed, 0xE3BED, plan_.tables[t].features[0]));
}

void EmbeddingCollection::set_optimizer(const OptimizerConfig& config) {
  for (auto& t : tables_) t->set_optimizer(config);
}

namespace {

// Runs fn(t, bags_of_t, views_of_t) for every table t in parallel (one thread per table at
// a time); the first exception thrown by any table is rethrown here.
template <typename View, typename Fn>
void for_each_table(const MemoryPlan& plan, std::span<const BagBatch> bags, std::span<const View> views, Fn fn) {
  const int n = static_cast<int>(plan.tables.size());
  std::exception_ptr error;
#pragma omp parallel
  {
    std::vector<BagBatch> tb;
    std::vector<View> tv;
#pragma omp for schedule(dynamic, 1)
    for (int t = 0; t < n; ++t) {
      try {
        tb.clear();
        tv.clear();
        for (int f : plan.tables[t].features) {
          tb.push_back(bags[f]);
          tv.push_back(views[f]);
        }
        fn(t, tb, tv);
      } catch (...) {
#pragma omp critical
        if (!error) error = std::current_exception();
      }
    }
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace

void EmbeddingCollection::forward(std::span<const BagBatch> bags, Pooling pooling,
                                  std::span<const MatrixView> out) const {
  CEMBED_CHECK(static_cast<int>(bags.size()) == num_features() && static_cast<int>(out.size()) == num_features(),
               "collection forward: {} bags and {} outputs for {} features", bags.size(), out.size(), num_features());
  for_each_table(plan_, bags, out, [&](int t, const std::vector<BagBatch>& tb, const std::vector<MatrixView>& tv) {
    tables_[t]->forward(tb, pooling, tv);
  });
}

void EmbeddingCollection::backward(std::span<const BagBatch> bags, Pooling pooling,
                                   std::span<const ConstMatrixView> grad_out, float lr) {
  const std::vector<char> all(tables_.size(), 1);
  backward(bags, pooling, grad_out, lr, all);
}

void EmbeddingCollection::backward(std::span<const BagBatch> bags, Pooling pooling,
                                   std::span<const ConstMatrixView> grad_out, float lr, std::span<const char> run) {
  CEMBED_CHECK(static_cast<int>(bags.size()) == num_features() && static_cast<int>(grad_out.size()) == num_features(),
               "collection backward: {} bags and {} gradients for {} features", bags.size(), grad_out.size(),
               num_features());
  CEMBED_CHECK(run.size() == tables_.size(), "collection backward: {} flags for {} tables", run.size(), tables_.size());
  for_each_table(plan_, bags, grad_out,
                 [&](int t, const std::vector<BagBatch>& tb, const std::vector<ConstMatrixView>& tv) {
                   if (run[t]) tables_[t]->backward(tb, pooling, tv, lr);
                 });
}

void EmbeddingCollection::save(BinaryWriter& out) const {
  out.u64(tables_.size());
  for (const auto& t : tables_) t->save(out);
}

void EmbeddingCollection::load(BinaryReader& in) {
  const uint64_t n = in.u64("table count");
  CEMBED_CHECK(n == tables_.size(), "{}: {} embedding tables in file, {} expected", in.context(), n, tables_.size());
  for (auto& t : tables_) t->load(in);
}

}  // namespace cembed
