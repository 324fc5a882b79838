// prepare_dataset's streaming path (criteo, avazu, libfm; prepare.h), in phases:
//   open_inputs            the parsers and the first training file (opened once)
//   training_split, id_rule  where rows go; how values become ids (counted, given, hashed)
//   TrainingPass           one pass over the training text: blocks of lines parsed on all
//                          threads (read_files), provisional ids numbered and counted per
//                          feature, rows spilled to the dataset writer of their part
//   assign_final_ids       the vocabulary (or the ids as given or hashed) and the remap
//                          tables from provisional to final ids; record_vocabulary
//   write_training_parts   train/valid/test of the training files, final ids applied
//   write_separate_parts   the --valid/--test files, mapped through the vocabulary
// and then prepare.json (the statistics).
#include "cembed/prepare.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <numeric>

#include "cembed/dataset.h"
#include "data/dataset_writer.h"
#include "data/formats/flat_map.h"
#include "data/formats/line_blocks.h"
#include "data/formats/line_reader.h"
#include "data/formats/text_formats.h"
#include "data/prepare_split.h"
#include "data/vocabulary_file.h"
#include "data/vocabulary_identity.h"
#include "util/check.h"
#include "util/file_format.h"
#include "util/random.h"

namespace cembed {
namespace {

struct SplitStats {
  int64_t rows = 0, bad_lines = 0;
  double clicks = 0;
  std::vector<int64_t> empty, oov;
  nlohmann::json bad_examples = nlohmann::json::array();
};

// Parses every line of `files`, calling sink(row, i) for each good one, in file order (i:
// its line's place in the block), and block_done() after each block of lines (the rows
// given to sink stay valid until then). Lines are read ahead in blocks (LineBlocks); each
// block is parsed on all threads (one parser each; parsed(row, i) runs there for each good
// row), then errors and rows are handled in line order, so results do not depend on the
// thread count.
template <typename Sink, typename BlockDone, typename Parsed>
void read_files(const PrepareConfig& c, std::vector<std::unique_ptr<RowParser>>& parsers,
                const std::vector<std::string>& files, SplitStats& st, Sink sink, BlockDone block_done, Parsed parsed,
                std::unique_ptr<LineReader> first = nullptr) {
  const int threads = static_cast<int>(parsers.size());
  std::vector<ParsedRow> rows(kLineBlock);
  std::vector<int8_t> status(kLineBlock);  // 0 row, 1 header to skip, 2 field error
  std::vector<FieldError> errors(kLineBlock);
  auto report_bad = [&](const std::string& msg) {
    if (!c.skip_bad_lines) fail("{} (use --skip-bad-lines to count and skip such lines)", msg);
    ++st.bad_lines;
    if (st.bad_examples.size() < 10) st.bad_examples.push_back(msg);
  };
  LineBlocks blocks(files, c.max_line_bytes, c.skip_bad_lines, std::move(first));
  while (const LineBlock* block = blocks.next()) {
    for (const auto& msg : block->skipped) report_bad(msg);
    const auto n = static_cast<int64_t>(block->numbers.size());
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      RowParser& parser = *parsers[omp_get_thread_num()];
      const std::string_view l(block->text.data() + block->starts[i], block->starts[i + 1] - block->starts[i]);
      try {
        status[i] = parser.parse(l, block->numbers[i], rows[i]) ? 0 : 1;
        if (status[i] == 0) parsed(rows[i], static_cast<size_t>(i));
      } catch (const FieldError& e) {
        status[i] = 2;
        errors[i] = e;
      }
    }
    for (int64_t i = 0; i < n; ++i) {
      if (status[i] == 0) {
        sink(rows[i], static_cast<size_t>(i));
      } else if (status[i] == 2) {
        const auto& e = errors[i];
        const std::string where = e.field > 0 ? fmt::format("field {} ({})", e.field, e.name) : std::string("line");
        report_bad(fmt::format("{}:{}: {}: {}", *block->path, block->numbers[i], where, e.message));
      }
    }
    block_done();
    if (!block->error.empty()) fail("{}", block->error);
  }
}

constexpr const char* kPartNames[] = {"train", "valid", "test"};

// ---------------------------------------------------------------- open inputs

// The row parsers, one per thread, and the first training file's reader: that file is
// opened here, once, as libFM's field count is read from its first line, which is then
// parsed as the others.
struct Inputs {
  std::unique_ptr<LineReader> first_reader;
  std::vector<std::unique_ptr<RowParser>> parsers;
  const RowParser& parser() const { return *parsers[0]; }
};

Inputs open_inputs(const PrepareConfig& c) {
  Inputs in;
  in.first_reader = std::make_unique<LineReader>(c.train_files.at(0), c.max_line_bytes, c.skip_bad_lines);
  std::string first_line;
  if (c.format == TextFormat::Libfm && c.libfm_fields == 0) {
    std::string_view line;
    if (in.first_reader->peek(line)) first_line = line;
  }
  for (int t = 0; t < std::max(1, c.threads); ++t) in.parsers.push_back(make_row_parser(c, first_line));
  return in;
}

// ---------------------------------------------------------------- where rows go, how values become ids

// The parts the training files hold (splits within them: row r goes to test, valid or train).
struct TrainingSplit {
  bool by_ratio = false, by_order = false;
  bool has_part[3] = {};
  // Whether a row of part p is counted for the vocabulary (a ratio split counts training rows only).
  bool counted(Part p) const { return !by_ratio || p == kTrain; }
};

TrainingSplit training_split(const PrepareConfig& c) {
  check_split(c);
  TrainingSplit s;
  s.by_ratio = c.split == "ratio";
  s.by_order = c.split == "order";
  s.has_part[kTrain] = true;
  s.has_part[kValid] = (s.by_ratio || s.by_order) && c.valid_fraction > 0;
  s.has_part[kTest] = s.by_ratio || s.by_order;
  return s;
}

// How values become ids: counted into a vocabulary (vocab is then filled by assign_final_ids),
// read from a vocabulary file (--vocabulary), or hashed (--hash-buckets: no vocabulary).
struct IdRule {
  bool hashed = false, given_vocab = false;
  int64_t hash_buckets = 0;
  std::vector<FlatMap<Id>> vocab;          // per feature: value key -> final id
  std::vector<int64_t> given_cardinality;  // per feature, with a vocabulary file
  Id hashed_id(uint64_t key) const { return static_cast<Id>(1 + mix64(key) % static_cast<uint64_t>(hash_buckets - 1)); }
};

IdRule id_rule(const PrepareConfig& c, const std::vector<std::string>& names) {
  CEMBED_CHECK(c.vocabulary_path.empty() || c.hash_buckets == 0,
               "prepare: give a vocabulary or hash buckets, not both");
  CEMBED_CHECK(c.hash_buckets == 0 || (c.hash_buckets >= 2 && c.hash_buckets <= (int64_t{1} << 32)),
               "prepare: hash buckets must be in [2, 2^32], got {}", c.hash_buckets);
  IdRule ids;
  ids.hashed = c.hash_buckets > 0;
  ids.given_vocab = !c.vocabulary_path.empty();
  ids.hash_buckets = c.hash_buckets;
  ids.vocab.resize(names.size());
  if (ids.given_vocab) load_vocabulary(c.vocabulary_path, names, ids.vocab, ids.given_cardinality);
  return ids;
}

// ---------------------------------------------------------------- the pass over the training text

// One pass over the training text. Rows go to the dataset writer of their part (all to
// one writer under an order split, whose parts are known only at the end) with
// provisional ids: each feature numbers its values as they are first seen (1, 2, ...; 0
// is the empty value) and counts them over the counted rows. The vocabulary then gives
// each provisional id its final id, applied as the datasets are finished. With hash
// buckets the ids are final at once; with a vocabulary file the provisional ids are the
// vocabulary's, and an unknown value gets one past its cardinality (mapped to the OOV id
// 0, and counted, when the datasets are finished).
class TrainingPass {
 public:
  struct Seen {
    Id id = 0;          // provisional
    int64_t count = 0;  // over the counted rows
  };

