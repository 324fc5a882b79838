#include "data/vocabulary_file.h"

#include <string_view>

#include "util/binary_io.h"
#include "util/check.h"
#include "util/file_format.h"

namespace cembed {
namespace {

constexpr char kVocabMagic[] = "CEMBVOCB";
constexpr uint32_t kVocabVersion = 1;

}  // namespace

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
  parse_vocabulary(read_vocabulary_payload(path), path, names, vocab, cardinality);
}

std::string read_vocabulary_payload(const std::string& path) {
  return read_framed_file(path, std::string_view(kVocabMagic, 8), kVocabVersion);
}

void parse_vocabulary(std::string_view payload, const std::string& path, const std::vector<std::string>& names,
                      std::vector<FlatMap<Id>>& vocab, std::vector<int64_t>& cardinality) {
  BinaryReader r(payload.data(), payload.size(), path);
  const uint32_t n = r.u32("feature count");
  CEMBED_CHECK(n == names.size(), "{}: vocabulary of {} features, the data has {}", path, n, names.size());
  vocab.assign(n, {});
  cardinality.assign(n, 0);
  for (uint32_t f = 0; f < n; ++f) {
    const std::string name = r.str("feature name");
    CEMBED_CHECK(name == names[f], "{}: feature {} is '{}' in the vocabulary, '{}' in the data", path, f, name,
                 names[f]);
    cardinality[f] = r.i64("cardinality");
    const uint64_t count = r.u64("vocabulary size");
    CEMBED_CHECK(cardinality[f] >= 1 && count < static_cast<uint64_t>(cardinality[f]) + 1,
                 "{}: feature '{}' has {} values for cardinality {}", path, name, count, cardinality[f]);
    for (uint64_t i = 0; i < count; ++i) {
      const uint64_t key = r.u64("value key");
      const Id id = r.u32("value id");
      CEMBED_CHECK(key != 0 && id >= 1 && id < cardinality[f],
                   "{}: feature '{}' maps a value to id {} (cardinality {})", path, name, id, cardinality[f]);
      vocab[f][key] = id;
    }
  }
  r.expect_end();
}

}  // namespace cembed
