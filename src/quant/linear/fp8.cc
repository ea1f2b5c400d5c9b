#include "quant/linear/fp8.h"

#include "core/error.h"
#include "core/half.h"

namespace lowbit {

namespace {

// Indexed by Fp8Format. Values from the OCP OFP8 spec, Table 1.
constexpr Fp8Traits kFp8Traits[] = {
    // name   E  M  bias  max       min normal   min subnormal  max   nan   inf    inf code
    {"e4m3", 4, 3, 7, 448.0f, 0x1p-6f, 0x1p-9f, 0x7E, 0x7F, false, 0x00},
    {"e5m2", 5, 2, 15, 57344.0f, 0x1p-14f, 0x1p-16f, 0x7B, 0x7F, true, 0x7C},
};
static_assert(static_cast<int>(Fp8Format::E4M3) == 0 && static_cast<int>(Fp8Format::E5M2) == 1);

}  // namespace

const Fp8Traits& fp8_traits(Fp8Format f) { return kFp8Traits[static_cast<int>(f)]; }

float fp8_to_f32(uint8_t code, Fp8Format f) {
  const Fp8Traits& t = fp8_traits(f);
  const uint32_t sign = static_cast<uint32_t>(code & 0x80) << 24;
  const uint32_t mag = code & 0x7F;
  const uint32_t e = mag >> t.mant_bits, m = mag & ((1u << t.mant_bits) - 1);
  if (t.has_inf) {
    if (e == (1u << t.exp_bits) - 1)  // E5M2: all-ones exponent is inf (m = 0) or NaN
      return f32_from_bits(sign | 0x7f800000u | (m ? 0x400000u : 0));
  } else if (mag == t.nan_code) {  // E4M3: only S.1111.111 is NaN
    return f32_from_bits(sign | 0x7fc00000u);
  }
  if (e == 0) {
    // Subnormal: m · 2^(1 − bias − M); m < 8 and a power-of-two factor, so exact.
    const float v = static_cast<float>(m) * t.min_subnormal;
    return sign ? -v : v;
  }
  // Normal: re-bias the exponent to float's 127 and left-align the mantissa in 23 bits.
  return f32_from_bits(sign | static_cast<uint32_t>(static_cast<int>(e) - t.bias + 127) << 23 | m << (23 - t.mant_bits));
}

uint8_t f32_to_fp8(float x, Fp8Format f, Fp8Overflow overflow) {
  const Fp8Traits& t = fp8_traits(f);
  const uint32_t u = f32_bits(x);
  const uint8_t sign = static_cast<uint8_t>((u >> 24) & 0x80);
  const uint32_t a = u & 0x7fffffffu;
  const uint8_t on_overflow = overflow == Fp8Overflow::Saturate ? t.max_code : (t.has_inf ? t.inf_code : t.nan_code);
  if (a > 0x7f800000u) return sign | t.nan_code;     // NaN → canonical NaN, sign kept
  if (a == 0x7f800000u) return sign | on_overflow;   // ±inf

  const int M = t.mant_bits;
  const int emin = 1 - t.bias;                       // exponent of the smallest normal
  const int e = static_cast<int>(a >> 23) - 127;     // float's unbiased exponent (−127: subnormal)
  uint32_t mag;
  if (e >= emin) {
    // Normal in fp8 (or overflowing): round the float's 23-bit mantissa to M bits, ties to
    // even, by adding just under half an fp8 ulp plus the kept LSB; a carry rolls into the
    // exponent, which is what rounding up to the next binade means. Then re-bias 127 → bias.
    const int drop = 23 - M;
    const uint32_t r = (a + ((1u << (drop - 1)) - 1) + ((a >> drop) & 1)) >> drop;
    mag = r - (static_cast<uint32_t>(127 - t.bias) << M);
  } else {
    // Subnormal or zero in fp8: count units of the smallest subnormal 2^(emin − M).
    // a = m24 · 2^(e − 23) with m24 the 24-bit significand, so the count is m24 / 2^sh,
    // sh = 23 + emin − M − e > 0. A count < 1/2 (sh ≥ 25, f32 subnormals included) is ±0.
    // Rounding up to 2^M lands on the smallest normal's code: the code is exponent|mantissa.
    if (e == -127) return sign;
    const int sh = 23 + emin - M - e;
    if (sh >= 25) return sign;
    const uint32_t m24 = (a & 0x7fffffu) | 0x800000u;
    mag = m24 >> sh;
    const uint32_t rem = m24 & ((1u << sh) - 1), half = 1u << (sh - 1);
    if (rem > half || (rem == half && (mag & 1))) ++mag;
  }
  // Codes of one sign increase with magnitude, so "rounded past the max finite value" is an
  // integer comparison (E4M3: 480 → 0x7F would be NaN; E5M2: 65536 → 0x7C is inf).
  if (mag > t.max_code) return sign | on_overflow;
  return sign | static_cast<uint8_t>(mag);
}

uint16_t fp8_to_f16(uint8_t code, Fp8Format f) { return f32_to_f16(fp8_to_f32(code, f)); }
uint16_t fp8_to_bf16(uint8_t code, Fp8Format f) { return f32_to_bf16(fp8_to_f32(code, f)); }
uint8_t f16_to_fp8(uint16_t h, Fp8Format f, Fp8Overflow overflow) { return f32_to_fp8(f16_to_f32(h), f, overflow); }
uint8_t bf16_to_fp8(uint16_t b, Fp8Format f, Fp8Overflow overflow) { return f32_to_fp8(bf16_to_f32(b), f, overflow); }

void f32_to_fp8(std::span<const float> x, std::span<uint8_t> out, Fp8Format f, Fp8Overflow overflow) {
  if (x.size() != out.size()) fail("f32_to_fp8: {} values but room for {} codes", x.size(), out.size());
  for (size_t i = 0; i < x.size(); ++i) out[i] = f32_to_fp8(x[i], f, overflow);
}

void fp8_to_f32(std::span<const uint8_t> codes, std::span<float> out, Fp8Format f) {
  if (codes.size() != out.size()) fail("fp8_to_f32: {} codes but room for {} values", codes.size(), out.size());
  for (size_t i = 0; i < codes.size(); ++i) out[i] = fp8_to_f32(codes[i], f);
}

}  // namespace lowbit
