#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cembed/dataset.h"
#include "cembed/errors.h"
#include "test_helpers.h"

namespace cembed {
namespace {

namespace fs = std::filesystem;

std::string temp_path(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("cembed_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return (dir / name).string();
}

DatasetSchema small_schema() {
  DatasetSchema s;
  s.dense_names = {"d0", "d1"};
  s.sparse = {{"one", 10}, {"multi", 100}};
  s.multi_hot = {false, true};
  return s;
}

std::string write_small(const std::string& name, int rows) {
  const std::string path = temp_path(name);
  DatasetWriter w(path, small_schema());
  Rng rng(1);
  for (int r = 0; r < rows; ++r) {
    const float dense[2] = {static_cast<float>(r), -static_cast<float>(r)};
    const Id one = static_cast<Id>(r % 10);
    std::vector<Id> multi;
    for (int k = 0; k < r % 4; ++k) multi.push_back(static_cast<Id>((r * 7 + k) % 100));
    const std::span<const Id> bags[2] = {{&one, 1}, multi};
    w.add_row(static_cast<float>(r % 2), dense, bags);
  }
  w.set_metadata({{"hello", "world"}});
  w.finish();
  return path;
}

void expect_error(const std::string& path, const std::string& fragment) {
  try {
    Dataset::open(path);
    FAIL() << "no error for " << path;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << "error must name the file: " << e.what();
  }
}

TEST(Dataset, RoundTrip) {
  const std::string path = write_small("rt.cds", 50);
  const Dataset d = Dataset::open(path);
  ASSERT_EQ(d.rows(), 50);
  EXPECT_EQ(d.metadata()["hello"], "world");
  for (int r = 0; r < 50; ++r) {
    EXPECT_EQ(d.label(r), static_cast<float>(r % 2));
    EXPECT_EQ(d.dense_row(r)[1], -static_cast<float>(r));
    ASSERT_EQ(d.bag(0, r).size(), 1u);
    EXPECT_EQ(d.bag(0, r)[0], static_cast<Id>(r % 10));
    ASSERT_EQ(d.bag(1, r).size(), static_cast<size_t>(r % 4));
    for (int k = 0; k < r % 4; ++k) EXPECT_EQ(d.bag(1, r)[k], static_cast<Id>((r * 7 + k) % 100));
  }
  Batch b;
  const std::vector<int64_t> rows = {3, 0, 7};
  gather_batch(d, rows, b);
  EXPECT_EQ(b.offsets[1], (std::vector<uint32_t>{0, 3, 3, 6}));
  EXPECT_EQ(b.labels, (std::vector<float>{1, 0, 1}));
}

TEST(Dataset, TruncatedAlteredAndForeignFilesAreRefused) {
  const std::string path = write_small("bad.cds", 40);
  const auto size = fs::file_size(path);
  const std::string trunc = temp_path("trunc.cds");
  fs::copy_file(path, trunc, fs::copy_options::overwrite_existing);
  fs::resize_file(trunc, size - 100);
  expect_error(trunc, "truncated");

  const std::string altered = temp_path("altered.cds");
  fs::copy_file(path, altered, fs::copy_options::overwrite_existing);
  {
    std::fstream f(altered, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size - 40));
    f.put('\x7f');
  }
  expect_error(altered, "checksum mismatch");

  const std::string foreign = temp_path("foreign.cds");
  std::ofstream(foreign) << "label,a,b\n1,2,3\n4,5,6\n7,8,9\n10,11,12\n";
  expect_error(foreign, "not a cembed dataset");

  const std::string version = temp_path("version.cds");
  fs::copy_file(path, version, fs::copy_options::overwrite_existing);
  {
    std::fstream f(version, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(8);
    const uint32_t v = 99;
    f.write(reinterpret_cast<const char*>(&v), 4);
  }
  expect_error(version, "version 99");
}

TEST(Dataset, WriterRejectsOutOfRangeIds) {
  DatasetWriter w(temp_path("range.cds"), small_schema());
  const float dense[2] = {0, 0};
  const Id one = 10;  // cardinality 10
  const std::span<const Id> bags[2] = {{&one, 1}, {}};
  EXPECT_THROW(w.add_row(0, dense, bags), Error);
  const float nan_dense[2] = {0, std::numeric_limits<float>::quiet_NaN()};
  const Id ok = 3;
  const std::span<const Id> ok_bags[2] = {{&ok, 1}, {}};
  EXPECT_THROW(w.add_row(0, nan_dense, ok_bags), Error);
  EXPECT_THROW(w.add_row(std::numeric_limits<float>::infinity(), dense, ok_bags), Error);
}

}  // namespace
}  // namespace cembed
