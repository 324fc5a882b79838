#include "cembed/prepare.h"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <numeric>

#include "cembed/binary_io.h"
#include "cembed/dataset.h"
#include "cembed/errors.h"
#include "cembed/file_format.h"
#include "cembed/random.h"
#include "data/formats/flat_map.h"
#include "data/formats/line_blocks.h"
#include "data/formats/line_reader.h"
#include "data/formats/text_formats.h"
#include "data/prepare_split.h"
#include "data/vocabulary_identity.h"

namespace cembed {
namespace {

constexpr char kVocabMagic[] = "CEMBVOCB";
constexpr uint32_t kVocabVersion = 1;

// vocabulary.bin: per feature its name, cardinality and (value key, id) pairs.
void save_vocabulary(const std::string& path, const std::vector<std::string>& names,
                     const std::vector<FlatMap<Id>>& vocab, const DatasetSchema& schema) {
  BinaryWriter w;
  w.u32(static_cast<uint32_t>(names.size()));
  for (size_t f = 0; f < names.size(); ++f) {
    w.str(names[f]);
    w.i64(schema.sparse[f].cardinality);
    w.u64(vocab[f].size());
    vocab[f].for_each([&](uint64_t key, Id id) {
      w.u64(key);
      w.u32(id);
    });
  }
  write_framed_file(path, std::string_view(kVocabMagic, 8), kVocabVersion, w.bytes());
}

void load_vocabulary(const std::string& path, const std::vector<std::string>& names, std::vector<FlatMap<Id>>& vocab,
                     std::vector<int64_t>& cardinality) {
  const std::string payload = read_framed_file(path, std::string_view(kVocabMagic, 8), kVocabVersion);
  BinaryReader r(payload.data(), payload.size(), path);
  const uint32_t n = r.u32("feature count");
  CEMBED_CHECK(n == names.size(), "{}: vocabulary of {} features, the data has {}", path, n, names.size());
  vocab.assign(n, {});
  cardinality.assign(n, 0);
  for (uint32_t f = 0; f < n; ++f) {
    const std::string name = r.str("feature name");
    CEMBED_CHECK(name == names[f], "{}: feature {} is '{}' in the vocabulary, '{}' in the data", path, f, name, names[f]);
    cardinality[f] = r.i64("cardinality");
    const uint64_t count = r.u64("vocabulary size");
    CEMBED_CHECK(cardinality[f] >= 1 && count < static_cast<uint64_t>(cardinality[f]) + 1,
                 "{}: feature '{}' has {} values for cardinality {}", path, name, count, cardinality[f]);
    for (uint64_t i = 0; i < count; ++i) {
      const uint64_t key = r.u64("value key");
      const Id id = r.u32("value id");
      CEMBED_CHECK(key != 0 && id >= 1 && id < cardinality[f], "{}: feature '{}' maps a value to id {} (cardinality {})",
                   path, name, id, cardinality[f]);
      vocab[f][key] = id;
    }
  }
  r.expect_end();
}

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
                const std::vector<std::string>& files, SplitStats& st, Sink sink, BlockDone block_done,
                Parsed parsed, std::unique_ptr<LineReader> first = nullptr) {
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


}  // namespace

nlohmann::json write_prepared_files(const PrepareConfig& c) {
  if (c.format == TextFormat::Csv) return prepare_schema_dataset(c);
  CEMBED_CHECK(!c.train_files.empty(), "prepare: no training files");
  CEMBED_CHECK(!c.out_dir.empty(), "prepare: no output folder");
  CEMBED_CHECK(c.min_count >= 1, "prepare: min count must be at least 1, got {}", c.min_count);
  std::filesystem::create_directories(c.out_dir);
  // The first training file is opened here, once: libFM's field count is read from its
  // first line, which is then parsed as the others.
  auto first_reader = std::make_unique<LineReader>(c.train_files.at(0), c.max_line_bytes, c.skip_bad_lines);
  std::string first_line;
  if (c.format == TextFormat::Libfm && c.libfm_fields == 0) {
    std::string_view line;
    if (first_reader->peek(line)) first_line = line;
  }
  std::vector<std::unique_ptr<RowParser>> parsers;
  for (int t = 0; t < std::max(1, c.threads); ++t) parsers.push_back(make_row_parser(c, first_line));
  const RowParser* parser = parsers[0].get();
  const size_t nc = parser->cat_names().size();

  // Splits within the training files: row r goes to test, valid or train.
  check_split(c);
  const bool by_ratio = c.split == "ratio", by_order = c.split == "order";

  // One pass over the training text. Rows go to the dataset writer of their part (all to
  // one writer under an order split, whose parts are known only at the end) with
  // provisional ids: each feature numbers its values as they are first seen (1, 2, ...; 0
  // is the empty value) and counts them over the counted rows. The vocabulary then gives
  // each provisional id its final id, applied as the datasets are finished. With hash
  // buckets the ids are final at once; with a vocabulary file the provisional ids are the
  // vocabulary's, and an unknown value gets one past its cardinality (mapped to the OOV id
  // 0, and counted, when the datasets are finished).
  CEMBED_CHECK(c.vocabulary_path.empty() || c.hash_buckets == 0, "prepare: give a vocabulary or hash buckets, not both");
  CEMBED_CHECK(c.hash_buckets == 0 || (c.hash_buckets >= 2 && c.hash_buckets <= (int64_t{1} << 32)),
               "prepare: hash buckets must be in [2, 2^32], got {}", c.hash_buckets);
  const bool hashed = c.hash_buckets > 0, given_vocab = !c.vocabulary_path.empty();
  std::vector<FlatMap<Id>> vocab(nc);
  std::vector<int64_t> given_cardinality;
  if (given_vocab) load_vocabulary(c.vocabulary_path, parser->cat_names(), vocab, given_cardinality);
  struct Seen {
    Id id = 0;          // provisional
    int64_t count = 0;  // over the counted rows
  };
  std::vector<FlatMap<Seen>> provisional(nc);  // per feature, by value
  std::vector<Id> next_id(nc, 1);
  DatasetSchema written;  // the ids as written: provisional ones bounded by 2^32 - 1
  written.dense_names = parser->dense_names();
  for (size_t f = 0; f < nc; ++f) {
    const int64_t bound = hashed ? c.hash_buckets : given_vocab ? given_cardinality[f] + 1 : int64_t{1} << 32;
    written.sparse.push_back({parser->cat_names()[f], bound});
  }
  written.multi_hot.assign(nc, false);
  const char* names[] = {"train", "valid", "test"};
  const bool has_part[3] = {true, (by_ratio || by_order) && c.valid_fraction > 0, by_ratio || by_order};
  std::unique_ptr<DatasetWriter> writers[3];
  for (int p = 0; p < 3; ++p) {
    if (has_part[p] && (p == kTrain || by_ratio)) {
      writers[p] = std::make_unique<DatasetWriter>(c.out_dir + "/" + names[p] + ".cds", written);
      writers[p]->set_threads(std::max(1, c.threads));
    }
  }
  SplitStats pass_stats;  // every parsed row; empty counts over the counted rows
  int64_t counted_rows = 0;
  pass_stats.empty.assign(nc, 0);
  // A block's values column-major (keys[f * kLineBlock + line], filled while parsing), its
  // good rows' lines and parts; by part: labels, dense rows and a column of ids per feature.
  std::vector<uint64_t> keys(nc * kLineBlock);
  std::vector<uint32_t> block_line;
  std::vector<uint8_t> block_part;
  std::vector<float> labels[3], dense[3];
  std::vector<std::vector<Id>> columns[3];
  for (auto& cols : columns) cols.resize(nc);
  std::vector<std::span<const Id>> column_spans(nc);
  std::atomic<bool> too_many_values = false;
  read_files(
      c, parsers, c.train_files, pass_stats,
      [&](const ParsedRow& row, size_t line) {
        const Part p = by_ratio ? part_by_ratio(c, pass_stats.rows) : kTrain;
        ++pass_stats.rows;
        counted_rows += !by_ratio || p == kTrain;
        block_line.push_back(static_cast<uint32_t>(line));
        block_part.push_back(static_cast<uint8_t>(p));
        labels[p].push_back(row.label);
        dense[p].insert(dense[p].end(), row.dense.begin(), row.dense.end());
      },
      [&] {
        // Ids on all threads, one feature each (a feature's map and columns are its own).
#pragma omp parallel for num_threads(std::max(1, c.threads)) schedule(dynamic, 1)
        for (size_t f = 0; f < nc; ++f) {
          int64_t empty = 0;
          bool full = false;
          for (auto& cols : columns) cols[f].clear();
          const uint64_t* feature_keys = keys.data() + f * kLineBlock;
          auto& map = provisional[f];
          constexpr size_t kAhead = 16;  // map slots are read at random: prefetch
          const size_t rows = block_line.size();
          for (size_t i = 0; i < rows; ++i) {
            if (i + kAhead < rows && !hashed) {
              const uint64_t next = feature_keys[block_line[i + kAhead]];
              if (given_vocab) {
                vocab[f].prefetch(next);
              } else {
                map.prefetch(next);
              }
            }
            const uint64_t key = feature_keys[block_line[i]];
            const Part p = static_cast<Part>(block_part[i]);
            const bool counted = !by_ratio || p == kTrain;
            Id id = 0;
            if (key == 0) {
              empty += counted;
            } else if (hashed) {
              id = static_cast<Id>(1 + mix64(key) % static_cast<uint64_t>(c.hash_buckets - 1));
            } else if (given_vocab) {
              const Id* v = vocab[f].find(key);
              id = v != nullptr ? *v : static_cast<Id>(given_cardinality[f]);
            } else {
              Seen& seen = map[key];
              if (seen.id == 0 && next_id[f] != 0) seen.id = next_id[f]++;  // next_id wraps to 0 after 2^32 - 1
              full |= seen.id == 0;  // no exceptions inside the parallel loop
              id = seen.id;
              seen.count += counted;
            }
            columns[p][f].push_back(id);
          }
          pass_stats.empty[f] += empty;
          if (full) too_many_values = true;
        }
        CEMBED_CHECK(!too_many_values, "prepare: a feature has more than 2^32 - 2 distinct values");
        for (int p = 0; p < 3; ++p) {
          if (labels[p].empty()) continue;
          for (size_t f = 0; f < nc; ++f) column_spans[f] = columns[p][f];
          writers[p]->add_block(labels[p], dense[p], column_spans);
          labels[p].clear();
          dense[p].clear();
        }
        block_line.clear();
        block_part.clear();
      },
      [&](const ParsedRow& row, size_t line) {
        for (size_t f = 0; f < nc; ++f) keys[f * kLineBlock + line] = row.cats[f];
      },
      std::move(first_reader));
  CEMBED_CHECK(counted_rows > 0, "prepare: no training rows in {}", fmt::join(c.train_files, ", "));

  // Vocabulary: values seen at least min_count times, most frequent first, at ids 1..;
  // remap[f] takes feature f's ids as written to their final ids.
  std::vector<std::vector<Id>> remap(hashed ? 0 : nc);
  nlohmann::json feature_stats = nlohmann::json::array();
  DatasetSchema schema;
  schema.dense_names = parser->dense_names();
  for (size_t f = 0; f < nc; ++f) {
    const std::string& name = parser->cat_names()[f];
    const double empty_rate = static_cast<double>(pass_stats.empty[f]) / static_cast<double>(counted_rows);
    schema.multi_hot.push_back(false);
    if (hashed || given_vocab) {
      const int64_t card = hashed ? c.hash_buckets : given_cardinality[f];
      if (given_vocab) {  // ids as they are; one past the cardinality (unknown values) to 0
        remap[f].resize(card + 1);
        std::iota(remap[f].begin(), remap[f].end(), Id{0});
        remap[f][card] = 0;
      }
      schema.sparse.push_back({name, card});
      feature_stats.push_back({{"name", name},
                               {"ids", hashed ? "hashed" : "vocabulary file"},
                               {"vocabulary", hashed ? 0 : static_cast<int64_t>(vocab[f].size())},
                               {"cardinality", card},
                               {"empty_rate", empty_rate}});
      continue;
    }
    struct Kept {
      int64_t count;
      uint64_t key;
      Id provisional;
    };
    std::vector<Kept> kept;
    std::vector<int64_t> histogram;  // values by floor(log2(count))
    int64_t distinct = 0;
    provisional[f].for_each([&](uint64_t key, const Seen& seen) {
      if (seen.count == 0) return;  // seen only in rows that were not counted
      ++distinct;
      const auto bucket = static_cast<size_t>(std::log2(static_cast<double>(seen.count)));
      if (histogram.size() <= bucket) histogram.resize(bucket + 1);
      ++histogram[bucket];
      if (seen.count >= c.min_count) kept.push_back({seen.count, key, seen.id});
    });
    std::sort(kept.begin(), kept.end(),
              [](const Kept& a, const Kept& b) { return a.count != b.count ? a.count > b.count : a.key < b.key; });
    remap[f].assign(next_id[f] == 0 ? size_t{1} << 32 : next_id[f], 0);  // every provisional id
    for (size_t i = 0; i < kept.size(); ++i) {
      remap[f][kept[i].provisional] = static_cast<Id>(i + 1);
      vocab[f][kept[i].key] = static_cast<Id>(i + 1);
    }
    schema.sparse.push_back({name, static_cast<int64_t>(kept.size()) + 1});
    feature_stats.push_back({{"name", name},
                             {"distinct_values", distinct},
                             {"vocabulary", kept.size()},
                             {"cardinality", kept.size() + 1},
                             {"empty_rate", empty_rate},
                             {"count_histogram_log2", histogram}});
    provisional[f] = {};
  }
  if (!hashed) save_vocabulary(c.out_dir + "/vocabulary.bin", parser->cat_names(), vocab, schema);
  if (hashed) {
    schema.vocabulary_id = fmt::format("hashed:{}", c.hash_buckets);
  } else {
    VocabularyIdentity identity;
    for (size_t f = 0; f < vocab.size(); ++f) {
      identity.feature(parser->cat_names()[f], schema.sparse[f].cardinality);
      vocab[f].for_each([&](uint64_t key, Id id) { identity.pair(key, id); });
    }
    schema.vocabulary_id = identity.finish();
  }

  nlohmann::json stats;
  stats["format"] = c.format == TextFormat::Criteo ? "criteo" : c.format == TextFormat::Avazu ? "avazu" : "libfm";
  stats["min_count"] = c.min_count;
  stats["split"] = {{"by", c.split}, {"valid_fraction", c.valid_fraction}, {"test_fraction", c.test_fraction}, {"seed", c.seed}};
  stats["features"] = feature_stats;
  auto split_json = [&](const SplitStats& st, const std::vector<std::string>& files) {
    return nlohmann::json{{"rows", st.rows},
                          {"ctr", st.rows ? st.clicks / static_cast<double>(st.rows) : 0.0},
                          {"bad_lines", st.bad_lines},
                          {"bad_line_examples", st.bad_examples},
                          {"oov_ids", st.oov},
                          {"files", files}};
  };

  // The parts of the training files, final ids applied as they are written.
  const int64_t n = pass_stats.rows;
  const auto [valid_from, test_from] = order_split(c, n);
  for (int p = 0; p < 3; ++p) {
    if (!has_part[p]) continue;
    DatasetWriter& w = by_order ? *writers[kTrain] : *writers[p];
    const int64_t begin = by_order ? (p == kTrain ? 0 : p == kValid ? valid_from : test_from) : 0;
    const int64_t end = by_order ? (p == kTrain ? valid_from : p == kValid ? test_from : n) : w.rows();
    SplitStats st;
    if (p == kTrain) {
      st.bad_lines = pass_stats.bad_lines;
      st.bad_examples = pass_stats.bad_examples;
    }
    // Rows, clicks and OOV ids of the part first: they go into its file's metadata.
    const DatasetWriter::Written seen = w.measure(remap, begin, end);
    st.rows = seen.rows;
    st.clicks = seen.label_sum;
    st.oov = seen.unmapped;
    stats[names[p]] = split_json(st, c.train_files);
    w.set_metadata({{"source", stats["format"]}, {"split", names[p]}, {"stats", stats[names[p]]}});
    w.finish_remapped(c.out_dir + "/" + names[p] + ".cds", schema, remap, begin, end);
  }
  writers[kTrain].reset();
  writers[kValid].reset();
  writers[kTest].reset();
  // Ids of values in the separate valid/test files: through the vocabulary or hashed.
  std::vector<Id> ids(nc);
  std::vector<std::span<const Id>> bags(nc);
  for (size_t f = 0; f < nc; ++f) bags[f] = {&ids[f], 1};
  auto map_id = [&](size_t f, uint64_t key, int64_t& oov) -> Id {
    if (key == 0) return 0;
    if (hashed) return static_cast<Id>(1 + mix64(key) % static_cast<uint64_t>(c.hash_buckets - 1));
    const Id* id = vocab[f].find(key);
    oov += id == nullptr;
    return id == nullptr ? 0 : *id;
  };
  for (const auto& [name, files] : {std::pair{std::string("valid"), c.valid_files}, std::pair{std::string("test"), c.test_files}}) {
    if (files.empty()) continue;
    DatasetWriter w(c.out_dir + "/" + name + ".cds", schema);
    SplitStats st;
    st.oov.assign(nc, 0);
    read_files(
        c, parsers, files, st,
        [&](const ParsedRow& row, size_t) {
          for (size_t f = 0; f < nc; ++f) ids[f] = map_id(f, row.cats[f], st.oov[f]);
          ++st.rows;
          st.clicks += row.label;
          w.add_row(row.label, row.dense, bags);
        },
        [] {}, [](const ParsedRow&, size_t) {});
    const nlohmann::json s = split_json(st, files);
    w.set_metadata({{"source", stats["format"]}, {"split", name}, {"stats", s}});
    w.finish();
    stats[name] = s;
  }
  write_file_atomically(c.out_dir + "/prepare.json", stats.dump(2) + "\n");
  return stats;
}

}  // namespace cembed
