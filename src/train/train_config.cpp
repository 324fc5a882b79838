// TrainConfig's JSON, resume identity and layer lists, all generated from the one table of
// its settings (visit_train_settings in cembed/train_config.h).
#include "cembed/train_config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <type_traits>

#include "util/check.h"

namespace cembed {
namespace {

// The node at `key` ("a.b": b inside object a) in `j`, created when absent.
nlohmann::json& slot(nlohmann::json& j, std::string_view key) {
  nlohmann::json* node = &j;
  for (size_t start = 0;;) {
    const size_t dot = key.find('.', start);
    node = &(*node)[std::string(key.substr(start, dot == std::string_view::npos ? dot : dot - start))];
    if (dot == std::string_view::npos) return *node;
    start = dot + 1;
  }
}

// The node at `key`; nullptr when absent and `optional`, else json::at's out_of_range.
const nlohmann::json* find(const nlohmann::json& j, std::string_view key, bool optional) {
  const nlohmann::json* node = &j;
  for (size_t start = 0;;) {
    const size_t dot = key.find('.', start);
    const std::string part(key.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (optional && (!node->is_object() || !node->contains(part))) return nullptr;
    node = &node->at(part);
    if (dot == std::string_view::npos) return node;
    start = dot + 1;
  }
}

template <class T>
void write(nlohmann::json& j, const Setting& s, const T& v) {
  if constexpr (std::is_same_v<T, Budget>) {
    slot(j, std::string(s.key) + "_kind") = v.kind_name();
    slot(j, std::string(s.key) + "_value") = v.value;
  } else if constexpr (std::is_same_v<T, Pooling>) {
    slot(j, s.key) = pooling_name(v);
  } else {
    slot(j, s.key) = v;
  }
}

template <class T>
void read(const nlohmann::json& j, const Setting& s, T& v) {
  const bool optional = s.has(kRoleDefaultIfMissing);
  if constexpr (std::is_same_v<T, Budget>) {
    const auto* kind = find(j, std::string(s.key) + "_kind", optional);
    const auto* value = find(j, std::string(s.key) + "_value", optional);
    if (kind != nullptr) v.kind = Budget::parse_kind(kind->get<std::string>());
    if (value != nullptr) v.value = value->get<double>();
  } else if (const auto* node = find(j, s.key, optional)) {
    if constexpr (std::is_same_v<T, Pooling>) {
      v = parse_pooling(node->get<std::string>(), s.key);
    } else {
      v = node->get<T>();
    }
  }
}

// Each identity setting of `c`: its name, its value as a user would write it, and its value
// exactly as saved (what the resume check compares: the text may round, e.g. a ratio's {:g}).
struct IdentityValue {
  std::string name, text;
  nlohmann::json saved;
};
std::vector<IdentityValue> identity_values(const TrainConfig& c) {
  std::vector<IdentityValue> out;
  visit_train_settings(c, [&](const Setting& s, const auto& v) {
    using T = std::decay_t<decltype(v)>;
    if (!s.has(kRoleIdentity)) return;
    std::string text;
    if constexpr (std::is_same_v<T, Budget>) {
      text = v.str();
    } else if constexpr (std::is_same_v<T, Pooling>) {
      text = pooling_name(v);
    } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
      text = fmt::format("{}", fmt::join(layer_sizes(s.layers, v, c.model.dim), ","));
    } else if constexpr (std::is_floating_point_v<T>) {
      text = fmt::format("{}", v);  // shortest: 0.05, not the float widened to double
    } else {
      text = nlohmann::json(v).dump();
    }
    std::string name = s.option.empty() ? std::string(s.key) : "--" + std::string(s.option);
    if constexpr (std::is_same_v<T, Budget>) name = "the embedding budget (--embedding-budget, --compression)";
    nlohmann::json saved = nlohmann::json::object();
    write(saved, s, v);
    out.push_back({std::move(name), std::move(text), std::move(saved)});
  });
  return out;
}

}  // namespace

nlohmann::json TrainConfig::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  visit_train_settings(*this, [&](const Setting& s, const auto& v) {
    if (!s.key.empty()) write(j, s, v);
  });
  return j;
}

TrainConfig TrainConfig::from_json(const nlohmann::json& j) {
  TrainConfig c;
  visit_train_settings(c, [&](const Setting& s, auto& v) {
    if (!s.key.empty()) read(j, s, v);
  });
  return c;
}

nlohmann::json resume_identity(const TrainConfig& c) {
  nlohmann::json j = nlohmann::json::object();
  visit_train_settings(c, [&](const Setting& s, const auto& v) {
    if (s.has(kRoleIdentity)) write(j, s, v);
  });
  return j;
}

nlohmann::json sweep_identity(const TrainConfig& c, std::initializer_list<std::string_view> varied) {
  nlohmann::json j = nlohmann::json::object();
  visit_train_settings(c, [&](const Setting& s, const auto& v) {
    const bool is_varied = std::find(varied.begin(), varied.end(), s.option) != varied.end();
    if (!s.key.empty() && !s.has(kRoleNoEffect) && !is_varied) write(j, s, v);
  });
  return j;
}

std::optional<SettingDifference> first_identity_difference(const TrainConfig& a, const TrainConfig& b) {
  const auto va = identity_values(a), vb = identity_values(b);
  for (size_t i = 0; i < va.size(); ++i) {
    if (va[i].saved == vb[i].saved) continue;
    if (va[i].text != vb[i].text) return SettingDifference{va[i].name, va[i].text, vb[i].text};
    return SettingDifference{va[i].name, va[i].saved.dump(), vb[i].saved.dump()};  // the text rounded them alike
  }
  return std::nullopt;
}

std::vector<int64_t> layer_sizes(LayerList which, const std::vector<int64_t>& hidden, int64_t dim) {
  std::vector<int64_t> sizes = hidden;
  if (which != LayerList::None) sizes.push_back(which == LayerList::Bottom ? dim : 1);
  return sizes;
}

std::vector<int64_t> hidden_sizes(LayerList which, const std::vector<int64_t>& sizes, int64_t dim) {
  if (which == LayerList::None) return sizes;
  const bool bottom = which == LayerList::Bottom;
  const char* option = bottom ? "--bottom" : "--top";
  const int64_t end = bottom ? dim : 1;
  CEMBED_CHECK(!sizes.empty(), "{} needs at least one size, the last {}", option, bottom ? "equal to --dim" : "1");
  if (sizes.back() != end) {
    std::vector<int64_t> fixed = sizes;
    fixed.push_back(end);
    if (bottom) {
      fail(
          "{0} {1}: the last size is the bottom MLP's output and must equal --dim {2} (TorchRec's "
          "dense_arch_layer_sizes); write {0} {3}{4}",
          option, fmt::join(sizes, ","), dim, fmt::join(fixed, ","),
          sizes.back() > 0 ? fmt::format(" (or give --dim {})", sizes.back()) : "");
    }
    fail(
        "{0} {1}: the last size is the top MLP's output, the click logit, and must be 1 (TorchRec's "
        "over_arch_layer_sizes, DLRM's --arch-mlp-top); write {0} {2}",
        option, fmt::join(sizes, ","), fmt::join(fixed, ","));
  }
  return {sizes.begin(), sizes.end() - 1};
}

std::string pooling_name(Pooling p) { return p == Pooling::Mean ? "mean" : "sum"; }

Pooling parse_pooling(const std::string& name, std::string_view what) {
  CEMBED_CHECK(name == "sum" || name == "mean", "{} must be sum or mean, got '{}'", what, name);
  return name == "mean" ? Pooling::Mean : Pooling::Sum;
}

}  // namespace cembed
