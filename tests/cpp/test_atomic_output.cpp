// Atomic files and atomic prepared folders: a failed or refused write keeps the previous
// good file or folder, names the file, and leaves no temporary file behind. A full disk is
// simulated by a file size limit (RLIMIT_FSIZE, with SIGXFSZ ignored so that writes past it
// fail with EFBIG), set for this process only while a write runs.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "cembed/dataset.h"
#include "cembed/prepare.h"
#include "cembed/synthetic.h"
#include "test_helpers.h"
#include "util/atomic_file.h"
#include "util/check.h"
#include "util/file_format.h"
#include "util/output_dir.h"

namespace cembed {
namespace {

namespace fs = std::filesystem;

std::string dir() {
  static const std::string d = [] {
    const auto p = fs::temp_directory_path() / ("cembed_atomic_" + std::to_string(::getpid()));
    fs::remove_all(p);
    fs::create_directories(p);
    return p.string();
  }();
  return d;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every file under `folder` (recursively), name -> bytes.
std::map<std::string, std::string> snapshot(const std::string& folder) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(folder)) {
    if (e.is_regular_file()) out[fs::relative(e.path(), folder).string()] = read_all(e.path().string());
  }
  return out;
}

// Names in `folder` (not recursive) that hold `part`.
std::vector<std::string> names_with(const std::string& folder, const std::string& part) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(folder)) {
    const std::string name = e.path().filename().string();
    if (name.find(part) != std::string::npos) out.push_back(name);
  }
  return out;
}

// Files of this process may grow to `bytes` while it lives; SIGXFSZ is ignored, so a write
// past the limit fails with EFBIG as on a full disk.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &saved_);
    old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit r = saved_;
    r.rlim_cur = bytes;
    EXPECT_EQ(::setrlimit(RLIMIT_FSIZE, &r), 0);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    std::signal(SIGXFSZ, old_handler_);
  }

 private:
  rlimit saved_{};
  void (*old_handler_)(int) = nullptr;
};

TEST(AtomicFile, CommitReplacesAndAnAbandonedFileLeavesNothing) {
  const std::string path = dir() + "/plain.txt";
  write_file_atomically(path, "old\n");
  {
    AtomicFile f(path);
    f.write("new, never committed\n");
    EXPECT_TRUE(fs::exists(f.temp_path()));
  }  // destroyed as by an exception
  EXPECT_EQ(read_all(path), "old\n");
  EXPECT_TRUE(names_with(dir(), "plain.txt.tmp").empty());
  write_file_atomically(path, "new\n");
  EXPECT_EQ(read_all(path), "new\n");
  EXPECT_TRUE(names_with(dir(), "plain.txt.tmp").empty());
}

TEST(AtomicFile, FullDiskKeepsThePreviousFileAndNamesIt) {
  const std::string path = dir() + "/model.ckpt";
  const std::string good(10000, 'g');
  write_framed_file(path, "CEMBTEST", 1, good);
  const std::string before = read_all(path);
  std::string err;
  {
    FileSizeLimit limit(4096);
    err = testing::error_of([&] { write_framed_file(path, "CEMBTEST", 1, std::string(20000, 'n')); });
  }
  EXPECT_NE(err.find("cannot write " + path + ": " + std::strerror(EFBIG)), std::string::npos) << err;
  EXPECT_EQ(read_all(path), before);
  EXPECT_EQ(read_framed_file(path, "CEMBTEST", 1), good);
  EXPECT_TRUE(names_with(dir(), "model.ckpt.tmp").empty());
}

TEST(AtomicFile, FullDiskWhileADatasetIsWrittenKeepsThePreviousDataset) {
  const std::string out = dir() + "/synth";
  SyntheticConfig c;
  c.train_rows = 2000;
  c.test_rows = 500;
  c.scale = 0.0005;
  write_synthetic(c, out, 1);
  const auto before = snapshot(out);
  const auto train_bytes = fs::file_size(out + "/train.cds");
  c.seed = 7;  // other rows
  std::string err;
  {
    // The column spills fit, the assembled file does not.
    FileSizeLimit limit(train_bytes / 2);
    err = testing::error_of([&] { write_synthetic(c, out, 1); });
  }
  EXPECT_NE(err.find("cannot write " + out + "/train.cds: " + std::strerror(EFBIG)), std::string::npos) << err;
  EXPECT_EQ(snapshot(out), before);
  EXPECT_TRUE(names_with(out, ".tmp").empty());
}

TEST(AtomicFile, SyntheticCriteoTextLeavesNoTemporaryOnFailure) {
  const std::string out = dir() + "/synth_text";
  SyntheticConfig c;
  c.train_rows = 3000;
  c.test_rows = 500;
  c.scale = 0.0005;
  c.format = "criteo";
  std::string err;
  {
    FileSizeLimit limit(64 * 1024);
    err = testing::error_of([&] { write_synthetic(c, out, 1); });
  }
  EXPECT_NE(err.find("cannot write " + out + "/train.txt: " + std::strerror(EFBIG)), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(out + "/train.txt"));
  EXPECT_TRUE(names_with(out, ".tmp").empty());
}

// Criteo text lines with `n` rows; `tag` changes every categorical value.
std::string criteo_text(int n, const std::string& tag) {
  std::string s;
  for (int r = 0; r < n; ++r) {
    s += std::to_string(r % 3 == 0);
    for (int i = 0; i < 13; ++i) s += "\t" + std::to_string((r + i) % 7);
    for (int f = 0; f < 26; ++f) s += "\t" + tag + std::to_string((r * (f + 1)) % 11);
    s += "\n";
  }
  return s;
}

