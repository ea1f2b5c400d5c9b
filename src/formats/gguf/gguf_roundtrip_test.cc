// Writing then reading: every value type, several alignments and tensor types, and the
// writer's own validation.
#include <filesystem>
#include <limits>
#include <random>

#include <gtest/gtest.h>

#include "core/error.h"
#include "formats/gguf/gguf.h"
#include "formats/gguf/gguf_testing.h"

namespace lowbit {
namespace {

using testing::error_of;
using testing::expect_file_eq;
using testing::temp_path;

GgufValue scalar(GgufType t, uint64_t u, int64_t i = 0, double f = 0) {
  GgufValue v;
  v.type = t;
  v.u = u;
  v.i = i;
  v.f = f;
  return v;
}

GgufValue array(GgufType elem, std::vector<GgufValue> items) {
  GgufValue v;
  v.type = GgufType::ARRAY;
  v.elem_type = elem;
  v.arr = std::move(items);
  return v;
}

// Tensors own their bytes here; GgufTensorInfo::data points into `storage`.
struct Built {
  GgufFile file;
  std::vector<std::vector<uint8_t>> storage;

  void add_tensor(const std::string& name, GgmlType type, std::vector<int64_t> ne, uint32_t seed) {
    GgufTensorInfo t;
    t.name = name;
    t.type = type;
    t.ne = std::move(ne);
    EXPECT_TRUE(ggml_tensor_bytes(type, t.ne.data(), static_cast<int>(t.ne.size()), &t.nbytes));
    std::vector<uint8_t> bytes(t.nbytes);
    std::mt19937 rng(seed);
    for (auto& b : bytes) b = static_cast<uint8_t>(rng());
    t.offset = 12345;  // the writer must ignore this
    storage.push_back(std::move(bytes));
    t.data = storage.back().data();
    file.tensors.push_back(std::move(t));
  }
};

Built every_value_type(uint32_t alignment) {
  Built b;
  b.storage.reserve(16);
  GgufFile& f = b.file;
  f.alignment = alignment;
  if (alignment != kGgufDefaultAlignment) f.set("general.alignment", GgufValue::make_u32(alignment));
  f.set("u8", scalar(GgufType::U8, 255));
  f.set("i8", scalar(GgufType::I8, 0, -128));
  f.set("u16", scalar(GgufType::U16, 65535));
  f.set("i16", scalar(GgufType::I16, 0, -32768));
  f.set("u32", GgufValue::make_u32(4000000000u));
  f.set("i32", GgufValue::make_i32(std::numeric_limits<int32_t>::min()));
  f.set("u64", GgufValue::make_u64(~0ull));
  f.set("i64", scalar(GgufType::I64, 0, std::numeric_limits<int64_t>::min()));
  f.set("f32", GgufValue::make_f32(-1.25e-7f));
  f.set("f32.inf", GgufValue::make_f32(std::numeric_limits<float>::infinity()));
  f.set("f64", scalar(GgufType::F64, 0, 0, 3.141592653589793));
  f.set("f64.neg_zero", scalar(GgufType::F64, 0, 0, -0.0));
  f.set("bool.true", GgufValue::make_bool(true));
  f.set("bool.false", GgufValue::make_bool(false));
  f.set("string", GgufValue::make_str("hello \xe4\xb8\x96\xe7\x95\x8c\n\t\"quoted\""));
  f.set("string.empty", GgufValue::make_str(""));
  f.set("string.nul", GgufValue::make_str(std::string("a\0b", 3)));
  f.set("a.u8", array(GgufType::U8, {scalar(GgufType::U8, 0), scalar(GgufType::U8, 255)}));
  f.set("a.i8", array(GgufType::I8, {scalar(GgufType::I8, 0, -1), scalar(GgufType::I8, 0, 127)}));
  f.set("a.u16", array(GgufType::U16, {scalar(GgufType::U16, 1), scalar(GgufType::U16, 65535)}));
  f.set("a.i16", array(GgufType::I16, {scalar(GgufType::I16, 0, -2)}));
  f.set("a.u32", array(GgufType::U32, {GgufValue::make_u32(7), GgufValue::make_u32(0xFFFFFFFFu)}));
  f.set("a.i32", GgufValue::make_i32_array({-1, 0, 1, 2147483647}));
  f.set("a.u64", array(GgufType::U64, {GgufValue::make_u64(1ull << 63)}));
  f.set("a.i64", array(GgufType::I64, {scalar(GgufType::I64, 0, -(1ll << 62))}));
  f.set("a.f32", GgufValue::make_f32_array({0.5f, -0.0f, 1e30f}));
  f.set("a.f64", array(GgufType::F64, {scalar(GgufType::F64, 0, 0, 1e300), scalar(GgufType::F64, 0, 0, -2.5)}));
  f.set("a.bool", array(GgufType::BOOL, {GgufValue::make_bool(true), GgufValue::make_bool(false)}));
  f.set("a.string", GgufValue::make_str_array({"<unk>", "", "\xe2\x96\x81the"}));
  f.set("a.empty", array(GgufType::F32, {}));
  f.set("a.nested", array(GgufType::ARRAY, {GgufValue::make_i32_array({1, 2}), GgufValue::make_str_array({"x"}),
                                            array(GgufType::ARRAY, {GgufValue::make_f32_array({9})}),
                                            array(GgufType::U8, {})}));
  b.add_tensor("f32", GgmlType::F32, {5, 3}, 1);  // 60 bytes: padding follows
  b.add_tensor("f16", GgmlType::F16, {7}, 2);
  b.add_tensor("bf16", GgmlType::BF16, {4, 2, 3}, 3);
  b.add_tensor("q4_0", GgmlType::Q4_0, {64, 3}, 4);
  b.add_tensor("q4_K", GgmlType::Q4_K, {512, 2, 1, 2}, 5);
  b.add_tensor("empty", GgmlType::F32, {0, 4}, 6);
  return b;
}

class GgufRoundTrip : public ::testing::TestWithParam<uint32_t> {};

TEST_P(GgufRoundTrip, EveryValueTypeAndTensorType) {
  const uint32_t alignment = GetParam();
  Built b = every_value_type(alignment);
  const std::string path = temp_path("roundtrip-" + std::to_string(alignment) + ".gguf");
  gguf_write(path, b.file);
  const GgufFile back = gguf_read(path);
  expect_file_eq(b.file, back);
  EXPECT_NE(back.map, nullptr);

  // Offsets are the writer's: in file order, aligned, each tensor padded to the alignment.
  uint64_t expect = 0;
  for (const auto& t : back.tensors) {
    EXPECT_EQ(t.offset, expect) << t.name;
    EXPECT_EQ(t.offset % alignment, 0u) << t.name;
    expect += (t.nbytes + alignment - 1) / alignment * alignment;
  }
  // Data points into the map, at an aligned file position.
  const uint8_t* base = back.map->data();
  for (const auto& t : back.tensors) {
    EXPECT_GE(t.data, base);
    EXPECT_LE(t.data + t.nbytes, base + back.map->size());
    EXPECT_EQ((t.data - base) % alignment, 0) << t.name;
  }
  EXPECT_EQ(std::filesystem::file_size(path), back.tensors.back().data - base + expect - back.tensors.back().offset);

  // The in-memory form is byte for byte the file.
  const std::vector<uint8_t> mem = gguf_write_bytes(b.file);
  ASSERT_EQ(mem.size(), back.map->size());
  EXPECT_EQ(0, std::memcmp(mem.data(), base, mem.size()));
  std::filesystem::remove(path);
}

INSTANTIATE_TEST_SUITE_P(Alignments, GgufRoundTrip, ::testing::Values(32u, 64u, 1u, 4096u));

TEST(GgufWrite, Version2RoundTrips) {
  Built b = every_value_type(32);
  b.file.version = 2;
  std::vector<uint8_t> keep;
  const GgufFile back = testing::parse(gguf_write_bytes(b.file), &keep);
  EXPECT_EQ(back.version, 2u);
  expect_file_eq(b.file, back);
}

TEST(GgufWrite, AppendsAlignmentKeyWhenMissing) {
  Built b;
  b.file.alignment = 128;
  b.add_tensor("w", GgmlType::F32, {3}, 1);
  b.add_tensor("v", GgmlType::F32, {3}, 2);
  std::vector<uint8_t> keep;
  const GgufFile back = testing::parse(gguf_write_bytes(b.file), &keep);
  EXPECT_EQ(back.alignment, 128u);
  EXPECT_EQ(back.get_u64("general.alignment"), 128u);
  EXPECT_EQ(back.tensors[1].offset, 128u);
}

TEST(GgufWrite, MetadataOnlyFile) {
  GgufFile f;
  f.set("tokenizer.ggml.model", GgufValue::make_str("llama"));
  std::vector<uint8_t> keep;
  const auto bytes = gguf_write_bytes(f);
  EXPECT_EQ(bytes.size(), 4u + 4 + 8 + 8 + (8 + 20 + 4 + 8 + 5));  // no data section padding
  const GgufFile back = testing::parse(bytes, &keep);
  expect_file_eq(f, back);
}

TEST(GgufWrite, RejectsBadFilesBeforeCreatingAnything) {
  const std::string path = temp_path("rejected.gguf");
  std::filesystem::remove(path);
  auto rejected = [&](const std::function<void(Built&)>& edit) {
    Built b;
    b.storage.reserve(4);
    b.add_tensor("a", GgmlType::Q4_0, {32, 2}, 1);
    b.add_tensor("b", GgmlType::F32, {4}, 2);
    b.file.set("k", GgufValue::make_u32(1));
    edit(b);
    const std::string msg = error_of([&] { gguf_write(path, b.file); });
    EXPECT_FALSE(std::filesystem::exists(path)) << msg;
    for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(path).parent_path()))
      EXPECT_EQ(e.path().filename().string().find(std::filesystem::path(path).filename().string() + ".tmp"),
                std::string::npos);
    return msg;
  };
  EXPECT_HAS(rejected([](Built& b) { b.file.tensors[0].nbytes += 1; }), "tensor 'a': nbytes");
  EXPECT_HAS(rejected([](Built& b) { b.file.tensors[1].data = nullptr; }), "tensor 'b': no data");
  EXPECT_HAS(rejected([](Built& b) { b.file.tensors[1].name = "a"; }), "duplicate tensor name 'a'");
  EXPECT_HAS(rejected([](Built& b) { b.file.kv.emplace_back("k", GgufValue::make_u32(2)); }), "duplicate key 'k'");
  EXPECT_HAS(rejected([](Built& b) { b.file.tensors[0].ne = {16, 2}; }), "block size 32");
  EXPECT_HAS(rejected([](Built& b) { b.file.tensors[1].ne = {1, 1, 1, 1, 4}; }), "5 dimensions");
  EXPECT_HAS(rejected([](Built& b) { b.file.tensors[1].ne = {-4}; }), "negative");
  EXPECT_HAS(rejected([](Built& b) { b.file.tensors[1].type = static_cast<GgmlType>(4); }), "not a ggml type");
  EXPECT_HAS(rejected([](Built& b) { b.file.version = 1; }), "version 1");
  EXPECT_HAS(rejected([](Built& b) { b.file.alignment = 48; }), "alignment 48");
  EXPECT_HAS(rejected([](Built& b) { b.file.set("general.alignment", GgufValue::make_u32(64)); }),
             "general.alignment is 64 but GgufFile::alignment is 32");
  EXPECT_HAS(rejected([](Built& b) {
               b.file.alignment = 64;
               b.file.set("general.alignment", GgufValue::make_u64(64));
             }),
             "must be a u32");
  EXPECT_HAS(rejected([](Built& b) { b.file.set("small", scalar(GgufType::U8, 256)); }), "key 'small': value 256");
  EXPECT_HAS(rejected([](Built& b) { b.file.set("small", scalar(GgufType::I16, 0, 40000)); }), "key 'small'");
  EXPECT_HAS(rejected([](Built& b) { b.file.set("bad", scalar(static_cast<GgufType>(13), 0)); }), "key 'bad'");
  EXPECT_HAS(rejected([](Built& b) {
               b.file.set("mixed", array(GgufType::U32, {GgufValue::make_u32(1), GgufValue::make_str("x")}));
             }),
             "key 'mixed[1]': element is string in an array of u32");
  EXPECT_HAS(rejected([](Built& b) {
               GgufValue v = GgufValue::make_i32_array({1});
               for (int d = 0; d < kGgufMaxArrayDepth; ++d) v = array(GgufType::ARRAY, {v});
               b.file.set("deep", v);
             }),
             "nested deeper than 8");
}

