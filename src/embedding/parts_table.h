// PartsTable: shared machinery for methods that compute a value's vector from one row of
// each of a few small tables ("parts"): compositional embeddings (qr, cp, path) and MEmCom.
//
// A subclass says how a value maps to one row per part (map_rows), how those rows combine
// into the value's dim() floats (combine), and the gradient of that combination with
// respect to each row (part_gradients). Everything else lives here: id checks, forward
// (combine per id, then pool, so multi-valued bags are right), backward (per-id gradient,
// chain rule into every part, coalesced per row, optimizer update fused per part), state,
// bytes and I/O.
#pragma once

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "cembed/embedding_table.h"
#include "embedding/table_state.h"
#include "kernels/embedding_kernels.h"
#include "kernels/weight_reader.h"
#include "util/random.h"

namespace cembed {

class PartsTable : public EmbeddingTable {
 public:
  struct Part {
    int64_t rows = 0;
    int64_t width = 0;  // floats per row
  };

  int64_t parameter_bytes() const override;
  int64_t optimizer_bytes() const override;
  void init(uint64_t seed) override;
  void set_optimizer(const OptimizerConfig& config) override;
  void forward(std::span<const BagBatch> bags, Pooling pooling, std::span<const MatrixView> out) const override;
  void backward(std::span<const BagBatch> bags, Pooling pooling, std::span<const ConstMatrixView> grad_out,
                float lr) override;
  void save(BinaryWriter& out) const override;
  void load(BinaryReader& in) override;
  std::vector<Block> blocks() override;
  void use_mapped_weights(std::span<const WeightView> weights) override;

  int num_parts() const { return static_cast<int>(parts_.size()); }
  const Part& part(int j) const { return parts_[j]; }
  // Row of each part for `id` (tests check complementarity through this).
  void rows_of(Id id, int64_t* rows) const { map_rows(id, rows); }
  // forward() computed the plain way, the specification its batch kernels match bit for bit
  // (tests/cpp/test_parts_forward.cpp): each id's vector by the method's per-value combine,
  // pooled in bag order (the first vector times its weight, then fma(w, e, sum), then the
  // mean's scale).
  void forward_reference(const BagBatch& bags, Pooling pooling, MatrixView out) const;

 protected:
  PartsTable(TableShape shape, std::vector<Part> parts);

  // rows[j] = row of part j for `id` (id already checked to be < num_values(0)).
  virtual void map_rows(Id id, int64_t* rows) const = 0;
  // Fills part j's initial weights.
  virtual void init_part(int j, Rng& rng, std::span<float> weights) const = 0;
  // Batch forms of map_rows / combine / part_gradients; PartsTableOf<Derived> implements
  // them with the derived class's per-value functions inlined.
  //   rows[j][k]: part j's row for ids[k];  g: ids x dim;  grads[j]: ids x width_j
  virtual void map_batch(std::span<const Id> ids, int64_t* const* rows) const = 0;
  // out.row(b) = pool over bag b of weight_k * e(ids[k]) (the forward pass, fused).
  virtual void combine_pooled(const BagBatch& bags, const int64_t* const* rows, Pooling pooling,
                              MatrixView out) const = 0;
  virtual void combine_pooled_reference(const BagBatch& bags, const int64_t* const* rows, Pooling pooling,
                                        MatrixView out) const = 0;
  virtual void gradients_batch(int64_t count, const int64_t* const* rows, const float* g,
                               float* const* grads) const = 0;
  // Part j's weights in fp32 (training; refuses an fp16/int8 mapping) and as lookups read
  // them (any precision: rows decoded through kernels::read_weights).
  const float* part_weights(int j) const { return matrices_[j].weights(); }
  WeightView part_view(int j) const { return matrices_[j].view(); }
  // For methods that rebuild a part while training (cce's reclustering): its weights,
  // writable, and its optimizer state back to the initial accumulator.
  std::span<float> mutable_part_weights(int j) { return matrices_[j].weights(); }
  void reset_part_optimizer(int j) {
    if (matrices_[j].has_optimizer()) matrices_[j].reset_optimizer_state();
  }

 private:
  void map_ids(const BagBatch& bags) const;
  void check_output(const BagBatch& bags, const MatrixView& out) const;

