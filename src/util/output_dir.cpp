#include "util/output_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "util/atomic_file.h"
#include "util/check.h"

namespace cembed {
namespace fs = std::filesystem;

namespace {

// renameat2(RENAME_EXCHANGE): both names stay valid throughout. 0, or the errno.
int exchange_folders(const std::string& a, const std::string& b) {
#ifdef RENAME_EXCHANGE
  return ::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE) == 0 ? 0 : errno;
#else
  return EINVAL;
#endif
}

void sync_tree(const fs::path& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_regular_file(ec)) continue;
    const int fd = ::open(e.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      ::fsync(fd);
      ::close(fd);
    }
  }
  sync_folder(dir.string());
}

}  // namespace

StagedFolder::StagedFolder(const std::string& folder, const std::function<bool(const std::string&)>& replaceable,
                           const std::string& what) {
  CEMBED_CHECK(!folder.empty(), "{}: no output folder", what);
  std::error_code ec;
  fs::path target = fs::weakly_canonical(fs::absolute(folder), ec);
  CEMBED_CHECK(!ec, "{}: output folder {}: {}", what, folder, ec.message());
  if (target.filename().empty()) target = target.parent_path();
  const fs::path parent = target.parent_path();
  const std::string name = target.filename().string();
  CEMBED_CHECK(!name.empty() && name != "." && name != ".." && parent != target, "{}: {} cannot be an output folder",
               what, folder);
  shown_ = folder;
  while (shown_.size() > 1 && shown_.back() == '/') shown_.pop_back();
  target_ = target.string();
  fs::create_directories(parent, ec);
  CEMBED_CHECK(!ec, "{}: cannot create {}: {}", what, parent.string(), ec.message());

  lock_path_ = (parent / ("." + name + ".lock")).string();
  lock_fd_ = ::open(lock_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  CEMBED_CHECK(lock_fd_ >= 0, "{}: cannot write in {}: {}", what, parent.string(), std::strerror(errno));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(lock_fd_);
    lock_fd_ = -1;
    if (err == EWOULDBLOCK)
      fail("{}: another process is writing {} (it holds {}); wait for it or choose another folder", what, folder,
           lock_path_);
    fail("{}: cannot lock {}: {}", what, lock_path_, std::strerror(err));
  }
  try {
    // Under the lock, any staging folder of this name is a dead writer's. One that ends in
    // ".old" is the previous folder, moved aside by a writer that died between the two
    // renames of the fallback commit: it is put back when no folder took its place.
    const std::string stale = "." + name + ".staging.";
    for (const auto& e : fs::directory_iterator(parent)) {
      const std::string file = e.path().filename().string();
      if (!file.starts_with(stale)) continue;
      if (file.ends_with(".old") && !fs::exists(target)) {
        fs::rename(e.path(), target);
      } else {
        fs::remove_all(e.path());
      }
    }
    if (fs::exists(target)) {
      CEMBED_CHECK(fs::is_directory(target), "{}: {} exists and is not a folder", what, folder);
      struct stat in_target {
      }, in_parent{};
      CEMBED_CHECK(::stat(target.c_str(), &in_target) == 0 && ::stat(parent.c_str(), &in_parent) == 0 &&
                       in_target.st_dev == in_parent.st_dev,
                   "{}: {} is a mount point and cannot be replaced; give a folder inside it", what, folder);
      for (const auto& e : fs::directory_iterator(target)) {
        const std::string file = e.path().filename().string();
        CEMBED_CHECK(e.is_regular_file() && replaceable(file),
                     "{}: {} holds {}, which {} does not write; the whole folder is replaced, so give a new folder, "
                     "an empty one or one that {} wrote",
                     what, folder, file, what, what);
      }
    }
    staging_ = (parent / (stale + std::to_string(::getpid()))).string();
    fs::create_directory(staging_);
    if (fs::exists(target)) fs::permissions(staging_, fs::status(target).permissions());  // as the folder it replaces
  } catch (const fs::filesystem_error& e) {
    ::close(lock_fd_);
    lock_fd_ = -1;
    fail("{}: output folder {}: {}", what, folder, e.code().message());
  } catch (...) {
    ::close(lock_fd_);
    lock_fd_ = -1;
    throw;
  }
}

StagedFolder::~StagedFolder() {
  if (!committed_ && !staging_.empty()) {
    std::error_code ec;
    fs::remove_all(staging_, ec);
  }
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the lock
}

void StagedFolder::commit() {
  CEMBED_CHECK(!committed_, "{} committed twice", shown_);
  sync_tree(staging_);
  std::error_code ec;
  const bool replace = fs::exists(target_, ec);
  int err = 0;
  if (replace) {
    err = exchange_folders(staging_, target_);
    if (err == EINVAL || err == ENOSYS || err == EXDEV) {
      // No atomic exchange on this file system: move the old folder aside, then the new in.
      // A crash between the two renames leaves no <name>, and the old folder under the
      // staging name + ".old", which the next writer of <name> puts back.
      const std::string aside = staging_ + ".old";
      err = ::rename(target_.c_str(), aside.c_str()) == 0 ? 0 : errno;
      if (err == 0) {
        if (::rename(staging_.c_str(), target_.c_str()) != 0) {
          err = errno;
          ::rename(aside.c_str(), target_.c_str());
        } else {
          ::rename(aside.c_str(), staging_.c_str());
        }
      }
    }
  } else {
    err = ::rename(staging_.c_str(), target_.c_str()) == 0 ? 0 : errno;
  }
  CEMBED_CHECK(err == 0, "cannot move the new {} into place: {}", shown_, std::strerror(err));
  committed_ = true;
  sync_folder(fs::path(staging_).parent_path().string());
  fs::remove_all(staging_, ec);  // the replaced folder, if any
}

std::string StagedFolder::as_target(std::string message) const {
  if (staging_.empty()) return message;
  for (size_t at = message.find(staging_); at != std::string::npos; at = message.find(staging_, at + shown_.size())) {
    message.replace(at, staging_.size(), shown_);
  }
  return message;
}

}  // namespace cembed