TEST(GgufWrite, ReplacesAnExistingFileAtomically) {
  const std::string path = temp_path("replace.gguf");
  Built a;
  a.add_tensor("a", GgmlType::F32, {8}, 1);
  gguf_write(path, a.file);
  Built b;
  b.add_tensor("b", GgmlType::F16, {8}, 2);
  gguf_write(path, b.file);
  const GgufFile back = gguf_read(path);
  expect_file_eq(b.file, back);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace lowbit

namespace lowbit {
namespace {

TEST(GgufStream, SameBytesAsWholeFileWriter) {
  GgufFile f;
  f.set("general.architecture", GgufValue::make_str("llama"));
  std::vector<std::vector<uint8_t>> data;
  for (int i = 0; i < 3; ++i) {
    GgufTensorInfo t;
    t.name = "t" + std::to_string(i);
    t.type = i == 1 ? GgmlType::Q4_0 : GgmlType::F32;
    t.ne = {64, i + 1};
    ggml_tensor_bytes(t.type, t.ne.data(), 2, &t.nbytes);
    data.emplace_back(t.nbytes);
    for (size_t k = 0; k < t.nbytes; ++k) data.back()[k] = static_cast<uint8_t>(k * 7 + i);
    t.data = data.back().data();
    f.tensors.push_back(t);
  }
  const std::string dir = ::testing::TempDir();
  gguf_write(dir + "/whole.gguf", f);
  {
    GgufStreamWriter w(dir + "/stream.gguf", f);
    EXPECT_THROW(w.write_tensor(1, data[1].data(), data[1].size()), Error);
    for (size_t i = 0; i < 3; ++i) w.write_tensor(i, data[i].data(), data[i].size());
    w.commit();
  }
  auto a = MappedFile::open(dir + "/whole.gguf"), b = MappedFile::open(dir + "/stream.gguf");
  ASSERT_EQ(a->size(), b->size());
  EXPECT_EQ(0, std::memcmp(a->data(), b->data(), a->size()));
  {
    GgufStreamWriter w(dir + "/partial.gguf", f);
    w.write_tensor(0, data[0].data(), data[0].size());
  }  // no commit: nothing left behind
  EXPECT_FALSE(std::filesystem::exists(dir + "/partial.gguf"));
}

}  // namespace
}  // namespace lowbit
