// Minhash signatures of categorical values, for LMA (SCMA paper; Desai et al.).
//
// Values are numbered globally across features: value v of feature f is offset[f] + v.
// A value's set is
//   rows:     the training rows it appears in (over all rows, or a seeded sample);
//   context:  the values of the other features in those rows (so two values of the same
//             feature can share memory, which row sets never allow).
// Its signature is `num_hashes` minhashes of that set, computed by densified one-permutation
// hashing (Shrivastava 2017): each element is hashed once (O(1) per occurrence for row
// sets), its hash picks a bin and competes for that bin's minimum; empty bins borrow from
// the next non-empty bin to the right, rehashed with the distance. Each minimum is kept
// as a 16-bit hash (b-bit minhash): two values agree on a minhash with probability about
// J + (1 - J) / 2^16 for Jaccard similarity J.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "cembed/bags.h"

namespace cembed {

class Dataset;

enum class SignatureKind { Rows, Context };
SignatureKind parse_signature_kind(const std::string& name);  // "rows" | "context"
std::string signature_kind_name(SignatureKind kind);

struct SignatureConfig {
  SignatureKind kind = SignatureKind::Rows;
  int num_hashes = 16;
  double sample = 1.0;  // fraction of rows used (seeded)
  uint64_t seed = 0x5c3a;
};

struct ValueSignatures {
  SignatureConfig config;
  std::vector<int64_t> offset;    // num_features + 1
  std::vector<uint16_t> minhash;  // num_values() x num_hashes
  std::vector<uint8_t> present;   // 1 when the value's set is not empty

  int num_features() const { return static_cast<int>(offset.size()) - 1; }
  int64_t num_values() const { return offset.empty() ? 0 : offset.back(); }
  // Signature of value v of feature f, or nullptr when its set is empty.
  const uint16_t* of(int f, Id v) const {
    const int64_t g = offset[f] + v;
    return present[g] ? minhash.data() + g * config.num_hashes : nullptr;
  }
};

// One pass over the training dataset (threads split the features).
ValueSignatures compute_signatures(const Dataset& data, const SignatureConfig& config);
// The same signatures from explicit sets of 64-bit elements (row numbers, or for context
// sets the global value number of each co-occurring value); `cardinalities` gives the
// features. Used by tests to check the streaming pass, and for synthetic pairs of sets.
ValueSignatures signatures_from_sets(const std::vector<std::vector<uint64_t>>& sets,
                                     const std::vector<int64_t>& cardinalities, const SignatureConfig& config);

// The same pass over columns held in memory: features[f] gives feature f's bags of every
// training row (all features the same number of rows; one-hot columns are bags of one id).
// Equal to compute_signatures on a dataset of those columns (the Python package's
// cembed.Signatures.from_columns). Ids out of range and malformed offsets raise cembed::Error.
ValueSignatures signatures_from_bags(std::span<const BagBatch> features, const std::vector<int64_t>& cardinalities,
                                     const SignatureConfig& config);

// Sidecar file next to a dataset: "data/train.cds" -> "data/train.rows.sig".
std::string signature_path(const std::string& dataset_path, SignatureKind kind);
// Framed, checksummed (file_format.h), written atomically.
void save_signatures(const std::string& path, const ValueSignatures& sigs);
ValueSignatures load_signatures(const std::string& path);

}  // namespace cembed
