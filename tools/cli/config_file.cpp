// `--config FILE` for any subcommand: the TOML file's keys are that subcommand's long
// option names; each becomes "--key value" unless the command line already gives it
// (the command line wins). Arrays become comma lists, booleans flags.
#include <toml++/toml.h>

#include <algorithm>

#include "commands.h"
#include "util/check.h"

namespace cembed::cli {
namespace {

// One value as the command line would give it: numbers as written (TOML integers and
// floats are not strings), strings as they are.
std::string scalar_text(const toml::node& n, const std::string& file, const std::string& key) {
  if (const auto* s = n.as_string()) return s->get();
  if (const auto* i = n.as_integer()) return std::to_string(i->get());
  if (const auto* d = n.as_floating_point()) return fmt::format("{}", d->get());
  if (const auto* b = n.as_boolean()) return b->get() ? "true" : "false";
  fail("{}:{}: key '{}' must be a string, number, boolean or array", file, n.source().begin.line, key);
}

}  // namespace

std::vector<std::string> expand_config_file(CLI::App& app, std::vector<std::string> args) {
  // Only after a subcommand name.
  auto sub_it = std::find_if(args.begin(), args.end(), [&](const std::string& a) {
    for (auto* s : app.get_subcommands({})) {
      if (s->get_name() == a) return true;
    }
    return false;
  });
  if (sub_it == args.end()) return args;
  CLI::App* sub = app.get_subcommand(*sub_it);
  auto cfg_it = std::find(sub_it, args.end(), "--config");
  if (cfg_it == args.end()) return args;
  CEMBED_CHECK(cfg_it + 1 != args.end(), "--config needs a file name");
  const std::string file = *(cfg_it + 1);
  args.erase(cfg_it, cfg_it + 2);

  toml::table table;
  try {
    table = toml::parse_file(file);
  } catch (const toml::parse_error& e) {
    fail("{}:{}:{}: {}", file, e.source().begin.line, e.source().begin.column, e.description());
  }
  std::vector<std::string> extra;
  for (const auto& [k, node] : table) {
    const std::string key(k.str());
    const std::string flag = "--" + key;
    CEMBED_CHECK(key != "config" && sub->get_option_no_throw(flag) != nullptr, "{}: '{}' is not an option of '{}'",
                 file, key, sub->get_name());
    const bool given = std::any_of(args.begin(), args.end(),
                                   [&](const std::string& a) { return a == flag || a.rfind(flag + "=", 0) == 0; });
    if (given) continue;  // the command line wins
    if (const auto* b = node.as_boolean()) {
      if (b->get()) extra.push_back(flag);
    } else if (const auto* arr = node.as_array()) {
      std::string joined;
      for (const auto& item : *arr) joined += (joined.empty() ? "" : ",") + scalar_text(item, file, key);
      extra.push_back(flag);
      extra.push_back(joined);
    } else {
      extra.push_back(flag);
      extra.push_back(scalar_text(node, file, key));
    }
  }
  args.insert(sub_it + 1, extra.begin(), extra.end());
  return args;
}

}  // namespace cembed::cli
