// cembed prepare on inputs as they come: pipes and FIFOs (each input opened and read once),
// endless lines, byte order marks, NUL bytes, directories, and what is not a regular file
// where a dataset is expected.
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "cembed/dataset.h"
#include "cembed/prepare.h"
#include "data/formats/line_blocks.h"
#include "prepare_test_files.h"
#include "util/check.h"

namespace cembed {
namespace {

namespace fs = std::filesystem;
using testing::FifoInput;
using testing::PipeInput;

std::string dir() {
  static const std::string d = testing::test_dir("cembed_prepare_input");
  return d;
}
std::string write_text(const std::string& name, const std::string& text) {
  return testing::write_file(dir(), name, text);
}

// Criteo lines with varied values: `rows` of them make about 150 * rows bytes.
std::string criteo_text(int rows, int first = 0) {
  std::string s;
  for (int r = first; r < first + rows; ++r) {
    s += std::to_string(r % 3 == 0);
    for (int i = 0; i < 13; ++i) s += "\t" + std::to_string((r * (i + 1)) % 97);
    for (int i = 0; i < 26; ++i) {
      char hex[16];
      std::snprintf(hex, sizeof hex, "\t%08x", (r * 7919 + i * 31) % (50 + i * 20));
      s += hex;
    }
    s += "\n";
  }
  return s;
}

std::string gzip_bytes(const std::string& text) {
  const std::string path = dir() + "/tmp.gz";
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, text.data(), static_cast<unsigned>(text.size()));
  gzclose(f);
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::string zstd_bytes(const std::string& text) {
  std::string packed(ZSTD_compressBound(text.size()), '\0');
  packed.resize(ZSTD_compress(packed.data(), packed.size(), text.data(), text.size(), 3));
  return packed;
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

PrepareConfig config(TextFormat format, const std::string& train, const std::string& out) {
  PrepareConfig c;
  c.format = format;
  c.train_files = {train};
  c.out_dir = dir() + "/" + out;
  return c;
}

// The same rows and vocabulary as from the regular file (the statistics name other paths).
void expect_same_dataset(const std::string& a, const std::string& b) {
  const Dataset x = Dataset::open(a + "/train.cds"), y = Dataset::open(b + "/train.cds");
  ASSERT_EQ(x.rows(), y.rows());
  for (int64_t r = 0; r < x.rows(); ++r) {
    ASSERT_EQ(x.label(r), y.label(r)) << r;
    for (int f = 0; f < x.schema().num_sparse(); ++f) {
      const auto u = x.bag(f, r), v = y.bag(f, r);
      ASSERT_TRUE(std::equal(u.begin(), u.end(), v.begin(), v.end())) << "row " << r << " feature " << f;
    }
  }
  EXPECT_EQ(file_bytes(a + "/vocabulary.bin"), file_bytes(b + "/vocabulary.bin"));
}

TEST(PrepareInput, PipesGiveTheDatasetOfTheFile) {
  const std::string text = criteo_text(12000);  // about 1.7 MB: more than one read buffer
  ASSERT_GT(text.size(), size_t{1} << 20);
  const auto base = prepare_dataset(config(TextFormat::Criteo, write_text("pipe.txt", text), "pipe_file"));
  ASSERT_EQ(base["train"]["rows"], 12000);
  const std::pair<const char*, std::string> inputs[] = {
      {"plain", text}, {"gzip", gzip_bytes(text)}, {"zstd", zstd_bytes(text)}};
  for (const auto& [name, bytes] : inputs) {
    PipeInput pipe(bytes);
    PrepareConfig c = config(TextFormat::Criteo, pipe.path(), std::string("pipe_") + name);
    c.skip_bad_lines = true;  // nothing may be lost silently either
    const auto stats = prepare_dataset(c);
    EXPECT_EQ(stats["train"]["rows"], 12000) << name;
    EXPECT_EQ(stats["train"]["bad_lines"], 0) << name;
    EXPECT_EQ(stats["features"], base["features"]) << name;
    expect_same_dataset(dir() + "/pipe_file", c.out_dir);
  }
  // A test file through a pipe too; libFM's field count read from the pipe's first line.
  PipeInput test_pipe(criteo_text(500, 7));
  PrepareConfig c = config(TextFormat::Criteo, write_text("pipe2.txt", text), "pipe_test");
  c.test_files = {test_pipe.path()};
  EXPECT_EQ(prepare_dataset(c)["test"]["rows"], 500);
  std::string libfm;
  for (int r = 0; r < 30000; ++r)
    libfm += std::to_string(r % 2) + " " + std::to_string(r % 50) + ":1 " + std::to_string(100 + r % 7) + ":1\n";
  PipeInput libfm_pipe(libfm);
  const auto ls = prepare_dataset(config(TextFormat::Libfm, libfm_pipe.path(), "pipe_libfm"));
  EXPECT_EQ(ls["train"]["rows"], 30000);
  EXPECT_EQ(ls["features"].size(), 2u);
}

TEST(PrepareInput, FifoIsOpenedOnceAndReadWhole) {
  const std::string text = criteo_text(9000);
  const auto base = prepare_dataset(config(TextFormat::Criteo, write_text("fifo.txt", text), "fifo_file"));
  for (const bool gz : {false, true}) {
    FifoInput fifo(dir() + "/input.fifo", gz ? gzip_bytes(text) : text);
    const auto stats = prepare_dataset(config(TextFormat::Criteo, fifo.path(), "fifo_out"));
    EXPECT_EQ(stats["train"]["rows"], 9000);
    EXPECT_EQ(stats["features"], base["features"]);
  }
}

TEST(PrepareInput, SchemaMainAndSideFilesThroughPipes) {
  std::string items = "item,genre\n", inter = "user,item,click\n";
  for (int i = 0; i < 400; ++i) items += "i" + std::to_string(i) + ",g" + std::to_string(i % 7) + "\n";
  for (int r = 0; r < 60000; ++r) {  // more than a megabyte
    inter += "user_" + std::to_string(r % 113) + ",i" + std::to_string(r % 401) + "," + std::to_string(r % 2) + "\n";
  }
  const std::string items_path = write_text("pipe_items.csv", items);
  auto schema_text = [](const std::string& side) {
    return "label = \"click\"\ncategorical = [\"user\", \"item\"]\n[[side]]\nfile = \"" + side +
           "\"\nkey = \"item\"\ncategorical = [\"genre\"]\n";
  };
  PrepareConfig file_run;
  file_run.format = TextFormat::Csv;
  file_run.schema_path = write_text("pipe_schema.toml", schema_text(items_path));
  file_run.train_files = {write_text("pipe_inter.csv", inter)};
  file_run.out_dir = dir() + "/schema_file";
  const auto base = prepare_dataset(file_run);
  ASSERT_EQ(base["train"]["rows"], 60000);

  FifoInput side(dir() + "/items.fifo", items);
  PipeInput schema(schema_text(side.path())), main(inter);
  PrepareConfig c = file_run;
  c.schema_path = schema.path();
  c.train_files = {main.path()};
  c.out_dir = dir() + "/schema_pipes";
  const auto stats = prepare_dataset(c);
  EXPECT_EQ(stats["train"]["rows"], 60000);
  EXPECT_EQ(stats["train"]["bad_lines"], 0);
  EXPECT_EQ(stats["rows_without_side_row"], base["rows_without_side_row"]);
  EXPECT_EQ(stats["features"], base["features"]);
}

TEST(PrepareInput, EndlessLineStopsAtTheLimit) {
  // An endless line (as /dev/zero): the error comes at the limit, without reading on.
  PipeInput zeros(std::string(1 << 20, '\0'), 256);
  PrepareConfig c = config(TextFormat::Criteo, zeros.path(), "endless");
  c.max_line_bytes = 1000;
  EXPECT_NE(testing::prepare_error(c).find(":1: line longer than 1000 bytes"), std::string::npos)
      << testing::prepare_error(c);
  EXPECT_LT(zeros.written(), int64_t{16} << 20);  // of the 256 MB offered
  // Skipped: the rest of the long line is read past, and the next lines are rows.
  PipeInput long_line(criteo_text(1) + std::string(5 << 20, 'x') + "\n" + criteo_text(2, 1));
  PrepareConfig skip = config(TextFormat::Criteo, long_line.path(), "endless_skip");
  skip.max_line_bytes = 1000;
  skip.skip_bad_lines = true;
  const auto stats = prepare_dataset(skip);
  EXPECT_EQ(stats["train"]["rows"], 3);
  EXPECT_EQ(stats["train"]["bad_lines"], 1);
  EXPECT_NE(stats["train"]["bad_line_examples"][0].get<std::string>().find(":2: line longer than 1000 bytes"),
            std::string::npos);
}

TEST(PrepareInput, ByteOrderMarkIsDropped) {
  const std::string text = criteo_text(50);
  const auto plain = prepare_dataset(config(TextFormat::Criteo, write_text("nobom.txt", text), "nobom"));
  const auto bom = prepare_dataset(config(TextFormat::Criteo, write_text("bom.txt", "\xEF\xBB\xBF" + text), "bom"));
  EXPECT_EQ(bom["train"]["rows"], 50);
  EXPECT_EQ(bom["features"], plain["features"]);
  // Only at the start of the file.
  const std::string later = write_text("bom2.txt", text + "\xEF\xBB\xBF" + criteo_text(1));
  EXPECT_NE(testing::prepare_error(config(TextFormat::Criteo, later, "bom2")).find(later + ":51: field 1 (label)"),
            std::string::npos);
}

TEST(PrepareInput, NulByteIsPrintedEscaped) {
  std::string line = criteo_text(1);
  const size_t from = line.find('\t') + 1;
  line.replace(from, line.find('\t', from) - from, std::string("1\0x", 3));  // the first integer
  const std::string path = write_text("nul.txt", criteo_text(2) + line);
  const std::string e = testing::prepare_error(config(TextFormat::Criteo, path, "nul"));
  EXPECT_EQ(std::strlen(e.c_str()), e.size()) << "a NUL byte in the message";
  EXPECT_NE(e.find(path + ":3: field 2 (I1): not an integer: '1\\0x'"), std::string::npos) << e;
  EXPECT_NE(e.find("--skip-bad-lines"), std::string::npos) << e;  // the message goes on after the value
}

TEST(PrepareInput, DirectoriesAndNonRegularDatasetsAreNamed) {
  const std::string folder = dir() + "/a_folder";
  fs::create_directories(folder);
  EXPECT_NE(testing::prepare_error(config(TextFormat::Criteo, folder, "dir")).find(folder + ": is a directory"),
            std::string::npos);
  PrepareConfig test_dir = config(TextFormat::Criteo, write_text("ok.txt", criteo_text(10)), "dir2");
  test_dir.test_files = {folder};
  EXPECT_NE(testing::prepare_error(test_dir).find(folder + ": is a directory"), std::string::npos)
      << testing::prepare_error(test_dir);
  PrepareConfig vocab = test_dir;
  vocab.test_files.clear();
  vocab.vocabulary_path = folder;
  EXPECT_NE(testing::prepare_error(vocab).find(folder + ": is a directory"), std::string::npos)
      << testing::prepare_error(vocab);
  PrepareConfig schema;
  schema.format = TextFormat::Csv;
  schema.schema_path = folder;
  schema.train_files = {write_text("ok.csv", "item,click\ni1,1\n")};
  schema.out_dir = dir() + "/dir3";
  EXPECT_NE(testing::prepare_error(schema).find(folder + ": is a directory"), std::string::npos)
      << testing::prepare_error(schema);
  // A dataset is mapped: a directory, a FIFO or a device is refused at once, by name.
  auto open_error = [](const std::string& path) {
    try {
      Dataset::open(path);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(open_error(folder).find("is a directory"), std::string::npos) << open_error(folder);
  EXPECT_NE(open_error("/dev/zero").find("/dev/zero: not a regular file"), std::string::npos)
      << open_error("/dev/zero");
  FifoInput fifo(dir() + "/data.cds", "CEMBDATA");
  EXPECT_NE(open_error(fifo.path()).find("not a regular file"), std::string::npos) << open_error(fifo.path());
}

TEST(PrepareInput, GzipMembersBackToBackAndTrailingGarbage) {
  const std::string a = criteo_text(100), b = criteo_text(50, 100);
  const std::string joined = write_text("two.gz", gzip_bytes(a) + gzip_bytes(b));
  EXPECT_EQ(prepare_dataset(config(TextFormat::Criteo, joined, "two_gz"))["train"]["rows"], 150);
  const std::string garbage = write_text("garbage.gz", gzip_bytes(a) + "not gzip");
  EXPECT_NE(testing::prepare_error(config(TextFormat::Criteo, garbage, "garbage_gz"))
                .find(garbage + ": truncated or corrupt gzip stream"),
            std::string::npos);
}

// LineBlocks on its own: blocks of at most kLineBlock lines, each within one file and in
// order, line numbers per file; an over-long line skipped (reported with its block) or,
// without skipping, ending the lines with its error after the block of the lines before it.
TEST(PrepareInput, LineBlocksSplitAtFilesAndAtTheBlockSize) {
  std::string big;
  for (size_t i = 0; i < kLineBlock + 5; ++i) big += std::to_string(i) + "\n";
  const std::vector<std::string> files = {write_text("blocks_a.txt", big), write_text("blocks_b.txt", "x\ny\n")};
  struct Seen {
    std::string path;
    size_t lines;
    int64_t first_number;
    std::string first_line;
  };
  std::vector<Seen> seen;
  LineBlocks blocks(files, 1 << 10, false, nullptr);
  while (const LineBlock* b = blocks.next()) {
    ASSERT_EQ(b->starts.size(), b->numbers.size() + 1);
    EXPECT_TRUE(b->error.empty()) << b->error;
    const std::string first = b->numbers.empty() ? "" : b->text.substr(b->starts[0], b->starts[1] - b->starts[0]);
    seen.push_back({*b->path, b->numbers.size(), b->numbers.empty() ? 0 : b->numbers[0], first});
  }
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].path, files[0]);
  EXPECT_EQ(seen[0].lines, kLineBlock);
  EXPECT_EQ(seen[0].first_line, "0");
  EXPECT_EQ(seen[1].path, files[0]);
  EXPECT_EQ(seen[1].lines, 5u);
  EXPECT_EQ(seen[1].first_number, static_cast<int64_t>(kLineBlock) + 1);
  EXPECT_EQ(seen[1].first_line, std::to_string(kLineBlock));
  EXPECT_EQ(seen[2].path, files[1]);
  EXPECT_EQ(seen[2].lines, 2u);
  EXPECT_EQ(seen[2].first_number, 1);
  EXPECT_EQ(seen[2].first_line, "x");

  const std::string long_line = write_text("blocks_long.txt", "a\n" + std::string(100, 'z') + "\nb\n");
  const std::vector<std::string> one = {long_line};
  {
    LineBlocks skipping(one, 50, true, nullptr);
    const LineBlock* b = skipping.next();
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->numbers, (std::vector<int64_t>{1, 3}));
    ASSERT_EQ(b->skipped.size(), 1u);
    EXPECT_NE(b->skipped[0].find(long_line), std::string::npos) << b->skipped[0];
    EXPECT_TRUE(b->last);
    EXPECT_EQ(skipping.next(), nullptr);
  }
  LineBlocks stopping(one, 50, false, nullptr);
  const LineBlock* b = stopping.next();
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->numbers, (std::vector<int64_t>{1}));
  EXPECT_NE(b->error.find(long_line), std::string::npos) << b->error;
  EXPECT_TRUE(b->last);
  EXPECT_EQ(stopping.next(), nullptr);
  // A file that cannot be opened: one empty last block with the error.
  const std::vector<std::string> missing = {dir() + "/no_such_file.txt"};
  LineBlocks none(missing, 50, false, nullptr);
  b = none.next();
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(b->numbers.empty());
  EXPECT_NE(b->error.find("no_such_file.txt"), std::string::npos) << b->error;
  EXPECT_EQ(none.next(), nullptr);
}

}  // namespace
}  // namespace cembed
