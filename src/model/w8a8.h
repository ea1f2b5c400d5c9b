// lowbit's W8A8 GGUF files (SmoothQuant, `lowbit quantize --method smoothquant --w8a8 MODE`):
// the block linears are int8 with one float scale per output row, activations are quantized
// to int8 at run time (kernels/w8a8_matmul.h). llama.cpp has no per-channel int8 type, so
// such files run in lowbit only. Layout, beside llama.cpp's usual tensors and metadata:
//
//   lowbit.w8a8                       string "dynamic" (per-token activation scales) or
//                                     "static" (one calibrated range per matrix input)
//   blk.N.<role>.weight               I8 (ggml type 24) [in, out]: codes in [−127, 127]
//   blk.N.<role>.weight_scale         F32 [out]: W[o, :] ≈ weight_scale[o] · codes[o, :]
//   blk.N.<role>.input_range          F32 [2] = {lo, hi}, static only: the activation range
//                                     the calibration observer chose (scale max(|lo|,|hi|)/127)
//
// token_embd, output and the norms keep whatever type the mix gave them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kernels/qmatmul.h"
#include "model/model_file.h"

namespace lowbit {

enum class W8A8Mode { None, Dynamic, Static };
constexpr const char* kW8A8Key = "lowbit.w8a8";
const char* w8a8_mode_name(W8A8Mode m);                        // "none", "dynamic", "static"
bool w8a8_mode_from_name(const std::string& s, W8A8Mode* out);  // "dynamic" | "static"

std::string w8a8_scale_name(const std::string& weight_name);   // blk.N.attn_q.weight -> ..._scale
std::string w8a8_range_name(const std::string& weight_name);   // blk.N.attn_q.weight -> blk.N.attn_q.input_range

// The file's mode from its lowbit.w8a8 key (None when absent; Error on another value).
W8A8Mode w8a8_mode_of(const ModelFile& m);

// The I8 matrix t of m with its scales (copied into `owned`) and, static, its input range.
// Every missing or malformed companion is an Error naming the file and tensor.
QMatrix load_w8a8_matrix(const ModelFile& m, const TensorRef& t, std::vector<std::unique_ptr<float[]>>& owned);

}  // namespace lowbit
