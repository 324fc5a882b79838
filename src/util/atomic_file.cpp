#include "util/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "util/check.h"

namespace cembed {
namespace {

std::string temp_name(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  return path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)), tmp_(temp_name(path_)) {
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  CEMBED_CHECK(fd_ >= 0, "cannot write {}: {}", path_, std::strerror(errno));
}

AtomicFile::~AtomicFile() { discard(); }

void AtomicFile::discard() noexcept {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
    ::unlink(tmp_.c_str());
  }
}

void AtomicFile::fail_write(int err) const { fail("cannot write {}: {}", path_, std::strerror(err != 0 ? err : EIO)); }

void AtomicFile::write(std::string_view bytes) {
  CEMBED_CHECK(fd_ >= 0, "{} written after it was committed", path_);
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n == 0 ? EIO : errno;
      discard();
      fail_write(err);
    }
    done += static_cast<size_t>(n);
  }
}

int AtomicFile::pwrite_at(const void* data, size_t size, uint64_t offset) noexcept {
  const char* p = static_cast<const char*>(data);
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pwrite(fd_, p + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n == 0 ? EIO : errno;
    done += static_cast<size_t>(n);
  }
  return 0;
}

void AtomicFile::commit() {
  CEMBED_CHECK(fd_ >= 0, "{} committed twice", path_);
  if (::fsync(fd_) != 0) {
    const int err = errno;
    discard();
    fail("cannot flush {}: {}", path_, std::strerror(err));
  }
  const int closed = ::close(fd_);
  const int close_err = errno;
  fd_ = -1;
  if (closed != 0 || ::rename(tmp_.c_str(), path_.c_str()) != 0) {
    const int err = closed != 0 ? close_err : errno;
    ::unlink(tmp_.c_str());
    fail("cannot {} {}: {}", closed != 0 ? "flush" : "rename into place", path_, std::strerror(err));
  }
  sync_folder(std::filesystem::path(path_).parent_path().string());
}

void write_file_atomically(const std::string& path, std::string_view bytes) {
  AtomicFile file(path);
  file.write(bytes);
  file.commit();
}

void sync_folder(const std::string& folder) noexcept {
  const int dfd = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace cembed
