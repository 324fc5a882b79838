#include "data/csv_schema.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <toml++/toml.h>
#include <algorithm>
#include <charconv>

#include "data/formats/input_stream.h"
#include "util/check.h"

namespace cembed {
namespace {

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
  static const std::vector<std::string> main_keys = {"separator", "quote",       "header",       "columns",
                                                     "dense",     "categorical", "multi_valued", "label",
                                                     "split",     "ranking",     "side"};
  static const std::vector<std::string> side_keys = {"file",    "key",   "separator",   "quote",       "header",
                                                     "columns", "dense", "categorical", "multi_valued"};
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

}  // namespace

CsvSchema load_csv_schema(const std::string& path) {
  toml::table t;
  // Read once, as any input (a pipe works; a directory is refused).
  const std::string text = read_input_text(path, int64_t{16} << 20);
  try {
    t = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    fail("{}:{}:{}: {}", path, e.source().begin.line, e.source().begin.column, e.description());
  }
  CsvSchema s;
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

}  // namespace cembed
