// A named tensor in some file, by reference: type, ggml-order shape (ne[0] = row length)
// and a pointer to its bytes (in a memory map or a buffer its owner keeps alive).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/ggml_type.h"

namespace lowbit {

struct TensorRef {
  std::string name;
  GgmlType type = GgmlType::F32;
  std::vector<int64_t> ne;
  const uint8_t* data = nullptr;
  uint64_t nbytes = 0;

  uint64_t n_elements() const {
    uint64_t n = 1;
    for (int64_t d : ne) n *= static_cast<uint64_t>(d);
    return n;
  }
  int64_t rows() const {
    int64_t r = 1;
    for (size_t i = 1; i < ne.size(); ++i) r *= ne[i];
    return r;
  }
};

}  // namespace lowbit
