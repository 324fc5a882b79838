#include <fmt/format.h>

#include <algorithm>

#include "cembed/build_info.h"
#include "commands.h"
#include "util/check.h"
#ifdef CEMBED_HAS_MPI
#include "cembed/mpi_communicator.h"
#endif

namespace {

std::unique_ptr<cembed::Communicator> the_job;

// Under mpirun / srun the job's ranks; else one process.
std::unique_ptr<cembed::Communicator> start_job(int* argc, char*** argv) {
#ifdef CEMBED_HAS_MPI
  if (cembed::launched_by_mpi()) return std::make_unique<cembed::MpiCommunicator>(argc, argv);
#endif
  return std::make_unique<cembed::SingleProcess>();
}

int run(int argc, char** argv);

}  // namespace

namespace cembed::cli {
Communicator& job() { return *the_job; }
}  // namespace cembed::cli

int main(int argc, char** argv) {
  the_job = start_job(&argc, &argv);
  const int rc = run(argc, argv);
  the_job.reset();  // MPI_Finalize before static destruction
  return rc;
}

namespace {

int run(int argc, char** argv) {
  cembed::Communicator& job = *the_job;
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
    // Commands other than train write files or print tables once: one process runs them.
    CEMBED_CHECK(
        job.size() == 1 || args.empty() || args[0] == "train" || args[0] == "sweep" || args[0].starts_with("-"),
        "cembed {} runs in one process: start it without mpirun/srun (train and sweep run as a job of ranks)", args[0]);
    cembed::cli::check_command_line(app, args);
    args = cembed::cli::expand_config_file(app, std::move(args));
    std::reverse(args.begin(), args.end());  // CLI11 takes the arguments in reverse order
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const cembed::Error& e) {
    // In a job of ranks the others would wait for this one: the whole job stops.
    if (job.size() > 1) job.abort(fmt::format("error: {}", e.what()));
    fmt::print(stderr, "cembed: error: {}\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    if (job.size() > 1) job.abort(fmt::format("unexpected error: {}", e.what()));
    fmt::print(stderr, "cembed: unexpected error: {}\n", e.what());
    return 2;
  }
  return 0;
}

}  // namespace
