// The input as an exported model (.cem, inference.h), with its section checksums and the
// section table's checksum recomputed first, so that the fuzzer reaches the checks behind
// them (metadata, plan, block sizes, placements, vocabulary): refused with a cembed::Error
// unless whole and consistent; a model that opens scores a batch of rows of id 0 and of the
// last id of each feature without reading out of bounds.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "cembed/inference.h"
#include "util/check.h"
#include "util/file_format.h"

namespace {

template <typename T>
T get(const std::string& b, size_t at) {
  T v;
  std::memcpy(&v, b.data() + at, sizeof v);
  return v;
}

void fix_checksums(std::string& b) {
  if (b.size() < 32) return;
  const auto count = get<uint32_t>(b, 12);
  if (count > 4096 || 32 + 32 * uint64_t{count} > b.size()) return;
  for (uint32_t i = 0; i < count; ++i) {
    const size_t e = 32 + 32 * size_t{i};
    const auto offset = get<uint64_t>(b, e + 8), length = get<uint64_t>(b, e + 16);
    if (offset > b.size() || length > b.size() - offset) continue;
    const uint64_t sum = cembed::checksum64(b.data() + offset, length);
    std::memcpy(b.data() + e + 24, &sum, 8);
  }
  const uint64_t table = cembed::checksum64(b.data() + 32, 32 * size_t{count});
  std::memcpy(b.data() + 24, &table, 8);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/cembed_fuzz_model_" + std::to_string(::getpid()) + ".cem";
  std::string bytes(reinterpret_cast<const char*>(data), size);
  fix_checksums(bytes);
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  try {
    const auto m = cembed::InferenceModel::open(path);
    cembed::Batch b;
    m->start_batch(b);
    std::vector<float> dense(m->num_dense(), 0.5f);
    std::vector<cembed::Id> first(m->num_features(), 0), last(m->num_features());
    for (int i = 0; i < m->num_features(); ++i)
      last[i] = static_cast<cembed::Id>(m->plan().features[i].cardinality - 1);
    m->add_row(b, dense, first);
    m->add_row(b, dense, last);
    std::vector<float> p;
    m->score(b, p);
  } catch (const cembed::Error&) {
  }
  return 0;
}
