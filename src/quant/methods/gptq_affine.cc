// GPTQ onto an affine QuantScheme (quant/linear): per-group, per-channel or per-tensor
// (scale, zero). See gptq.h.
#include <cmath>

#include "core/error.h"
#include "quant/methods/gptq.h"
#include "quant/methods/gptq_internal.h"

namespace lowbit {
namespace {

// Group g's params from a rows × cols window: detail::search_block is the unchecked core of
// quantize_tensor's search (min-max when the grid has one point). x must be finite.
void search_group(const float* x, int64_t nrows, int64_t ncols, int64_t stride, const float* w, int64_t w_stride,
                  const QuantScheme& scheme, const ClipGrid& clip, bool parallel_rows, float* scale, int32_t* zero) {
  detail::Block b;
  b.x = x;
  b.rows = nrows;
  b.cols = ncols;
  b.x_stride = stride;
  b.w = clip.points > 1 ? w : nullptr;  // the weights only steer a search
  b.w_stride = w_stride;
  const ScaleChoice ch = detail::search_block(b, scheme, clip, parallel_rows);
  *scale = ch.params.scale;
  *zero = ch.params.zero;
}

// Rounds each weight with its group's (scale, zero). Dynamic groups (per-group without
// act-order) take their params from the group's current weights when GPTQ reaches the
// group's first column — the reference's `if (i1 + i) % groupsize == 0: find_params(...)`,
// but with every column of the group up to date (span() = group size keeps the group inside
// one lazy block). Static params were set before the run.
class AffineColumnQuantizer final : public GptqColumnQuantizer {
 public:
  AffineColumnQuantizer(QuantizedTensor& t, const std::vector<int32_t>& perm, const float* importance,
                        const ClipGrid& clip, bool dynamic)
      : t_(t), perm_(perm.data()), importance_(importance), clip_(clip), dynamic_(dynamic),
        gsize_(t.scheme.elements_per_group(t.cols)), qmin_(t.scheme.qmin()), qmax_(t.scheme.qmax()) {}

  int64_t span() const override { return dynamic_ ? gsize_ : 1; }

  float quantize(int64_t r, int64_t j, const float* row) override {
    const int64_t c = perm_[j];
    const int64_t g = t_.group_index(r, c);
    auto& scale = t_.scales[static_cast<size_t>(g)];
    auto& zero = t_.zeros[static_cast<size_t>(g)];
    if (dynamic_ && c % gsize_ == 0) {  // dynamic: perm is the identity, row + c is the group
      bool finite = true;
      for (int64_t k = 0; k < gsize_; ++k) finite = finite && std::isfinite(row[c + k]);
      if (finite) {
        search_group(row + c, 1, gsize_, gsize_, importance_ + c, gsize_, t_.scheme, clip_, false, &scale, &zero);
      } else {  // gptq_run reports the non-finite error this produces
        scale = 1.0f;
        zero = 0;
      }
    }
    const AffineParams p{scale, zero};
    const int32_t q = quantize_value(row[j], p, qmin_, qmax_);
    t_.codes[static_cast<size_t>(r * t_.cols + c)] = static_cast<uint8_t>(q - qmin_);
    return dequantize_value(q, p);  // = fake_quantize_value, what dequantize_tensor decodes
  }

 private:
  QuantizedTensor& t_;
  const int32_t* perm_;
  const float* importance_;
  ClipGrid clip_;
  bool dynamic_;
  int64_t gsize_;
  int32_t qmin_, qmax_;
};

// Params fixed before the run from the (dead-zeroed) original weights: per-tensor and
// per-channel always (their one group starts at column 0, where nothing is updated yet),
// per-group under act-order (static groups).
void static_params(QuantizedTensor& t, const std::vector<float>& W, const float* importance, const ClipGrid& clip) {
  const int64_t rows = t.rows, cols = t.cols;
  const bool parallel = rows * cols >= gptq_detail::kParallelMinElements;
  if (t.scheme.granularity == Granularity::PerTensor) {
    search_group(W.data(), rows, cols, cols, importance, 0, t.scheme, clip, parallel, &t.scales[0], &t.zeros[0]);
    return;
  }
  const int64_t gsize = t.scheme.elements_per_group(cols), per_row = cols / gsize;
  const int64_t groups = rows * per_row;
#pragma omp parallel for schedule(dynamic, 16) if (parallel)
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t r = g / per_row, c0 = (g % per_row) * gsize;
    search_group(W.data() + r * cols + c0, 1, gsize, gsize, importance + c0, gsize, t.scheme, clip, false,
                 &t.scales[static_cast<size_t>(g)], &t.zeros[static_cast<size_t>(g)]);
  }
}

}  // namespace

GptqAffineResult gptq_quantize_affine(const float* W, int64_t rows, int64_t cols, const float* H,
                                      const QuantScheme& scheme, const GptqOptions& options) {
  scheme.validate_for(cols);
  options.clip.validate();
  gptq_detail::Prepared p = gptq_detail::prepare(W, rows, cols, H, options, "gptq_quantize_affine");

  GptqAffineResult res;
  QuantizedTensor& t = res.tensor;
  t.rows = rows;
  t.cols = cols;
  t.scheme = scheme;
  t.codes.assign(static_cast<size_t>(rows * cols), 0);
  const int64_t groups = scheme.group_count(rows, cols);
  t.scales.assign(static_cast<size_t>(groups), 1.0f);
  t.zeros.assign(static_cast<size_t>(groups), 0);
  const int64_t gsize = scheme.elements_per_group(cols);
  res.g_idx.resize(static_cast<size_t>(cols));
  for (int64_t c = 0; c < cols; ++c)
    res.g_idx[static_cast<size_t>(c)] = scheme.granularity == Granularity::PerGroup ? static_cast<int32_t>(c / gsize) : 0;

  const bool dynamic = scheme.granularity == Granularity::PerGroup && !options.act_order;
  if (!dynamic) static_params(t, p.W, p.importance.data(), options.clip);

  std::vector<float> Wp = gptq_detail::to_processing_order(std::move(p.W), rows, cols, p.report.perm);
  AffineColumnQuantizer quantizer(t, p.report.perm, p.importance.data(), options.clip, dynamic);
  p.report.error = gptq_run(Wp.data(), rows, cols, p.U.data(), quantizer, options.block_size);
  p.U = {};
  res.weights = gptq_detail::to_original_order(std::move(Wp), rows, cols, p.report.perm);
  t.error = p.report.error;
  res.report = std::move(p.report);
  return res;
}

}  // namespace lowbit
