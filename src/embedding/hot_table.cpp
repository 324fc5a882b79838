// hot: the frequency-aware hybrid of CAFE (Zhang et al., SIGMOD 2024), with the hot set
// taken from prepare's counts. prepare numbers a feature's values most frequent first
// (docs/data.md: ids 1.. by count, 0 = out-of-vocabulary), so ids 1..rows are the hot values:
// each gets a row of its own (a full table of `rows` rows). Every other value, the OOV id 0
// among them (it stands for rare or unseen values), is looked up in a cold table built by any
// other method, whose own keys are passed with the prefix "cold.":
//
//   hot:rows=N[,share=S][,cold=METHOD][,cold.KEY=VALUE...]     cold=hash by default
//   hot:rows=512,cold=qr,cold.collisions=40,cold.op=add
//
// The cold table is built for the feature's whole id range (its rows for hot ids are never
// read), so it sees the same ids, signatures and shape as that method alone.
// Memory: rows * dim floats + the cold table's bytes (exact; optimizer state and auxiliary
// bytes are the two tables' sums).
//
// Budget split (fit, `hot_split` below), for a budget of B bytes and rows of R = 4 * dim:
// hot rows = floor(share * B / R) (share 0.5 by default), at least 1 and at most n - 1, and no
// more than leave the cold table its smallest size; the cold method is sized to the rest;
// whatever its coarse steps leave unused becomes further hot rows. A spec that gives rows,
// or a sized cold table, keeps it and sizes the other part from the rest.
//
// Ids from a hashed vocabulary (prepare --hash-buckets) or from `cembed synth` carry no
// frequency order: ids 1..rows are then arbitrary values and the method is a plain split.
#include <algorithm>
#include <cmath>

#include "embedding/registry.h"
#include "embedding/table_state.h"
#include "util/check.h"
#include "util/random.h"

namespace cembed {
namespace {

constexpr double kDefaultShare = 0.5;
constexpr const char* kDefaultCold = "hash";
constexpr std::string_view kColdPrefix = "cold.";

int64_t row_bytes(const TableShape& shape) { return shape.dim * static_cast<int64_t>(sizeof(float)); }

// The cold method's spec: cold=NAME and every cold.KEY=VALUE, in order, without the prefix.
Spec cold_spec(const Spec& spec) {
  Spec cold;
  cold.name = spec.get("cold", kDefaultCold);
  CEMBED_CHECK(cold.name != "hot", "bad spec '{}': the cold table cannot itself be hot", spec.str());
  for (const auto& [k, v] : spec.params) {
    if (k.starts_with(kColdPrefix)) cold.params.emplace_back(k.substr(kColdPrefix.size()), v);
  }
  cold.check_keys(method_info(cold.name).keys);
  return cold;
}

double hot_share(const Spec& spec) {
  const double s = spec.get_double("share", kDefaultShare);
  CEMBED_CHECK(s > 0 && s < 1, "bad spec '{}': share must be in (0, 1), got {}", spec.str(), s);
  return s;
}

void check_one_feature(const Spec& spec, const TableShape& shape) {
  CEMBED_CHECK(shape.cardinalities.size() == 1, "spec '{}': a hot table serves one feature, got {}", spec.str(),
               shape.cardinalities.size());
}

// Hot values are ids 1..rows: at most n - 1 (id 0, OOV, stays cold).
int64_t max_hot_rows(const Spec& spec, const TableShape& shape) {
  const int64_t n = shape.cardinalities.at(0);
  CEMBED_CHECK(n >= 2, "spec '{}': a hot table needs a feature of at least 2 values (OOV and one more), got {}",
               spec.str(), n);
  return n - 1;
}

int64_t hot_rows(const Spec& spec, const TableShape& shape) {
  const int64_t rows = spec.get_int("rows", 0), most = max_hot_rows(spec, shape);
  CEMBED_CHECK(rows >= 1 && rows <= most,
               "bad spec '{}': rows must be in [1, {}] (the feature's values but OOV), got {}", spec.str(), most, rows);
  return rows;
}

int64_t hot_bytes(const Spec& spec, const TableShape& shape) {
  check_one_feature(spec, shape);
  return hot_rows(spec, shape) * row_bytes(shape) + spec_parameter_bytes(cold_spec(spec), shape);
}

// Smallest bytes: one hot row and the cold table at its smallest (or at its given size).
int64_t hot_min_bytes(const Spec& spec, const TableShape& shape) {
  check_one_feature(spec, shape);
  const Spec cold = cold_spec(spec);
  const int64_t cold_min = spec_is_sized(cold) ? spec_parameter_bytes(cold, shape) : spec_min_bytes(cold, shape);
  const int64_t rows = spec.has("rows") ? hot_rows(spec, shape) : 1;
  return rows * row_bytes(shape) + cold_min;
}

// The budget split (the rule in the header comment).
Spec hot_split(const Spec& spec, const TableShape& shape, int64_t budget) {
  const int64_t min = hot_min_bytes(spec, shape);
  CEMBED_CHECK(budget >= min,
               "hot needs at least {} bytes for {} values at dim {} (its hot rows and the smallest cold table), budget "
               "is {}",
               min, shape.cardinalities.at(0), shape.dim, budget);
  const int64_t n = max_hot_rows(spec, shape), rb = row_bytes(shape);
  Spec cold = cold_spec(spec);
  const bool cold_sized = spec_is_sized(cold);
  const int64_t cold_min = cold_sized ? spec_parameter_bytes(cold, shape) : spec_min_bytes(cold, shape);
  int64_t rows = 0;
  if (spec.has("rows")) {
    rows = hot_rows(spec, shape);
  } else {
    const auto wanted = static_cast<int64_t>(std::floor(hot_share(spec) * static_cast<double>(budget))) / rb;
    rows = std::clamp<int64_t>(wanted, 1, n);
    rows = std::max<int64_t>(1, std::min(rows, (budget - cold_min) / rb));
  }
  if (!cold_sized) cold = fit_spec_to_budget(cold, shape, budget - rows * rb);
  if (!spec.has("rows")) rows = std::min(n, (budget - spec_parameter_bytes(cold, shape)) / rb);
  Spec sized = spec;
  sized.set("rows", std::to_string(rows));
  for (const auto& [k, v] : cold.params) sized.set(std::string(kColdPrefix) + k, v);
  return sized;
}

// A batch's bags split in two, hot ids (1..rows, as rows 0..rows-1 of the hot table) and
// cold ids, each bag keeping its place. Mean pooling is folded into the weights (w / bag
// length), so both halves pool by sum.
struct SplitBags {
  std::vector<Id> ids[2];
  std::vector<uint32_t> offsets[2];
  std::vector<float> weights[2];

