#include "calib/stats.h"

#include <algorithm>
#include <cmath>

namespace lowbit {

const char* linear_input_name(LinearInput w) {
  switch (w) {
    case LinearInput::AttnIn: return "attn_in";
    case LinearInput::AttnOut: return "attn_out";
    case LinearInput::FfnIn: return "ffn_in";
    case LinearInput::FfnDownIn: return "ffn_down_in";
    case LinearInput::OutputIn: return "output_in";
  }
  return "?";
}

std::vector<std::string> weights_reading(int layer, LinearInput w) {
  const std::string p = "blk." + std::to_string(layer) + ".";
  switch (w) {
    case LinearInput::AttnIn: return {p + "attn_q.weight", p + "attn_k.weight", p + "attn_v.weight"};
    case LinearInput::AttnOut: return {p + "attn_output.weight"};
    case LinearInput::FfnIn: return {p + "ffn_gate.weight", p + "ffn_up.weight"};
    case LinearInput::FfnDownIn: return {p + "ffn_down.weight"};
    case LinearInput::OutputIn: return {"output.weight"};
  }
  return {};
}

void CalibStats::on_input(int layer, LinearInput which, const float* X, int n, int cols) {
  for (const auto& name : weights_reading(layer, which)) imatrix.add(name, X, n, cols);
  InputStats& s = inputs[{layer, which}];
  if (s.absmax.empty()) s.absmax.assign(cols, 0.0f);
  for (int r = 0; r < n; ++r)
    for (int c = 0; c < cols; ++c) s.absmax[c] = std::max(s.absmax[c], std::fabs(X[static_cast<size_t>(r) * cols + c]));
  s.observer.observe(X, static_cast<size_t>(n) * cols);
}

}  // namespace lowbit
