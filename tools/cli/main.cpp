#include <fmt/format.h>

#include <algorithm>

#include "cembed/build_info.h"
#include "commands.h"
#include "util/check.h"

int main(int argc, char** argv) {
  CLI::App app{"cembed: train and serve recommendation models with compressed embedding tables"};
  app.name("cembed");
  app.set_version_flag("--version", cembed::build_info_line());
  app.require_subcommand(1);
  cembed::cli::add_synth_command(app);
  cembed::cli::add_prepare_command(app);
  cembed::cli::add_train_command(app);
  cembed::cli::add_eval_command(app);
  cembed::cli::add_plan_command(app);
  cembed::cli::add_methods_command(app);
  cembed::cli::add_compare_command(app);
  cembed::cli::add_signatures_command(app);
  cembed::cli::add_sweep_command(app);
  cembed::cli::add_export_command(app);
  cembed::cli::add_score_command(app);
  cembed::cli::add_serve_command(app);
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    cembed::cli::check_command_line(app, args);
    args = cembed::cli::expand_config_file(app, std::move(args));
    std::reverse(args.begin(), args.end());  // CLI11 takes the arguments in reverse order
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const cembed::Error& e) {
    fmt::print(stderr, "cembed: error: {}\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "cembed: unexpected error: {}\n", e.what());
    return 2;
  }
  return 0;
}
