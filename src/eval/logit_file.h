// Base-model log-probabilities saved for KL-divergence runs.
//
// Layout (little endian): char[8] "LBLOGIT1" | u32 n_vocab | u32 n_ctx | u32 n_chunks |
// u32 n_scored (per chunk) | i32 tokens[n_chunks * n_ctx] (the evaluated tokens, BOS
// substituted) | for each chunk, for each scored position: f16 log_softmax[n_vocab].
// Half precision keeps files at 2 bytes per vocab entry; near-zero log-probs (the likely
// tokens that dominate KL) keep ~1e-3 relative precision.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "core/mapped_file.h"

namespace lowbit {

struct LogitFileHeader {
  uint32_t n_vocab = 0, n_ctx = 0, n_chunks = 0, n_scored = 0;
};

class LogitFileWriter {
 public:
  LogitFileWriter(const std::string& path, const LogitFileHeader& h, const std::vector<int32_t>& tokens);
  void append_row(const float* logprobs);   // n_vocab floats
  void commit();

 private:
  AtomicFile file_;
  LogitFileHeader h_;
  uint64_t rows_ = 0;
  std::vector<uint16_t> buf_;
};

class LogitFileReader {
 public:
  explicit LogitFileReader(const std::string& path);   // validates sizes; Error on mismatch
  const LogitFileHeader& header() const { return h_; }
  const int32_t* tokens() const { return tokens_; }
  void row(uint64_t index, float* out) const;          // index over all scored positions

 private:
  std::shared_ptr<MappedFile> map_;
  LogitFileHeader h_;
  const int32_t* tokens_ = nullptr;
  const uint8_t* rows_ = nullptr;
};

}  // namespace lowbit
