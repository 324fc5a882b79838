#include "embedding/registry.h"

#include "util/check.h"

namespace cembed {
namespace {

// The entry of methods.def's line `CEMBED_METHOD(name)`, which must be the method `name`.
MethodEntry listed(MethodEntry m, const char* name) {
  CEMBED_CHECK(m.info.name == name, "methods.def: {}_method() registers a method named '{}'", name, m.info.name);
  return m;
}

}  // namespace

const std::vector<MethodEntry>& method_registry() {
  static const std::vector<MethodEntry> registry = {
#define CEMBED_METHOD(name) listed(name##_method(), #name),
#include "embedding/methods.def"
#undef CEMBED_METHOD
  };
  return registry;
}

namespace {

const MethodEntry& find_method(const std::string& name, const std::string& spec_text) {
  std::string names;
  for (const auto& m : method_registry()) {
    if (m.info.name == name) return m;
    names += (names.empty() ? "" : ", ") + m.info.name;
  }
  fail("bad spec '{}': unknown method '{}' (valid methods: {})", spec_text, name, names);
}

}  // namespace

EmbeddingTablePtr make_table(const std::string& spec_text, const TableShape& shape) {
  const Spec spec = Spec::parse(spec_text);
  const MethodEntry& m = find_method(spec.name, spec_text);
  spec.check_keys(m.info.keys);
  CEMBED_CHECK(m.is_sized(spec), "spec '{}' has no size: give its size keys or a memory budget", spec_text);
  CEMBED_CHECK(shape.dim > 0, "spec '{}': embedding dimension must be positive, got {}", spec_text, shape.dim);
  CEMBED_CHECK(!shape.cardinalities.empty(), "spec '{}': a table needs at least one feature", spec_text);
  for (int64_t n : shape.cardinalities) {
    CEMBED_CHECK(n > 0, "spec '{}': feature cardinality must be positive, got {}", spec_text, n);
  }
  return m.build(spec, shape);
}

std::vector<MethodInfo> list_methods() {
  std::vector<MethodInfo> out;
  for (const auto& m : method_registry()) out.push_back(m.info);
  return out;
}

const MethodInfo& method_info(const std::string& name) { return find_method(name, name).info; }

int64_t spec_parameter_bytes(const Spec& spec, const TableShape& shape) {
  const MethodEntry& m = find_method(spec.name, spec.str());
  spec.check_keys(m.info.keys);
  return m.parameter_bytes(spec, shape);
}

Spec fit_spec_to_budget(const Spec& spec, const TableShape& shape, int64_t budget_bytes) {
  const MethodEntry& m = find_method(spec.name, spec.str());
  spec.check_keys(m.info.keys);
  return m.fit(spec, shape, budget_bytes);
}

bool spec_is_sized(const Spec& spec) {
  const MethodEntry& m = find_method(spec.name, spec.str());
  return m.is_sized(spec);
}

}  // namespace cembed

namespace cembed {
int64_t spec_min_bytes(const Spec& spec, const TableShape& shape) {
  const MethodEntry& m = find_method(spec.name, spec.str());
  return m.min_bytes(spec, shape);
}

bool spec_has_share_rule(const Spec& spec) { return find_method(spec.name, spec.str()).share_weight != nullptr; }

double spec_share_weight(const Spec& spec, const TableShape& shape) {
  const MethodEntry& m = find_method(spec.name, spec.str());
  if (m.share_weight != nullptr) return m.share_weight(spec, shape);
  double full = 0;
  for (int64_t n : shape.cardinalities)
    full += static_cast<double>(n * shape.dim * static_cast<int64_t>(sizeof(float)));
  return full;
}
}  // namespace cembed
