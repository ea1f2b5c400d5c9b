#include "formats/safetensors/safetensors.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/half.h"
#include "core/paths.h"

namespace lowbit {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "lowbit_st_XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(f.good()) << path;
}

std::string u64_le(uint64_t v) {
  std::string s(8, '\0');
  std::memcpy(s.data(), &v, 8);
  return s;
}

// u64 header length | header | data.
std::string st_bytes(const std::string& header, const std::string& data) { return u64_le(header.size()) + header + data; }

// Runs fn, which must throw lowbit::Error whose message holds every one of `parts`.
void expect_error(const std::function<void()>& fn, std::initializer_list<std::string> parts) {
  try {
    fn();
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "missing \"" << p << "\" in: " << msg;
    return;
  }
  ADD_FAILURE() << "no lowbit::Error thrown";
}

// Two F32 tensors and a BF16 one; header order differs from data order on purpose.
std::string small_file() {
  const std::string header =
      R"({"__metadata__":{"format":"pt"},)"
      R"("b":{"dtype":"F32","shape":[2,3],"data_offsets":[8,32]},)"
      R"("a":{"dtype":"BF16","shape":[4],"data_offsets":[0,8]}})";
  std::string data;
  for (int i = 0; i < 4; ++i) {
    const uint16_t h = f32_to_bf16(static_cast<float>(i + 1));
    data.append(reinterpret_cast<const char*>(&h), 2);
  }
  for (int i = 0; i < 6; ++i) {
    const float f = 0.5f * i;
    data.append(reinterpret_cast<const char*>(&f), 4);
  }
  return st_bytes(header, data);
}

TEST(Safetensors, ReadsTinystoriesModel) {
  const std::string path = shared_path("models/tinystories-llama-6m/model.safetensors");
  if (!fs::exists(path)) GTEST_SKIP() << path << " not found (set LOWBIT_SHARED)";
  const SafetensorsFile f = safetensors_read(path);
  EXPECT_EQ(f.tensors.size(), 6u * 9 + 3);
  for (const auto& t : f.tensors) EXPECT_EQ(t.dtype, "BF16") << t.name;
  EXPECT_EQ(f.metadata.at("format"), "pt");
  const SafetensorsTensor* emb = f.find("model.embed_tokens.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->shape, (std::vector<int64_t>{2048, 256}));
  EXPECT_EQ(emb->nbytes, 2048u * 256 * 2);
  const TensorRef r = emb->ref();
  EXPECT_EQ(r.ne, (std::vector<int64_t>{256, 2048}));
  EXPECT_EQ(r.type, GgmlType::BF16);
  EXPECT_EQ(r.data, emb->data);
  EXPECT_NE(f.find("lm_head.weight"), nullptr);
  EXPECT_NE(f.find("model.norm.weight"), nullptr);
  EXPECT_NE(f.find("model.layers.5.mlp.down_proj.weight"), nullptr);
  EXPECT_EQ(f.find("model.layers.6.mlp.down_proj.weight"), nullptr);
  // Sorted by offset, contiguous, inside the map.
  for (size_t i = 1; i < f.tensors.size(); ++i)
    EXPECT_EQ(f.tensors[i].data, f.tensors[i - 1].data + f.tensors[i - 1].nbytes);
  const auto& m = *f.maps.at(0);
  EXPECT_EQ(f.tensors.back().data + f.tensors.back().nbytes, m.data() + m.size());

  // The directory reader finds the same file.
  const SafetensorsFile d = safetensors_read_dir(shared_path("models/tinystories-llama-6m"));
  EXPECT_EQ(d.tensors.size(), f.tensors.size());
}

TEST(Safetensors, ReadsSmallFile) {
  TempDir dir;
  const std::string path = dir.file("small.safetensors");
  write_file(path, small_file());
  const SafetensorsFile f = safetensors_read(path);
  ASSERT_EQ(f.tensors.size(), 2u);
  EXPECT_EQ(f.metadata.size(), 1u);
  EXPECT_EQ(f.metadata.at("format"), "pt");
  EXPECT_EQ(f.tensors[0].name, "a");   // data-offset order
  EXPECT_EQ(f.tensors[1].name, "b");
  EXPECT_EQ(f.tensors[0].file, path);
  const SafetensorsTensor* b = f.find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->nbytes, 24u);
  for (int i = 0; i < 6; ++i) {
    float v;
    std::memcpy(&v, b->data + 4 * i, 4);
    EXPECT_EQ(v, 0.5f * i);
  }
  const TensorRef rb = b->ref();
  EXPECT_EQ(rb.ne, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(rb.type, GgmlType::F32);
  EXPECT_EQ(rb.n_elements(), 6u);
  const TensorRef ra = f.find("a")->ref();
  uint16_t h;
  std::memcpy(&h, ra.data + 2, 2);
  EXPECT_EQ(bf16_to_f32(h), 2.0f);
  EXPECT_EQ(f.find("c"), nullptr);
}

TEST(Safetensors, RefRejectsDtypesLowbitCannotCompute) {
  TempDir dir;
  const std::string path = dir.file("ints.safetensors");
  write_file(path, st_bytes(R"({"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}})", std::string(16, '\0')));
  const SafetensorsFile f = safetensors_read(path);
  ASSERT_EQ(f.tensors.size(), 1u);
  EXPECT_EQ(f.tensors[0].dtype, "I64");
  expect_error([&] { f.tensors[0].ref(); }, {path, "'ids'", "I64"});
}

