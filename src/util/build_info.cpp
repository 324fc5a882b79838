#include "cembed/build_info.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "kernels/gemm_bf16.h"
#include "kernels/gemm_block.h"

namespace cembed {

nlohmann::json build_info() {
  return {{"version", CEMBED_VERSION},
          {"arch", CEMBED_ARCH_NAME},
          {"gemm", kernels::gemm_kernel_name()},
          {"bf16_gemm", kernels::bf16_path_name()}};
}

std::string build_info_line() {
  return fmt::format("cembed {} ({}; fp32 GEMM {}; bf16 GEMM {})", CEMBED_VERSION, CEMBED_ARCH_NAME,
                     kernels::gemm_kernel_name(), kernels::bf16_path_name());
}

}  // namespace cembed
