// hot: the frequency-aware hybrid of CAFE (Zhang et al., SIGMOD 2024). Hot values get rows of
// their own (a full table of `rows` rows); every other value is looked up in a cold table
// built by any other method, whose own keys are passed with the prefix "cold.":
//
//   hot:rows=N[,share=S][,cold=METHOD][,cold.KEY=VALUE...][,find=counts|sketch[,SKETCH KEYS]]
//   hot:rows=512,cold=qr,cold.collisions=40,cold.op=add
//   hot:cold=qr,find=sketch,slots=4                     (sized from a budget)
//
// cold=hash by default. The cold table is built for the feature's whole id range (its rows
// for hot ids are not read while they are hot), so it sees the same ids, signatures and shape
// as that method alone.
//
// Which values are hot (find):
// - counts (default): prepare's counts. prepare numbers a feature's values most frequent first
//   (docs/data.md: ids 1.. by count, 0 = out-of-vocabulary), so ids 1..rows are hot, for good;
//   the OOV id 0 (rare or unseen values) is cold. Ids from a hashed vocabulary (prepare
//   --hash-buckets) or from `cembed synth` carry no frequency order: ids 1..rows are then
//   arbitrary values and the method is a plain split.
// - sketch: found while training by a HotSketch (hot_sketch.h: its update rule), of `buckets`
//   buckets of `slots` slots (slots=4 and buckets = ceil(2 * rows / slots) by default: it
//   tracks about twice as many values as there are hot rows). Every value, id 0 included,
//   starts cold. After each backward() has updated both tables with the batch's hot set (the
//   one its forward() used), every occurrence of the batch is added to the sketch in a fixed
//   order, bag 0 to bag B-1, each bag's ids in order, with its score (score=count: 1;
//   score=grad: the L2 norm of d loss / d out of its bag times its weight, mean pooling's 1/len
//   included); a value that loses its slot loses its hot row. Then the batch's values whose
//   guaranteed score (what they surely earned since they took their slot) reaches `threshold`
//   (1 by default) are promoted, highest first, to a free row or to the row of the hot value of
//   the lowest guaranteed score if that is lower (which is demoted). A
//   promoted value's row is initialised from its cold vector as it stands after the batch's
//   update (so the table's output for it does not change at promotion) and its optimizer state
//   restarts (zero, or the initial accumulator); a demoted
//   value reads its cold vector again (its hot vector is not written back: the cold rows are
//   shared). Nothing else is random or thread-dependent, so a run is deterministic and resumes
//   exactly (the sketch is saved with the table and exported for inference). Evaluation and
//   inference leave the sketch as it is. The gradient optimizer kind (an outside optimizer,
//   docs/python.md) is refused: rows change owner inside backward().
//
// Memory: rows * dim floats + the cold table's bytes, + with find=sketch the sketch's
// HotSketch::bytes (16 bytes a slot, 4 a hot row): all in parameter_bytes(), so the budget
// pays for the sketch (exact; optimizer state and auxiliary bytes are the two tables' sums).
//
// Budget split (fit, `hot_split` below), for a budget of B bytes, where a hot part of r rows
// costs H(r) = r * 4 * dim (+ the sketch's bytes for r rows): hot rows = the most r with
// H(r) <= floor(share * B) (share 0.5 by default), at least 1 and at most n - 1, and no more
// than leave the cold table its smallest size; the cold method is sized to B - H(rows);
// whatever its coarse steps leave unused becomes further hot rows. A spec that gives rows, or
// a sized cold table, keeps it and sizes the other part from the rest.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

#include "embedding/hot_sketch.h"
#include "embedding/registry.h"
#include "embedding/table_state.h"
#include "util/binary_io.h"
#include "util/check.h"
#include "util/random.h"

namespace cembed {
namespace {

constexpr double kDefaultShare = 0.5;
constexpr const char* kDefaultCold = "hash";
constexpr std::string_view kColdPrefix = "cold.";
// find=sketch defaults: slots a bucket, values tracked per hot row, promotion threshold.
constexpr int kDefaultSlots = 4;
constexpr int64_t kTrackedPerRow = 2;
constexpr double kDefaultThreshold = 1.0;
constexpr const char* kSketchKeys[] = {"slots", "buckets", "threshold", "score"};

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

// find=sketch and its keys (checked whether or not the sketch is on: a sketch key without
// find=sketch is an error naming it).
struct SketchSettings {
  bool on = false;
  int slots = kDefaultSlots;
  std::optional<int64_t> buckets;  // default: from the rows
  float threshold = static_cast<float>(kDefaultThreshold);
  bool grad_score = false;

