// The plain reference of the interleaved-layout group kernel (repack.h): each of the 16 rows
// read back from the interleaved bytes and evaluated in exactly the order the AVX-512 kernel
// uses — exact int32 sums per block, then one fma per block (Q4_K: two per super-block) — so
// the two agree bit for bit.
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "kernels/repack.h"
#include "quant/codecs/blocks.h"

namespace lowbit {
namespace {

float f16_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}

// Q4_0 / IQ4_NL: the code u of element e (0..31) of row r in one interleaved block.
int code_q4(const uint8_t* blk, int r, int e, bool nl) {
  const int k = (e % 16) / 4, j = e % 4;
  const uint8_t byte = blk[32 + 64 * k + 4 * r + j];
  const int nib = e < 16 ? byte & 15 : byte >> 4;
  return nl ? kIq4nlValues[nib] + 128 : nib;
}

void group_q4(const uint8_t* g, int64_t n, const RepackActs& a, int64_t t, float* y, bool nl) {
  const int64_t nb = n / 32;
  const int8_t* ac = a.codes.data() + t * n;
  for (int r = 0; r < kRepackRows; ++r) {
    float acc = 0.0f;
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* blk = g + b * kRepackRows * sizeof(BlockQ4_0);
      int32_t isum = a.sums[t * nb + b];
      for (int e = 0; e < 32; ++e) isum += code_q4(blk, r, e, nl) * ac[32 * b + e];
      const float p = f16_at(blk + 2 * r) * a.da[t * nb + b];
      acc = std::fma(static_cast<float>(isum), p, acc);
    }
    y[r] = acc;
  }
}

void group_q4_k(const uint8_t* g, int64_t n, const RepackActs& a, int64_t t, float* y) {
  const int64_t nsb = n / 256;
  const int8_t* ac = a.codes.data() + t * n;
  for (int r = 0; r < kRepackRows; ++r) {
    float acc = 0.0f, accm = 0.0f;
    for (int64_t sb = 0; sb < nsb; ++sb) {
      const uint8_t* blk = g + sb * kRepackRows * sizeof(BlockQ4K);
      uint8_t scales[12];
      for (int i = 0; i < 12; ++i) scales[i] = blk[64 + 16 * i + r];
      const float da = a.da[t * nsb + sb];
      for (int j = 0; j < 4; ++j) {   // a pair of sub-blocks at a time
        int32_t isum = 0, msum = 0;
        for (int s = 2 * j; s < 2 * j + 2; ++s) {
          uint8_t sc, m;
          get_scale_min_k4(s, scales, &sc, &m);
          int32_t q = 0;
          for (int e = 0; e < 32; ++e) {
            const uint8_t byte = blk[256 + 64 * (8 * (s / 2) + e / 4) + 4 * r + e % 4];
            q += (s % 2 ? byte >> 4 : byte & 15) * ac[256 * sb + 32 * s + e];
          }
          isum += sc * q;
          msum += m * a.sums[t * (n / 32) + 8 * sb + s];
        }
        acc = std::fma(static_cast<float>(isum), f16_at(blk + 2 * r) * da, acc);
        accm = std::fma(static_cast<float>(msum), f16_at(blk + 32 + 2 * r) * da, accm);
      }
    }
    y[r] = acc - accm;
  }
}

}  // namespace

void repack_group__ref(GgmlType type, const uint8_t* group, int64_t n, const RepackActs& a, int64_t t, float* y) {
  switch (type) {
    case GgmlType::Q4_0: return group_q4(group, n, a, t, y, false);
    case GgmlType::IQ4_NL: return group_q4(group, n, a, t, y, true);
    case GgmlType::Q4_K: return group_q4_k(group, n, a, t, y);
    default: return;
  }
}

void repack_groups__ref(GgmlType type, const uint8_t* group, int64_t n, const RepackActs& a, int64_t t0, int64_t t1,
                        float* y, int64_t ldy) {
  for (int64_t t = t0; t < t1; ++t) repack_group__ref(type, group, n, a, t, y + (t - t0) * ldy);
}

}  // namespace lowbit
