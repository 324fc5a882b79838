#include <fmt/format.h>

#include "cembed/dataset.h"
#include "cembed/errors.h"
#include "cembed/factory.h"
#include "commands.h"

namespace cembed::cli {

void add_plan_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("plan", "print the memory plan of a method on a dataset");
  auto data = std::make_shared<std::string>();
  auto spec = std::make_shared<std::string>("hash");
  auto budget = std::make_shared<std::string>();
  auto ratio = std::make_shared<double>(0);
  auto dim = std::make_shared<int64_t>(16);
  auto threshold = std::make_shared<int64_t>(200);
  cmd->add_option("--data", *data, "dataset (.cds) whose features to plan")->required();
  cmd->add_option("--embedding", *spec, "method spec")->capture_default_str();
  cmd->add_option("--embedding-budget", *budget, "budget in bytes, e.g. 64MiB");
  add_ranged(*cmd, "compression", *ratio, ranges::compression, "budget as a ratio of the full tables");
  add_ranged(*cmd, "dim", *dim, ranges::dim, "embedding dimension");
  add_ranged(*cmd, "small-threshold", *threshold, ranges::small_threshold,
             "features with fewer values keep full tables");
  cmd->callback([=] {
    const Dataset d = Dataset::open(*data, false);
    CEMBED_CHECK(budget->empty() || *ratio == 0, "give --embedding-budget or --compression, not both");
    Budget b;
    if (!budget->empty()) b = Budget::parse_bytes(*budget);
    if (*ratio != 0) b = Budget::ratio(*ratio);
    fmt::print("{}", plan_memory(*spec, d.schema().sparse, *dim, b, *threshold).describe());
  });
}

void add_methods_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("methods", "list the embedding methods and their spec keys");
  cmd->callback([] {
    for (const auto& m : list_methods()) {
      fmt::print("{:<8} {}  keys: {}\n", m.name, m.summary, m.keys.empty() ? "none" : fmt::format("{}", fmt::join(m.keys, ", ")));
    }
  });
}

}  // namespace cembed::cli