  int64_t buckets_for(int64_t rows) const { return buckets.value_or((kTrackedPerRow * rows + slots - 1) / slots); }
};

SketchSettings sketch_settings(const Spec& spec) {
  SketchSettings s;
  const std::string find = spec.get("find", "counts");
  CEMBED_CHECK(find == "counts" || find == "sketch", "bad spec '{}': find must be counts or sketch, got '{}'",
               spec.str(), find);
  s.on = find == "sketch";
  for (const char* key : kSketchKeys) {
    CEMBED_CHECK(s.on || !spec.has(key), "bad spec '{}': {} applies to find=sketch only (find is {})", spec.str(), key,
                 find);
  }
  const int64_t slots = spec.get_int("slots", kDefaultSlots);
  CEMBED_CHECK(slots >= 1 && slots <= HotSketch::kMaxSlots, "bad spec '{}': slots must be in [1, {}], got {}",
               spec.str(), HotSketch::kMaxSlots, slots);
  s.slots = static_cast<int>(slots);
  if (spec.has("buckets")) {
    const int64_t b = spec.get_int("buckets", 0);
    CEMBED_CHECK(b >= 1 && b <= (int64_t{1} << 40) / slots, "bad spec '{}': buckets must be in [1, {}], got {}",
                 spec.str(), (int64_t{1} << 40) / slots, b);
    s.buckets = b;
  }
  const double t = spec.get_double("threshold", kDefaultThreshold);
  CEMBED_CHECK(std::isfinite(t) && t >= 0 && t < 1e30, "bad spec '{}': threshold must be a number >= 0, got {}",
               spec.str(), t);
  s.threshold = static_cast<float>(t);
  const std::string score = spec.get("score", "count");
  CEMBED_CHECK(score == "count" || score == "grad", "bad spec '{}': score must be count or grad, got '{}'", spec.str(),
               score);
  s.grad_score = score == "grad";
  return s;
}

void check_one_feature(const Spec& spec, const TableShape& shape) {
  CEMBED_CHECK(shape.cardinalities.size() == 1, "spec '{}': a hot table serves one feature, got {}", spec.str(),
               shape.cardinalities.size());
}

// At most n - 1 hot rows (with find=counts, ids 1..rows: id 0, OOV, stays cold).
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

// H(rows): the hot rows and, with find=sketch, the sketch.
int64_t hot_part_bytes(const SketchSettings& sketch, const TableShape& shape, int64_t rows) {
  const int64_t table = rows * row_bytes(shape);
  return sketch.on ? table + HotSketch::bytes(sketch.buckets_for(rows), sketch.slots, rows) : table;
}

// The most rows r in [0, most] with H(r) <= bytes (H grows with r).
int64_t rows_within(const SketchSettings& sketch, const TableShape& shape, int64_t most, int64_t bytes) {
  int64_t lo = 0, hi = most;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo + 1) / 2;
    if (hot_part_bytes(sketch, shape, mid) <= bytes) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

int64_t hot_bytes(const Spec& spec, const TableShape& shape) {
  check_one_feature(spec, shape);
  return hot_part_bytes(sketch_settings(spec), shape, hot_rows(spec, shape)) +
         spec_parameter_bytes(cold_spec(spec), shape);
}

// Smallest bytes: one hot row (or the given rows) and the cold table at its smallest (or at its given size).
int64_t hot_min_bytes(const Spec& spec, const TableShape& shape) {
  check_one_feature(spec, shape);
  const Spec cold = cold_spec(spec);
  const int64_t cold_min = spec_is_sized(cold) ? spec_parameter_bytes(cold, shape) : spec_min_bytes(cold, shape);
  const int64_t rows = spec.has("rows") ? hot_rows(spec, shape) : 1;
  return hot_part_bytes(sketch_settings(spec), shape, rows) + cold_min;
}

// The budget split (the rule in the header comment).
Spec hot_split(const Spec& spec, const TableShape& shape, int64_t budget) {
  const int64_t min = hot_min_bytes(spec, shape);
  CEMBED_CHECK(budget >= min,
               "hot needs at least {} bytes for {} values at dim {} (its hot rows{} and the smallest cold table), "
               "budget is {}",
               min, shape.cardinalities.at(0), shape.dim, sketch_settings(spec).on ? ", its sketch" : "", budget);
  const SketchSettings sketch = sketch_settings(spec);
  const int64_t n = max_hot_rows(spec, shape);
  Spec cold = cold_spec(spec);
  const bool cold_sized = spec_is_sized(cold);
  const int64_t cold_min = cold_sized ? spec_parameter_bytes(cold, shape) : spec_min_bytes(cold, shape);
  int64_t rows = 0;
  if (spec.has("rows")) {
    rows = hot_rows(spec, shape);
  } else {
    const auto wanted = static_cast<int64_t>(std::floor(hot_share(spec) * static_cast<double>(budget)));
    rows = std::max<int64_t>(1, rows_within(sketch, shape, n, wanted));
    rows = std::max<int64_t>(1, std::min(rows, rows_within(sketch, shape, n, budget - cold_min)));
  }
  if (!cold_sized) cold = fit_spec_to_budget(cold, shape, budget - hot_part_bytes(sketch, shape, rows));
  if (!spec.has("rows")) rows = rows_within(sketch, shape, n, budget - spec_parameter_bytes(cold, shape));
  Spec sized = spec;
  sized.set("rows", std::to_string(rows));
  for (const auto& [k, v] : cold.params) sized.set(std::string(kColdPrefix) + k, v);
  return sized;
}

// A batch's bags split in two, hot ids (as rows of the hot table: hot_row(id) >= 0) and cold
// ids, each bag keeping its place. Mean pooling is folded into the weights (w / bag length),
// so both halves pool by sum.
struct SplitBags {
  std::vector<Id> ids[2];
  std::vector<uint32_t> offsets[2];
  std::vector<float> weights[2];

