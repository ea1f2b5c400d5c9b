// The codec table (one row per GGUF type lowbit can read or write) and the whole-tensor
// helpers. Adding a format: a block struct in blocks.h, its row functions, one row here.
#include "quant/codecs/codec.h"

#include <array>

#include "core/error.h"

namespace lowbit {
namespace {

constexpr QuantCodec kCodecs[] = {
    {GgmlType::F32, quantize_row_f32, dequantize_row_f32},
    {GgmlType::F16, quantize_row_f16, dequantize_row_f16},
    {GgmlType::BF16, quantize_row_bf16, dequantize_row_bf16},
    {GgmlType::Q4_0, quantize_row_q4_0, dequantize_row_q4_0},
    {GgmlType::Q4_1, quantize_row_q4_1, dequantize_row_q4_1},
    {GgmlType::Q5_0, quantize_row_q5_0, dequantize_row_q5_0},
    {GgmlType::Q5_1, quantize_row_q5_1, dequantize_row_q5_1},
    {GgmlType::Q8_0, quantize_row_q8_0, dequantize_row_q8_0},
    {GgmlType::Q8_1, quantize_row_q8_1, dequantize_row_q8_1},
    {GgmlType::Q2_K, quantize_row_q2_k, dequantize_row_q2_k},
    {GgmlType::Q3_K, quantize_row_q3_k, dequantize_row_q3_k},
    {GgmlType::Q4_K, quantize_row_q4_k, dequantize_row_q4_k},
    {GgmlType::Q5_K, quantize_row_q5_k, dequantize_row_q5_k},
    {GgmlType::Q6_K, quantize_row_q6_k, dequantize_row_q6_k},
    {GgmlType::Q8_K, quantize_row_q8_k, dequantize_row_q8_k},
    {GgmlType::IQ4_NL, quantize_row_iq4_nl, dequantize_row_iq4_nl},
    {GgmlType::IQ4_XS, quantize_row_iq4_xs, dequantize_row_iq4_xs},
    {GgmlType::TQ1_0, quantize_row_tq1_0, dequantize_row_tq1_0},
    {GgmlType::TQ2_0, quantize_row_tq2_0, dequantize_row_tq2_0},
};
constexpr int kCodecCount = static_cast<int>(sizeof(kCodecs) / sizeof(kCodecs[0]));

// codec_for's index: type id -> row of kCodecs, or -1.
constexpr std::array<int, kGgmlTypeCount> make_index() {
  std::array<int, kGgmlTypeCount> idx{};
  for (auto& i : idx) i = -1;
  for (int i = 0; i < kCodecCount; ++i) idx[static_cast<uint32_t>(kCodecs[i].type)] = i;
  return idx;
}
constexpr auto kIndex = make_index();

// The codec and its row bytes, or an Error naming what is wrong.
const QuantCodec& checked_codec(GgmlType t, int64_t rows, int64_t row_len, uint64_t* row_bytes,
                                bool quantize) {
  const QuantCodec* c = codec_for(t);
  if (!c || !(quantize ? c->quantize_row != nullptr : c->dequantize_row != nullptr))
    fail("{}: lowbit has no codec to {} type {}", quantize ? "quantize_tensor" : "dequantize_tensor",
         quantize ? "write" : "read", ggml_type_name(t));
  if (rows < 0 || row_len < 0)
    fail("{}: negative shape {} x {}", quantize ? "quantize_tensor" : "dequantize_tensor", rows, row_len);
  if (!ggml_row_bytes(t, static_cast<uint64_t>(row_len), row_bytes))
    fail("{}: row length {} is not a multiple of {}'s block size {}",
         quantize ? "quantize_tensor" : "dequantize_tensor", row_len, ggml_type_name(t),
         ggml_traits(t).block_size);
  return *c;
}

}  // namespace

const QuantCodec* codec_for(GgmlType t) {
  const auto id = static_cast<uint32_t>(t);
  if (id >= kGgmlTypeCount || kIndex[id] < 0) return nullptr;
  return &kCodecs[kIndex[id]];
}

const QuantCodec* all_codecs(int* count) {
  *count = kCodecCount;
  return kCodecs;
}

void quantize_tensor(GgmlType t, const float* x, void* y, int64_t rows, int64_t row_len,
                     const float* importance) {
  uint64_t row_bytes = 0;
  const QuantCodec& c = checked_codec(t, rows, row_len, &row_bytes, true);
  auto* out = static_cast<uint8_t*>(y);
  // Rows are independent (each quantize_row reads only its row and the shared importance).
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t r = 0; r < rows; ++r)
    c.quantize_row(x + r * row_len, out + static_cast<uint64_t>(r) * row_bytes, row_len, importance);
}

void dequantize_tensor(GgmlType t, const void* x, float* y, int64_t rows, int64_t row_len) {
  uint64_t row_bytes = 0;
  const QuantCodec& c = checked_codec(t, rows, row_len, &row_bytes, false);
  const auto* in = static_cast<const uint8_t*>(x);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    c.dequantize_row(in + static_cast<uint64_t>(r) * row_bytes, y + r * row_len, row_len);
}

}  // namespace lowbit
