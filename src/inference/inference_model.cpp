// InferenceModel: a .cem file opened, validated and rebuilt into a Dlrm for scoring.
#include <cmath>
#include <nlohmann/json.hpp>

#include "cembed/factory.h"
#include "cembed/inference.h"
#include "cembed/spec.h"
#include "data/formats/flat_map.h"
#include "data/formats/text_formats.h"
#include "data/vocabulary_file.h"
#include "inference/model_file.h"
#include "inference/quantized.h"
#include "util/binary_io.h"
#include "util/check.h"

namespace cembed {

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::Fp32;
  if (name == "fp16") return Precision::Fp16;
  if (name == "int8") return Precision::Int8;
  fail("unknown precision '{}' (fp32, fp16 or int8)", name);
}

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::Fp32:
      return "fp32";
    case Precision::Fp16:
      return "fp16";
    case Precision::Int8:
      return "int8";
  }
  return "?";
}

struct InferenceModel::State {
  explicit State(ModelFile f) : file(std::move(f)) {}
  ModelFile file;
  nlohmann::json meta;
  Precision precision = Precision::Fp32;
  std::unique_ptr<Dlrm> model;
  std::vector<FlatMap<Id>> vocab;  // empty without a vocabulary
  std::string text_format;
  bool log_dense = true;
  std::unique_ptr<RowParser> parser;  // made at the first line
  ParsedRow parsed;
  std::vector<Id> row_ids;
};

namespace {

// Every MLP parameter from its section, checked finite.
void read_mlps(const ModelFile& file, Dlrm& model) {
  const std::string_view bytes = file.section(SectionKind::Mlp);
  BinaryReader r(bytes.data(), bytes.size(), file.path());
  for (Mlp* m : {&model.bottom(), &model.top()}) {
    for (auto p : m->parameters()) {
      r.floats_into(p, "MLP parameters");
      for (float x : p) CEMBED_CHECK(std::isfinite(x), "{}: an MLP parameter is {}", file.path(), x);
    }
  }
  r.expect_end();
}

// Table t's parameters and serving data from their sections, into a table the factory
// built from the plan's spec: every size must be the one the spec implies. Blocks are read
// in place from the mapping in the file's precision (the table's own weights released: the
// file's pages are shared by every process that maps it); `decode`: fp16 and int8 blocks
// are dequantized into the table instead.
void read_table(const ModelFile& file, Precision precision, int t, EmbeddingTable& table, bool decode) {
  const std::string what = fmt::format("{}: table {} ({})", file.path(), t, table.spec());
  const std::string_view params = file.section(SectionKind::TableParameters, t);
  BinaryReader r(params.data(), params.size(), what);
  auto blocks = table.parameter_blocks();
  const auto widths = table.parameter_row_widths();
  const uint32_t n = r.u32("block count");
  CEMBED_CHECK(n == blocks.size(), "{}: {} parameter blocks in the file, the spec implies {}", what, n, blocks.size());
  const bool in_place = precision == Precision::Fp32 || !decode;
  std::vector<WeightView> mapped;
  for (size_t b = 0; b < blocks.size(); ++b) {
    const std::string block = fmt::format("block {}", b);
    if (in_place) {
      mapped.push_back(view_block(r, static_cast<int64_t>(blocks[b].size()), widths[b], precision, block));
    } else {
      decode_block(r, blocks[b], widths[b], precision, block);
    }
  }
  r.expect_end();
  if (in_place) table.use_mapped_weights(mapped);
  const std::string_view serving = file.section(SectionKind::TableServing, t);
  BinaryReader s(serving.data(), serving.size(), what);
  table.load_serving_data(s);
  s.expect_end();
  CEMBED_CHECK(!table.signature_kind() || table.auxiliary_bytes() > 0, "{}: no block placement in the file", what);
}

}  // namespace

InferenceModel::InferenceModel(std::unique_ptr<State> state) : s_(std::move(state)) {}
InferenceModel::~InferenceModel() = default;

