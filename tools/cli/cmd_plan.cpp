#include <fmt/format.h>

#include "cembed/dataset.h"
#include "cembed/factory.h"
#include "commands.h"
#include "util/check.h"

namespace cembed::cli {

void add_plan_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("plan", "print the memory plan of a method on a dataset");
  auto data = std::make_shared<std::string>();
  auto opts = std::make_shared<TrainOptions>();
  cmd->add_option("--data", *data, "dataset (.cds) whose features to plan")->required();
  // The settings a plan reads, declared as train declares them.
  opts->add_only(*cmd, {"embedding", "budget", "dim", "small-threshold", "allocation"});
  cmd->callback([=] {
    const TrainConfig c = opts->apply();
    const Dataset d = Dataset::open(*data, false);
    fmt::print("{}", plan_memory(c.embedding, measure_value_frequencies(d), c.model.dim, c.budget, c.small_threshold,
                                 parse_allocation(c.allocation))
                         .describe());
  });
}

void add_methods_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("methods", "list the embedding methods and their spec keys");
  cmd->callback([] {
    for (const auto& m : list_methods()) {
      fmt::print("{:<8} {}  keys: {}\n", m.name, m.summary,
                 m.keys.empty() ? "none" : fmt::format("{}", fmt::join(m.keys, ", ")));
    }
  });
}

}  // namespace cembed::cli
