// Hostile and broken inputs: each must throw lowbit::Error naming the field, never crash,
// hang or allocate by a count the file merely claims. Run under ASan+UBSan too.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "core/error.h"
#include "formats/gguf/gguf.h"
#include "formats/gguf/gguf_testing.h"

namespace lowbit {
namespace {

using testing::GgufBytes;
using testing::parse_error;

constexpr uint32_t kF32 = 0, kQ4_0 = 2;
constexpr uint64_t kHuge = 1ull << 62;

// One key-value pair and one tensor "w" with `data_bytes` of data.
std::vector<uint8_t> one_tensor(std::vector<int64_t> ne, uint32_t type = kF32, uint64_t offset = 0,
                                size_t data_bytes = 64) {
  GgufBytes b;
  b.header(1, 1).kv_str("general.name", "t").tensor("w", std::move(ne), type, offset).pad_to(32).zeros(data_bytes);
  return b.bytes;
}

// A file that uses each value type, nested arrays and two tensors; its last tensor ends
// exactly at the end of the file, so every proper prefix is broken.
std::vector<uint8_t> small_valid_file(std::vector<std::vector<uint8_t>>* storage) {
  GgufFile f;
  f.set("general.name", GgufValue::make_str("tiny"));
  f.set("n", GgufValue::make_u32(3));
  f.set("eps", GgufValue::make_f32(1e-5f));
  f.set("flag", GgufValue::make_bool(true));
  f.set("toks", GgufValue::make_str_array({"a", "bc", ""}));
  f.set("ids", GgufValue::make_i32_array({1, -2}));
  GgufValue nested;
  nested.type = GgufType::ARRAY;
  nested.elem_type = GgufType::ARRAY;
  nested.arr = {GgufValue::make_f32_array({1, 2}), GgufValue::make_str_array({"x"})};
  f.set("nested", nested);
  storage->push_back(std::vector<uint8_t>(20, 0xAB));
  storage->push_back(std::vector<uint8_t>(16 * 18, 0xCD));  // 288 = 9 * 32 bytes: no trailing pad
  GgufTensorInfo a;
  a.name = "a";
  a.ne = {5};
  a.nbytes = 20;
  a.data = (*storage)[0].data();
  GgufTensorInfo q;
  q.name = "q";
  q.type = GgmlType::Q4_0;
  q.ne = {32, 16};
  q.nbytes = 288;
  q.data = (*storage)[1].data();
  f.tensors = {a, q};
  return gguf_write_bytes(f);
}

TEST(GgufHostile, EveryTruncationFails) {
  std::vector<std::vector<uint8_t>> storage;
  const std::vector<uint8_t> bytes = small_valid_file(&storage);
  std::vector<uint8_t> keep;
  const GgufFile whole = testing::parse(bytes, &keep);
  ASSERT_EQ(whole.tensors.size(), 2u);
  ASSERT_EQ(whole.tensors[1].data + whole.tensors[1].nbytes, keep.data() + keep.size());
  for (size_t len = 0; len < bytes.size(); ++len) {
    const std::string msg = parse_error(std::vector<uint8_t>(bytes.begin(), bytes.begin() + len));
    EXPECT_HAS(msg, "test.gguf: byte offset ");
    EXPECT_HAS(msg, "field '");
  }
}

TEST(GgufHostile, EmptyFileOnDisk) {
  const std::string path = testing::temp_path("empty.gguf");
  std::ofstream(path).close();
  const std::string msg = testing::error_of([&] { gguf_read(path); });
  EXPECT_HAS(msg, path + ": byte offset 0: field 'magic'");
  std::filesystem::remove(path);
}

TEST(GgufHostile, ErrorNamesTheFileOnDisk) {
  const std::string path = testing::temp_path("bad-type.gguf");
  const auto bytes = one_tensor({8}, 1000);
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  EXPECT_HAS(testing::error_of([&] { gguf_read(path); }), path + ": byte offset ");
  std::filesystem::remove(path);
}

TEST(GgufHostile, BadMagic) {
  GgufBytes b;
  b.bytes = {'G', 'G', 'M', 'L', 3, 0, 0, 0};
  b.u64(0).u64(0);
  const std::string msg = parse_error(b.bytes);
  EXPECT_HAS(msg, "byte offset 0: field 'magic'");
  EXPECT_HAS(msg, "GGML");
}

TEST(GgufHostile, Versions) {
  EXPECT_HAS(parse_error(GgufBytes().header(0, 0, 1).bytes), "byte offset 4: field 'version': GGUF version 1");
  EXPECT_HAS(parse_error(GgufBytes().header(0, 0, 4).bytes), "field 'version': unsupported GGUF version 4");
  EXPECT_HAS(parse_error(GgufBytes().header(0, 0, 0).bytes), "field 'version'");
  EXPECT_HAS(parse_error(GgufBytes().header(0, 0, 0x03000000).bytes), "big-endian");
  GgufBytes v2;
  v2.header(0, 1, 2).kv_u32("x", 1);
  std::vector<uint8_t> keep;
  EXPECT_EQ(testing::parse(v2.bytes, &keep).version, 2u);
}

TEST(GgufHostile, HugeCounts) {
  EXPECT_HAS(parse_error(GgufBytes().header(kHuge, 0).zeros(64).bytes), "byte offset 8: field 'n_tensors'");
  EXPECT_HAS(parse_error(GgufBytes().header(~0ull, 0).zeros(64).bytes), "field 'n_tensors'");
  EXPECT_HAS(parse_error(GgufBytes().header(0, kHuge).zeros(64).bytes), "byte offset 16: field 'n_kv'");
  EXPECT_HAS(parse_error(GgufBytes().header(0, ~0ull).zeros(64).bytes), "field 'n_kv'");
  // Each count alone would fit; together they do not.
  EXPECT_HAS(parse_error(GgufBytes().header(2, 5).zeros(70).bytes), "field 'n_tensors'");
}

TEST(GgufHostile, KeyLengths) {
  GgufBytes b;
  b.header(0, 1).u64(1ull << 63).zeros(40);
  EXPECT_HAS(parse_error(b.bytes), "byte offset 24: field 'kv[0].key': string length 9223372036854775808");
  GgufBytes past;
  past.header(0, 1).u64(14).zeros(13);  // 13 bytes remain after the length
  EXPECT_HAS(parse_error(past.bytes), "field 'kv[0].key': string length 14 runs past the end");
  GgufBytes longkey;
  longkey.header(0, 1).str(std::string(70000, 'k')).u32(4).u32(1);
  EXPECT_HAS(parse_error(longkey.bytes), "field 'kv[0].key': string length 70000 exceeds the limit");
}

TEST(GgufHostile, ValueStringLengths) {
  GgufBytes b;
  b.header(0, 1).str("general.name").u32(8).u64(1ull << 63).zeros(8);
  EXPECT_HAS(parse_error(b.bytes), "field 'general.name': string length 9223372036854775808");
  GgufBytes past;
  past.header(0, 1).str("general.name").u32(8).u64(5).zeros(4);
  EXPECT_HAS(parse_error(past.bytes), "field 'general.name': string length 5 runs past the end");
  // Inside an array the field names the element.
  GgufBytes arr;
  arr.header(0, 1).str("toks").u32(9).u32(8).u64(2).str("ok").u64(100).zeros(8);
  EXPECT_HAS(parse_error(arr.bytes), "field 'toks[1]': string length 100");
  // Values may be longer than the name limit.
  GgufBytes big;
  big.header(0, 1).str("text").u32(8).str(std::string(100000, 'v'));
  std::vector<uint8_t> keep;
  EXPECT_EQ(testing::parse(big.bytes, &keep).get_str("text")->size(), 100000u);
}

TEST(GgufHostile, ArrayCounts) {
  EXPECT_HAS(parse_error(GgufBytes().header(0, 1).str("arr").u32(9).u32(0).u64(kHuge).zeros(64).bytes),
             "field 'arr': array count 4611686018427387904 of u8");
  // count * 8 overflows for strings.
  EXPECT_HAS(parse_error(GgufBytes().header(0, 1).str("arr").u32(9).u32(8).u64(1ull << 61).zeros(64).bytes),
             "field 'arr': array count");
  EXPECT_HAS(parse_error(GgufBytes().header(0, 1).str("arr").u32(9).u32(12).u64(~0ull).zeros(64).bytes),
             "field 'arr': array count");
  // 9 u32 need 36 bytes; 35 remain.
  EXPECT_HAS(parse_error(GgufBytes().header(0, 1).str("arr").u32(9).u32(4).u64(9).zeros(35).bytes),
             "field 'arr': array count 9 of u32 needs at least 4 bytes each but only 35 bytes remain");
  // Nested arrays: the inner count is bounded too.
  EXPECT_HAS(parse_error(GgufBytes().header(0, 1).str("arr").u32(9).u32(9).u64(1).u32(8).u64(kHuge).zeros(64).bytes),
             "field 'arr[0]': array count");
}

TEST(GgufHostile, UnknownValueTypes) {
  EXPECT_HAS(parse_error(GgufBytes().header(0, 1).str("k").u32(13).zeros(16).bytes),
             "byte offset 33: field 'k': value type 13 is not a GGUF value type");
  EXPECT_HAS(parse_error(GgufBytes().header(0, 1).str("k").u32(0xFFFFFFFF).zeros(16).bytes), "field 'k'");
  EXPECT_HAS(parse_error(GgufBytes().header(0, 1).str("k").u32(9).u32(13).u64(1).zeros(16).bytes),
             "field 'k': array element type 13");
}

std::vector<uint8_t> nested(int levels) {
  GgufBytes b;
  b.header(0, 1).str("deep").u32(9);
  for (int l = 1; l < levels; ++l) b.u32(9).u64(1);
  b.u32(4).u64(1).u32(7);
  return b.bytes;
}

TEST(GgufHostile, ArrayNestingDepth) {
  std::vector<uint8_t> keep;
  const GgufFile ok = testing::parse(nested(kGgufMaxArrayDepth), &keep);
  const GgufValue* v = ok.find("deep");
  for (int l = 1; l < kGgufMaxArrayDepth; ++l) v = &v->arr.at(0);
  EXPECT_EQ(v->arr.at(0).u, 7u);
  std::string field = "deep";
  for (int l = 0; l < kGgufMaxArrayDepth; ++l) field += "[0]";
  EXPECT_HAS(parse_error(nested(kGgufMaxArrayDepth + 1)), "field '" + field + "': arrays nested deeper than 8");
  EXPECT_HAS(parse_error(nested(10000)), "arrays nested deeper than 8");  // no stack overflow
}

TEST(GgufHostile, NDims) {
  EXPECT_HAS(parse_error(one_tensor({1, 1, 1, 1, 8})), "field 'tensor[0].n_dims': tensor 'w': n_dims 5 is outside 1..4");
  GgufBytes zero;
  zero.header(1, 0).str("w").u32(0).u32(kF32).u64(0).pad_to(32).zeros(32);
  EXPECT_HAS(parse_error(zero.bytes), "field 'tensor[0].n_dims': tensor 'w': n_dims 0");
  GgufBytes huge;
  huge.header(1, 0).str("w").u32(0xFFFFFFFF).zeros(64);
  EXPECT_HAS(parse_error(huge.bytes), "field 'tensor[0].n_dims'");
  std::vector<uint8_t> keep;
  EXPECT_EQ(testing::parse(one_tensor({2, 1, 1, 8}), &keep).tensors[0].ne.size(), 4u);
}

TEST(GgufHostile, Shapes) {
  EXPECT_HAS(parse_error(one_tensor({1ll << 40, 1ll << 40})), "field 'tensor[0].ne': tensor 'w': element count");
  EXPECT_HAS(parse_error(one_tensor({1ll << 62, 4})), "field 'tensor[0].ne'");
  EXPECT_HAS(parse_error(one_tensor({1ll << 62})), "field 'tensor[0].ne': tensor 'w': size in bytes of f32");
  EXPECT_HAS(parse_error(one_tensor({-1})), "field 'tensor[0].ne[0]': tensor 'w': dimension -1 is negative");
  EXPECT_HAS(parse_error(one_tensor({8, INT64_MIN})), "field 'tensor[0].ne[1]'");
  EXPECT_HAS(parse_error(one_tensor({16}, kQ4_0)), "field 'tensor[0].ne': tensor 'w': row length ne[0] = 16 is not "
                                                    "a multiple of q4_0's block size 32");
  // Zero-sized dimensions are allowed.
  std::vector<uint8_t> keep;
  const GgufFile f = testing::parse(one_tensor({0, 3}), &keep);
  EXPECT_EQ(f.tensors[0].nbytes, 0u);
  EXPECT_EQ(f.tensors[0].n_elements(), 0u);
}

TEST(GgufHostile, TensorTypes) {
  for (uint32_t bad : {4u, 5u, 31u, 36u, 40u, 1000u, 0xFFFFFFFFu})
    EXPECT_HAS(parse_error(one_tensor({32}, bad)), "field 'tensor[0].type': tensor 'w': " + std::to_string(bad) +
                                                       " is not a ggml type id");
}

TEST(GgufHostile, TensorOffsets) {
  EXPECT_HAS(parse_error(one_tensor({8}, kF32, 1 << 20)), "field 'tensor[0].offset': tensor 'w': data at offset 1048576");
  EXPECT_HAS(parse_error(one_tensor({8}, kF32, ~0ull - 31)), "field 'tensor[0].offset'");
  EXPECT_HAS(parse_error(one_tensor({8}, kF32, 4)), "field 'tensor[0].offset': tensor 'w': offset 4 is not a multiple "
                                                     "of the alignment 32");
  // The data runs one byte past the end.
  EXPECT_HAS(parse_error(one_tensor({8}, kF32, 32, 63)), "runs past the end of the file");
  std::vector<uint8_t> keep;
  EXPECT_EQ(testing::parse(one_tensor({8}, kF32, 32, 64), &keep).tensors[0].offset, 32u);
}

std::vector<uint8_t> two_tensors(uint64_t off_a, uint64_t off_b, int64_t n = 16) {
  GgufBytes b;
  b.header(2, 0).tensor("a", {n}, kF32, off_a).tensor("b", {n}, kF32, off_b).pad_to(32).zeros(256);
  return b.bytes;
}

TEST(GgufHostile, OverlappingTensors) {
  EXPECT_HAS(parse_error(two_tensors(0, 32)), "field 'tensor[1].offset': tensor 'b': data [32, 96) overlaps tensor "
                                              "'a' [0, 64)");
  EXPECT_HAS(parse_error(two_tensors(32, 0)), "field 'tensor[0].offset': tensor 'a': data [32, 96) overlaps tensor "
                                              "'b' [0, 64)");
  EXPECT_HAS(parse_error(two_tensors(64, 64)), "overlaps");
  // Any order is fine when they do not overlap; a zero-sized tensor overlaps nothing.
  std::vector<uint8_t> keep;
  const GgufFile f = testing::parse(two_tensors(64, 0), &keep);
  EXPECT_EQ(f.tensors[0].data, f.tensors[1].data + 64);
  EXPECT_EQ(testing::parse(two_tensors(0, 0, 0), &keep).tensors.size(), 2u);
}

TEST(GgufHostile, Alignment) {
  auto with_alignment = [](uint32_t type, uint64_t value, uint64_t offset) {
    GgufBytes b;
    b.header(1, 1).str("general.alignment").u32(type);
    if (type == 10) b.u64(value);
    else b.u32(static_cast<uint32_t>(value));
    b.tensor("w", {8}, kF32, offset).pad_to(64).zeros(128);
    return b.bytes;
  };
  EXPECT_HAS(parse_error(with_alignment(4, 0, 0)), "field 'general.alignment': 0 is not a non-zero power of two");
  EXPECT_HAS(parse_error(with_alignment(4, 3, 0)), "field 'general.alignment': 3 is not");
  EXPECT_HAS(parse_error(with_alignment(4, 0x80000001u, 0)), "field 'general.alignment'");
  EXPECT_HAS(parse_error(with_alignment(10, 64, 0)), "field 'general.alignment': must be a u32, found u64");
  EXPECT_HAS(parse_error(with_alignment(4, 64, 32)), "offset 32 is not a multiple of the alignment 64");
  std::vector<uint8_t> keep;
  const GgufFile f = testing::parse(with_alignment(4, 64, 64), &keep);
  EXPECT_EQ(f.alignment, 64u);
  EXPECT_EQ((f.tensors[0].data - keep.data()) % 64, 0);
}

TEST(GgufHostile, DuplicateKeys) {
  GgufBytes b;
  b.header(0, 2).kv_u32("a.b", 1).kv_str("a.b", "x");
  EXPECT_HAS(parse_error(b.bytes), "field 'kv[1].key': duplicate key 'a.b' (first at kv[0])");
}

TEST(GgufHostile, DuplicateTensorNames) {
  GgufBytes b;
  b.header(2, 0).tensor("w", {8}, kF32, 0).tensor("w", {8}, kF32, 32).pad_to(32).zeros(64);
  EXPECT_HAS(parse_error(b.bytes), "field 'tensor[1].name': duplicate tensor name 'w' (first at tensor[0])");
}

TEST(GgufHostile, TensorNameLength) {
  GgufBytes b;
  b.header(1, 0).u64(1ull << 63).zeros(64);
  EXPECT_HAS(parse_error(b.bytes), "field 'tensor[0].name': string length 9223372036854775808");
}

}  // namespace
}  // namespace lowbit
