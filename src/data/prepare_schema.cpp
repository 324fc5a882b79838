// `cembed prepare --format csv --schema FILE.toml`: CSV/TSV files described by a schema,
// with side files joined by key and multi-valued columns as bags. See docs/data.md for
// the schema keys; an example for MovieLens-100K is data/schemas/ml-100k.toml.
//
// Unlike the streaming Criteo/Avazu/libFM path, rows are held in memory (such files are
// small: the "latest per group" split needs every row of a group anyway). Phases, in order:
// the schema (csv_schema.h), read_side_files, resolve_columns (the headers' columns of each
// feature), RowReader (records to rows, side files joined), split_rows, Vocabulary (ids and
// the dataset schema), ranking_metadata, write_part per split, then prepare.json.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "cembed/dataset.h"
#include "cembed/prepare.h"
#include "data/csv_schema.h"
#include "data/dataset_writer.h"
#include "data/formats/csv_reader.h"
#include "data/formats/printable.h"
#include "data/prepare_split.h"
#include "data/vocabulary_identity.h"
#include "util/check.h"
#include "util/file_format.h"
#include "util/random.h"

namespace cembed {
namespace {

namespace fs = std::filesystem;

// Column names match exactly, or by the part before ':' (RecBole's "user_id:token").
std::string bare(const std::string& name) { return name.substr(0, name.find(':')); }

int find_column(const std::vector<std::string>& header, const std::string& name, const std::string& file) {
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name || bare(header[i]) == name) return static_cast<int>(i);
  }
  std::vector<std::string> shown;
  for (const auto& h : header) shown.push_back(printable(h, 64));
  fail("{}: no column '{}' (columns: {})", file, name, fmt::join(shown, ", "));
}

std::vector<std::string_view> split_line(std::string_view line, char sep) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (true) {
    const size_t at = line.find(sep, pos);
    out.push_back(line.substr(pos, at == std::string_view::npos ? std::string_view::npos : at - pos));
    if (at == std::string_view::npos) break;
    pos = at + 1;
  }
  return out;
}

uint64_t value_key(std::string_view v) {
  return v.empty() ? 0 : checksum64(v.data(), v.size(), 0x5eed) | 1;  // nonzero: 0 is "empty"
}

[[noreturn]] void field_error(const std::string& file, int64_t line, int field, const std::string& name,
                              const std::string& msg) {
  fail("{}:{}: field {} ({}): {}", file, line, field, name, msg);
}

double parse_number(std::string_view v, const std::string& file, int64_t line, int field, const std::string& name) {
  double x = 0;
  if (v.empty()) return 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc() || ptr != v.data() + v.size() || !std::isfinite(x)) {
    field_error(file, line, field, name, fmt::format("'{}' is not a number", printable(v)));
  }
  return x;
}

// The keys of a field's values into `out`: one (none when empty), or, for a multi-valued
// column (`multi`: its separator), one per non-empty token.
void append_keys(std::string_view v, char multi, std::vector<uint64_t>& out) {
  if (multi == 0) {
    if (!v.empty()) out.push_back(value_key(v));
    return;
  }
  for (auto tok : split_line(v, multi)) {
    if (!tok.empty()) out.push_back(value_key(tok));
  }
}

std::unique_ptr<CsvReader> open_table(const std::string& file, const TableSpec& t, const PrepareConfig& c) {
  return std::make_unique<CsvReader>(file, t.separator, t.quote, c.max_line_bytes, c.skip_bad_lines);
}

std::vector<std::string> header_of(CsvReader& r, const TableSpec& t) {
  if (!t.header) return t.columns;
  std::vector<std::string_view> fields;
  CEMBED_CHECK(r.next(fields), "{}: empty file (a header was expected)", r.path());
  return std::vector<std::string>(fields.begin(), fields.end());
}

// ---------------------------------------------------------------- side files

// A side file, held whole: its header, join column and rows by key.
struct SideFile {
  std::vector<std::string> header;
  int key_column = 0;
  std::unordered_map<std::string, std::vector<std::string>> rows;  // key -> fields
};

