// Affine (uniform, "linear") integer quantization: the arithmetic every lowbit method shares.
//
//   quantize:    q  = clamp(round(x / s) + z, qmin, qmax)        (round = ties to even)
//   dequantize:  x̂ = s · (q − z)
//
// s > 0 is the scale (step between neighbouring grid points), z the integer zero point,
// [qmin, qmax] the integer code range of a b-bit scheme. For any x inside the representable
// range [s·(qmin − z), s·(qmax − z)], |x − x̂| ≤ s/2: rounding moves x at most half a step.
//
// Two families (Jacob et al. 2018, "Quantization and Training of Neural Networks for
// Efficient Integer-Arithmetic-Only Inference", eq. 1; Nagel et al. 2021, "A White Paper on
// Neural Network Quantization", §2.2):
//   symmetric:  z = 0, signed range. Full range [−2^(b−1), 2^(b−1) − 1] by default; with
//               restricted_range the most negative code is dropped, [−(2^(b−1) − 1), 2^(b−1) − 1],
//               so the grid is mirror-symmetric (what int8 GEMMs that negate operands want).
//   asymmetric: unsigned range [0, 2^b − 1] and an integer zero point z ∈ [qmin, qmax], chosen
//               so that 0.0 is a grid point: x = 0 → q = z → x̂ = s·0 = 0 exactly. Exact zeros
//               matter for padding, ReLU outputs and pruned weights (white paper §2.2).
//
// Codes are stored as uint8 "biased" codes c = q − qmin ∈ [0, 2^b − 1] for every scheme
// (asymmetric: c = q; symmetric: c = q + 2^(b−1), or + 2^(b−1) − 1 when restricted). One
// unsigned type holds every scheme up to 8 bits, including asymmetric 8-bit codes up to 255
// that an int8 could not, and the low b bits pack into b-bit fields as they are (GGUF's Q4_0
// stores its nibbles the same way, q + 8). Dequantize a stored code with
// x̂ = s · (c + qmin − z); code_to_q / q_to_code convert.
#pragma once

#include <cstdint>
#include <span>

namespace lowbit {

// Which elements share one (scale, zero) pair. A tensor is rows × cols, row-major; a row is
// one output channel (the row of a weight matrix W in y = W·x), its cols the input features.
enum class Granularity : uint8_t {
  PerTensor,   // one pair for the whole tensor
  PerChannel,  // one pair per row
  PerGroup,    // one pair per group_size consecutive elements of a row (group_size divides cols)
};

const char* granularity_name(Granularity g);  // "per_tensor", "per_channel", "per_group"

constexpr int kMinQuantBits = 2;
constexpr int kMaxQuantBits = 8;

struct QuantScheme {
  int bits = 4;                        // 2..8
  bool symmetric = false;              // z = 0 and a signed code range
  bool restricted_range = false;       // symmetric only: drop the code −2^(b−1)
  Granularity granularity = Granularity::PerChannel;
  int64_t group_size = 0;              // PerGroup only (> 0); must be 0 otherwise
  // Storage constraints of an export format, honoured by affine_params and so by every scale
  // search, RTN and GPTQ (Hugging Face GPTQ checkpoints, formats/hf/hf_gptq.h, need both):
  bool f16_scale = false;              // scale rounded up to a float16 value (stored as F16)
  bool zero_at_least_one = false;      // asymmetric only: z ∈ [1, qmax] (GPTQ's v1 format
                                       // stores z − 1 in b bits, so z = 0 cannot be written)

  static QuantScheme per_tensor(int bits, bool symmetric);
  static QuantScheme per_channel(int bits, bool symmetric);
  static QuantScheme per_group(int bits, int64_t group_size, bool symmetric);

  // Integer code range. symmetric: [−2^(b−1), 2^(b−1) − 1] (restricted: [−(2^(b−1) − 1), ...]);
  // asymmetric: [0, 2^b − 1].
  int32_t qmin() const;
  int32_t qmax() const;

  // Throws Error when bits is outside 2..8, restricted_range is set on an asymmetric scheme,
  // or group_size is wrong for the granularity.
  void validate() const;
  // validate() plus: PerGroup's group_size must divide the row length cols.
  void validate_for(int64_t cols) const;

