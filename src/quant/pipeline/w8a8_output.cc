#include "quant/pipeline/w8a8_output.h"

#include "calib/observers.h"
#include "core/error.h"
#include "model/w8a8.h"

namespace lowbit {
namespace {

bool is_block_linear(const PlannedTensor& p) {
  switch (p.role) {
    case TensorRole::AttnQ: case TensorRole::AttnK: case TensorRole::AttnV: case TensorRole::AttnOutput:
    case TensorRole::FfnGate: case TensorRole::FfnUp: case TensorRole::FfnDown:
      return p.layer >= 0 && p.src->ne.size() == 2;
    default:
      return false;
  }
}

// The running model's matrix for a block linear, and the input that feeds it.
QMatrix& matrix_of(LayerWeights& W, TensorRole r) {
  switch (r) {
    case TensorRole::AttnQ: return W.wq;
    case TensorRole::AttnK: return W.wk;
    case TensorRole::AttnV: return W.wv;
    case TensorRole::AttnOutput: return W.wo;
    case TensorRole::FfnGate: return W.w_gate;
    case TensorRole::FfnUp: return W.w_up;
    default: return W.w_down;
  }
}

LinearInput input_of(TensorRole r) {
  switch (r) {
    case TensorRole::AttnQ: case TensorRole::AttnK: case TensorRole::AttnV: return LinearInput::AttnIn;
    case TensorRole::AttnOutput: return LinearInput::AttnOut;
    case TensorRole::FfnGate: case TensorRole::FfnUp: return LinearInput::FfnIn;
    default: return LinearInput::FfnDownIn;
  }
}

// One observer state per linear input of one block.
class InputObservers : public ActivationHook {
 public:
  explicit InputObservers(int layer) : layer_(layer) {}
  void on_input(int layer, LinearInput which, const float* X, int n, int cols) override {
    if (layer == layer_) states[which].observe(X, static_cast<size_t>(n) * cols);
  }
  std::map<LinearInput, ObserverState> states;

 private:
  int layer_;
};

}  // namespace

void w8a8_extend_plan(QuantPlan& plan, const QuantizeOptions& opts) {
  if (opts.w8a8 == W8A8Mode::None) return;
  const bool is_static = opts.w8a8 == W8A8Mode::Static;
  GgufFile& g = plan.header;
  for (size_t i = 0; i < plan.tensors.size(); ++i) {
    PlannedTensor& p = plan.tensors[i];
    if (!is_block_linear(p)) continue;
    p.type = GgmlType::I8;
    if (!ggml_tensor_bytes(GgmlType::I8, p.src->ne.data(), 2, &p.bytes)) fail("tensor '{}' is too large for I8", p.src->name);
    p.reason = std::string("W8A8, ") + w8a8_mode_name(opts.w8a8) + " activations";
    g.tensors[i].type = GgmlType::I8;   // the header lists the planned tensors in the same order
    g.tensors[i].nbytes = p.bytes;
    plan.w8a8.push_back({i, false});
    if (is_static) plan.w8a8.push_back({i, true});
  }
  if (plan.w8a8.empty()) fail("--w8a8: the model has no block linears to make int8");
  for (const W8A8Companion& c : plan.w8a8) {
    const TensorRef& src = *plan.tensors[c.matrix].src;
    GgufTensorInfo ti;
    ti.name = c.range ? w8a8_range_name(src.name) : w8a8_scale_name(src.name);
    ti.type = GgmlType::F32;
    ti.ne = {c.range ? 2 : src.ne[1]};
    ti.nbytes = static_cast<uint64_t>(ti.ne[0]) * sizeof(float);
    g.tensors.push_back(std::move(ti));
  }
  g.set(kW8A8Key, GgufValue::make_str(w8a8_mode_name(opts.w8a8)));
  g.set("lowbit.smooth_alpha", GgufValue::make_f32(opts.smooth_alpha));
  if (is_static) g.set("lowbit.act_observer", GgufValue::make_str(observer_name(opts.act_observer)));
}

void W8A8Companions::attach(LlamaModel& model, int layer, const LayerTensors& lt, const std::function<void()>& pass) {
  if (opts_.w8a8 == W8A8Mode::None) return;
  LayerWeights& W = model.layer_weights(layer);
  std::vector<size_t> mats;   // plan indices of the block's I8 matrices
  for (size_t k = 0; k < lt.index.size(); ++k) {
    const PlannedTensor& p = plan_.tensors[lt.index[k]];
    if (p.type != GgmlType::I8) continue;
    if (k >= lt.row_scales.size() || static_cast<int64_t>(lt.row_scales[k].size()) != p.src->ne[1])
      fail("W8A8: the method left no row scales for '{}' (only smoothquant writes W8A8)", p.src->name);
    std::vector<float>& s = scales_[lt.index[k]] = lt.row_scales[k];
    matrix_of(W, p.role).row_scales = s.data();
    mats.push_back(lt.index[k]);
  }
  if (opts_.w8a8 != W8A8Mode::Static || mats.empty()) return;
  // Observe the inputs as the int8 block sees them (dynamic), then fix the static ranges.
  InputObservers obs(layer);
  model.set_hook(&obs);
  pass();
  model.set_hook(nullptr);
  for (size_t i : mats) {
    const PlannedTensor& p = plan_.tensors[i];
    const auto it = obs.states.find(input_of(p.role));
    if (it == obs.states.end()) fail("W8A8: no calibration input reached '{}'", p.src->name);
    const Range r = observer_range(opts_.act_observer, it->second);
    ranges_[i] = {r.lo, r.hi};
    QMatrix& q = matrix_of(W, p.role);
    q.act_static = true;
    q.act_lo = r.lo;
    q.act_hi = r.hi;
  }
}

void W8A8Companions::write(GgufStreamWriter& out) const {
  for (size_t i = 0; i < plan_.w8a8.size(); ++i) {
    const W8A8Companion& c = plan_.w8a8[i];
    const auto& from = c.range ? ranges_ : scales_;
    const auto it = from.find(c.matrix);
    if (it == from.end()) fail("W8A8: '{}' has no {}", plan_.tensors[c.matrix].src->name, c.range ? "input range" : "row scales");
    out.write_tensor(plan_.tensors.size() + i, it->second.data(), it->second.size() * sizeof(float));
  }
}

}  // namespace lowbit