// Side files: absolute, or beside the (first) training file, or beside the schema.
std::string side_file_path(const PrepareConfig& c, const TableSpec& t) {
  if (!fs::path(t.file).is_relative()) return t.file;
  const fs::path beside_data = fs::path(c.train_files[0]).parent_path() / t.file;
  return fs::exists(beside_data) ? beside_data.string() : (fs::path(c.schema_path).parent_path() / t.file).string();
}

std::vector<SideFile> read_side_files(const PrepareConfig& c, const CsvSchema& s) {
  std::vector<SideFile> sides(s.sides.size());
  for (size_t i = 0; i < s.sides.size(); ++i) {
    const auto& t = s.sides[i];
    const std::string file = side_file_path(c, t);
    const auto reader = open_table(file, t, c);
    CsvReader& r = *reader;
    SideFile& side = sides[i];
    side.header = header_of(r, t);
    side.key_column = find_column(side.header, t.key, file);
    std::vector<std::string_view> f;
    while (r.next(f)) {
      if (f.size() != side.header.size()) {
        field_error(file, r.line_number(), 0, "line",
                    fmt::format("{} fields, the header has {}", f.size(), side.header.size()));
      }
      side.rows[std::string(f[side.key_column])] = std::vector<std::string>(f.begin(), f.end());
    }
  }
  return sides;
}

// ---------------------------------------------------------------- columns

// A feature of the dataset: a column of the main file or of a side file.
struct Feature {
  std::string name;
  int table;  // -1: main file, else side index
  int column;
  char multi = 0;  // separator of a multi-valued column
};

// Where each part of a row comes from, resolved against the headers.
struct Columns {
  std::vector<std::string> main_header;
  // The features, in order: main categorical, main multi-valued, then each side's.
  std::vector<Feature> features;
  std::vector<std::pair<int, int>> dense;  // (table, column)
  std::vector<std::string> dense_names;
  int label = 0;
  std::vector<int> join;      // per side file: its key's column in the main file
  int group = -1, time = -1;  // the "latest" split's columns, or -1
  // DLRM's bottom MLP needs an input: data without dense columns gets a constant 0 (as libFM).
  bool const_dense = false;
};

Columns resolve_columns(const PrepareConfig& c, const CsvSchema& s, std::vector<std::string> main_header,
                        const std::vector<SideFile>& sides) {
  Columns cols;
  cols.main_header = std::move(main_header);
  const std::string& main_file = c.train_files[0];
  auto add_features = [&](const TableSpec& t, int table, const std::vector<std::string>& header,
                          const std::string& file) {
    for (const auto& name : t.categorical)
      cols.features.push_back({bare(name), table, find_column(header, name, file), 0});
    for (const auto& [name, sep] : t.multi_valued) {
      cols.features.push_back({bare(name), table, find_column(header, name, file), sep});
    }
  };
  add_features(s.main, -1, cols.main_header, main_file);
  for (size_t i = 0; i < s.sides.size(); ++i)
    add_features(s.sides[i], static_cast<int>(i), sides[i].header, s.sides[i].file);
  for (const auto& name : s.main.dense) {
    cols.dense.emplace_back(-1, find_column(cols.main_header, name, main_file));
    cols.dense_names.push_back(bare(name));
  }
  for (size_t i = 0; i < s.sides.size(); ++i) {
    for (const auto& name : s.sides[i].dense) {
      cols.dense.emplace_back(static_cast<int>(i), find_column(sides[i].header, name, s.sides[i].file));
      cols.dense_names.push_back(bare(name));
    }
  }
  cols.label = find_column(cols.main_header, s.label.column, main_file);
  cols.join.resize(s.sides.size());
  for (size_t i = 0; i < s.sides.size(); ++i) cols.join[i] = find_column(cols.main_header, s.sides[i].key, main_file);
  cols.group = s.split_by.empty() ? -1 : find_column(cols.main_header, s.split_group, main_file);
  cols.time = s.split_by.empty() ? -1 : find_column(cols.main_header, s.split_time, main_file);
  cols.const_dense = cols.dense.empty();
  if (cols.const_dense) cols.dense_names.push_back("const");
  CEMBED_CHECK(!cols.features.empty(), "{}: no categorical features", c.schema_path);
  return cols;
}

