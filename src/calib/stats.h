// Per-linear-input statistics gathered during calibration (an ActivationHook): the
// importance matrix (Σx² per input column, llama.cpp's imatrix) for every weight that reads
// the input, the per-channel absolute maximum (SmoothQuant, AWQ), and an activation
// observer state (min/max, moving averages, |x| histogram) for activation quantization.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "calib/imatrix_io.h"
#include "calib/observers.h"
#include "model/llama.h"

namespace lowbit {

const char* linear_input_name(LinearInput w);   // "attn_in", "attn_out", "ffn_in", "ffn_down_in"
// The weight tensors (GGUF names) that read an input of layer l.
std::vector<std::string> weights_reading(int layer, LinearInput w);

struct InputStats {
  std::vector<float> absmax;   // per channel
  ObserverState observer;      // per tensor
};

class CalibStats : public ActivationHook {
 public:
  void on_input(int layer, LinearInput which, const float* X, int n, int cols) override;

  Imatrix imatrix;
  std::map<std::pair<int, LinearInput>, InputStats> inputs;
};

}  // namespace lowbit