std::unique_ptr<InferenceModel> InferenceModel::open(const std::string& path, TableReading reading) {
  auto s = std::make_unique<State>(ModelFile::open(path));
  const ModelFile& file = s->file;
  MemoryPlan plan;
  DlrmConfig config;
  try {
    const std::string_view text = file.section(SectionKind::Metadata);
    s->meta = nlohmann::json::parse(text);
    CEMBED_CHECK(s->meta.at("format") == "cembed model", "{}: metadata of another format", path);
    s->precision = parse_precision(s->meta.at("precision").get<std::string>());
    config = DlrmConfig::from_json(s->meta.at("model"));
    plan = MemoryPlan::from_json(s->meta.at("plan"));
    if (s->meta.contains("vocabulary")) {
      s->text_format = s->meta["vocabulary"].at("format").get<std::string>();
      s->log_dense = s->meta["vocabulary"].at("log_dense").get<bool>();
    }
  } catch (const nlohmann::json::exception& e) {
    fail("{}: corrupt metadata: {}", path, e.what());
  }
  // Sizes a hostile file could make huge, before anything is allocated from them.
  const auto limit = static_cast<int64_t>(file.size());
  auto check_layers = [&](const std::vector<int64_t>& sizes, const char* what) {
    for (int64_t n : sizes) CEMBED_CHECK(n >= 1 && n <= limit, "{}: {} layer of {} units", path, what, n);
  };
  check_layers(config.bottom_hidden, "bottom");
  check_layers(config.top_hidden, "top");
  CEMBED_CHECK(config.num_dense >= 1 && config.num_dense <= limit && config.dim >= 1 && config.dim <= 4096 &&
                   plan.dim == config.dim && !plan.features.empty() && plan.features.size() <= 4096,
               "{}: corrupt metadata (dense {}, dim {}, plan dim {}, {} features)", path, config.num_dense, config.dim,
               plan.dim, plan.features.size());
  for (const FeatureInfo& f : plan.features) {
    CEMBED_CHECK(f.cardinality >= 1 && f.cardinality <= (int64_t{1} << 32), "{}: feature '{}' has {} values", path,
                 f.name, f.cardinality);
  }
  // What the model will allocate, from the specs and layer sizes alone, must be what the
  // file can hold (at least 1 byte per table parameter, 4 per MLP parameter), so a hostile
  // plan cannot make the tables allocate more than the file describes.
  double table_floats = 0, mlp_floats = 0;
  for (const PlannedTable& t : plan.tables) {
    TableShape shape{plan.dim, {}};
    for (int f : t.features) {
      CEMBED_CHECK(f >= 0 && f < static_cast<int>(plan.features.size()), "{}: the plan names feature {} of {}", path, f,
                   plan.features.size());
      shape.cardinalities.push_back(plan.features[f].cardinality);
    }
    table_floats += static_cast<double>(spec_parameter_bytes(Spec::parse(t.spec), shape)) / 4;
  }
  auto add_layers = [&](int64_t in, const std::vector<int64_t>& hidden, int64_t out) {
    for (int64_t h : hidden) {
      mlp_floats += (static_cast<double>(in) + 1) * static_cast<double>(h);
      in = h;
    }
    mlp_floats += (static_cast<double>(in) + 1) * static_cast<double>(out);
  };
  const auto f = static_cast<double>(plan.features.size());
  add_layers(config.num_dense, config.bottom_hidden, config.dim);
  add_layers(static_cast<int64_t>(static_cast<double>(config.dim) + f * (f + 1) / 2), config.top_hidden, 1);
  CEMBED_CHECK(table_floats + 4 * mlp_floats <= static_cast<double>(limit),
               "{}: the model's {:.0f} table and {:.0f} MLP parameters cannot fit in {} bytes (corrupt metadata)", path,
               table_floats, mlp_floats, limit);
  s->model = std::make_unique<Dlrm>(config, plan);
  EmbeddingCollection& tables = s->model->embeddings();
  CEMBED_CHECK(static_cast<int64_t>(tables.num_tables()) == static_cast<int64_t>(plan.tables.size()),
               "{}: corrupt plan", path);
  for (int t = 0; t < tables.num_tables(); ++t)
    read_table(file, s->precision, t, tables.table(t), reading == TableReading::Decoded);
  read_mlps(file, *s->model);
  const std::string_view vocab = file.section(SectionKind::Vocabulary, 0, true);
  CEMBED_CHECK(vocab.empty() == s->text_format.empty(), "{}: vocabulary section and metadata disagree", path);
  if (!vocab.empty()) {
    std::vector<std::string> names;
    for (const FeatureInfo& f : plan.features) names.push_back(f.name);
    std::vector<int64_t> cardinality;
    parse_vocabulary(vocab, path + " (vocabulary)", names, s->vocab, cardinality);
    for (size_t f = 0; f < names.size(); ++f) {
      CEMBED_CHECK(cardinality[f] == plan.features[f].cardinality,
                   "{}: vocabulary of feature '{}' has {} values, the model {}", path, names[f], cardinality[f],
                   plan.features[f].cardinality);
    }
  }
  return std::unique_ptr<InferenceModel>(new InferenceModel(std::move(s)));
}

