// The exported model file (.cem): sections behind a checked table of contents, memory-mapped.
//
// Layout (little-endian):
//   header, 32 bytes:  8-byte magic "CEMBMODL", u32 version, u32 section count,
//                      u64 file length, u64 XXH64 of the section table
//   section table:     per section 32 bytes: u32 kind, u32 index, u64 offset, u64 length,
//                      u64 XXH64 of the section's bytes
//   sections:          each starting on a 64-byte boundary, in table order, zero padding
//                      between them
//
// open() maps the file and checks, before anything reads a section: the magic (a foreign
// file), the version, the length against the file (truncated or extended), the table's
// checksum, every section inside the file, aligned, in order and not overlapping, the
// padding zero, and every section's checksum (altered). Errors name the file.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cembed {

// 2: parameter blocks' values on 64-byte boundaries (quantized.h); 3: lma's placement
// arrays (block_placement.h) and cce's assignment on 64-byte boundaries, read in place.
// Older versions are refused.
constexpr uint32_t kModelFileVersion = 3;

enum class SectionKind : uint32_t {
  Metadata = 1,         // JSON: model config, memory plan, tables, precision, source
  Mlp = 2,              // the MLPs' weights and biases, fp32, in Dlrm order
  TableParameters = 3,  // index: table; its parameter blocks (quantized.h)
  TableServing = 4,     // index: table; EmbeddingTable::save_serving_data
  Vocabulary = 5,       // vocabulary.bin's payload (vocabulary_file.h)
};
const char* section_kind_name(SectionKind kind);

struct SectionData {
  SectionKind kind;
  uint32_t index = 0;
  std::string bytes;
};

// Writes the sections atomically (AtomicFile).
void write_model_file(const std::string& path, const std::vector<SectionData>& sections);

class ModelFile {
 public:
  static ModelFile open(const std::string& path);
  ModelFile(ModelFile&& other) noexcept;
  ModelFile& operator=(ModelFile&& other) noexcept;
  ModelFile(const ModelFile&) = delete;
  ModelFile& operator=(const ModelFile&) = delete;
  ~ModelFile();

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  // The section's bytes (in the mapping); refuses a missing one unless `optional`, then empty.
  std::string_view section(SectionKind kind, uint32_t index = 0, bool optional = false) const;
  bool has(SectionKind kind, uint32_t index = 0) const;
  // Every section's kind and index, in file order.
  struct Entry {
    SectionKind kind;
    uint32_t index;
    uint64_t offset, length;
  };
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  ModelFile() = default;
  std::string path_;
  void* map_ = nullptr;
  uint64_t size_ = 0;
  std::vector<Entry> entries_;
};

}  // namespace cembed