  TrainingPass(const PrepareConfig& c, const RowParser& parser, const TrainingSplit& split, const IdRule& ids)
      : c_(c), split_(split), ids_(ids), nc_(parser.cat_names().size()) {
    provisional.resize(nc_);
    next_id.assign(nc_, 1);
    DatasetSchema written;  // the ids as written: provisional ones bounded by 2^32 - 1
    written.dense_names = parser.dense_names();
    for (size_t f = 0; f < nc_; ++f) {
      const int64_t bound = ids.hashed        ? c.hash_buckets
                            : ids.given_vocab ? ids.given_cardinality[f] + 1
                                              : int64_t{1} << 32;
      written.sparse.push_back({parser.cat_names()[f], bound});
    }
    written.multi_hot.assign(nc_, false);
    for (int p = 0; p < 3; ++p) {
      if (split.has_part[p] && (p == kTrain || split.by_ratio)) {
        writers[p] = std::make_unique<DatasetWriter>(c.out_dir + "/" + kPartNames[p] + ".cds", written);
        writers[p]->set_threads(std::max(1, c.threads));
      }
    }
    stats.empty.assign(nc_, 0);
    keys_.resize(nc_ * kLineBlock);
    for (auto& cols : columns_) cols.resize(nc_);
    column_spans_.resize(nc_);
  }

