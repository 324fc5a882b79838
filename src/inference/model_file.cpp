#include "inference/model_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "util/atomic_file.h"
#include "util/binary_io.h"
#include "util/check.h"
#include "util/file_format.h"

namespace cembed {
namespace {

constexpr char kMagic[] = "CEMBMODL";
constexpr uint64_t kHeaderBytes = 32, kEntryBytes = 32, kAlign = 64;
constexpr uint32_t kMaxSections = 1 << 16;

uint64_t aligned(uint64_t x) { return (x + kAlign - 1) / kAlign * kAlign; }

template <typename T>
T read_pod(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

const char* section_kind_name(SectionKind kind) {
  switch (kind) {
    case SectionKind::Metadata:
      return "metadata";
    case SectionKind::Mlp:
      return "MLP weights";
    case SectionKind::TableParameters:
      return "table parameters";
    case SectionKind::TableServing:
      return "table serving data";
    case SectionKind::Vocabulary:
      return "vocabulary";
  }
  return "unknown section";
}

void write_model_file(const std::string& path, const std::vector<SectionData>& sections) {
  BinaryWriter table;
  uint64_t offset = aligned(kHeaderBytes + kEntryBytes * sections.size());
  for (const SectionData& s : sections) {
    table.u32(static_cast<uint32_t>(s.kind));
    table.u32(s.index);
    table.u64(offset);
    table.u64(s.bytes.size());
    table.u64(checksum64(s.bytes.data(), s.bytes.size()));
    offset = aligned(offset + s.bytes.size());
  }
  BinaryWriter head;
  head.raw(kMagic, 8);
  head.u32(kModelFileVersion);
  head.u32(static_cast<uint32_t>(sections.size()));
  head.u64(offset);
  head.u64(checksum64(table.bytes().data(), table.bytes().size()));
  AtomicFile file(path);
  std::string bytes = head.bytes() + table.bytes();
  for (const SectionData& s : sections) {
    bytes.resize(aligned(bytes.size()), '\0');
    bytes += s.bytes;
  }
  bytes.resize(aligned(bytes.size()), '\0');
  CEMBED_CHECK(bytes.size() == offset, "{}: internal error: model file laid out as {} bytes, expected {}", path,
               bytes.size(), offset);
  file.write(bytes);
  file.commit();
}

ModelFile ModelFile::open(const std::string& path) {
  ModelFile m;
  m.path_ = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  CEMBED_CHECK(fd >= 0, "cannot open model {}: {}", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const bool dir = S_ISDIR(st.st_mode);
    ::close(fd);
    fail("{}: {} (a model is memory-mapped: give the .cem file itself)", path,
         dir ? "is a directory" : "not a regular file");
  }
  m.size_ = static_cast<uint64_t>(st.st_size);
  if (m.size_ < kHeaderBytes) {
    ::close(fd);
    fail("{}: not a cembed model (only {} bytes)", path, m.size_);
  }
  void* map = ::mmap(nullptr, m.size_, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  CEMBED_CHECK(map != MAP_FAILED, "cannot map model {}: {}", path, std::strerror(errno));
  m.map_ = map;
  const char* base = static_cast<const char*>(map);

  CEMBED_CHECK(std::memcmp(base, kMagic, 8) == 0, "{}: not a cembed model (wrong magic)", path);
  const auto version = read_pod<uint32_t>(base + 8);
  CEMBED_CHECK(version == kModelFileVersion,
               "{}: model format version {}, this build reads version {} (export the checkpoint again: cembed export)",
               path, version, kModelFileVersion);
  const auto count = read_pod<uint32_t>(base + 12);
  const auto length = read_pod<uint64_t>(base + 16);
  CEMBED_CHECK(length == m.size_, "{}: truncated or extended: {} bytes, the header says {}", path, m.size_, length);
  CEMBED_CHECK(count <= kMaxSections && kHeaderBytes + kEntryBytes * count <= m.size_,
               "{}: corrupt header ({} sections cannot fit in {} bytes)", path, count, m.size_);
  const char* table = base + kHeaderBytes;
  CEMBED_CHECK(checksum64(table, kEntryBytes * count) == read_pod<uint64_t>(base + 24),
               "{}: checksum mismatch in the section table: the file is corrupt or was altered", path);
  uint64_t end = kHeaderBytes + kEntryBytes * count;  // end of what is checked so far
  for (uint32_t i = 0; i < count; ++i) {
    const char* e = table + i * kEntryBytes;
    Entry entry{static_cast<SectionKind>(read_pod<uint32_t>(e)), read_pod<uint32_t>(e + 4), read_pod<uint64_t>(e + 8),
                read_pod<uint64_t>(e + 16)};
    const char* name = section_kind_name(entry.kind);
    CEMBED_CHECK(entry.offset % kAlign == 0 && entry.offset >= end && entry.offset <= m.size_ &&
                     entry.length <= m.size_ - entry.offset,
                 "{}: section {} ({} {}) lies outside the file or overlaps another", path, i, name, entry.index);
    for (uint64_t p = end; p < entry.offset; ++p) {
      CEMBED_CHECK(base[p] == 0, "{}: nonzero padding at byte {}: the file was altered", path, p);
    }
    CEMBED_CHECK(checksum64(base + entry.offset, entry.length) == read_pod<uint64_t>(e + 24),
                 "{}: checksum mismatch in section {} ({} {}): the file is corrupt or was altered", path, i, name,
                 entry.index);
    for (const Entry& other : m.entries_) {
      CEMBED_CHECK(other.kind != entry.kind || other.index != entry.index, "{}: section {} {} appears twice", path,
                   name, entry.index);
    }
    m.entries_.push_back(entry);
    end = entry.offset + entry.length;
  }
  for (uint64_t p = end; p < m.size_; ++p) {
    CEMBED_CHECK(base[p] == 0, "{}: nonzero padding at byte {}: the file was altered", path, p);
  }
  return m;
}

ModelFile::ModelFile(ModelFile&& other) noexcept { *this = std::move(other); }

ModelFile& ModelFile::operator=(ModelFile&& other) noexcept {
  if (this != &other) {
    if (map_ != nullptr) ::munmap(map_, size_);
    path_ = std::move(other.path_);
    map_ = std::exchange(other.map_, nullptr);
    size_ = std::exchange(other.size_, 0);
    entries_ = std::move(other.entries_);
  }
  return *this;
}

ModelFile::~ModelFile() {
  if (map_ != nullptr) ::munmap(map_, size_);
}

bool ModelFile::has(SectionKind kind, uint32_t index) const {
  for (const Entry& e : entries_) {
    if (e.kind == kind && e.index == index) return true;
  }
  return false;
}

std::string_view ModelFile::section(SectionKind kind, uint32_t index, bool optional) const {
  for (const Entry& e : entries_) {
    if (e.kind == kind && e.index == index) return {static_cast<const char*>(map_) + e.offset, e.length};
  }
  CEMBED_CHECK(optional, "{}: no {} section {} (the file is incomplete)", path_, section_kind_name(kind), index);
  return {};
}

}  // namespace cembed
