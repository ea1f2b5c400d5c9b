// The block-format codecs of GGUF (llama.cpp's quantization types), one traits row per type:
// quantize and dequantize references, bit-compatible with ggml. Sizes and names come from
// core/ggml_type.h; this table adds the math.
//
// quantize_row: x (n floats, n a multiple of the block size) -> n/block_size blocks at y.
//   importance: optional per-element weights (length n; llama.cpp's imatrix column weights
//   repeated per row) that turn the scale search into a weighted least-squares fit; nullptr
//   means the type's reference (unweighted) rounding.
// dequantize_row: blocks -> n floats, exactly as ggml's dequantize_row_<type>.
// Quantization writes llama.cpp's bytes (llama-quantize without an imatrix for nullptr
// importance; ggml's quantize_row_<type>_impl with one). Non-finite input gives unspecified
// codes in its own block, never undefined behaviour; a scale beyond f16's range becomes inf,
// as in ggml. The float arithmetic follows ggml's operation order: build without FMA
// contraction (the x86-64 baseline has no FMA) or results drift from llama.cpp's by an ulp.
#pragma once

#include <cstdint>

#include "core/ggml_type.h"

namespace lowbit {

using QuantizeRowFn = void (*)(const float* x, void* y, int64_t n, const float* importance);
using DequantizeRowFn = void (*)(const void* x, float* y, int64_t n);

struct QuantCodec {
  GgmlType type;
  QuantizeRowFn quantize_row;      // nullptr: lowbit cannot write this type
  DequantizeRowFn dequantize_row;  // nullptr: lowbit cannot read this type
};

// The codec for a type, or nullptr when lowbit has none.
const QuantCodec* codec_for(GgmlType t);
// All codecs (for tests and benchmarks).
const QuantCodec* all_codecs(int* count);

// Whole-tensor helpers over rows of row_len elements (multi-threaded). Throw Error when the
// type has no codec or row_len is not a multiple of the block size.
// importance (quantize_tensor): nullptr or row_len weights, one per column, shared by every
// row (llama.cpp's imatrix entry for the tensor); each row's quantize_row sees the same array.
void quantize_tensor(GgmlType t, const float* x, void* y, int64_t rows, int64_t row_len, const float* importance);
void dequantize_tensor(GgmlType t, const void* x, float* y, int64_t rows, int64_t row_len);

// The per-type row functions behind the table (block structs in quant/codecs/blocks.h), for
// callers that know their type at compile time, e.g. the kernels quantizing activations to
// Q8_0 / Q8_1 / Q8_K. Each quantize_row_* treats x as one row: the importance-weighted paths
// use row statistics (sigma^2 over the row or super-block), like ggml's quantize_<type>.
// Types without importance support (Q8_*, TQ*, F16, BF16, F32) ignore it.
void quantize_row_f32(const float* x, void* y, int64_t n, const float* importance);
void dequantize_row_f32(const void* x, float* y, int64_t n);
void quantize_row_f16(const float* x, void* y, int64_t n, const float* importance);
void dequantize_row_f16(const void* x, float* y, int64_t n);
void quantize_row_bf16(const float* x, void* y, int64_t n, const float* importance);
void dequantize_row_bf16(const void* x, float* y, int64_t n);
void quantize_row_q4_0(const float* x, void* y, int64_t n, const float* importance);
void dequantize_row_q4_0(const void* x, float* y, int64_t n);
void quantize_row_q4_1(const float* x, void* y, int64_t n, const float* importance);
void dequantize_row_q4_1(const void* x, float* y, int64_t n);
void quantize_row_q5_0(const float* x, void* y, int64_t n, const float* importance);
void dequantize_row_q5_0(const void* x, float* y, int64_t n);
void quantize_row_q5_1(const float* x, void* y, int64_t n, const float* importance);
void dequantize_row_q5_1(const void* x, float* y, int64_t n);
void quantize_row_q8_0(const float* x, void* y, int64_t n, const float* importance);
void dequantize_row_q8_0(const void* x, float* y, int64_t n);
void quantize_row_q8_1(const float* x, void* y, int64_t n, const float* importance);
void dequantize_row_q8_1(const void* x, float* y, int64_t n);
void quantize_row_q2_k(const float* x, void* y, int64_t n, const float* importance);
void dequantize_row_q2_k(const void* x, float* y, int64_t n);
void quantize_row_q3_k(const float* x, void* y, int64_t n, const float* importance);
void dequantize_row_q3_k(const void* x, float* y, int64_t n);
void quantize_row_q4_k(const float* x, void* y, int64_t n, const float* importance);
void dequantize_row_q4_k(const void* x, float* y, int64_t n);
void quantize_row_q5_k(const float* x, void* y, int64_t n, const float* importance);
void dequantize_row_q5_k(const void* x, float* y, int64_t n);
void quantize_row_q6_k(const float* x, void* y, int64_t n, const float* importance);
void dequantize_row_q6_k(const void* x, float* y, int64_t n);
void quantize_row_q8_k(const float* x, void* y, int64_t n, const float* importance);
void dequantize_row_q8_k(const void* x, float* y, int64_t n);
void quantize_row_iq4_nl(const float* x, void* y, int64_t n, const float* importance);
void dequantize_row_iq4_nl(const void* x, float* y, int64_t n);
void quantize_row_iq4_xs(const float* x, void* y, int64_t n, const float* importance);
void dequantize_row_iq4_xs(const void* x, float* y, int64_t n);
void quantize_row_tq1_0(const float* x, void* y, int64_t n, const float* importance);
void dequantize_row_tq1_0(const void* x, float* y, int64_t n);
void quantize_row_tq2_0(const float* x, void* y, int64_t n, const float* importance);
void dequantize_row_tq2_0(const void* x, float* y, int64_t n);

}  // namespace lowbit
