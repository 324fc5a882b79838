// Atomic files: the one way cembed writes a file.
//
// A file is written under a temporary name beside it (<path>.tmp.<pid>.<n>), then commit()
// fsyncs it, renames it onto <path> and fsyncs the folder, so a crash, a kill or a full disk
// leaves either the old file or the new one at <path>, never a mix or a half. An AtomicFile
// destroyed without commit() (an error, an exception) closes and removes its temporary file.
// Errors name the file being written (<path>) and the system's reason.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cembed {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);  // mode 0666 less the umask, as fopen
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return tmp_; }
  int fd() const { return fd_; }  // for positioned writes (pwrite) and ftruncate

  // Appends at the file offset (retries short writes and EINTR).
  void write(std::string_view bytes);
  // Writes at `offset` (the file offset is not moved); safe from several threads at once.
  // Returns 0 or the errno of the failure, for callers that report it from one thread.
  int pwrite_at(const void* data, size_t size, uint64_t offset) noexcept;
  // Throws the error of a failed write with the system's reason `err`.
  [[noreturn]] void fail_write(int err) const;

  // fsync, close, rename onto path(), fsync the folder. Throws (and removes the temporary)
  // on any failure; the previous file at path() is then untouched.
  void commit();

 private:
  void discard() noexcept;
  std::string path_, tmp_;
  int fd_ = -1;
};

// Writes `bytes` to `path` through an AtomicFile.
void write_file_atomically(const std::string& path, std::string_view bytes);

// fsyncs a folder (its entries: new names, renames). Failures are ignored: some file
// systems cannot sync a folder, and the data itself is already synced.
void sync_folder(const std::string& folder) noexcept;

}  // namespace cembed
