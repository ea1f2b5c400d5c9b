#include "model/hf_gptq_load.h"

#include "core/error.h"

namespace lowbit {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

GptqTensorView view_of(const SafetensorsTensor* t) {
  if (!t) return {};
  return {t->data, t->dtype, t->shape};
}

}  // namespace

const TensorRef* HfGptqWeights::find(const std::string& qweight_name) const {
  const auto it = linears.find(qweight_name);
  return it == linears.end() ? nullptr : &it->second;
}

HfGptqWeights hf_gptq_load(const SafetensorsFile& st, const std::string& dir) {
  HfGptqWeights w;
  w.config = hf_gptq_config_read(dir);
  for (const auto& t : st.tensors) {
    if (!ends_with(t.name, ".qweight")) continue;
    if (!w.config)
      fail("{}: tensor '{}' is GPTQ-packed, but config.json has no quantization_config (nor is there a "
           "quantize_config.json) to say how", dir, t.name);
    const std::string prefix = t.name.substr(0, t.name.size() - 8);
    const SafetensorsTensor* qzeros = st.find(prefix + ".qzeros");
    const SafetensorsTensor* scales = st.find(prefix + ".scales");
    const SafetensorsTensor* g_idx = st.find(prefix + ".g_idx");
    if (!qzeros || !scales)
      fail("{}: GPTQ layer '{}' has a qweight but no {} (an incomplete checkpoint?)", dir, prefix,
           !qzeros ? "qzeros" : "scales");
    const GptqLinear l = gptq_unpack(t.file + ": " + prefix, view_of(&t), view_of(qzeros), view_of(scales), view_of(g_idx), *w.config);
    std::vector<float>& W = w.buffers->emplace_back(static_cast<size_t>(l.in * l.out));
    gptq_dequantize(l, W.data());
    TensorRef r;
    r.name = prefix + ".weight";
    r.type = GgmlType::F32;
    r.ne = {l.in, l.out};
    r.data = reinterpret_cast<const uint8_t*>(W.data());
    r.nbytes = W.size() * sizeof(float);
    w.linears.emplace(t.name, std::move(r));
    w.parts.insert({prefix + ".qzeros", prefix + ".scales"});
    if (g_idx) w.parts.insert(prefix + ".g_idx");
  }
  return w;
}

}  // namespace lowbit
