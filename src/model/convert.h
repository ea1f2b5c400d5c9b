// Writes any opened model as a GGUF file llama.cpp runs: llama-arch metadata, the
// vocabulary, and every tensor re-encoded to the requested float type. 1-D tensors
// (norms, biases) stay F32, as llama.cpp keeps them. Hugging Face q/k projections are
// permuted from half-split to interleaved RoPE order, as llama.cpp's converter does.
#pragma once

#include <string>

#include "core/ggml_type.h"
#include "model/model_file.h"

namespace lowbit {

struct ConvertStats {
  uint64_t n_params = 0, bytes_written = 0;
  double seconds = 0;
};

ConvertStats convert_to_gguf(const ModelFile& in, const std::string& out_path, GgmlType type, bool progress = true);

// llama.cpp's q/k row permutation for one matrix of n_heads heads (rows = n_heads * head_dim,
// each row row_bytes long): row h*d + 2i + j  <-  row h*d + j*d/2 + i.
void permute_rope_rows(const uint8_t* src, uint8_t* dst, int n_heads, int head_dim, size_t row_bytes);

}  // namespace lowbit
