#include "cembed/prepare.h"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "cembed/binary_io.h"
#include "cembed/dataset.h"
#include "cembed/errors.h"
#include "cembed/file_format.h"
#include "cembed/random.h"
#include "data/formats/flat_map.h"
#include "data/formats/line_reader.h"
#include "data/formats/text_formats.h"

namespace cembed {
namespace {

// Fixed-size binary records in an unlinked temporary file.
class RecordSpill {
 public:
  RecordSpill(const std::string& dir, size_t record_bytes) : record_bytes_(record_bytes) {
    std::string tmpl = dir + "/.prepare.XXXXXX";
    const int fd = ::mkstemp(tmpl.data());
    CEMBED_CHECK(fd >= 0, "cannot create a temporary file in {}: {}", dir, std::strerror(errno));
    ::unlink(tmpl.c_str());
    file_ = ::fdopen(fd, "w+b");
  }
  ~RecordSpill() { std::fclose(file_); }
  void write(const ParsedRow& r) {
    buf_.resize(record_bytes_);
    char* p = buf_.data();
    std::memcpy(p, &r.label, 4);
    std::memcpy(p + 4, r.dense.data(), r.dense.size() * 4);
    std::memcpy(p + 4 + r.dense.size() * 4, r.cats.data(), r.cats.size() * 8);
    CEMBED_CHECK(std::fwrite(p, 1, record_bytes_, file_) == record_bytes_, "cannot write a temporary file: {}",
                 std::strerror(errno));
  }
  void rewind() {
    std::fflush(file_);
    std::rewind(file_);
  }
  bool read(ParsedRow& r) {
    buf_.resize(record_bytes_);
    if (std::fread(buf_.data(), 1, record_bytes_, file_) != record_bytes_) return false;
    const char* p = buf_.data();
    std::memcpy(&r.label, p, 4);
    std::memcpy(r.dense.data(), p + 4, r.dense.size() * 4);
    std::memcpy(r.cats.data(), p + 4 + r.dense.size() * 4, r.cats.size() * 8);
    return true;
  }

 private:
  size_t record_bytes_;
  FILE* file_ = nullptr;
  std::vector<char> buf_;
};

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

// Parses every line of `files`, calling sink(row) for each good one, in file order, and
// block_done() after each block of lines (the rows given to sink stay valid until then).
// Lines are read in blocks; each block is parsed on all threads (one parser each), then
// errors and rows are handled in line order, so results do not depend on the thread count.
template <typename Sink, typename BlockDone>
void read_files(const PrepareConfig& c, std::vector<std::unique_ptr<RowParser>>& parsers,
                const std::vector<std::string>& files, SplitStats& st, Sink sink, BlockDone block_done) {
  constexpr size_t kBlock = 1 << 14;
  const int threads = static_cast<int>(parsers.size());
  std::string text;
  std::vector<size_t> starts;
  std::vector<int64_t> numbers;
  std::vector<ParsedRow> rows(kBlock);
  std::vector<int8_t> status(kBlock);  // 0 row, 1 header to skip, 2 field error
  std::vector<FieldError> errors(kBlock);
  auto report_bad = [&](const std::string& msg) {
    if (!c.skip_bad_lines) fail("{} (use --skip-bad-lines to count and skip such lines)", msg);
    ++st.bad_lines;
    if (st.bad_examples.size() < 10) st.bad_examples.push_back(msg);
  };
  for (const auto& path : files) {
    LineReader reader(path, c.max_line_bytes);
    bool done = false;
    std::string pending_error;  // a read error, raised after the lines before it
    while (!done) {
      text.clear();
      starts.clear();
      numbers.clear();
      std::string_view line;
      while (numbers.size() < kBlock) {
        try {
          if (!reader.next(line)) {
            done = true;
            break;
          }
        } catch (const Error& e) {
          // Over-long lines can be skipped; a broken stream cannot.
          const bool long_line = std::string(e.what()).find("longer than") != std::string::npos;
          if (c.skip_bad_lines && long_line) {
            report_bad(e.what());
            continue;
          }
          pending_error = e.what();
          done = true;
          break;
        }
        starts.push_back(text.size());
        text.append(line);
        numbers.push_back(reader.line_number());
      }
      starts.push_back(text.size());
      const auto n = static_cast<int64_t>(numbers.size());
#pragma omp parallel for num_threads(threads) schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        RowParser& parser = *parsers[omp_get_thread_num()];
        const std::string_view l(text.data() + starts[i], starts[i + 1] - starts[i]);
        try {
          status[i] = parser.parse(l, numbers[i], rows[i]) ? 0 : 1;
        } catch (const FieldError& e) {
          status[i] = 2;
          errors[i] = e;
        }
      }
      for (int64_t i = 0; i < n; ++i) {
        if (status[i] == 0) {
          sink(rows[i]);
        } else if (status[i] == 2) {
          const auto& e = errors[i];
          const std::string where = e.field > 0 ? fmt::format("field {} ({})", e.field, e.name) : std::string("line");
          report_bad(fmt::format("{}:{}: {}: {}", path, numbers[i], where, e.message));
        }
      }
      block_done();
      if (!pending_error.empty()) fail("{}", pending_error);
    }
  }
}

std::string first_line_of(const PrepareConfig& c) {
  LineReader reader(c.train_files.at(0), c.max_line_bytes);
  std::string_view line;
  return reader.next(line) ? std::string(line) : std::string();
}

}  // namespace

