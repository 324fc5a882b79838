// `cembed prepare`: raw click logs (Criteo TSV, Avazu CSV, libFM) -> cembed datasets.
//
// The training file(s) are parsed once, streaming: rows spill to a temporary file of
// fixed-size binary records while every categorical value is counted. The vocabulary of
// each feature then keeps the values seen at least `min_count` times, most frequent first,
// at ids 1..; id 0 is the out-of-vocabulary id (rare, unseen and empty values). Validation
// and test files are mapped with the training vocabulary. Dense values go through DLRM's
// log(1 + x) with negatives clamped to 0 (or as given). Plain, gzip and zstd files are read,
// each opened and read once, front to back (pipes, FIFOs and process substitution work).
// A malformed line stops with an error naming file, line and field, or, with
// skip_bad_lines, is counted and skipped (the counts are in the dataset statistics).
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace cembed {

enum class TextFormat { Criteo, Avazu, Libfm, Csv };
TextFormat parse_text_format(const std::string& name);

struct PrepareConfig {
  TextFormat format = TextFormat::Criteo;
  std::vector<std::string> train_files;
  std::vector<std::string> valid_files;
  std::vector<std::string> test_files;
  std::string out_dir;
  int64_t min_count = 1;
  bool skip_bad_lines = false;
  bool log_dense = true;  // log(1 + max(x, 0)); false: as given
  int64_t max_line_bytes = 1 << 20;
  int libfm_fields = 0;     // 0: inferred from the first line
  std::string schema_path;  // format csv: the TOML schema (columns, label rule, side files)
  // Ids without counting (criteo, avazu, libfm): either the vocabulary file a previous
  // prepare wrote (out_dir/vocabulary.bin: value -> id per feature; unseen values get the
  // OOV id 0), or a 64-bit hash of each value into hash_buckets ids (1 .. hash_buckets - 1;
  // 0 stays the empty value) with no vocabulary, for unbounded data.
  std::string vocabulary_path;
  int64_t hash_buckets = 0;
  int threads = 2;  // parsing threads (results do not depend on it)
  // How the training files are split: "files" (valid/test come from their own files),
  // "ratio" (each row to test/valid with these probabilities, drawn from `seed`; the
  // vocabulary counts only the training part) or "order" (the last test_fraction of the
  // rows is the test set, the valid_fraction before it the validation set, as DLRM does
  // with Criteo's last day; the vocabulary counts every row).
  std::string split = "files";
  double valid_fraction = 0;
  double test_fraction = 0;
  uint64_t seed = 1;
};

// Writes out_dir/train.cds, [valid.cds,] [test.cds,], out_dir/prepare.json (statistics)
// and, unless ids are hashed, out_dir/vocabulary.bin; returns the statistics.
//
// The folder is written whole or not at all (StagedFolder, output_dir.h; prepare_folder.cpp):
// the files go to a staging folder beside out_dir, which replaces out_dir in one step at the
// end, after `also_write(staging folder)` (e.g. signature files) has run. Another prepare
// into the same out_dir is refused at once; a failure (a full disk, a bad line) or a kill
// leaves out_dir as it was. An existing out_dir must hold only files a prepare writes.
nlohmann::json prepare_dataset(const PrepareConfig& config,
                               const std::function<void(const std::string& folder)>& also_write = {});

// prepare_dataset's files written straight into config.out_dir (prepare.cpp), unstaged.
nlohmann::json write_prepared_files(const PrepareConfig& config);

// Format csv: files described by a schema (prepare_schema.cpp; keys in docs/data.md). Rows
// are held in memory; side files are joined by key; multi-valued columns become bags.
nlohmann::json prepare_schema_dataset(const PrepareConfig& config);

}  // namespace cembed
