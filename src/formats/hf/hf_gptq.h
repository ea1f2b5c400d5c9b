// The Hugging Face GPTQ checkpoint layout: AutoGPTQ's checkpoint_format "gptq" (v1), the one
// transformers, vLLM and AutoGPTQ load. Each quantized nn.Linear W (out × in, y = W·x) is
// stored as four tensors next to where "<prefix>.weight" would be:
//
//   <prefix>.qweight  I32 [in·bits/32, out]      codes, packed along the input dim
//   <prefix>.qzeros   I32 [n_groups, out·bits/32] zero points − 1 (v1), packed along out
//   <prefix>.scales   F16 [n_groups, out]
//   <prefix>.g_idx    I32 [in]                    the group of each input column
//
//   W[o][i] = scales[g][o] · (code(i, o) − zero(g, o)),   g = g_idx[i]
//
// Packing (AutoGPTQ QuantLinear.pack, qlinear_cuda_old.py): the b-bit values of one column of
// qweight (one output o, input i = 0, 1, ...) form a little-endian bit stream, value k at bit
// k·b, cut into 32-bit words: word w holds stream bits [32w, 32w + 32). For b = 2, 4, 8 a word
// holds 32/b whole values, low bits first (4-bit codes 0..7 -> 0x76543210). For b = 3 the
// stream crosses words: 32 values fill 3 words, value 10 has bits 0–1 at the top of word 0 and
// bit 2 at the bottom of word 1, value 21 bit 0 at the top of word 1 and bits 1–2 at the
// bottom of word 2 — AutoGPTQ's "i += 10; qweight[row] |= intweight[i] << 30" sequence. qzeros
// packs each group row the same way along the output dim.
//
// The v1 off-by-one: AutoGPTQ stores zero − 1 (its `zeros -= 1` before packing) and every v1
// loader adds the 1 back, so z must be in [1, 2^b − 1] to be written (z = 0 would wrap). v2
// ("gptq_v2", GPTQModel's internal format) stores z itself; lowbit reads both, writes v1.
// Symmetric schemes (sym = true) use z = 2^(b−1) (AutoGPTQ's (maxq + 1) / 2), so 4-bit sym
// qzeros words are 0x77777777. g_idx is i / group_size for plain and static-group act-order
// checkpoints; dynamic act-order checkpoints permute it, which the layout carries as is.
// group_size −1 means one group over the whole input (per output channel).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lowbit {

// quantization_config in config.json (AutoGPTQ also writes it to quantize_config.json).
struct HfGptqConfig {
  int bits = 4;                   // 2, 3, 4 or 8
  int group_size = 128;           // > 0, or -1: per output channel
  bool desc_act = false;          // act-order (columns processed by descending Hessian diagonal)
  bool sym = true;
  bool static_groups = false;     // group params fixed before act-order (g_idx = i / group_size)
  bool true_sequential = true;    // sub-layer sequential quantization within a block
  double damp_percent = 0.01;
  bool lm_head = false;           // lm_head quantized too
  bool v2 = false;                // checkpoint_format "gptq_v2": qzeros hold z, not z − 1
};

nlohmann::ordered_json hf_gptq_config_json(const HfGptqConfig& c);   // with quant_method "gptq"

// The quantization_config of a model directory: config.json's, else quantize_config.json's;
// nullopt when neither has one. Error naming the file and field for one lowbit cannot load
// (another quant_method, bits not 2/3/4/8, a bad group_size, an unknown checkpoint_format).
std::optional<HfGptqConfig> hf_gptq_config_read(const std::string& dir);

// Throws Error unless a bits-wide layer of in × out can be packed: bits ∈ {2, 3, 4, 8},
// in·bits and out·bits multiples of 32 (whole qweight/qzeros words), in, out > 0. `what`
// names the layer in the message.
void gptq_check_shape(const std::string& what, int bits, int64_t in, int64_t out);

// The b-bit value stream packed into words (n·bits a multiple of 32; values < 2^bits).
void gptq_pack_bits(const uint32_t* values, int64_t n, int bits, uint32_t* words);
void gptq_unpack_bits(const uint32_t* words, int64_t n, int bits, uint32_t* values);

// One linear layer unpacked: what a quantizer produces and a loader dequantizes.
struct GptqLinear {
  int bits = 4;
  int64_t in = 0, out = 0, n_groups = 0;
  std::vector<uint8_t> codes;     // out × in, row-major as W: code(o, i) ∈ [0, 2^bits − 1]
  std::vector<int32_t> zeros;     // n_groups × out: the zero point z itself (not z − 1)
  std::vector<uint16_t> scales;   // n_groups × out, float16 bits
  std::vector<int32_t> g_idx;     // in, each in [0, n_groups)
};

// The four tensors as stored (row-major, the shapes above).
struct GptqPacked {
  std::vector<int32_t> qweight, qzeros, g_idx;
  std::vector<uint16_t> scales;
};

// v1 packing. Throws Error (naming `what`) on a bad shape (gptq_check_shape), vector sizes
// that do not match it, a code ≥ 2^bits, a zero outside [1, 2^bits − 1], or a g_idx entry
// outside [0, n_groups).
GptqPacked gptq_pack(const GptqLinear& l, const std::string& what);

// One stored tensor as found in a file: little-endian bytes (unaligned), dtype, row-major
// shape. The caller vouches that data holds the bytes the dtype and shape need (as
// safetensors_read checks); everything else about them is checked here.
struct GptqTensorView {
  const uint8_t* data = nullptr;  // null: absent (allowed for g_idx only)
  std::string dtype;
  std::vector<int64_t> shape;
};

// Unpacks the four tensors of layer `what`, checking dtypes (I32, I32, F16, I32), every shape
// against bits (and group_size when g_idx is absent: then g_idx = i / group_size) and every
// g_idx entry. Never trusts the file: Error naming the tensor and field on any mismatch.
GptqLinear gptq_unpack(const std::string& what, const GptqTensorView& qweight, const GptqTensorView& qzeros,
                       const GptqTensorView& scales, const GptqTensorView& g_idx, const HfGptqConfig& cfg);

// W (out × in, row-major fp32): W[o][i] = f16(scales[g][o]) · float(code − z), g = g_idx[i] —
// the same float operations as lowbit's dequantize_value, so exact for lowbit's own exports.
void gptq_dequantize(const GptqLinear& l, float* W);

}  // namespace lowbit
