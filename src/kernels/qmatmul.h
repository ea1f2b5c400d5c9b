// Matrix products straight from stored weights, whatever their type: Y[t][o] = W[o] · X[t].
// F32 weights go to OpenBLAS; every other type quantizes each activation row once to the
// weight type's partner format (qdot.h: act_type_for) and runs the type's dot kernel over
// tiles of weight rows x tokens, so a tile of weight rows stays in cache across the batch.
#pragma once

#include <cstdint>
#include <vector>

#include "core/ggml_type.h"

namespace lowbit {

// How a matrix's blocks are laid out in memory: row after row as in GGUF, or repacked at load
// so that 16 rows' blocks interleave (kernels/repack.h; the decode kernels read whole 512-bit
// vectors of 16 rows, nothing to unpack per row).
enum class WeightLayout : uint8_t { Rows = 0, Interleaved16 = 1 };

struct QMatrix {
  GgmlType type = GgmlType::F32;
  const uint8_t* data = nullptr;
  int64_t in = 0, out = 0;      // row length, rows
  uint64_t row_bytes = 0;       // a row's bytes in its block type (either layout)
  // I8 only (W8A8, kernels/w8a8_matmul.h): per-row weight scales, and the activations'
  // static per-tensor range [act_lo, act_hi] when act_static (else dynamic per token).
  const float* row_scales = nullptr;
  bool act_static = false;
  float act_lo = 0, act_hi = 0;
  WeightLayout layout = WeightLayout::Rows;
};

// Scratch is reused between calls (activation rows in the partner format).
void qmatmul(const QMatrix& W, const float* X, int64_t T, float* Y, std::vector<uint8_t>& scratch);

// Plain reference: dequantize each row and dot in double. For tests.
void qmatmul__ref(const QMatrix& W, const float* X, int64_t T, float* Y);

}  // namespace lowbit