// ---------------------------------------------------------------- records to rows

struct Row {
  float label = 0;
  std::vector<float> dense;
  std::vector<std::vector<uint64_t>> cats;  // per feature
  std::string group;
  double time = 0;
};

// Reads the main files of a split into rows, joining the side files; counts (or, without
// skip_bad_lines, raises) bad records, and rows whose key a side file lacks.
class RowReader {
 public:
  RowReader(const PrepareConfig& c, const CsvSchema& s, const Columns& cols, const std::vector<SideFile>& sides)
      : c_(c), s_(s), cols_(cols), sides_(sides) {}

  // `opened`: the first file's reader, its header read already.
  std::vector<Row> read(const std::vector<std::string>& files, std::unique_ptr<CsvReader> opened) {
    std::vector<Row> rows;
    std::vector<std::string_view> f;
    for (size_t fi = 0; fi < files.size(); ++fi) {
      const std::string& file = files[fi];
      std::unique_ptr<CsvReader> reader = fi == 0 && opened ? std::move(opened) : nullptr;
      if (reader == nullptr) {
        reader = open_table(file, s_.main, c_);
        CEMBED_CHECK(header_of(*reader, s_.main) == cols_.main_header, "{}: columns differ from {}", file,
                     c_.train_files[0]);
      }
      CsvReader& r = *reader;
      while (true) {
        try {
          if (!r.next(f)) break;
        } catch (const BadRecordError& e) {
          bad_line(e, r.record_lines());
          continue;
        } catch (const LongLineError& e) {
          bad_line(e, r.record_lines());
          continue;
        }
        try {
          rows.push_back(to_row(f, file, r.line_number()));
        } catch (const Error& e) {
          bad_line(e);
        }
      }
    }
    return rows;
  }

  int64_t bad_lines = 0, missing_side = 0;
  nlohmann::json bad_examples = nlohmann::json::array();

 private:
  // A skipped record counts every line it took: a quote never closed can take many.
  void bad_line(const Error& e, int64_t lines = 1) {
    if (!c_.skip_bad_lines) throw e;
    bad_lines += std::max<int64_t>(1, lines);
    if (bad_examples.size() < 10) {
      bad_examples.push_back(lines > 1 ? fmt::format("{} ({} lines skipped)", e.what(), lines) : std::string(e.what()));
    }
  }

  float label_of(std::string_view v, const std::string& file, int64_t line) const {
    const int col = cols_.label;
    const std::string& name = cols_.main_header[col];
    if (v.empty()) {
      field_error(file, line, col + 1, name,
                  s_.label.op.empty() ? "empty label" : "empty value (the label rule needs a number)");
    }
    const double y = parse_number(v, file, line, col + 1, name);
    if (!s_.label.op.empty()) return s_.label.holds(y) ? 1.0f : 0.0f;
    if (y != 0 && y != 1 && y != -1)
      field_error(file, line, col + 1, name, fmt::format("label '{}' is not 0/1 or -1/1", printable(v)));
    return y == 1 ? 1.0f : 0.0f;
  }

