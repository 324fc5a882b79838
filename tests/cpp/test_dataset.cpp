#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "cembed/dataset.h"
#include "data/dataset_writer.h"
#include "test_helpers.h"
#include "util/check.h"

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

// 1 / sum p^2 of each feature's id frequencies, counted here from write_small's formulas.
TEST(Dataset, MeasuresEffectiveValues) {
  const Dataset d = Dataset::open(write_small("freq.cds", 50));
  std::map<Id, double> one, multi;
  for (int r = 0; r < 50; ++r) {
    one[static_cast<Id>(r % 10)] += 1;
    for (int k = 0; k < r % 4; ++k) multi[static_cast<Id>((r * 7 + k) % 100)] += 1;
  }
  auto effective = [](const std::map<Id, double>& counts) {
    double total = 0, sq = 0;
    for (const auto& [id, c] : counts) {
      total += c;
      sq += c * c;
    }
    return total * total / sq;
  };
  const std::vector<FeatureInfo> f = measure_value_frequencies(d);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_DOUBLE_EQ(f[0].effective_values, 10.0);  // ten ids, five rows each
  EXPECT_DOUBLE_EQ(effective(one), 10.0);
  EXPECT_DOUBLE_EQ(f[1].effective_values, effective(multi));
  EXPECT_EQ(f[1].cardinality, 100);
  EXPECT_EQ(f[1].name, "multi");
  // Label information: sum_v n_v/N KL(shrunk ctr_v || ctr), labels r % 2 (write_small).
  std::map<Id, double> pos;
  double n = 0, clicks = 0;
  for (int r = 0; r < 50; ++r) {
    pos[static_cast<Id>(r % 10)] += r % 2;
    n += 1;
    clicks += r % 2;
  }
  const double ctr = clicks / n;
  double info = 0;
  for (const auto& [id, c] : one) {
    const double p = (pos[id] + 20 * ctr) / (c + 20);
    info += c / n * (p * std::log(p / ctr) + (1 - p) * std::log((1 - p) / (1 - ctr)));
  }
  EXPECT_NEAR(f[0].label_information, info, 1e-12);
  EXPECT_GT(f[0].label_information, 0.0);  // even ids always click, odd never
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

// gather_batch against the file read row by row: shuffled rows with repeats, batches shorter
// than the prefetch distance and long enough for the features' parallel pass (2 features x
// 9000 rows), each after the first gathered into a Batch that held a larger or a different
// batch before.
TEST(Dataset, GatherBatchMatchesTheRowsOfTheFile) {
  const Dataset d = Dataset::open(write_small("gather.cds", 3000));
  Rng rng(7);
  Batch b;
  for (const int64_t size : {9000, 5, 1, 9000, 40, 0}) {
    std::vector<int64_t> rows(size);
    for (auto& r : rows) r = static_cast<int64_t>(rng.next() % 3000);
    gather_batch(d, rows, b);
    ASSERT_EQ(b.size, size);
    ASSERT_EQ(b.labels.size(), rows.size());
    ASSERT_EQ(b.dense.size(), 2 * rows.size());
    ASSERT_EQ(b.ids.size(), 2u);
    for (int f = 0; f < 2; ++f) {
      ASSERT_EQ(b.offsets[f].size(), rows.size() + 1) << "feature " << f;
      ASSERT_EQ(b.offsets[f][0], 0u) << "feature " << f;
      ASSERT_EQ(b.ids[f].size(), b.offsets[f].back()) << "feature " << f;
    }
    for (int64_t i = 0; i < size; ++i) {
      const int64_t r = rows[i];
      ASSERT_EQ(b.labels[i], d.label(r)) << "batch of " << size << ", row " << i << " (file row " << r << ")";
      ASSERT_EQ(b.dense[2 * i], d.dense_row(r)[0]) << "row " << i;
      ASSERT_EQ(b.dense[2 * i + 1], d.dense_row(r)[1]) << "row " << i;
      for (int f = 0; f < 2; ++f) {
        const auto bag = d.bag(f, r);
        const uint32_t begin = b.offsets[f][i];
        ASSERT_EQ(b.offsets[f][i + 1] - begin, bag.size()) << "feature " << f << ", row " << i;
        for (size_t k = 0; k < bag.size(); ++k)
          ASSERT_EQ(b.ids[f][begin + k], bag[k]) << "feature " << f << ", row " << i << ", id " << k;
      }
    }
  }
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

DatasetSchema one_hot_schema(int64_t card_a, int64_t card_b) {
  DatasetSchema s;
  s.dense_names = {"d0"};
  s.sparse = {{"a", card_a}, {"b", card_b}};
  s.multi_hot = {false, false};
  return s;
}

std::vector<char> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Blocks write the same file as rows one at a time.
TEST(DatasetWriter, BlocksEqualRows) {
  const auto schema = one_hot_schema(50, 7);
  const std::string by_row = temp_path("rows.cds"), by_block = temp_path("blocks.cds");
  std::vector<float> labels, dense;
  std::vector<Id> a, b;
  for (int r = 0; r < 37; ++r) {
    labels.push_back(static_cast<float>(r % 3 == 0));
    dense.push_back(0.5f * static_cast<float>(r));
    a.push_back(static_cast<Id>(r * 13 % 50));
    b.push_back(static_cast<Id>(r % 7));
  }
  {
    DatasetWriter w(by_row, schema);
    for (int r = 0; r < 37; ++r) {
      const std::span<const Id> bags[2] = {{&a[r], 1}, {&b[r], 1}};
      w.add_row(labels[r], {&dense[r], 1}, bags);
    }
    w.finish();
  }
  {
    DatasetWriter w(by_block, schema);
    for (int start : {0, 10, 11, 30}) {
      const int end = start == 30 ? 37 : start == 0 ? 10 : start == 10 ? 11 : 30;
      const std::span<const Id> cols[2] = {{a.data() + start, static_cast<size_t>(end - start)},
                                           {b.data() + start, static_cast<size_t>(end - start)}};
      w.add_block({labels.data() + start, static_cast<size_t>(end - start)},
                  {dense.data() + start, static_cast<size_t>(end - start)}, cols);
    }
    w.finish();
  }
  EXPECT_EQ(file_bytes(by_row), file_bytes(by_block));
  // A bad id or a NaN in a block is refused, naming the row.
  DatasetWriter w(temp_path("bad_block.cds"), schema);
  const std::vector<Id> bad = {1, 50};
  const std::vector<float> two = {0, 1}, nan = {0, std::numeric_limits<float>::quiet_NaN()};
  const std::span<const Id> bad_cols[2] = {bad, {b.data(), 2}};
  const std::span<const Id> ok_cols[2] = {{a.data(), 2}, {b.data(), 2}};
  try {
    w.add_block(two, two, bad_cols);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("id 50 beyond cardinality 50 in row 1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(w.add_block(two, nan, ok_cols), Error);
}

// Provisional ids written once, then ranges of rows with ids remapped: every id, label and
// dense value where it belongs, the non-zero ids mapped to 0 counted, and measure() telling
// the same before writing.
TEST(DatasetWriter, RangesWithRemappedIds) {
  const int rows = 25;
  DatasetWriter w(temp_path("staged.cds"), one_hot_schema(int64_t{1} << 32, int64_t{1} << 32));
  std::vector<float> labels, dense;
  std::vector<Id> a, b;
  for (int r = 0; r < rows; ++r) {
    labels.push_back(static_cast<float>(r % 2));
    dense.push_back(static_cast<float>(r));
    a.push_back(static_cast<Id>(r % 6));      // provisional ids 0..5
    b.push_back(static_cast<Id>(r % 4 + 1));  // 1..4
  }
  const std::span<const Id> cols[2] = {a, b};
  w.add_block(labels, dense, cols);
  const std::vector<std::vector<Id>> remap = {{0, 3, 0, 1, 2, 0}, {0, 1, 1, 0, 2}};  // a: 2 and 5 unmapped; b: 3
  const auto final_schema = one_hot_schema(4, 3);
  const std::pair<int, int> ranges[] = {{0, 15}, {15, 25}, {25, 25}};
  for (const auto& [begin, end] : ranges) {
    const std::string path = temp_path("range_" + std::to_string(begin) + ".cds");
    const auto seen = w.measure(remap, begin, end);
    const auto out = w.finish_remapped(path, final_schema, remap, begin, end);
    EXPECT_EQ(seen.rows, out.rows);
    EXPECT_EQ(seen.label_sum, out.label_sum);
    EXPECT_EQ(seen.unmapped, out.unmapped);
    const Dataset d = Dataset::open(path);
    ASSERT_EQ(d.rows(), end - begin);
    EXPECT_EQ(d.schema().sparse[0].cardinality, 4);
    std::vector<int64_t> unmapped(2, 0);
    double label_sum = 0;
    for (int r = begin; r < end; ++r) {
      EXPECT_EQ(d.label(r - begin), labels[r]);
      EXPECT_EQ(d.dense_row(r - begin)[0], dense[r]);
      EXPECT_EQ(d.bag(0, r - begin)[0], remap[0][a[r]]);
      EXPECT_EQ(d.bag(1, r - begin)[0], remap[1][b[r]]);
      unmapped[0] += a[r] != 0 && remap[0][a[r]] == 0;
      unmapped[1] += b[r] != 0 && remap[1][b[r]] == 0;
      label_sum += labels[r];
    }
    EXPECT_EQ(out.unmapped, unmapped);
    EXPECT_EQ(out.label_sum, label_sum);
  }
  // Rows cannot be added once a range is written; a remap table too short, or mapping
  // beyond the final cardinality, is refused.
  EXPECT_THROW(w.add_block(labels, dense, cols), Error);
  const std::vector<std::vector<Id>> short_table = {{0, 1}, {0, 1, 1, 0, 2}};
  EXPECT_THROW(w.finish_remapped(temp_path("short.cds"), final_schema, short_table, 0, rows), Error);
  EXPECT_THROW(w.measure(short_table, 0, rows), Error);
  const std::vector<std::vector<Id>> beyond = {{0, 4, 0, 1, 2, 0}, {0, 1, 1, 0, 2}};
  EXPECT_THROW(w.finish_remapped(temp_path("beyond.cds"), final_schema, beyond, 0, rows), Error);
  EXPECT_THROW(w.finish_remapped(temp_path("outside.cds"), final_schema, remap, 20, 26), Error);
  EXPECT_FALSE(fs::exists(temp_path("short.cds")));
}

// Ranges need one-hot features: a multi-hot feature's ids are not one per row.
TEST(DatasetWriter, RangesOfMultiHotRowsAreRefused) {
  DatasetWriter w(temp_path("multi_range.cds"), small_schema());
  const float dense[2] = {0, 0};
  const Id one = 1;
  const std::span<const Id> bags[2] = {{&one, 1}, {&one, 1}};
  w.add_row(0, dense, bags);
  w.add_row(1, dense, bags);
  EXPECT_THROW(w.finish_remapped(temp_path("mr.cds"), small_schema(), {}, 0, 1), Error);
  w.finish_remapped(temp_path("mr_all.cds"), small_schema(), {}, 0, 2);
  EXPECT_EQ(Dataset::open(temp_path("mr_all.cds")).rows(), 2);
}

}  // namespace
}  // namespace cembed
