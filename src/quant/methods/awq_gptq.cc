#include "quant/methods/awq_gptq.h"

#include "quant/methods/awq_fold.h"

namespace lowbit {

std::vector<float> scale_hessian(const float* H, int64_t n, std::span<const float> s) {
  check_channel_scales(s, n);
  std::vector<float> out(static_cast<size_t>(n * n));
  for (int64_t i = 0; i < n; ++i) {
    const double inv_i = 1.0 / s[static_cast<size_t>(i)];
    for (int64_t j = 0; j < n; ++j)
      out[static_cast<size_t>(i * n + j)] =
          static_cast<float>(H[i * n + j] * inv_i / static_cast<double>(s[static_cast<size_t>(j)]));
  }
  return out;
}

}  // namespace lowbit
