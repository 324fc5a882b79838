// export_model: a checkpoint's model -> .cem (model_file.h), without optimizer state.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cembed/inference.h"
#include "cembed/trainer.h"
#include "data/vocabulary_file.h"
#include "inference/model_file.h"
#include "inference/quantized.h"
#include "util/check.h"

namespace cembed {
namespace {

// The folder's vocabulary.bin payload (checked against the model's features) and what
// prepare.json says of its text format.
nlohmann::json vocabulary_of(const std::string& dir, const MemoryPlan& plan, std::string& payload) {
  const std::string vocab_path = dir + "/vocabulary.bin", stats_path = dir + "/prepare.json";
  CEMBED_CHECK(std::filesystem::is_regular_file(vocab_path),
               "{}: no vocabulary.bin (give the folder `cembed prepare` wrote, not with --hash-buckets)", dir);
  payload = read_vocabulary_payload(vocab_path);
  std::vector<std::string> names;
  for (const FeatureInfo& f : plan.features) names.push_back(f.name);
  std::vector<FlatMap<Id>> vocab;
  std::vector<int64_t> cardinality;
  parse_vocabulary(payload, vocab_path, names, vocab, cardinality);
  for (size_t f = 0; f < names.size(); ++f) {
    CEMBED_CHECK(cardinality[f] == plan.features[f].cardinality,
                 "{}: feature '{}' has {} values in the vocabulary, the model {}: not the model's vocabulary",
                 vocab_path, names[f], cardinality[f], plan.features[f].cardinality);
  }
  nlohmann::json stats;
  std::ifstream in(stats_path);
  CEMBED_CHECK(in.good(), "{}: cannot read prepare.json (the text format of the vocabulary's data)", dir);
  try {
    stats = nlohmann::json::parse(in);
    return {{"format", stats.at("format").get<std::string>()}, {"log_dense", stats.value("log_dense", true)}};
  } catch (const nlohmann::json::exception& e) {
    fail("{}: corrupt prepare.json: {}", stats_path, e.what());
  }
}

}  // namespace

nlohmann::json export_model(const LoadedCheckpoint& ck, const std::string& path, const ExportOptions& options) {
  Dlrm& model = *ck.model;
  EmbeddingCollection& tables = model.embeddings();
  std::vector<SectionData> sections;
  nlohmann::json meta;
  meta["format"] = "cembed model";
  meta["precision"] = precision_name(options.precision);
  meta["model"] = model.config().to_json();
  meta["plan"] = tables.plan().to_json();
  meta["source"] = {{"checkpoint", ck.path}, {"step", ck.state.step}, {"train_data", ck.train_data}};

  BinaryWriter mlp;
  for (Mlp* m : {&model.bottom(), &model.top()}) {
    for (auto p : m->parameters()) mlp.floats(p);
  }
  sections.push_back({SectionKind::Mlp, 0, mlp.bytes()});
  nlohmann::json table_meta = nlohmann::json::array();
  for (int t = 0; t < tables.num_tables(); ++t) {
    EmbeddingTable& table = tables.table(t);
    CEMBED_CHECK(!table.signature_kind() || table.auxiliary_bytes() > 0,
                 "{}: table {} ({}) has no block placement (no signatures attached): cannot be served", ck.path, t,
                 table.spec());
    const auto blocks = table.parameter_blocks();
    const auto widths = table.parameter_row_widths();
    BinaryWriter w;
    w.u32(static_cast<uint32_t>(blocks.size()));
    nlohmann::json block_meta = nlohmann::json::array();
    for (size_t b = 0; b < blocks.size(); ++b) {
      encode_block(w, blocks[b], widths[b], options.precision,
                   fmt::format("{}: table {} ({}) block {}", ck.path, t, table.spec(), b));
      block_meta.push_back({{"floats", blocks[b].size()}, {"row_width", widths[b]}});
    }
    sections.push_back({SectionKind::TableParameters, static_cast<uint32_t>(t), w.bytes()});
    BinaryWriter serving;
    table.save_serving_data(serving);
    sections.push_back({SectionKind::TableServing, static_cast<uint32_t>(t), serving.bytes()});
    table_meta.push_back({{"spec", table.spec()},
                          {"parameter_bytes_fp32", table.parameter_bytes()},
                          {"serving_bytes", serving.bytes().size()},
                          {"blocks", block_meta}});
  }
  meta["tables"] = table_meta;
  if (!options.vocabulary_dir.empty()) {
    std::string payload;
    meta["vocabulary"] = vocabulary_of(options.vocabulary_dir, tables.plan(), payload);
    sections.push_back({SectionKind::Vocabulary, 0, payload});
  }
  sections.insert(sections.begin(), {SectionKind::Metadata, 0, meta.dump()});
  write_model_file(path, sections);
  return meta;
}

}  // namespace cembed