nlohmann::json prepare_dataset(const PrepareConfig& c) {
  if (c.format == TextFormat::Csv) return prepare_schema_dataset(c);
  CEMBED_CHECK(!c.train_files.empty(), "prepare: no training files");
  CEMBED_CHECK(!c.out_dir.empty(), "prepare: no output folder");
  CEMBED_CHECK(c.min_count >= 1, "prepare: min count must be at least 1, got {}", c.min_count);
  std::filesystem::create_directories(c.out_dir);
  const std::string first_line = first_line_of(c);
  std::vector<std::unique_ptr<RowParser>> parsers;
  for (int t = 0; t < std::max(1, c.threads); ++t) parsers.push_back(make_row_parser(c, first_line));
  const RowParser* parser = parsers[0].get();
  const size_t nd = parser->dense_names().size(), nc = parser->cat_names().size();

  // Splits within the training files: row r goes to test, valid or train.
  const bool by_ratio = c.split == "ratio", by_order = c.split == "order";
  CEMBED_CHECK(by_ratio || by_order || c.split == "files", "prepare: split must be files, ratio or order, got '{}'", c.split);
  if (by_ratio || by_order) {
    CEMBED_CHECK(c.valid_files.empty() && c.test_files.empty(), "prepare: split '{}' takes no --valid or --test files", c.split);
    CEMBED_CHECK(c.valid_fraction >= 0 && c.test_fraction > 0 && c.valid_fraction + c.test_fraction < 1,
                 "prepare: need 0 < test fraction, 0 <= valid fraction and their sum < 1 (got {} and {})", c.test_fraction,
                 c.valid_fraction);
  }
  enum Part { kTrain, kValid, kTest };
  auto part_by_ratio = [&](int64_t r) {
    const double u = static_cast<double>(mix64(derive_seed(c.seed, 0x5b1, static_cast<uint64_t>(r))) >> 11) * 0x1.0p-53;
    return u < c.test_fraction ? kTest : u < c.test_fraction + c.valid_fraction ? kValid : kTrain;
  };

  // Pass over the training text: spill rows, count values (of the training part only,
  // when a ratio split tells it; an order split knows its parts only at the end).
  RecordSpill spill(c.out_dir, 4 + 4 * nd + 8 * nc);
  CEMBED_CHECK(c.vocabulary_path.empty() || c.hash_buckets == 0, "prepare: give a vocabulary or hash buckets, not both");
  CEMBED_CHECK(c.hash_buckets == 0 || (c.hash_buckets >= 2 && c.hash_buckets <= (int64_t{1} << 32)),
               "prepare: hash buckets must be in [2, 2^32], got {}", c.hash_buckets);
  const bool fixed_ids = !c.vocabulary_path.empty() || c.hash_buckets > 0;  // no counting
  std::vector<FlatMap<int64_t>> counts(nc);
  SplitStats pass_stats;  // every parsed row; empty counts over the counted rows
  int64_t counted_rows = 0;
  pass_stats.empty.assign(nc, 0);
  // Rows to count are collected per block, then counted on all threads, one feature each.
  std::vector<const ParsedRow*> to_count;
  read_files(
      c, parsers, c.train_files, pass_stats,
      [&](const ParsedRow& row) {
        spill.write(row);
        const bool count = !by_ratio || part_by_ratio(pass_stats.rows) == kTrain;
        ++pass_stats.rows;
        if (!count) return;
        ++counted_rows;
        to_count.push_back(&row);
      },
      [&] {
#pragma omp parallel for num_threads(std::max(1, c.threads)) schedule(dynamic, 1)
        for (size_t f = 0; f < nc; ++f) {
          int64_t empty = 0;
          for (const ParsedRow* row : to_count) {
            if (row->cats[f] == 0) {
              ++empty;
            } else if (!fixed_ids) {
              ++counts[f][row->cats[f]];
            }
          }
          pass_stats.empty[f] += empty;
        }
        to_count.clear();
      });
  CEMBED_CHECK(counted_rows > 0, "prepare: no training rows in {}", fmt::join(c.train_files, ", "));

  // Vocabulary: values seen at least min_count times, most frequent first, at ids 1..
  std::vector<FlatMap<Id>> vocab(nc);
  nlohmann::json feature_stats = nlohmann::json::array();
  DatasetSchema schema;
  schema.dense_names = parser->dense_names();
  std::vector<int64_t> given_cardinality;
  if (!c.vocabulary_path.empty()) load_vocabulary(c.vocabulary_path, parser->cat_names(), vocab, given_cardinality);
  for (size_t f = 0; f < nc; ++f) {
    const std::string& name = parser->cat_names()[f];
    const double empty_rate = static_cast<double>(pass_stats.empty[f]) / static_cast<double>(counted_rows);
    schema.multi_hot.push_back(false);
    if (fixed_ids) {
      const int64_t card = c.hash_buckets > 0 ? c.hash_buckets : given_cardinality[f];
      schema.sparse.push_back({name, card});
      feature_stats.push_back({{"name", name},
                               {"ids", c.hash_buckets > 0 ? "hashed" : "vocabulary file"},
                               {"vocabulary", c.hash_buckets > 0 ? 0 : static_cast<int64_t>(vocab[f].size())},
                               {"cardinality", card},
                               {"empty_rate", empty_rate}});
      continue;
    }
    std::vector<std::pair<int64_t, uint64_t>> kept;
    std::vector<int64_t> histogram;  // values by floor(log2(count))
    counts[f].for_each([&](uint64_t key, int64_t n) {
      const auto bucket = static_cast<size_t>(std::log2(static_cast<double>(n)));
      if (histogram.size() <= bucket) histogram.resize(bucket + 1);
      ++histogram[bucket];
      if (n >= c.min_count) kept.emplace_back(n, key);
    });
    std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
    CEMBED_CHECK(kept.size() < (uint64_t{1} << 32) - 1, "prepare: feature '{}' has too many values", name);
    for (size_t i = 0; i < kept.size(); ++i) vocab[f][kept[i].second] = static_cast<Id>(i + 1);
    schema.sparse.push_back({name, static_cast<int64_t>(kept.size()) + 1});
    feature_stats.push_back({{"name", name},
                             {"distinct_values", counts[f].size()},
                             {"vocabulary", kept.size()},
                             {"cardinality", kept.size() + 1},
                             {"empty_rate", empty_rate},
                             {"count_histogram_log2", histogram}});
    counts[f] = {};
  }
  if (c.hash_buckets == 0) save_vocabulary(c.out_dir + "/vocabulary.bin", parser->cat_names(), vocab, schema);

  nlohmann::json stats;
  stats["format"] = c.format == TextFormat::Criteo ? "criteo" : c.format == TextFormat::Avazu ? "avazu" : "libfm";
  stats["min_count"] = c.min_count;
  stats["split"] = {{"by", c.split}, {"valid_fraction", c.valid_fraction}, {"test_fraction", c.test_fraction}, {"seed", c.seed}};
  stats["features"] = feature_stats;
  std::vector<Id> ids(nc);
  std::vector<std::span<const Id>> bags(nc);
  for (size_t f = 0; f < nc; ++f) bags[f] = {&ids[f], 1};
  // Id of feature f's value `key`: hashed, or through the vocabulary (counting misses in oov).
  auto map_id = [&](size_t f, uint64_t key, int64_t& oov) -> Id {
    if (key == 0) return 0;
    if (c.hash_buckets > 0) return static_cast<Id>(1 + mix64(key) % static_cast<uint64_t>(c.hash_buckets - 1));
    const Id* id = vocab[f].find(key);
    oov += id == nullptr;
    return id == nullptr ? 0 : *id;
  };
  // Writes a row whose ids are in `row_bags` to `w`, counting it in `st`.
  auto append = [&](DatasetWriter& w, const ParsedRow& row, std::span<const std::span<const Id>> row_bags,
                    SplitStats& st) {
    ++st.rows;
    st.clicks += row.label;
    w.add_row(row.label, row.dense, row_bags);
  };
  // Maps a row's values and writes it to `w`, counting it in `st`.
  auto write_row = [&](DatasetWriter& w, const ParsedRow& row, SplitStats& st) {
    for (size_t f = 0; f < nc; ++f) ids[f] = map_id(f, row.cats[f], st.oov[f]);
    append(w, row, bags, st);
  };
  auto finish_split = [&](const std::string& name, DatasetWriter& w, SplitStats& st, const std::vector<std::string>& files) {
    nlohmann::json s = {{"rows", st.rows},
                        {"ctr", st.rows ? st.clicks / static_cast<double>(st.rows) : 0.0},
                        {"bad_lines", st.bad_lines},
                        {"bad_line_examples", st.bad_examples},
                        {"oov_ids", st.oov},
                        {"files", files}};
    w.set_metadata({{"source", stats["format"]}, {"split", name}, {"stats", s}});
    w.finish();
    stats[name] = s;
  };

  {
    // The spilled rows: all to train, or to their part of the split.
    const char* names[] = {"train", "valid", "test"};
    std::unique_ptr<DatasetWriter> writers[3];
    SplitStats part_stats[3];
    for (int p = 0; p < 3; ++p) {
      if (p == kTrain || (p == kValid && c.valid_fraction > 0) || (p == kTest && (by_ratio || by_order))) {
        writers[p] = std::make_unique<DatasetWriter>(c.out_dir + "/" + names[p] + ".cds", schema);
      }
      part_stats[p].oov.assign(nc, 0);
    }
    part_stats[kTrain].bad_lines = pass_stats.bad_lines;
    part_stats[kTrain].bad_examples = pass_stats.bad_examples;
    const int64_t n = pass_stats.rows;
    const auto test_from = n - static_cast<int64_t>(std::llround(static_cast<double>(n) * c.test_fraction));
    const auto valid_from = test_from - static_cast<int64_t>(std::llround(static_cast<double>(n) * c.valid_fraction));
    spill.rewind();
    // Blocks of spilled rows: ids mapped on all threads (one feature each), rows written
    // in order.
    constexpr size_t kRemapBlock = 1 << 14;
    std::vector<ParsedRow> block(kRemapBlock);
    for (auto& row : block) {
      row.dense.resize(nd);
      row.cats.resize(nc);
    }
    std::vector<Id> block_ids(kRemapBlock * nc);
    std::vector<Part> parts(kRemapBlock);
    std::vector<std::span<const Id>> row_bags(nc);
    for (int64_t r = 0;;) {
      size_t n = 0;
      while (n < kRemapBlock && spill.read(block[n])) {
        parts[n] = by_ratio ? part_by_ratio(r) : by_order ? (r >= test_from ? kTest : r >= valid_from ? kValid : kTrain) : kTrain;
        ++n;
        ++r;
      }
      if (n == 0) break;
#pragma omp parallel for num_threads(std::max(1, c.threads)) schedule(dynamic, 1)
      for (size_t f = 0; f < nc; ++f) {
        for (size_t i = 0; i < n; ++i) block_ids[i * nc + f] = map_id(f, block[i].cats[f], part_stats[parts[i]].oov[f]);
      }
      for (size_t i = 0; i < n; ++i) {
        for (size_t f = 0; f < nc; ++f) row_bags[f] = {&block_ids[i * nc + f], 1};
        append(*writers[parts[i]], block[i], row_bags, part_stats[parts[i]]);
      }
    }
    for (int p = 0; p < 3; ++p) {
      if (writers[p]) finish_split(names[p], *writers[p], part_stats[p], c.train_files);
    }
  }
  for (const auto& [name, files] : {std::pair{std::string("valid"), c.valid_files}, std::pair{std::string("test"), c.test_files}}) {
    if (files.empty()) continue;
    DatasetWriter w(c.out_dir + "/" + name + ".cds", schema);
    SplitStats st;
    st.oov.assign(nc, 0);
    read_files(c, parsers, files, st, [&](const ParsedRow& row) { write_row(w, row, st); }, [] {});
    finish_split(name, w, st, files);
  }
  write_file_atomically(c.out_dir + "/prepare.json", stats.dump(2) + "\n");
  return stats;
}

}  // namespace cembed
