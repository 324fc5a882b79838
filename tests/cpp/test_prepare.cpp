// cembed prepare: formats, vocabulary, bad input (each case names file, line and field).
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "cembed/dataset.h"
#include "cembed/prepare.h"
#include "cembed/synthetic.h"
#include "util/check.h"

#include <set>

namespace cembed {
namespace {

namespace fs = std::filesystem;

std::string dir() {
  static const std::string d = [] {
    const auto p = fs::temp_directory_path() / ("cembed_prepare_" + std::to_string(::getpid()));
    fs::create_directories(p);
    return p.string();
  }();
  return d;
}

std::string write_text(const std::string& name, const std::string& text) {
  const std::string path = dir() + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// A Criteo line: label, 13 ints, 26 hex values; `cat0` replaces the first categorical value.
std::string criteo_line(int label, const std::string& int0 = "5", const std::string& cat0 = "68fd1e64",
                        const std::string& label_text = "") {
  std::string s = label_text.empty() ? std::to_string(label) : label_text;
  s += "\t" + int0;
  for (int i = 1; i < 13; ++i) s += "\t" + std::to_string(i);
  s += "\t" + cat0;
  for (int i = 1; i < 26; ++i) s += i == 5 ? "\t" : "\t0000000" + std::to_string(i % 10);
  return s + "\n";
}

PrepareConfig config(TextFormat format, const std::string& train, const std::string& out) {
  PrepareConfig c;
  c.format = format;
  c.train_files = {train};
  c.out_dir = dir() + "/" + out;
  return c;
}

void expect_error(const PrepareConfig& c, const std::string& fragment) {
  try {
    prepare_dataset(c);
    FAIL() << "no error, expected: " << fragment;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(Prepare, CriteoVocabularyAndDense) {
  std::string text;
  for (int i = 0; i < 5; ++i) text += criteo_line(1, "-3", "aaaaaaaa");
  for (int i = 0; i < 3; ++i) text += criteo_line(0, "0", "bbbbbbbb");
  text += criteo_line(0, "", "cccccccc");  // seen once; empty integer
  const std::string path = write_text("vocab.txt", text);
  PrepareConfig c = config(TextFormat::Criteo, path, "vocab");
  c.min_count = 2;
  c.test_files = {write_text("vocab_test.txt", criteo_line(1, "7", "dddddddd") + criteo_line(1, "7", "bbbbbbbb"))};
  const auto stats = prepare_dataset(c);
  const Dataset d = Dataset::open(c.out_dir + "/train.cds");
  ASSERT_EQ(d.rows(), 9);
  EXPECT_EQ(d.schema().sparse[0].cardinality, 3);  // OOV + 2 kept values
  EXPECT_EQ(d.bag(0, 0)[0], 1u);                   // most frequent first
  EXPECT_EQ(d.bag(0, 5)[0], 2u);
  EXPECT_EQ(d.bag(0, 8)[0], 0u);             // below min count -> OOV
  EXPECT_EQ(d.bag(5, 0)[0], 0u);             // empty -> OOV
  EXPECT_FLOAT_EQ(d.dense_row(0)[0], 0.0f);  // log(1 + max(-3, 0))
  EXPECT_FLOAT_EQ(d.dense_row(0)[1], std::log1p(1.0f));
  EXPECT_EQ(stats["features"][0]["distinct_values"], 3);
  EXPECT_DOUBLE_EQ(stats["features"][5]["empty_rate"].get<double>(), 1.0);
  const Dataset t = Dataset::open(c.out_dir + "/test.cds");
  EXPECT_EQ(t.bag(0, 0)[0], 0u);  // unseen in training
  EXPECT_EQ(t.bag(0, 1)[0], 2u);
  EXPECT_EQ(stats["test"]["oov_ids"][0], 1);
}

TEST(Prepare, EveryMalformedCriteoLineNamesFileLineAndField) {
  const std::pair<std::string, std::string> cases[] = {
      {criteo_line(0, "12x"), ":2: field 2 (I1): not an integer: '12x'"},
      {criteo_line(0, "99999999999999999999"), ":2: field 2 (I1): integer out of range"},
      {criteo_line(0, "5", "xyz"), ":2: field 15 (C1): not a 32-bit hex value: 'xyz'"},
      {criteo_line(0, "5", "123456789"), ":2: field 15 (C1): not a 32-bit hex value"},
      {criteo_line(0, "5", "68fd1e64", "2"), ":2: field 1 (label): label must be 0 or 1, got '2'"},
      {"1\t2\t3\n", ":2: line: expected 40 tab-separated fields, got 3"},
  };
  int n = 0;
  for (const auto& [bad, fragment] : cases) {
    const std::string path = write_text("bad" + std::to_string(n++) + ".txt", criteo_line(1) + bad + criteo_line(0));
    expect_error(config(TextFormat::Criteo, path, "bad"), path + fragment);
    PrepareConfig skip = config(TextFormat::Criteo, path, "skip");
    skip.skip_bad_lines = true;
    const auto stats = prepare_dataset(skip);
    EXPECT_EQ(stats["train"]["rows"], 2);
    EXPECT_EQ(stats["train"]["bad_lines"], 1);
    EXPECT_EQ(Dataset::open(skip.out_dir + "/train.cds").metadata()["stats"]["bad_lines"], 1);
  }
}

TEST(Prepare, OverLongLinesAndBadUtf8) {
  const std::string path = write_text("long.txt", criteo_line(1) + std::string(3000, '7') + "\n" + criteo_line(0));
  PrepareConfig c = config(TextFormat::Criteo, path, "long");
  c.max_line_bytes = 1000;
  expect_error(c, path + ":2: line longer than 1000 bytes");
  c.skip_bad_lines = true;
  EXPECT_EQ(prepare_dataset(c)["train"]["bad_lines"], 1);

  std::string avazu =
      "1,0,14102100,1005,0,1fbe01fe,f3845767,28905ebd,ecad2386,7801e8d9,07d7df22,a99f214a,96809ac8,"
      "711ee120,1,0,15704,320,50,1722,0,35,100084,79\n";
  std::string bad = avazu;
  bad.replace(bad.find("1fbe01fe"), 8, "\xff\xfe");
  expect_error(config(TextFormat::Avazu, write_text("utf8.csv", avazu + bad), "utf8"),
               ":2: field 6 (site_id): invalid UTF-8");
}

TEST(Prepare, GzipAndTruncatedGzip) {
  std::string text;
  for (int i = 0; i < 2000; ++i) text += criteo_line(i % 2, std::to_string(i));
  const std::string gz = dir() + "/data.txt.gz";
  gzFile f = gzopen(gz.c_str(), "wb");
  gzwrite(f, text.data(), static_cast<unsigned>(text.size()));
  gzclose(f);
  EXPECT_EQ(prepare_dataset(config(TextFormat::Criteo, gz, "gz"))["train"]["rows"], 2000);
  const std::string trunc = dir() + "/trunc.txt.gz";
  fs::copy_file(gz, trunc, fs::copy_options::overwrite_existing);
  fs::resize_file(trunc, fs::file_size(gz) / 2);
  expect_error(config(TextFormat::Criteo, trunc, "trunc"), trunc + ": truncated or corrupt gzip stream");
}

TEST(Prepare, SameOutputWhateverTheThreads) {
  std::string first_half, second_half;
  for (int i = 0; i < 40000; ++i) {  // several parsing blocks
    char hex[16];
    std::snprintf(hex, sizeof hex, "%08x", (i * 7919) % 5000);
    (i < 20000 ? first_half : second_half) += criteo_line(i % 3 == 0, std::to_string(i % 100), hex);
  }
  const std::string text = first_half + second_half;
  const std::string path = write_text("threads.txt", text);
  std::string bytes[2];
  for (int threads : {1, 2}) {
    PrepareConfig c = config(TextFormat::Criteo, path, "threads" + std::to_string(threads));
    c.threads = threads;
    prepare_dataset(c);
    std::ifstream in(c.out_dir + "/train.cds", std::ios::binary);
    bytes[threads - 1].assign(std::istreambuf_iterator<char>(in), {});
  }
  EXPECT_EQ(bytes[0], bytes[1]);
  // The first bad line is the one reported, whichever thread parsed it.
  const std::string bad =
      write_text("threads_bad.txt", first_half + criteo_line(0, "oops") + criteo_line(0, "again") + second_half);
  expect_error(config(TextFormat::Criteo, bad, "threads_bad"), bad + ":20001: field 2 (I1): not an integer: 'oops'");
}

TEST(Prepare, ZstdAndTruncatedZstd) {
  std::string text;
  for (int i = 0; i < 30000; ++i) text += criteo_line(i % 2, std::to_string(i));  // several MB decompressed
  std::vector<char> packed(ZSTD_compressBound(text.size()));
  packed.resize(ZSTD_compress(packed.data(), packed.size(), text.data(), text.size(), 3));
  const std::string zst = write_text("data.zst", std::string(packed.begin(), packed.end()));
  const std::string plain = write_text("data.txt", text);
  const auto a = prepare_dataset(config(TextFormat::Criteo, zst, "zst"));
  const auto b = prepare_dataset(config(TextFormat::Criteo, plain, "plain"));
  EXPECT_EQ(a["train"]["rows"], 30000);
  EXPECT_EQ(a["features"], b["features"]);
  const std::string trunc = write_text("trunc.zst", std::string(packed.begin(), packed.begin() + packed.size() / 2));
  expect_error(config(TextFormat::Criteo, trunc, "trunc_zst"), trunc + ": truncated or corrupt zstd stream");
}

// zstd frames back to back, with an empty frame between two and a skippable frame first
// (pzstd writes one): every line is read. An empty frame once dropped the rest of the input.
TEST(Prepare, ZstdFramesBackToBack) {
  std::string a, b;
  for (int i = 0; i < 50; ++i) a += criteo_line(i % 2, std::to_string(i));
  for (int i = 50; i < 120; ++i) b += criteo_line(i % 2, std::to_string(i));
  auto frame = [](const std::string& t) {
    std::string p(ZSTD_compressBound(t.size()), '\0');
    p.resize(ZSTD_compress(p.data(), p.size(), t.data(), t.size(), 3));
    return p;
  };
  const std::string skippable(
      "\x50\x2A\x4D\x18\x04\x00\x00\x00"
      "abcd",
      12);
  const std::string packed = skippable + frame(a) + frame("") + frame(b);
  const auto stats = prepare_dataset(config(TextFormat::Criteo, write_text("frames.zst", packed), "frames_zst"));
  EXPECT_EQ(stats["train"]["rows"], 120);
}

TEST(Prepare, SplitByOrderAndByRatio) {
  // Row i carries i in its first integer (dense I1 = log(1 + i)) and its own C1 value.
  std::string text;
  for (int i = 0; i < 1000; ++i) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "%08x", i);
    text += criteo_line(i % 2, std::to_string(i), hex);
  }
  const std::string path = write_text("split.txt", text);
  PrepareConfig order = config(TextFormat::Criteo, path, "order");
  order.split = "order";
  order.test_fraction = 0.1;
  order.valid_fraction = 0.05;
  const auto so = prepare_dataset(order);
  EXPECT_EQ(so["train"]["rows"], 850);
  EXPECT_EQ(so["valid"]["rows"], 50);
  EXPECT_EQ(so["test"]["rows"], 100);
  const Dataset test = Dataset::open(order.out_dir + "/test.cds");
  EXPECT_FLOAT_EQ(test.dense_row(0)[0], std::log1p(900.0f));  // the last 100 rows, in order
  EXPECT_FLOAT_EQ(test.dense_row(99)[0], std::log1p(999.0f));
  EXPECT_FLOAT_EQ(Dataset::open(order.out_dir + "/valid.cds").dense_row(0)[0], std::log1p(850.0f));
  // Every C1 value is unique and counted once (an order split counts every row): ids 1..1000,
  // each once across the three files; each file's statistics in its own metadata.
  std::set<Id> c1_ids;
  for (const char* part : {"train", "valid", "test"}) {
    const Dataset d = Dataset::open(order.out_dir + "/" + part + ".cds");
    for (int64_t r = 0; r < d.rows(); ++r) c1_ids.insert(d.bag(0, r)[0]);
    EXPECT_EQ(d.metadata()["stats"]["rows"], d.rows()) << part;
    EXPECT_EQ(d.metadata()["stats"]["oov_ids"][0], 0) << part;
  }
  EXPECT_EQ(c1_ids.size(), 1000u);
  EXPECT_EQ(*c1_ids.begin(), 1u);
  EXPECT_EQ(*c1_ids.rbegin(), 1000u);
  EXPECT_DOUBLE_EQ(test.metadata()["stats"]["ctr"].get<double>(), 0.5);  // rows 900..999, every other a click

  PrepareConfig ratio = config(TextFormat::Criteo, path, "ratio");
  ratio.split = "ratio";
  ratio.test_fraction = 0.2;
  const auto sr = prepare_dataset(ratio);
  const int64_t test_rows = sr["test"]["rows"];
  EXPECT_EQ(sr["train"]["rows"].get<int64_t>() + test_rows, 1000);
  EXPECT_NEAR(test_rows, 200, 4 * std::sqrt(1000 * 0.2 * 0.8));
  // Every C1 value is unique, so the vocabulary (training rows only) has no test value.
  EXPECT_EQ(sr["features"][0]["vocabulary"], sr["train"]["rows"]);
  EXPECT_EQ(sr["test"]["oov_ids"][0], test_rows);
  EXPECT_EQ(Dataset::open(ratio.out_dir + "/test.cds").metadata()["stats"]["oov_ids"][0], test_rows);
  // The same seed gives the same test rows; another seed other rows.
  auto test_rows_of = [](const std::string& dir) {
    const Dataset d = Dataset::open(dir + "/test.cds");
    std::vector<float> first_dense;
    for (int64_t r = 0; r < d.rows(); ++r) first_dense.push_back(d.dense_row(r)[0]);
    return first_dense;
  };
  const auto rows_seed1 = test_rows_of(ratio.out_dir);
  ratio.out_dir += "_again";
  prepare_dataset(ratio);
  EXPECT_EQ(test_rows_of(ratio.out_dir), rows_seed1);
  ratio.seed = 2;
  ratio.out_dir += "_seed2";
  prepare_dataset(ratio);
  EXPECT_NE(test_rows_of(ratio.out_dir), rows_seed1);
  ratio.test_files = {path};
  expect_error(ratio, "takes no --valid or --test files");
}

TEST(Prepare, SyntheticCriteoTextRoundTrip) {
  SyntheticConfig sc;
  sc.train_rows = 5000;
  sc.test_rows = 100;
  sc.scale = 0.0005;
  write_synthetic(sc, dir() + "/syn_cds", 2);
  sc.format = "criteo";
  write_synthetic(sc, dir() + "/syn_txt", 2);
  const auto stats = prepare_dataset(config(TextFormat::Criteo, dir() + "/syn_txt/train.txt", "syn_prepared"));
  const Dataset direct = Dataset::open(dir() + "/syn_cds/train.cds");
  const Dataset prepared = Dataset::open(dir() + "/syn_prepared/train.cds");
  ASSERT_EQ(prepared.rows(), direct.rows());
  for (int64_t r = 0; r < direct.rows(); ++r) {
    ASSERT_EQ(prepared.label(r), direct.label(r));
    for (int j = 0; j < 13; ++j) ASSERT_NEAR(prepared.dense_row(r)[j], direct.dense_row(r)[j], 1e-6) << r << " " << j;
  }
  for (int f = 0; f < 26; ++f) {
    std::set<Id> distinct;
    for (int64_t r = 0; r < direct.rows(); ++r) distinct.insert(direct.bag(f, r)[0]);
    EXPECT_EQ(stats["features"][f]["distinct_values"], distinct.size()) << "feature " << f;
  }
}

TEST(Prepare, AvazuHeaderAndTimeFeatures) {
  const std::string header =
      "id,click,hour,C1,banner_pos,site_id,site_domain,site_category,app_id,app_domain,"
      "app_category,device_id,device_ip,device_model,device_type,device_conn_type,C14,C15,C16,"
      "C17,C18,C19,C20,C21\n";
  const std::string row =
      "1,1,14102107,1005,0,1fbe01fe,f3845767,28905ebd,ecad2386,7801e8d9,07d7df22,a99f214a,"
      "96809ac8,711ee120,1,0,15704,320,50,1722,0,35,100084,79\n";
  PrepareConfig c = config(TextFormat::Avazu, write_text("avazu.csv", header + row + row), "avazu");
  const auto stats = prepare_dataset(c);
  EXPECT_EQ(stats["train"]["rows"], 2);
  EXPECT_EQ(stats["features"][21]["name"], "hour_of_day");
  const Dataset d = Dataset::open(c.out_dir + "/train.cds");
  EXPECT_FLOAT_EQ(d.dense_row(0)[0], std::log1p(7.0f));
  EXPECT_EQ(d.schema().num_sparse(), 23);
  // 2014-10-21 was a Tuesday: one distinct weekday, one distinct hour.
  EXPECT_EQ(stats["features"][22]["distinct_values"], 1);
  expect_error(config(TextFormat::Avazu, write_text("avazu_bad.csv", header + "1,1,14132107" + row.substr(12)), "x"),
               ":2: field 3 (hour): not a date");
}

TEST(Prepare, LibfmLabelsAndFields) {
  PrepareConfig c = config(TextFormat::Libfm, write_text("f.libfm", "1 3:1 10:1\n-1 4:1 10:1\n0 3:1 11:1\n"), "libfm");
  const auto stats = prepare_dataset(c);
  const Dataset d = Dataset::open(c.out_dir + "/train.cds");
  EXPECT_EQ(d.schema().num_sparse(), 2);
  EXPECT_EQ((std::vector<float>{d.label(0), d.label(1), d.label(2)}), (std::vector<float>{1, 0, 0}));
  EXPECT_EQ(stats["features"][1]["vocabulary"], 2);
  expect_error(config(TextFormat::Libfm, write_text("g.libfm", "1 3:1 10:1\n1 3:1\n"), "g"),
               ":2: line: expected 2 features");
  expect_error(config(TextFormat::Libfm, write_text("h.libfm", "1 3:1 10:0.5\n"), "h"),
               ":1: field 3 (F2): only binary");
  expect_error(config(TextFormat::Libfm, write_text("i.libfm", "yes 3:1 10:1\n"), "i"), ":1: field 1 (label)");
}

// Schema-described CSV: side files joined by key, a multi-valued column, a label rule, the
// latest-per-group split, and errors naming file, line and field.
TEST(PrepareSchema, JoinsMultiValuedLabelRuleAndLatestSplit) {
  write_text("items.csv", "item,genres,year\ni1,a|b,1990\ni2,b,2001\ni3,,2001\n");
  const std::string main = write_text("inter.csv",
                                      "user,item,rating,time,price\n"
                                      "u1,i1,5,10,1.5\nu1,i2,2,20,3\nu1,i3,4,30,0\n"
                                      "u2,i2,4,5,2\nu2,i1,1,7,1\nu2,i9,5,6,1\n");
  const std::string schema = write_text("s.toml",
                                        "label = \"rating >= 4\"\n"
                                        "categorical = [\"user\", \"item\"]\n"
                                        "dense = [\"price\"]\n"
                                        "ranking = { user = \"user\", item = \"item\" }\n"
                                        "[split]\nby = \"latest\"\ngroup = \"user\"\ntime = \"time\"\n"
                                        "[[side]]\nfile = \"items.csv\"\nkey = \"item\"\n"
                                        "categorical = [\"year\"]\nmulti_valued = { genres = \"|\" }\n");
  PrepareConfig c;
  c.format = TextFormat::Csv;
  c.schema_path = schema;
  c.train_files = {main};
  c.out_dir = dir() + "/schema_out";
  const auto stats = prepare_dataset(c);
  EXPECT_EQ(stats["train"]["rows"], 4);
  EXPECT_EQ(stats["test"]["rows"], 2);           // u1's time 30 and u2's time 7
  EXPECT_EQ(stats["rows_without_side_row"], 1);  // i9 is not in items.csv
  const Dataset test = Dataset::open(c.out_dir + "/test.cds");
  EXPECT_EQ(test.labels()[0], 1.0f);  // u1, i3, rating 4
  EXPECT_EQ(test.labels()[1], 0.0f);  // u2, i1, rating 1
  EXPECT_NEAR(test.dense_row(1)[0], std::log1p(1.0), 1e-6);
  const Dataset train = Dataset::open(c.out_dir + "/train.cds");
  const auto& sch = train.schema();
  ASSERT_EQ(sch.num_sparse(), 4);  // user, item, year, genres
  EXPECT_EQ(sch.sparse[3].name, "genres");
  EXPECT_TRUE(sch.multi_hot[3]);
  EXPECT_EQ(sch.sparse[3].cardinality, 3);  // OOV + a, b
  // Row 0 of train is u1, i1: genres a|b -> a bag of two ids.
  EXPECT_EQ(train.bag(3, 0).size(), 2u);
  // u2, i9 has no item row: empty genre bag, OOV year.
  bool found = false;
  for (int64_t r = 0; r < train.rows(); ++r) {
    if (train.bag(3, r).empty()) {
      found = true;
      EXPECT_EQ(train.bag(2, r)[0], 0u);
    }
  }
  EXPECT_TRUE(found);
  EXPECT_TRUE(test.metadata().contains("ranking"));
  EXPECT_EQ(test.metadata()["ranking"]["items"].size(), 2u);  // i1, i2 (i3, seen only in test, is OOV)
}

TEST(PrepareSchema, ErrorsNameFileLineAndField) {
  write_text("items2.csv", "item,year\ni1,1990\n");
  const std::string schema = write_text("s2.toml",
                                        "label = \"click\"\ncategorical = [\"item\"]\ndense = [\"price\"]\n"
                                        "[[side]]\nfile = \"items2.csv\"\nkey = \"item\"\ncategorical = [\"year\"]\n");
  auto run = [&](const std::string& text, bool skip) {
    PrepareConfig c;
    c.format = TextFormat::Csv;
    c.schema_path = schema;
    c.train_files = {write_text("bad.csv", "item,click,price\n" + text)};
    c.out_dir = dir() + "/schema_bad";
    c.skip_bad_lines = skip;
    return prepare_dataset(c);
  };
  auto error = [&](const std::string& text) {
    try {
      run(text, false);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error("i1,1,2\ni1,1\n").find("bad.csv:3: field 0 (line): 2 fields, the header has 3"), std::string::npos)
      << error("i1,1,2\ni1,1\n");
  EXPECT_NE(error("i1,2,2\n").find("bad.csv:2: field 2 (click): label '2' is not 0/1"), std::string::npos);
  EXPECT_NE(error("i1,1,abc\n").find("bad.csv:2: field 3 (price): 'abc' is not a number"), std::string::npos);
  EXPECT_NE(error("i1,1,nan\n").find("is not a number"), std::string::npos);
  const auto stats = run("i1,1,2\ni1,x,2\ni1,0,3\n", true);
  EXPECT_EQ(stats["train"]["rows"], 2);
  EXPECT_EQ(stats["train"]["bad_lines"], 1);
  // Schema mistakes name the schema file.
  const std::string bad_schema = write_text("s3.toml", "label = \"click\"\ncategorical = [\"nope\"]\n");
  PrepareConfig c;
  c.format = TextFormat::Csv;
  c.schema_path = bad_schema;
  c.train_files = {write_text("ok.csv", "item,click\ni1,1\n")};
  c.out_dir = dir() + "/schema_bad2";
  expect_error(c, "no column 'nope'");
  write_text("s4.toml", "label = \"click\"\ncategorical = [\"item\"]\ncolour = 3\n");
  c.schema_path = dir() + "/s4.toml";
  expect_error(c, "unknown key 'colour'");
}

TEST(Prepare, SavedVocabularyMapsNewDataAndHashedIdsNeedNone) {
  std::string a, b;
  for (int i = 0; i < 30; ++i) a += criteo_line(i % 2, "1", i % 3 == 0 ? "aaaaaaaa" : "bbbbbbbb");
  for (int i = 0; i < 10; ++i) b += criteo_line(i % 2, "1", i % 2 == 0 ? "bbbbbbbb" : "cccccccc");  // cccccccc unseen
  const std::string fa = write_text("vocab_a.txt", a), fb = write_text("vocab_b.txt", b);
  const auto first = prepare_dataset(config(TextFormat::Criteo, fa, "vocab_a"));
  ASSERT_TRUE(fs::exists(dir() + "/vocab_a/vocabulary.bin"));
  PrepareConfig later = config(TextFormat::Criteo, fb, "vocab_b");
  later.vocabulary_path = dir() + "/vocab_a/vocabulary.bin";
  later.min_count = 1000;  // ignored: nothing is counted
  prepare_dataset(later);
  const Dataset da = Dataset::open(dir() + "/vocab_a/train.cds"), db = Dataset::open(dir() + "/vocab_b/train.cds");
  EXPECT_EQ(da.schema().to_json(), db.schema().to_json());
  const Id b_id = da.bag(0, 1)[0];  // row 1 of a holds bbbbbbbb
  EXPECT_NE(b_id, 0u);
  EXPECT_EQ(db.bag(0, 0)[0], b_id);  // same value, same id
  EXPECT_EQ(db.bag(0, 1)[0], 0u);    // unseen value: OOV
  // A vocabulary of other features is refused, naming the file.
  PrepareConfig wrong = config(TextFormat::Libfm, write_text("v.libfm", "1 0:1 1:1\n"), "vocab_c");
  wrong.vocabulary_path = later.vocabulary_path;
  EXPECT_THROW(prepare_dataset(wrong), Error);

  PrepareConfig hashed = config(TextFormat::Criteo, fa, "hashed_a");
  hashed.hash_buckets = 1000;
  const auto hs = prepare_dataset(hashed);
  EXPECT_FALSE(fs::exists(dir() + "/hashed_a/vocabulary.bin"));
  hashed.train_files = {fb};
  hashed.out_dir = dir() + "/hashed_b";
  prepare_dataset(hashed);
  const Dataset ha = Dataset::open(dir() + "/hashed_a/train.cds"), hb = Dataset::open(dir() + "/hashed_b/train.cds");
  EXPECT_EQ(ha.schema().sparse[0].cardinality, 1000);
  EXPECT_EQ(hb.bag(0, 0)[0], ha.bag(0, 1)[0]);  // bbbbbbbb hashes to one id in both
  EXPECT_NE(hb.bag(0, 1)[0], 0u);               // unseen values get ids too
  EXPECT_EQ(ha.bag(5, 0)[0], 0u);               // the empty column stays 0
  EXPECT_EQ(hs["features"][0]["ids"], "hashed");
  EXPECT_EQ(ha.schema().vocabulary_id, "hashed:1000");
}

// Two vocabularies with the same features and cardinalities are told apart by their
// identity (eval with another vocabulary's test set printed another AUC with rc 0); the
// identity of a loaded vocabulary.bin is the identity of the vocabulary that wrote it.
TEST(Prepare, EachVocabularyHasItsOwnIdentity) {
  std::string a, c;
  for (int i = 0; i < 30; ++i) a += criteo_line(i % 2, "1", i % 3 == 0 ? "aaaaaaaa" : "bbbbbbbb");
  for (int i = 0; i < 30; ++i) c += criteo_line(i % 2, "1", i % 3 == 0 ? "dddddddd" : "eeeeeeee");
  prepare_dataset(config(TextFormat::Criteo, write_text("ident_a.txt", a), "ident_a"));
  prepare_dataset(config(TextFormat::Criteo, write_text("ident_c.txt", c), "ident_c"));
  PrepareConfig again = config(TextFormat::Criteo, write_text("ident_c2.txt", c), "ident_again");
  again.vocabulary_path = dir() + "/ident_a/vocabulary.bin";
  prepare_dataset(again);
  const Dataset da = Dataset::open(dir() + "/ident_a/train.cds"), dc = Dataset::open(dir() + "/ident_c/train.cds"),
                dg = Dataset::open(dir() + "/ident_again/train.cds");
  ASSERT_EQ(da.schema().sparse.size(), dc.schema().sparse.size());
  for (size_t f = 0; f < da.schema().sparse.size(); ++f) {
    EXPECT_EQ(da.schema().sparse[f].cardinality, dc.schema().sparse[f].cardinality) << f;
  }
  EXPECT_EQ(da.schema().vocabulary_id.rfind("vocab:", 0), 0u) << da.schema().vocabulary_id;
  EXPECT_NE(da.schema().vocabulary_id, dc.schema().vocabulary_id);
  EXPECT_EQ(da.schema().vocabulary_id, dg.schema().vocabulary_id);
  EXPECT_NO_THROW(check_same_vocabulary(dg, da.schema().to_json(), "the model"));
  try {
    check_same_vocabulary(dc, da.schema().to_json(), "the model");
    FAIL() << "another vocabulary was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("another vocabulary"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cembed
