// One row per GGUF metadata value type (GgufType), shared by the reader, the writer and
// the display code. `min_bytes` is what one value of the type takes at least in a file:
// a scalar's size, 8 for a string (its u64 length), 12 for an array (u32 type + u64 count).
// The reader bounds every element count by min_bytes * count <= bytes remaining.
#pragma once

#include <cstdint>

#include "formats/gguf/gguf.h"

namespace lowbit {

struct GgufTypeTraits {
  const char* name;
  uint32_t min_bytes;
  bool is_integer;   // U8..I64 (bool is not an integer here; as_u64/as_i64 accept it anyway)
  bool is_signed;    // I8..I64
  bool is_float;     // F32, F64
};

constexpr uint32_t kGgufTypeCount = 13;

inline bool gguf_type_valid(uint32_t id) { return id < kGgufTypeCount; }
const GgufTypeTraits& gguf_traits(GgufType t);   // an invalid id gives a row named "invalid"

}  // namespace lowbit
