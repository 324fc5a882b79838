// DatasetWriter: rows spilled per column to temporary files (written behind on a thread for
// add_block), then assembled into a .cds file (finish, finish_remapped: sections copied and
// remapped on all threads, checksum read back, renamed into place).
#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <utility>

#include "cembed/dataset.h"
#include "data/dataset_layout.h"
#include "data/dataset_writer.h"
#include "util/atomic_file.h"
#include "util/check.h"

namespace cembed {

struct DatasetWriter::Spill {
  FILE* file = nullptr;
  std::vector<char> buffer;
  std::string beside;  // the output it serves, for errors
  explicit Spill(const std::string& dir_hint) : beside(dir_hint) {
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
  void flush() {
    CEMBED_CHECK(std::fflush(file) == 0, "cannot write a temporary file beside {}: {}", beside, std::strerror(errno));
  }
  void write(const void* p, size_t n) {
    if (n == 0) return;  // p may be null then
    CEMBED_CHECK(std::fwrite(p, 1, n, file) == n, "cannot write a temporary file beside {}: {}", beside,
                 std::strerror(errno));
  }
};

// Write-behind: the caller fills the front buffers (one per file) and hands them over;
// the thread writes them while the caller goes on; the next hand-over, or settle(), waits
// for that write first and raises its error. Buffers are swapped, never reallocated.
class DatasetWriter::BlockWriter {
 public:
  BlockWriter(std::vector<FILE*> files, std::string beside)
      : beside_(std::move(beside)),
        files_(std::move(files)),
        front_(files_.size()),
        back_(files_.size()),
        thread_([this] { run(); }) {}
  ~BlockWriter() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    changed_.notify_all();
    thread_.join();  // a write under way finishes first
  }
  std::vector<std::vector<char>>& front() { return front_; }
  void hand_over() {
    settle();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      std::swap(front_, back_);
      busy_ = true;
    }
    changed_.notify_all();
  }
  void settle() {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return !busy_; });
    if (!error_.empty()) fail("{}", std::exchange(error_, std::string()));
  }

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      changed_.wait(lock, [&] { return busy_ || stop_; });
      if (!busy_) return;
      lock.unlock();
      std::string error;
      for (size_t i = 0; i < files_.size() && error.empty(); ++i) {
        const auto& b = back_[i];
        if (!b.empty() && std::fwrite(b.data(), 1, b.size(), files_[i]) != b.size()) {
          error = fmt::format("cannot write a temporary file beside {}: {}", beside_, std::strerror(errno));
        }
      }
      lock.lock();
      error_ = std::move(error);
      busy_ = false;
      changed_.notify_all();
    }
  }

  std::string beside_;
  std::vector<FILE*> files_;
  std::vector<std::vector<char>> front_, back_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool busy_ = false, stop_ = false;
  std::string error_;
  std::thread thread_;  // last: starts once the members above exist
};

DatasetWriter::DatasetWriter(std::string path, DatasetSchema schema)
    : path_(std::move(path)), schema_(std::move(schema)) {
  CEMBED_CHECK(schema_.multi_hot.size() == schema_.sparse.size(),
               "dataset schema: multi_hot flags do not match features");
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
  check_open();
  if (behind_) behind_->settle();  // rows after blocks: in order
  CEMBED_CHECK(
      static_cast<int>(dense.size()) == schema_.num_dense() && static_cast<int>(bags.size()) == schema_.num_sparse(),
      "dataset writer: row has {} dense and {} categorical values, schema has {} and {}", dense.size(), bags.size(),
      schema_.num_dense(), schema_.num_sparse());
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
      CEMBED_CHECK(bag.size() == 1, "dataset writer: one-hot feature '{}' got {} values in row {}",
                   schema_.sparse[f].name, bag.size(), rows_);
    }
    for (Id id : bag) {
      CEMBED_CHECK(id < schema_.sparse[f].cardinality,
                   "dataset writer: feature '{}' id {} beyond cardinality {} in row {}", schema_.sparse[f].name, id,
                   schema_.sparse[f].cardinality, rows_);
    }
    spills_[3 + 2 * f]->write(bag.data(), bag.size_bytes());
    nnz_[f] += bag.size();
    if (schema_.multi_hot[f]) spills_[2 + 2 * f]->write(&nnz_[f], sizeof(uint64_t));
  }
  ++rows_;
}

