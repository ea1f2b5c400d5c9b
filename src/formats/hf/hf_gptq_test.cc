// The Hugging Face GPTQ layout against words worked out by hand from AutoGPTQ's pack loop
// (qlinear_cuda_old.py QuantLinear.pack): qweight packs codes along the input dim, low bits
// first; 3-bit values straddle words; qzeros store zero − 1 packed along the output dim.
#include "formats/hf/hf_gptq.h"

#include <random>

#include <gtest/gtest.h>

#include "core/half.h"
#include "formats/hf/hf_test_util.h"

namespace lowbit {
namespace {

using test::expect_error;
using test::TempDir;
using test::write_file;

// A layer with one group and scale 1.0; codes given row by row (out × in).
GptqLinear layer(int bits, int64_t in, int64_t out, std::vector<uint8_t> codes, int32_t zero) {
  GptqLinear l;
  l.bits = bits;
  l.in = in;
  l.out = out;
  l.n_groups = 1;
  l.codes = std::move(codes);
  l.zeros.assign(static_cast<size_t>(out), zero);
  l.scales.assign(static_cast<size_t>(out), f32_to_f16(1.0f));
  l.g_idx.assign(static_cast<size_t>(in), 0);
  return l;
}

uint32_t u(int32_t w) { return static_cast<uint32_t>(w); }

TEST(HfGptqPack, FourBitCodesZeroToSevenInOneWord) {
  // Output 0 reads codes 0..7 along its 8 inputs, output 1 reads 15..8, outputs 2..7 zeros
  // (qzeros need 8 outputs for a whole word). qweight is [1, 8]: nibble k of word (0, o) is
  // code k of output o, lowest nibble first.
  std::vector<uint8_t> codes = {0, 1, 2, 3, 4, 5, 6, 7, 15, 14, 13, 12, 11, 10, 9, 8};
  codes.resize(8 * 8, 0);
  const GptqPacked p = gptq_pack(layer(4, 8, 8, codes, 8), "t");
  ASSERT_EQ(p.qweight.size(), 8u);
  EXPECT_EQ(u(p.qweight[0]), 0x76543210u);
  EXPECT_EQ(u(p.qweight[1]), 0x89ABCDEFu);
  EXPECT_EQ(u(p.qweight[2]), 0u);
}

TEST(HfGptqPack, FourBitSixteenInputsTakeTwoRowsOfWords) {
  std::vector<uint8_t> codes(16 * 8, 0);
  for (int i = 0; i < 16; ++i) codes[i] = static_cast<uint8_t>(i);   // output 0
  const GptqPacked p = gptq_pack(layer(4, 16, 8, codes, 8), "t");
  ASSERT_EQ(p.qweight.size(), 16u);   // [in·4/32 = 2, out = 8]
  EXPECT_EQ(u(p.qweight[0]), 0x76543210u);       // row 0: inputs 0..7 of output 0
  EXPECT_EQ(u(p.qweight[8 + 0]), 0xFEDCBA98u);   // row 1: inputs 8..15 of output 0
}

TEST(HfGptqPack, TwoAndEightBits) {
  // 2-bit: codes 0,1,2,3 repeated: each byte is 3·64 + 2·16 + 1·4 + 0 = 0xE4.
  std::vector<uint8_t> c2(16);
  for (int i = 0; i < 16; ++i) c2[i] = static_cast<uint8_t>(i % 4);
  EXPECT_EQ(u(gptq_pack(layer(2, 16, 16, [&] {
                              std::vector<uint8_t> all;
                              for (int o = 0; o < 16; ++o) all.insert(all.end(), c2.begin(), c2.end());
                              return all;
                            }(), 2), "t").qweight[0]), 0xE4E4E4E4u);
  // 8-bit: one byte per code, input 0 in the low byte.
  const GptqPacked p8 = gptq_pack(layer(8, 4, 4, {1, 2, 3, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 128), "t");
  EXPECT_EQ(u(p8.qweight[0]), 0xFF030201u);   // output 0
  EXPECT_EQ(u(p8.qweight[1]), 0u);
}

TEST(HfGptqPack, ThreeBitValuesStraddleWords) {
  // 32 codes fill 3 words (96 bits), code k at stream bit 3k:
  //   code 0 = 7  -> word 0 bits 0..2                                   0x00000007
  //   code 10 = 5 (0b101) at bit 30: bit 30 = 1, bit 31 = 0 (word 0)    0x40000000
  //                                   bit 32 = 1 (word 1 bit 0)         0x00000001
  //   code 21 = 6 (0b110) at bit 63: bit 63 = 0 (word 1 bit 31)
  //                                   bits 64, 65 = 1, 1 (word 2)       0x00000003
  //   code 22 = 1 at bit 66 (word 2 bit 2)                              0x00000004
  //   code 31 = 7 at bit 93 (word 2 bits 29..31)                        0xE0000000
  std::vector<uint8_t> codes(32, 0);
  codes[0] = 7;
  codes[10] = 5;
  codes[21] = 6;
  codes[22] = 1;
  codes[31] = 7;
  std::vector<uint8_t> all(codes);
  all.resize(32 * 32, 0);   // 32 outputs (qzeros need out·3 a multiple of 32); only output 0 is set
  const GptqPacked p = gptq_pack(layer(3, 32, 32, all, 4), "t");
  ASSERT_EQ(p.qweight.size(), 3u * 32);
  EXPECT_EQ(u(p.qweight[0 * 32]), 0x40000007u);
  EXPECT_EQ(u(p.qweight[1 * 32]), 0x00000001u);
  EXPECT_EQ(u(p.qweight[2 * 32]), 0xE0000007u);
  EXPECT_EQ(u(p.qweight[1]), 0u);   // output 1: all zero codes
  // Zeros 4 are stored as 3 = 0b011 in each 3-bit field: word 0 = 0b011 repeated from bit 0
  // (10 fields, then field 10's low bits 0b11 at bits 30..31) = 0xDB6DB6DB.
  EXPECT_EQ(u(p.qzeros[0]), 0xDB6DB6DBu);
}

TEST(HfGptqPack, QzerosStoreZeroMinusOne) {
  // Symmetric 4-bit: zero 8 is stored as 7 in every nibble.
  EXPECT_EQ(u(gptq_pack(layer(4, 8, 8, std::vector<uint8_t>(64, 8), 8), "t").qzeros[0]), 0x77777777u);
  // Asymmetric zeros 1..8 along the outputs are stored as 0..7, output 0 lowest.
  GptqLinear l = layer(4, 8, 8, std::vector<uint8_t>(64, 0), 1);
  for (int o = 0; o < 8; ++o) l.zeros[o] = o + 1;
  EXPECT_EQ(u(gptq_pack(l, "t").qzeros[0]), 0x76543210u);
  // A zero of 0 would wrap to 2^b − 1 and load as 2^b: refused.
  l.zeros[3] = 0;
  expect_error([&] { gptq_pack(l, "layer.x"); }, {"layer.x", "zero point 0", "[1, 15]"});
}

TEST(HfGptqPack, BadShapesAndValuesAreClearErrors) {
  expect_error([] { gptq_check_shape("mlp", 4, 12, 8); }, {"mlp", "12 inputs", "multiple of 8"});
  expect_error([] { gptq_check_shape("mlp", 3, 48, 32); }, {"multiple of 32"});
  expect_error([] { gptq_check_shape("mlp", 4, 8, 4); }, {"4 outputs", "qzeros"});
  expect_error([] { gptq_check_shape("mlp", 5, 32, 32); }, {"5 bits", "2, 3, 4 or 8"});
  GptqLinear l = layer(4, 8, 8, std::vector<uint8_t>(64, 0), 8);
  l.codes[9] = 16;
  expect_error([&] { gptq_pack(l, "t"); }, {"code 16", "output 1, input 1"});
  l = layer(4, 8, 8, std::vector<uint8_t>(64, 0), 8);
  l.g_idx[2] = 1;
  expect_error([&] { gptq_pack(l, "t"); }, {"g_idx[2] = 1"});
}

// The four tensors of a packed layer as a loader sees them.
struct Stored {
  GptqPacked p;
  int64_t in, out, G;
  int bits;
  GptqTensorView qweight() const { return {reinterpret_cast<const uint8_t*>(p.qweight.data()), "I32", {in * bits / 32, out}}; }
  GptqTensorView qzeros() const { return {reinterpret_cast<const uint8_t*>(p.qzeros.data()), "I32", {G, out * bits / 32}}; }
  GptqTensorView scales() const { return {reinterpret_cast<const uint8_t*>(p.scales.data()), "F16", {G, out}}; }
  GptqTensorView g_idx() const { return {reinterpret_cast<const uint8_t*>(p.g_idx.data()), "I32", {in}}; }
};

GptqLinear random_layer(int bits, int64_t in, int64_t out, int64_t G, bool permuted_g_idx, uint32_t seed) {
  std::mt19937 rng(seed);
  GptqLinear l;
  l.bits = bits;
  l.in = in;
  l.out = out;
  l.n_groups = G;
  const int maxv = (1 << bits) - 1;
  for (int64_t k = 0; k < in * out; ++k) l.codes.push_back(static_cast<uint8_t>(rng() % (maxv + 1)));
  for (int64_t k = 0; k < G * out; ++k) {
    l.zeros.push_back(1 + static_cast<int32_t>(rng() % maxv));
    l.scales.push_back(f32_to_f16(std::ldexp(1.0f + (rng() % 1000) / 1000.0f, -static_cast<int>(rng() % 12))));
  }
  for (int64_t i = 0; i < in; ++i) l.g_idx.push_back(static_cast<int32_t>(i * G / in));
  if (permuted_g_idx) std::shuffle(l.g_idx.begin(), l.g_idx.end(), rng);   // a dynamic act-order checkpoint
  return l;
}

TEST(HfGptqUnpack, RoundTripsEveryWidthAndDequantizesByTheFormula) {
  for (int bits : {2, 3, 4, 8})
    for (bool perm : {false, true}) {
      const int64_t in = 64, out = 32, G = 4;
      const GptqLinear l = random_layer(bits, in, out, G, perm, 17u * bits + perm);
      const Stored s{gptq_pack(l, "t"), in, out, G, bits};
      HfGptqConfig cfg;
      cfg.bits = bits;
      cfg.group_size = 16;
      const GptqLinear r = gptq_unpack("t", s.qweight(), s.qzeros(), s.scales(), s.g_idx(), cfg);
      EXPECT_EQ(r.in, in);
      EXPECT_EQ(r.out, out);
      EXPECT_EQ(r.codes, l.codes) << bits;
      EXPECT_EQ(r.zeros, l.zeros) << bits;
      EXPECT_EQ(r.scales, l.scales) << bits;
      EXPECT_EQ(r.g_idx, l.g_idx) << bits;
      std::vector<float> W(static_cast<size_t>(in * out));
      gptq_dequantize(r, W.data());
      for (int64_t o = 0; o < out; ++o)
        for (int64_t i = 0; i < in; ++i) {
          const int64_t g = l.g_idx[i];
          const float want = f16_to_f32(l.scales[g * out + o]) * static_cast<float>(l.codes[o * in + i] - l.zeros[g * out + o]);
          ASSERT_EQ(W[o * in + i], want) << bits << " " << o << " " << i;
        }
    }
}

TEST(HfGptqUnpack, MissingGIdxMeansPlainGroupsAndV2SkipsTheOffByOne) {
  const GptqLinear l = random_layer(4, 64, 32, 2, false, 5);
  const Stored s{gptq_pack(l, "t"), 64, 32, 2, 4};
  HfGptqConfig cfg;
  cfg.group_size = 32;
  const GptqLinear r = gptq_unpack("t", s.qweight(), s.qzeros(), s.scales(), {}, cfg);
  EXPECT_EQ(r.g_idx, l.g_idx);
  cfg.v2 = true;
  const GptqLinear r2 = gptq_unpack("t", s.qweight(), s.qzeros(), s.scales(), s.g_idx(), cfg);
  for (size_t k = 0; k < l.zeros.size(); ++k) EXPECT_EQ(r2.zeros[k], l.zeros[k] - 1);
  cfg.v2 = false;
  cfg.group_size = 16;   // 4 groups expected, 2 stored
  expect_error([&] { gptq_unpack("L", s.qweight(), s.qzeros(), s.scales(), {}, cfg); }, {"L.scales", "2 groups", "make 4"});
}

TEST(HfGptqUnpack, HostileTensorsAreNamedErrors) {
  GptqLinear l = random_layer(4, 64, 32, 2, false, 9);
  Stored s{gptq_pack(l, "t"), 64, 32, 2, 4};
  HfGptqConfig cfg;
  auto qw = s.qweight();
  qw.dtype = "F16";
  expect_error([&] { gptq_unpack("L", qw, s.qzeros(), s.scales(), s.g_idx(), cfg); }, {"L.qweight", "dtype F16", "I32"});
  auto qz = s.qzeros();
  qz.shape = {2, 3};
  expect_error([&] { gptq_unpack("L", s.qweight(), qz, s.scales(), s.g_idx(), cfg); }, {"L.qzeros", "[2, 3]", "expected [2, 4]"});
  auto sc = s.scales();
  sc.shape = {2, 16};
  expect_error([&] { gptq_unpack("L", s.qweight(), s.qzeros(), sc, s.g_idx(), cfg); }, {"L.scales", "32 outputs"});
  s.p.g_idx[5] = 7;
  expect_error([&] { gptq_unpack("L", s.qweight(), s.qzeros(), s.scales(), s.g_idx(), cfg); }, {"L.g_idx", "entry 5 is 7"});
  s.p.g_idx[5] = 0;
  s.p.scales[3] = 0x7c00;   // +inf
  expect_error([&] { gptq_unpack("L", s.qweight(), s.qzeros(), s.scales(), s.g_idx(), cfg); }, {"L.scales", "not finite"});
  auto g = s.g_idx();
  g.shape = {63};
  expect_error([&] { gptq_unpack("L", s.qweight(), s.qzeros(), s.scales(), g, cfg); }, {"63 entries for 64 inputs"});
  qw = s.qweight();
  qw.shape = {8, 32, 1};
  expect_error([&] { gptq_unpack("L", qw, s.qzeros(), s.scales(), s.g_idx(), cfg); }, {"3 dimensions"});
}

TEST(HfGptqConfig, RoundTripsThroughConfigJsonAndRejectsOthers) {
  TempDir dir;
  EXPECT_FALSE(hf_gptq_config_read(dir.file("")).has_value());
  HfGptqConfig c;
  c.bits = 3;
  c.group_size = -1;
  c.desc_act = true;
  c.sym = false;
  c.static_groups = true;
  c.damp_percent = 0.05;
  nlohmann::ordered_json j = {{"architectures", {"LlamaForCausalLM"}}, {"quantization_config", hf_gptq_config_json(c)}};
  EXPECT_EQ(j["quantization_config"]["quant_method"], "gptq");
  EXPECT_EQ(j["quantization_config"]["checkpoint_format"], "gptq");
  write_file(dir.file("config.json"), j.dump());
  const auto r = hf_gptq_config_read(dir.file(""));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->bits, 3);
  EXPECT_EQ(r->group_size, -1);
  EXPECT_TRUE(r->desc_act);
  EXPECT_FALSE(r->sym);
  EXPECT_TRUE(r->static_groups);
  EXPECT_DOUBLE_EQ(r->damp_percent, 0.05);
  EXPECT_FALSE(r->v2);

  j["quantization_config"]["quant_method"] = "awq";
  write_file(dir.file("config.json"), j.dump());
  expect_error([&] { hf_gptq_config_read(dir.file("")); }, {"config.json", "quantization_config.quant_method", "awq"});
  j["quantization_config"]["quant_method"] = "gptq";
  j["quantization_config"]["bits"] = 5;
  write_file(dir.file("config.json"), j.dump());
  expect_error([&] { hf_gptq_config_read(dir.file("")); }, {"quantization_config.bits", "5 is not one of 2, 3, 4, 8"});
  j["quantization_config"]["bits"] = 4;
  j["quantization_config"]["checkpoint_format"] = "marlin";
  write_file(dir.file("config.json"), j.dump());
  expect_error([&] { hf_gptq_config_read(dir.file("")); }, {"checkpoint_format", "marlin"});
  j["quantization_config"]["group_size"] = 0;
  j["quantization_config"]["checkpoint_format"] = "gptq_v2";
  write_file(dir.file("config.json"), j.dump());
  expect_error([&] { hf_gptq_config_read(dir.file("")); }, {"group_size"});

  // Older AutoGPTQ exports keep it in quantize_config.json only (no quant_method).
  write_file(dir.file("config.json"), R"({"architectures": ["LlamaForCausalLM"]})");
  write_file(dir.file("quantize_config.json"), R"({"bits": 8, "group_size": 64, "desc_act": false, "sym": true})");
  const auto q = hf_gptq_config_read(dir.file(""));
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->bits, 8);
  EXPECT_EQ(q->group_size, 64);
}

}  // namespace
}  // namespace lowbit
