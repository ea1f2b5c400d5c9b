// IEEE half (F16) and bfloat16 (BF16) <-> float, round-to-nearest-even, NaN kept a NaN.
// Plain bit arithmetic, identical on every ISA (ggml's scalar conversions do the same).
#pragma once

#include <cstdint>
#include <cstring>

namespace lowbit {

inline uint32_t f32_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
inline float f32_from_bits(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }

inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  if (exp == 0) {
    if (mant == 0) return f32_from_bits(sign);
    // Subnormal: normalise.
    int e = -1;
    do { mant <<= 1; ++e; } while ((mant & 0x400) == 0);
    mant &= 0x3ff;
    return f32_from_bits(sign | static_cast<uint32_t>(127 - 15 - e) << 23 | mant << 13);
  }
  if (exp == 31) return f32_from_bits(sign | 0x7f800000u | mant << 13 | (mant ? 0x400000u : 0));
  return f32_from_bits(sign | (exp + 112) << 23 | mant << 13);
}

inline uint16_t f32_to_f16(float f) {
  const uint32_t x = f32_bits(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return sign | 0x7e00;           // NaN (quiet)
  if (ax >= 0x477ff000u) return sign | 0x7c00;          // overflow after rounding -> inf
  if (ax < 0x38800000u) {                               // result is subnormal or zero
    if (ax < 0x33000000u) return sign;                  // < half the smallest subnormal
    // value = m * 2^(e-150); in units of the smallest subnormal (2^-24): m * 2^(e-126).
    const uint32_t e = ax >> 23;
    const uint32_t m = (ax & 0x7fffff) | 0x800000;
    const uint32_t sh = 126 - e;  // 14..24 bits to drop
    uint32_t q = m >> sh;
    const uint32_t rem = m & ((1u << sh) - 1);
    const uint32_t half = 1u << (sh - 1);
    if (rem > half || (rem == half && (q & 1))) ++q;
    return sign | static_cast<uint16_t>(q);
  }
  uint32_t r = ax + 0xfff + ((ax >> 13) & 1);           // round to nearest even at bit 13
  r -= 112u << 23;
  return sign | static_cast<uint16_t>(r >> 13);
}

inline float bf16_to_f32(uint16_t b) { return f32_from_bits(static_cast<uint32_t>(b) << 16); }

inline uint16_t f32_to_bf16(float f) {
  uint32_t u = f32_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 64);  // quiet NaN
  return static_cast<uint16_t>((u + (0x7fff + ((u >> 16) & 1))) >> 16);
}

}  // namespace lowbit
