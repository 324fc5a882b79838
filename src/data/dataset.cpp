#include "cembed/dataset.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cmath>
#include <cstring>

#include "cembed/errors.h"
#include "cembed/file_format.h"

namespace cembed {
namespace {

constexpr char kMagic[] = "CEMBDSET";
constexpr char kEndMagic[] = "CEMBDEND";
constexpr uint32_t kVersion = 1;
constexpr uint64_t kAlign = 64;

uint64_t align_up(uint64_t x) { return (x + kAlign - 1) / kAlign * kAlign; }

struct Layout {
  uint64_t labels = 0, dense = 0;
  std::vector<uint64_t> offsets, ids;  // per feature (offsets 0 for one-hot)
  uint64_t end = 0;                    // where the trailer starts
};

Layout compute_layout(uint64_t data_start, int64_t rows, const DatasetSchema& s, const std::vector<uint64_t>& nnz) {
  Layout l;
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

}  // namespace

nlohmann::json DatasetSchema::to_json() const {
  nlohmann::json j;
  j["dense"] = dense_names;
  for (int f = 0; f < num_sparse(); ++f) {
    j["sparse"].push_back(
        {{"name", sparse[f].name}, {"cardinality", sparse[f].cardinality}, {"multi_hot", static_cast<bool>(multi_hot[f])}});
  }
  return j;
}

DatasetSchema DatasetSchema::from_json(const nlohmann::json& j) {
  DatasetSchema s;
  s.dense_names = j.at("dense").get<std::vector<std::string>>();
  for (const auto& f : j.at("sparse")) {
    s.sparse.push_back({f.at("name"), f.at("cardinality")});
    s.multi_hot.push_back(f.at("multi_hot").get<bool>());
  }
  return s;
}

// ---------------------------------------------------------------- reading

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
  const int fd = ::open(path.c_str(), O_RDONLY);
  CEMBED_CHECK(fd >= 0, "cannot open dataset {}: {}", path, std::strerror(errno));
  struct stat st {};
  ::fstat(fd, &st);
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

