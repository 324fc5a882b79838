#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cembed/inference.h"
#include "commands.h"
#include "util/output_check.h"

namespace cembed::cli {

void add_export_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("export", "write a trained model (checkpoint) as a compact inference file (.cem)");
  auto model = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto precision = std::make_shared<std::string>("fp32");
  auto vocabulary = std::make_shared<std::string>();
  cmd->add_option("model", *model, "checkpoint written by train --checkpoint")->required();
  cmd->add_option("--out", *out, "the inference file to write (.cem)")->required();
  cmd->add_option("--precision", *precision,
                  "table parameters in fp32 (exact), fp16 or int8 (per row, scale and minimum)")
      ->check(CLI::IsMember({"fp32", "fp16", "int8"}))
      ->capture_default_str();
  cmd->add_option("--vocabulary", *vocabulary,
                  "folder `cembed prepare` wrote (vocabulary.bin, prepare.json): raw rows can then be scored");
  cmd->callback([=] {
    check_file_writable(*out, "model file");
    const LoadedCheckpoint ck = load_checkpoint(*model);
    ExportOptions options;
    options.precision = parse_precision(*precision);
    options.vocabulary_dir = *vocabulary;
    export_model(ck, *out, options);
    const auto m = InferenceModel::open(*out);  // read back: what was written opens
    fmt::print("{}: {} model, {} tables ({}), {} bytes{}\n", *out, *precision, ck.plan.tables.size(), ck.plan.method,
               m->file_bytes(), options.vocabulary_dir.empty() ? "" : ", with vocabulary");
  });
}

}  // namespace cembed::cli