  Row to_row(const std::vector<std::string_view>& f, const std::string& file, int64_t line) {
    if (f.size() != cols_.main_header.size()) {
      field_error(file, line, 0, "line",
                  fmt::format("{} fields, the header has {}", f.size(), cols_.main_header.size()));
    }
    Row row;
    row.label = label_of(f[cols_.label], file, line);
    std::vector<const std::vector<std::string>*> side_row(sides_.size(), nullptr);
    for (size_t i = 0; i < sides_.size(); ++i) {
      const auto it = sides_[i].rows.find(std::string(f[cols_.join[i]]));
      if (it == sides_[i].rows.end()) {
        ++missing_side;
      } else {
        side_row[i] = &it->second;
      }
    }
    auto field_of = [&](int table, int col) -> std::string_view {
      if (table < 0) return f[col];
      return side_row[table] == nullptr ? std::string_view() : std::string_view((*side_row[table])[col]);
    };
    for (size_t d = 0; d < cols_.dense.size(); ++d) {
      const auto [table, col] = cols_.dense[d];
      const double x = parse_number(field_of(table, col), table < 0 ? file : s_.sides[table].file, line, col + 1,
                                    cols_.dense_names[d]);
      row.dense.push_back(static_cast<float>(c_.log_dense ? std::log1p(std::max(x, 0.0)) : x));
    }
    if (cols_.const_dense) row.dense.assign(1, 0.0f);
    row.cats.resize(cols_.features.size());
    for (size_t k = 0; k < cols_.features.size(); ++k) {
      const Feature& feature = cols_.features[k];
      append_keys(field_of(feature.table, feature.column), feature.multi, row.cats[k]);
    }
    if (cols_.group >= 0) {
      row.group = std::string(f[cols_.group]);
      row.time = parse_number(f[cols_.time], file, line, cols_.time + 1, cols_.main_header[cols_.time]);
    }
    return row;
  }

  const PrepareConfig& c_;
  const CsvSchema& s_;
  const Columns& cols_;
  const std::vector<SideFile>& sides_;
};

// ---------------------------------------------------------------- split

// --split ratio / order (parts of the training rows, by the rules of every format), or the
// schema's "latest per group"; returns how the rows were split, for the statistics.
std::string split_rows(const PrepareConfig& c, const CsvSchema& s, std::vector<Row>& train, std::vector<Row>& valid,
                       std::vector<Row>& test) {
  std::string split_desc = "files";
  if (check_split(c)) {
    CEMBED_CHECK(s.split_by.empty(), "prepare: {} splits by the latest rows; give no --split {}", c.schema_path,
                 c.split);
    const auto n = static_cast<int64_t>(train.size());
    const OrderSplit order = order_split(c, n);
    std::vector<Row> kept;
    for (int64_t i = 0; i < n; ++i) {
      const Part p = c.split == "ratio"     ? part_by_ratio(c, i)
                     : i < order.valid_from ? kTrain
                     : i < order.test_from  ? kValid
                                            : kTest;
      (p == kTest ? test : p == kValid ? valid : kept).push_back(std::move(train[i]));
    }
    train = std::move(kept);
    split_desc = c.split;
  }
  if (!s.split_by.empty()) {
    // Each group's latest rows (by time; ties by file order) go to test.
    CEMBED_CHECK(c.test_files.empty(), "prepare: the schema splits by latest rows; give no --test files");
    std::map<std::string, std::vector<int64_t>> by_group;
    for (int64_t i = 0; i < static_cast<int64_t>(train.size()); ++i) by_group[train[i].group].push_back(i);
    std::vector<uint8_t> to_test(train.size(), 0);
    for (auto& [g, idx] : by_group) {
      std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return train[a].time < train[b].time; });
      if (static_cast<int64_t>(idx.size()) <= s.test_per_group) continue;  // keep a group's only rows in train
      for (int64_t k = 0; k < s.test_per_group; ++k) to_test[idx[idx.size() - 1 - k]] = 1;
    }
    std::vector<Row> kept;
    for (size_t i = 0; i < train.size(); ++i) (to_test[i] ? test : kept).push_back(std::move(train[i]));
    train = std::move(kept);
    split_desc = fmt::format("latest {} row(s) per {} by {}", s.test_per_group, s.split_group, s.split_time);
  }
  CEMBED_CHECK(!train.empty(), "prepare: no training rows in {}", fmt::join(c.train_files, ", "));
  return split_desc;
}

// ---------------------------------------------------------------- vocabulary