TEST(Safetensors, ZeroSizeScalarAndSubByteTensors) {
  TempDir dir;
  const std::string path = dir.file("odd.safetensors");
  write_file(path, st_bytes(R"({"empty":{"dtype":"F32","shape":[0,5],"data_offsets":[4,4]},)"
                            R"("scalar":{"dtype":"F32","shape":[],"data_offsets":[0,4]},)"
                            R"("fp4":{"dtype":"F4","shape":[2,3],"data_offsets":[4,7]}})",
                            std::string(7, '\x01')));
  const SafetensorsFile f = safetensors_read(path);
  ASSERT_EQ(f.tensors.size(), 3u);
  EXPECT_EQ(f.find("empty")->nbytes, 0u);
  EXPECT_EQ(f.find("scalar")->shape.size(), 0u);
  EXPECT_EQ(f.find("scalar")->ref().n_elements(), 1u);
  EXPECT_EQ(f.find("fp4")->nbytes, 3u);
  // An odd count of 4-bit elements is not a whole number of bytes.
  write_file(path, st_bytes(R"({"fp4":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}})", "xx"));
  expect_error([&] { safetensors_read(path); }, {"not a whole number of bytes"});
}

TEST(Safetensors, EmptyHeaderObjectHasNoTensors) {
  TempDir dir;
  const std::string path = dir.file("none.safetensors");
  write_file(path, st_bytes("{}   ", ""));   // writers pad the header with spaces
  EXPECT_TRUE(safetensors_read(path).tensors.empty());
}

TEST(SafetensorsHostile, EveryTruncationIsAnError) {
  TempDir dir;
  const std::string full = small_file();
  const std::string path = dir.file("cut.safetensors");
  for (size_t n = 0; n < full.size(); ++n) {
    write_file(path, full.substr(0, n));
    EXPECT_THROW(safetensors_read(path), Error) << "length " << n;
  }
  write_file(path, full);
  EXPECT_NO_THROW(safetensors_read(path));
}

TEST(SafetensorsHostile, HeaderLengthTwoToThe63) {
  TempDir dir;
  const std::string path = dir.file("huge.safetensors");
  write_file(path, u64_le(1ull << 63) + "{}");
  expect_error([&] { safetensors_read(path); }, {path, "byte offset 0", "field 'header_length'"});
}

TEST(SafetensorsHostile, HeaderLengthBeyondFile) {
  TempDir dir;
  const std::string path = dir.file("short.safetensors");
  write_file(path, u64_le(100) + std::string(R"({"a":1})"));
  expect_error([&] { safetensors_read(path); }, {"header_length", "only 7 bytes follow"});
}

TEST(SafetensorsHostile, HeaderLengthOverTheCap) {
  TempDir dir;
  const std::string path = dir.file("big.safetensors");
  const uint64_t n = (100ull << 20) + 1;
  write_file(path, u64_le(n));
  fs::resize_file(path, 8 + n);   // sparse: costs no disk
  expect_error([&] { safetensors_read(path); }, {"header_length", "exceeds"});
}

TEST(SafetensorsHostile, InvalidJsonNamesTheFile) {
  TempDir dir;
  const std::string path = dir.file("bad.safetensors");
  write_file(path, st_bytes(R"({"a":{"dtype":"F32",)", ""));
  expect_error([&] { safetensors_read(path); }, {path, "invalid JSON"});
  write_file(path, st_bytes(std::string("{\"a\":\"\xff\"}"), ""));   // not UTF-8
  expect_error([&] { safetensors_read(path); }, {path, "invalid JSON"});
  write_file(path, st_bytes("", ""));
  expect_error([&] { safetensors_read(path); }, {path, "invalid JSON"});
  // nlohmann stops at a NUL byte; what follows must not be silently ignored.
  write_file(path, st_bytes(std::string("{}\0{\"x\"", 7), ""));
  expect_error([&] { safetensors_read(path); }, {path, "byte offset 10", "NUL byte"});
}

