// Calibration data: N sequences of L tokens drawn from text files, either seeded random
// windows over the tokenized text (GPTQ's recipe) or consecutive windows (llama.cpp's
// imatrix recipe). Each sequence starts with BOS, as every evaluation chunk does.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/tokenizer.h"

namespace lowbit {

struct CalibDataOptions {
  int n_seq = 64;
  int seq_len = 256;
  uint64_t seed = 1234;
  bool sequential = false;
};

struct CalibData {
  std::vector<std::vector<int32_t>> seqs;
  std::vector<std::string> sources;    // file names, for the imatrix's dataset list
  size_t n_text_tokens = 0;
};

// Throws Error when the files hold fewer than seq_len tokens.
CalibData load_calibration(const Tokenizer& tok, const std::vector<std::string>& files, const CalibDataOptions& o);

}  // namespace lowbit
