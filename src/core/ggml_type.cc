#include "core/ggml_type.h"

#include <array>
#include <cctype>

#include "core/error.h"

namespace lowbit {
namespace {

constexpr GgmlTypeTraits kInvalid{"invalid", 1, 0, false};

constexpr std::array<GgmlTypeTraits, kGgmlTypeCount> make_table() {
  std::array<GgmlTypeTraits, kGgmlTypeCount> t{};
  for (auto& r : t) r = kInvalid;
  t[0] = {"f32", 1, 4, true};
  t[1] = {"f16", 1, 2, true};
  t[2] = {"q4_0", 32, 18, true};
  t[3] = {"q4_1", 32, 20, true};
  t[6] = {"q5_0", 32, 22, true};
  t[7] = {"q5_1", 32, 24, true};
  t[8] = {"q8_0", 32, 34, true};
  t[9] = {"q8_1", 32, 36, true};
  t[10] = {"q2_K", 256, 84, true};
  t[11] = {"q3_K", 256, 110, true};
  t[12] = {"q4_K", 256, 144, true};
  t[13] = {"q5_K", 256, 176, true};
  t[14] = {"q6_K", 256, 210, true};
  t[15] = {"q8_K", 256, 292, true};
  t[16] = {"iq2_xxs", 256, 66, true};
  t[17] = {"iq2_xs", 256, 74, true};
  t[18] = {"iq3_xxs", 256, 98, true};
  t[19] = {"iq1_s", 256, 50, true};
  t[20] = {"iq4_nl", 32, 18, true};
  t[21] = {"iq3_s", 256, 110, true};
  t[22] = {"iq2_s", 256, 82, true};
  t[23] = {"iq4_xs", 256, 136, true};
  t[24] = {"i8", 1, 1, true};
  t[25] = {"i16", 1, 2, true};
  t[26] = {"i32", 1, 4, true};
  t[27] = {"i64", 1, 8, true};
  t[28] = {"f64", 1, 8, true};
  t[29] = {"iq1_m", 256, 56, true};
  t[30] = {"bf16", 1, 2, true};
  t[34] = {"tq1_0", 256, 54, true};
  t[35] = {"tq2_0", 256, 66, true};
  t[39] = {"mxfp4", 32, 17, true};
  return t;
}

constexpr auto kTable = make_table();

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

}  // namespace

const GgmlTypeTraits& ggml_traits(GgmlType t) {
  const auto id = static_cast<uint32_t>(t);
  return id < kGgmlTypeCount ? kTable[id] : kInvalid;
}

bool ggml_type_valid(uint32_t id) { return id < kGgmlTypeCount && kTable[id].valid; }

std::string_view ggml_type_name(GgmlType t) { return ggml_traits(t).name; }

std::optional<GgmlType> ggml_type_from_name(std::string_view name) {
  for (uint32_t i = 0; i < kGgmlTypeCount; ++i)
    if (kTable[i].valid && iequals(kTable[i].name, name)) return static_cast<GgmlType>(i);
  return std::nullopt;
}

double ggml_bits_per_weight(GgmlType t) {
  const auto& r = ggml_traits(t);
  return 8.0 * r.type_size / r.block_size;
}

bool ggml_row_bytes(GgmlType t, uint64_t row_len, uint64_t* out) {
  const auto& r = ggml_traits(t);
  if (!r.valid || row_len % r.block_size != 0) return false;
  return !mul_overflows(row_len / r.block_size, r.type_size, out);
}

bool ggml_tensor_bytes(GgmlType t, const int64_t* ne, int n_dims, uint64_t* out) {
  if (n_dims < 1) return false;
  for (int i = 0; i < n_dims; ++i)
    if (ne[i] < 0) return false;
  uint64_t bytes = 0;
  if (!ggml_row_bytes(t, static_cast<uint64_t>(ne[0]), &bytes)) return false;
  for (int i = 1; i < n_dims; ++i)
    if (mul_overflows(bytes, static_cast<uint64_t>(ne[i]), &bytes)) return false;
  *out = bytes;
  return true;
}

}  // namespace lowbit
