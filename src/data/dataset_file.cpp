// Reading .cds files (Dataset::open: framing, header, sizes, checksum and id ranges
// checked), their layout, the schema's JSON, and the vocabulary comparison of two datasets.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <utility>

#include "cembed/dataset.h"
#include "data/dataset_layout.h"
#include "util/check.h"

namespace cembed {
namespace {

constexpr uint64_t kAlign = 64;

uint64_t align_up(uint64_t x) { return (x + kAlign - 1) / kAlign * kAlign; }

}  // namespace

DatasetLayout dataset_layout(uint64_t data_start, int64_t rows, const DatasetSchema& s,
                             const std::vector<uint64_t>& nnz) {
  DatasetLayout l;
  uint64_t pos = align_up(data_start);
  l.labels = pos;
  pos = align_up(pos + rows * sizeof(float));
  l.dense = pos;
  pos = align_up(pos + rows * s.num_dense() * sizeof(float));
  for (int f = 0; f < s.num_sparse(); ++f) {
    if (s.multi_hot[f]) {
      l.offsets.push_back(pos);
      pos = align_up(pos + (rows + 1) * sizeof(uint64_t));
    } else {
      l.offsets.push_back(0);
    }
    l.ids.push_back(pos);
    pos = align_up(pos + nnz[f] * sizeof(Id));
  }
  l.end = pos;
  return l;
}

nlohmann::json DatasetSchema::to_json() const {
  nlohmann::json j;
  j["dense"] = dense_names;
  for (int f = 0; f < num_sparse(); ++f) {
    j["sparse"].push_back({{"name", sparse[f].name},
                           {"cardinality", sparse[f].cardinality},
                           {"multi_hot", static_cast<bool>(multi_hot[f])}});
  }
  if (!vocabulary_id.empty()) j["vocabulary_id"] = vocabulary_id;
  return j;
}

DatasetSchema DatasetSchema::from_json(const nlohmann::json& j) {
  DatasetSchema s;
  s.dense_names = j.at("dense").get<std::vector<std::string>>();
  for (const auto& f : j.at("sparse")) {
    s.sparse.push_back({f.at("name"), f.at("cardinality")});
    s.multi_hot.push_back(f.at("multi_hot").get<bool>());
  }
  s.vocabulary_id = j.value("vocabulary_id", "");
  return s;
}

Dataset::Dataset(Dataset&& o) noexcept { *this = std::move(o); }

Dataset& Dataset::operator=(Dataset&& o) noexcept {
  if (this != &o) {
    if (map_ != nullptr) ::munmap(map_, map_size_);
    path_ = std::move(o.path_);
    map_ = o.map_;
    map_size_ = o.map_size_;
    rows_ = o.rows_;
    schema_ = std::move(o.schema_);
    metadata_ = std::move(o.metadata_);
    checksum_ = o.checksum_;
    labels_ = o.labels_;
    dense_ = o.dense_;
    columns_ = std::move(o.columns_);
    o.map_ = nullptr;
    o.map_size_ = 0;
  }
  return *this;
}

Dataset::~Dataset() {
  if (map_ != nullptr) ::munmap(map_, map_size_);
}

Dataset Dataset::open(const std::string& path, bool verify) {
  Dataset d;
  d.path_ = path;
  // O_NONBLOCK: a FIFO opens at once (to be refused below) instead of waiting for a writer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  CEMBED_CHECK(fd >= 0, "cannot open dataset {}: {}", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const bool dir = S_ISDIR(st.st_mode);
    ::close(fd);
    fail("{}: {} (a dataset is memory-mapped: give the .cds file itself, not a pipe or device)", path,
         dir ? "is a directory" : "not a regular file");
  }
  const auto size = static_cast<size_t>(st.st_size);
  if (size < 32) {
    ::close(fd);
    fail("{}: not a cembed dataset (only {} bytes)", path, size);
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  CEMBED_CHECK(map != MAP_FAILED, "cannot map dataset {}: {}", path, std::strerror(errno));
  d.map_ = map;
  d.map_size_ = size;
  const char* base = static_cast<const char*>(map);

  CEMBED_CHECK(std::memcmp(base, kDatasetMagic, 8) == 0, "{}: not a cembed dataset (wrong magic)", path);
  uint32_t version, header_len;
  std::memcpy(&version, base + 8, 4);
  std::memcpy(&header_len, base + 12, 4);
  CEMBED_CHECK(version == kDatasetVersion, "{}: dataset format version {}, this build reads version {}", path, version,
               kDatasetVersion);
  CEMBED_CHECK(16 + static_cast<size_t>(header_len) + 16 <= size, "{}: truncated inside its header", path);
  nlohmann::json header;
  std::vector<uint64_t> nnz;
  try {
    header = nlohmann::json::parse(std::string_view(base + 16, header_len));
    d.rows_ = header.at("rows");
    d.schema_ = DatasetSchema::from_json(header.at("schema"));
    d.metadata_ = header.value("metadata", nlohmann::json::object());
    nnz = header.at("nnz").get<std::vector<uint64_t>>();
  } catch (const nlohmann::json::exception& e) {
    fail("{}: corrupt dataset header: {}", path, e.what());
  }
  CEMBED_CHECK(d.rows_ >= 0 && static_cast<int>(nnz.size()) == d.schema_.num_sparse() &&
                   d.schema_.multi_hot.size() == d.schema_.sparse.size(),
               "{}: corrupt dataset header (inconsistent sizes)", path);
  // Sizes the file could hold, before any arithmetic on them can overflow.
  const auto limit = static_cast<uint64_t>(size);
  CEMBED_CHECK(static_cast<uint64_t>(d.rows_) <= limit && static_cast<uint64_t>(d.schema_.num_dense()) <= limit &&
                   static_cast<uint64_t>(d.rows_) * static_cast<uint64_t>(std::max(d.schema_.num_dense(), 1)) <= limit,
               "{}: corrupt dataset header ({} rows of {} dense values cannot fit in {} bytes)", path, d.rows_,
               d.schema_.num_dense(), size);
  for (uint64_t n : nnz) CEMBED_CHECK(n <= limit, "{}: corrupt dataset header ({} ids in {} bytes)", path, n, size);
  for (const auto& f : d.schema_.sparse) {
    CEMBED_CHECK(f.cardinality > 0, "{}: corrupt dataset header (feature '{}' has cardinality {})", path, f.name,
                 f.cardinality);
  }
  const DatasetLayout l = dataset_layout(16 + header_len, d.rows_, d.schema_, nnz);
  CEMBED_CHECK(size == l.end + 16, "{}: truncated or extended: {} bytes, the header implies {}", path, size,
               l.end + 16);
  CEMBED_CHECK(std::memcmp(base + l.end + 8, kDatasetEndMagic, 8) == 0, "{}: bad trailer (truncated or altered)", path);
  std::memcpy(&d.checksum_, base + l.end, 8);
  if (verify) {
    CEMBED_CHECK(d.checksum_ == XXH64(base, l.end, 0), "{}: checksum mismatch: the dataset is corrupt or was altered",
                 path);
  }
  d.labels_ = reinterpret_cast<const float*>(base + l.labels);
  d.dense_ = reinterpret_cast<const float*>(base + l.dense);
  for (int f = 0; f < d.schema_.num_sparse(); ++f) {
    Column c;
    if (d.schema_.multi_hot[f]) {
      c.offsets = reinterpret_cast<const uint64_t*>(base + l.offsets[f]);
      CEMBED_CHECK(c.offsets[0] == 0 && c.offsets[d.rows_] == nnz[f], "{}: feature '{}' has corrupt offsets", path,
                   d.schema_.sparse[f].name);
      // Always (cheap): bags must stay inside the ids, whatever `verify` says.
      for (int64_t r = 0; r < d.rows_; ++r) {
        CEMBED_CHECK(c.offsets[r] <= c.offsets[r + 1], "{}: feature '{}' has decreasing offsets at row {}", path,
                     d.schema_.sparse[f].name, r);
      }
    } else {
      CEMBED_CHECK(nnz[f] == static_cast<uint64_t>(d.rows_), "{}: one-hot feature '{}' has {} ids for {} rows", path,
                   d.schema_.sparse[f].name, nnz[f], d.rows_);
    }
    c.ids = reinterpret_cast<const Id*>(base + l.ids[f]);
    if (verify) {
      const int64_t card = d.schema_.sparse[f].cardinality;
      for (uint64_t k = 0; k < nnz[f]; ++k) {
        CEMBED_CHECK(c.ids[k] < card, "{}: feature '{}' holds id {} beyond its cardinality {}", path,
                     d.schema_.sparse[f].name, c.ids[k], card);
      }
    }
    d.columns_.push_back(c);
  }
  return d;
}

nlohmann::json Dataset::identity() const {
  return {{"rows", rows_}, {"checksum", fmt::format("{:016x}", checksum_)}, {"schema", schema_.to_json()}};
}

void check_same_vocabulary(const Dataset& data, const nlohmann::json& expected, const std::string& expected_what) {
  const nlohmann::json got = data.schema().to_json();
  if (got == expected) return;
  const std::string head = fmt::format("{} was prepared with another vocabulary than {}", data.path(), expected_what);
  const std::string want_id = expected.value("vocabulary_id", ""), got_id = got.value("vocabulary_id", "");
  if (want_id != got_id) {
    fail("{}: vocabulary '{}', expected '{}'", head, got_id.empty() ? "(none recorded)" : got_id,
         want_id.empty() ? "(none recorded)" : want_id);
  }
  const nlohmann::json none = nlohmann::json::array();
  const auto& a = got.contains("sparse") ? got["sparse"] : none;
  const auto& b = expected.contains("sparse") ? expected["sparse"] : none;
  if (a.size() != b.size()) fail("{}: {} categorical features, expected {}", head, a.size(), b.size());
  for (size_t f = 0; f < a.size(); ++f) {
    if (a[f] != b[f]) fail("{}: feature {} is {}, expected {}", head, f, a[f].dump(), b[f].dump());
  }
  fail("{}: dense features {}, expected {}", head, got.value("dense", none).dump(),
       expected.value("dense", none).dump());
}

}  // namespace cembed
