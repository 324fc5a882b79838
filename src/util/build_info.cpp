#include "cembed/build_info.h"

#include <cblas.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "kernels/gemm_bf16.h"
#include "kernels/gemm_block.h"

namespace cembed {

nlohmann::json build_info() {
  return {{"version", CEMBED_VERSION},
          {"arch", CEMBED_ARCH_NAME},
          {"gemm", kernels::gemm_kernel_name()},
          {"openblas", {{"core", openblas_get_corename()}, {"config", openblas_get_config()}}},
          {"bf16_gemm", kernels::bf16_path_name()}};
}

std::string build_info_line() {
  return fmt::format("cembed {} ({}; fp32 GEMM {}; OpenBLAS {} kernels, {})", CEMBED_VERSION, CEMBED_ARCH_NAME,
                     kernels::gemm_kernel_name(), openblas_get_corename(), openblas_get_config());
}

}  // namespace cembed
