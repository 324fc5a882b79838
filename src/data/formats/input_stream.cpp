#include "data/formats/input_stream.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "util/check.h"

namespace cembed {

// The file's bytes as read(2) gives them, after the first bytes that were read to sniff
// the compression (kept in `prefix_`).
class InputStream::Raw {
 public:
  explicit Raw(const std::string& path) : path_(path) {
    do {
      fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    } while (fd_ < 0 && errno == EINTR);
    CEMBED_CHECK(fd_ >= 0, "cannot open {}: {}", path, std::strerror(errno));
    struct stat st {};
    if (::fstat(fd_, &st) == 0 && S_ISDIR(st.st_mode)) {
      ::close(fd_);
      fd_ = -1;
      fail("{}: is a directory, not an input file", path);
    }
  }
  ~Raw() {
    if (fd_ >= 0) ::close(fd_);
  }
  // Reads until `n` bytes or the end: the first bytes, for the magic number.
  void read_prefix(size_t n) {
    prefix_.resize(n);
    size_t got = 0;
    while (got < n) {
      const size_t r = read_fd(prefix_.data() + got, n - got);
      if (r == 0) break;
      got += r;
    }
    prefix_.resize(got);
  }
  const std::vector<unsigned char>& prefix() const { return prefix_; }
  size_t read(char* out, size_t n) {
    if (taken_ < prefix_.size()) {
      const size_t k = std::min(n, prefix_.size() - taken_);
      std::memcpy(out, prefix_.data() + taken_, k);
      taken_ += k;
      return k;
    }
    return read_fd(out, n);
  }

 private:
  size_t read_fd(void* out, size_t n) {
    while (true) {
      const ssize_t r = ::read(fd_, out, n);
      if (r >= 0) return static_cast<size_t>(r);
      if (errno == EINTR) continue;
      fail("{}: read failed: {}", path_, std::strerror(errno));
    }
  }
  std::string path_;
  int fd_ = -1;
  std::vector<unsigned char> prefix_;
  size_t taken_ = 0;
};

class InputStream::Decoder {
 public:
  virtual ~Decoder() = default;
  virtual size_t read(char* out, size_t n) = 0;
};

namespace {

int64_t line_of(const int64_t* line) { return line != nullptr ? *line : 0; }

class PlainDecoder final : public InputStream::Decoder {
 public:
  explicit PlainDecoder(InputStream::Raw& raw) : raw_(raw) {}
  size_t read(char* out, size_t n) override { return raw_.read(out, n); }

 private:
  InputStream::Raw& raw_;
};

// gzip, one member or several back to back (as `cat a.gz b.gz` or pigz write them).
class GzipDecoder final : public InputStream::Decoder {
 public:
  GzipDecoder(InputStream::Raw& raw, const std::string& path, const int64_t* line)
      : raw_(raw), path_(path), line_(line), in_(1 << 18) {
    CEMBED_CHECK(inflateInit2(&zs_, 15 + 16) == Z_OK, "{}: cannot start the gzip decoder", path);
  }
  ~GzipDecoder() override { inflateEnd(&zs_); }
  size_t read(char* out, size_t n) override {
    zs_.next_out = reinterpret_cast<Bytef*>(out);
    zs_.avail_out = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    const uInt want = zs_.avail_out;
    while (zs_.avail_out == want) {
      if (zs_.avail_in == 0) {
        const size_t got = raw_.read(in_.data(), in_.size());
        if (got == 0) {
          // The end of the file: it must end a member (at least one, so an empty file is plain).
          CEMBED_CHECK(between_members_, "{}: truncated or corrupt gzip stream after line {}: unexpected end of file",
                       path_, line_of(line_));
          return 0;
        }
        zs_.next_in = reinterpret_cast<Bytef*>(in_.data());
        zs_.avail_in = static_cast<uInt>(got);
      }
      between_members_ = false;
      const int ret = inflate(&zs_, Z_NO_FLUSH);
      if (ret == Z_STREAM_END) {
        between_members_ = true;
        inflateReset(&zs_);  // a next member may follow
      } else if (ret != Z_OK && ret != Z_BUF_ERROR) {
        fail("{}: truncated or corrupt gzip stream after line {}: {}", path_, line_of(line_),
             zs_.msg != nullptr ? zs_.msg : "inflate failed");
      }
    }
    return want - zs_.avail_out;
  }

