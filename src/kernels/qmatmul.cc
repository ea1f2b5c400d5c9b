#include "kernels/qmatmul.h"

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "kernels/fgemm.h"
#include "kernels/matmul.h"
#include "kernels/qdot.h"
#include "kernels/qtile.h"
#include "kernels/repack.h"
#include "kernels/w8a8_matmul.h"
#include "quant/codecs/codec.h"

namespace lowbit {

// Below this many tokens the row-by-row dot kernels win (the tile unpack is not amortized).
constexpr int64_t kTileMinTokens = 8;

// LOWBIT_TILE=0 turns the tile and packed-decode paths off (benchmarks compare both paths in one run).
bool tile_path_enabled() {
  static const bool on = [] {
    const char* e = std::getenv("LOWBIT_TILE");
    return !(e && std::string(e) == "0");
  }();
  return on;
}

void qmatmul(const QMatrix& W, const float* X, int64_t T, float* Y, std::vector<uint8_t>& scratch) {
  if (W.type == GgmlType::I8) return w8a8_matmul(W, X, T, Y, scratch);   // W8A8, lowbit-only
  if (W.type == GgmlType::F32) {
    matmul_f32(reinterpret_cast<const float*>(W.data), W.in, W.out, X, T, Y);
    return;
  }
  // F16 / BF16 batches: llama.cpp's tinyBLAS order (fgemm.h), for two or more tokens as there.
  if (T >= 2 && fgemm_matmul(W, X, T, Y, active_isa())) return;
  // Interleaved weights (repacked at load): batches through the tile kernels, which read them
  // back to rows per tile; decode through the group kernels.
  if (W.layout == WeightLayout::Interleaved16) {
    if (T >= kTileMinTokens && tile_path_enabled() && qtile_matmul(W, X, T, Y, active_isa())) return;
    return repacked_matmul(W, X, T, Y, active_isa());
  }
  // Batches: unpack each 32-row tile once for all tokens (qtile.h) where the type and ISA allow.
  if (T >= kTileMinTokens && tile_path_enabled() && qtile_matmul(W, X, T, Y, active_isa())) return;
  if (T < kTileMinTokens && tile_path_enabled() && qgemv_matmul(W, X, T, Y, active_isa())) return;
  const QDotKernel* k = find_qdot(W.type, active_isa());
  if (!k) fail("no matrix kernel for weight type {}", ggml_type_name(W.type));
  const GgmlType at = act_type_for(W.type);
  uint64_t arow = 0;
  if (!ggml_row_bytes(at, W.in, &arow)) fail("row length {} does not fit activation type {}", W.in, ggml_type_name(at));
  scratch.resize(arow * T);
  uint8_t* A = scratch.data();
  const int64_t work = W.in * W.out * T;
  const int threads = work < (1 << 16) ? 1 : omp_get_max_threads();
#pragma omp parallel num_threads(threads)
  {
#pragma omp for schedule(static)
    for (int64_t t = 0; t < T; ++t) quantize_activation_row(at, X + t * W.in, A + t * arow, W.in);
    // Tiles of 16 weight rows: each tile is read from memory once per batch. Static schedule:
    // each thread streams one contiguous range of rows, which the hardware prefetchers follow
    // (interleaved 16-row chunks halved the two-thread decode bandwidth).
    constexpr int64_t kRows = 16;
    const int64_t tiles = (W.out + kRows - 1) / kRows;
    const VecDotFn dot = k->dot;
#pragma omp for schedule(static)
    for (int64_t tile = 0; tile < tiles; ++tile) {
      const int64_t o0 = tile * kRows, o1 = std::min(W.out, o0 + kRows);
      for (int64_t t = 0; t < T; ++t) {
        const uint8_t* a = A + t * arow;
        float* y = Y + t * W.out;
        for (int64_t o = o0; o < o1; ++o) y[o] = dot(W.in, W.data + o * W.row_bytes, a);
      }
    }
  }
}

void qmatmul__ref(const QMatrix& W, const float* X, int64_t T, float* Y) {
  std::vector<float> row(W.in);
  std::vector<uint8_t> plain(W.layout == WeightLayout::Rows ? 0 : W.row_bytes);
  const QuantCodec* c = codec_for(W.type);
  for (int64_t o = 0; o < W.out; ++o) {
    const uint8_t* src = W.data + o * W.row_bytes;
    if (!plain.empty()) {
      unrepack_rows(W, o, 1, plain.data());
      src = plain.data();
    }
    if (W.type == GgmlType::F32) std::copy_n(reinterpret_cast<const float*>(src), W.in, row.data());
    else c->dequantize_row(src, row.data(), W.in);
    for (int64_t t = 0; t < T; ++t) {
      double s = 0;
      for (int64_t i = 0; i < W.in; ++i) s += static_cast<double>(row[i]) * X[t * W.in + i];
      Y[t * W.out + o] = static_cast<float>(s);
    }
  }
}

}  // namespace lowbit
