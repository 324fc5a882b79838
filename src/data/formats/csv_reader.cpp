#include "data/formats/csv_reader.h"

#include "util/check.h"

namespace cembed {

CsvReader::CsvReader(std::string path, char separator, char quote, int64_t max_record_bytes, bool skip_long_lines)
    : lines_(std::move(path), max_record_bytes, skip_long_lines),
      separator_(separator),
      quote_(quote),
      max_record_bytes_(max_record_bytes) {}

bool CsvReader::next(std::vector<std::string_view>& fields) {
  fields.clear();
  std::string_view line;
  do {
    if (!lines_.next(line)) return false;
  } while (line.empty());
  record_line_ = lines_.line_number();
  if (quote_ == 0 || line.find(quote_) == std::string_view::npos) {  // no quotes: views into the line
    size_t pos = 0;
    while (true) {
      const size_t at = line.find(separator_, pos);
      fields.push_back(line.substr(pos, at == std::string_view::npos ? std::string_view::npos : at - pos));
      if (at == std::string_view::npos) return true;
      pos = at + 1;
    }
  }
  // A state machine over the record's characters, line after line while a quote is open.
  enum { kStart, kPlain, kQuoted, kQuoteInQuoted } state = kStart;
  text_.clear();
  bounds_.assign(1, 0);
  int64_t record_bytes = 0;
  while (true) {
    record_bytes += static_cast<int64_t>(line.size()) + 1;
    for (const char ch : line) {
      switch (state) {
        case kStart:
          if (ch == quote_) {
            state = kQuoted;
          } else if (ch == separator_) {
            bounds_.push_back(text_.size());
          } else {
            text_ += ch;
            state = kPlain;
          }
          break;
        case kPlain:
          if (ch == separator_) {
            bounds_.push_back(text_.size());
            state = kStart;
          } else {
            text_ += ch;
          }
          break;
        case kQuoted:
          if (ch == quote_) {
            state = kQuoteInQuoted;
          } else {
            text_ += ch;
          }
          break;
        case kQuoteInQuoted:
          if (ch == quote_) {  // "" inside quotes
            text_ += ch;
            state = kQuoted;
          } else if (ch == separator_) {
            bounds_.push_back(text_.size());
            state = kStart;
          } else {
            throw BadRecordError(fmt::format("{}:{}: field {}: text after the closing quote of a quoted field", path(),
                                             lines_.line_number(), bounds_.size()));
          }
          break;
      }
    }
    if (state != kQuoted) break;
    // A line break inside quotes belongs to the field.
    if (!lines_.next(line)) {
      throw BadRecordError(fmt::format("{}:{}: field {}: the quote opened on this line is never closed", path(),
                                       record_line_, bounds_.size()));
    }
    if (record_bytes + static_cast<int64_t>(line.size()) > max_record_bytes_) {
      throw LongLineError(fmt::format("{}:{}: record longer than {} bytes (a quote never closed?)", path(),
                                      record_line_, max_record_bytes_));
    }
    text_ += '\n';
  }
  bounds_.push_back(text_.size());
  for (size_t i = 0; i + 1 < bounds_.size(); ++i) {
    fields.emplace_back(text_.data() + bounds_[i], bounds_[i + 1] - bounds_[i]);
  }
  return true;
}

}  // namespace cembed
