#include "util/npy.h"

#include <filesystem>
#include <type_traits>

#include "cembed/dlrm.h"
#include "util/atomic_file.h"
#include "util/check.h"

namespace cembed {
namespace {

template <typename T>
void write_any(const std::string& path, const std::vector<T>& data, const std::vector<int64_t>& shape) {
  const char* descr = std::is_same_v<T, float> ? "<f4" : std::is_same_v<T, double> ? "<f8" : "<i8";
  std::string dims;
  for (int64_t d : shape) dims += std::to_string(d) + ",";
  if (shape.size() > 1) dims.pop_back();
  std::string header = "{'descr': '" + std::string(descr) + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string bytes("\x93NUMPY\x01\x00", 8);
  const auto len = static_cast<uint16_t>(header.size());
  bytes.append(reinterpret_cast<const char*>(&len), 2);
  bytes += header;
  bytes.append(reinterpret_cast<const char*>(data.data()), data.size() * sizeof(T));
  write_file_atomically(path, bytes);
}

}  // namespace

void write_npy(const std::string& p, const std::vector<float>& d, const std::vector<int64_t>& s) { write_any(p, d, s); }
void write_npy(const std::string& p, const std::vector<double>& d, const std::vector<int64_t>& s) {
  write_any(p, d, s);
}
void write_npy(const std::string& p, const std::vector<int64_t>& d, const std::vector<int64_t>& s) {
  write_any(p, d, s);
}

void export_dlrm_parameters(Dlrm& model, const std::string& dir) {
  std::filesystem::create_directories(dir);
  for (auto [mlp, name] : {std::pair{&model.bottom(), "bottom"}, std::pair{&model.top(), "top"}}) {
    for (int l = 0; l < mlp->num_layers(); ++l) {
      const auto& layer = mlp->layer(l);
      write_npy(dir + "/" + name + "_w" + std::to_string(l) + ".npy", layer.weight, {layer.out, layer.in});
      write_npy(dir + "/" + name + "_b" + std::to_string(l) + ".npy", layer.bias, {layer.out});
    }
  }
  for (int t = 0; t < model.embeddings().num_tables(); ++t) {
    auto block = model.embeddings().table(t).parameter_blocks()[0];
    const int64_t dim = model.embeddings().dim();
    write_npy(dir + "/table" + std::to_string(t) + ".npy", std::vector<float>(block.begin(), block.end()),
              {static_cast<int64_t>(block.size()) / dim, dim});
  }
}

}  // namespace cembed