  // Elements sharing one (scale, zero) along a row: cols (PerTensor, PerChannel) or group_size.
  int64_t elements_per_group(int64_t cols) const;
  // Number of (scale, zero) pairs of a rows × cols tensor: 1, rows, or rows · cols / group_size.
  int64_t group_count(int64_t rows, int64_t cols) const;
};

// One (scale, zero) pair: x̂ = scale · (q − zero). scale > 0 and finite; zero ∈ [qmin, qmax]
// (always 0 for symmetric schemes).
struct AffineParams {
  float scale = 1.0f;
  int32_t zero = 0;
};

inline int32_t code_to_q(uint8_t code, const QuantScheme& s) { return static_cast<int32_t>(code) + s.qmin(); }
inline uint8_t q_to_code(int32_t q, const QuantScheme& s) { return static_cast<uint8_t>(q - s.qmin()); }

// The params that make [min, max] representable (min ≤ max, both finite; throws Error
// otherwise). The range is first widened to contain 0 (lo = min(min, 0), hi = max(max, 0))
// so that zero is exact, as PyTorch's observers do. Then:
//   symmetric:  s = max(hi / qmax, −lo / −qmin), z = 0 — the smallest scale whose grid
//               covers both ends. Full range puts a negative extremum on −2^(b−1) (llama.cpp's
//               Q4_0 trick, d = max / −8); restricted range reduces to s = max|x| / qmax.
//   asymmetric: s = (hi − lo) / (qmax − qmin), z = clamp(round(qmin − lo / s), qmin, qmax).
//               Rounding z shifts the grid by under s/2, so an end of [lo, hi] may sit up to
//               s/2 outside the grid and is clamped onto the nearest end: still |x − x̂| ≤ s/2
//               for every x in [min, max].
// Scales below FLT_MIN (all-zero or subnormal data) are raised to FLT_MIN: a larger scale
// still covers the data, and a scale never loses precision as a subnormal.
// f16_scale: s is rounded *up* to the next float16 value before z is chosen, so the grid
// still covers [lo, hi] and the s/2 bound holds (a larger step; z is rounded for it). Above
// float16's largest value 65504 the scale is clamped there (values beyond it then clamp).
// zero_at_least_one: when z would be 0 (lo > −s/2: no step below zero), the grid becomes
// z = 1, s = max(hi / (qmax − 1), −lo): one step below zero, still covering [lo, hi].
AffineParams affine_params(float min, float max, const QuantScheme& scheme);

// The smallest float16 value ≥ x, as a float (x > 0 finite; 65504 when x is above it).
float f16_round_up(float x);

// round(clamp(x / s, lo, hi)) with integer bounds lo = qmin − z, hi = qmax − z: the code
// minus the zero point, q − z, as an exact small float. Clamping before rounding equals
// clamping after (the bounds are integers and rounding is monotonic) and keeps the later
// float-to-int conversion defined; the comparisons are written so that NaN goes to lo.
inline float quantize_offset(float x, float scale, float lo, float hi) {
  float v = x / scale;
  v = v > lo ? v : lo;
  v = v < hi ? v : hi;
  // Round half to even: |v| ≤ 255 here, and adding 1.5·2^23 pushes the fraction bits out of
  // the float's 24-bit significand, so the FPU's round-to-nearest-even does the rounding;
  // subtracting it back is exact (the classic trick; llama.cpp's nearest_int is the same).
  // Baseline x86-64 has no SSE4.1 roundss, and std::nearbyint would be a library call.
  constexpr float kRound = 12582912.0f;  // 1.5 · 2^23
  return (v + kRound) - kRound;
}

// q = clamp(round(x / s) + z, qmin, qmax), rounding half to even. x must be finite; a NaN
// would give qmin (no UB), but the span and tensor functions reject it with an Error first.
inline int32_t quantize_value(float x, AffineParams p, int32_t qmin, int32_t qmax) {
  return static_cast<int32_t>(quantize_offset(x, p.scale, static_cast<float>(qmin - p.zero),
                                              static_cast<float>(qmax - p.zero))) + p.zero;
}

// x̂ = dequantize(quantize(x)) without the integer detour ("fake quantization"): s · r with
// r = q − z from quantize_offset — bit-identical to dequantize_value(quantize_value(x)).
inline float fake_quantize_value(float x, AffineParams p, int32_t qmin, int32_t qmax) {
  return p.scale * quantize_offset(x, p.scale, static_cast<float>(qmin - p.zero), static_cast<float>(qmax - p.zero));
}

// x̂ = s · (q − z), one float multiply of an exact small integer.
inline float dequantize_value(int32_t q, AffineParams p) { return p.scale * static_cast<float>(q - p.zero); }

// Quantizes x into biased codes (codes[i] = q_i − qmin). codes.size() must equal x.size().
// Throws Error naming the element index when an element is NaN or infinite.
void quantize_span(std::span<const float> x, AffineParams p, const QuantScheme& scheme, std::span<uint8_t> codes);

// out[i] = s · (codes[i] + qmin − z). out.size() must equal codes.size(); a code above
// 2^bits − 1 throws Error naming its index.
void dequantize_span(std::span<const uint8_t> codes, AffineParams p, const QuantScheme& scheme, std::span<float> out);

// Min and max of x; throws Error naming the first NaN or infinite element. An empty span
// gives (0, 0).
void finite_min_max(std::span<const float> x, float* min, float* max);

}  // namespace lowbit
