// Tensors named by role once, at load time, so that policies (quant mixes, overrides)
// never match substrings of names.
#pragma once

#include <string>

namespace lowbit {

enum class TensorRole {
  TokenEmbd, Output, OutputNorm, AttnNorm, AttnQ, AttnK, AttnV, AttnOutput,
  FfnNorm, FfnGate, FfnUp, FfnDown, Bias, Other,
};

struct TensorName {
  TensorRole role = TensorRole::Other;
  int layer = -1;   // blk.N; -1 for global tensors
};

TensorName parse_tensor_name(const std::string& name);
const char* tensor_role_name(TensorRole r);   // "attn_v", "ffn_down", "token_embd", ...

}  // namespace lowbit
