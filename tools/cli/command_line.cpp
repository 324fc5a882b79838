// Names on the command line that are not cembed's: an unknown command or option is reported
// by its own name, with the nearest known one, before CLI11 sees the arguments.
#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "commands.h"
#include "util/check.h"

namespace cembed::cli {
namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), size_t{0});
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// " (did you mean 'x'?)" for the nearest name within a few edits, else "".
std::string suggestion(const std::string& name, const std::vector<std::string>& known) {
  std::string best;
  size_t best_d = std::max<size_t>(2, name.size() / 3) + 1;
  for (const auto& k : known) {
    const size_t d = edit_distance(name, k);
    if (d < best_d) {
      best_d = d;
      best = k;
    }
  }
  return best.empty() ? "" : fmt::format("; did you mean '{}'?", best);
}

bool is_number(const std::string& s) {
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return !s.empty() && end != s.c_str() && *end == '\0';
}

}  // namespace

void check_command_line(CLI::App& app, const std::vector<std::string>& args) {
  std::vector<std::string> commands;
  for (const auto* s : app.get_subcommands({})) commands.push_back(s->get_name());
  if (args.empty()) return;  // CLI11: "A subcommand is required"
  const std::string& first = args[0];
  if (first.empty() || first[0] == '-') return;  // --help, or an option CLI11 reports
  CLI::App* sub = nullptr;
  for (CLI::App* s : app.get_subcommands({})) {
    if (s->get_name() == first) sub = s;
  }
  if (sub == nullptr) {
    fail("unknown command '{}'{} (commands: {})", first, suggestion(first, commands), fmt::join(commands, ", "));
  }
  std::vector<std::string> names;
  for (const CLI::Option* o : sub->get_options()) {
    for (const auto& n : o->get_lnames()) names.push_back("--" + n);
  }
  bool value_next = false;  // the token after an option that takes a value is that value
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") break;
    const bool value = value_next;
    value_next = false;
    if (a.size() < 2 || a[0] != '-' || is_number(a) || value) continue;
    const std::string name = a.substr(0, a.find('='));
    if (name == "-h" || name == "--help") continue;
    if (name == "--config") {
      value_next = a.find('=') == std::string::npos;
      continue;
    }
    const CLI::Option* o = sub->get_option_no_throw(name);
    if (o != nullptr) {
      value_next = a.find('=') == std::string::npos && o->get_type_size() != 0;
      continue;
    }
    {
      fail("unknown option '{}' for '{}'{} (cembed {} --help lists them)", name, sub->get_name(),
           suggestion(name, names), sub->get_name());
    }
  }
}

}  // namespace cembed::cli