void DatasetWriter::add_block(std::span<const float> labels, std::span<const float> dense,
                              std::span<const std::span<const Id>> columns) {
  check_open();
  const auto n = static_cast<int64_t>(labels.size());
  const int nd = schema_.num_dense(), ns = schema_.num_sparse();
  CEMBED_CHECK(static_cast<int64_t>(dense.size()) == n * nd && static_cast<int>(columns.size()) == ns,
               "dataset writer: a block of {} rows has {} dense values and {} columns, schema has {} and {}", n,
               dense.size(), columns.size(), nd, ns);
  // Branch-free checks first; the loops that name the row only on failure.
  bool finite = true;
  for (float v : labels) finite &= std::isfinite(v);
  for (float v : dense) finite &= std::isfinite(v);
  if (!finite) {
    for (int64_t r = 0; r < n; ++r) {
      CEMBED_CHECK(std::isfinite(labels[r]), "dataset writer: label {} in row {} is not a finite number", labels[r],
                   rows_ + r);
      for (int j = 0; j < nd; ++j) {
        CEMBED_CHECK(std::isfinite(dense[r * nd + j]), "dataset writer: dense feature '{}' is {} in row {}",
                     schema_.dense_names[j], dense[r * nd + j], rows_ + r);
      }
    }
  }
  for (int f = 0; f < ns; ++f) {
    CEMBED_CHECK(!schema_.multi_hot[f], "dataset writer: add_block() takes one-hot features, '{}' is multi-hot",
                 schema_.sparse[f].name);
    CEMBED_CHECK(static_cast<int64_t>(columns[f].size()) == n, "dataset writer: column '{}' has {} ids for {} rows",
                 schema_.sparse[f].name, columns[f].size(), n);
    const auto card = static_cast<uint64_t>(schema_.sparse[f].cardinality);
    bool in_range = true;
    for (Id id : columns[f]) in_range &= id < card;
    if (!in_range) {
      for (int64_t r = 0; r < n; ++r) {
        CEMBED_CHECK(columns[f][r] < card, "dataset writer: feature '{}' id {} beyond cardinality {} in row {}",
                     schema_.sparse[f].name, columns[f][r], card, rows_ + r);
      }
    }
  }
  if (!behind_) {
    std::vector<FILE*> files = {spills_[0]->file, spills_[1]->file};
    for (int f = 0; f < ns; ++f) files.push_back(spills_[3 + 2 * f]->file);
    behind_ = std::make_unique<BlockWriter>(std::move(files), path_);
  }
  auto& buffers = behind_->front();
  auto fill = [](std::vector<char>& b, const void* p, size_t bytes) {
    b.resize(bytes);
    if (bytes > 0) std::memcpy(b.data(), p, bytes);
  };
  fill(buffers[0], labels.data(), labels.size_bytes());
  fill(buffers[1], dense.data(), dense.size_bytes());
  for (int f = 0; f < ns; ++f) fill(buffers[2 + f], columns[f].data(), columns[f].size_bytes());
  behind_->hand_over();  // raises the previous block's write error, if any: then nothing counts
  for (int f = 0; f < ns; ++f) nnz_[f] += static_cast<uint64_t>(n);
  rows_ += n;
}

void DatasetWriter::check_open() const {
  CEMBED_CHECK(!finished_, "dataset writer: rows added after the file was finished");
}

void DatasetWriter::finish() {
  CEMBED_CHECK(!closed_, "dataset writer: finish() called twice");
  finish_remapped(path_, schema_, {}, 0, rows_);
  closed_ = true;
  spills_.clear();
}

namespace {

// Reads bytes [from, from + n) of a file in pieces of buf.size(), calling piece(data,
// bytes) for each; false on a read error.
template <typename Piece>
bool read_range(int fd, uint64_t from, uint64_t n, std::vector<char>& buf, Piece piece) {
  while (n > 0) {
    const auto want = static_cast<size_t>(std::min<uint64_t>(n, buf.size()));
    const ssize_t got = ::pread(fd, buf.data(), want, static_cast<off_t>(from));
    if (got <= 0 || got % sizeof(float) != 0) return false;  // elements of 4 or 8 bytes
    piece(buf.data(), static_cast<size_t>(got));
    from += static_cast<uint64_t>(got);
    n -= static_cast<uint64_t>(got);
  }
  return true;
}

double sum_floats(const char* data, size_t bytes) {
  double sum = 0;
  const auto* v = reinterpret_cast<const float*>(data);
  for (size_t i = 0; i < bytes / sizeof(float); ++i) sum += v[i];
  return sum;
}

// Ids through a remap table in place; returns how many non-zero ids became 0, or -1 for an
// id beyond the table.
int64_t remap_ids(char* data, size_t bytes, const std::vector<Id>& to) {
  Id* ids = reinterpret_cast<Id*>(data);
  const size_t count = bytes / sizeof(Id), size = to.size();
  int64_t missing = 0;
  for (size_t i = 0; i < count; ++i) {
    const Id id = ids[i];
    if (id >= size) return -1;
    ids[i] = to[id];
    missing += (id != 0) & (ids[i] == 0);
  }
  return missing;
}

}  // namespace

