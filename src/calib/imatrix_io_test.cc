#include "calib/imatrix_io.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>

#include <gtest/gtest.h>

#include "core/error.h"
#include "formats/gguf/gguf.h"
#include "formats/gguf/gguf_testing.h"

namespace lowbit {
namespace {

using testing::error_of;
using testing::temp_path;

// Little-endian bytes in llama.cpp's legacy .dat layout.
struct Dat {
  std::vector<uint8_t> b;
  Dat& i32(int32_t v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    b.insert(b.end(), p, p + 4);
    return *this;
  }
  Dat& f32(float v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    b.insert(b.end(), p, p + 4);
    return *this;
  }
  Dat& raw(const std::string& s) {
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Dat& entry(const std::string& name, int32_t ncall, const std::vector<float>& values) {
    i32(static_cast<int32_t>(name.size())).raw(name).i32(ncall).i32(static_cast<int32_t>(values.size()));
    for (float v : values) f32(v);
    return *this;
  }
  Dat& trailer(int32_t last_chunk, const std::string& dataset) {
    return i32(last_chunk).i32(static_cast<int32_t>(dataset.size())).raw(dataset);
  }
};

void write_bytes(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

// The error message of reading `bytes` as an imatrix file.
std::string read_error(const std::vector<uint8_t>& bytes, const std::string& name = "bad.dat") {
  const std::string path = temp_path(name);
  write_bytes(path, bytes);
  std::string e = error_of([&] { imatrix_read(path); });
  std::filesystem::remove(path);
  return e;
}

Imatrix sample_imatrix() {
  Imatrix m;
  std::mt19937 rng(5);
  std::normal_distribution<float> d(0.f, 2.f);
  std::vector<float> X(37 * 64);
  for (auto& x : X) x = d(rng);
  m.add("blk.0.attn_q.weight", X.data(), 37, 64);
  m.add("blk.0.attn_k.weight", X.data(), 37, 64);
  m.add("blk.0.ffn_down.weight", X.data(), 16, 148);   // same data, other shape
  m.add("blk.0.attn_q.weight", X.data() + 64, 20, 64);
  ImatrixEntry moe;   // three experts, one never used
  moe.sum2 = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  moe.count = {2, 0, 8};
  m.entries["blk.1.ffn_up_exps.weight"] = moe;
  m.datasets = {"wiki.train.raw", "extra.txt"};
  m.chunk_count = 3;
  m.chunk_size = 512;
  return m;
}

void expect_importance_near(const Imatrix& a, const Imatrix& b, double rel) {
  ASSERT_EQ(a.entries.size(), b.entries.size());
  for (const auto& [name, e] : a.entries) {
    ASSERT_TRUE(b.entries.count(name)) << name;
    const auto ia = a.importance(name), ib = b.importance(name);
    ASSERT_EQ(ia.size(), ib.size()) << name;
    for (size_t i = 0; i < ia.size(); ++i) EXPECT_NEAR(ia[i], ib[i], rel * std::fabs(ia[i]) + 1e-30) << name << "[" << i << "]";
  }
}

// ---- Imatrix::add / importance ------------------------------------------------------------

TEST(Imatrix, AddAccumulatesSquaresAndRows) {
  Imatrix m;
  const float a[] = {1, 2, 3, -1, 0, 2};   // 2 rows x 3 cols
  m.add("w", a, 2, 3);
  const float b[] = {3, 0, 1};
  m.add("w", b, 1, 3);
  const auto& e = m.entries.at("w");
  EXPECT_EQ(e.sum2, (std::vector<double>{11, 4, 14}));
  EXPECT_EQ(e.count, (std::vector<double>{3}));
  const auto imp = m.importance("w");
  ASSERT_EQ(imp.size(), 3u);
  EXPECT_FLOAT_EQ(imp[0], 11.f / 3);
  EXPECT_FLOAT_EQ(imp[1], 4.f / 3);
  EXPECT_FLOAT_EQ(imp[2], 14.f / 3);
  EXPECT_TRUE(m.importance("absent").empty());

  EXPECT_THROW(m.add("w", a, 1, 2), Error);   // other width
  const float bad[] = {1, NAN, 2};
  EXPECT_THROW(m.add("w", bad, 1, 3), Error);
  EXPECT_EQ(m.entries.at("w").count[0], 3);   // unchanged
  EXPECT_EQ(m.entries.at("w").sum2[0], 11);
  EXPECT_THROW(m.add("", a, 1, 3), Error);
  EXPECT_THROW(m.add("v", a, -1, 3), Error);
  m.add("z", nullptr, 0, 4);   // zero rows: an entry with count 0
  EXPECT_EQ(m.importance("z"), (std::vector<float>{1, 1, 1, 1}));
}

TEST(Imatrix, ImportancePerMatrixWithUnusedExperts) {
  const Imatrix m = sample_imatrix();
  const auto imp = m.importance("blk.1.ffn_up_exps.weight");
  EXPECT_EQ(imp, (std::vector<float>{0.5f, 1.f, 1.5f, 2.f, 1, 1, 1, 1, 9.f / 8, 10.f / 8, 11.f / 8, 12.f / 8}));
}

// ---- GGUF ---------------------------------------------------------------------------------

TEST(ImatrixGguf, RoundTrip) {
  const Imatrix m = sample_imatrix();
  const std::string path = temp_path("rt.imatrix.gguf");
  imatrix_write_gguf(path, m);
  const Imatrix r = imatrix_read(path);
  EXPECT_EQ(r.datasets, m.datasets);
  EXPECT_EQ(r.chunk_count, 3);
  EXPECT_EQ(r.chunk_size, 512);
  ASSERT_EQ(r.entries.size(), m.entries.size());
  for (const auto& [name, e] : m.entries) {
    const auto& g = r.entries.at(name);
    EXPECT_EQ(g.count, e.count) << name;
    ASSERT_EQ(g.sum2.size(), e.sum2.size());
    for (size_t i = 0; i < e.sum2.size(); ++i) EXPECT_EQ(g.sum2[i], static_cast<float>(e.sum2[i])) << name;
  }
  expect_importance_near(m, r, 1e-6);
  // A second write of what was read is byte-identical.
  const std::string path2 = temp_path("rt2.imatrix.gguf");
  imatrix_write_gguf(path2, r);
  EXPECT_EQ(read_bytes(path), read_bytes(path2));
  std::filesystem::remove(path);
  std::filesystem::remove(path2);
}

// What llama.cpp's save_imatrix writes: the same keys, types, order, tensor names and shapes.
TEST(ImatrixGguf, LayoutIsLlamaCpps) {
  const Imatrix m = sample_imatrix();
  const std::string path = temp_path("layout.imatrix.gguf");
  imatrix_write_gguf(path, m);
  const GgufFile g = gguf_read(path);
  EXPECT_EQ(g.version, 3u);
  EXPECT_EQ(g.alignment, 32u);
  ASSERT_EQ(g.kv.size(), 4u);   // no general.alignment: llama.cpp's writer adds none
  EXPECT_EQ(g.kv[0].first, "general.type");
  EXPECT_EQ(g.kv[0].second.type, GgufType::STRING);
  EXPECT_EQ(g.kv[0].second.s, "imatrix");
  EXPECT_EQ(g.kv[1].first, "imatrix.datasets");
  EXPECT_EQ(g.kv[1].second.type, GgufType::ARRAY);
  EXPECT_EQ(g.kv[1].second.elem_type, GgufType::STRING);
  EXPECT_EQ(g.kv[1].second.as_str_array("d"), m.datasets);
  EXPECT_EQ(g.kv[2].first, "imatrix.chunk_count");
  EXPECT_EQ(g.kv[2].second.type, GgufType::U32);
  EXPECT_EQ(g.kv[2].second.u, 3u);
  EXPECT_EQ(g.kv[3].first, "imatrix.chunk_size");
  EXPECT_EQ(g.kv[3].second.type, GgufType::U32);
  EXPECT_EQ(g.kv[3].second.u, 512u);

  struct T {
    std::string name;
    std::vector<int64_t> ne;
  };
  const std::vector<T> expect = {
      {"blk.0.attn_k.weight.in_sum2", {64}},        {"blk.0.attn_k.weight.counts", {1}},
      {"blk.0.attn_q.weight.in_sum2", {64}},        {"blk.0.attn_q.weight.counts", {1}},
      {"blk.0.ffn_down.weight.in_sum2", {148}},     {"blk.0.ffn_down.weight.counts", {1}},
      {"blk.1.ffn_up_exps.weight.in_sum2", {4, 3}}, {"blk.1.ffn_up_exps.weight.counts", {1, 3}},
  };
  ASSERT_EQ(g.tensors.size(), expect.size());
  for (size_t i = 0; i < expect.size(); ++i) {
    EXPECT_EQ(g.tensors[i].name, expect[i].name);
    EXPECT_EQ(g.tensors[i].ne, expect[i].ne) << expect[i].name;
    EXPECT_EQ(g.tensors[i].type, GgmlType::F32) << expect[i].name;
  }
  float counts[3];
  std::memcpy(counts, g.find_tensor("blk.1.ffn_up_exps.weight.counts")->data, 12);
  EXPECT_EQ(counts[0], 2.f);
  EXPECT_EQ(counts[1], 0.f);
  EXPECT_EQ(counts[2], 8.f);
  float q_count;
  std::memcpy(&q_count, g.find_tensor("blk.0.attn_q.weight.counts")->data, 4);
  EXPECT_EQ(q_count, 57.f);   // 37 + 20 rows
  std::filesystem::remove(path);
}

// A file as a llama.cpp with the in_sum extension writes it, plus metadata and tensors a
// reader must ignore (lowbit's calibrate appends lowbit.act.* keys to its imatrix files).
TEST(ImatrixGguf, ReadsLlamaCppFilesWithExtras) {
  GgufFile g;
  g.set("general.type", GgufValue::make_str("imatrix"));
  g.set("imatrix.datasets", GgufValue::make_str_array({"calib.txt"}));
  g.set("imatrix.chunk_count", GgufValue::make_u32(10));
  g.set("imatrix.chunk_size", GgufValue::make_u32(512));
  g.set("lowbit.act.blk.0.attn_in.absmax", GgufValue::make_f32_array({1, 2}));
  std::vector<float> sum2 = {10, 20, 30, 40}, counts = {5120}, sum = {1, 2, 3, 4}, other = {7};
  auto tensor = [](const std::string& name, std::vector<int64_t> ne, const std::vector<float>& v) {
    GgufTensorInfo t;
    t.name = name;
    t.ne = std::move(ne);
    t.nbytes = v.size() * 4;
    t.data = reinterpret_cast<const uint8_t*>(v.data());
    return t;
  };
  g.tensors = {tensor("blk.0.attn_v.weight.counts", {1, 1}, counts), tensor("blk.0.attn_v.weight.in_sum2", {4, 1}, sum2),
               tensor("blk.0.attn_v.weight.in_sum", {4}, sum), tensor("something.else", {1}, other)};
  const std::string path = temp_path("llamacpp.imatrix.gguf");
  gguf_write(path, g);
  const Imatrix m = imatrix_read(path);
  ASSERT_EQ(m.entries.size(), 1u);
  EXPECT_EQ(m.importance("blk.0.attn_v.weight"), (std::vector<float>{10.f / 5120, 20.f / 5120, 30.f / 5120, 40.f / 5120}));
  EXPECT_EQ(m.chunk_count, 10);
  EXPECT_EQ(m.chunk_size, 512);
  EXPECT_EQ(m.datasets, (std::vector<std::string>{"calib.txt"}));
  std::filesystem::remove(path);
}

// Hand-made broken GGUF imatrix files: each is an Error naming the file and the tensor/key.
TEST(ImatrixGguf, HostileFiles) {
  struct Case {
    const char* what;
    std::function<void(GgufFile&, std::vector<std::vector<float>>&)> edit;
    const char* needle;
  };
  auto tensor = [](const std::string& name, std::vector<int64_t> ne, std::vector<float>& v, GgmlType type = GgmlType::F32) {
    GgufTensorInfo t;
    t.name = name;
    t.type = type;
    t.ne = std::move(ne);
    t.nbytes = type == GgmlType::F16 ? v.size() * 2 : v.size() * 4;
    t.data = reinterpret_cast<const uint8_t*>(v.data());
    return t;
  };
  const std::vector<Case> cases = {
      {"in_sum2 without counts",
       [&](GgufFile& g, auto& d) { g.tensors = {tensor("w.in_sum2", {2}, d[0])}; }, "'w' has in_sum2 without counts"},
      {"counts without in_sum2",
       [&](GgufFile& g, auto& d) { g.tensors = {tensor("w.counts", {1}, d[1])}; }, "'w' has counts without in_sum2"},
      {"counts shape", [&](GgufFile& g, auto& d) { g.tensors = {tensor("w.in_sum2", {2}, d[0]), tensor("w.counts", {2}, d[0])}; },
       "'w.counts' has shape 2"},
      {"counts shape 2d",
       [&](GgufFile& g, auto& d) { g.tensors = {tensor("w.in_sum2", {1, 2}, d[0]), tensor("w.counts", {2, 1}, d[0])}; },
       "'w.counts' has shape 2x1"},
      {"in_sum size",
       [&](GgufFile& g, auto& d) {
         g.tensors = {tensor("w.in_sum2", {2}, d[0]), tensor("w.counts", {1}, d[1]), tensor("w.in_sum", {1}, d[1])};
       },
       "'w.in_sum' has 1 elements"},
      {"negative count",
       [&](GgufFile& g, auto& d) {
         d[1][0] = -3;
         g.tensors = {tensor("w.in_sum2", {2}, d[0]), tensor("w.counts", {1}, d[1])};
       },
       "count -3"},
      {"NaN count",
       [&](GgufFile& g, auto& d) {
         d[1][0] = NAN;
         g.tensors = {tensor("w.in_sum2", {2}, d[0]), tensor("w.counts", {1}, d[1])};
       },
       "count nan"},
      {"NaN sum",
       [&](GgufFile& g, auto& d) {
         d[0][1] = NAN;
         g.tensors = {tensor("w.in_sum2", {2}, d[0]), tensor("w.counts", {1}, d[1])};
       },
       "'w.in_sum2' element 1: nan"},
      {"negative sum",
       [&](GgufFile& g, auto& d) {
         d[0][0] = -1;
         g.tensors = {tensor("w.in_sum2", {2}, d[0]), tensor("w.counts", {1}, d[1])};
       },
       "'w.in_sum2' element 0: -1"},
      {"F16 sums",
       [&](GgufFile& g, auto& d) { g.tensors = {tensor("w.in_sum2", {2}, d[0], GgmlType::F16), tensor("w.counts", {1}, d[1])}; },
       "'w.in_sum2' is f16"},
      {"model file", [&](GgufFile& g, auto& d) { g.set("general.type", GgufValue::make_str("model")); },
       "general.type is 'model'"},
      {"no entries", [&](GgufFile& g, auto& d) { g.tensors.clear(); }, "no imatrix entries"},
      {"chunk_size type", [&](GgufFile& g, auto& d) { g.set("imatrix.chunk_size", GgufValue::make_str("512")); },
       "imatrix.chunk_size"},
      {"negative chunk_count", [&](GgufFile& g, auto& d) { g.set("imatrix.chunk_count", GgufValue::make_i32(-1)); },
       "imatrix.chunk_count"},
      {"datasets type", [&](GgufFile& g, auto& d) { g.set("imatrix.datasets", GgufValue::make_u32(1)); },
       "imatrix.datasets"},
  };
  for (const auto& c : cases) {
    std::vector<std::vector<float>> data = {{1, 2}, {4}};
    GgufFile g;
    g.set("general.type", GgufValue::make_str("imatrix"));
    g.set("imatrix.datasets", GgufValue::make_str_array({}));
    g.set("imatrix.chunk_count", GgufValue::make_u32(1));
    g.set("imatrix.chunk_size", GgufValue::make_u32(4));
    g.tensors = {tensor("w.in_sum2", {2}, data[0]), tensor("w.counts", {1}, data[1])};
    c.edit(g, data);
    const std::string path = temp_path("hostile.imatrix.gguf");
    gguf_write(path, g);
    const std::string e = error_of([&] { imatrix_read(path); });
    EXPECT_HAS(e, path);
    EXPECT_HAS(e, c.needle);
    const std::string what = c.what;
    if (what == "negative count" || what == "NaN count" || what == "NaN sum" || what == "negative sum")
      EXPECT_HAS(e, "byte offset");
    std::filesystem::remove(path);
  }
}

// Every proper prefix of a written imatrix GGUF is an Error (the GGUF parser's checks).
TEST(ImatrixGguf, TruncatedFiles) {
  Imatrix m;
  const float x[] = {1, 2, 3, 4};
  m.add("blk.0.attn_q.weight", x, 1, 4);
  m.datasets = {"d"};
  const std::string path = temp_path("trunc.imatrix.gguf");
  imatrix_write_gguf(path, m);
  const auto bytes = read_bytes(path);
  // The writer pads after the last tensor (as llama.cpp's does); cutting only padding leaves
  // a valid file.
  const GgufFile g = gguf_read(path);
  const auto& last = g.tensors.back();
  const size_t data_end = static_cast<size_t>(last.data - g.map->data()) + last.nbytes;
  ASSERT_LT(data_end, bytes.size());
  const std::string prefix_path = temp_path("trunc-prefix.gguf");
  for (size_t n = 0; n < bytes.size(); ++n) {
    write_bytes(prefix_path, std::vector<uint8_t>(bytes.begin(), bytes.begin() + n));
    if (n >= data_end) {
      EXPECT_EQ(imatrix_read(prefix_path).entries.size(), 1u) << n;
      continue;
    }
    const std::string e = error_of([&] { imatrix_read(prefix_path); });
    EXPECT_HAS(e, prefix_path);
  }
  std::filesystem::remove(prefix_path);
  std::filesystem::remove(path);
}

TEST(ImatrixGguf, WriterRefusesWhatLlamaCppCannotLoad) {
  const std::string path = temp_path("refuse.imatrix.gguf");
  EXPECT_HAS(error_of([&] { imatrix_write_gguf(path, Imatrix{}); }), "no entries");
  Imatrix m;
  const float x[] = {1, 2};
  m.add(std::string(56, 'a'), x, 1, 2);   // 56 + ".in_sum2" = 64 bytes
  EXPECT_HAS(error_of([&] { imatrix_write_gguf(path, m); }), "GGML_MAX_NAME");
  Imatrix ok;
  ok.add(std::string(55, 'a'), x, 1, 2);   // 63 bytes: fine
  imatrix_write_gguf(path, ok);
  Imatrix big;
  big.entries["w"] = {{1e300}, {1}};
  EXPECT_HAS(error_of([&] { imatrix_write_gguf(path, big); }), "does not fit an f32");
  Imatrix ragged;
  ragged.entries["w"] = {{1, 2, 3}, {1, 1}};
  EXPECT_HAS(error_of([&] { imatrix_write_gguf(path, ragged); }), "3 sums for 2 matrices");
  Imatrix negative;
  negative.entries["w"] = {{1}, {-1}};
  EXPECT_HAS(error_of([&] { imatrix_write_gguf(path, negative); }), "count[0] = -1");
  std::filesystem::remove(path);
}

// ---- legacy .dat --------------------------------------------------------------------------

TEST(ImatrixDat, RoundTripKeepsImportance) {
  const Imatrix m = sample_imatrix();
  const std::string path = temp_path("rt.imatrix.dat");
  imatrix_write_dat(path, m);
  const Imatrix r = imatrix_read(path);
  expect_importance_near(m, r, 2e-7);
  EXPECT_EQ(r.chunk_count, 3);
  EXPECT_EQ(r.chunk_size, 0);   // not in the format
  EXPECT_EQ(r.datasets, (std::vector<std::string>{"extra.txt"}));   // the .dat keeps the last one
  // The unused expert reads back as importance 1, as llama.cpp stores it.
  // .dat -> .dat is byte-identical (count holds ncall, which is written back as is).
  const std::string path2 = temp_path("rt2.imatrix.dat");
  imatrix_write_dat(path2, r);
  EXPECT_EQ(read_bytes(path), read_bytes(path2));
  // .dat -> GGUF -> importance still the same.
  const std::string path3 = temp_path("rt3.imatrix.gguf");
  imatrix_write_gguf(path3, r);
  expect_importance_near(m, imatrix_read(path3), 2e-7);
  for (const auto& p : {path, path2, path3}) std::filesystem::remove(p);
}

// The bytes match llama.cpp's save_imatrix_legacy: entries sorted by name, ncall =
// ceil(max count / chunk_size), values = mean * ncall, the trailer with the last dataset.
TEST(ImatrixDat, WritesLlamaCppBytes) {
  Imatrix m;
  const float x[] = {1, 2, 3, 4, 0, 2};   // rows {1,2}, {3,4}, {0,2}: sum2 = {10, 24}, count 3
  m.add("b.weight", x, 3, 2);
  const float y[] = {2, 2};
  m.add("a.weight", y, 1, 2);
  ImatrixEntry empty;   // no data: skipped, as llama.cpp does
  empty.sum2 = {0, 0};
  empty.count = {0};
  m.entries["c.weight"] = empty;
  m.chunk_size = 2;
  m.chunk_count = 7;
  m.datasets = {"first.txt", "last.txt"};
  Dat expect;
  expect.i32(2);
  expect.entry("a.weight", 1, {4.f, 4.f});   // count 1 -> ncall ceil(1/2) = 1
  expect.entry("b.weight", 2, {static_cast<float>(10.0 / 3 * 2), 16.f});   // count 3 -> ncall 2
  expect.trailer(7, "last.txt");
  const std::string path = temp_path("bytes.imatrix.dat");
  imatrix_write_dat(path, m);
  EXPECT_EQ(read_bytes(path), expect.b);
  std::filesystem::remove(path);
}

TEST(ImatrixDat, ReadsLlamaCppFiles) {
  Dat d;
  d.i32(2).entry("blk.0.ffn_down.weight", 4, {8, 12, 0}).entry("output.weight", 1, {0.5f});
  const std::string path = temp_path("llamacpp.imatrix.dat");
  write_bytes(path, Dat(d).trailer(42, "wiki.train.raw").b);
  Imatrix m = imatrix_read(path);
  EXPECT_EQ(m.importance("blk.0.ffn_down.weight"), (std::vector<float>{2, 3, 0}));   // values / ncall
  EXPECT_EQ(m.importance("output.weight"), (std::vector<float>{0.5f}));
  EXPECT_EQ(m.chunk_count, 42);
  EXPECT_EQ(m.datasets, (std::vector<std::string>{"wiki.train.raw"}));
  write_bytes(path, d.b);   // an old file without the trailer
  m = imatrix_read(path);
  EXPECT_EQ(m.entries.size(), 2u);
  EXPECT_EQ(m.chunk_count, 0);
  EXPECT_TRUE(m.datasets.empty());
  std::filesystem::remove(path);
}

// Cut at every byte: an Error naming the file and a byte offset, except the one prefix that
// ends exactly after the entries (a valid pre-trailer file).
TEST(ImatrixDat, TruncatedAtEveryByte) {
  Dat d;
  d.i32(2).entry("blk.0.attn_q.weight", 3, {1, 2, 3}).entry("blk.0.attn_k.weight", 1, {4, 5});
  const size_t entries_end = d.b.size();
  d.trailer(5, "data.txt");
  for (size_t n = 0; n < d.b.size(); ++n) {
    const std::vector<uint8_t> prefix(d.b.begin(), d.b.begin() + n);
    if (n == entries_end) {
      const std::string path = temp_path("prefix.dat");
      write_bytes(path, prefix);
      EXPECT_EQ(imatrix_read(path).entries.size(), 2u);
      std::filesystem::remove(path);
      continue;
    }
    const std::string e = read_error(prefix, "prefix.dat");
    EXPECT_HAS(e, "prefix.dat");
    if (n > 0) EXPECT_HAS(e, "byte offset");
  }
}

TEST(ImatrixDat, HostileFiles) {
  auto one = [](int32_t name_len, const std::string& name, int32_t ncall, int32_t nval, std::vector<float> v) {
    Dat d;
    d.i32(1).i32(name_len).raw(name).i32(ncall).i32(nval);
    for (float x : v) d.f32(x);
    return d;
  };
  struct Case {
    const char* what;
    std::vector<uint8_t> bytes;
    std::vector<std::string> needles;
  };
  const std::vector<Case> cases = {
      {"zero entries", Dat().i32(0).b, {"byte offset 0", "n_entries", "0 (need at least 1"}},
      {"negative entries", Dat().i32(-5).entry("w", 1, {1}).b, {"n_entries", "-5"}},
      {"absurd entries", Dat().i32(1 << 30).entry("w", 1, {1}).b, {"byte offset 0", "n_entries", "cannot fit"}},
      {"negative name_len", one(-1, "w", 1, 1, {1}).b, {"byte offset 4", "entry 0 name_len", "-1"}},
      {"huge name_len", one(1 << 30, "w", 1, 1, {1}).b, {"entry 0 name_len"}},
      {"name past the end", one(40, "w", 1, 1, {1}).b, {"entry 0 name", "needs 40 bytes"}},
      {"zero ncall", one(1, "w", 0, 1, {1}).b, {"byte offset 9", "entry 0 ('w') ncall", "0 (need at least 1)"}},
      {"negative ncall", one(1, "w", -7, 1, {1}).b, {"ncall", "-7"}},
      {"zero nval", one(1, "w", 1, 0, {1}).b, {"byte offset 13", "entry 0 ('w') nval", "0 values"}},
      {"negative nval", one(1, "w", 1, -2, {1}).b, {"nval", "-2 values"}},
      {"nval past the end", one(1, "w", 1, 3, {1, 2}).b, {"nval", "3 values"}},
      {"absurd nval", one(1, "w", 1, 0x7fffffff, {1}).b, {"nval"}},
      {"NaN value", one(1, "w", 1, 2, {1, NAN}).b, {"byte offset 21", "values[1]", "nan"}},
      {"inf value", one(1, "w", 1, 1, {INFINITY}).b, {"values[0]", "inf"}},
      {"negative value", one(1, "w", 1, 1, {-2}).b, {"values[0]", "-2"}},
      {"NUL in name", one(3, std::string("a\0b", 3), 1, 1, {1}).b, {"entry 0 name", "NUL"}},
      {"duplicate", Dat().i32(2).entry("w", 1, {1}).entry("w", 1, {2}).b, {"entry 1 name", "'w' appears twice"}},
      {"negative last_chunk", Dat().i32(1).entry("w", 1, {1}).i32(-1).i32(0).b, {"last_chunk", "-1"}},
      {"negative dataset len", Dat().i32(1).entry("w", 1, {1}).i32(1).i32(-4).b, {"dataset name length", "-4"}},
      {"dataset past the end", Dat().i32(1).entry("w", 1, {1}).i32(1).i32(100).raw("abc").b, {"dataset name", "needs 100"}},
      {"trailing bytes", Dat().i32(1).entry("w", 1, {1}).trailer(1, "d").raw("xyz").b, {"3 unexpected bytes"}},
      {"empty file", {}, {"empty file"}},
  };
  for (const auto& c : cases) {
    const std::string e = read_error(c.bytes, "hostile.dat");
    EXPECT_HAS(e, "hostile.dat");
    for (const auto& n : c.needles) EXPECT_NE(e.find(n), std::string::npos) << c.what << ": \"" << e << "\" lacks \"" << n << "\"";
  }
}

TEST(ImatrixDat, WriterRefusals) {
  const std::string path = temp_path("refuse.imatrix.dat");
  EXPECT_HAS(error_of([&] { imatrix_write_dat(path, Imatrix{}); }), "no entries");
  Imatrix only_empty;
  only_empty.entries["w"] = {{0, 0}, {0}};
  EXPECT_HAS(error_of([&] { imatrix_write_dat(path, only_empty); }), "no entries");
  Imatrix nan;
  nan.entries["w"] = {{NAN}, {1}};
  EXPECT_HAS(error_of([&] { imatrix_write_dat(path, nan); }), "sum2[0]");
  EXPECT_FALSE(std::filesystem::exists(path));   // nothing half-written
}

// Auto-detection is by content, not by file name.
TEST(Imatrix, FormatDetectedByContent) {
  const Imatrix m = sample_imatrix();
  const std::string gguf_named_dat = temp_path("really-gguf.dat"), dat_named_gguf = temp_path("really-dat.gguf");
  imatrix_write_gguf(gguf_named_dat, m);
  imatrix_write_dat(dat_named_gguf, m);
  EXPECT_EQ(imatrix_read(gguf_named_dat).chunk_size, 512);   // only the GGUF keeps it
  EXPECT_EQ(imatrix_read(dat_named_gguf).chunk_size, 0);
  expect_importance_near(imatrix_read(gguf_named_dat), imatrix_read(dat_named_gguf), 2e-7);
  std::filesystem::remove(gguf_named_dat);
  std::filesystem::remove(dat_named_gguf);
  EXPECT_HAS(error_of([&] { imatrix_read(temp_path("does-not-exist.gguf")); }), "does-not-exist.gguf");
}

}  // namespace
}  // namespace lowbit