  // Reads the training files (the first through in.first_reader).
  void run(Inputs& in) {
    read_files(
        c_, in.parsers, c_.train_files, stats, [this](const ParsedRow& row, size_t line) { add_row(row, line); },
        [this] { number_block(); },
        [this](const ParsedRow& row, size_t line) {
          for (size_t f = 0; f < nc_; ++f) keys_[f * kLineBlock + line] = row.cats[f];
        },
        std::move(in.first_reader));
    CEMBED_CHECK(counted_rows > 0, "prepare: no training rows in {}", fmt::join(c_.train_files, ", "));
  }

  SplitStats stats;  // every parsed row; empty counts over the counted rows
  int64_t counted_rows = 0;
  std::vector<FlatMap<Seen>> provisional;  // per feature, by value
  std::vector<Id> next_id;                 // per feature: the next provisional id (0: wrapped)
  std::unique_ptr<DatasetWriter> writers[3];

 private:
  // A good row, in file order: its part, label and dense values.
  void add_row(const ParsedRow& row, size_t line) {
    const Part p = split_.by_ratio ? part_by_ratio(c_, stats.rows) : kTrain;
    ++stats.rows;
    counted_rows += split_.counted(p);
    block_line_.push_back(static_cast<uint32_t>(line));
    block_part_.push_back(static_cast<uint8_t>(p));
    labels_[p].push_back(row.label);
    dense_[p].insert(dense_[p].end(), row.dense.begin(), row.dense.end());
  }

  // After each block: ids on all threads, one feature each (a feature's map and columns are
  // its own), then the block's rows to the writers of their parts.
  void number_block() {
    const bool hashed = ids_.hashed, given_vocab = ids_.given_vocab;
#pragma omp parallel for num_threads(std::max(1, c_.threads)) schedule(dynamic, 1)
    for (size_t f = 0; f < nc_; ++f) {
      int64_t empty = 0;
      bool full = false;
      for (auto& cols : columns_) cols[f].clear();
      const uint64_t* feature_keys = keys_.data() + f * kLineBlock;
      auto& map = provisional[f];
      constexpr size_t kAhead = 16;  // map slots are read at random: prefetch
      const size_t rows = block_line_.size();
      for (size_t i = 0; i < rows; ++i) {
        if (i + kAhead < rows && !hashed) {
          const uint64_t next = feature_keys[block_line_[i + kAhead]];
          if (given_vocab) {
            ids_.vocab[f].prefetch(next);
          } else {
            map.prefetch(next);
          }
        }
        const uint64_t key = feature_keys[block_line_[i]];
        const Part p = static_cast<Part>(block_part_[i]);
        const bool counted = split_.counted(p);
        Id id = 0;
        if (key == 0) {
          empty += counted;
        } else if (hashed) {
          id = ids_.hashed_id(key);
        } else if (given_vocab) {
          const Id* v = ids_.vocab[f].find(key);
          id = v != nullptr ? *v : static_cast<Id>(ids_.given_cardinality[f]);
        } else {
          Seen& seen = map[key];
          if (seen.id == 0 && next_id[f] != 0) seen.id = next_id[f]++;  // next_id wraps to 0 after 2^32 - 1
          full |= seen.id == 0;                                         // no exceptions inside the parallel loop
          id = seen.id;
          seen.count += counted;
        }
        columns_[p][f].push_back(id);
      }
      stats.empty[f] += empty;
      if (full) too_many_values_ = true;
    }
    CEMBED_CHECK(!too_many_values_, "prepare: a feature has more than 2^32 - 2 distinct values");
    for (int p = 0; p < 3; ++p) {
      if (labels_[p].empty()) continue;
      for (size_t f = 0; f < nc_; ++f) column_spans_[f] = columns_[p][f];
      writers[p]->add_block(labels_[p], dense_[p], column_spans_);
      labels_[p].clear();
      dense_[p].clear();
    }
    block_line_.clear();
    block_part_.clear();
  }

