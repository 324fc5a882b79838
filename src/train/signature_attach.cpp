// LMA signatures for a new model's tables: the sidecar beside the training data, or computed.
#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cembed/signatures.h"
#include "train/train_run.h"
#include "util/check.h"

namespace cembed::train_run {

nlohmann::json attach_signatures(EmbeddingCollection& emb, const Dataset& train_data, bool progress) {
  nlohmann::json out = nlohmann::json::array();
  for (SignatureKind kind : emb.needed_signatures()) {
    const std::string path = signature_path(train_data.path(), kind);
    const auto t0 = Clock::now();
    ValueSignatures sigs;
    std::string source = path;
    if (std::filesystem::exists(path)) {
      sigs = load_signatures(path);
      CEMBED_CHECK(sigs.num_features() == train_data.schema().num_sparse(),
                   "{}: signatures of {} features, the training data {} has {}", path, sigs.num_features(),
                   train_data.path(), train_data.schema().num_sparse());
      for (int f = 0; f < sigs.num_features(); ++f) {
        CEMBED_CHECK(sigs.offset[f + 1] - sigs.offset[f] == train_data.schema().sparse[f].cardinality,
                     "{}: feature {} has {} values, the training data {} has {}", path, f,
                     sigs.offset[f + 1] - sigs.offset[f], train_data.path(), train_data.schema().sparse[f].cardinality);
      }
    } else {
      SignatureConfig sc;
      sc.kind = kind;
      sigs = compute_signatures(train_data, sc);
      source = "computed from " + train_data.path();
    }
    emb.attach_signatures(sigs);
    const double seconds = seconds_since(t0);
    if (progress) fmt::print(stderr, "{} signatures: {} ({:.2f} s)\n", signature_kind_name(kind), source, seconds);
    out.push_back({{"kind", signature_kind_name(kind)},
                   {"source", source},
                   {"seconds", seconds},
                   {"num_hashes", sigs.config.num_hashes},
                   {"sample", sigs.config.sample}});
  }
  return out;
}

}  // namespace cembed::train_run