// Per feature, from the training rows: values seen at least min_count times, most frequent
// first, at ids 1..; OOV id 0. Holds the dataset schema and per feature statistics.
class Vocabulary {
 public:
  Vocabulary(const PrepareConfig& c, const Columns& cols, const std::vector<Row>& train) : features_(cols.features) {
    const size_t nf = features_.size();
    vocab_.resize(nf);
    schema.dense_names = cols.dense_names;
    for (size_t k = 0; k < nf; ++k) {
      std::unordered_map<uint64_t, int64_t> counts;
      int64_t empty = 0;
      for (const Row& r : train) {
        empty += r.cats[k].empty();
        for (uint64_t v : r.cats[k]) ++counts[v];
      }
      std::vector<std::pair<int64_t, uint64_t>> kept;
      std::vector<int64_t> histogram;
      for (const auto& [v, n] : counts) {
        const auto bucket = static_cast<size_t>(std::log2(static_cast<double>(n)));
        if (histogram.size() <= bucket) histogram.resize(bucket + 1);
        ++histogram[bucket];
        if (n >= c.min_count) kept.emplace_back(n, v);
      }
      std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
      });
      for (size_t i = 0; i < kept.size(); ++i) vocab_[k][kept[i].second] = static_cast<Id>(i + 1);
      schema.sparse.push_back({features_[k].name, static_cast<int64_t>(kept.size()) + 1});
      schema.multi_hot.push_back(features_[k].multi != 0);
      feature_stats.push_back({{"name", features_[k].name},
                               {"multi_valued", features_[k].multi != 0},
                               {"distinct_values", counts.size()},
                               {"vocabulary", kept.size()},
                               {"cardinality", kept.size() + 1},
                               {"empty_rate", static_cast<double>(empty) / static_cast<double>(train.size())},
                               {"count_histogram_log2", histogram}});
    }
    VocabularyIdentity identity;
    for (size_t k = 0; k < nf; ++k) {
      identity.feature(features_[k].name, schema.sparse[k].cardinality);
      for (const auto& [key, id] : vocab_[k]) identity.pair(key, id);
    }
    schema.vocabulary_id = identity.finish();
  }

  // Feature k's ids of `keys` (0 for a value not in the vocabulary, counted in *oov when
  // given); a one-hot feature with no value gets the OOV id.
  std::vector<Id> ids_of(size_t k, const std::vector<uint64_t>& keys, int64_t* oov) const {
    std::vector<Id> ids;
    for (uint64_t v : keys) {
      const auto it = vocab_[k].find(v);
      ids.push_back(it == vocab_[k].end() ? 0 : it->second);
      if (oov != nullptr && it == vocab_[k].end()) ++*oov;
    }
    if (features_[k].multi == 0 && ids.empty()) ids.push_back(0);  // one-hot: empty -> OOV id
    return ids;
  }

  DatasetSchema schema;
  nlohmann::json feature_stats = nlohmann::json::array();

 private:
  const std::vector<Feature>& features_;
  std::vector<std::unordered_map<uint64_t, Id>> vocab_;
};

// ---------------------------------------------------------------- ranking metadata

