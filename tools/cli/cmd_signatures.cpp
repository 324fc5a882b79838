#include <fmt/format.h>

#include <chrono>

#include "cembed/dataset.h"
#include "cembed/signatures.h"
#include "commands.h"

namespace cembed::cli {

void write_signature_files(const std::string& dataset_path, const std::vector<std::string>& kinds, int num_hashes,
                           double sample, uint64_t seed, const std::string& shown_as) {
  const Dataset data = Dataset::open(dataset_path);
  for (const auto& kind : kinds) {
    SignatureConfig c;
    c.kind = parse_signature_kind(kind);
    c.num_hashes = num_hashes;
    c.sample = sample;
    c.seed = seed;
    const auto t0 = std::chrono::steady_clock::now();
    const ValueSignatures s = compute_signatures(data, c);
    const std::string path = signature_path(dataset_path, c.kind);
    save_signatures(path, s);
    int64_t present = 0;
    for (uint8_t p : s.present) present += p;
    fmt::print("{} signatures of {} values ({} seen in the rows used), {} minhashes each: {} ({:.2f} s)\n", kind,
               s.num_values(), present, num_hashes, shown_as.empty() ? path : signature_path(shown_as, c.kind),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
}

void add_signatures_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("signatures", "write the LMA minhash signatures of a training dataset's values");
  auto data = std::make_shared<std::string>();
  auto kinds = std::make_shared<std::vector<std::string>>(std::vector<std::string>{"rows"});
  auto hashes = std::make_shared<int>(SignatureConfig{}.num_hashes);
  auto sample = std::make_shared<double>(1.0);
  auto seed = std::make_shared<uint64_t>(SignatureConfig{}.seed);
  cmd->add_option("--data", *data, "training dataset (.cds); writes <data>.<kind>.sig beside it")->required();
  cmd->add_option("--kind", *kinds, "rows (set of rows a value appears in) and/or context (co-occurring values)")
      ->delimiter(',')
      ->capture_default_str();
  add_ranged(*cmd, "hashes", *hashes, Range{1, 256}, "minhashes per value (16 bits each)");
  add_ranged(*cmd, "sample", *sample, Range{0, 1, true}, "fraction of rows used");
  cmd->add_option("--seed", *seed, "hash seed (0 to 2^64-1)")->capture_default_str();
  cmd->callback([=] { write_signature_files(*data, *kinds, *hashes, *sample, *seed); });
}

}  // namespace cembed::cli
