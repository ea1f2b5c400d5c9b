// llama.cpp's importance matrix files, read and written so lowbit and llama-quantize can use
// each other's calibration results.
//  - GGUF (llama.cpp >= b5xxx, "imatrix.gguf"): general.type = "imatrix", imatrix.datasets
//    (string array), imatrix.chunk_count, imatrix.chunk_size (u32); per weight tensor NAME two
//    F32 tensors: "NAME.in_sum2" (ne = {n_per_row, n_mat}) = Σ x² per input column, and
//    "NAME.counts" (ne = {1, n_mat}) = number of activation rows summed (both 1-D when
//    n_mat = 1: ggml writes no trailing dimensions of 1), entries sorted by name.
//  - legacy .dat: i32 n_entries; per entry {i32 name_len, name, i32 ncall, i32 nval,
//    f32 values[nval]} where values = mean(x²)·ncall; then optionally i32 last_chunk,
//    i32 len, dataset file name.
// Reading checks everything (errors name the file, byte offset or tensor, and field); extra
// metadata keys and tensors not named *.in_sum2 / *.counts / *.in_sum are ignored, in_sum is
// checked and dropped. A .dat entry reads as sum2 = values, count = {ncall}, so importance()
// gives llama-quantize's values / ncall; chunk_size is then 0 (the .dat format lacks it).
// Writing refuses what llama.cpp could not load back: no entries, names of 56+ bytes (GGUF
// tensor names are < 64 bytes with the ".in_sum2" suffix), values that overflow f32 / i32.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace lowbit {

struct ImatrixEntry {
  std::vector<double> sum2;   // Σ x² per input column (n_per_row * n_mat)
  std::vector<double> count;  // activation rows summed, per matrix (n_mat, 1 for dense)
};

struct Imatrix {
  std::map<std::string, ImatrixEntry> entries;   // keyed by weight tensor name
  std::vector<std::string> datasets;
  int chunk_count = 0, chunk_size = 0;

  // Mean x² per input column for a weight tensor (empty when absent): the importance that
  // weights the scale search of every block format. As llama-quantize computes it: sum2 /
  // count per matrix, and 1 for the columns of a matrix whose count is 0 (an unused expert).
  std::vector<float> importance(const std::string& tensor_name) const;
  // X: rows x cols, row-major (each row one activation vector reaching the weight): sum2[j]
  // += Σ_r X[r][j]², count[0] += rows. A new entry is dense (n_mat = 1); adding rows of a
  // different width, or to a multi-matrix entry, or a non-finite activation is an Error.
  void add(const std::string& tensor_name, const float* X, int64_t rows, int64_t cols);
};

Imatrix imatrix_read(const std::string& path);                      // GGUF or .dat, by content
void imatrix_write_gguf(const std::string& path, const Imatrix& m); // atomic
void imatrix_write_dat(const std::string& path, const Imatrix& m);  // atomic

}  // namespace lowbit