// Which features are the user and the item, which features come with the item (its side
// file, then ranking.item_features), and every item's ids of those features; null without
// a [ranking] table.
nlohmann::json ranking_metadata(const PrepareConfig& c, const CsvSchema& s, const Columns& cols,
                                const std::vector<SideFile>& sides, const Vocabulary& vocab,
                                const std::vector<Row>& train) {
  if (s.rank_user.empty()) return nullptr;
  const std::vector<Feature>& features = cols.features;
  const size_t nf = features.size();
  int user_f = -1, item_f = -1;
  for (size_t k = 0; k < nf; ++k) {
    if (features[k].name == bare(s.rank_user)) user_f = static_cast<int>(k);
    if (features[k].name == bare(s.rank_item)) item_f = static_cast<int>(k);
  }
  CEMBED_CHECK(user_f >= 0 && item_f >= 0 && features[item_f].table == -1,
               "{}: ranking user '{}' and item '{}' must be categorical columns of the main file", c.schema_path,
               s.rank_user, s.rank_item);
  int item_side = -1;
  for (size_t i = 0; i < s.sides.size(); ++i) {
    if (bare(s.sides[i].key) == features[item_f].name) item_side = static_cast<int>(i);
  }
  std::vector<int> item_features = {item_f};
  for (size_t k = 0; k < nf; ++k) {
    if (item_side >= 0 && features[k].table == item_side) item_features.push_back(static_cast<int>(k));
  }
  // Main-file columns that describe the item (ranking.item_features): an item's values are
  // those of its first training row.
  const size_t first_main_feature = item_features.size();
  for (const auto& name : s.rank_item_features) {
    int found = -1;
    for (size_t k = 0; k < nf; ++k) {
      if (features[k].table == -1 && features[k].name == bare(name) && static_cast<int>(k) != item_f)
        found = static_cast<int>(k);
    }
    CEMBED_CHECK(found >= 0,
                 "{}: ranking item_features: '{}' is not a categorical column of the main file (other than the item)",
                 c.schema_path, name);
    item_features.push_back(found);
  }
  std::map<Id, size_t> first_row;  // item id -> its first training row
  for (size_t r = 0; r < train.size(); ++r) {
    const std::vector<Id> id = vocab.ids_of(item_f, train[r].cats[item_f], nullptr);
    if (!id.empty() && id[0] != 0) first_row.emplace(id[0], r);
  }
  auto add_main_features = [&](nlohmann::json& bags, Id item) {
    const auto it = first_row.find(item);
    for (size_t j = first_main_feature; j < item_features.size(); ++j) {
      const int k = item_features[j];
      bags.push_back(it == first_row.end() ? vocab.ids_of(k, {}, nullptr)
                                           : vocab.ids_of(k, train[it->second].cats[k], nullptr));
    }
  };
  nlohmann::json items = nlohmann::json::array();
  // Items of the catalogue: the item side file's keys when there is one, else the items
  // of the training rows (the main file's item column), in id order.
  if (item_side < 0) {
    for (const auto& [item, r] : first_row) {
      nlohmann::json bags = nlohmann::json::array();
      bags.push_back(std::vector<Id>{item});
      add_main_features(bags, item);
      items.push_back(bags);
    }
  }
  std::vector<std::string> keys;
  if (item_side >= 0) {
    for (const auto& [key, row] : sides[item_side].rows) keys.push_back(key);
    std::sort(keys.begin(), keys.end());
  }
  std::map<Id, bool> listed;
  for (const auto& key : keys) {
    const auto& row = sides[item_side].rows.at(key);
    const std::vector<Id> item_id = vocab.ids_of(item_f, {value_key(key)}, nullptr);
    if (item_id[0] == 0 || listed.count(item_id[0])) continue;  // never seen in training: not rankable
    listed[item_id[0]] = true;
    nlohmann::json bags = nlohmann::json::array();
    bags.push_back(item_id);
    for (size_t j = 1; j < first_main_feature; ++j) {
      const int k = item_features[j];
      std::vector<uint64_t> vals;
      append_keys(row[features[k].column], features[k].multi, vals);
      bags.push_back(vocab.ids_of(k, vals, nullptr));
    }
    add_main_features(bags, item_id[0]);
    items.push_back(bags);
  }
  return nlohmann::json{
      {"user_feature", user_f}, {"item_feature", item_f}, {"item_features", item_features}, {"items", items}};
}

// ---------------------------------------------------------------- writing

