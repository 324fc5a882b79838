#include <fmt/format.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "util/check.h"
#include "util/file_format.h"
#include "util/output_check.h"

namespace cembed::cli {
namespace {

// "SPEC" or "SPEC@RATIO" (e.g. "hash@16").
std::pair<std::string, double> parse_run(const std::string& text) {
  const auto at = text.rfind('@');
  if (at == std::string::npos) return {text, 0};
  return {text.substr(0, at),
          parse_ratio(text.substr(at + 1), "ratio of run '" + text + "' (SPEC@RATIO, e.g. hash@16)")};
}

}  // namespace

void add_compare_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("compare", "train several methods on one dataset and print them side by side");
  auto opts = std::make_shared<TrainOptions>();
  auto runs = std::make_shared<std::vector<std::string>>(std::vector<std::string>{"full", "hash@16"});
  auto out = std::make_shared<std::string>();
  // Each run sets the method, the budget and its own report; one checkpoint file for every
  // run would hold only the last, and a resume fits one method only.
  opts->add_to(*cmd, {"embedding", "budget", "report", "checkpoint", "checkpoint-every", "resume", "export-initial"});
  cmd->add_option("--runs", *runs,
                  "methods to train: SPEC or SPEC@RATIO (ratio = full bytes / budget), comma- or "
                  "space-separated, e.g. full,hash@16,cp:kind=crt,parts=3@16")
      ->capture_default_str();
  cmd->add_option("--out", *out, "write all reports as one JSON file here");
  cmd->callback([=] {
    check_file_writable(*out, "out");  // before any run: a typo must not cost them all
    std::vector<nlohmann::json> reports;
    for (const auto& run : split_spec_list(*runs)) {
      const auto [spec, ratio] = parse_run(run);
      TrainConfig c = opts->resolve();
      c.embedding = spec;
      if (ratio > 0) c.budget = Budget::ratio(ratio);
      if (c.progress) fmt::print(stderr, "== {}\n", run);
      reports.push_back(train(c));
    }
    print_results_table(reports);
    if (!out->empty()) write_file_atomically(*out, nlohmann::json(reports).dump(2) + "\n");
  });
}

}  // namespace cembed::cli
