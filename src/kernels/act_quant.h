// Activation rows quantized exactly as llama.cpp's x86 CPU backend does before its integer
// dot products (ggml-cpu quantize_row_q8_0 / q8_1 with AVX: id = 127 / amax, products
// rounded half to even; Q8_K: the reference quantize_row_q8_K). Matching these bit for bit
// matters: a flipped rounding in one activation changes every later layer a little, and
// such flips compound into visible log-prob differences between otherwise equal engines.
#pragma once

#include <cstdint>

namespace lowbit {

void quantize_act_q8_0(const float* x, void* y, int64_t n);
void quantize_act_q8_1(const float* x, void* y, int64_t n);

}  // namespace lowbit
