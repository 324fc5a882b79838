// EmbeddingTable: the one interface behind which every embedding method sits.
//
// A table serves one or more categorical features (num_features(); methods with one
// array shared by every feature, like LMA and ROBE, serve all of them). For a batch of B
// rows it maps the bags of each feature it serves to B pooled vectors of dim() floats:
//
//   out[f].row(b) = pool_{k in bag b of feature f} weight_k * e_f(ids[k])
//
// where pool is a sum, or a sum divided by the bag length for Pooling::Mean (an empty bag
// gives zeros). backward() receives d loss / d out and updates the parameters in place
// with the optimizer given to set_optimizer() (fused: no dense table gradient is built).
// Gradients of every occurrence of the same parameter in the batch are added before the
// optimizer sees them.
//
// Threads: a table is not reentrant. forward() is const but fills scratch buffers the table
// keeps (mutable), and backward() updates the parameters: call one table from one thread
// at a time. Different tables may run at the same time (EmbeddingCollection runs its tables
// in parallel). Inside a call a table may use OpenMP threads (set_num_threads, trainer.h).
// Results do not depend on the thread count: the determinism contract is stated once, in
// docs/reliability.md.
//
// Methods are added in-tree only (src/embedding: RowTable, PartsTableOf and the registry are
// internal; docs/architecture.md, "How to add an embedding method"). Contract for them:
// forward() and backward() are deterministic for a given input, whatever the thread count;
// ids outside [0, num_values(f)) raise cembed::Error.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cembed/bags.h"
#include "cembed/optimizer.h"
#include "cembed/signatures.h"
#include "cembed/weight_view.h"

namespace cembed {

class BinaryWriter;  // serialisation of models (internal: src/util/binary_io.h)
class BinaryReader;

// What a table is built for: the features it serves and the shape of each vector.
struct TableShape {
  int64_t dim = 16;
  std::vector<int64_t> cardinalities;  // one entry per served feature
};

class EmbeddingTable {
 public:
  virtual ~EmbeddingTable() = default;

  // The factory spec that rebuilds this table (with its sizes), e.g. "hash:rows=4096".
  virtual std::string spec() const = 0;
  virtual std::string method() const = 0;
  int64_t dim() const { return shape_.dim; }
  int num_features() const { return static_cast<int>(shape_.cardinalities.size()); }
  int64_t num_values(int feature) const { return shape_.cardinalities.at(feature); }
  const TableShape& shape() const { return shape_; }

  // Exact bytes of trainable parameters and of optimizer state, reported apart.
  virtual int64_t parameter_bytes() const = 0;
  virtual int64_t optimizer_bytes() const = 0;
  // Bytes of other per-table data that must be stored with the model (hash seeds are not
  // counted; LMA signatures are).
  virtual int64_t auxiliary_bytes() const { return 0; }

  // Methods that place values by their data (LMA) need minhash signatures of the values
  // they serve: the kind they need (none for every other method), and attach_signatures()
  // before the first forward(). features[i] is the index in `sigs` of served feature i.
  virtual std::optional<SignatureKind> signature_kind() const { return std::nullopt; }
  virtual void attach_signatures(const ValueSignatures& sigs, std::span<const int> features) {}

  // Draws initial parameters from `seed` (deterministic).
  virtual void init(uint64_t seed) = 0;
  // Chooses the optimizer and allocates its state (zeroed / initial accumulator).
  virtual void set_optimizer(const OptimizerConfig& config) = 0;

  // bags and out have num_features() entries; out[f] is B x dim().
  virtual void forward(std::span<const BagBatch> bags, Pooling pooling, std::span<const MatrixView> out) const = 0;
  // grad_out[f] is B x dim(): d loss / d out[f]. Applies the update with rate `lr`.
  virtual void backward(std::span<const BagBatch> bags, Pooling pooling, std::span<const ConstMatrixView> grad_out,
                        float lr) = 0;

  // Parameters and optimizer state; load() requires the same spec and shape.
  virtual void save(BinaryWriter& out) const = 0;
  virtual void load(BinaryReader& in) = 0;

  // Every parameter matrix (rows x width floats, row-major) with its optimizer state, in a
  // fixed order. state holds optimizer_state_floats(kind, rows, width) floats (empty for
  // SGD and before set_optimizer; for OptimizerKind::Gradient, the accumulated gradient of
  // `weights`, element for element). The Python package views these without copies.
  struct Block {
    std::span<float> weights;
    std::span<float> state;
    int64_t rows = 0, width = 0;
  };
  virtual std::vector<Block> blocks() = 0;
  // All trainable parameters, flattened in the order of blocks() (tests and reference exports).
  std::vector<std::span<float>> parameter_blocks() {
    std::vector<std::span<float>> out;
    for (const Block& b : blocks()) out.push_back(b.weights);
    return out;
  }

  // Floats per row of each of blocks() (a shared array: its block), which divides the
  // block's size: an exported model is quantized in groups of whole rows (inference.h).
  std::vector<int64_t> parameter_row_widths() {
    std::vector<int64_t> out;
    for (const Block& b : blocks()) out.push_back(b.width);
    return out;
  }

  // Inference from an exported model: the table reads the weights of blocks() in place
  // from `weights` (one view per block, each of its block's size, in read-only memory that
  // outlives the table: the model file's mapping; fp32, fp16 or int8, decoded row by row as
  // lookups read them) and releases its own. Only forward() may be called afterwards
  // (blocks(), init(), load() and training refuse).
  virtual void use_mapped_weights(std::span<const WeightView> weights) = 0;

  // What a table needs to serve besides its parameters, without optimizer state (lma's
  // block placement; nothing for most methods): written into exported models (inference.h)
  // and read back, checked, into a table built from the same spec and shape. `in` reads
  // the model file's mapping, which outlives the table: a table may keep views into it
  // rather than copies (lma's placement is read in place).
  virtual void save_serving_data(BinaryWriter& out) const {}
  virtual void load_serving_data(BinaryReader& in) {}

  // The dense exchange of data-parallel jobs (docs/distributed.md), offered by methods with
  // one flat parameter array (robe, lma): its length in floats (0: not offered);
  // add_gradient() adds the batch's gradient of that array into `grad` (no update);
  // apply_gradient() applies the optimizer to the rows of `grad` that are not all zero, as
  // backward() applies it to the rows a batch touches (a touched row whose gradient sums to
  // zero is left unchanged by every optimizer, so the two agree).
  virtual int64_t dense_gradient_size() const { return 0; }
  virtual void add_gradient(std::span<const BagBatch> bags, Pooling pooling, std::span<const ConstMatrixView> grad_out,
                            std::span<float> grad);
  virtual void apply_gradient(std::span<const float> grad, float lr);

 protected:
  explicit EmbeddingTable(TableShape shape) : shape_(std::move(shape)) {}
  // Raises cembed::Error naming the first of `ids` that is not a value of feature f
  // (>= num_values(f)); all in range costs one branch-free pass.
  void check_ids(int f, std::span<const Id> ids) const;
  TableShape shape_;
};

using EmbeddingTablePtr = std::unique_ptr<EmbeddingTable>;

}  // namespace cembed
