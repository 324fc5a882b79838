#include <fmt/format.h>

#include "cembed/prepare.h"
#include "cembed/signatures.h"
#include "commands.h"

namespace cembed::cli {

void add_prepare_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "prepare", "turn raw click logs (criteo, avazu, libfm; plain, gzip or zstd) into cembed datasets");
  auto c = std::make_shared<PrepareConfig>();
  auto format = std::make_shared<std::string>("criteo");
  auto raw_dense = std::make_shared<bool>(false);
  cmd->add_option("--format", *format, "criteo, avazu, libfm, or csv (files described by --schema)")
      ->capture_default_str();
  cmd->add_option("--schema", c->schema_path, "format csv: TOML schema of the columns (see docs/data.md)");
  cmd->add_option("--vocabulary", c->vocabulary_path,
                  "map values through this vocabulary.bin (written by an earlier prepare) instead of counting");
  add_ranged(*cmd, "hash-buckets", c->hash_buckets, Range{2, 4294967295.0, false, 0, "count a vocabulary"},
             "no vocabulary: id = 1 + hash64(value) mod (N - 1), for unbounded data");
  cmd->add_option("--train", c->train_files, "training files (the vocabulary is built on them)")->required();
  cmd->add_option("--valid", c->valid_files, "validation files");
  cmd->add_option("--test", c->test_files, "test files");
  cmd->add_option("--out", c->out_dir, "output folder")->required();
  add_ranged(*cmd, "min-count", c->min_count, Range{1, 1e15},
             "values seen fewer times share the out-of-vocabulary id 0");
  cmd->add_flag("--skip-bad-lines", c->skip_bad_lines, "count and skip malformed lines instead of stopping");
  cmd->add_flag("--raw-dense", *raw_dense, "keep dense values as given (default: log(1 + max(x, 0)))");
  add_ranged(*cmd, "max-line-bytes", c->max_line_bytes, Range{1, 1 << 30}, "longest line accepted");
  add_ranged(*cmd, "threads", c->threads, ranges::threads(), "parsing threads");
  cmd->add_option("--split", c->split, "files, ratio (random rows, by --seed) or order (last rows are test)")
      ->capture_default_str();
  const Range fraction{0, 1, false, std::nullopt, "", true};
  add_ranged(*cmd, "test-fraction", c->test_fraction, fraction,
             "share of the training files' rows for test (--split ratio/order)");
  add_ranged(*cmd, "valid-fraction", c->valid_fraction, fraction, "share for validation (--split ratio/order)");
  cmd->add_option("--seed", c->seed, "seed of the ratio split (0 to 2^64-1)")->capture_default_str();
  add_ranged(*cmd, "libfm-fields", c->libfm_fields, Range{0, 1 << 20},
             "fields per libFM line (0: from the first line)");
  auto signatures = std::make_shared<std::vector<std::string>>();
  cmd->add_option("--signatures", *signatures, "also write LMA signatures of the training values: rows and/or context")
      ->delimiter(',');
  cmd->callback([=] {
    c->format = parse_text_format(*format);
    c->log_dense = !*raw_dense;
    // Signature files are written into the new folder before it replaces --out, so they
    // come from the same run as the dataset.
    const auto s = prepare_dataset(*c, [&](const std::string& folder) {
      if (signatures->empty()) return;
      write_signature_files(folder + "/train.cds", *signatures, SignatureConfig{}.num_hashes, 1.0,
                            SignatureConfig{}.seed, c->out_dir + "/train.cds");
    });
    for (const char* split : {"train", "valid", "test"}) {
      if (!s.contains(split)) continue;
      fmt::print("{:<5} {:>10} rows  ctr {:.4f}  bad lines {}\n", split, s[split]["rows"].get<int64_t>(),
                 s[split]["ctr"].get<double>(), s[split]["bad_lines"].get<int64_t>());
    }
    fmt::print("{:<14} {:>10} {:>10} {:>8}\n", "feature", "distinct", "ids", "empty");
    for (const auto& f : s["features"]) {
      fmt::print("{:<14} {:>10} {:>10} {:>7.1f}%\n", f["name"].get<std::string>(),
                 f.contains("distinct_values") ? std::to_string(f["distinct_values"].get<int64_t>()) : "-",
                 f["cardinality"].get<int64_t>(), 100 * f["empty_rate"].get<double>());
    }
    fmt::print("wrote {}/train.cds and prepare.json\n", c->out_dir);
  });
}

}  // namespace cembed::cli
