#include "data/formats/text_formats.h"

#include <xxhash.h>

#include <charconv>
#include <cmath>
#include <vector>

#include "data/formats/printable.h"
#include "util/check.h"

namespace cembed {
namespace {

// Splits on `sep` into `out` (views into line).
void split(std::string_view line, char sep, std::vector<std::string_view>& out) {
  out.clear();
  size_t start = 0;
  while (true) {
    const size_t pos = line.find(sep, start);
    out.push_back(line.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
}

uint64_t text_key(std::string_view s) {
  const uint64_t h = XXH3_64bits(s.data(), s.size());
  return h == 0 ? 1 : h;
}

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    int extra = c < 0x80 ? 0 : (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xE ? 2 : (c >> 3) == 0x1E ? 3 : -1;
    if (extra < 0 || (extra > 0 && i + static_cast<size_t>(extra) >= s.size())) return false;
    for (int k = 1; k <= extra; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    }
    i += 1 + extra;
  }
  return true;
}

float parse_label01(std::string_view s, int field, const std::string& name) {
  if (s == "0") return 0.0f;
  if (s == "1") return 1.0f;
  throw FieldError{field, name, "label must be 0 or 1, got '" + printable(s) + "'"};
}

int64_t parse_int(std::string_view s, int field, const std::string& name) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc::result_out_of_range)
    throw FieldError{field, name, "integer out of range: '" + printable(s) + "'"};
  if (ec != std::errc() || ptr != s.data() + s.size()) {
    throw FieldError{field, name, "not an integer: '" + printable(s) + "'"};
  }
  return v;
}

float dense_value(int64_t x, bool log_dense) {
  if (!log_dense) return static_cast<float>(x);
  // Most counts are small: look log(1 + x) up for them.
  static const std::vector<float> table = [] {
    std::vector<float> t(4096);
    for (size_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(std::log1p(static_cast<double>(i)));
    return t;
  }();
  if (x <= 0) return 0.0f;
  if (x < static_cast<int64_t>(table.size())) return table[x];
  return static_cast<float>(std::log1p(static_cast<double>(x)));
}

class CriteoParser final : public RowParser {
 public:
  explicit CriteoParser(bool log_dense) : log_dense_(log_dense) {
    for (int i = 1; i <= 13; ++i) dense_names_.push_back("I" + std::to_string(i));
    for (int i = 1; i <= 26; ++i) cat_names_.push_back("C" + std::to_string(i));
  }
  bool parse(std::string_view line, int64_t, ParsedRow& row) override {
    split(line, '\t', fields_);
    if (fields_.size() != 40)
      throw FieldError{0, "", "expected 40 tab-separated fields, got " + std::to_string(fields_.size())};
    row.label = parse_label01(fields_[0], 1, "label");
    row.dense.resize(13);
    for (int i = 0; i < 13; ++i) {
      const auto& f = fields_[1 + i];
      row.dense[i] = f.empty() ? 0.0f : dense_value(parse_int(f, 2 + i, dense_names_[i]), log_dense_);
    }
    row.cats.resize(26);
    for (int i = 0; i < 26; ++i) {
      const auto& f = fields_[14 + i];
      if (f.empty()) {
        row.cats[i] = 0;
        continue;
      }
      uint32_t v = 0;
      auto [ptr, ec] = std::from_chars(f.data(), f.data() + f.size(), v, 16);
      if (ec != std::errc() || ptr != f.data() + f.size() || f.size() > 8) {
        throw FieldError{15 + i, cat_names_[i], "not a 32-bit hex value: '" + printable(f) + "'"};
      }
      row.cats[i] = static_cast<uint64_t>(v) + 1;
    }
    return true;
  }

 private:
  bool log_dense_;
  std::vector<std::string_view> fields_;
};

// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm); weekday from it.
int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

class AvazuParser final : public RowParser {
 public:
  explicit AvazuParser(bool log_dense) : log_dense_(log_dense) {
    static const char* names[] = {"C1",
                                  "banner_pos",
                                  "site_id",
                                  "site_domain",
                                  "site_category",
                                  "app_id",
                                  "app_domain",
                                  "app_category",
                                  "device_id",
                                  "device_ip",
                                  "device_model",
                                  "device_type",
                                  "device_conn_type",
                                  "C14",
                                  "C15",
                                  "C16",
                                  "C17",
                                  "C18",
                                  "C19",
                                  "C20",
                                  "C21"};
    for (const char* n : names) cat_names_.push_back(n);
    cat_names_.push_back("hour_of_day");
    cat_names_.push_back("weekday");
    dense_names_.push_back("hour_of_day");
  }
  bool parse(std::string_view line, int64_t line_number, ParsedRow& row) override {
    if (line_number == 1 && line.substr(0, 9) == "id,click,") return false;  // header
    split(line, ',', fields_);
    if (fields_.size() != 24)
      throw FieldError{0, "", "expected 24 comma-separated fields, got " + std::to_string(fields_.size())};
    row.label = parse_label01(fields_[1], 2, "click");
    const auto& h = fields_[2];
    const int64_t hour = parse_int(h, 3, "hour");
    if (h.size() != 8 || hour % 100 > 23) throw FieldError{3, "hour", "expected YYMMDDHH, got '" + printable(h) + "'"};
    const int64_t hh = hour % 100, dd = hour / 100 % 100, mm = hour / 10000 % 100, yy = hour / 1000000;
    if (mm < 1 || mm > 12 || dd < 1 || dd > 31) throw FieldError{3, "hour", "not a date: '" + printable(h) + "'"};
    const int64_t weekday =
        ((days_from_civil(2000 + yy, mm, dd) % 7) + 10) % 7;  // 0 = Monday (1970-01-01 was a Thursday)
    row.dense.assign(1, dense_value(hh, log_dense_));
    row.cats.resize(23);
    for (int i = 0; i < 21; ++i) {
      const auto& f = fields_[3 + i];
      if (!valid_utf8(f)) throw FieldError{4 + i, cat_names_[i], "invalid UTF-8"};
      row.cats[i] = f.empty() ? 0 : text_key(f);
    }
    row.cats[21] = static_cast<uint64_t>(hh) + 1;
    row.cats[22] = static_cast<uint64_t>(weekday) + 1;
    return true;
  }

 private:
  bool log_dense_;
  std::vector<std::string_view> fields_;
};

class LibfmParser final : public RowParser {
 public:
  explicit LibfmParser(int fields) {
    CEMBED_CHECK(fields > 0, "libfm: could not infer the number of fields from the first line");
    for (int i = 1; i <= fields; ++i) cat_names_.push_back("F" + std::to_string(i));
    dense_names_.push_back("const");  // libFM data has no dense features; DLRM needs one input
  }
  bool parse(std::string_view line, int64_t, ParsedRow& row) override {
    split(line, ' ', fields_);
    while (!fields_.empty() && fields_.back().empty()) fields_.pop_back();
    const auto& l = fields_[0];
    if (l == "1" || l == "+1") {
      row.label = 1;
    } else if (l == "0" || l == "-1") {
      row.label = 0;
    } else {
      throw FieldError{1, "label", "label must be 1, +1, 0 or -1, got '" + printable(l) + "'"};
    }
    const size_t k = cat_names_.size();
    if (fields_.size() != k + 1) {
      throw FieldError{
          0, "",
          "expected " + std::to_string(k) + " features (one per field), got " + std::to_string(fields_.size() - 1)};
    }
    row.dense.assign(1, 0.0f);
    row.cats.resize(k);
    for (size_t i = 0; i < k; ++i) {
      const auto& f = fields_[1 + i];
      const auto colon = f.find(':');
      if (colon == std::string_view::npos)
        throw FieldError{static_cast<int>(i + 2), cat_names_[i], "expected idx:value"};
      const int64_t idx = parse_int(f.substr(0, colon), static_cast<int>(i + 2), cat_names_[i]);
      const auto value = f.substr(colon + 1);
      if (value != "1" && value != "1.0") {
        throw FieldError{static_cast<int>(i + 2), cat_names_[i],
                         "only binary features (value 1) are supported, got '" + printable(value) + "'"};
      }
      if (idx < 0) throw FieldError{static_cast<int>(i + 2), cat_names_[i], "negative feature index"};
      row.cats[i] = static_cast<uint64_t>(idx) + 1;
    }
    return true;
  }

 private:
  std::vector<std::string_view> fields_;
};

}  // namespace

TextFormat parse_text_format(const std::string& name) {
  if (name == "criteo") return TextFormat::Criteo;
  if (name == "avazu") return TextFormat::Avazu;
  if (name == "libfm" || name == "libsvm") return TextFormat::Libfm;
  if (name == "csv" || name == "tsv") return TextFormat::Csv;
  fail("unknown format '{}' (valid: criteo, avazu, libfm, csv with --schema)", name);
}

std::unique_ptr<RowParser> make_row_parser(const PrepareConfig& c, std::string_view first_line) {
  switch (c.format) {
    case TextFormat::Criteo:
      return std::make_unique<CriteoParser>(c.log_dense);
    case TextFormat::Avazu:
      return std::make_unique<AvazuParser>(c.log_dense);
    case TextFormat::Libfm: {
      int fields = c.libfm_fields;
      if (fields == 0) {
        std::vector<std::string_view> parts;
        split(first_line, ' ', parts);
        while (!parts.empty() && parts.back().empty()) parts.pop_back();
        fields = static_cast<int>(parts.size()) - 1;
      }
      return std::make_unique<LibfmParser>(fields);
    }
    case TextFormat::Csv:
      break;  // records, not lines: CsvReader (prepare_schema.cpp)
  }
  fail("format {} has no line parser", static_cast<int>(c.format));
}

}  // namespace cembed