DatasetWriter::Written DatasetWriter::measure(std::span<const std::vector<Id>> remap, int64_t begin,
                                              int64_t end) const {
  CEMBED_CHECK(!closed_, "dataset writer: measure() after finish()");
  CEMBED_CHECK(0 <= begin && begin <= end && end <= rows_, "dataset writer: rows [{}, {}) of {}", begin, end, rows_);
  CEMBED_CHECK(remap.empty() || static_cast<int>(remap.size()) == schema_.num_sparse(),
               "dataset writer: {} remap tables for {} features", remap.size(), schema_.num_sparse());
  const int ns = schema_.num_sparse();
  for (int f = 0; f < ns; ++f) {
    CEMBED_CHECK(!schema_.multi_hot[f] || (begin == 0 && end == rows_),
                 "dataset writer: a range of rows needs one-hot features, '{}' is not", schema_.sparse[f].name);
  }
  if (behind_) behind_->settle();
  for (const auto& spill : spills_) spill->flush();
  Written w;
  w.rows = end - begin;
  w.unmapped.assign(ns, 0);
  const auto first = static_cast<uint64_t>(begin), count = static_cast<uint64_t>(end - begin);
  // Task 0 sums the labels, task 1 + f counts feature f's unmapped ids.
  const int tasks = 1 + (remap.empty() ? 0 : ns);
  std::vector<int> failed(tasks, 0);  // 1: read error, 2: id beyond its remap table
#pragma omp parallel for num_threads(threads_) schedule(dynamic, 1)
  for (int t = 0; t < tasks; ++t) {
    std::vector<char> buf(1 << 22);
    bool ok = true;
    if (t == 0) {
      ok = read_range(::fileno(spills_[0]->file), first * sizeof(float), count * sizeof(float), buf,
                      [&](char* d, size_t n) { w.label_sum += sum_floats(d, n); });
    } else {
      const int f = t - 1;
      const uint64_t from = schema_.multi_hot[f] ? 0 : first * sizeof(Id);
      const uint64_t bytes = (schema_.multi_hot[f] ? nnz_[f] : count) * sizeof(Id);
      ok = read_range(::fileno(spills_[3 + 2 * f]->file), from, bytes, buf, [&](char* d, size_t n) {
        const int64_t missing = remap_ids(d, n, remap[f]);
        if (missing < 0) failed[t] = 2;
        w.unmapped[f] += std::max<int64_t>(missing, 0);
      });
    }
    if (!ok) failed[t] = 1;
  }
  for (int t = 0; t < tasks; ++t) {
    CEMBED_CHECK(failed[t] != 1, "cannot read a temporary file of {}: {}", path_, std::strerror(errno));
    CEMBED_CHECK(failed[t] != 2, "dataset writer: an id of '{}' has no remap entry", schema_.sparse[t - 1].name);
  }
  return w;
}

