// GgufValue conversions and display, and GgufFile's lookups and edits.
#include <gtest/gtest.h>

#include "formats/gguf/gguf.h"
#include "formats/gguf/gguf_testing.h"

namespace lowbit {
namespace {

using testing::error_of;

GgufValue scalar(GgufType t, uint64_t u, int64_t i = 0) {
  GgufValue v;
  v.type = t;
  v.u = u;
  v.i = i;
  return v;
}

TEST(GgufValue, Makers) {
  EXPECT_EQ(GgufValue::make_u32(7).type, GgufType::U32);
  EXPECT_EQ(GgufValue::make_u32(7).u, 7u);
  EXPECT_EQ(GgufValue::make_i32(-7).i, -7);
  EXPECT_EQ(GgufValue::make_u64(1ull << 40).u, 1ull << 40);
  EXPECT_EQ(GgufValue::make_f32(0.5f).f, 0.5);
  EXPECT_EQ(GgufValue::make_bool(true).u, 1u);
  EXPECT_EQ(GgufValue::make_str("x").s, "x");
  const auto a = GgufValue::make_str_array({"a", "b"});
  EXPECT_EQ(a.type, GgufType::ARRAY);
  EXPECT_EQ(a.elem_type, GgufType::STRING);
  EXPECT_EQ(a.as_str_array("k"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(GgufValue::make_f32_array({1.5f, -2}).as_f32_array("k"), (std::vector<float>{1.5f, -2}));
  EXPECT_EQ(GgufValue::make_i32_array({3, -4}).as_i64_array("k"), (std::vector<int64_t>{3, -4}));
}

TEST(GgufValue, IntegerConversions) {
  EXPECT_EQ(GgufValue::make_i32(5).as_u64("k"), 5u);
  EXPECT_EQ(GgufValue::make_bool(true).as_u64("k"), 1u);
  EXPECT_EQ(scalar(GgufType::U8, 200).as_i64("k"), 200);
  EXPECT_EQ(GgufValue::make_i32(-5).as_i64("k"), -5);
  EXPECT_HAS(error_of([] { GgufValue::make_i32(-5).as_u64("llama.block_count"); }), "'llama.block_count'");
  EXPECT_HAS(error_of([] { GgufValue::make_u64(~0ull).as_i64("big"); }), "'big'");
  EXPECT_HAS(error_of([] { GgufValue::make_f32(1).as_u64("eps"); }), "found f32");
  EXPECT_HAS(error_of([] { GgufValue::make_str("1").as_i64("s"); }), "'s'");
}

TEST(GgufValue, FloatAndStringConversions) {
  EXPECT_EQ(GgufValue::make_f32(0.25f).as_f64("k"), 0.25);
  EXPECT_EQ(GgufValue::make_u32(3).as_f64("k"), 3.0);
  EXPECT_EQ(GgufValue::make_i32(-3).as_f64("k"), -3.0);
  EXPECT_HAS(error_of([] { GgufValue::make_str("x").as_f64("rope"); }), "'rope'");
  EXPECT_EQ(GgufValue::make_str("llama").as_str("k"), "llama");
  EXPECT_HAS(error_of([] { GgufValue::make_u32(1).as_str("general.name"); }), "'general.name'");
  // Array conversions name the key, and the element when one element is wrong.
  EXPECT_HAS(error_of([] { GgufValue::make_u32(1).as_str_array("tok"); }), "'tok'");
  EXPECT_HAS(error_of([] { GgufValue::make_str_array({"a"}).as_f32_array("scores"); }), "'scores[0]'");
  EXPECT_HAS(error_of([] { GgufValue::make_f32_array({1}).as_i64_array("types"); }), "'types[0]'");
  // Any numeric element converts to float.
  EXPECT_EQ(GgufValue::make_i32_array({2}).as_f32_array("k"), std::vector<float>{2.0f});
}

TEST(GgufValue, Display) {
  EXPECT_EQ(GgufValue::make_u32(42).to_display(), "42");
  EXPECT_EQ(GgufValue::make_i32(-42).to_display(), "-42");
  EXPECT_EQ(GgufValue::make_f32(1e-5f).to_display(), "1e-05");
  EXPECT_EQ(GgufValue::make_f32(0.1f).to_display(), "0.1");
  EXPECT_EQ(GgufValue::make_bool(false).to_display(), "false");
  EXPECT_EQ(GgufValue::make_str("a\"b\n").to_display(), "\"a\\\"b\\n\"");
  const std::string long_str(1000, 'x');
  const std::string shown = GgufValue::make_str(long_str).to_display();
  EXPECT_LT(shown.size(), 120u);
  EXPECT_HAS(shown, "(1000 bytes)");
  // Truncation never splits a UTF-8 sequence: 79 ASCII bytes then a 2-byte character.
  EXPECT_HAS(GgufValue::make_str(std::string(79, 'a') + "\xc3\xa9" + "zz").to_display(), "a\"... (83 bytes)");
  EXPECT_EQ(GgufValue::make_i32_array({1, 2, 3}).to_display(), "array<i32> [1, 2, 3]");
  EXPECT_EQ(GgufValue::make_str_array({"a", "b", "c", "d"}).to_display(2),
            "array<string> [\"a\", \"b\", ... (4 total)]");
  EXPECT_EQ(GgufValue::make_i32_array({1, 2}).to_display(0), "array<i32> [... (2 total)]");
  GgufValue nested;
  nested.type = GgufType::ARRAY;
  nested.elem_type = GgufType::ARRAY;
  nested.arr = {GgufValue::make_i32_array({1}), GgufValue::make_str_array({})};
  EXPECT_EQ(nested.to_display(), "array<array> [array<i32> [1], array<string> []]");
}

TEST(GgufValue, TypeNames) {
  EXPECT_STREQ(gguf_type_name(GgufType::U8), "u8");
  EXPECT_STREQ(gguf_type_name(GgufType::STRING), "string");
  EXPECT_STREQ(gguf_type_name(GgufType::F64), "f64");
  EXPECT_STREQ(gguf_type_name(static_cast<GgufType>(13)), "invalid");
}

TEST(GgufFile, FindSetErase) {
  GgufFile f;
  f.set("a", GgufValue::make_u32(1));
  f.set("b", GgufValue::make_str("x"));
  f.set("a", GgufValue::make_u32(2));  // replaces in place, keeps order
  ASSERT_EQ(f.kv.size(), 2u);
  EXPECT_EQ(f.kv[0].first, "a");
  EXPECT_EQ(f.find("a")->u, 2u);
  EXPECT_EQ(f.find("zz"), nullptr);
  f.erase("a");
  EXPECT_EQ(f.find("a"), nullptr);
  EXPECT_EQ(f.kv.size(), 1u);
  f.erase("not there");
  EXPECT_EQ(f.kv.size(), 1u);

  GgufTensorInfo t;
  t.name = "w";
  t.ne = {4, 3, 2};
  f.tensors.push_back(t);
  ASSERT_NE(f.find_tensor("w"), nullptr);
  EXPECT_EQ(f.find_tensor("w")->n_elements(), 24u);
  EXPECT_EQ(f.find_tensor("v"), nullptr);
}

TEST(GgufFile, TypedGetters) {
  GgufFile f;
  f.set("n", GgufValue::make_u32(12));
  f.set("eps", GgufValue::make_f32(0.5f));
  f.set("name", GgufValue::make_str("tiny"));
  EXPECT_EQ(f.get_u64("n"), 12u);
  EXPECT_EQ(f.get_f64("eps"), 0.5);
  EXPECT_EQ(f.get_f64("n"), 12.0);
  EXPECT_EQ(f.get_str("name"), "tiny");
  EXPECT_EQ(f.get_u64("missing"), std::nullopt);
  EXPECT_EQ(f.get_str("missing"), std::nullopt);
  EXPECT_HAS(error_of([&] { f.get_u64("name"); }), "'name'");
  EXPECT_HAS(error_of([&] { f.get_str("n"); }), "'n'");
}

}  // namespace
}  // namespace lowbit
