#include "kernels/cpu.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace lowbit {
namespace {

Isa detect() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                      __builtin_cpu_supports("avx512vnni");
  if (avx512) return Isa::Avx512;
  if (avx2) return Isa::Avx2;
#endif
  return Isa::Ref;
}

std::atomic<int> g_forced{-1};

}  // namespace

Isa cpu_best_isa() {
  static const Isa best = detect();
  return best;
}

Isa active_isa() {
  const int f = g_forced.load();
  if (f >= 0) return static_cast<Isa>(f);
  static const Isa from_env = [] {
    Isa isa = cpu_best_isa();
    if (const char* e = std::getenv("LOWBIT_ISA"); e && *e) {
      Isa want;
      if (isa_from_name(e, &want) && static_cast<int>(want) < static_cast<int>(isa)) isa = want;
    }
    return isa;
  }();
  return from_env;
}

void force_isa(Isa isa) {
  if (static_cast<int>(isa) > static_cast<int>(cpu_best_isa())) isa = cpu_best_isa();
  g_forced.store(static_cast<int>(isa));
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Ref: return "ref";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "?";
}

bool isa_from_name(const char* name, Isa* out) {
  if (!std::strcmp(name, "ref")) *out = Isa::Ref;
  else if (!std::strcmp(name, "avx2")) *out = Isa::Avx2;
  else if (!std::strcmp(name, "avx512")) *out = Isa::Avx512;
  else return false;
  return true;
}

}  // namespace lowbit
