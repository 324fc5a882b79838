// The dense layers' bits depend on the kernel OpenBLAS runs (docs/reliability.md), which
// OpenBLAS picks from the CPU when it loads, before main, unless OPENBLAS_CORETYPE names
// one: on an Intel Xeon it picked SkylakeX and the quickstart's full tables gave AUC 0.74610
// where the Haswell kernel, which every x86-64-v3 CPU runs, gives 0.74717. So that cembed's
// results are the same on every machine of the kind, a process started without the variable
// sets it to kPinnedOpenblasCore and executes itself again (before MPI starts); a value the
// user set is kept. scripts/test.sh sets the same default for the tests.
#pragma once

namespace cembed::cli {

inline constexpr const char* kPinnedOpenblasCore = "Haswell";

// Returns only when the variable was set already or the new execution failed (then with a
// warning on stderr: the run goes on with the kernel OpenBLAS chose).
void pin_openblas_core(char** argv);

}  // namespace cembed::cli