 private:
  InputStream::Raw& raw_;
  const std::string& path_;
  const int64_t* line_;
  std::vector<char> in_;
  z_stream zs_{};
  bool between_members_ = false;
};

class ZstdDecoder final : public InputStream::Decoder {
 public:
  ZstdDecoder(InputStream::Raw& raw, const std::string& path, const int64_t* line)
      : raw_(raw), path_(path), line_(line), in_(ZSTD_DStreamInSize()) {
    ctx_ = ZSTD_createDCtx();
    CEMBED_CHECK(ctx_ != nullptr, "{}: cannot start the zstd decoder", path);
  }
  ~ZstdDecoder() override { ZSTD_freeDCtx(ctx_); }
  size_t read(char* out, size_t n) override {
    ZSTD_outBuffer o{out, n, 0};
    while (true) {
      // Without new input, the decoder has more to give only when it filled the output.
      if (input_.pos < input_.size || output_was_full_) {
        last_ = ZSTD_decompressStream(ctx_, &o, &input_);
        CEMBED_CHECK(!ZSTD_isError(last_), "{}: corrupt zstd stream after line {}: {}", path_, line_of(line_),
                     ZSTD_getErrorName(last_));
        output_was_full_ = o.pos == o.size;
        if (o.pos > 0) return o.pos;
        // A frame ended (an empty or skippable frame gives no output): the bytes after it are
        // still in input_, so decode on before reading more.
        if (input_.pos < input_.size) continue;
      }
      const size_t got = raw_.read(in_.data(), in_.size());
      if (got == 0) {
        // End of the file: the last frame must be complete.
        CEMBED_CHECK(last_ == 0, "{}: truncated or corrupt zstd stream after line {}", path_, line_of(line_));
        return 0;
      }
      input_ = {in_.data(), got, 0};
    }
  }

 private:
  InputStream::Raw& raw_;
  const std::string& path_;
  const int64_t* line_;
  std::vector<char> in_;
  ZSTD_DCtx* ctx_ = nullptr;
  ZSTD_inBuffer input_{nullptr, 0, 0};
  size_t last_ = 0;  // 0 when the last frame is complete
  bool output_was_full_ = false;
};

}  // namespace

InputStream::InputStream(std::string path, const int64_t* line) : path_(std::move(path)) {
  raw_ = std::make_unique<Raw>(path_);
  raw_->read_prefix(4);
  const auto& m = raw_->prefix();
  if (m.size() >= 2 && m[0] == 0x1F && m[1] == 0x8B) {
    decoder_ = std::make_unique<GzipDecoder>(*raw_, path_, line);
  } else if (m.size() == 4 && ((m[0] == 0x28 && m[1] == 0xB5 && m[2] == 0x2F && m[3] == 0xFD) ||
                               ((m[0] & 0xF0) == 0x50 && m[1] == 0x2A && m[2] == 0x4D && m[3] == 0x18))) {
    // A zstd frame, or a skippable frame (pzstd writes one first).
    decoder_ = std::make_unique<ZstdDecoder>(*raw_, path_, line);
  } else {
    decoder_ = std::make_unique<PlainDecoder>(*raw_);
  }
}

InputStream::~InputStream() = default;

size_t InputStream::read(char* out, size_t n) { return decoder_->read(out, n); }

std::string read_input_text(const std::string& path, int64_t max_bytes) {
  InputStream in(path);
  std::string text;
  std::vector<char> buf(1 << 16);
  while (const size_t got = in.read(buf.data(), buf.size())) {
    CEMBED_CHECK(static_cast<int64_t>(text.size() + got) <= max_bytes, "{}: larger than {} bytes", path, max_bytes);
    text.append(buf.data(), got);
  }
  return text;
}

}  // namespace cembed