  std::vector<Part> parts_;
  std::vector<TableState> matrices_;  // one per part: rows x width
  // Scratch reused across batches.
  mutable std::vector<std::vector<int64_t>> mapped_;  // per part, one row per id
  std::vector<float> vectors_;                        // ids x dim: per-id gradients
  std::vector<uint32_t> identity_offsets_;            // 0, 1, 2, ...
  std::vector<std::vector<float>> part_grads_;        // per part, ids x width
  std::vector<kernels::RowGradients> coalesced_;
};

// Implements the batch hooks from the derived class's inline per-value functions:
//   void map_rows(Id, int64_t* rows) const
//   void combine(const float* const* row, float* e) const
//   void part_gradients(const float* const* row, const float* g, float* const* grad) const
// where combine sets e (dim floats) from one row of each part and part_gradients sets
// grad[j] = d <g, e> / d row[j]. A derived class may also define
//   void combine_many(int64_t count, const int64_t* const* rows, float* out, int64_t stride) const
// (out + k * stride = e of the k-th id, for k in [0, count)), a batch form of combine with
// the same bits (the forward grid test checks it); the default calls combine per id.
template <typename Derived>
class PartsTableOf : public PartsTable {
 protected:
  using PartsTable::PartsTable;
  static constexpr int kMaxParts = 8;

  void map_rows(Id id, int64_t* rows) const override { self().map_value(id, rows); }

  void map_batch(std::span<const Id> ids, int64_t* const* rows) const override {
    const int parts = num_parts();
    int64_t r[kMaxParts] = {};
    for (size_t k = 0; k < ids.size(); ++k) {
      self().map_value(ids[k], r);
      for (int j = 0; j < parts; ++j) rows[j][k] = r[j];
    }
  }

  // fp32 parts only (a trained table, or an fp32 model read in place).
  void combine_many(int64_t count, const int64_t* const* rows, float* out, int64_t stride) const {
    const int parts = num_parts();
    const float* row[kMaxParts];
    WeightView view[kMaxParts];
    for (int j = 0; j < parts; ++j) view[j] = part_view(j);
    for (int64_t k = 0; k < count; ++k) {
      prefetch(view, rows, k + kPrefetch, count);
      for (int j = 0; j < parts; ++j) row[j] = part_weights(j) + rows[j][k] * part(j).width;
      self().combine(row, out + k * stride);
    }
  }

  // Every id's vector by the batch form, then pooled as combine_pooled_reference pools.
  // Parts read in place from an fp16/int8 model go through the reference, which decodes
  // each row as it reads it: the same bits as the model decoded at load (fp32), which
  // takes the batch form.
  void combine_pooled(const BagBatch& bags, const int64_t* const* rows, Pooling pooling,
                      MatrixView out) const override {
    for (int j = 0; j < num_parts(); ++j) {
      if (part_view(j).precision != Precision::Fp32) return combine_pooled_reference(bags, rows, pooling, out);
    }
    const int64_t d = dim();
    const int64_t count = static_cast<int64_t>(bags.ids.size());
    if (one_id_per_bag(bags.offsets, bags.weights)) {  // bag b is id b, weight 1: the vectors are the output
      self().combine_many(count, rows, out.data, out.stride);
      if (pooling == Pooling::Mean) scale_rows(out, 1.0f);  // the reference's 1 / len, so its bits
      return;
    }
    thread_local std::vector<float> e;
    e.resize(count * d);
    self().combine_many(count, rows, e.data(), d);
    const bool weighted = !bags.weights.empty();
    for (int64_t b = 0; b < bags.batch_size(); ++b) {
      float* dst = out.row(b);
      const uint32_t begin = bags.offsets[b], end = bags.offsets[b + 1];
      if (begin == end) std::fill(dst, dst + d, 0.0f);
      for (uint32_t k = begin; k < end; ++k) {
        const float w = weighted ? bags.weights[k] : 1.0f;
        if (k == begin) {
          std::copy(e.data() + k * d, e.data() + (k + 1) * d, dst);
          if (w != 1.0f) {
            for (int64_t i = 0; i < d; ++i) dst[i] *= w;
          }
        } else {
          accumulate(dst, e.data() + k * d, w, d);
        }
      }
      if (pooling == Pooling::Mean && end > begin) {
        const float s = 1.0f / static_cast<float>(end - begin);
        for (int64_t i = 0; i < d; ++i) dst[i] *= s;
      }
    }
  }