const std::string& InferenceModel::path() const { return s_->file.path(); }
int64_t InferenceModel::file_bytes() const { return static_cast<int64_t>(s_->file.size()); }
Precision InferenceModel::precision() const { return s_->precision; }
const DlrmConfig& InferenceModel::config() const { return s_->model->config(); }
const MemoryPlan& InferenceModel::plan() const { return s_->model->embeddings().plan(); }
int InferenceModel::num_features() const { return s_->model->embeddings().num_features(); }
const nlohmann::json& InferenceModel::metadata() const { return s_->meta; }
bool InferenceModel::has_vocabulary() const { return !s_->vocab.empty(); }
std::string InferenceModel::text_format() const { return s_->text_format; }

void InferenceModel::logits(const Batch& batch, std::vector<float>& out) {
  CEMBED_CHECK(
      static_cast<int>(batch.ids.size()) == num_features() && static_cast<int>(batch.offsets.size()) == num_features(),
      "{}: a batch of {} features, the model has {}", path(), batch.ids.size(), num_features());
  for (int f = 0; f < num_features(); ++f) {
    const auto& o = batch.offsets[f];
    CEMBED_CHECK(static_cast<int64_t>(o.size()) == batch.size + 1 && o.front() == 0 && o.back() == batch.ids[f].size(),
                 "{}: feature {}'s bags do not match the batch", path(), f);
    for (size_t b = 1; b < o.size(); ++b)
      CEMBED_CHECK(o[b] >= o[b - 1], "{}: feature {}'s bags out of order", path(), f);
  }
  s_->model->forward(batch, out);
}

void InferenceModel::score(const Batch& batch, std::vector<float>& probabilities) {
  logits(batch, probabilities);
  for (float& z : probabilities) z = 1.0f / (1.0f + std::exp(-z));
}

}  // namespace cembed

namespace cembed {

void InferenceModel::start_batch(Batch& batch) const {
  batch.size = 0;
  batch.labels.clear();
  batch.dense.clear();
  batch.ids.assign(num_features(), {});
  batch.offsets.assign(num_features(), std::vector<uint32_t>{0});
}

void InferenceModel::add_row(Batch& batch, std::span<const float> dense, std::span<const Id> ids) const {
  CEMBED_CHECK(static_cast<int64_t>(dense.size()) == num_dense() && static_cast<int>(ids.size()) == num_features(),
               "{}: a row of {} dense values and {} ids, the model takes {} and {}", path(), dense.size(), ids.size(),
               num_dense(), num_features());
  batch.labels.push_back(0);
  batch.dense.insert(batch.dense.end(), dense.begin(), dense.end());
  for (int f = 0; f < num_features(); ++f) {
    batch.ids[f].push_back(ids[f]);
    batch.offsets[f].push_back(static_cast<uint32_t>(batch.ids[f].size()));
  }
  ++batch.size;
}

void InferenceModel::add_line(Batch& batch, std::string_view line, const std::string& source, int64_t line_number) {
  State& s = *s_;
  CEMBED_CHECK(has_vocabulary(),
               "{}: exported without a vocabulary (export --vocabulary DIR): raw rows cannot be scored", path());
  if (!s.parser) {
    PrepareConfig c;
    c.format = parse_text_format(s.text_format);
    c.log_dense = s.log_dense;
    c.libfm_fields = num_features();
    s.parser = make_row_parser(c, line);
  }
  try {
    // Line 2 onwards: a line is never taken for a header (a header cannot be scored).
    const bool row = s.parser->parse(line, std::max<int64_t>(line_number, 2), s.parsed);
    CEMBED_CHECK(row, "{}:{}: not a data row", source, line_number);
  } catch (const FieldError& e) {
    fail("{}:{}: field {} ({}): {}", source, line_number, e.field, e.name, e.message);
  }
  CEMBED_CHECK(static_cast<int64_t>(s.parsed.dense.size()) == num_dense() &&
                   static_cast<int>(s.parsed.cats.size()) == num_features(),
               "{}:{}: {} dense and {} categorical fields, the model takes {} and {}", source, line_number,
               s.parsed.dense.size(), s.parsed.cats.size(), num_dense(), num_features());
  s.row_ids.resize(num_features());
  for (int f = 0; f < num_features(); ++f) {
    const uint64_t key = s.parsed.cats[f];
    const Id* id = key == 0 ? nullptr : s.vocab[f].find(key);
    s.row_ids[f] = id == nullptr ? 0 : *id;
  }
  add_row(batch, s.parsed.dense, s.row_ids);
}

}  // namespace cembed
