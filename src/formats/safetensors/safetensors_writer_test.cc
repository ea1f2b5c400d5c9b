// The streaming safetensors writer: what it writes reads back through the hostile-input
// reader unchanged; the layout is the reference writer's (8-byte aligned data start, no
// holes, "__metadata__"); misuse is an Error and leaves no file.
#include "formats/safetensors/safetensors_writer.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/temp_dir_testing.h"
#include "formats/safetensors/safetensors.h"

namespace lowbit {
namespace {

namespace fs = std::filesystem;

using Dir = testing::TempDir;

void expect_error(const std::function<void()>& fn, std::initializer_list<std::string> parts) {
  try {
    fn();
  } catch (const Error& e) {
    for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << p << " not in: " << e.what();
    return;
  }
  ADD_FAILURE() << "no lowbit::Error";
}

TEST(SafetensorsWriter, RoundTripsThroughTheReader) {
  Dir d;
  const std::vector<uint16_t> h = {0x3c00, 0xc000, 0x0001};            // 3 F16: odd size, no padding after it
  const std::vector<int32_t> q = {0x76543210, -1, 7, 8, 9, 10};          // I32 [2, 3]
  const std::vector<float> f = {1.5f};                                    // F32 scalar, shape []
  {
    SafetensorsWriter w(d.file("m.safetensors"), {{"a.weight", "F16", {3}}, {"b.qweight", "I32", {2, 3}},
                                                  {"c", "F32", {}}, {"empty", "F32", {0, 4}}});
    EXPECT_EQ(w.nbytes(0), 6u);
    EXPECT_EQ(w.nbytes(1), 24u);
    w.write(0, h.data(), 6);
    w.write(1, q.data(), 24);
    w.write(2, f.data(), 4);
    w.write(3, nullptr, 0);
    w.commit();
  }
  const SafetensorsFile st = safetensors_read(d.file("m.safetensors"));
  ASSERT_EQ(st.tensors.size(), 4u);
  EXPECT_EQ(st.metadata.at("format"), "pt");
  const SafetensorsTensor* a = st.find("a.weight");
  const SafetensorsTensor* b = st.find("b.qweight");
  const SafetensorsTensor* c = st.find("c");
  ASSERT_TRUE(a && b && c && st.find("empty"));
  EXPECT_EQ(a->dtype, "F16");
  EXPECT_EQ(a->shape, std::vector<int64_t>{3});
  EXPECT_EQ(std::memcmp(a->data, h.data(), 6), 0);
  EXPECT_EQ(b->dtype, "I32");
  EXPECT_EQ(b->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(std::memcmp(b->data, q.data(), 24), 0);
  EXPECT_TRUE(c->shape.empty());
  EXPECT_EQ(std::memcmp(c->data, f.data(), 4), 0);
  EXPECT_EQ(b->data, a->data + 6);   // back to back, in declaration order
  EXPECT_EQ(c->data, b->data + 24);

  // The header: u64 length N, JSON padded with spaces so 8 + N is a multiple of 8.
  std::ifstream in(d.file("m.safetensors"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ((8 + n) % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + n + 6 + 24 + 4);
  EXPECT_EQ(bytes[8], '{');
  EXPECT_NE(bytes.substr(8, n).find("\"__metadata__\":{\"format\":\"pt\"}"), std::string::npos);
}

TEST(SafetensorsWriter, BadDeclarationsAreNamedErrors) {
  Dir d;
  const std::string p = d.file("x.safetensors");
  expect_error([&] { SafetensorsWriter(p, {{"", "F16", {1}}}); }, {"x.safetensors", "tensor 0", "empty"});
  expect_error([&] { SafetensorsWriter(p, {{"a", "F16", {1}}, {"a", "F16", {1}}}); }, {"tensor 1 'a'", "declared twice"});
  expect_error([&] { SafetensorsWriter(p, {{"__metadata__", "F16", {1}}}); }, {"reserved"});
  expect_error([&] { SafetensorsWriter(p, {{"a", "Q4_0", {32}}}); }, {"dtype", "Q4_0"});
  expect_error([&] { SafetensorsWriter(p, {{"a", "F16", {2, -1}}}); }, {"negative dimension -1"});
  expect_error([&] { SafetensorsWriter(p, {{"a", "F32", {int64_t{1} << 40, int64_t{1} << 40}}}); }, {"overflows"});
  expect_error([&] { SafetensorsWriter(p, {{"a", "F4", {3}}}); }, {"whole number of bytes"});
  expect_error([&] { SafetensorsWriter(p, {{"bad\xff", "F16", {1}}}); }, {"UTF-8"});
  EXPECT_TRUE(fs::is_empty(d.path())) << "a failed declaration left a file";
}

TEST(SafetensorsWriter, MisuseIsAnErrorAndLeavesNoFile) {
  Dir d;
  const std::string p = d.file("x.safetensors");
  const float v[2] = {1, 2};
  {
    SafetensorsWriter w(p, {{"a", "F32", {2}}, {"b", "F32", {1}}});
    expect_error([&] { w.write(1, v, 4); }, {"tensor 1 written out of order", "expected tensor 0 'a'"});
    expect_error([&] { w.write(0, v, 4); }, {"'a'", "4 bytes given", "need 8"});
    w.write(0, v, 8);
    expect_error([&] { w.commit(); }, {"only 1 of 2", "'b'"});
  }
  EXPECT_TRUE(fs::is_empty(d.path())) << "an uncommitted writer left a file";
}

}  // namespace
}  // namespace lowbit