  void split(const BagBatch& bags, Pooling pooling, int64_t hot_rows) {
    const bool weighted = !bags.weights.empty() || pooling == Pooling::Mean;
    for (int p = 0; p < 2; ++p) {
      ids[p].clear();
      weights[p].clear();
      offsets[p].assign(1, 0);
    }
    for (int64_t b = 0; b < bags.batch_size(); ++b) {
      const uint32_t begin = bags.offsets[b], end = bags.offsets[b + 1];
      const float scale = pooling == Pooling::Mean && end > begin ? 1.0f / static_cast<float>(end - begin) : 1.0f;
      for (uint32_t k = begin; k < end; ++k) {
        const Id id = bags.ids[k];
        const int p = id >= 1 && id <= hot_rows ? 0 : 1;
        ids[p].push_back(p == 0 ? id - 1 : id);
        if (weighted) weights[p].push_back((bags.weights.empty() ? 1.0f : bags.weights[k]) * scale);
      }
      for (int p = 0; p < 2; ++p) offsets[p].push_back(static_cast<uint32_t>(ids[p].size()));
    }
  }
  BagBatch view(int p) const { return {ids[p], offsets[p], weights[p]}; }
};

class HotTable final : public EmbeddingTable {
 public:
  HotTable(const TableShape& shape, const Spec& spec, int64_t rows, const Spec& cold)
      : EmbeddingTable(shape),
        spec_(spec.str()),
        rows_(rows),
        hot_(make_table("full", {shape.dim, {rows}})),
        cold_(make_table(cold.str(), shape)) {}

  std::string spec() const override { return spec_; }
  std::string method() const override { return "hot"; }
  int64_t parameter_bytes() const override { return hot_->parameter_bytes() + cold_->parameter_bytes(); }
  int64_t optimizer_bytes() const override { return hot_->optimizer_bytes() + cold_->optimizer_bytes(); }
  int64_t auxiliary_bytes() const override { return hot_->auxiliary_bytes() + cold_->auxiliary_bytes(); }
  std::optional<SignatureKind> signature_kind() const override { return cold_->signature_kind(); }
  void attach_signatures(const ValueSignatures& sigs, std::span<const int> features) override {
    cold_->attach_signatures(sigs, features);
  }

