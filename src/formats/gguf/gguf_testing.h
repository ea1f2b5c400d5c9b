// Helpers shared by the GGUF tests: a byte builder for hand-made (often hostile) files,
// deep comparison of parsed files, temp paths and error capture.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "formats/gguf/gguf.h"

// gtest without gmock: `haystack` (a string) contains `needle`.
#define EXPECT_HAS(haystack, needle)                                                        \
  do {                                                                                      \
    const std::string h_ = (haystack);                                                      \
    EXPECT_NE(h_.find(needle), std::string::npos) << "\"" << h_ << "\" lacks \"" << (needle) << "\""; \
  } while (0)

namespace lowbit::testing {

// Little-endian bytes, appended field by field.
class GgufBytes {
 public:
  template <typename T>
  GgufBytes& put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    bytes.insert(bytes.end(), p, p + sizeof(T));
    return *this;
  }
  GgufBytes& u8(uint8_t v) { return put(v); }
  GgufBytes& u32(uint32_t v) { return put(v); }
  GgufBytes& u64(uint64_t v) { return put(v); }
  GgufBytes& i64(int64_t v) { return put(v); }
  GgufBytes& str(const std::string& s) {
    u64(s.size());
    bytes.insert(bytes.end(), s.begin(), s.end());
    return *this;
  }
  GgufBytes& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    bytes.insert(bytes.end(), {'G', 'G', 'U', 'F'});
    return u32(version).u64(n_tensors).u64(n_kv);
  }
  // key + STRING value
  GgufBytes& kv_str(const std::string& key, const std::string& v) { return str(key).u32(8).str(v); }
  GgufBytes& kv_u32(const std::string& key, uint32_t v) { return str(key).u32(4).u32(v); }
  GgufBytes& tensor(const std::string& name, std::vector<int64_t> ne, uint32_t type, uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(ne.size()));
    for (int64_t d : ne) i64(d);
    return u32(type).u64(offset);
  }
  GgufBytes& pad_to(size_t alignment) {
    bytes.resize((bytes.size() + alignment - 1) / alignment * alignment, 0);
    return *this;
  }
  GgufBytes& zeros(size_t n) {
    bytes.resize(bytes.size() + n, 0);
    return *this;
  }
  size_t size() const { return bytes.size(); }

  std::vector<uint8_t> bytes;
};

// Parses from an exactly sized heap copy, so ASan sees any read past the end.
inline GgufFile parse(const std::vector<uint8_t>& bytes, std::vector<uint8_t>* keep) {
  *keep = bytes;
  keep->shrink_to_fit();
  return gguf_parse_bytes(keep->empty() ? nullptr : keep->data(), keep->size(), "test.gguf");
}

// The message of the lowbit::Error `f` throws; a test failure if it throws nothing.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    if (std::getenv("GGUF_TEST_SHOW_ERRORS")) std::fprintf(stderr, "  error: %s\n", e.what());
    return e.what();
  }
  ADD_FAILURE() << "expected a lowbit::Error";
  return {};
}

inline std::string parse_error(const std::vector<uint8_t>& bytes) {
  std::vector<uint8_t> keep;
  return error_of([&] { parse(bytes, &keep); });
}

inline std::string temp_path(const std::string& name) {
  return (std::filesystem::path(::testing::TempDir()) /
          (std::to_string(getpid()) + "-" + name))
      .string();
}

inline void expect_value_eq(const GgufValue& a, const GgufValue& b, const std::string& where) {
  ASSERT_EQ(a.type, b.type) << where;
  switch (a.type) {
    case GgufType::F32:
    case GgufType::F64:
      // Bit for bit, so NaN payloads and -0 count too.
      EXPECT_EQ(0, std::memcmp(&a.f, &b.f, sizeof(double))) << where << ": " << a.f << " vs " << b.f;
      break;
    case GgufType::STRING: EXPECT_EQ(a.s, b.s) << where; break;
    case GgufType::ARRAY:
      ASSERT_EQ(a.elem_type, b.elem_type) << where;
      ASSERT_EQ(a.arr.size(), b.arr.size()) << where;
      for (size_t k = 0; k < a.arr.size(); ++k) expect_value_eq(a.arr[k], b.arr[k], where + "[" + std::to_string(k) + "]");
      break;
    case GgufType::I8:
    case GgufType::I16:
    case GgufType::I32:
    case GgufType::I64: EXPECT_EQ(a.i, b.i) << where; break;
    default: EXPECT_EQ(a.u, b.u) << where; break;
  }
}

// Same metadata (in order) and the same tensors with the same bytes; offsets are not
// compared (the writer lays tensors out itself).
inline void expect_file_eq(const GgufFile& a, const GgufFile& b) {
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.alignment, b.alignment);
  ASSERT_EQ(a.kv.size(), b.kv.size());
  for (size_t i = 0; i < a.kv.size(); ++i) {
    EXPECT_EQ(a.kv[i].first, b.kv[i].first);
    expect_value_eq(a.kv[i].second, b.kv[i].second, a.kv[i].first);
  }
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const auto& x = a.tensors[i];
    const auto& y = b.tensors[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.type, y.type) << x.name;
    EXPECT_EQ(x.ne, y.ne) << x.name;
    ASSERT_EQ(x.nbytes, y.nbytes) << x.name;
    if (x.nbytes) {
      EXPECT_EQ(0, std::memcmp(x.data, y.data, x.nbytes)) << x.name;
    }
  }
}

}  // namespace lowbit::testing
