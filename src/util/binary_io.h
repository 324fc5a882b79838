// Little-endian binary serialisation into memory buffers, with bounds-checked reading.
// Used for table state, model files and checkpoints; files are framed by file_format.h.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "util/check.h"

namespace cembed {

class BinaryWriter {
 public:
  void u32(uint32_t v) { raw(&v, sizeof v); }
  void u64(uint64_t v) { raw(&v, sizeof v); }
  void i64(int64_t v) { raw(&v, sizeof v); }
  void f32(float v) { raw(&v, sizeof v); }
  void str(const std::string& s) {
    u64(s.size());
    raw(s.data(), s.size());
  }
  void floats(std::span<const float> v) {
    u64(v.size());
    raw(v.data(), v.size() * sizeof(float));
  }
  void raw(const void* p, size_t n) { buf_.append(static_cast<const char*>(p), n); }
  const std::string& bytes() const { return buf_; }

 private:
  std::string buf_;
};

class BinaryReader {
 public:
  // `context` names the source (a file name) in error messages.
  BinaryReader(const void* data, size_t size, std::string context)
      : p_(static_cast<const uint8_t*>(data)), size_(size), context_(std::move(context)) {}

  uint32_t u32(const char* what) { return pod<uint32_t>(what); }
  uint64_t u64(const char* what) { return pod<uint64_t>(what); }
  int64_t i64(const char* what) { return pod<int64_t>(what); }
  float f32(const char* what) { return pod<float>(what); }
  std::string str(const char* what) {
    uint64_t n = u64(what);
    need(n, what);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), n);
    pos_ += n;
    return s;
  }
  // Reads a float array whose length must equal `expected` (the shape the reader built).
  void floats_into(std::span<float> out, const char* what) {
    uint64_t n = u64(what);
    CEMBED_CHECK(n == out.size(), "{}: {} has {} floats, expected {} (model shape differs)", context_, what, n,
                 out.size());
    need(n * sizeof(float), what);
    if (n > 0) std::memcpy(out.data(), p_ + pos_, n * sizeof(float));  // out.data() may be null when empty
    pos_ += n * sizeof(float);
  }
  // Reads n raw bytes (the caller checked the count it expects).
  void raw_into(void* out, size_t n, const char* what) {
    need(n, what);
    if (n == 0) return;  // out may be null then
    std::memcpy(out, p_ + pos_, n);
    pos_ += n;
  }
  // The next n bytes where they lie (no copy), skipped over.
  const char* view(size_t n, const char* what) {
    need(n, what);
    const char* p = reinterpret_cast<const char*>(p_ + pos_);
    pos_ += n;
    return p;
  }
  size_t position() const { return pos_; }
  void expect_end() const { CEMBED_CHECK(pos_ == size_, "{}: {} unexpected trailing bytes", context_, size_ - pos_); }
  const std::string& context() const { return context_; }

 private:
  template <typename T>
  T pod(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  void need(uint64_t n, const char* what) const {
    CEMBED_CHECK(n <= size_ - pos_, "{}: truncated while reading {} (need {} bytes at offset {}, {} left)", context_,
                 what, n, pos_, size_ - pos_);
  }
  const uint8_t* p_;
  size_t size_;
  size_t pos_ = 0;
  std::string context_;
};

}  // namespace cembed
