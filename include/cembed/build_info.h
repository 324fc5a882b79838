// What this build of cembed is: its version, the instruction set it was compiled for and the
// OpenBLAS kernel that runs its GEMMs. Results are bitwise reproducible for one build and one
// OpenBLAS kernel (docs/reliability.md), so reports record both.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

namespace cembed {

// {"version", "arch", "openblas": {"core", "config"}, "bf16_gemm": what --dense-precision bf16
// runs on this CPU (kernels::bf16_path_name)}
nlohmann::json build_info();
// One line for --version, e.g. "cembed 0.1.0 (x86-64-v3; OpenBLAS Haswell kernels, ...)".
std::string build_info_line();

}  // namespace cembed
