// Schema-described CSV as other tools write it (RFC 4180 quoting, R's write.csv, a byte
// order mark), empty labels, the ratio and order splits, and a ranking catalogue built
// from the main file.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "cembed/dataset.h"
#include "cembed/prepare.h"
#include "prepare_test_files.h"
#include "util/check.h"

namespace cembed {
namespace {

std::string dir() {
  static const std::string d = testing::test_dir("cembed_prepare_csv");
  return d;
}
std::string write_text(const std::string& name, const std::string& text) {
  return testing::write_file(dir(), name, text);
}

PrepareConfig csv_config(const std::string& schema, const std::string& train, const std::string& out) {
  PrepareConfig c;
  c.format = TextFormat::Csv;
  c.schema_path = write_text(out + ".toml", schema);
  c.train_files = {write_text(out + ".csv", train)};
  c.out_dir = dir() + "/" + out;
  return c;
}

// As R's write.csv writes it: row names in a first column named "", every text quoted.
const char* kRFile =
    "\"\",\"user\",\"item\",\"title\",\"click\"\r\n"
    "\"1\",\"u1\",\"i1\",\"Toy Story, the movie\",1\r\n"
    "\"2\",\"u2\",\"i2\",\"say \"\"hi\"\"\",0\r\n"
    "\"3\",\"u1\",\"i3\",\"two\r\nlines\",1\r\n"
    "\"4\",\"u2\",\"i1\",\"Toy Story, the movie\",1\r\n";
const char* kRSchema = "label = \"click\"\ncategorical = [\"user\", \"item\", \"title\"]\n";

TEST(PrepareCsv, QuotedFieldsAsRWritesThem) {
  const PrepareConfig c = csv_config(kRSchema, kRFile, "r_csv");
  const auto stats = prepare_dataset(c);
  EXPECT_EQ(stats["train"]["rows"], 4);
  EXPECT_EQ(stats["train"]["bad_lines"], 0);
  EXPECT_EQ(stats["features"][2]["name"], "title");
  EXPECT_EQ(stats["features"][2]["distinct_values"], 3);  // a comma, doubled quotes and a line break inside
  const Dataset d = Dataset::open(c.out_dir + "/train.cds");
  EXPECT_EQ(d.bag(2, 0)[0], d.bag(2, 3)[0]);
  EXPECT_NE(d.bag(2, 1)[0], d.bag(2, 2)[0]);
  EXPECT_EQ((std::vector<float>{d.label(0), d.label(1), d.label(2), d.label(3)}), (std::vector<float>{1, 0, 1, 1}));
  // A quoted value is the same value unquoted: "u1" and u1 get the same id.
  PrepareConfig mixed = csv_config(kRSchema, "user,item,title,click\n\"u1\",i1,t,1\nu1,i2,t,0\n", "mixed_csv");
  const auto ms = prepare_dataset(mixed);
  EXPECT_EQ(ms["features"][0]["distinct_values"], 1);
  // An error in a record that spans lines names its first line.
  PrepareConfig bad = csv_config(kRSchema, std::string(kRFile) + "\"5\",\"u1\",\"i2\",\"a\nb\",2\n", "r_bad");
  const std::string e = testing::prepare_error(bad);
  EXPECT_NE(e.find("r_bad.csv:7: field 5 (click): label '2' is not 0/1"), std::string::npos) << e;
}

TEST(PrepareCsv, MalformedQuotesNameLineAndField) {
  const char* schema = "label = \"click\"\ncategorical = [\"item\"]\n";
  const std::string after = testing::prepare_error(csv_config(schema, "item,click\ni1,1\n\"i2\"x,1\n", "quote_after"));
  EXPECT_NE(after.find("quote_after.csv:3: field 1: text after the closing quote"), std::string::npos) << after;
  const std::string open = testing::prepare_error(csv_config(schema, "item,click\ni1,1\n\"i2,1\ni3,0\n", "quote_open"));
  EXPECT_NE(open.find("quote_open.csv:3: field 1: the quote opened on this line is never closed"), std::string::npos)
      << open;
  PrepareConfig skip = csv_config(schema, "item,click\ni1,1\n\"i2\"x,1\ni3,0\n", "quote_skip");
  skip.skip_bad_lines = true;
  const auto stats = prepare_dataset(skip);
  EXPECT_EQ(stats["train"]["rows"], 2);
  EXPECT_EQ(stats["train"]["bad_lines"], 1);
  // A quote never closed takes every line after it: each is counted, not one for them all.
  PrepareConfig open_skip = csv_config(schema, "item,click\ni1,1\n\"i2,1\ni3,0\ni4,1\n", "quote_open_skip");
  open_skip.skip_bad_lines = true;
  const auto open_stats = prepare_dataset(open_skip);
  EXPECT_EQ(open_stats["train"]["rows"], 1);
  EXPECT_EQ(open_stats["train"]["bad_lines"], 3);
  EXPECT_NE(open_stats["train"]["bad_line_examples"][0].get<std::string>().find("(3 lines skipped)"), std::string::npos)
      << open_stats["train"]["bad_line_examples"];
  // quote = "": quotes are ordinary characters (files that never quote).
  const auto plain =
      prepare_dataset(csv_config("quote = \"\"\n" + std::string(schema), "item,click\n\"i2\"x,1\n", "no_quote"));
  EXPECT_EQ(plain["train"]["rows"], 1);
}

TEST(PrepareCsv, EmptyLabelIsAnErrorOrACountedSkip) {
  const char* schema = "label = \"click\"\ncategorical = [\"item\"]\n";
  const std::string e = testing::prepare_error(csv_config(schema, "item,click\ni1,1\ni2,\ni3,0\n", "empty_label"));
  EXPECT_NE(e.find("empty_label.csv:3: field 2 (click): empty label"), std::string::npos) << e;
  PrepareConfig skip = csv_config(schema, "item,click\ni1,1\ni2,\ni3,0\n", "empty_label_skip");
  skip.skip_bad_lines = true;
  const auto stats = prepare_dataset(skip);
  EXPECT_EQ(stats["train"]["rows"], 2);
  EXPECT_EQ(stats["train"]["bad_lines"], 1);
  const std::string rule = testing::prepare_error(
      csv_config("label = \"rating >= 4\"\ncategorical = [\"item\"]\n", "item,rating\ni1,5\ni2,\n", "empty_rating"));
  EXPECT_NE(rule.find("empty_rating.csv:3: field 2 (rating): empty value"), std::string::npos) << rule;
}

TEST(PrepareCsv, ByteOrderMarkBeforeTheHeader) {
  const auto stats = prepare_dataset(csv_config("label = \"click\"\ncategorical = [\"item\"]\n",
                                                "\xEF\xBB\xBF\"item\",click\ni1,1\ni2,0\n", "bom_csv"));
  EXPECT_EQ(stats["train"]["rows"], 2);
  EXPECT_EQ(stats["features"][0]["name"], "item");
}

// The ratio and order splits take the same rows as for the other formats.
TEST(PrepareCsv, RatioAndOrderSplitsAsTheOtherFormats) {
  std::string csv = "item,click,n\n", criteo;
  for (int r = 0; r < 1000; ++r) {
    csv += "i" + std::to_string(r) + "," + std::to_string(r % 2) + "," + std::to_string(r) + "\n";
    criteo += std::to_string(r % 2) + "\t" + std::to_string(r);
    for (int i = 1; i < 13; ++i) criteo += "\t1";
    for (int i = 0; i < 26; ++i) criteo += "\t" + std::to_string(r % 10);
    criteo += "\n";
  }
  const char* schema = "label = \"click\"\ncategorical = [\"item\"]\ndense = [\"n\"]\n";
  auto rows_of = [](const std::string& path) {  // the first dense value of each row: its row number
    std::set<int> rows;
    const Dataset d = Dataset::open(path);
    for (int64_t r = 0; r < d.rows(); ++r) rows.insert(static_cast<int>(std::lround(d.dense_row(r)[0])));
    return rows;
  };
  for (const char* split : {"ratio", "order"}) {
    PrepareConfig c = csv_config(schema, csv, std::string("csv_") + split);
    c.split = split;
    c.test_fraction = 0.2;
    c.valid_fraction = 0.1;
    c.seed = 5;
    c.log_dense = false;
    const auto stats = prepare_dataset(c);
    PrepareConfig other = c;
    other.format = TextFormat::Criteo;
    other.train_files = {write_text(std::string("criteo_") + split + ".txt", criteo)};
    other.out_dir += "_criteo";
    const auto other_stats = prepare_dataset(other);
    for (const char* part : {"train", "valid", "test"}) {
      EXPECT_EQ(stats[part]["rows"], other_stats[part]["rows"]) << split << " " << part;
      EXPECT_EQ(rows_of(c.out_dir + "/" + part + ".cds"), rows_of(other.out_dir + "/" + part + ".cds"))
          << split << " " << part;
    }
    EXPECT_EQ(stats["split"]["by"], split);
    // The vocabulary: the ratio split counts only the training part (unique items: every test item is OOV).
    if (std::string(split) == "ratio") {
      EXPECT_EQ(stats["test"]["oov_ids"][0], stats["test"]["rows"]);
    }
  }
  PrepareConfig both =
      csv_config(std::string(schema) + "[split]\nby = \"latest\"\ngroup = \"item\"\ntime = \"n\"\n", csv, "csv_both");
  both.split = "ratio";
  both.test_fraction = 0.2;
  EXPECT_NE(testing::prepare_error(both).find("splits by the latest rows"), std::string::npos)
      << testing::prepare_error(both);
}

// Interaction logs carry the item's features in the main file: the catalogue is built from it.
TEST(PrepareCsv, RankingCatalogueFromTheMainFile) {
  std::string csv = "user,item,category,click,time\n";
  for (int r = 0; r < 300; ++r) {
    const int item = (r * 7) % 12;
    csv += "u" + std::to_string(r % 20) + ",i" + std::to_string(item) + ",c" + std::to_string(item % 3) + "," +
           std::to_string(r % 2) + "," + std::to_string(r) + "\n";
  }
  const PrepareConfig c = csv_config(
      "label = \"click\"\ncategorical = [\"user\", \"item\", \"category\"]\n"
      "ranking = { user = \"user\", item = \"item\", item_features = [\"category\"] }\n"
      "[split]\nby = \"latest\"\ngroup = \"user\"\ntime = \"time\"\n",
      csv, "rank_main");
  prepare_dataset(c);
  const Dataset train = Dataset::open(c.out_dir + "/train.cds");
  const Dataset test = Dataset::open(c.out_dir + "/test.cds");
  const auto& r = test.metadata()["ranking"];
  EXPECT_EQ(r["item_features"], (std::vector<int>{1, 2}));
  ASSERT_EQ(r["items"].size(), 12u);  // every item of the training rows
  std::map<Id, Id> category_of;       // from the training rows
  for (int64_t row = 0; row < train.rows(); ++row) category_of[train.bag(1, row)[0]] = train.bag(2, row)[0];
  std::set<Id> listed;
  for (const auto& item : r["items"]) {
    const Id id = item[0][0];
    listed.insert(id);
    EXPECT_EQ(item[1][0].get<Id>(), category_of.at(id));
  }
  EXPECT_EQ(listed.size(), 12u);
  const std::string e =
      testing::prepare_error(csv_config("label = \"click\"\ncategorical = [\"user\", \"item\"]\n"
                                        "ranking = { user = \"user\", item = \"item\", item_features = [\"nope\"] }\n",
                                        csv, "rank_bad"));
  EXPECT_NE(e.find("ranking item_features: 'nope'"), std::string::npos) << e;
}

}  // namespace
}  // namespace cembed
