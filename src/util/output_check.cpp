#include "util/output_check.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "util/check.h"

namespace cembed {
namespace {

namespace fs = std::filesystem;

// Creates and removes a file in `dir`; fails naming `what` and `target` when it cannot.
void probe_folder(const fs::path& dir, std::string_view what, const std::string& target) {
  std::string probe = (dir / ".cembed-write-probe-XXXXXX").string();
  const int fd = ::mkstemp(probe.data());
  if (fd < 0) {
    fail("{} {}: cannot write into the folder {}: {}", what, target, dir.string(), std::strerror(errno));
  }
  ::close(fd);
  ::unlink(probe.c_str());
}

}  // namespace

void check_file_writable(const std::string& path, std::string_view what) {
  if (path.empty()) return;
  std::error_code ec;
  CEMBED_CHECK(!fs::is_directory(path, ec), "{} {}: is a folder, expected a file name", what, path);
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  CEMBED_CHECK(fs::exists(dir, ec), "{} {}: the folder {} does not exist", what, path, dir.string());
  CEMBED_CHECK(fs::is_directory(dir, ec), "{} {}: {} is not a folder", what, path, dir.string());
  probe_folder(dir, what, path);
}

void check_dir_writable(const std::string& dir, std::string_view what) {
  if (dir.empty()) return;
  std::error_code ec;
  fs::path p = fs::path(dir);
  if (fs::exists(p, ec)) {
    CEMBED_CHECK(fs::is_directory(p, ec), "{} {}: exists and is not a folder", what, dir);
    probe_folder(p, what, dir);
    return;
  }
  // The nearest existing ancestor gets the new folders.
  fs::path up = fs::absolute(p, ec).parent_path();
  while (!up.empty() && !fs::exists(up, ec) && up != up.parent_path()) up = up.parent_path();
  CEMBED_CHECK(fs::is_directory(up, ec), "{} {}: {} is not a folder", what, dir, up.string());
  probe_folder(up, what, dir);
}

}  // namespace cembed