  void init(uint64_t seed) override {
    // A full table's scale for the whole feature: uniform +-sqrt(1/n), not +-sqrt(1/rows).
    hot_->init(derive_seed(seed, 1));
    const auto scale = static_cast<float>(std::sqrt(static_cast<double>(rows_) / static_cast<double>(num_values(0))));
    for (std::span<float> block : hot_->parameter_blocks()) {
      for (float& w : block) w *= scale;
    }
    cold_->init(derive_seed(seed, 2));
  }

  void set_optimizer(const OptimizerConfig& config) override {
    hot_->set_optimizer(config);
    cold_->set_optimizer(config);
  }

  void forward(std::span<const BagBatch> bags, Pooling pooling, std::span<const MatrixView> out) const override {
    const MatrixView& o = out[0];
    CEMBED_CHECK(o.rows == bags[0].batch_size() && o.cols == dim(), "hot table: output is {}x{}, expected {}x{}",
                 o.rows, o.cols, bags[0].batch_size(), dim());
    split_.split(bags[0], pooling, rows_);
    hot_out_.resize(o.rows * dim());
    const MatrixView hot_view{hot_out_.data(), o.rows, dim(), dim()};
    const BagBatch hot_bags = split_.view(0), cold_bags = split_.view(1);
    cold_->forward(std::span(&cold_bags, 1), Pooling::Sum, out.subspan(0, 1));
    hot_->forward(std::span(&hot_bags, 1), Pooling::Sum, std::span(&hot_view, 1));
    for (int64_t b = 0; b < o.rows; ++b) {
      float* dst = o.row(b);
      const float* h = hot_out_.data() + b * dim();
      for (int64_t i = 0; i < dim(); ++i) dst[i] += h[i];
    }
  }

  void backward(std::span<const BagBatch> bags, Pooling pooling, std::span<const ConstMatrixView> grad_out,
                float lr) override {
    split_.split(bags[0], pooling, rows_);
    const BagBatch hot_bags = split_.view(0), cold_bags = split_.view(1);
    cold_->backward(std::span(&cold_bags, 1), Pooling::Sum, grad_out.subspan(0, 1), lr);
    hot_->backward(std::span(&hot_bags, 1), Pooling::Sum, grad_out.subspan(0, 1), lr);
  }

  void save(BinaryWriter& out) const override {
    save_table_spec(out, spec_);
    hot_->save(out);
    cold_->save(out);
  }
  void load(BinaryReader& in) override {
    load_table_spec(in, spec_);
    hot_->load(in);
    cold_->load(in);
  }

  void save_serving_data(BinaryWriter& out) const override {
    hot_->save_serving_data(out);
    cold_->save_serving_data(out);
  }
  void load_serving_data(BinaryReader& in) override {
    hot_->load_serving_data(in);
    cold_->load_serving_data(in);
  }

  std::vector<Block> blocks() override {
    auto out = hot_->blocks();
    for (const Block& b : cold_->blocks()) out.push_back(b);
    return out;
  }

  void use_mapped_weights(std::span<const std::span<const float>> weights) override {
    const size_t hot_blocks = hot_->blocks().size();
    CEMBED_CHECK(weights.size() >= hot_blocks, "{}: {} mapped blocks for {}", spec_, weights.size(), hot_blocks);
    hot_->use_mapped_weights(weights.first(hot_blocks));
    cold_->use_mapped_weights(weights.subspan(hot_blocks));
  }

 private:
  std::string spec_;
  int64_t rows_;
  EmbeddingTablePtr hot_, cold_;
  mutable SplitBags split_;
  mutable std::vector<float> hot_out_;
};

}  // namespace

MethodEntry hot_method() {
  return {
      {"hot",
       "frequency-aware hybrid (CAFE): the `rows` most frequent values (ids 1..rows) get rows of their own, the "
       "rest share a cold table of any method (cold=NAME, its keys as cold.KEY=VALUE)",
       {"rows", "share", "cold", "cold.*"},
       false},
      [](const Spec& spec, const TableShape& shape) -> EmbeddingTablePtr {
        check_one_feature(spec, shape);
        hot_share(spec);
        const Spec cold = cold_spec(spec);
        CEMBED_CHECK(spec_is_sized(cold), "bad spec '{}': its cold table '{}' has no size", spec.str(), cold.str());
        return std::make_unique<HotTable>(shape, spec, hot_rows(spec, shape), cold);
      },
      hot_bytes,
      hot_split,
      [](const Spec& spec) { return spec.has("rows") && spec_is_sized(cold_spec(spec)); },
      hot_min_bytes,
  };
}

}  // namespace cembed
