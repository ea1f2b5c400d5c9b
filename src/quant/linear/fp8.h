// 8-bit floating point, the two formats of the OCP "8-bit Floating Point Specification (OFP8)"
// rev. 1.0 (2023), also NVIDIA Hopper's and PyTorch's float8_e4m3fn / float8_e5m2.
//
// A code is S.EEEE.MMM (E4M3) or S.EEEEE.MM (E5M2): sign bit, exponent field e, mantissa m.
//   normal    (e > 0):  (−1)^S · 2^(e − bias) · (1 + m / 2^M)
//   subnormal (e = 0):  (−1)^S · 2^(1 − bias) · (m / 2^M)
//
//              bias  max finite             min normal  min subnormal  inf            NaN
//   E4M3 (fn)    7   448   = 0x7E (S.1111.110)  2^-6     2^-9 = 0x01     none           S.1111.111 (0x7F, 0xFF)
//   E5M2        15   57344 = 0x7B (S.11110.11)  2^-14    2^-16 = 0x01    S.11111.00     S.11111.{01,10,11}
//
// E4M3 gives up infinities and all but one NaN per sign to gain the exponent-15 binade
// (max 448 instead of 240): more range for weights and activations. E5M2 is IEEE-like — the
// top 8 bits of an F16 — with the range gradients need.
//
// Encoding rounds to nearest, ties to even (IEEE 754 §4.3.1), exactly once from the input.
// NaN input gives the canonical NaN S.1111111 (0x7F | sign) in both formats. A magnitude
// that rounds above the max finite value (at or above max + ulp/2 for E5M2, where the tie
// goes to the even 2^16; above 464 for E4M3, where the tie goes to the even 448), or an
// infinity, follows the overflow mode:
//   Saturate   → ±max finite (OCP's saturating conversion; CUDA's __NV_SATFINITE)
//   NonFinite  → E4M3: NaN (it has no inf); E5M2: ±inf
#pragma once

#include <cstdint>
#include <span>

namespace lowbit {

enum class Fp8Format : uint8_t { E4M3, E5M2 };
enum class Fp8Overflow : uint8_t { Saturate, NonFinite };

// One row per format, indexed by the enum.
struct Fp8Traits {
  const char* name;       // "e4m3", "e5m2"
  int exp_bits;           // E
  int mant_bits;          // M
  int bias;
  float max_finite;       // 448, 57344
  float min_normal;       // 2^(1 − bias)
  float min_subnormal;    // 2^(1 − bias − M)
  uint8_t max_code;       // magnitude code of max_finite: 0x7E, 0x7B
  uint8_t nan_code;       // canonical NaN magnitude: 0x7F
  bool has_inf;
  uint8_t inf_code;       // 0x7C for E5M2; 0 (unused) for E4M3
};

const Fp8Traits& fp8_traits(Fp8Format f);

// Every code decodes exactly into a float (and into F16/BF16: both hold every E4M3 and E5M2
// value exactly). NaN codes give a quiet NaN with the code's sign.
float fp8_to_f32(uint8_t code, Fp8Format f);
uint8_t f32_to_fp8(float x, Fp8Format f, Fp8Overflow overflow = Fp8Overflow::Saturate);

uint16_t fp8_to_f16(uint8_t code, Fp8Format f);
uint16_t fp8_to_bf16(uint8_t code, Fp8Format f);
// Via the exact F16/BF16 → float widening (core/half.h), so there is still one rounding.
uint8_t f16_to_fp8(uint16_t h, Fp8Format f, Fp8Overflow overflow = Fp8Overflow::Saturate);
uint8_t bf16_to_fp8(uint16_t b, Fp8Format f, Fp8Overflow overflow = Fp8Overflow::Saturate);

// Element-wise over spans of equal size (throws Error on a size mismatch).
void f32_to_fp8(std::span<const float> x, std::span<uint8_t> out, Fp8Format f,
                Fp8Overflow overflow = Fp8Overflow::Saturate);
void fp8_to_f32(std::span<const uint8_t> codes, std::span<float> out, Fp8Format f);

}  // namespace lowbit
