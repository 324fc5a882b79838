// The sweep's plots: tools/plot_sweep.py, found beside the executable (the build tree keeps
// a copy there; an installed cembed finds it in ../share/cembed) or given by --plot-script,
// run by python3 without a shell. A missing script, python or matplotlib costs the plots,
// never the results.
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "commands.h"

extern char** environ;

namespace cembed::cli {
namespace {

namespace fs = std::filesystem;

bool is_executable(const fs::path& p) { return ::access(p.c_str(), X_OK) == 0 && !fs::is_directory(p); }

// /usr/bin/python3 (Debian's, with its matplotlib), else the first python3 in PATH; "" if none.
std::string find_python() {
  if (is_executable("/usr/bin/python3")) return "/usr/bin/python3";
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "";
  for (size_t start = 0; start <= dirs.size();) {
    const size_t colon = std::min(dirs.find(':', start), dirs.size());
    const fs::path candidate = fs::path(dirs.substr(start, colon - start)) / "python3";
    if (colon > start && is_executable(candidate)) return candidate.string();
    start = colon + 1;
  }
  return "";
}

// Runs argv[0] with argv (no shell) and waits: its exit status; -1 with `error` set when it
// could not be started or ended by a signal.
int run_program(const std::vector<std::string>& argv, std::string& error) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ);
  if (rc != 0) {
    error = std::strerror(rc);
    return -1;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      error = std::strerror(errno);
      return -1;
    }
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  error = fmt::format("ended by signal {}", WTERMSIG(status));
  return -1;
}

}  // namespace

std::vector<std::string> plot_script_candidates() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  const fs::path dir = exe.parent_path();
  return {(dir / "plot_sweep.py").string(), (dir.parent_path() / "share" / "cembed" / "plot_sweep.py").string()};
}

bool draw_sweep_plots(const std::string& out_dir, const std::string& given_script) {
  std::string script = given_script;
  if (script.empty()) {
    const auto candidates = plot_script_candidates();
    for (const auto& c : candidates) {
      std::error_code ec;  // an unreadable folder is a missing script, not a failed sweep
      if (fs::is_regular_file(c, ec)) {
        script = c;
        break;
      }
    }
    if (script.empty()) {
      fmt::print(stderr,
                 "cembed: warning: no plots: plot_sweep.py is not beside this cembed ({}); give --plot-script "
                 "tools/plot_sweep.py, or run it on {} later\n",
                 fmt::join(candidates, ", "), out_dir);
      return false;
    }
  } else if (std::error_code ec; !fs::is_regular_file(script, ec)) {
    fmt::print(stderr, "cembed: warning: no plots: --plot-script {} is not a file\n", script);
    return false;
  }
  const std::string python = find_python();
  if (python.empty()) {
    fmt::print(stderr,
               "cembed: warning: no plots: no python3 (neither /usr/bin/python3 nor one in PATH); run {} {} "
               "where python3 with matplotlib is\n",
               script, out_dir);
    return false;
  }
  std::string error;
  const int status = run_program({python, script, out_dir}, error);
  if (status != 0) {
    fmt::print(stderr,
               "cembed: warning: no plots: {} {} {} {} (it needs python3-matplotlib; scripts/install-deps.sh "
               "installs it); the results are kept in {}\n",
               python, script, out_dir, status < 0 ? error : fmt::format("exited with status {}", status), out_dir);
    return false;
  }
  return true;
}

}  // namespace cembed::cli
