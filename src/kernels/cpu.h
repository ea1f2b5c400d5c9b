// Runtime ISA selection, decided once: the best the CPU supports, or what LOWBIT_ISA
// (ref | avx2 | avx512) forces. Kernels are compiled per ISA in *_avx2.cc / *_avx512.cc
// and picked through the function-pointer tables in dispatch.h.
#pragma once

namespace lowbit {

enum class Isa { Ref = 0, Avx2 = 1, Avx512 = 2 };

Isa cpu_best_isa();          // what the hardware supports (cpuid + OS state)
Isa active_isa();            // min(cpu_best_isa(), LOWBIT_ISA) or the forced override
void force_isa(Isa isa);     // tests and --isa flags; clamps to cpu_best_isa()
const char* isa_name(Isa isa);
bool isa_from_name(const char* name, Isa* out);

}  // namespace lowbit
