#include "cembed/sweep.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cembed/dataset.h"
#include "cembed/factory.h"
#include "cembed/memory_plan.h"
#include "cembed/spec.h"
#include "util/check.h"
#include "util/file_format.h"
#include "util/output_check.h"

namespace cembed {
namespace {

namespace fs = std::filesystem;

struct RunKey {
  std::string method;
  double ratio;
  uint64_t seed;
};

std::string key_string(const std::string& method, double ratio, uint64_t seed) {
  return fmt::format("{}@{:g}#{}", method, ratio, seed);
}

// The parts of the base configuration that make two sweeps comparable.
// The settings the results file records: run_one() sets embedding, budget and seed per run.
// Cells trained by groups of G ranks train on G shards (the one-process sweep's --shards G).
nlohmann::json sweep_identity(const SweepConfig& c) {
  TrainConfig base = c.base;
  if (base.shards == 0 && c.ranks_per_cell > 1) base.shards = c.ranks_per_cell;
  return sweep_identity(base, {"embedding", "budget", "seed"});
}

std::vector<RunKey> planned_runs(const SweepConfig& c) {
  std::vector<RunKey> runs;
  for (uint64_t seed : c.seeds) {
    for (const auto& m : c.methods) {
      if (Spec::parse(m).name == "full") {
        runs.push_back({m, 1.0, seed});
        continue;
      }
      for (double r : c.ratios) runs.push_back({m, r, seed});
    }
  }
  return runs;
}

// Trains one cell: in this process (`cell` null), or data-parallel over the ranks of `cell`.
nlohmann::json run_one(const SweepConfig& c, const RunKey& k, const DatasetSchema& schema, Communicator* cell) {
  nlohmann::json rec = {{"method", k.method}, {"ratio", k.ratio}, {"seed", k.seed}};
  TrainConfig t = c.base;
  t.embedding = k.method;
  t.budget = Spec::parse(k.method).name == "full" ? Budget{} : Budget::ratio(k.ratio);
  t.seed = k.seed;
  t.progress = false;
  t.report_path.clear();
  try {
    // Whether the budget can be met (the same whatever the value frequencies: train plans
    // again with them).
    plan_memory(t.embedding, schema.sparse, t.model.dim, t.budget, t.small_threshold, parse_allocation(t.allocation));
  } catch (const Error& e) {
    rec["status"] = "infeasible";
    rec["error"] = e.what();
    return rec;
  }
  const nlohmann::json report = cell != nullptr ? train(t, *cell) : train(t);
  const auto& e = report.at("embedding");
  rec["status"] = "ok";
  for (const char* f : {"parameter_bytes", "optimizer_bytes", "auxiliary_bytes", "compression"}) rec[f] = e.at(f);
  rec["plan"] = report.at("plan");
  rec["samples_per_second"] = report.at("train").at("samples_per_second");
  rec["train_seconds"] = report.at("train").at("seconds");
  rec["curve"] = report.at("train").at("curve");
  for (const char* split : {"valid", "test", "ranking"}) {
    if (report.contains(split)) rec[split] = report.at(split);
  }
  return rec;
}

}  // namespace

nlohmann::json run_sweep(const SweepConfig& c) {
  SingleProcess one;
  return run_sweep(c, one);
}

nlohmann::json run_sweep(const SweepConfig& c, Communicator& comm) {
  CEMBED_CHECK(!c.out_dir.empty(), "sweep: no output folder");
  CEMBED_CHECK(!c.methods.empty(), "sweep: no methods");
  CEMBED_CHECK(!c.seeds.empty(), "sweep: no seeds");
  for (double r : c.ratios) CEMBED_CHECK(r > 0, "sweep: ratios must be positive, got {}", r);
  for (const auto& m : c.methods) {  // spec errors before any training
    const Spec spec = Spec::parse(m);
    method_info(spec.name);
    CEMBED_CHECK(spec_takes_budget(spec),
                 "sweep: '{}' gives its size, but a sweep sizes every method from its ratios: drop the size keys", m);
  }
  c.base.validate();
  const int per_cell = c.ranks_per_cell;
  check_range("--ranks-per-cell", per_cell, ranges::ranks_per_cell);
  CEMBED_CHECK(comm.size() % per_cell == 0,
               "sweep: --ranks-per-cell {} does not divide the job's {} ranks: start a multiple of {} ranks, or give a "
               "divisor of {}",
               per_cell, comm.size(), per_cell, comm.size());
  CEMBED_CHECK(per_cell == 1 || c.base.shards == 0 || c.base.shards == per_cell,
               "sweep: --shards {} with --ranks-per-cell {}: each rank of a cell reads one shard (leave --shards out, "
               "or give {})",
               c.base.shards, per_cell, per_cell);
  const bool writer = comm.rank() == 0;  // rank 0 alone writes and prints
  if (writer) {
    check_dir_writable(c.out_dir, "sweep output folder");
    fs::create_directories(c.out_dir);
  }
  const std::string results_path = c.out_dir + "/results.json";

  nlohmann::json results = {{"config", sweep_identity(c)}, {"runs", nlohmann::json::array()}};
  if (writer && fs::exists(results_path)) {
    std::ifstream in(results_path);
    nlohmann::json old;
    try {
      old = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      fail("{}: not a sweep results file ({}); remove it or use another --out", results_path, e.what());
    }
    CEMBED_CHECK(old.contains("config") && old["config"] == results["config"],
                 "{} holds a sweep of another configuration (data, model or optimizer differ); use another --out",
                 results_path);
    results["runs"] = old.at("runs");
  }
  if (comm.size() > 1) results = nlohmann::json::parse(comm.broadcast(results.dump(), 0));
  std::map<std::string, bool> done;
  for (const auto& r : results["runs"]) {
    done[key_string(r.at("method"), r.at("ratio").get<double>(), r.at("seed").get<uint64_t>())] = true;
  }

  const Dataset train_data = Dataset::open(c.base.train_path, false);
  const auto runs = planned_runs(c);
  std::vector<int> pending;  // indices into runs
  for (size_t i = 0; i < runs.size(); ++i) {
    if (!done.count(key_string(runs[i].method, runs[i].ratio, runs[i].seed))) pending.push_back(static_cast<int>(i));
  }
  // Groups of consecutive ranks, one cell each per round (a job of one: one run per round);
  // a group's rank 0 hands its cell's record on, and rank 0 records each round's runs in
  // the planned order.
  const auto ranks = static_cast<size_t>(comm.size());
  const auto groups = ranks / static_cast<size_t>(per_cell);
  const auto group = static_cast<size_t>(comm.rank() / per_cell);
  const std::unique_ptr<Communicator> cell = per_cell > 1 ? comm.split(static_cast<int>(group)) : nullptr;
  for (size_t first = 0; first < pending.size(); first += groups) {
    nlohmann::json mine;  // null: no run for this rank's group in this round, or not its group's rank 0
    if (first + group < pending.size()) {
      const int index = pending[first + group];
      const auto t0 = std::chrono::steady_clock::now();
      nlohmann::json rec = run_one(c, runs[index], train_data.schema(), cell.get());
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (cell == nullptr || cell->rank() == 0) mine = {{"index", index}, {"seconds", secs}, {"run", std::move(rec)}};
    }
    std::vector<nlohmann::json> round;
    if (ranks == 1) {
      round.push_back(std::move(mine));
    } else {
      const std::string text = mine.dump();
      std::vector<int64_t> counts;
      const auto all = comm.allgather_values<char>(std::span<const char>(text.data(), text.size()), &counts);
      size_t at = 0;
      for (int64_t n : counts) {
        round.push_back(nlohmann::json::parse(all.begin() + static_cast<std::ptrdiff_t>(at),
                                              all.begin() + static_cast<std::ptrdiff_t>(at + n)));
        at += static_cast<size_t>(n);
      }
    }
    for (auto& done_run : round) {
      if (done_run.is_null()) continue;
      const RunKey& k = runs[done_run["index"].get<int>()];
      const nlohmann::json& rec = done_run["run"];
      if (c.progress && writer) {
        const int index = done_run["index"].get<int>() + 1;
        const double secs = done_run["seconds"].get<double>();
        if (rec["status"] == "ok") {
          const nlohmann::json& m = rec.contains("test") ? rec["test"] : rec.contains("valid") ? rec["valid"] : rec;
          fmt::print(stderr, "[{}/{}] {} @{:g}x seed {}: {} bytes, AUC {:.5f}, log loss {:.5f} ({:.1f} s)\n", index,
                     runs.size(), k.method, k.ratio, k.seed, rec["parameter_bytes"].get<int64_t>(), m.value("auc", 0.0),
                     m.value("logloss", 0.0), secs);
        } else {
          fmt::print(stderr, "[{}/{}] {} @{:g}x seed {}: infeasible ({})\n", index, runs.size(), k.method, k.ratio,
                     k.seed, rec["error"].get<std::string>());
        }
      }
      results["runs"].push_back(rec);
    }
    if (writer) write_file_atomically(results_path, results.dump(1) + "\n");
  }
  if (!writer) return results;
  write_file_atomically(results_path, results.dump(1) + "\n");
  write_file_atomically(c.out_dir + "/results.csv", sweep_csv(results));
  write_file_atomically(c.out_dir + "/results.md", sweep_markdown(results));
  return results;
}

namespace {

const nlohmann::json* metrics_of(const nlohmann::json& run) {
  if (run.contains("test")) return &run["test"];
  if (run.contains("valid")) return &run["valid"];
  return nullptr;
}

std::string mean_sd(const std::vector<double>& v, int digits) {
  if (v.empty()) return "";
  double mean = 0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  if (v.size() == 1) return fmt::format("{:.{}f}", mean, digits);
  double var = 0;
  for (double x : v) var += (x - mean) * (x - mean);
  return fmt::format("{:.{}f} ± {:.{}f}", mean, digits, std::sqrt(var / static_cast<double>(v.size() - 1)), digits);
}

}  // namespace

std::string sweep_markdown(const nlohmann::json& results) {
  std::vector<std::string> methods;
  std::vector<double> ratios;
  for (const auto& r : results.at("runs")) {
    const std::string m = r.at("method");
    if (std::find(methods.begin(), methods.end(), m) == methods.end()) methods.push_back(m);
    const double x = r.at("ratio");
    if (std::find(ratios.begin(), ratios.end(), x) == ratios.end()) ratios.push_back(x);
  }
  std::sort(ratios.begin(), ratios.end());
  bool has_ranking = false;
  for (const auto& r : results.at("runs")) has_ranking = has_ranking || r.contains("ranking");
  std::vector<std::tuple<std::string, std::string, int>> tables = {{"Test AUC", "auc", 4},
                                                                   {"Test log loss", "logloss", 4}};
  if (has_ranking) {
    tables.emplace_back("Ranking nDCG@k (held-out positives among sampled unseen items)", "ranking.ndcg_at_k", 4);
    tables.emplace_back("Ranking HitRate@k", "ranking.hit_rate_at_k", 4);
  }
  std::string out;
  for (const auto& [title, field, digits] : tables) {
    out += fmt::format("{} (columns: times less embedding memory than full tables)\n\n| method |", title);
    for (double r : ratios) out += fmt::format(" {:g}x |", r);
    out += "\n|---|";
    for (size_t i = 0; i < ratios.size(); ++i) out += "---:|";
    out += "\n";
    for (const auto& m : methods) {
      out += fmt::format("| {} |", m);
      for (double ratio : ratios) {
        std::vector<double> values;
        bool infeasible = false;
        for (const auto& r : results.at("runs")) {
          if (r.at("method") != m || r.at("ratio").get<double>() != ratio) continue;
          if (r.at("status") != "ok") {
            infeasible = true;
            continue;
          }
          if (field.starts_with("ranking.")) {
            if (r.contains("ranking")) values.push_back(r["ranking"].at(field.substr(8)).get<double>());
            continue;
          }
          const nlohmann::json* mt = metrics_of(r);
          if (mt != nullptr) values.push_back(mt->at(field).get<double>());
        }
        out += " " + (values.empty() ? std::string(infeasible ? "—" : "") : mean_sd(values, digits)) + " |";
      }
      out += "\n";
    }
    out += "\n";
  }
  out += "— : the method cannot meet that budget (see results.json for the planner's message).\n";
  return out;
}

std::string sweep_csv(const nlohmann::json& results) {
  std::string out =
      "method,ratio,seed,status,parameter_bytes,optimizer_bytes,auxiliary_bytes,compression,auc,logloss,"
      "samples_per_second,train_seconds,ndcg_at_k,hit_rate_at_k\n";
  for (const auto& r : results.at("runs")) {
    const nlohmann::json* mt = metrics_of(r);
    const bool ok = r.at("status") == "ok";
    out += fmt::format("\"{}\",{:g},{},{}", r.at("method").get<std::string>(), r.at("ratio").get<double>(),
                       r.at("seed").get<uint64_t>(), r.at("status").get<std::string>());
    if (ok) {
      out += fmt::format(",{},{},{},{:.4f},{:.6f},{:.6f},{:.1f},{:.2f}", r["parameter_bytes"].get<int64_t>(),
                         r["optimizer_bytes"].get<int64_t>(), r["auxiliary_bytes"].get<int64_t>(),
                         r["compression"].get<double>(), mt ? mt->at("auc").get<double>() : 0.0,
                         mt ? mt->at("logloss").get<double>() : 0.0, r["samples_per_second"].get<double>(),
                         r["train_seconds"].get<double>());
      if (r.contains("ranking")) {
        out += fmt::format(",{:.6f},{:.6f}\n", r["ranking"]["ndcg_at_k"].get<double>(),
                           r["ranking"]["hit_rate_at_k"].get<double>());
      } else {
        out += ",,\n";
      }
    } else {
      out += ",,,,,,,,,,\n";
    }
  }
  return out;
}

}  // namespace cembed
