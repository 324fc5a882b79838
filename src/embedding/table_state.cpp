#include "embedding/table_state.h"

#include "util/check.h"

namespace cembed {

TableState::TableState(int64_t rows, int64_t width) : rows_(rows), width_(width) {
  CEMBED_CHECK(rows_ > 0 && width_ > 0, "table matrix of {} x {} floats", rows_, width_);
  weights_ = ZeroedArray(static_cast<size_t>(rows_ * width_));
}

std::span<float> TableState::weights() {
  CEMBED_CHECK(!mapped(), "table weights read in place from a model file are read-only");
  return weights_;
}

const float* TableState::weights() const {
  if (!mapped()) return weights_.data();
  CEMBED_CHECK(mapped_.precision == Precision::Fp32, "table weights read in place in {} are read through view()",
               mapped_.precision == Precision::Fp16 ? "fp16" : "int8");
  return static_cast<const float*>(mapped_.values);
}

void TableState::use_mapped_weights(std::span<const float> weights) {
  use_mapped_weights(WeightView{Precision::Fp32, weights.data(), nullptr, static_cast<int64_t>(weights.size()), 0});
}

void TableState::use_mapped_weights(const WeightView& weights) {
  CEMBED_CHECK(weights.size == rows_ * width_ && weights.values != nullptr,
               "mapped weights: {} floats for a {} x {} matrix", weights.size, rows_, width_);
  CEMBED_CHECK(weights.precision != Precision::Int8 || (weights.params != nullptr && weights.group >= 1),
               "mapped weights: int8 without scales");
  mapped_ = weights;
  weights_.release();
  AlignedVector<float>().swap(state_);
  optimizer_set_ = false;
}

void TableState::set_optimizer(const OptimizerConfig& config) {
  CEMBED_CHECK(!mapped(), "table weights read in place from a model file cannot be trained");
  optimizer_ = config;
  optimizer_set_ = true;
  state_.assign(optimizer_state_floats(config.kind, rows_, width_), config.initial_accumulator);
}

void TableState::update(const kernels::RowGradients& grads, float lr) {
  CEMBED_CHECK(!mapped(), "table weights read in place from a model file cannot be trained");
  kernels::apply_row_updates(weights_.data(), state_.data(), rows_, width_, grads, optimizer_, lr);
}

void TableState::update(const kernels::RowBags& bags, Pooling pooling, ConstMatrixView grad, float lr,
                        kernels::UpdateScratch& scratch) {
  CEMBED_CHECK(!mapped(), "table weights read in place from a model file cannot be trained");
  kernels::coalesce_and_apply(bags, pooling, grad, width_, weights_.data(), state_.data(), rows_, optimizer_, lr,
                              scratch);
}

void TableState::save_weights(BinaryWriter& out, bool with_shape) const {
  if (with_shape) {
    out.i64(rows_);
    out.i64(width_);
  }
  out.floats({weights(), static_cast<size_t>(rows_ * width_)});
}

void TableState::load_weights(BinaryReader& in, bool with_shape, std::string_view what) {
  if (with_shape) {
    const int64_t rows = in.i64("table rows"), width = in.i64("table width");
    CEMBED_CHECK(rows == rows_ && width == width_, "{}: {} is {}x{} in file, {}x{} expected", in.context(), what, rows,
                 width, rows_, width_);
  }
  in.floats_into(weights(), "table weights");
}

void save_table_spec(BinaryWriter& out, const std::string& spec) { out.str(spec); }

void load_table_spec(BinaryReader& in, const std::string& spec) {
  const std::string s = in.str("table spec");
  CEMBED_CHECK(s == spec, "{}: table spec '{}' in file, '{}' expected", in.context(), s, spec);
}

void save_optimizer_kind(BinaryWriter& out, OptimizerKind kind) { out.u32(static_cast<uint32_t>(kind)); }

void load_optimizer_kind(BinaryReader& in, OptimizerKind configured, std::string_view what) {
  const uint32_t kind = in.u32((std::string(what) + " kind").c_str());
  constexpr auto kLast = static_cast<uint32_t>(OptimizerKind::Gradient);
  CEMBED_CHECK(kind <= kLast, "{}: unknown {} kind {} in file (0 sgd, 1 adagrad, 2 rowwise_adagrad)", in.context(),
               what, kind);
  CEMBED_CHECK(kind == static_cast<uint32_t>(configured), "{}: {} in file is {}, configured {}", in.context(), what,
               optimizer_kind_name(static_cast<OptimizerKind>(kind)), optimizer_kind_name(configured));
}

void save_optimizer_state(BinaryWriter& out, std::span<const TableState> matrices) {
  save_optimizer_kind(out, matrices.empty() ? OptimizerKind::Sgd : matrices[0].optimizer_.kind);
  for (const TableState& m : matrices) out.floats(m.state_);
}

void load_optimizer_state(BinaryReader& in, std::span<TableState> matrices) {
  const OptimizerKind configured = matrices.empty() ? OptimizerKind::Sgd : matrices[0].optimizer_.kind;
  load_optimizer_kind(in, configured, "table optimizer");
  for (TableState& m : matrices) {
    m.state_.resize(optimizer_state_floats(configured, m.rows_, m.width_));
    in.floats_into(m.state_, "optimizer state");
  }
}

}  // namespace cembed
