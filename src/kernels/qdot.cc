#include "kernels/qdot.h"

#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/half.h"
#include "kernels/act_quant.h"
#include "quant/codecs/codec.h"

namespace lowbit {

GgmlType act_type_for(GgmlType w) {
  switch (w) {
    case GgmlType::Q4_0: case GgmlType::Q5_0: case GgmlType::Q8_0: case GgmlType::IQ4_NL:
      return GgmlType::Q8_0;
    case GgmlType::Q4_1: case GgmlType::Q5_1:
      return GgmlType::Q8_1;
    case GgmlType::Q2_K: case GgmlType::Q3_K: case GgmlType::Q4_K: case GgmlType::Q5_K: case GgmlType::Q6_K:
    case GgmlType::IQ4_XS: case GgmlType::TQ1_0: case GgmlType::TQ2_0:
      return GgmlType::Q8_K;
    case GgmlType::F16: return GgmlType::F16;
    case GgmlType::BF16: return GgmlType::BF16;
    default: return GgmlType::F32;
  }
}

void quantize_activation_row(GgmlType act, const float* x, void* y, int64_t n) {
  switch (act) {
    case GgmlType::F32: std::memcpy(y, x, n * 4); return;
    case GgmlType::F16: {
      auto* h = static_cast<uint16_t*>(y);
      for (int64_t i = 0; i < n; ++i) h[i] = f32_to_f16(x[i]);
      return;
    }
    case GgmlType::BF16: {
      auto* h = static_cast<uint16_t*>(y);
      for (int64_t i = 0; i < n; ++i) h[i] = f32_to_bf16(x[i]);
      return;
    }
    case GgmlType::Q8_0: quantize_act_q8_0(x, y, n); return;
    case GgmlType::Q8_1: quantize_act_q8_1(x, y, n); return;
    default: {
      const QuantCodec* c = codec_for(act);
      if (!c || !c->quantize_row) fail("no activation quantizer for {}", ggml_type_name(act));
      c->quantize_row(x, y, n, nullptr);
    }
  }
}

const QDotKernel* all_qdot_kernels(int* count) {
  static const std::vector<QDotKernel> all = [] {
    std::vector<QDotKernel> v;
    int n = 0;
    const QDotKernel* a = qdot_kernels_legacy(&n);
    v.insert(v.end(), a, a + n);
    const QDotKernel* b = qdot_kernels_kquants(&n);
    v.insert(v.end(), b, b + n);
    return v;
  }();
  *count = static_cast<int>(all.size());
  return all.data();
}

const QDotKernel* find_qdot(GgmlType w, Isa isa) {
  int n = 0;
  const QDotKernel* k = all_qdot_kernels(&n);
  const QDotKernel* best = nullptr;
  for (int i = 0; i < n; ++i)
    if (k[i].wtype == w && static_cast<int>(k[i].isa) <= static_cast<int>(isa) &&
        static_cast<int>(k[i].isa) <= static_cast<int>(cpu_best_isa()) &&
        (!best || static_cast<int>(k[i].isa) > static_cast<int>(best->isa)))
      best = &k[i];
  return best;
}

}  // namespace lowbit
