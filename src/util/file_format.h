// Framed, checksummed files written atomically.
//
// Layout: 8-byte magic, u32 format version, u64 payload length, payload, u64 XXH64 of the
// payload. Readers refuse a wrong magic (foreign file), another version, a length that
// does not match the file (truncated) or a checksum mismatch (altered), naming the file.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/atomic_file.h"  // write_file_atomically

namespace cembed {

// Writes `payload` framed as above to `path` through an AtomicFile (atomic_file.h), so a
// crash or a full disk leaves either the old file or the new one, never half.
void write_framed_file(const std::string& path, std::string_view magic, uint32_t version, std::string_view payload);

// Reads and verifies a framed file; returns the payload.
std::string read_framed_file(const std::string& path, std::string_view magic, uint32_t version);

uint64_t checksum64(const void* data, size_t size, uint64_t seed = 0);

}  // namespace cembed
