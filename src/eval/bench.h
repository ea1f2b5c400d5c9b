// Speed the way llama-bench measures it (llama.cpp tools/llama-bench):
//   pp<P>: prompt processing, P random token ids evaluated as one prompt from an empty KV
//          cache (lowbit cuts it into batches of up to 256 tokens internally), logits for
//          the last token only; tokens/s = P / seconds.
//   tg<N>: generation, N single-token evaluations after a one-token (BOS) prompt, each
//          producing the logits of its token; tokens/s = N / seconds.
// Each test runs `reps` times after an untimed warm-up (which also pages the weights in);
// the result is the mean and sample standard deviation of the per-run tokens/s.
//
// Decode roofline: generating a token must read every weight matrix once, plus the KV cache
// of every earlier position, so tg tokens/s <= bandwidth / bytes read per token, with
//   weights  = LlamaWeights::matrix_bytes() (all layer matrices and the output matrix, in
//              their stored types) + one row of token_embd (the looked-up embedding);
//   KV cache = 2 (K and V) x n_layers x kv_dim x 4 bytes (lowbit keeps it in f32) x
//              (positions attended), averaged over the N timed positions 1..N.
// Norm vectors, activations and KV writes are left out (under 0.1% for real shapes).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "model/model_file.h"

namespace lowbit {

struct BenchOptions {
  int n_prompt = 512;   // 0 = no pp test
  int n_gen = 128;      // 0 = no tg test
  int reps = 3;
  uint64_t seed = 1;    // token ids
  bool progress = true;
};

struct SpeedStat {
  double mean = 0, sd = 0;          // tokens/s over the runs (sd with n - 1; 0 for one run)
  std::vector<double> samples;      // tokens/s of each run
};

struct BenchResult {
  int n_prompt = 0, n_gen = 0, reps = 0, threads = 0;
  SpeedStat pp, tg;
  uint64_t n_params = 0, tensor_bytes = 0;                 // the whole file's tensors
  std::vector<std::pair<std::string, uint64_t>> matrix_types;   // weight matrices: type -> bytes, largest first
  uint64_t weight_bytes_per_token = 0;                     // read per decoded token (see above)
  double kv_bytes_per_token = 0;                           // mean over the tg positions
  double bytes_per_token() const { return weight_bytes_per_token + kv_bytes_per_token; }
};

BenchResult run_bench(const ModelFile& m, const BenchOptions& opts);

// tokens/s the decode roofline allows at this bandwidth (bytes/s); 0 when unknown.
double decode_roofline_tps(const BenchResult& r, double bandwidth);

}  // namespace lowbit
