// Helpers for end-to-end tests: run commands, call the llama.cpp judge, temp dirs.
#pragma once

#include <string>
#include <vector>

#include <cstdint>
#include <cstdlib>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace lowbit::e2e {

struct CmdResult {
  int status = -1;
  std::string out;   // stdout and stderr together
};

CmdResult run_cmd(const std::string& cmd);
std::string lowbit_bin();
std::string temp_dir();                    // one per test process, removed at exit
std::string write_temp(const std::string& name, const std::string& text);
std::string quote(const std::string& s);
// The first n bytes of file p (fewer if it is shorter).
std::string head_of(const std::string& p, size_t n);
// True when node + node-llama-cpp are installed; tests fail (not skip) without them unless
// LOWBIT_ALLOW_NO_LLAMACPP=1.
bool judge_available();
nlohmann::json judge(const std::string& mode, const std::string& model, const std::string& text_file,
                     const std::string& extra = "");
// True when llama.cpp (node-llama-cpp's CPU backend) runs its AVX-512 code on this CPU — the
// float order lowbit reproduces (kernels/ggml_math.h, qtile.h) — and not its AMX kernels:
// avx512f/bw/dq/vl in /proc/cpuinfo and no amx_tile. Elsewhere (AVX2-only CPUs load ggml's
// haswell build, whose sums run in 8 lanes) the two engines agree only to the rounding floor.
bool llamacpp_uses_avx512_order();
// Whether /proc/cpuinfo lists this CPU flag (e.g. "avx512_bf16": llama.cpp's BF16 GEMM then uses
// vdpbf16ps, whose order lowbit's fgemm reproduces).
bool cpu_has_flag(const std::string& flag);

// ln P(tokens[i+1] | tokens[..i]) for every i, from lowbit's own forward pass of `model_path`.
std::vector<double> lowbit_logprobs(const std::string& model_path, const std::vector<int32_t>& tokens);
// ln P(tokens[i+1] | ..i) from logits rows (tokens.size() × V, one per position).
std::vector<double> logprobs_from_logits(const std::vector<float>& logits, const std::vector<int32_t>& tokens, int V);
double mean_abs_diff(const std::vector<double>& a, const std::vector<double>& b, double* max_abs = nullptr);

}  // namespace lowbit::e2e

// Fails the test when node-llama-cpp is missing, or skips it with LOWBIT_ALLOW_NO_LLAMACPP=1.
// A macro, because GTEST_SKIP/FAIL only leave the function they are written in.
#define REQUIRE_JUDGE()                                                              \
  do {                                                                               \
    if (!::lowbit::e2e::judge_available()) {                                         \
      const char* allow_ = std::getenv("LOWBIT_ALLOW_NO_LLAMACPP");                  \
      if (allow_ && *allow_ == '1') GTEST_SKIP() << "node-llama-cpp not installed";  \
      FAIL() << "node-llama-cpp is not installed: run scripts/setup.sh";             \
    }                                                                                \
  } while (0)
