#include "model/w8a8.h"

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "kernels/int8_gemm.h"

namespace lowbit {
namespace {

std::string stem(const std::string& weight_name) {
  const std::string suffix = ".weight";
  if (weight_name.size() > suffix.size() && weight_name.compare(weight_name.size() - suffix.size(), suffix.size(), suffix) == 0)
    return weight_name.substr(0, weight_name.size() - suffix.size());
  return weight_name;
}

// A companion tensor: present, F32, exactly `n` elements in one dimension.
const TensorRef& companion(const ModelFile& m, const TensorRef& t, const std::string& name, int64_t n, const char* what) {
  const TensorRef* c = m.find(name);
  if (!c)
    fail("{}: I8 tensor '{}' has no {} tensor '{}' (a lowbit W8A8 file stores one beside every int8 matrix; "
         "was the file edited or written by another tool?)",
         m.path, t.name, what, name);
  if (c->type != GgmlType::F32 || c->ne.size() != 1 || c->ne[0] != n)
    fail("{}: {} tensor '{}' must be F32 with shape [{}] (for '{}'), it is {} with {} element(s)", m.path, what, name, n,
         t.name, ggml_type_name(c->type), c->n_elements());
  return *c;
}

}  // namespace

const char* w8a8_mode_name(W8A8Mode m) {
  switch (m) {
    case W8A8Mode::None: return "none";
    case W8A8Mode::Dynamic: return "dynamic";
    case W8A8Mode::Static: return "static";
  }
  return "?";
}

bool w8a8_mode_from_name(const std::string& s, W8A8Mode* out) {
  for (W8A8Mode m : {W8A8Mode::Dynamic, W8A8Mode::Static})
    if (s == w8a8_mode_name(m)) {
      *out = m;
      return true;
    }
  return false;
}

std::string w8a8_scale_name(const std::string& weight_name) { return stem(weight_name) + ".weight_scale"; }
std::string w8a8_range_name(const std::string& weight_name) { return stem(weight_name) + ".input_range"; }

W8A8Mode w8a8_mode_of(const ModelFile& m) {
  for (const auto& [k, v] : m.kv)
    if (k == kW8A8Key) {
      W8A8Mode mode;
      if (v.type != GgufType::STRING || !w8a8_mode_from_name(v.s, &mode))
        fail("{}: metadata key '{}' must be the string \"dynamic\" or \"static\", it is {}", m.path, kW8A8Key,
             v.to_display());
      return mode;
    }
  return W8A8Mode::None;
}

QMatrix load_w8a8_matrix(const ModelFile& m, const TensorRef& t, std::vector<std::unique_ptr<float[]>>& owned) {
  const W8A8Mode mode = w8a8_mode_of(m);
  if (mode == W8A8Mode::None)
    fail("{}: tensor '{}' is I8 but the file has no '{}' key: not a lowbit W8A8 file (llama.cpp's I8 has no scales)",
         m.path, t.name, kW8A8Key);
  if (t.ne.size() != 2) fail("{}: I8 tensor '{}' must be a matrix", m.path, t.name);
  if (t.ne[0] > kGemmS8MaxDepth)
    fail("{}: I8 tensor '{}' has rows of {} elements; int8 products allow at most {}", m.path, t.name, t.ne[0], kGemmS8MaxDepth);
  QMatrix q{GgmlType::I8, t.data, t.ne[0], t.ne[1], static_cast<uint64_t>(t.ne[0])};

  const std::string sname = w8a8_scale_name(t.name);
  const TensorRef& sc = companion(m, t, sname, t.ne[1], "scale");
  auto scales = std::make_unique<float[]>(static_cast<size_t>(t.ne[1]));
  std::memcpy(scales.get(), sc.data, static_cast<size_t>(t.ne[1]) * sizeof(float));
  for (int64_t o = 0; o < t.ne[1]; ++o)
    if (!(std::isfinite(scales[o]) && scales[o] > 0))
      fail("{}: scale tensor '{}' element {} is {}; row scales must be finite and > 0", m.path, sname, o, scales[o]);
  q.row_scales = scales.get();
  owned.push_back(std::move(scales));

  if (mode == W8A8Mode::Static) {
    const std::string rname = w8a8_range_name(t.name);
    const TensorRef& r = companion(m, t, rname, 2, "input range");
    float lr[2];
    std::memcpy(lr, r.data, sizeof lr);
    if (!(std::isfinite(lr[0]) && std::isfinite(lr[1]) && lr[0] <= lr[1]))
      fail("{}: input range tensor '{}' is [{}, {}]; a finite interval lo <= hi is needed", m.path, rname, lr[0], lr[1]);
    q.act_static = true;
    q.act_lo = lr[0];
    q.act_hi = lr[1];
  }
  return q;
}

}  // namespace lowbit
