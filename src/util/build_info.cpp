#include "cembed/build_info.h"

#include <cblas.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "kernels/gemm_bf16.h"

namespace cembed {

nlohmann::json build_info() {
  return {{"version", CEMBED_VERSION},
          {"arch", CEMBED_ARCH_NAME},
          {"openblas", {{"core", openblas_get_corename()}, {"config", openblas_get_config()}}},
          {"bf16_gemm", kernels::bf16_path_name()}};
}

std::string build_info_line() {
  return fmt::format("cembed {} ({}; OpenBLAS {} kernels, {})", CEMBED_VERSION, CEMBED_ARCH_NAME,
                     openblas_get_corename(), openblas_get_config());
}

}  // namespace cembed
