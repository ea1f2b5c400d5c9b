// What the GPTQ targets (gptq_affine.cc, gptq_gguf.cc) share: the checked, dampened and
// factored Hessian, the column order, and the copies between original and processing order.
#pragma once

#include <cstdint>
#include <vector>

#include "quant/methods/gptq.h"

namespace lowbit::gptq_detail {

struct Prepared {
  std::vector<float> W;           // rows × cols, ORIGINAL order, dead columns zeroed
  std::vector<float> U;           // cols × cols upper factor of (H + λI)⁻¹, PROCESSING order
  std::vector<float> importance;  // H_jj / 2 per original column (llama.cpp's imatrix), 0 if dead
  GptqReport report;              // damp, percdamp, dead_columns, perm (error left 0)
};

// Checks W and H (shape, finiteness, H_ii ≥ 0), handles dead columns, picks the order and
// factors the dampened inverse Hessian (raising percdamp on failure). `what` names the
// caller in errors.
Prepared prepare(const float* W, int64_t rows, int64_t cols, const float* H, const GptqOptions& options,
                 const char* what);

// out[r][k] = in[r][perm[k]] (original → processing order) and its inverse.
std::vector<float> to_processing_order(std::vector<float>&& in, int64_t rows, int64_t cols,
                                       const std::vector<int32_t>& perm);
std::vector<float> to_original_order(std::vector<float>&& in, int64_t rows, int64_t cols,
                                     const std::vector<int32_t>& perm);

// Below this many weights GPTQ's loops stay on one thread (starting a team costs more).
constexpr int64_t kParallelMinElements = int64_t{1} << 15;

}  // namespace lowbit::gptq_detail