  const PrepareConfig& c_;
  const TrainingSplit& split_;
  const IdRule& ids_;
  size_t nc_;
  // A block's values column-major (keys_[f * kLineBlock + line], filled while parsing), its
  // good rows' lines and parts; by part: labels, dense rows and a column of ids per feature.
  std::vector<uint64_t> keys_;
  std::vector<uint32_t> block_line_;
  std::vector<uint8_t> block_part_;
  std::vector<float> labels_[3], dense_[3];
  std::vector<std::vector<Id>> columns_[3];
  std::vector<std::span<const Id>> column_spans_;
  std::atomic<bool> too_many_values_ = false;
};

// ---------------------------------------------------------------- final ids

// The ids as finally written: the schema (final cardinalities), remap[f] taking feature f's
// ids as written to their final ids (none when hashed), and per feature statistics.
struct FinalIds {
  DatasetSchema schema;
  std::vector<std::vector<Id>> remap;
  nlohmann::json feature_stats = nlohmann::json::array();
};

// Ids as given or hashed: final already. A given vocabulary's ids stay; one past the
// cardinality (unknown values) becomes 0.
void add_given_ids(const IdRule& ids, size_t f, const std::string& name, double empty_rate, FinalIds& out) {
  const int64_t card = ids.hashed ? ids.hash_buckets : ids.given_cardinality[f];
  if (ids.given_vocab) {
    out.remap[f].resize(card + 1);
    std::iota(out.remap[f].begin(), out.remap[f].end(), Id{0});
    out.remap[f][card] = 0;
  }
  out.schema.sparse.push_back({name, card});
  out.feature_stats.push_back({{"name", name},
                               {"ids", ids.hashed ? "hashed" : "vocabulary file"},
                               {"vocabulary", ids.hashed ? 0 : static_cast<int64_t>(ids.vocab[f].size())},
                               {"cardinality", card},
                               {"empty_rate", empty_rate}});
}

// Feature f's vocabulary: values seen at least min_count times, most frequent first, at ids
// 1..; every other provisional id maps to the OOV id 0. Frees the feature's counts.
void add_counted_vocabulary(const PrepareConfig& c, TrainingPass& pass, FlatMap<Id>& vocab, size_t f,
                            const std::string& name, double empty_rate, FinalIds& out) {
  struct Kept {
    int64_t count;
    uint64_t key;
    Id provisional;
  };
  std::vector<Kept> kept;
  std::vector<int64_t> histogram;  // values by floor(log2(count))
  int64_t distinct = 0;
  pass.provisional[f].for_each([&](uint64_t key, const TrainingPass::Seen& seen) {
    if (seen.count == 0) return;  // seen only in rows that were not counted
    ++distinct;
    const auto bucket = static_cast<size_t>(std::log2(static_cast<double>(seen.count)));
    if (histogram.size() <= bucket) histogram.resize(bucket + 1);
    ++histogram[bucket];
    if (seen.count >= c.min_count) kept.push_back({seen.count, key, seen.id});
  });
  std::sort(kept.begin(), kept.end(),
            [](const Kept& a, const Kept& b) { return a.count != b.count ? a.count > b.count : a.key < b.key; });
  const Id next = pass.next_id[f];
  out.remap[f].assign(next == 0 ? size_t{1} << 32 : next, 0);  // every provisional id
  for (size_t i = 0; i < kept.size(); ++i) {
    out.remap[f][kept[i].provisional] = static_cast<Id>(i + 1);
    vocab[kept[i].key] = static_cast<Id>(i + 1);
  }
  out.schema.sparse.push_back({name, static_cast<int64_t>(kept.size()) + 1});
  out.feature_stats.push_back({{"name", name},
                               {"distinct_values", distinct},
                               {"vocabulary", kept.size()},
                               {"cardinality", kept.size() + 1},
                               {"empty_rate", empty_rate},
                               {"count_histogram_log2", histogram}});
  pass.provisional[f] = {};
}

FinalIds assign_final_ids(const PrepareConfig& c, const RowParser& parser, TrainingPass& pass, IdRule& ids) {
  const size_t nc = parser.cat_names().size();
  FinalIds out;
  out.remap.resize(ids.hashed ? 0 : nc);
  out.schema.dense_names = parser.dense_names();
  for (size_t f = 0; f < nc; ++f) {
    const std::string& name = parser.cat_names()[f];
    const double empty_rate = static_cast<double>(pass.stats.empty[f]) / static_cast<double>(pass.counted_rows);
    out.schema.multi_hot.push_back(false);
    if (ids.hashed || ids.given_vocab) {
      add_given_ids(ids, f, name, empty_rate, out);
    } else {
      add_counted_vocabulary(c, pass, ids.vocab[f], f, name, empty_rate, out);
    }
  }
  return out;
}

// Writes vocabulary.bin (unless hashed) and sets the schema's vocabulary identity.
void record_vocabulary(const PrepareConfig& c, const std::vector<std::string>& names, const IdRule& ids,
                       DatasetSchema& schema) {
  if (ids.hashed) {
    schema.vocabulary_id = fmt::format("hashed:{}", c.hash_buckets);
    return;
  }
  save_vocabulary(c.out_dir + "/vocabulary.bin", names, ids.vocab, schema);
  VocabularyIdentity identity;
  for (size_t f = 0; f < ids.vocab.size(); ++f) {
    identity.feature(names[f], schema.sparse[f].cardinality);
    ids.vocab[f].for_each([&](uint64_t key, Id id) { identity.pair(key, id); });
  }
  schema.vocabulary_id = identity.finish();
}

// ---------------------------------------------------------------- statistics (prepare.json)

nlohmann::json prepare_stats(const PrepareConfig& c, const nlohmann::json& feature_stats) {
  nlohmann::json stats;
  stats["format"] = c.format == TextFormat::Criteo ? "criteo" : c.format == TextFormat::Avazu ? "avazu" : "libfm";
  stats["min_count"] = c.min_count;
  stats["log_dense"] = c.log_dense;
  stats["split"] = {
      {"by", c.split}, {"valid_fraction", c.valid_fraction}, {"test_fraction", c.test_fraction}, {"seed", c.seed}};
  stats["features"] = feature_stats;
  return stats;
}

nlohmann::json part_stats(const SplitStats& st, const std::vector<std::string>& files) {
  return nlohmann::json{{"rows", st.rows},           {"ctr", st.rows ? st.clicks / static_cast<double>(st.rows) : 0.0},
                        {"bad_lines", st.bad_lines}, {"bad_line_examples", st.bad_examples},
                        {"oov_ids", st.oov},         {"files", files}};
}

// ---------------------------------------------------------------- writing the parts

// The parts of the training files, final ids applied as they are written; their
// statistics into stats. Closes the pass's writers (and their spills).
void write_training_parts(const PrepareConfig& c, const TrainingSplit& split, TrainingPass& pass, const FinalIds& ids,
                          nlohmann::json& stats) {
  const int64_t n = pass.stats.rows;
  const auto [valid_from, test_from] = order_split(c, n);
  for (int p = 0; p < 3; ++p) {
    if (!split.has_part[p]) continue;
    DatasetWriter& w = split.by_order ? *pass.writers[kTrain] : *pass.writers[p];
    const int64_t begin = split.by_order ? (p == kTrain ? 0 : p == kValid ? valid_from : test_from) : 0;
    const int64_t end = split.by_order ? (p == kTrain ? valid_from : p == kValid ? test_from : n) : w.rows();
    SplitStats st;
    if (p == kTrain) {
      st.bad_lines = pass.stats.bad_lines;
      st.bad_examples = pass.stats.bad_examples;
    }
    // Rows, clicks and OOV ids of the part first: they go into its file's metadata.
    const DatasetWriter::Written seen = w.measure(ids.remap, begin, end);
    st.rows = seen.rows;
    st.clicks = seen.label_sum;
    st.oov = seen.unmapped;
    stats[kPartNames[p]] = part_stats(st, c.train_files);
    w.set_metadata({{"source", stats["format"]}, {"split", kPartNames[p]}, {"stats", stats[kPartNames[p]]}});
    w.finish_remapped(c.out_dir + "/" + kPartNames[p] + ".cds", ids.schema, ids.remap, begin, end);
  }
  for (auto& w : pass.writers) w.reset();
}

// The separate --valid and --test files: ids through the vocabulary, or hashed; their
// statistics into stats.
void write_separate_parts(const PrepareConfig& c, std::vector<std::unique_ptr<RowParser>>& parsers, const IdRule& ids,
                          const DatasetSchema& schema, nlohmann::json& stats) {
  const size_t nc = schema.sparse.size();
  std::vector<Id> row_ids(nc);
  std::vector<std::span<const Id>> bags(nc);
  for (size_t f = 0; f < nc; ++f) bags[f] = {&row_ids[f], 1};
  auto map_id = [&](size_t f, uint64_t key, int64_t& oov) -> Id {
    if (key == 0) return 0;
    if (ids.hashed) return ids.hashed_id(key);
    const Id* id = ids.vocab[f].find(key);
    oov += id == nullptr;
    return id == nullptr ? 0 : *id;
  };
  for (const auto& [name, files] :
       {std::pair{std::string("valid"), c.valid_files}, std::pair{std::string("test"), c.test_files}}) {
    if (files.empty()) continue;
    DatasetWriter w(c.out_dir + "/" + name + ".cds", schema);
    SplitStats st;
    st.oov.assign(nc, 0);
    read_files(
        c, parsers, files, st,
        [&](const ParsedRow& row, size_t) {
          for (size_t f = 0; f < nc; ++f) row_ids[f] = map_id(f, row.cats[f], st.oov[f]);
          ++st.rows;
          st.clicks += row.label;
          w.add_row(row.label, row.dense, bags);
        },
        [] {}, [](const ParsedRow&, size_t) {});
    const nlohmann::json s = part_stats(st, files);
    w.set_metadata({{"source", stats["format"]}, {"split", name}, {"stats", s}});
    w.finish();
    stats[name] = s;
  }
}

}  // namespace

nlohmann::json write_prepared_files(const PrepareConfig& c) {
  if (c.format == TextFormat::Csv) return prepare_schema_dataset(c);
  CEMBED_CHECK(!c.train_files.empty(), "prepare: no training files");
  CEMBED_CHECK(!c.out_dir.empty(), "prepare: no output folder");
  CEMBED_CHECK(c.min_count >= 1, "prepare: min count must be at least 1, got {}", c.min_count);
  std::filesystem::create_directories(c.out_dir);
  Inputs in = open_inputs(c);
  const std::vector<std::string> names = in.parser().cat_names();
  const TrainingSplit split = training_split(c);
  IdRule ids = id_rule(c, names);

  TrainingPass pass(c, in.parser(), split, ids);
  pass.run(in);

  FinalIds final_ids = assign_final_ids(c, in.parser(), pass, ids);
  record_vocabulary(c, names, ids, final_ids.schema);
  nlohmann::json stats = prepare_stats(c, final_ids.feature_stats);
  write_training_parts(c, split, pass, final_ids, stats);
  write_separate_parts(c, in.parsers, ids, final_ids.schema, stats);
  write_file_atomically(c.out_dir + "/prepare.json", stats.dump(2) + "\n");
  return stats;
}

}  // namespace cembed
