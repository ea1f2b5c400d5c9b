#include "model/llama.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "kernels/ggml_math.h"
#include "kernels/qmatmul.h"
#include "kernels/vec_f32.h"

namespace lowbit {
namespace {

// RMSNorm (Zhang & Sennrich 2019): y = x / sqrt(mean(x^2) + eps) * w. As ggml: float
// squares summed in double, so both engines round identically.
void rmsnorm(float* out, const float* x, const float* w, int n, float eps) {
  double ss = 0;
  for (int i = 0; i < n; ++i) ss += static_cast<double>(x[i] * x[i]);
  const float scale = 1.0f / std::sqrt(static_cast<float>(ss / n) + eps);
  for (int i = 0; i < n; ++i) out[i] = x[i] * scale * w[i];
}

// Rotates one head in place by the angles of its position (ggml's float order: ggml_math.h).
void rope(float* h, const float* cs, const float* sn, int head_dim, RopeLayout layout) {
  const int half = head_dim / 2;
  if (layout == RopeLayout::Interleaved) ggml_math::kernels().rope(h, cs, sn, half, 2, 1);
  else ggml_math::kernels().rope(h, cs, sn, half, 1, half);
}

}  // namespace

LlamaModel::LlamaModel(const ModelFile& file, int n_ctx)
    : cfg_(file.config), w_(LlamaWeights::load(file)), n_ctx_(n_ctx > 0 ? n_ctx : file.config.max_seq) {
  if (n_ctx_ <= 0 || n_ctx_ > (1 << 20)) fail("context size {} is out of range", n_ctx_);
  const size_t cache = static_cast<size_t>(cfg_.n_layers) * n_ctx_ * cfg_.kv_dim();
  k_cache_.assign(cache, 0.0f);
  v_cache_.assign(cache, 0.0f);
  // Angles as ggml computes them: theta_i = pos * base^(-2i/d), the power built up by
  // repeated float multiplication (so our rotations match llama.cpp's to the last bits).
  const int half = cfg_.head_dim / 2;
  rope_cos_.resize(static_cast<size_t>(n_ctx_) * half);
  rope_sin_.resize(rope_cos_.size());
  const float theta_scale = std::pow(cfg_.rope_theta, -2.0f / cfg_.head_dim);
  for (int p = 0; p < n_ctx_; ++p) {
    float theta = static_cast<float>(p);
    for (int i = 0; i < half; ++i) {
      rope_cos_[static_cast<size_t>(p) * half + i] = std::cos(theta);
      rope_sin_[static_cast<size_t>(p) * half + i] = std::sin(theta);
      theta *= theta_scale;
    }
  }
  const size_t B = max_batch_;
  x_.resize(B * cfg_.dim);
  xb_.resize(B * std::max(cfg_.dim, cfg_.q_dim()));
  q_.resize(B * cfg_.q_dim());
  k_.resize(B * cfg_.kv_dim());
  v_.resize(B * cfg_.kv_dim());
  att_out_.resize(B * cfg_.q_dim());
  proj_.resize(B * cfg_.dim);
  gate_.resize(B * cfg_.ffn_dim);
  up_.resize(B * cfg_.ffn_dim);
}

void LlamaModel::eval(std::span<const int32_t> tokens, bool all_logits, std::vector<float>& logits) {
  const int n = static_cast<int>(tokens.size());
  if (n == 0) fail("eval: no tokens");
  if (n_past_ + n > n_ctx_) fail("eval: {} tokens after {} would overflow the context of {}", n, n_past_, n_ctx_);
  for (int32_t t : tokens)
    if (t < 0 || t >= cfg_.vocab_size) fail("eval: token id {} is outside the vocabulary (0..{})", t, cfg_.vocab_size - 1);
  const size_t V = cfg_.vocab_size;
  logits.resize((all_logits ? n : 1) * V);
  for (int start = 0; start < n; start += max_batch_) {
    const int b = std::min(max_batch_, n - start);
    const bool last = start + b == n;
    float* out = all_logits ? logits.data() + start * V : (last ? logits.data() : nullptr);
    forward_batch(tokens.data() + start, b, all_logits, out);
  }
}

void LlamaModel::embed(const int32_t* tokens, int n, float* x) const {
  for (int t = 0; t < n; ++t) w_.embed(tokens[t], x + static_cast<size_t>(t) * cfg_.dim);
}

void LlamaModel::logits_of(const float* x, int n, float* logits) {
  const int D = cfg_.dim;
  for (int t = 0; t < n; ++t) rmsnorm(&xb_[static_cast<size_t>(t) * D], x + static_cast<size_t>(t) * D, w_.output_norm, D, cfg_.norm_eps);
  if (hook_) hook_->on_input(-1, LinearInput::OutputIn, xb_.data(), n, D);
  qmatmul(w_.output, xb_.data(), n, logits, qscratch_);
}

void LlamaModel::forward_batch(const int32_t* tokens, int n, bool all_logits, float* logits) {
  const int D = cfg_.dim;
  embed(tokens, n, x_.data());
  for (int l = 0; l < cfg_.n_layers; ++l) forward_layer(l, x_.data(), n, n_past_);
  n_past_ += n;
  if (!logits) return;
  const int first = all_logits ? 0 : n - 1;
  logits_of(x_.data() + static_cast<size_t>(first) * D, n - first, logits);
}

void LlamaModel::forward_layer(int l, float* x, int n, int pos0) {
  if (n > max_batch_) {  // calibration sequences may be longer than a prompt batch
    for (int s = 0; s < n; s += max_batch_) forward_layer(l, x + static_cast<size_t>(s) * cfg_.dim, std::min(max_batch_, n - s), pos0 + s);
    return;
  }
  if (pos0 + n > n_ctx_) fail("forward_layer: positions {}..{} exceed the context of {}", pos0, pos0 + n, n_ctx_);
  const ModelConfig& c = cfg_;
  const int D = c.dim, QD = c.q_dim(), KD = c.kv_dim(), F = c.ffn_dim, hd = c.head_dim;
  const int group = c.n_heads / c.n_kv_heads;
  const int half = hd / 2;
  const float att_scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const LayerWeights& L = w_.layers[l];
  float* kc = k_cache_.data() + static_cast<size_t>(l) * n_ctx_ * KD;
  float* vc = v_cache_.data() + static_cast<size_t>(l) * n_ctx_ * KD;

  const bool big = static_cast<int64_t>(n) * F > (1 << 16);   // worth a parallel region
#pragma omp parallel for if (big)
  for (int t = 0; t < n; ++t) rmsnorm(&xb_[t * D], &x[t * D], L.attn_norm, D, c.norm_eps);
  if (hook_) hook_->on_input(l, LinearInput::AttnIn, xb_.data(), n, D);
  qmatmul(L.wq, xb_.data(), n, q_.data(), qscratch_);
  qmatmul(L.wk, xb_.data(), n, k_.data(), qscratch_);
  qmatmul(L.wv, xb_.data(), n, v_.data(), qscratch_);
  if (L.bq) {
    for (int t = 0; t < n; ++t) {
      for (int i = 0; i < QD; ++i) q_[t * QD + i] += L.bq[i];
      for (int i = 0; i < KD; ++i) {
        k_[t * KD + i] += L.bk[i];
        v_[t * KD + i] += L.bv[i];
      }
    }
  }
  for (int t = 0; t < n; ++t) {
    const int pos = pos0 + t;
    const float* cs = &rope_cos_[static_cast<size_t>(pos) * half];
    const float* sn = &rope_sin_[static_cast<size_t>(pos) * half];
    for (int h = 0; h < c.n_heads; ++h) rope(&q_[t * QD + h * hd], cs, sn, hd, c.rope_layout);
    for (int h = 0; h < c.n_kv_heads; ++h) rope(&k_[t * KD + h * hd], cs, sn, hd, c.rope_layout);
    std::copy_n(&k_[t * KD], KD, kc + static_cast<size_t>(pos) * KD);
    std::copy_n(&v_[t * KD], KD, vc + static_cast<size_t>(pos) * KD);
  }

  // Causal attention, one (token, head) pair per task; small work stays on one thread (a
  // parallel region's barrier costs more than a decode step of a tiny model). Scores, softmax
  // and P·V in llama.cpp's float order (kernels/ggml_math.h).
  const int64_t att_work = static_cast<int64_t>(n) * c.n_heads * (pos0 + n) * hd;
#pragma omp parallel if (att_work > (1 << 16))
  {
    std::vector<float> sc(pos0 + n);
    const ggml_math::Kernels& gk = ggml_math::kernels();
#pragma omp for collapse(2) schedule(static)
    for (int t = 0; t < n; ++t) {
      for (int h = 0; h < c.n_heads; ++h) {
        const int pos = pos0 + t;
        const int kvh = h / group;
        const float* q = &q_[t * QD + h * hd];
        for (int j = 0; j <= pos; ++j) sc[j] = gk.dot(kc + static_cast<size_t>(j) * KD + kvh * hd, q, hd) * att_scale;
        gk.softmax(sc.data(), pos + 1);
        gk.pv(sc.data(), vc + kvh * hd, pos + 1, KD, hd, &att_out_[t * QD + h * hd]);
      }
    }
  }
  if (hook_) hook_->on_input(l, LinearInput::AttnOut, att_out_.data(), n, QD);
  qmatmul(L.wo, att_out_.data(), n, proj_.data(), qscratch_);
  for (size_t i = 0; i < static_cast<size_t>(n) * D; ++i) x[i] += proj_[i];

  // SwiGLU MLP (Shazeer 2020): down(silu(gate x) * up x).
#pragma omp parallel for if (big)
  for (int t = 0; t < n; ++t) rmsnorm(&xb_[t * D], &x[t * D], L.ffn_norm, D, c.norm_eps);
  if (hook_) hook_->on_input(l, LinearInput::FfnIn, xb_.data(), n, D);
  qmatmul(L.w_gate, xb_.data(), n, gate_.data(), qscratch_);
  qmatmul(L.w_up, xb_.data(), n, up_.data(), qscratch_);
#pragma omp parallel for if (big)
  for (int t = 0; t < n; ++t) ggml_math::kernels().swiglu(&gate_[static_cast<size_t>(t) * F], &up_[static_cast<size_t>(t) * F], F);
  if (hook_) hook_->on_input(l, LinearInput::FfnDownIn, gate_.data(), n, F);
  qmatmul(L.w_down, gate_.data(), n, proj_.data(), qscratch_);
  for (size_t i = 0; i < static_cast<size_t>(n) * D; ++i) x[i] += proj_[i];
}

}  // namespace lowbit
