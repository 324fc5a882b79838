#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <type_traits>

#include "commands.h"
#include "util/check.h"

namespace cembed::cli {

CLI::Validator range_check(const Range& range) {
  return CLI::Validator(
      [range](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (end == text.c_str() || *end != '\0') return {};  // not a number: the conversion says so
        return range.contains(v) ? std::string() : range.complaint(v);
      },
      "");
}

void BudgetOptions::add_to(CLI::App& app) {
  app.add_option("--embedding-budget", bytes, "embedding parameter budget in bytes, e.g. 64MiB");
  add_ranged(app, "compression", ratio, ranges::compression, "embedding budget as a ratio: full-table bytes / budget");
}

Budget BudgetOptions::resolve() const {
  CEMBED_CHECK(bytes.empty() || ratio == 0, "give --embedding-budget or --compression, not both");
  if (!bytes.empty()) return Budget::parse_bytes(bytes);
  if (ratio != 0) return Budget::ratio(ratio);
  return Budget::none();
}

double parse_ratio(const std::string& text, const std::string& what) {
  double ratio = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), ratio);
  CEMBED_CHECK(ec == std::errc() && ptr == text.data() + text.size(), "bad {} '{}': expected a number", what, text);
  if (!ranges::compression.contains(ratio)) fail("bad {} '{}': {}", what, text, ranges::compression.complaint(ratio));
  return ratio;
}

void TrainOptions::add_to(CLI::App& app, const std::vector<std::string>& except) {
  add_selected(app, except, false);
  app.add_option("--config", "read options from a TOML file (keys are the long option names; the command line wins)");
}

void TrainOptions::add_only(CLI::App& app, const std::vector<std::string>& only) { add_selected(app, only, true); }

void TrainOptions::add_selected(CLI::App& app, const std::vector<std::string>& names, bool only) {
  const TrainConfig defaults;
  std::vector<std::string> known;
  visit_train_settings(config, [&](const Setting& s, auto& field) {
    using T = std::decay_t<decltype(field)>;
    if (s.option.empty()) return;
    const std::string name(s.option), help(s.help);
    known.push_back(name);
    if ((std::find(names.begin(), names.end(), name) != names.end()) != only) return;
    if constexpr (std::is_same_v<T, Budget>) {
      budget.add_to(app);
    } else if constexpr (std::is_same_v<T, Pooling>) {
      app.add_option("--" + name, pooling, help)->capture_default_str();
    } else if constexpr (std::is_same_v<T, bool>) {
      // A flag: sets the opposite of the default (--no-shuffle, --quiet, --ranking).
      bool dflt = false;
      visit_train_settings(defaults, [&](const Setting& d, const auto& v) {
        if constexpr (std::is_same_v<std::decay_t<decltype(v)>, bool>) {
          if (d.option == s.option) dflt = v;
        }
      });
      app.add_flag_function(
          "--" + name,
          [&field, dflt](std::int64_t n) {
            if (n > 0) field = !dflt;
          },
          help);
    } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
      auto& given = s.layers == LayerList::Bottom ? bottom : top;
      app.add_option("--" + name, given, help + " " + s.range->describe())
          ->delimiter(',')
          ->check(range_check(*s.range));
    } else if constexpr (std::is_same_v<T, std::string>) {
      auto* o = app.add_option("--" + name, field, help);
      if (s.has(kRoleRequired)) o->required();
      if (!field.empty()) o->capture_default_str();
    } else if (s.range) {
      add_ranged(app, name, field, *s.range, help);
    } else {
      app.add_option("--" + name, field, help)->capture_default_str();
    }
  });
  for (const auto& n : names) {
    CEMBED_CHECK(std::find(known.begin(), known.end(), n) != known.end(), "no train setting '{}'", n);
  }
}

TrainConfig TrainOptions::apply() const {
  TrainConfig c = config;
  c.budget = budget.resolve();
  c.model.pooling = parse_pooling(pooling, "--pooling");
  if (!bottom.empty()) c.model.bottom_hidden = hidden_sizes(LayerList::Bottom, bottom, c.model.dim);
  if (!top.empty()) c.model.top_hidden = hidden_sizes(LayerList::Top, top, c.model.dim);
  return c;
}

TrainConfig TrainOptions::resolve() const {
  TrainConfig c = apply();
  c.validate();
  return c;
}

void print_results_table(const std::vector<nlohmann::json>& reports) {
  std::vector<std::string> labels;
  size_t width = 22;
  for (const auto& r : reports) {
    std::string label = r.at("embedding").at("method").get<std::string>();
    const auto& cfg = r.at("config");
    if (cfg.at("budget_kind") == "ratio") label += fmt::format(" @{:g}x", cfg.at("budget_value").get<double>());
    if (cfg.at("budget_kind") == "bytes") label += fmt::format(" @{:.0f}B", cfg.at("budget_value").get<double>());
    width = std::max(width, label.size());
    labels.push_back(std::move(label));
  }
  fmt::print("{:<{}} {:>14} {:>8} {:>9} {:>9} {:>12}\n", "method", width, "emb bytes", "x less", "test AUC", "logloss",
             "samples/s");
  for (size_t i = 0; i < reports.size(); ++i) {
    const auto& r = reports[i];
    const auto& e = r.at("embedding");
    // No test set: no numbers, rather than zeros that read as results.
    const std::string quality = r.contains("test") ? fmt::format("{:>9.5f} {:>9.5f}", r["test"].at("auc").get<double>(),
                                                                 r["test"].at("logloss").get<double>())
                                                   : fmt::format("{:>19}", "no test set");
    fmt::print("{:<{}} {:>14} {:>8.2f} {} {:>12.0f}\n", labels[i], width, e.at("parameter_bytes").get<int64_t>(),
               e.at("compression").get<double>(), quality, r.at("train").at("samples_per_second").get<double>());
  }
}

void print_ranking(const nlohmann::json& r) {
  const auto negatives = r.at("negatives").get<int64_t>();
  const int k = r.at("k").get<int>();
  fmt::print("ranking: {} queries, {} candidates each: nDCG@{} {:.5f}  HitRate@{} {:.5f}  AUC {:.5f}\n",
             r.at("queries").get<int64_t>(), negatives > 0 ? std::to_string(negatives) + " sampled" : "all unseen", k,
             r.at("ndcg_at_k").get<double>(), k, r.at("hit_rate_at_k").get<double>(), r.at("auc").get<double>());
}

std::vector<std::string> split_spec_list(const std::vector<std::string>& raw) {
  std::vector<std::string> out;
  for (const std::string& arg : raw) {
    size_t pos = 0;
    bool first = true;
    while (pos <= arg.size()) {
      const size_t comma = arg.find(',', pos);
      const std::string frag = arg.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      const bool continues = frag.find('=') != std::string::npos && frag.find(':') == std::string::npos;
      if (continues && !first && !out.empty()) {
        out.back() += "," + frag;
      } else {
        CEMBED_CHECK(!frag.empty(), "empty entry in the list '{}'", arg);
        CEMBED_CHECK(!continues, "'{}' in '{}' is a key=value with no method before it", frag, arg);
        out.push_back(frag);
      }
      first = false;
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
  }
  return out;
}

}  // namespace cembed::cli