  CEMBED_CHECK(std::memcmp(base, kMagic, 8) == 0, "{}: not a cembed dataset (wrong magic)", path);
  uint32_t version, header_len;
  std::memcpy(&version, base + 8, 4);
  std::memcpy(&header_len, base + 12, 4);
  CEMBED_CHECK(version == kVersion, "{}: dataset format version {}, this build reads version {}", path, version,
               kVersion);
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
  const Layout l = compute_layout(16 + header_len, d.rows_, d.schema_, nnz);
  CEMBED_CHECK(size == l.end + 16, "{}: truncated or extended: {} bytes, the header implies {}", path, size, l.end + 16);
  CEMBED_CHECK(std::memcmp(base + l.end + 8, kEndMagic, 8) == 0, "{}: bad trailer (truncated or altered)", path);
  if (verify) {
    uint64_t stored;
    std::memcpy(&stored, base + l.end, 8);
    CEMBED_CHECK(stored == XXH64(base, l.end, 0), "{}: checksum mismatch: the dataset is corrupt or was altered", path);
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

// ---------------------------------------------------------------- writing

struct DatasetWriter::Spill {
  FILE* file = nullptr;
  std::vector<char> buffer;
  explicit Spill(const std::string& dir_hint) {
    std::string tmpl = dir_hint + ".spill.XXXXXX";
    const int fd = ::mkstemp(tmpl.data());
    CEMBED_CHECK(fd >= 0, "cannot create a temporary file beside {}: {}", dir_hint, std::strerror(errno));
    ::unlink(tmpl.c_str());  // lives until closed
    file = ::fdopen(fd, "w+b");
    buffer.resize(1 << 20);
    std::setvbuf(file, buffer.data(), _IOFBF, buffer.size());
  }
  ~Spill() {
    if (file != nullptr) std::fclose(file);
  }
  void write(const void* p, size_t n) {
    CEMBED_CHECK(std::fwrite(p, 1, n, file) == n, "cannot write a temporary file: {}", std::strerror(errno));
  }
};

DatasetWriter::DatasetWriter(std::string path, DatasetSchema schema) : path_(std::move(path)), schema_(std::move(schema)) {
  CEMBED_CHECK(schema_.multi_hot.size() == schema_.sparse.size(), "dataset schema: multi_hot flags do not match features");
  for (int i = 0; i < 2 + 2 * schema_.num_sparse(); ++i) spills_.push_back(std::make_unique<Spill>(path_));
  nnz_.assign(schema_.num_sparse(), 0);
  for (int f = 0; f < schema_.num_sparse(); ++f) {
    if (schema_.multi_hot[f]) {
      const uint64_t zero = 0;
      spills_[2 + 2 * f]->write(&zero, sizeof zero);
    }
  }
}

DatasetWriter::~DatasetWriter() = default;

void DatasetWriter::add_row(float label, std::span<const float> dense, std::span<const std::span<const Id>> bags) {
  CEMBED_CHECK(!finished_, "dataset writer: add_row() after finish()");
  CEMBED_CHECK(static_cast<int>(dense.size()) == schema_.num_dense() && static_cast<int>(bags.size()) == schema_.num_sparse(),
               "dataset writer: row has {} dense and {} categorical values, schema has {} and {}", dense.size(),
               bags.size(), schema_.num_dense(), schema_.num_sparse());
  CEMBED_CHECK(std::isfinite(label), "dataset writer: label {} in row {} is not a finite number", label, rows_);
  for (size_t j = 0; j < dense.size(); ++j) {
    CEMBED_CHECK(std::isfinite(dense[j]), "dataset writer: dense feature '{}' is {} in row {}", schema_.dense_names[j],
                 dense[j], rows_);
  }
  spills_[0]->write(&label, sizeof label);
  spills_[1]->write(dense.data(), dense.size_bytes());
  for (int f = 0; f < schema_.num_sparse(); ++f) {
    const auto& bag = bags[f];
    if (!schema_.multi_hot[f]) {
      CEMBED_CHECK(bag.size() == 1, "dataset writer: one-hot feature '{}' got {} values in row {}", schema_.sparse[f].name,
                   bag.size(), rows_);
    }
    for (Id id : bag) {
      CEMBED_CHECK(id < schema_.sparse[f].cardinality, "dataset writer: feature '{}' id {} beyond cardinality {} in row {}",
                   schema_.sparse[f].name, id, schema_.sparse[f].cardinality, rows_);
    }
    spills_[3 + 2 * f]->write(bag.data(), bag.size_bytes());
    nnz_[f] += bag.size();
    if (schema_.multi_hot[f]) spills_[2 + 2 * f]->write(&nnz_[f], sizeof(uint64_t));
  }
  ++rows_;
}

void DatasetWriter::finish() {
  CEMBED_CHECK(!finished_, "dataset writer: finish() called twice");
  finished_ = true;
  nlohmann::json header;
  header["rows"] = rows_;
  header["schema"] = schema_.to_json();
  header["nnz"] = nnz_;
  header["metadata"] = metadata_;
  const std::string header_text = header.dump();
  const Layout l = compute_layout(16 + header_text.size(), rows_, schema_, nnz_);

  const std::string tmp = path_ + ".tmp." + std::to_string(::getpid());
  FILE* out = std::fopen(tmp.c_str(), "wb");
  CEMBED_CHECK(out != nullptr, "cannot write {}: {}", tmp, std::strerror(errno));
  XXH64_state_t* state = XXH64_createState();
  XXH64_reset(state, 0);
  uint64_t pos = 0;
  auto put = [&](const void* p, size_t n) {
    if (std::fwrite(p, 1, n, out) != n) {
      std::fclose(out);
      ::unlink(tmp.c_str());
      XXH64_freeState(state);
      fail("cannot write {}: {}", tmp, std::strerror(errno));
    }
    XXH64_update(state, p, n);
    pos += n;
  };
  static const char zeros[kAlign] = {};
  auto pad_to = [&](uint64_t target) {
    while (pos < target) put(zeros, std::min<uint64_t>(kAlign, target - pos));
  };
  auto copy_spill = [&](Spill& s) {
    std::fflush(s.file);
    std::rewind(s.file);
    std::vector<char> buf(1 << 20);
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), s.file)) > 0) put(buf.data(), n);
  };
  const uint32_t version = kVersion, hl = static_cast<uint32_t>(header_text.size());
  put(kMagic, 8);
  put(&version, 4);
  put(&hl, 4);
  put(header_text.data(), header_text.size());
  pad_to(l.labels);
  copy_spill(*spills_[0]);
  pad_to(l.dense);
  copy_spill(*spills_[1]);
  for (int f = 0; f < schema_.num_sparse(); ++f) {
    if (schema_.multi_hot[f]) {
      pad_to(l.offsets[f]);
      copy_spill(*spills_[2 + 2 * f]);
    }
    pad_to(l.ids[f]);
    copy_spill(*spills_[3 + 2 * f]);
  }
  pad_to(l.end);
  const uint64_t digest = XXH64_digest(state);
  XXH64_freeState(state);
  CEMBED_CHECK(std::fwrite(&digest, 8, 1, out) == 1 && std::fwrite(kEndMagic, 1, 8, out) == 8, "cannot write {}", tmp);
  const bool ok = std::fflush(out) == 0 && ::fsync(::fileno(out)) == 0;
  std::fclose(out);
  if (!ok || ::rename(tmp.c_str(), path_.c_str()) != 0) {
    ::unlink(tmp.c_str());
    fail("cannot finish dataset {}: {}", path_, std::strerror(errno));
  }
  spills_.clear();
}

// ---------------------------------------------------------------- batches

std::vector<BagBatch> Batch::bags() const {
  std::vector<BagBatch> out;
  for (size_t f = 0; f < ids.size(); ++f) out.push_back({ids[f], offsets[f], {}});
  return out;
}

void gather_batch(const Dataset& data, std::span<const int64_t> rows, Batch& out) {
  const auto& s = data.schema();
  const int64_t b = static_cast<int64_t>(rows.size());
  const int nd = s.num_dense();
  out.size = b;
  out.labels.resize(b);
  out.dense.resize(b * nd);
  out.ids.resize(s.num_sparse());
  out.offsets.resize(s.num_sparse());
  for (int64_t i = 0; i < b; ++i) {
    out.labels[i] = data.label(rows[i]);
    std::memcpy(out.dense.data() + i * nd, data.dense_row(rows[i]), nd * sizeof(float));
  }
  for (int f = 0; f < s.num_sparse(); ++f) {
    auto& ids = out.ids[f];
    auto& off = out.offsets[f];
    ids.clear();
    off.resize(b + 1);
    off[0] = 0;
    for (int64_t i = 0; i < b; ++i) {
      const auto bag = data.bag(f, rows[i]);
      ids.insert(ids.end(), bag.begin(), bag.end());
      off[i + 1] = static_cast<uint32_t>(ids.size());
    }
  }
}

}  // namespace cembed
