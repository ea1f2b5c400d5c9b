// GPTQ onto a GGUF block type: the codec fixes each block's scales, GPTQ picks the codes on
// the grids those scales define (grid.h). See gptq.h.
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "quant/codecs/codec.h"
#include "quant/methods/gptq.h"
#include "quant/methods/gptq_internal.h"
#include "quant/methods/grid.h"

namespace lowbit {
namespace {

class GgufColumnQuantizer final : public GptqColumnQuantizer {
 public:
  GgufColumnQuantizer(GgmlType type, int64_t rows, int64_t cols, const std::vector<int32_t>& perm,
                      const float* importance, bool dynamic)
      : type_(type), codec_(codec_for(type)), rows_(rows), cols_(cols), perm_(perm.data()),
        importance_(importance), dynamic_(dynamic), base_(type_grid(type)) {
    const auto& tr = ggml_traits(type);
    bs_ = tr.block_size;
    type_size_ = tr.type_size;
    row_bytes_ = cols / bs_ * type_size_;
    data_.assign(static_cast<size_t>(rows * row_bytes_), 0);
    run_scale_.assign(static_cast<size_t>(rows * cols / kGridRun), 0.0f);
    run_offset_.assign(run_scale_.size(), -0.0f);
    levels_.assign(static_cast<size_t>(rows * cols), 0);
  }

  int64_t span() const override { return dynamic_ ? bs_ : 1; }

  // Static scales (act-order): every row quantized whole by the codec, from the original
  // weights, as llama-quantize with this imatrix would (row statistics over the full row).
  void fix_all(const std::vector<float>& W) {
    const bool parallel = rows_ * cols_ >= gptq_detail::kParallelMinElements;
#pragma omp parallel for schedule(dynamic, 4) if (parallel)
    for (int64_t r = 0; r < rows_; ++r) {
      codec_->quantize_row(W.data() + r * cols_, data_.data() + r * row_bytes_, cols_, importance_);
      for (int64_t b = 0; b < cols_ / bs_; ++b) decode_runs(r, b);
    }
  }

  float quantize(int64_t r, int64_t j, const float* row) override {
    const int64_t c = perm_[j];
    if (dynamic_ && c % bs_ == 0) {
      // The block's scales from its CURRENT values (every column of the block is up to date:
      // span() = block size), imatrix-weighted by H_jj / 2 like llama.cpp's quantize_<type>.
      // The codec's codes are discarded; its scale and min fields stay.
      codec_->quantize_row(row + c, block(r, c / bs_), bs_, importance_ + c);
      decode_runs(r, c / bs_);
    }
    const size_t run = static_cast<size_t>((r * cols_ + c) / kGridRun);
    ElementGrid g = base_;
    g.scale = run_scale_[run];
    g.offset = run_offset_[run];
    const int q = nearest_level(g, row[j], kNoPreference);
    levels_[static_cast<size_t>(r * cols_ + c)] = static_cast<int8_t>(q);
    return g.value(q);  // bit for bit what dequantize_row decodes (grid.h)
  }

  // Writes the chosen codes into the blocks, keeping their scales; returns the bytes.
  std::vector<uint8_t> finish() {
    int q[256];
    for (int64_t r = 0; r < rows_; ++r)
      for (int64_t b = 0; b < cols_ / bs_; ++b) {
        const int8_t* l = levels_.data() + r * cols_ + b * bs_;
        for (int64_t k = 0; k < bs_; ++k) q[k] = l[k];
        set_block_levels(type_, block(r, b), q, block(r, b));
      }
    return std::move(data_);
  }

 private:
  uint8_t* block(int64_t r, int64_t b) { return data_.data() + r * row_bytes_ + b * type_size_; }

  // One (scale, offset) per 16 elements: every grid is constant over such runs (grid.h).
  void decode_runs(int64_t r, int64_t b) {
    ElementGrid g[256];
    block_element_grids(type_, block(r, b), g);
    for (int64_t k = 0; k < bs_ / kGridRun; ++k) {
      const size_t run = static_cast<size_t>((r * cols_ + b * bs_) / kGridRun + k);
      run_scale_[run] = g[k * kGridRun].scale;
      run_offset_[run] = g[k * kGridRun].offset;
    }
  }

  GgmlType type_;
  const QuantCodec* codec_;
  int64_t rows_, cols_;
  const int32_t* perm_;
  const float* importance_;
  bool dynamic_;
  ElementGrid base_;
  int64_t bs_ = 0, type_size_ = 0, row_bytes_ = 0;
  std::vector<uint8_t> data_;       // the blocks: codec scales, codes written by finish()
  std::vector<float> run_scale_, run_offset_;
  std::vector<int8_t> levels_;      // chosen level per weight, original order
};

}  // namespace

GptqGgufResult gptq_quantize_gguf(GgmlType type, const float* W, int64_t rows, int64_t cols, const float* H,
                                  const GptqOptions& options) {
  if (!grid_supported(type) || !codec_for(type) || !codec_for(type)->quantize_row)
    fail("gptq_quantize_gguf: type {} is not supported (supported: q8_0, q5_0, q5_1, q4_0, q4_1, iq4_nl, q6_K, "
         "q5_K, q4_K, q3_K, q2_K, iq4_xs)",
         ggml_type_name(type));
  const int64_t bs = ggml_traits(type).block_size;
  if (cols <= 0 || cols % bs != 0)
    fail("gptq_quantize_gguf: row length {} is not a positive multiple of {}'s block size {}", cols,
         ggml_type_name(type), bs);
  gptq_detail::Prepared p = gptq_detail::prepare(W, rows, cols, H, options, "gptq_quantize_gguf");

  const bool dynamic = !options.act_order;
  GgufColumnQuantizer quantizer(type, rows, cols, p.report.perm, p.importance.data(), dynamic);
  if (!dynamic) quantizer.fix_all(p.W);
  std::vector<float> Wp = gptq_detail::to_processing_order(std::move(p.W), rows, cols, p.report.perm);
  p.report.error = gptq_run(Wp.data(), rows, cols, p.U.data(), quantizer, options.block_size);
  p.U = {};

  GptqGgufResult res;
  res.type = type;
  res.rows = rows;
  res.cols = cols;
  res.data = quantizer.finish();
  res.weights = gptq_detail::to_original_order(std::move(Wp), rows, cols, p.report.perm);
  res.report = std::move(p.report);
  return res;
}

}  // namespace lowbit