  template <class HotRow>
  void split(const BagBatch& bags, Pooling pooling, HotRow hot_row) {
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
        const int64_t row = hot_row(id);
        const int p = row >= 0 ? 0 : 1;
        ids[p].push_back(p == 0 ? static_cast<Id>(row) : id);
        if (weighted) weights[p].push_back((bags.weights.empty() ? 1.0f : bags.weights[k]) * scale);
      }
      for (int p = 0; p < 2; ++p) offsets[p].push_back(static_cast<uint32_t>(ids[p].size()));
    }
  }
  BagBatch view(int p) const { return {ids[p], offsets[p], weights[p]}; }
};

class HotTable final : public EmbeddingTable {
 public:
  HotTable(const TableShape& shape, const Spec& spec, int64_t rows, const Spec& cold, const SketchSettings& sketch)
      : EmbeddingTable(shape),
        spec_(spec.str()),
        rows_(rows),
        hot_(make_table("full", {shape.dim, {rows}})),
        cold_(make_table(cold.str(), shape)),
        grad_score_(sketch.grad_score) {
    if (sketch.on) sketch_.emplace(sketch.buckets_for(rows), sketch.slots, rows, sketch.threshold);
  }

  std::string spec() const override { return spec_; }
  std::string method() const override { return "hot"; }
  int64_t parameter_bytes() const override {
    const int64_t sketch = sketch_ ? HotSketch::bytes(sketch_->num_buckets(), sketch_->slots_per_bucket(), rows_) : 0;
    return hot_->parameter_bytes() + cold_->parameter_bytes() + sketch;
  }
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
    if (sketch_) sketch_->clear();
  }

  void set_optimizer(const OptimizerConfig& config) override {
    CEMBED_CHECK(!sketch_ || config.kind != OptimizerKind::Gradient,
                 "{}: find=sketch moves values between its tables inside backward(), so it cannot hand its gradients "
                 "to an outside optimizer (optimizer kind 'gradient'); use find=counts",
                 spec_);
    optimizer_ = config;
    hot_->set_optimizer(config);
    cold_->set_optimizer(config);
  }

  void forward(std::span<const BagBatch> bags, Pooling pooling, std::span<const MatrixView> out) const override {
    const MatrixView& o = out[0];
    CEMBED_CHECK(o.rows == bags[0].batch_size() && o.cols == dim(), "hot table: output is {}x{}, expected {}x{}",
                 o.rows, o.cols, bags[0].batch_size(), dim());
    if (one_id_per_bag(bags[0].offsets, bags[0].weights)) return forward_one_hot(bags[0], o);
    split(bags[0], pooling);
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
    split(bags[0], pooling);
    const BagBatch hot_bags = split_.view(0), cold_bags = split_.view(1);
    cold_->backward(std::span(&cold_bags, 1), Pooling::Sum, grad_out.subspan(0, 1), lr);
    hot_->backward(std::span(&hot_bags, 1), Pooling::Sum, grad_out.subspan(0, 1), lr);
    if (sketch_) update_sketch(bags[0], pooling, grad_out[0]);
  }

  void save(BinaryWriter& out) const override {
    save_table_spec(out, spec_);
    hot_->save(out);
    cold_->save(out);
    if (sketch_) sketch_->save(out);
  }
  void load(BinaryReader& in) override {
    load_table_spec(in, spec_);
    hot_->load(in);
    cold_->load(in);
    if (sketch_) sketch_->load(in);
  }

  void save_serving_data(BinaryWriter& out) const override {
    hot_->save_serving_data(out);
    cold_->save_serving_data(out);
    if (sketch_) sketch_->save(out);  // which values are hot, and in which rows
  }
  void load_serving_data(BinaryReader& in) override {
    hot_->load_serving_data(in);
    cold_->load_serving_data(in);
    if (sketch_) sketch_->load(in);
  }

  std::vector<Block> blocks() override {
    auto out = hot_->blocks();
    for (const Block& b : cold_->blocks()) out.push_back(b);
    return out;
  }

  void use_mapped_weights(std::span<const WeightView> weights) override {
    const size_t hot_blocks = hot_->blocks().size();
    CEMBED_CHECK(weights.size() >= hot_blocks, "{}: {} mapped blocks for {}", spec_, weights.size(), hot_blocks);
    hot_->use_mapped_weights(weights.first(hot_blocks));
    cold_->use_mapped_weights(weights.subspan(hot_blocks));
  }

 private:
  // The hot row of `id`, or -1 if it is cold (any id out of range is cold: the cold table refuses it).
  int64_t hot_row(Id id) const {
    if (sketch_) return sketch_->row_of(id);
    return id >= 1 && id <= static_cast<Id>(rows_) ? static_cast<int64_t>(id) - 1 : -1;
  }

  void split(const BagBatch& bags, Pooling pooling) const {
    split_.split(bags, pooling, [this](Id id) { return hot_row(id); });
  }

  // Bags of one id and no weights (DLRM's batches; mean pooling of one id is the id's vector):
  // each table looks up only its own ids, as one-hot bags, and each bag's row is copied from
  // the table that owns its id. The same bits as the general path (forward's other branch),
  // where a bag's row is its table's vector plus the other table's empty bag (+0): here it is
  // that vector + 0.0f, which turns a -0 into +0 as that sum does. The general path runs both
  // tables over every bag, the cold table's bags of 0 or 1 ids taking its general pooling, and
  // sums the outputs. The cold table goes first, as there: an id out of range throws before
  // anything is written.
  void forward_one_hot(const BagBatch& bags, const MatrixView& o) const {
    const int64_t count = o.rows, d = dim();
    for (OneHotSide& side : sides_) {
      side.ids.resize(count);
      side.bag.resize(count);
    }
    // Branch-free: each id is written to both sides, and only its own side's count moves on.
    Id *hot_ids = sides_[0].ids.data(), *cold_ids = sides_[1].ids.data();
    uint32_t *hot_bag = sides_[0].bag.data(), *cold_bag = sides_[1].bag.data();
    int64_t hot = 0, cold = 0;
    for (int64_t b = 0; b < count; ++b) {
      const Id id = bags.ids[b];
      const int64_t row = hot_row(id);
      hot_ids[hot] = static_cast<Id>(row);
      hot_bag[hot] = static_cast<uint32_t>(b);
      cold_ids[cold] = id;
      cold_bag[cold] = static_cast<uint32_t>(b);
      hot += row >= 0;
      cold += row < 0;
    }
    sides_[0].count = hot;
    sides_[1].count = cold;
    if (identity_offsets_.size() < static_cast<size_t>(count + 1)) {
      identity_offsets_.resize(count + 1);
      std::iota(identity_offsets_.begin(), identity_offsets_.end(), uint32_t{0});
    }
    for (const int p : {1, 0}) {
      OneHotSide& side = sides_[p];
      if (side.count == 0) continue;
      const BagBatch one_each{std::span<const Id>(side.ids.data(), side.count),
                              std::span<const uint32_t>(identity_offsets_.data(), side.count + 1),
                              {}};
      side.out.resize(side.count * d);
      const MatrixView view{side.out.data(), side.count, d, d};
      (p == 0 ? hot_ : cold_)->forward(std::span(&one_each, 1), Pooling::Sum, std::span(&view, 1));
      kernels::scatter_rows(side.out.data(), std::span<const uint32_t>(side.bag.data(), side.count), d, o);
    }
  }

  // Every occurrence of the batch into the sketch, in bag order, then the batch's promotions
  // (hot_sketch.h); each row promoted starts as its value's cold vector.
  void update_sketch(const BagBatch& bags, Pooling pooling, const ConstMatrixView& grad) {
    promoted_.clear();
    for (int64_t b = 0; b < bags.batch_size(); ++b) {
      const uint32_t begin = bags.offsets[b], end = bags.offsets[b + 1];
      double norm = 0;
      if (grad_score_) {
        const float* g = grad.row(b);
        for (int64_t i = 0; i < dim(); ++i) norm += static_cast<double>(g[i]) * g[i];
        norm = std::sqrt(norm);
        if (pooling == Pooling::Mean && end > begin) norm /= end - begin;
      }
      for (uint32_t k = begin; k < end; ++k) {
        const double w = bags.weights.empty() ? 1.0 : std::abs(static_cast<double>(bags.weights[k]));
        sketch_->add(bags.ids[k], grad_score_ ? static_cast<float>(norm * w) : 1.0f);
      }
    }
    sketch_->promote(bags.ids, promoted_);
    if (promoted_.empty()) return;
    std::vector<Id> values;
    std::vector<int32_t> rows;
    for (const auto& [row, value] : promoted_) {
      rows.push_back(row);
      values.push_back(value);
    }
    std::vector<uint32_t> offsets(values.size() + 1);
    for (size_t i = 0; i < offsets.size(); ++i) offsets[i] = static_cast<uint32_t>(i);
    std::vector<float> vectors(values.size() * dim());
    const BagBatch one_each{values, offsets, {}};
    const MatrixView view{vectors.data(), static_cast<int64_t>(values.size()), dim(), dim()};
    cold_->forward(std::span(&one_each, 1), Pooling::Sum, std::span(&view, 1));
    Block hot = hot_->blocks().at(0);
    const int64_t state_width = hot.rows > 0 ? static_cast<int64_t>(hot.state.size()) / hot.rows : 0;
    for (size_t i = 0; i < rows.size(); ++i) {
      std::copy_n(vectors.data() + i * dim(), dim(), hot.weights.data() + rows[i] * dim());
      std::fill_n(hot.state.data() + rows[i] * state_width, state_width, optimizer_.initial_accumulator);
    }
  }

  std::string spec_;
  int64_t rows_;
  EmbeddingTablePtr hot_, cold_;
  std::optional<HotSketch> sketch_;
  bool grad_score_ = false;
  OptimizerConfig optimizer_;
  std::vector<std::pair<int32_t, Id>> promoted_;
  mutable SplitBags split_;
  mutable std::vector<float> hot_out_;
  // forward_one_hot's scratch: per table (0 hot, 1 cold), its ids (hot rows, or cold ids),
  // the bag each came from, and their vectors.
  struct OneHotSide {
    std::vector<Id> ids;
    std::vector<uint32_t> bag;
    std::vector<float> out;
    int64_t count = 0;
  };
  mutable OneHotSide sides_[2];
  mutable std::vector<uint32_t> identity_offsets_;  // 0, 1, 2, ...
};

}  // namespace

MethodEntry hot_method() {
  return {
      {"hot",
       "frequency-aware hybrid (CAFE): `rows` hot values get rows of their own, the rest share a cold table of any "
       "method (cold=NAME, its keys as cold.KEY=VALUE); hot values are prepare's most frequent (ids 1..rows, "
       "find=counts) or found while training by a HotSketch (find=sketch, slots, buckets, threshold, score=count|grad)",
       {"rows", "share", "cold", "cold.*", "find", "slots", "buckets", "threshold", "score"},
       false},
      [](const Spec& spec, const TableShape& shape) -> EmbeddingTablePtr {
        check_one_feature(spec, shape);
        hot_share(spec);
        const SketchSettings sketch = sketch_settings(spec);
        const Spec cold = cold_spec(spec);
        CEMBED_CHECK(spec_is_sized(cold), "bad spec '{}': its cold table '{}' has no size", spec.str(), cold.str());
        return std::make_unique<HotTable>(shape, spec, hot_rows(spec, shape), cold, sketch);
      },
      hot_bytes,
      hot_split,
      [](const Spec& spec) { return spec.has("rows") && spec_is_sized(cold_spec(spec)); },
      hot_min_bytes,
  };
}

}  // namespace cembed
