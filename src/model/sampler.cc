#include "model/sampler.h"

#include <algorithm>
#include <cmath>

namespace lowbit {

int32_t Sampler::sample(const float* logits, int n) {
  if (o_.temperature <= 0.0f) return static_cast<int32_t>(std::max_element(logits, logits + n) - logits);
  cand_.resize(n);
  for (int i = 0; i < n; ++i) cand_[i] = {logits[i] / o_.temperature, i};
  auto by_logit = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  size_t k = (o_.top_k > 0 && o_.top_k < n) ? static_cast<size_t>(o_.top_k) : static_cast<size_t>(n);
  std::partial_sort(cand_.begin(), cand_.begin() + k, cand_.end(), by_logit);
  cand_.resize(k);
  const float mx = cand_[0].first;
  double sum = 0;
  for (auto& c : cand_) sum += (c.first = std::exp(c.first - mx));
  // Nucleus: the smallest prefix whose probability mass reaches top_p.
  if (o_.top_p < 1.0f) {
    double acc = 0;
    size_t keep = 0;
    while (keep < cand_.size()) {
      acc += cand_[keep++].first / sum;
      if (acc >= o_.top_p) break;
    }
    cand_.resize(keep);
    sum = 0;
    for (auto& c : cand_) sum += c.first;
  }
  std::uniform_real_distribution<double> u(0.0, sum);
  double r = u(rng_);
  for (const auto& c : cand_) {
    r -= c.first;
    if (r <= 0) return c.second;
  }
  return cand_.back().second;
}

}  // namespace lowbit