TEST(SafetensorsHostile, DeepNestingIsRefused) {
  TempDir dir;
  const std::string path = dir.file("deep.safetensors");
  write_file(path, st_bytes(R"({"a":)" + std::string(100000, '[') + std::string(100000, ']') + "}", ""));
  expect_error([&] { safetensors_read(path); }, {"nests deeper"});
}

TEST(SafetensorsHostile, NonObjectHeader) {
  TempDir dir;
  const std::string path = dir.file("arr.safetensors");
  for (const char* h : {"[1,2]", "42", "\"x\"", "null"}) {
    write_file(path, st_bytes(h, ""));
    expect_error([&] { safetensors_read(path); }, {path, "field 'header'", "expected a JSON object"});
  }
}

struct BadHeader {
  const char* what;
  std::string header;
  size_t data_size;
  std::string expect;   // substring of the message
};

TEST(SafetensorsHostile, BadEntries) {
  const std::vector<BadHeader> cases = {
      {"product overflow", R"({"t":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,4]}})", 4,
       "field 't.shape': element count overflows"},
      {"bytes overflow", R"({"t":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,4]}})", 4,
       "field 't.shape': size in bytes overflows"},
      {"dim over int64", R"({"t":{"dtype":"U8","shape":[9223372036854775808],"data_offsets":[0,4]}})", 4,
       "too large"},
      {"negative dim", R"({"t":{"dtype":"F32","shape":[-1,4],"data_offsets":[0,4]}})", 4, "dimension 0 is negative"},
      {"float dim", R"({"t":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", 4, "not a non-negative integer"},
      {"string dim", R"({"t":{"dtype":"F32","shape":["2"],"data_offsets":[0,4]}})", 4, "not a non-negative integer"},
      {"shape not array", R"({"t":{"dtype":"F32","shape":4,"data_offsets":[0,4]}})", 4, "field 't.shape'"},
      {"offsets past end", R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4, "past the end of the data"},
      {"huge offsets", R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[18446744073709551608,18446744073709551615]}})",
       4, "past the end"},
      {"begin after end", R"({"t":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}})", 4, "begin 4 is after end 0"},
      {"size mismatch", R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 8, "needs 8"},
      {"overlap", R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"u":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
       8, "overlap"},
      {"contained overlap", R"({"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"u":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"v":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}})",
       16, "overlap"},
      {"unknown dtype", R"({"t":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}})", 16, "unknown dtype \"F128\""},
      {"lowercase dtype", R"({"t":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}})", 4, "unknown dtype"},
      {"dtype not string", R"({"t":{"dtype":7,"shape":[1],"data_offsets":[0,4]}})", 4, "field 't.dtype'"},
      {"missing dtype", R"({"t":{"shape":[1],"data_offsets":[0,4]}})", 4, "missing 'dtype'"},
      {"missing shape", R"({"t":{"dtype":"F32","data_offsets":[0,4]}})", 4, "missing 'shape'"},
      {"missing offsets", R"({"t":{"dtype":"F32","shape":[1]}})", 4, "missing 'data_offsets'"},
      {"offsets length", R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}})", 4, "expected [begin, end]"},
      {"negative offset", R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}})", 4, "expected [begin, end]"},
      {"entry not object", R"({"t":[1,2,3]})", 0, "field 't'"},
      {"metadata number", R"({"__metadata__":{"format":"pt","n":3}})", 0, "field '__metadata__.n': metadata values must be strings"},
      {"metadata nested", R"({"__metadata__":{"x":{"y":"z"}}})", 0, "must be strings"},
      {"metadata not object", R"({"__metadata__":["pt"]})", 0, "field '__metadata__'"},
      {"duplicate tensor", R"({"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"t":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
       2, "appears twice"},
      {"duplicate field", R"({"t":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}})", 1, "field 't.dtype': appears twice"},
  };
  TempDir dir;
  const std::string path = dir.file("bad.safetensors");
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    write_file(path, st_bytes(c.header, std::string(c.data_size, '\0')));
    expect_error([&] { safetensors_read(path); }, {path, "byte offset", c.expect});
  }
}

TEST(SafetensorsHostile, ErrorsPointAtTheField) {
  TempDir dir;
  const std::string path = dir.file("where.safetensors");
  const std::string header = R"({"ok":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}, "bad\u0021":{"dtype":"U8","shape":[-1],"data_offsets":[1,1]}})";
  write_file(path, st_bytes(header, "x"));
  const size_t at = 8 + header.find(R"("shape":[-1])");
  expect_error([&] { safetensors_read(path); }, {fmt::format("byte offset {}: field 'bad!.shape'", at)});
}