PrepareConfig prepare_config(const std::string& name, int rows, const std::string& tag) {
  PrepareConfig c;
  c.train_files = {dir() + "/" + name + "_" + tag + ".txt"};
  write_file_atomically(c.train_files[0], criteo_text(rows, tag));
  c.split = "ratio";
  c.test_fraction = 0.2;
  c.valid_fraction = 0.1;
  c.out_dir = dir() + "/" + name;
  return c;
}

TEST(PreparedFolder, ReplacedWholeOnSuccessKeptWholeOnFailure) {
  PrepareConfig first = prepare_config("prep", 400, "a");
  prepare_dataset(first);
  const auto a = snapshot(first.out_dir);
  ASSERT_TRUE(a.contains("valid.cds") && a.contains("vocabulary.bin") && a.contains("prepare.json"));

  // A failing prepare (a bad line near the end) leaves the folder as it was.
  PrepareConfig bad = prepare_config("prep", 400, "b");
  write_file_atomically(bad.train_files[0], criteo_text(400, "b") + "oops\n");
  EXPECT_NE(testing::error_of([&] { prepare_dataset(bad); }).find(":401:"), std::string::npos);
  EXPECT_EQ(snapshot(first.out_dir), a);
  EXPECT_TRUE(names_with(dir(), ".prep.staging").empty());

  // A full disk too, and the error names the folder given, not the staging folder.
  PrepareConfig other = prepare_config("prep", 400, "c");
  other.split = "files";  // no valid.cds: a whole replacement must remove the old one
  std::string err;
  {
    FileSizeLimit limit(fs::file_size(first.out_dir + "/train.cds") / 2);
    err = testing::error_of([&] { prepare_dataset(other); });
  }
  EXPECT_NE(err.find(first.out_dir + "/train.cds"), std::string::npos) << err;
  EXPECT_EQ(err.find("staging"), std::string::npos) << err;
  EXPECT_EQ(snapshot(first.out_dir), a);
  EXPECT_TRUE(names_with(dir(), ".prep.staging").empty());

  // Success replaces the whole folder: nothing of the first run is left.
  prepare_dataset(other);
  const auto c = snapshot(first.out_dir);
  EXPECT_FALSE(c.contains("valid.cds"));
  EXPECT_FALSE(c.contains("test.cds"));
  EXPECT_NE(c.at("train.cds"), a.at("train.cds"));
  EXPECT_TRUE(names_with(dir(), ".prep.staging").empty());
  // The same input gives the same bytes, staged or not.
  PrepareConfig direct = other;
  direct.out_dir = dir() + "/prep_direct";
  write_prepared_files(direct);
  EXPECT_EQ(snapshot(direct.out_dir), c);
}

TEST(PreparedFolder, ASecondWriterIsRefusedAtOnce) {
  PrepareConfig c = prepare_config("locked", 50, "a");
  prepare_dataset(c);
  const auto before = snapshot(c.out_dir);
  // As if another process were preparing into the same folder (a flock is per open file).
  StagedFolder other(
      c.out_dir, [](const std::string&) { return true; }, "prepare");
  const std::string err = testing::error_of([&] { prepare_dataset(c); });
  EXPECT_NE(err.find("another process is writing " + c.out_dir), std::string::npos) << err;
  EXPECT_EQ(snapshot(c.out_dir), before);
}

TEST(PreparedFolder, AFolderWithOtherFilesIsNeverReplaced) {
  PrepareConfig c = prepare_config("mixed", 50, "a");
  fs::create_directories(c.out_dir);
  write_file_atomically(c.out_dir + "/notes.txt", "mine\n");
  const std::string err = testing::error_of([&] { prepare_dataset(c); });
  EXPECT_NE(err.find("holds notes.txt"), std::string::npos) << err;
  EXPECT_EQ(read_all(c.out_dir + "/notes.txt"), "mine\n");
  EXPECT_FALSE(fs::exists(c.out_dir + "/train.cds"));
  // Only the names prepare writes count as its own: a user's model.bin is not.
  fs::remove(c.out_dir + "/notes.txt");
  write_file_atomically(c.out_dir + "/model.bin", "mine\n");
  EXPECT_NE(testing::error_of([&] { prepare_dataset(c); }).find("holds model.bin"), std::string::npos);
  EXPECT_EQ(read_all(c.out_dir + "/model.bin"), "mine\n");
}

// A writer killed between the two renames of the fallback commit left the previous folder
// aside as <staging>.old and no folder under its name: the next writer puts it back before
// anything else, and then replaces it whole as usual.
TEST(PreparedFolder, AFolderMovedAsideByAKilledWriterIsPutBack) {
  PrepareConfig c = prepare_config("aside", 50, "a");
  prepare_dataset(c);
  const std::string before = read_all(c.out_dir + "/train.cds");
  const std::string aside = dir() + "/.aside.staging.999999.old";
  fs::rename(c.out_dir, aside);
  PrepareConfig bad = c;
  bad.train_files = {"/nonexistent/input.txt"};
  EXPECT_FALSE(testing::error_of([&] { prepare_dataset(bad); }).empty());
  EXPECT_FALSE(fs::exists(aside));
  EXPECT_EQ(read_all(c.out_dir + "/train.cds"), before);
}

TEST(PreparedFolder, AKilledWritersStagingFolderIsCleanedUp) {
  PrepareConfig c = prepare_config("killed", 50, "a");
  const std::string stale = dir() + "/.killed.staging.999999";
  fs::create_directories(stale);
  write_file_atomically(stale + "/train.cds", "half");
  prepare_dataset(c);
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_NO_THROW(Dataset::open(c.out_dir + "/train.cds"));
}

}  // namespace
}  // namespace cembed
