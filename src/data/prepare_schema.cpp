// `cembed prepare --format csv --schema FILE.toml`: CSV/TSV files described by a schema,
// with side files joined by key and multi-valued columns as bags. See docs/data.md for
// the schema keys; an example for MovieLens-100K is data/schemas/ml-100k.toml.
//
// Unlike the streaming Criteo/Avazu/libFM path, rows are held in memory (such files are
// small: the "latest per group" split needs every row of a group anyway).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <map>
#include <numeric>
#include <toml++/toml.h>
#include <unordered_map>

#include "cembed/dataset.h"
#include "cembed/errors.h"
#include "cembed/file_format.h"
#include "cembed/prepare.h"
#include "cembed/random.h"
#include "data/formats/csv_reader.h"
#include "data/formats/input_stream.h"
#include "data/formats/printable.h"
#include "data/prepare_split.h"
#include "data/vocabulary_identity.h"

namespace cembed {
namespace {

namespace fs = std::filesystem;

struct LabelRule {
  std::string column;
  std::string op;  // empty: the column holds 0/1 (or -1/1)
  double threshold = 0;
  bool holds(double v) const {
    if (op == ">=") return v >= threshold;
    if (op == ">") return v > threshold;
    if (op == "<=") return v <= threshold;
    if (op == "<") return v < threshold;
    if (op == "==") return v == threshold;
    return v != threshold;  // "!="
  }
};

struct TableSpec {
  std::string file;
  char separator = ',';
  char quote = '"';  // RFC 4180 quoting; 0: none
  bool header = true;
  std::vector<std::string> columns;  // names for files without a header
  std::string key;                   // side files: the join key (a column of both files)
  std::vector<std::string> dense, categorical;
  std::vector<std::pair<std::string, char>> multi_valued;  // column, separator
};

struct Schema {
  std::string path;
  TableSpec main;
  LabelRule label;
  std::vector<TableSpec> sides;
  std::string split_by;  // "", "latest"
  std::string split_group, split_time;
  int64_t test_per_group = 1;
  std::string rank_user, rank_item;
  std::vector<std::string> rank_item_features;  // main-file columns that describe the item
};

char parse_separator(const std::string& s, const std::string& where) {
  if (s == "\\t" || s == "\t" || s == "tab") return '\t';
  CEMBED_CHECK(s.size() == 1, "{}: separator must be one character (or \"\\t\"), got '{}'", where, s);
  return s[0];
}

std::vector<std::string> strings(const toml::table& t, const char* key, const std::string& where) {
  std::vector<std::string> out;
  if (const auto* node = t.get(key)) {
    const auto* arr = node->as_array();
    CEMBED_CHECK(arr != nullptr, "{}: '{}' must be a list of column names", where, key);
    for (const auto& v : *arr) {
      CEMBED_CHECK(v.is_string(), "{}: '{}' must be a list of column names", where, key);
      out.push_back(*v.value<std::string>());
    }
  }
  return out;
}

TableSpec table_spec(const toml::table& t, const std::string& where, bool side) {
  static const std::vector<std::string> main_keys = {"separator", "quote", "header", "columns", "dense", "categorical",
                                                     "multi_valued", "label", "split", "ranking", "side"};
  static const std::vector<std::string> side_keys = {"file", "key", "separator", "quote", "header", "columns", "dense",
                                                     "categorical", "multi_valued"};
  for (const auto& [k, v] : t) {
    const auto& allowed = side ? side_keys : main_keys;
    CEMBED_CHECK(std::find(allowed.begin(), allowed.end(), std::string(k.str())) != allowed.end(),
                 "{}: unknown key '{}' (valid: {})", where, k.str(), fmt::join(allowed, ", "));
  }
  TableSpec s;
  s.separator = parse_separator(t["separator"].value_or(std::string(",")), where);
  const std::string quote = t["quote"].value_or(std::string("\""));
  CEMBED_CHECK(quote.size() <= 1 && quote != std::string(1, s.separator),
               "{}: quote must be one character other than the separator, or \"\" for none; got '{}'", where, quote);
  s.quote = quote.empty() ? '\0' : quote[0];
  s.header = t["header"].value_or(true);
  s.columns = strings(t, "columns", where);
  s.dense = strings(t, "dense", where);
  s.categorical = strings(t, "categorical", where);
  if (const auto* mv = t["multi_valued"].as_table()) {
    for (const auto& [k, v] : *mv) {
      CEMBED_CHECK(v.is_string(), "{}: multi_valued.{} must be a separator string", where, k.str());
      s.multi_valued.emplace_back(std::string(k.str()), parse_separator(*v.value<std::string>(), where));
    }
  }
  if (side) {
    s.file = t["file"].value_or(std::string());
    s.key = t["key"].value_or(std::string());
    CEMBED_CHECK(!s.file.empty() && !s.key.empty(), "{}: a side file needs 'file' and 'key'", where);
  }
  CEMBED_CHECK(s.header || !s.columns.empty(), "{}: a file without a header needs 'columns' (its column names)", where);
  return s;
}

LabelRule parse_label(const std::string& text, const std::string& where) {
  LabelRule r;
  for (const char* op : {">=", "<=", "==", "!=", ">", "<"}) {
    const auto at = text.find(op);
    if (at == std::string::npos) continue;
    auto trim = [](std::string s) {
      s.erase(0, s.find_first_not_of(' '));
      s.erase(s.find_last_not_of(' ') + 1);
      return s;
    };
    r.column = trim(text.substr(0, at));
    r.op = op;
    const std::string num = trim(text.substr(at + std::string(op).size()));
    auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(), r.threshold);
    CEMBED_CHECK(ec == std::errc() && ptr == num.data() + num.size() && !r.column.empty(),
                 "{}: label rule '{}' must read COLUMN OP NUMBER, e.g. \"rating >= 4\"", where, text);
    return r;
  }
  r.column = text;
  return r;
}

Schema load_schema(const std::string& path) {
  toml::table t;
  // Read once, as any input (a pipe works; a directory is refused).
  const std::string text = read_input_text(path, int64_t{16} << 20);
  try {
    t = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    fail("{}:{}:{}: {}", path, e.source().begin.line, e.source().begin.column, e.description());
  }
  Schema s;
  s.path = path;
  s.main = table_spec(t, path, false);
  const std::string label = t["label"].value_or(std::string());
  CEMBED_CHECK(!label.empty(), "{}: 'label' is missing (a 0/1 column, or a rule like \"rating >= 4\")", path);
  s.label = parse_label(label, path);
  if (const auto* sides = t["side"].as_array()) {
    int i = 0;
    for (const auto& node : *sides) {
      CEMBED_CHECK(node.is_table(), "{}: [[side]] entries must be tables", path);
      s.sides.push_back(table_spec(*node.as_table(), fmt::format("{} [[side]] {}", path, ++i), true));
    }
  }
  if (const auto* split = t["split"].as_table()) {
    s.split_by = (*split)["by"].value_or(std::string());
    CEMBED_CHECK(s.split_by == "latest", "{}: split.by must be \"latest\" (each group's latest rows are test)", path);
    s.split_group = (*split)["group"].value_or(std::string());
    s.split_time = (*split)["time"].value_or(std::string());
    s.test_per_group = (*split)["test_per_group"].value_or(int64_t{1});
    CEMBED_CHECK(!s.split_group.empty() && !s.split_time.empty() && s.test_per_group >= 1,
                 "{}: split needs 'group', 'time' and test_per_group >= 1", path);
  }
  if (const auto* rank = t["ranking"].as_table()) {
    for (const auto& [k, v] : *rank) {
      CEMBED_CHECK(k.str() == "user" || k.str() == "item" || k.str() == "item_features",
                   "{}: ranking: unknown key '{}' (valid: user, item, item_features)", path, k.str());
    }
    s.rank_user = (*rank)["user"].value_or(std::string());
    s.rank_item = (*rank)["item"].value_or(std::string());
    s.rank_item_features = strings(*rank, "item_features", path + " ranking");
    CEMBED_CHECK(!s.rank_user.empty() && !s.rank_item.empty(), "{}: ranking needs 'user' and 'item' features", path);
  }
  return s;
}

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

// A feature of the dataset: a column of the main file or of a side file.
struct Feature {
  std::string name;
  int table;  // -1: main file, else side index
  int column;
  char multi = 0;  // separator of a multi-valued column
};

struct Row {
  float label = 0;
  std::vector<float> dense;
  std::vector<std::vector<uint64_t>> cats;  // per feature
  std::string group;
  double time = 0;
};

struct SideTable {
  std::unordered_map<std::string, std::vector<std::string>> rows;  // key -> fields
};

std::unique_ptr<CsvReader> open_table(const std::string& file, const TableSpec& t, const PrepareConfig& c) {
  return std::make_unique<CsvReader>(file, t.separator, t.quote, c.max_line_bytes, c.skip_bad_lines);
}

std::vector<std::string> header_of(CsvReader& r, const TableSpec& t) {
  if (!t.header) return t.columns;
  std::vector<std::string_view> fields;
  CEMBED_CHECK(r.next(fields), "{}: empty file (a header was expected)", r.path());
  return std::vector<std::string>(fields.begin(), fields.end());
}

}  // namespace