  // One id at a time through combine (the forward pass before the batch kernels), each
  // part's row read through kernels::read_weights (in place for fp32, decoded for fp16/int8).
  void combine_pooled_reference(const BagBatch& bags, const int64_t* const* rows, Pooling pooling,
                                MatrixView out) const override {
    const int parts = num_parts();
    const int64_t d = dim();
    const int64_t count = static_cast<int64_t>(bags.ids.size());
    const bool weighted = !bags.weights.empty();
    thread_local std::vector<float> e, decoded;  // decoded: one row of each part (fp16, int8)
    e.resize(d);
    const float* row[kMaxParts];
    WeightView view[kMaxParts];
    int64_t at[kMaxParts + 1] = {};
    for (int j = 0; j < parts; ++j) {
      view[j] = part_view(j);
      at[j + 1] = at[j] + (view[j].precision == Precision::Fp32 ? 0 : part(j).width);
    }
    decoded.resize(at[parts]);
    for (int64_t b = 0; b < bags.batch_size(); ++b) {
      float* dst = out.row(b);
      const uint32_t begin = bags.offsets[b], end = bags.offsets[b + 1];
      if (begin == end) std::fill(dst, dst + d, 0.0f);
      for (uint32_t k = begin; k < end; ++k) {
        prefetch(view, rows, k + kPrefetch, count);
        for (int j = 0; j < parts; ++j) {
          row[j] = kernels::read_weights(view[j], rows[j][k] * part(j).width, part(j).width, decoded.data() + at[j]);
        }
        const float w = weighted ? bags.weights[k] : 1.0f;
        if (k == begin) {
          self().combine(row, dst);  // the bag's first vector is written in place (no zero fill to read back)
          if (w != 1.0f) {
            for (int64_t i = 0; i < d; ++i) dst[i] *= w;
          }
        } else {
          self().combine(row, e.data());
          accumulate(dst, e.data(), w, d);
        }
      }
      if (pooling == Pooling::Mean && end > begin) {
        const float s = 1.0f / static_cast<float>(end - begin);
        for (int64_t i = 0; i < d; ++i) dst[i] *= s;
      }
    }
  }

  void gradients_batch(int64_t count, const int64_t* const* rows, const float* g, float* const* grads) const override {
    const int parts = num_parts();
    const int64_t d = dim();
    const float* row[kMaxParts];
    float* grad[kMaxParts];
    WeightView view[kMaxParts];
    for (int j = 0; j < parts; ++j) view[j] = part_view(j);
    for (int64_t k = 0; k < count; ++k) {
      prefetch(view, rows, k + kPrefetch, count);
      for (int j = 0; j < parts; ++j) {
        row[j] = part_weights(j) + rows[j][k] * part(j).width;
        grad[j] = grads[j] + k * part(j).width;
      }
      self().part_gradients(row, g + k * d, grad);
    }
  }

  static constexpr int64_t kPrefetch = 8;  // ids ahead: hides cache misses on the larger parts

  // Calls f(std::integral_constant<int, D>{}) when d is one of the dims with a fixed-size
  // kernel (4, 8, 16, 32, 64) and returns true; false otherwise.
  template <typename F>
  static bool with_fixed_dim(int64_t d, F&& f) {
    switch (d) {
      case 4:
        return f(std::integral_constant<int, 4>{}), true;
      case 8:
        return f(std::integral_constant<int, 8>{}), true;
      case 16:
        return f(std::integral_constant<int, 16>{}), true;
      case 32:
        return f(std::integral_constant<int, 32>{}), true;
      case 64:
        return f(std::integral_constant<int, 64>{}), true;
      default:
        return false;
    }
  }

 private:
  // fma spelt out (release builds contracted w * e + dst to it already; -O1 builds do not).
  static void accumulate(float* __restrict dst, const float* __restrict e, float w, int64_t d) {
    for (int64_t i = 0; i < d; ++i) dst[i] = std::fma(w, e[i], dst[i]);
  }
  static void scale_rows(MatrixView out, float s) {
    for (int64_t b = 0; b < out.rows; ++b) {
      float* dst = out.row(b);
      for (int64_t i = 0; i < out.cols; ++i) dst[i] *= s;
    }
  }
  void prefetch(const WeightView* view, const int64_t* const* rows, int64_t k, int64_t count) const {
    if (k >= count) return;
    for (int j = 0; j < num_parts(); ++j)
      __builtin_prefetch(kernels::weight_address(view[j], rows[j][k] * part(j).width));
  }
  const Derived& self() const { return static_cast<const Derived&>(*this); }
};

}  // namespace cembed