namespace {

// finish_remapped's phases, below: output_nnz (the target schema and remap tables checked
// against the rows written), dataset_header, plan_sections, copy_sections, then
// write_head_and_trailer.

// The ids per feature of rows [begin, end) under `schema` (the writer's features, with
// final cardinalities), after checking the range and every remap table against them.
std::vector<uint64_t> output_nnz(const std::string& path, const DatasetSchema& written,
                                 const std::vector<uint64_t>& written_nnz, int64_t written_rows,
                                 const DatasetSchema& schema, std::span<const std::vector<Id>> remap, int64_t begin,
                                 int64_t end) {
  const int ns = written.num_sparse();
  CEMBED_CHECK(
      schema.num_dense() == written.num_dense() && schema.num_sparse() == ns && schema.multi_hot == written.multi_hot,
      "dataset writer: {} asks for another schema's features than the rows written", path);
  CEMBED_CHECK(0 <= begin && begin <= end && end <= written_rows, "dataset writer: rows [{}, {}) of {}", begin, end,
               written_rows);
  CEMBED_CHECK(remap.empty() || static_cast<int>(remap.size()) == ns, "dataset writer: {} remap tables for {} features",
               remap.size(), ns);
  const bool all_rows = begin == 0 && end == written_rows;
  std::vector<uint64_t> nnz(ns);
  for (int f = 0; f < ns; ++f) {
    CEMBED_CHECK(!schema.multi_hot[f] || all_rows,
                 "dataset writer: a range of rows needs one-hot features, '{}' is not", schema.sparse[f].name);
    nnz[f] = schema.multi_hot[f] ? written_nnz[f] : static_cast<uint64_t>(end - begin);
    if (!remap.empty()) {  // every target within the final cardinality
      bool ok = true;
      for (Id id : remap[f]) ok &= id < static_cast<uint64_t>(schema.sparse[f].cardinality);
      CEMBED_CHECK(ok, "dataset writer: remap table of '{}' maps beyond cardinality {}", schema.sparse[f].name,
                   schema.sparse[f].cardinality);
    } else {
      CEMBED_CHECK(schema.sparse[f].cardinality == written.sparse[f].cardinality,
                   "dataset writer: '{}' has cardinality {} without a remap table, {} when written",
                   schema.sparse[f].name, schema.sparse[f].cardinality, written.sparse[f].cardinality);
    }
  }
  return nnz;
}

// The header JSON: rows, schema, ids per feature, metadata.
std::string dataset_header(int64_t rows, const DatasetSchema& schema, const std::vector<uint64_t>& nnz,
                           const nlohmann::json& metadata) {
  nlohmann::json header;
  header["rows"] = rows;
  header["schema"] = schema.to_json();
  header["nnz"] = nnz;
  header["metadata"] = metadata;
  return header.dump();
}

// A section of the output file and where it comes from; the outcome of its copy.
struct Section {
  int spill;                 // index among the writer's spills
  uint64_t from, bytes, to;  // spill range, destination offset
  int feature = -1;          // remapped ids of this feature, or -1
  int failed = 0;            // 1 read, 2 write, 3 id beyond its remap table
  int err = 0;               // errno of a failed read or write (errno is per thread)
  double label_sum = 0;
  int64_t unmapped = 0;
};

// The sections of rows [begin, begin + rows) at their places in layout `l`: labels, dense,
// then per feature its offsets (multi-hot: every row) and ids. The spills are labels,
// dense, then offsets and ids per feature.
std::vector<Section> plan_sections(const DatasetSchema& schema, const DatasetLayout& l, bool remapped, int64_t begin,
                                   int64_t rows, const std::vector<uint64_t>& nnz) {
  const auto nd = static_cast<uint64_t>(schema.num_dense());
  const auto first = static_cast<uint64_t>(begin), count = static_cast<uint64_t>(rows);
  std::vector<Section> sections;
  sections.push_back({0, first * sizeof(float), count * sizeof(float), l.labels});
  sections.push_back({1, first * nd * sizeof(float), count * nd * sizeof(float), l.dense});
  for (int f = 0; f < schema.num_sparse(); ++f) {
    const int feature = remapped ? f : -1;
    if (schema.multi_hot[f]) {
      sections.push_back({2 + 2 * f, 0, (count + 1) * sizeof(uint64_t), l.offsets[f]});
      sections.push_back({3 + 2 * f, 0, nnz[f] * sizeof(Id), l.ids[f], feature});
    } else {
      sections.push_back({3 + 2 * f, first * sizeof(Id), count * sizeof(Id), l.ids[f], feature});
    }
  }
  return sections;
}

// Copies every section from its spill (file descriptor spill_fds[spill]) to its place in
// `file` (ids through their remap table) on all threads, with positioned writes; the gaps
// between sections are holes, which read as the zeros of the padding. Then raises the
// first failure, or adds the label sum and unmapped ids to `written`.
void copy_sections(std::vector<Section>& sections, const std::vector<int>& spill_fds,
                   std::span<const std::vector<Id>> remap, const DatasetSchema& schema, AtomicFile& file, int threads,
                   DatasetWriter::Written& written) {
  const auto tasks = static_cast<int>(sections.size());
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (int t = 0; t < tasks; ++t) {
    Section& sec = sections[t];
    std::vector<char> buf(1 << 22);
    uint64_t to = sec.to;
    const bool read_ok = read_range(spill_fds[sec.spill], sec.from, sec.bytes, buf, [&](char* d, size_t n) {
      if (sec.failed != 0) return;
      if (sec.feature >= 0) {
        const int64_t missing = remap_ids(d, n, remap[sec.feature]);
        if (missing < 0) {
          sec.failed = 3;
          return;
        }
        sec.unmapped += missing;
      }
      if (sec.spill == 0) sec.label_sum += sum_floats(d, n);
      if ((sec.err = file.pwrite_at(d, n, to)) != 0) {
        sec.failed = 2;
        return;
      }
      to += n;
    });
    if (!read_ok && sec.failed == 0) {
      sec.failed = 1;
      sec.err = errno;
    }
  }
  for (const Section& sec : sections) {
    CEMBED_CHECK(sec.failed != 1, "cannot read a temporary file of {}: {}", file.path(), std::strerror(sec.err));
    if (sec.failed == 2) file.fail_write(sec.err);
    CEMBED_CHECK(sec.failed != 3, "dataset writer: an id of '{}' has no remap entry", schema.sparse[sec.feature].name);
    written.label_sum += sec.label_sum;
    if (sec.feature >= 0) written.unmapped[sec.feature] += sec.unmapped;
  }
}

// Writes the magic, version and header at the start of `file`, ends the padding at `end`,
// then appends the trailer: the checksum of everything before it, read back from the
// file, and the end magic.
void write_head_and_trailer(AtomicFile& file, const std::string& header_text, uint64_t end) {
  const std::string& path = file.path();
  std::string head(kDatasetMagic, 8);
  const uint32_t version = kDatasetVersion, hl = static_cast<uint32_t>(header_text.size());
  head.append(reinterpret_cast<const char*>(&version), 4);
  head.append(reinterpret_cast<const char*>(&hl), 4);
  head += header_text;
  if (const int err = file.pwrite_at(head.data(), head.size(), 0); err != 0) file.fail_write(err);
  if (::ftruncate(file.fd(), static_cast<off_t>(end)) != 0) file.fail_write(errno);
  const int in = ::open(file.temp_path().c_str(), O_RDONLY | O_CLOEXEC);
  CEMBED_CHECK(in >= 0, "cannot read back {}: {}", path, std::strerror(errno));
  XXH64_state_t* state = XXH64_createState();
  XXH64_reset(state, 0);
  std::vector<char> buf(1 << 22);
  const bool hashed = read_range(in, 0, end, buf, [&](char* d, size_t n) { XXH64_update(state, d, n); });
  ::close(in);
  const uint64_t digest = XXH64_digest(state);
  XXH64_freeState(state);
  CEMBED_CHECK(hashed, "cannot read back {}: {}", path, std::strerror(errno));
  char trailer[16];
  std::memcpy(trailer, &digest, 8);
  std::memcpy(trailer + 8, kDatasetEndMagic, 8);
  if (const int err = file.pwrite_at(trailer, 16, end); err != 0) file.fail_write(err);
}

}  // namespace

