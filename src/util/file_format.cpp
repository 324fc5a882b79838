#include "util/file_format.h"

#include <xxhash.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "util/atomic_file.h"
#include "util/binary_io.h"
#include "util/check.h"

namespace cembed {

uint64_t checksum64(const void* data, size_t size, uint64_t seed) { return XXH64(data, size, seed); }

void write_framed_file(const std::string& path, std::string_view magic, uint32_t version, std::string_view payload) {
  CEMBED_CHECK(magic.size() == 8, "file magic must be 8 bytes");
  BinaryWriter w;
  w.raw(magic.data(), 8);
  w.u32(version);
  w.u64(payload.size());
  w.raw(payload.data(), payload.size());
  w.u64(checksum64(payload.data(), payload.size()));
  write_file_atomically(path, w.bytes());
}

std::string read_framed_file(const std::string& path, std::string_view magic, uint32_t version) {
  std::error_code ec;
  CEMBED_CHECK(!std::filesystem::is_directory(path, ec), "{}: is a directory, not a file", path);
  std::ifstream in(path, std::ios::binary);  // read once, front to back: a pipe works too
  CEMBED_CHECK(in.good(), "cannot open {}: {}", path, std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string bytes = ss.str();
  CEMBED_CHECK(bytes.size() >= 20, "{}: not a cembed file (only {} bytes)", path, bytes.size());
  CEMBED_CHECK(std::string_view(bytes.data(), 8) == magic, "{}: not a cembed {} file (wrong magic)", path,
               std::string(magic));
  BinaryReader r(bytes.data() + 8, bytes.size() - 8, path);
  const uint32_t v = r.u32("version");
  CEMBED_CHECK(v == version, "{}: format version {}, this build reads version {}", path, v, version);
  const uint64_t n = r.u64("payload length");
  CEMBED_CHECK(bytes.size() == 8 + 4 + 8 + n + 8, "{}: truncated or extended: {} bytes, expected {}", path,
               bytes.size(), 8 + 4 + 8 + n + 8);
  const char* payload = bytes.data() + 20;
  uint64_t stored;
  std::memcpy(&stored, payload + n, 8);
  CEMBED_CHECK(stored == checksum64(payload, n), "{}: checksum mismatch: the file is corrupt or was altered", path);
  return std::string(payload, n);
}

}  // namespace cembed