nlohmann::json prepare_schema_dataset(const PrepareConfig& c) {
  CEMBED_CHECK(!c.schema_path.empty(), "prepare: --format csv needs --schema FILE.toml");
  CEMBED_CHECK(!c.train_files.empty(), "prepare: no training files");
  CEMBED_CHECK(c.min_count >= 1, "prepare: min count must be at least 1, got {}", c.min_count);
  CEMBED_CHECK(c.vocabulary_path.empty() && c.hash_buckets == 0,
               "prepare: --vocabulary and --hash-buckets are for the criteo, avazu and libfm formats");
  const Schema s = load_schema(c.schema_path);
  const fs::path schema_dir = fs::path(c.schema_path).parent_path();
  fs::create_directories(c.out_dir);

  // Side files, keyed by their join column.
  std::vector<SideTable> sides(s.sides.size());
  std::vector<std::vector<std::string>> side_headers(s.sides.size());
  std::vector<int> side_key_col(s.sides.size());
  for (size_t i = 0; i < s.sides.size(); ++i) {
    const auto& t = s.sides[i];
    // Side files: absolute, or beside the (first) training file, or beside the schema.
    std::string file = t.file;
    if (fs::path(t.file).is_relative()) {
      const fs::path beside_data = fs::path(c.train_files[0]).parent_path() / t.file;
      file = fs::exists(beside_data) ? beside_data.string() : (schema_dir / t.file).string();
    }
    const auto reader = open_table(file, t, c);
    CsvReader& r = *reader;
    side_headers[i] = header_of(r, t);
    side_key_col[i] = find_column(side_headers[i], t.key, file);
    std::vector<std::string_view> f;
    while (r.next(f)) {
      if (f.size() != side_headers[i].size()) {
        field_error(file, r.line_number(), 0, "line",
                    fmt::format("{} fields, the header has {}", f.size(), side_headers[i].size()));
      }
      sides[i].rows[std::string(f[side_key_col[i]])] = std::vector<std::string>(f.begin(), f.end());
    }
  }

  // The features, in order: main categorical, main multi-valued, then each side's.
  std::vector<Feature> features;
  // The first training file is opened once: its header here, its rows below.
  std::unique_ptr<CsvReader> first_file = open_table(c.train_files[0], s.main, c);
  const std::vector<std::string> main_header = header_of(*first_file, s.main);
  auto add_features = [&](const TableSpec& t, int table, const std::vector<std::string>& header, const std::string& file) {
    for (const auto& name : t.categorical) features.push_back({bare(name), table, find_column(header, name, file), 0});
    for (const auto& [name, sep] : t.multi_valued) {
      features.push_back({bare(name), table, find_column(header, name, file), sep});
    }
  };
  add_features(s.main, -1, main_header, c.train_files[0]);
  for (size_t i = 0; i < s.sides.size(); ++i) add_features(s.sides[i], static_cast<int>(i), side_headers[i], s.sides[i].file);
  std::vector<std::pair<int, int>> dense_cols;  // (table, column)
  std::vector<std::string> dense_names;
  for (const auto& name : s.main.dense) {
    dense_cols.emplace_back(-1, find_column(main_header, name, c.train_files[0]));
    dense_names.push_back(bare(name));
  }
  for (size_t i = 0; i < s.sides.size(); ++i) {
    for (const auto& name : s.sides[i].dense) {
      dense_cols.emplace_back(static_cast<int>(i), find_column(side_headers[i], name, s.sides[i].file));
      dense_names.push_back(bare(name));
    }
  }
  const int label_col = find_column(main_header, s.label.column, c.train_files[0]);
  std::vector<int> join_col(s.sides.size());
  for (size_t i = 0; i < s.sides.size(); ++i) join_col[i] = find_column(main_header, s.sides[i].key, c.train_files[0]);
  const int group_col = s.split_by.empty() ? -1 : find_column(main_header, s.split_group, c.train_files[0]);
  const int time_col = s.split_by.empty() ? -1 : find_column(main_header, s.split_time, c.train_files[0]);
  const size_t nf = features.size(), nd = dense_cols.size();
  // DLRM's bottom MLP needs an input: data without dense columns gets a constant 0 (as libFM).
  const bool const_dense = nd == 0;
  if (const_dense) dense_names.push_back("const");
  CEMBED_CHECK(nf > 0, "{}: no categorical features", c.schema_path);

  // Reads the main files of one split into rows.
  int64_t bad_lines = 0, missing_side = 0;
  nlohmann::json bad_examples = nlohmann::json::array();
  // A skipped record counts every line it took: a quote never closed can take many.
  auto bad_line = [&](const Error& e, int64_t lines = 1) {
    if (!c.skip_bad_lines) throw e;
    bad_lines += std::max<int64_t>(1, lines);
    if (bad_examples.size() < 10) {
      bad_examples.push_back(lines > 1 ? fmt::format("{} ({} lines skipped)", e.what(), lines) : std::string(e.what()));
    }
  };
  // `opened`: the first file's reader, its header read already.
  auto read_rows = [&](const std::vector<std::string>& files, std::unique_ptr<CsvReader> opened) {
    std::vector<Row> rows;
    std::vector<std::string_view> f;
    for (size_t fi = 0; fi < files.size(); ++fi) {
      const std::string& file = files[fi];
      std::unique_ptr<CsvReader> reader = fi == 0 && opened ? std::move(opened) : nullptr;
      if (reader == nullptr) {
        reader = open_table(file, s.main, c);
        CEMBED_CHECK(header_of(*reader, s.main) == main_header, "{}: columns differ from {}", file, c.train_files[0]);
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
          if (f.size() != main_header.size()) {
            field_error(file, r.line_number(), 0, "line",
                        fmt::format("{} fields, the header has {}", f.size(), main_header.size()));
          }
          Row row;
          if (f[label_col].empty()) {
            field_error(file, r.line_number(), label_col + 1, main_header[label_col],
                        s.label.op.empty() ? "empty label" : "empty value (the label rule needs a number)");
          }
          const double y = parse_number(f[label_col], file, r.line_number(), label_col + 1, main_header[label_col]);
          if (s.label.op.empty()) {
            if (y != 0 && y != 1 && y != -1) {
              field_error(file, r.line_number(), label_col + 1, main_header[label_col],
                          fmt::format("label '{}' is not 0/1 or -1/1", printable(f[label_col])));
            }
            row.label = y == 1 ? 1.0f : 0.0f;
          } else {
            row.label = s.label.holds(y) ? 1.0f : 0.0f;
          }
          std::vector<const std::vector<std::string>*> side_row(s.sides.size(), nullptr);
          for (size_t i = 0; i < s.sides.size(); ++i) {
            const auto it = sides[i].rows.find(std::string(f[join_col[i]]));
            if (it == sides[i].rows.end()) {
              ++missing_side;
            } else {
              side_row[i] = &it->second;
            }
          }
          auto field_of = [&](int table, int col) -> std::string_view {
            if (table < 0) return f[col];
            return side_row[table] == nullptr ? std::string_view() : std::string_view((*side_row[table])[col]);
          };
          for (size_t d = 0; d < nd; ++d) {
            const auto [table, col] = dense_cols[d];
            const double x = parse_number(field_of(table, col), table < 0 ? file : s.sides[table].file, r.line_number(),
                                          col + 1, dense_names[d]);
            row.dense.push_back(static_cast<float>(c.log_dense ? std::log1p(std::max(x, 0.0)) : x));
          }
          if (const_dense) row.dense.assign(1, 0.0f);
          row.cats.resize(nf);
          for (size_t k = 0; k < nf; ++k) {
            const std::string_view v = field_of(features[k].table, features[k].column);
            if (features[k].multi == 0) {
              if (!v.empty()) row.cats[k].push_back(value_key(v));
            } else {
              for (auto tok : split_line(v, features[k].multi)) {
                if (!tok.empty()) row.cats[k].push_back(value_key(tok));
              }
            }
          }
          if (group_col >= 0) {
            row.group = std::string(f[group_col]);
            row.time = parse_number(f[time_col], file, r.line_number(), time_col + 1, main_header[time_col]);
          }
          rows.push_back(std::move(row));
        } catch (const Error& e) {
          bad_line(e);
        }
      }
    }
    return rows;
  };

  std::vector<Row> train = read_rows(c.train_files, std::move(first_file));
  std::vector<Row> valid = read_rows(c.valid_files, nullptr), test = read_rows(c.test_files, nullptr);
  std::string split_desc = "files";
  // --split ratio / order: parts of the training rows, by the rules of every format.
  const bool split_within = check_split(c);
  if (split_within) {
    CEMBED_CHECK(s.split_by.empty(), "prepare: {} splits by the latest rows; give no --split {}", c.schema_path, c.split);
    const auto n = static_cast<int64_t>(train.size());
    const OrderSplit order = order_split(c, n);
    std::vector<Row> kept;
    for (int64_t i = 0; i < n; ++i) {
      const Part p = c.split == "ratio" ? part_by_ratio(c, i) : i < order.valid_from ? kTrain : i < order.test_from ? kValid : kTest;
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

  // Vocabulary from the training rows: min count, most frequent first, ids 1.., OOV 0.
  std::vector<std::unordered_map<uint64_t, Id>> vocab(nf);
  DatasetSchema schema;
  schema.dense_names = dense_names;
  nlohmann::json feature_stats = nlohmann::json::array();
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
    std::sort(kept.begin(), kept.end(),
              [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
    for (size_t i = 0; i < kept.size(); ++i) vocab[k][kept[i].second] = static_cast<Id>(i + 1);
    schema.sparse.push_back({features[k].name, static_cast<int64_t>(kept.size()) + 1});
    schema.multi_hot.push_back(features[k].multi != 0);
    feature_stats.push_back({{"name", features[k].name},
                             {"multi_valued", features[k].multi != 0},
                             {"distinct_values", counts.size()},
                             {"vocabulary", kept.size()},
                             {"cardinality", kept.size() + 1},
                             {"empty_rate", static_cast<double>(empty) / static_cast<double>(train.size())},
                             {"count_histogram_log2", histogram}});
  }
  {
    VocabularyIdentity identity;
    for (size_t k = 0; k < nf; ++k) {
      identity.feature(features[k].name, schema.sparse[k].cardinality);
      for (const auto& [key, id] : vocab[k]) identity.pair(key, id);
    }
    schema.vocabulary_id = identity.finish();
  }
  auto ids_of = [&](size_t k, const std::vector<uint64_t>& keys, int64_t* oov) {
    std::vector<Id> ids;
    for (uint64_t v : keys) {
      const auto it = vocab[k].find(v);
      ids.push_back(it == vocab[k].end() ? 0 : it->second);
      if (oov != nullptr && it == vocab[k].end()) ++*oov;
    }
    if (features[k].multi == 0 && ids.empty()) ids.push_back(0);  // one-hot: empty -> OOV id
    return ids;
  };

  // Ranking metadata: which features are the user and the item, which features come with
  // the item (its side file), and every item's ids of those features.
  nlohmann::json ranking;
  if (!s.rank_user.empty()) {
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
        if (features[k].table == -1 && features[k].name == bare(name) && static_cast<int>(k) != item_f) found = static_cast<int>(k);
      }
      CEMBED_CHECK(found >= 0, "{}: ranking item_features: '{}' is not a categorical column of the main file (other than the item)",
                   c.schema_path, name);
      item_features.push_back(found);
    }
    std::map<Id, size_t> first_row;  // item id -> its first training row
    for (size_t r = 0; r < train.size(); ++r) {
      const std::vector<Id> id = ids_of(item_f, train[r].cats[item_f], nullptr);
      if (!id.empty() && id[0] != 0) first_row.emplace(id[0], r);
    }
    auto add_main_features = [&](nlohmann::json& bags, Id item) {
      const auto it = first_row.find(item);
      for (size_t j = first_main_feature; j < item_features.size(); ++j) {
        const int k = item_features[j];
        bags.push_back(it == first_row.end() ? ids_of(k, {}, nullptr) : ids_of(k, train[it->second].cats[k], nullptr));
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
      const std::vector<Id> item_id = ids_of(item_f, {value_key(key)}, nullptr);
      if (item_id[0] == 0 || listed.count(item_id[0])) continue;  // never seen in training: not rankable
      listed[item_id[0]] = true;
      nlohmann::json bags = nlohmann::json::array();
      bags.push_back(item_id);
      for (size_t j = 1; j < first_main_feature; ++j) {
        const int k = item_features[j];
        std::vector<uint64_t> vals;
        const std::string_view v = row[features[k].column];
        if (features[k].multi == 0) {
          if (!v.empty()) vals.push_back(value_key(v));
        } else {
          for (auto tok : split_line(v, features[k].multi)) {
            if (!tok.empty()) vals.push_back(value_key(tok));
          }
        }
        bags.push_back(ids_of(k, vals, nullptr));
      }
      add_main_features(bags, item_id[0]);
      items.push_back(bags);
    }
    ranking = {{"user_feature", user_f}, {"item_feature", item_f}, {"item_features", item_features}, {"items", items}};
  }

  nlohmann::json stats;
  stats["format"] = "csv";
  stats["schema"] = c.schema_path;
  stats["min_count"] = c.min_count;
  stats["split"] = {{"by", split_desc}};
  if (split_within) {
    stats["split"] = {{"by", c.split}, {"valid_fraction", c.valid_fraction}, {"test_fraction", c.test_fraction}, {"seed", c.seed}};
  }
  stats["features"] = feature_stats;
  stats["rows_without_side_row"] = missing_side;
  auto write = [&](const std::string& name, const std::vector<Row>& rows, const std::vector<std::string>& files) {
    DatasetWriter w(c.out_dir + "/" + name + ".cds", schema);
    std::vector<int64_t> oov(nf, 0);
    double clicks = 0;
    std::vector<std::vector<Id>> ids(nf);
    std::vector<std::span<const Id>> bags(nf);
    for (const Row& r : rows) {
      for (size_t k = 0; k < nf; ++k) {
        ids[k] = ids_of(k, r.cats[k], &oov[k]);
        bags[k] = ids[k];
      }
      clicks += r.label;
      w.add_row(r.label, r.dense, bags);
    }
    nlohmann::json st = {{"rows", rows.size()},
                         {"ctr", rows.empty() ? 0.0 : clicks / static_cast<double>(rows.size())},
                         {"bad_lines", name == "train" ? bad_lines : 0},
                         {"bad_line_examples", name == "train" ? bad_examples : nlohmann::json::array()},
                         {"oov_ids", oov},
                         {"files", files}};
    nlohmann::json meta = {{"source", "csv"}, {"split", name}, {"stats", st}};
    if (!ranking.is_null()) meta["ranking"] = ranking;
    w.set_metadata(meta);
    w.finish();
    stats[name] = st;
  };
  write("train", train, c.train_files);
  if (!valid.empty() || !c.valid_files.empty() || (split_within && c.valid_fraction > 0)) {
    write("valid", valid, c.valid_files.empty() ? c.train_files : c.valid_files);
  }
  if (!test.empty() || !c.test_files.empty()) write("test", test, c.test_files.empty() ? c.train_files : c.test_files);
  write_file_atomically(c.out_dir + "/prepare.json", stats.dump(2) + "\n");
  return stats;
}

}  // namespace cembed
