// What this build of cembed is: its version, the instruction set it was compiled for, and the
// kernels its GEMMs run on this CPU (fp32: the same bits on every one, docs/reliability.md).
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

namespace cembed {

// {"version", "arch", "gemm": the fp32 GEMM's kernel on this CPU (kernels::gemm_kernel_name),
// "bf16_gemm": what --dense-precision bf16 runs on this CPU
// (kernels::bf16_path_name)}
nlohmann::json build_info();
// One line for --version, e.g. "cembed 0.1.0 (x86-64-v3; fp32 GEMM Highway AVX3 (12 x 32
// tiles); bf16 GEMM oneDNN bf16 matmul (avx512_core_amx))".
std::string build_info_line();

}  // namespace cembed