DatasetWriter::Written DatasetWriter::finish_remapped(const std::string& path, const DatasetSchema& schema,
                                                      std::span<const std::vector<Id>> remap, int64_t begin,
                                                      int64_t end) {
  CEMBED_CHECK(!closed_, "dataset writer: {} written after finish()", path);
  finished_ = true;
  if (behind_) behind_->settle();
  const std::vector<uint64_t> nnz = output_nnz(path, schema_, nnz_, rows_, schema, remap, begin, end);
  const int64_t rows = end - begin;
  Written written;
  written.rows = rows;
  written.unmapped.assign(schema.num_sparse(), 0);
  const std::string header_text = dataset_header(rows, schema, nnz, metadata_);
  const DatasetLayout l = dataset_layout(16 + header_text.size(), rows, schema, nnz);

  // Any failure below throws, and the AtomicFile then removes its temporary file.
  AtomicFile file(path);
  std::vector<int> spill_fds;
  for (const auto& spill : spills_) {
    spill->flush();
    spill_fds.push_back(::fileno(spill->file));
  }
  std::vector<Section> sections = plan_sections(schema, l, !remap.empty(), begin, rows, nnz);
  copy_sections(sections, spill_fds, remap, schema, file, threads_, written);
  write_head_and_trailer(file, header_text, l.end);
  file.commit();
  return written;
}

}  // namespace cembed
