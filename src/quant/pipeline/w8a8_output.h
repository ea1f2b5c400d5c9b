// W8A8 output of the layer-wise pipeline (`quantize --method smoothquant --w8a8 MODE`): the
// file layout of model/w8a8.h. Three steps around the ordinary pipeline:
//   1. w8a8_extend_plan: every block linear (attn_q/k/v/output, ffn_gate/up/down) becomes I8;
//      token_embd, output and the norms keep the mix's types. Each I8 matrix gets a companion
//      weight_scale (and, static, input_range) tensor, appended to the header after every
//      planned tensor (so the streamed file order is unchanged), and lowbit.w8a8 metadata.
//   2. per block, after the method (smoothing, then per-channel int8 rounding) and the swap
//      into the calibration model: W8A8Companions::attach gives the swapped I8 matrices their
//      row scales, so the block runs through the int8 kernels as it will at inference. Static:
//      one more pass over the calibration sequences collects each (smoothed, x/s) linear
//      input's observer state (calib/observers.h) under dynamic quantization; the observer's
//      range becomes the matrices' static range before the pass that feeds the next block.
//   3. W8A8Companions::write streams the companions after the head.
#pragma once

#include <functional>
#include <map>
#include <vector>

#include "formats/gguf/gguf.h"
#include "model/llama.h"
#include "quant/pipeline/layer_methods.h"
#include "quant/pipeline/plan.h"

namespace lowbit {

void w8a8_extend_plan(QuantPlan& plan, const QuantizeOptions& opts);

class W8A8Companions {
 public:
  W8A8Companions(const QuantPlan& plan, const QuantizeOptions& opts) : plan_(plan), opts_(opts) {}

  // After block `layer` was swapped into `model`. pass(): runs the block over every
  // calibration sequence without changing the running activations.
  void attach(LlamaModel& model, int layer, const LayerTensors& lt, const std::function<void()>& pass);
  // Writes plan.w8a8's tensors (header indices plan.tensors.size() + i).
  void write(GgufStreamWriter& out) const;

 private:
  const QuantPlan& plan_;
  const QuantizeOptions& opts_;
  std::map<size_t, std::vector<float>> scales_;   // by plan index; stable storage the model points to
  std::map<size_t, std::vector<float>> ranges_;   // {lo, hi} by plan index (static)
};

}  // namespace lowbit
