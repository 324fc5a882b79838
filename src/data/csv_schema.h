// The TOML schema of `cembed prepare --format csv` (keys in docs/data.md; an example for
// MovieLens-100K is data/schemas/ml-100k.toml): the main file's columns and label rule,
// side files joined by key, the "latest per group" split and the ranking features.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace cembed {

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

struct CsvSchema {
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

// Reads and checks the schema at `path` (read once, as any input: a pipe works); errors
// name the file, and the line and column of a TOML syntax error.
CsvSchema load_csv_schema(const std::string& path);

}  // namespace cembed
