// Whole-model quantization to GGUF: every tensor is read (any source format, any codec),
// widened to fp32 in GGUF layout (HF q/k rows permuted to llama.cpp's RoPE order), given a
// type by the mix (preset rules, then --tensor-type overrides, then row-length fallback),
// quantized (optionally importance-weighted), and written atomically with llama.cpp's
// metadata. Float "mixes" (F32/F16/BF16) make this the converter too.
#pragma once

#include <string>
#include <vector>

#include "core/ggml_type.h"
#include "calib/observers.h"
#include "model/model_file.h"
#include "model/w8a8.h"

namespace lowbit {

enum class QuantMethod { Rtn, Imatrix, Gptq, Awq, SmoothQuant, AwqGptq };   // AwqGptq: "awq+gptq"
const char* quant_method_name(QuantMethod m);
bool quant_method_from_name(const std::string& s, QuantMethod* out);

struct QuantizeOptions {
  std::string mix = "Q4_K_M";
  QuantMethod method = QuantMethod::Rtn;
  std::string imatrix_file;             // precomputed importance (llama.cpp imatrix .gguf/.dat)
  std::vector<std::string> calib_files; // calibration text (imatrix / gptq / awq / smoothquant)
  int calib_n_seq = 64, calib_seq_len = 256;
  uint64_t calib_seed = 1234;
  double gptq_damp = 0.01;
  bool gptq_act_order = true;
  int gptq_block = 128;
  bool awq_clip = true;
  float smooth_alpha = 0.5f;            // SmoothQuant migration strength α
  W8A8Mode w8a8 = W8A8Mode::None;       // smoothquant: int8 weights + int8 activations (model/w8a8.h)
  ObserverKind act_observer = ObserverKind::MinMax;   // W8A8 static: the activation range's observer
  std::vector<std::string> overrides;   // "PATTERN=TYPE"
  bool pure = false;                    // no per-role rules: every matrix gets the base type
  bool progress = true;
};

struct TensorReport {
  std::string name;
  GgmlType type;
  std::vector<int64_t> ne;
  uint64_t n_params = 0, bytes = 0;
  std::string reason;   // why not the mix's base type ("" when it is)
};

struct QuantizeReport {
  std::string mix, method;
  uint64_t peak_rss_bytes = 0;
  double calib_seconds = 0;
  std::vector<TensorReport> tensors;
  uint64_t n_params = 0, bytes = 0;
  double bits_per_weight = 0, seconds = 0;
};

QuantizeReport quantize_model(const ModelFile& in, const std::string& out_path, const QuantizeOptions& opts);

// Peak resident set size of this process so far (VmHWM), in bytes; 0 if unknown.
uint64_t peak_rss_bytes();

// One tensor as fp32 in GGUF layout (dequantized; HF q/k permuted to interleaved RoPE).
std::unique_ptr<float[]> tensor_f32_gguf_layout(const ModelFile& m, const TensorRef& t);

// llama.cpp's q/k row permutation for one matrix of n_heads heads (rows = n_heads * head_dim,
// each row row_bytes long): row h*d + 2i + j  <-  row h*d + j*d/2 + i.
void permute_rope_rows(const uint8_t* src, uint8_t* dst, int n_heads, int head_dim, size_t row_bytes);

}  // namespace lowbit
