// The tensor element types of GGUF files (ggml's type ids, fixed by the file format).
// One traits table, indexed by the enum, says each type's name, block size and bytes
// per block; quantize/dequantize codecs hang off the quant layer's own table.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lowbit {

enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22,
  IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
  TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
};

struct GgmlTypeTraits {
  const char* name;      // as ggml spells it: "q4_K", "bf16"...
  uint32_t block_size;   // elements per block (1 for plain types)
  uint32_t type_size;    // bytes per block
  bool valid;            // false for ids ggml removed or never used
};

constexpr uint32_t kGgmlTypeCount = 40;
const GgmlTypeTraits& ggml_traits(GgmlType t);   // invalid ids give a row with valid=false
bool ggml_type_valid(uint32_t id);
std::string_view ggml_type_name(GgmlType t);
std::optional<GgmlType> ggml_type_from_name(std::string_view name);  // case-insensitive
double ggml_bits_per_weight(GgmlType t);

// Bytes for n elements laid out in rows of row_len elements. Returns false on overflow or
// when row_len is not a multiple of the block size.
bool ggml_row_bytes(GgmlType t, uint64_t row_len, uint64_t* out);
bool ggml_tensor_bytes(GgmlType t, const int64_t* ne, int n_dims, uint64_t* out);

}  // namespace lowbit
