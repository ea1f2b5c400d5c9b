// A rows × cols float matrix quantized with one affine scheme (affine.h): the unpacked,
// method-neutral form that RTN/GPTQ/AWQ produce and block codecs pack.
//
// Layout (row-major throughout):
//   codes   rows·cols uint8 biased codes, codes[r·cols + c] = q − qmin ∈ [0, 2^bits − 1]
//           (affine.h explains the choice: one unsigned type for every scheme ≤ 8 bits)
//   scales  group_count floats, zeros group_count int32 (all 0 when symmetric), one per group:
//             PerTensor  1 group
//             PerChannel rows groups, group r = row r
//             PerGroup   rows · (cols / group_size) groups, group of (r, c) = r·(cols/gs) + c/gs
//   x̂(r, c) = scales[g] · (codes[r·cols + c] + qmin − zeros[g])
#pragma once

#include <cstdint>
#include <vector>

#include "quant/linear/affine.h"
#include "quant/linear/scale_search.h"

namespace lowbit {

struct QuantizedTensor {
  int64_t rows = 0, cols = 0;
  QuantScheme scheme;
  std::vector<uint8_t> codes;   // rows·cols biased codes
  std::vector<float> scales;    // one per group
  std::vector<int32_t> zeros;   // one per group
  double error = 0.0;           // Σ w (x − x̂)² over the tensor, weighted as the search was

  int64_t group_index(int64_t r, int64_t c) const;
  AffineParams params(int64_t group) const { return {scales[static_cast<size_t>(group)], zeros[static_cast<size_t>(group)]}; }
  int32_t q(int64_t r, int64_t c) const { return code_to_q(codes[static_cast<size_t>(r * cols + c)], scheme); }
  float value(int64_t r, int64_t c) const { return dequantize_value(q(r, c), params(group_index(r, c))); }

  // Throws Error when the vector sizes, codes, scales or zeros are inconsistent with the
  // shape and scheme (for tensors built by hand or read from elsewhere).
  void validate() const;
};

// Quantizes x (rows × cols, row-major) group by group: each group's params come from
// `search` (scale_search.h), then every element is quantized with them. Groups run in
// parallel (OpenMP); the result does not depend on the thread count.
// Throws Error on an invalid scheme or search, or on a NaN/infinite element, naming its row
// and column.
QuantizedTensor quantize_tensor(const float* x, int64_t rows, int64_t cols, const QuantScheme& scheme,
                                const ScaleSearch& search = {});

// Writes the rows·cols dequantized values x̂ to out. Throws Error if t fails validate().
void dequantize_tensor(const QuantizedTensor& t, float* out);
std::vector<float> dequantize_tensor(const QuantizedTensor& t);

}  // namespace lowbit