// --- directories ---

std::string one_tensor_file(const std::string& name, float value) {
  return st_bytes(R"({")" + name + R"(":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                  std::string(reinterpret_cast<const char*>(&value), 4));
}

TEST(SafetensorsDir, ReadsShardsNamedByTheIndex) {
  TempDir dir;
  write_file(dir.file("model-00001-of-00002.safetensors"),
             st_bytes(R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                      R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", std::string(8, '\0')));
  write_file(dir.file("model-00002-of-00002.safetensors"), one_tensor_file("c", 3.0f));
  write_file(dir.file("model.safetensors.index.json"),
             R"({"metadata":{"total_size":12},"weight_map":{"a":"model-00001-of-00002.safetensors",)"
             R"("c":"model-00002-of-00002.safetensors","b":"./model-00001-of-00002.safetensors"}})");
  const SafetensorsFile f = safetensors_read_dir(dir.path().string());
  ASSERT_EQ(f.tensors.size(), 3u);
  EXPECT_EQ(f.maps.size(), 2u);
  EXPECT_EQ(f.tensors[0].name, "a");
  EXPECT_EQ(f.tensors[2].name, "c");
  EXPECT_EQ(f.metadata.at("format"), "pt");
  float v;
  std::memcpy(&v, f.find("c")->data, 4);
  EXPECT_EQ(v, 3.0f);
  EXPECT_NE(f.find("c")->file.find("model-00002-of-00002"), std::string::npos);
}

TEST(SafetensorsDir, SingleFileWinsAndFilesWork) {
  TempDir dir;
  write_file(dir.file("model.safetensors"), one_tensor_file("x", 1.0f));
  write_file(dir.file("model.safetensors.index.json"), "not even JSON");
  EXPECT_EQ(safetensors_read_dir(dir.path().string()).tensors.at(0).name, "x");
  EXPECT_EQ(safetensors_read_dir(dir.file("model.safetensors")).tensors.at(0).name, "x");
}

TEST(SafetensorsDir, HostileIndexes) {
  struct Case {
    const char* what;
    std::string index;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"parent escape", R"({"weight_map":{"a":"../x.safetensors"}})", "leaves the model directory"},
      {"nested escape", R"({"weight_map":{"a":"sub/../../x.safetensors"}})", "leaves the model directory"},
      {"absolute", R"({"weight_map":{"a":"/etc/passwd"}})", "absolute path"},
      {"empty name", R"({"weight_map":{"a":""}})", "is empty"},
      {"nul in name", R"({"weight_map":{"a":"s1.safetensors\u0000../../x"}})", "control character"},
      {"missing shard", R"({"weight_map":{"a":"nope.safetensors"}})", "does not exist"},
      {"shard is a directory", R"({"weight_map":{"a":"subdir"}})", "does not exist"},
      {"not a string", R"({"weight_map":{"a":3}})", "field 'weight_map.a'"},
      {"no weight_map", R"({"metadata":{}})", "field 'weight_map': missing"},
      {"weight_map array", R"({"weight_map":["a"]})", "expected an object"},
      {"empty weight_map", R"({"weight_map":{}})", "lists no tensors"},
      {"not an object", R"([])", "expected a JSON object"},
      {"invalid JSON", R"({"weight_map":)", "invalid JSON"},
      {"wrong shard", R"({"weight_map":{"a":"s2.safetensors","b":"s1.safetensors"}})", "as the index says"},
      {"absent tensor", R"({"weight_map":{"zzz":"s1.safetensors"}})", "not in shard"},
      {"two shards", R"({"weight_map":{"a":"s1.safetensors","b":"s2.safetensors","dup":"s3.safetensors"}})",
       "two shards"},
  };
  TempDir dir;
  fs::create_directory(dir.path() / "subdir");
  write_file(dir.file("s1.safetensors"), one_tensor_file("a", 1.0f));
  write_file(dir.file("s2.safetensors"), one_tensor_file("b", 2.0f));
  write_file(dir.file("s3.safetensors"), one_tensor_file("a", 3.0f));
  const std::string index = dir.file("model.safetensors.index.json");
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    write_file(index, c.index);
    expect_error([&] { safetensors_read_dir(dir.path().string()); }, {index, c.expect});
  }
}

TEST(SafetensorsDir, MissingFilesAreErrors) {
  TempDir dir;
  expect_error([&] { safetensors_read_dir(dir.path().string()); }, {"no model.safetensors"});
  expect_error([&] { safetensors_read_dir(dir.file("nothing-here")); }, {"not a directory"});
}

}  // namespace
}  // namespace lowbit