// Writes out_dir/<name>.cds from `rows`, its statistics into stats[name] (the bad lines
// belong to train).
void write_part(const PrepareConfig& c, const std::string& name, const std::vector<Row>& rows,
                const std::vector<std::string>& files, const Vocabulary& vocab, const RowReader& reader,
                const nlohmann::json& ranking, nlohmann::json& stats) {
  const size_t nf = vocab.schema.sparse.size();
  DatasetWriter w(c.out_dir + "/" + name + ".cds", vocab.schema);
  std::vector<int64_t> oov(nf, 0);
  double clicks = 0;
  std::vector<std::vector<Id>> ids(nf);
  std::vector<std::span<const Id>> bags(nf);
  for (const Row& r : rows) {
    for (size_t k = 0; k < nf; ++k) {
      ids[k] = vocab.ids_of(k, r.cats[k], &oov[k]);
      bags[k] = ids[k];
    }
    clicks += r.label;
    w.add_row(r.label, r.dense, bags);
  }
  nlohmann::json st = {{"rows", rows.size()},
                       {"ctr", rows.empty() ? 0.0 : clicks / static_cast<double>(rows.size())},
                       {"bad_lines", name == "train" ? reader.bad_lines : 0},
                       {"bad_line_examples", name == "train" ? reader.bad_examples : nlohmann::json::array()},
                       {"oov_ids", oov},
                       {"files", files}};
  nlohmann::json meta = {{"source", "csv"}, {"split", name}, {"stats", st}};
  if (!ranking.is_null()) meta["ranking"] = ranking;
  w.set_metadata(meta);
  w.finish();
  stats[name] = st;
}

}  // namespace

nlohmann::json prepare_schema_dataset(const PrepareConfig& c) {
  CEMBED_CHECK(!c.schema_path.empty(), "prepare: --format csv needs --schema FILE.toml");
  CEMBED_CHECK(!c.train_files.empty(), "prepare: no training files");
  CEMBED_CHECK(c.min_count >= 1, "prepare: min count must be at least 1, got {}", c.min_count);
  CEMBED_CHECK(c.vocabulary_path.empty() && c.hash_buckets == 0,
               "prepare: --vocabulary and --hash-buckets are for the criteo, avazu and libfm formats");
  const CsvSchema s = load_csv_schema(c.schema_path);
  fs::create_directories(c.out_dir);

  const std::vector<SideFile> sides = read_side_files(c, s);
  // The first training file is opened once: its header here, its rows below.
  std::unique_ptr<CsvReader> first_file = open_table(c.train_files[0], s.main, c);
  const Columns cols = resolve_columns(c, s, header_of(*first_file, s.main), sides);

  RowReader reader(c, s, cols, sides);
  std::vector<Row> train = reader.read(c.train_files, std::move(first_file));
  std::vector<Row> valid = reader.read(c.valid_files, nullptr), test = reader.read(c.test_files, nullptr);
  const std::string split_desc = split_rows(c, s, train, valid, test);
  const bool split_within = c.split == "ratio" || c.split == "order";

  const Vocabulary vocab(c, cols, train);
  const nlohmann::json ranking = ranking_metadata(c, s, cols, sides, vocab, train);

  nlohmann::json stats;
  stats["format"] = "csv";
  stats["schema"] = c.schema_path;
  stats["min_count"] = c.min_count;
  stats["split"] = {{"by", split_desc}};
  if (split_within) {
    stats["split"] = {
        {"by", c.split}, {"valid_fraction", c.valid_fraction}, {"test_fraction", c.test_fraction}, {"seed", c.seed}};
  }
  stats["features"] = vocab.feature_stats;
  stats["rows_without_side_row"] = reader.missing_side;
  write_part(c, "train", train, c.train_files, vocab, reader, ranking, stats);
  if (!valid.empty() || !c.valid_files.empty() || (split_within && c.valid_fraction > 0)) {
    write_part(c, "valid", valid, c.valid_files.empty() ? c.train_files : c.valid_files, vocab, reader, ranking, stats);
  }
  if (!test.empty() || !c.test_files.empty()) {
    write_part(c, "test", test, c.test_files.empty() ? c.train_files : c.test_files, vocab, reader, ranking, stats);
  }
  write_file_atomically(c.out_dir + "/prepare.json", stats.dump(2) + "\n");
  return stats;
}

}  // namespace cembed
